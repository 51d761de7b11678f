"""Cause first: name, for each result that failed, errored or skipped, the result it most likely follows from.

Checks declare what they depend on (``depends = ("tunnel-firewall", ...)``; every check also
depends on the fatal checks, ``api-access``). After a run, :func:`assign_causes` walks those
declarations over the results: a ``fail``/``error``/``skip`` whose target's gate did not pass
follows from that gate; a ``fail``/``error`` follows from the first failed (or errored) result
of a check it depends on about the same clusters, and through it from that result's own cause,
so every dependent names the root (``tunnel-firewall[cluster1->cluster]``), not a middle link.

This is a separate step from running the checks: the runner never needs it, the reports and
the JSON (``cause`` on each dependent result) do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from mcdiag.model import Check, Result, Scope, Status

#: The statuses that can be explained by another result.
EXPLAINED = (Status.FAIL, Status.ERROR, Status.SKIP)


def _related(dep: Result, result: Result) -> int | None:
    """How closely ``dep`` is about ``result``'s clusters: 0 same target, 1 related, ``None`` unrelated."""
    mine, theirs = set(result.clusters), set(dep.clusters)
    if dep.clusters == result.clusters:
        return 0
    if dep.scope is Scope.CLUSTER:
        return 0 if dep.clusters[0] in mine else None
    if theirs == mine:  # the same pair, other direction or unordered
        return 1
    if result.scope is Scope.CLUSTER and result.clusters[0] in theirs:
        return 1
    return None


def assign_causes(results: Sequence[Result], checks: Iterable[type[Check]]) -> list[Result]:
    """``results`` with ``cause`` set on every result that follows from another one (same order)."""
    checks = list(checks)
    depends = {c.id: tuple(c.depends) for c in checks}
    gates = [c.id for c in checks if c.fatal]
    by_check: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        by_check.setdefault(r.check, []).append(i)
    memo: dict[int, int | None] = {}

    def problem(i: int) -> bool:
        return results[i].status.is_problem

    def gate_of(i: int) -> int | None:
        r = results[i]
        for gate in gates:
            if gate == r.check:
                continue
            for j in by_check.get(gate, ()):
                if problem(j) and results[j].clusters[0] in r.clusters:
                    return j
        return None

    def dependencies(check_id: str, seen: set[str]) -> list[str]:
        """Declared dependencies in order; a dependency that did not run is replaced by its own."""
        out: list[str] = []
        for dep in depends.get(check_id, ()):
            if dep in seen:
                continue
            seen.add(dep)
            out.extend([dep] if dep in by_check else dependencies(dep, seen))
        return out

    def direct(i: int) -> int | None:
        r = results[i]
        gate = gate_of(i)
        if gate is not None or r.status is Status.SKIP:
            return gate
        for dep in dependencies(r.check, {r.check}):
            ranked = [(rank, j) for j in by_check[dep] if problem(j) and (rank := _related(results[j], r)) is not None]
            if ranked:
                return min(ranked)[1]
        return None

    def root(i: int, path: frozenset[int] = frozenset()) -> int | None:
        if i in memo:
            return memo[i]
        if results[i].status not in EXPLAINED or i in path:
            return None
        found = direct(i)
        if found is not None:
            deeper = root(found, path | {i})
            found = deeper if deeper is not None else found
        memo[i] = found
        return found

    out = []
    for i, r in enumerate(results):
        j = root(i)
        out.append(dataclasses.replace(r, cause=results[j].test_name) if j is not None else r)
    return out
