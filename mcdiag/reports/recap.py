"""What every report shows first: the problems of a run, each likely cause with what follows from it.

Results carry ``cause`` (the label of the result they most likely follow from, set by
:func:`mcdiag.run.causes.assign_causes`). Here they are grouped for reading: one
:class:`CauseGroup` per problem that has no cause of its own, holding the results that follow
from it (failures, errors and skips), so "these 6 failures have one likely cause" is one entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mcdiag.model import Result, RunReport, Status


@dataclass
class CauseGroup:
    """A problem that follows from no other result, and the results that follow from it."""

    root: Result
    dependents: list[Result] = field(default_factory=list)
    #: Other errors with the very same reason (one 403 met by several checks): listed once, with the root.
    also: list[Result] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """The root's label and those of the same-reason errors."""
        return [self.root.test_name] + [r.test_name for r in self.also]

    @property
    def failures(self) -> list[Result]:
        """Dependents that failed or errored."""
        return [r for r in self.dependents if r.status.is_problem or r.status is Status.WARN]

    @property
    def skipped(self) -> list[Result]:
        """Dependents that were skipped because of the root."""
        return [r for r in self.dependents if r.status is Status.SKIP]

    def summary(self) -> str:
        """``5 dependent failures, 18 checks skipped``, or empty."""
        parts = []
        if self.failures:
            parts.append(f"{len(self.failures)} dependent failure{'s' if len(self.failures) != 1 else ''}")
        if self.skipped:
            parts.append(f"{len(self.skipped)} check{'s' if len(self.skipped) != 1 else ''} skipped")
        return ", ".join(parts)


def is_attention(result: Result, fail_on_warn: bool = False) -> bool:
    """A result a person must look at: fail, error, and warn when warnings fail the run."""
    return result.status.is_problem or (fail_on_warn and result.status is Status.WARN)


def cause_groups(results: Sequence[Result], fail_on_warn: bool = False) -> list[CauseGroup]:
    """Every problem, cause first: roots with dependents first (most dependents first), then the rest in order."""
    labels = {r.test_name: r for r in results}
    follows: dict[str, list[Result]] = {}
    for r in results:
        if r.cause and r.cause in labels and r.cause != r.test_name:
            follows.setdefault(r.cause, []).append(r)
    groups: list[CauseGroup] = []
    same: dict[tuple, CauseGroup] = {}
    for r in results:
        if not is_attention(r, fail_on_warn) or (r.cause and r.cause in labels):
            continue
        key = (r.status, r.message, r.hint)
        if r.status is Status.ERROR and key in same:
            same[key].also.append(r)
            same[key].dependents.extend(follows.get(r.test_name, []))
            continue
        group = CauseGroup(r, list(follows.get(r.test_name, [])))
        groups.append(group)
        if r.status is Status.ERROR:
            same[key] = group
    order = {id(g): i for i, g in enumerate(groups)}
    return sorted(groups, key=lambda g: (-len(g.dependents), order[id(g)]))


def report_groups(report: RunReport) -> list[CauseGroup]:
    """:func:`cause_groups` of a report (honouring ``--fail-on warn``)."""
    return cause_groups(report.results, report.fail_on_warn)


def group_title(result: Result) -> str:
    """The heading a result is listed under: ``Cluster east``, ``Clusters east <-> west``, ``From east to west``."""
    from mcdiag.model import Scope

    if result.scope is Scope.CLUSTER:
        return f"Cluster {result.clusters[0]}"
    if result.scope is Scope.PAIR:
        return f"Clusters {result.clusters[0]} <-> {result.clusters[1]}"
    return f"From {result.clusters[0]} to {result.clusters[1]}"
