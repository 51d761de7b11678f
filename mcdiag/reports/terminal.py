"""The terminal report: results grouped by cluster and pair, ✓ ⚠ ✗, hints under failures, a recap at the end.

Repeated skips and errors with one cause (an unreachable cluster, one 403, Ctrl-C) collapse
into one line with a count. The run ends with a recap of every fail and error, cause first:
each likely cause with its hint, and the failures that follow from it under it.
Colour only on a TTY and never with ``NO_COLOR`` set (https://no-color.org).
"""

from __future__ import annotations

import json
import os
from typing import Any, TextIO

from mcdiag.model import Result, RunReport, Status
from mcdiag.reports.recap import group_title, report_groups

COLOURS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.ERROR: "31", Status.SKIP: "2"}
#: How many names a collapsed line lists before "+N more".
NAMES_SHOWN = 6


def use_colour(stream: TextIO) -> bool:
    """Colour when ``stream`` is a terminal and ``NO_COLOR`` is unset."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour else text


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown + (f" (+{len(items) - NAMES_SHOWN} more)" if len(items) > NAMES_SHOWN else "")


def evidence_lines(result: Result, indent: str = "      ") -> list[str]:
    """``--verbose``: the result's details (what was read, probe commands and output), redacted."""
    if not result.details:
        return []
    from mcdiag.gather.redact import redact

    text = json.dumps(redact(_plainish(result.details)), indent=2, sort_keys=True, default=str)
    return [f"{indent}{line}" for line in ["evidence:", *text.splitlines()]]


def _plainish(details: Any) -> Any:
    from mcdiag.model import _plain

    return _plain(details)


def format_line(result: Result, colour: bool, with_target: bool = False, evidence: bool = False,
                hints: bool = True) -> str:
    """One result as a line (plus hint, docs and cause lines for fail/warn/error)."""
    sym = _paint(result.status.symbol, COLOURS[result.status], colour)
    label = result.status.value.upper() if result.status in (Status.ERROR, Status.SKIP) else ""
    name = result.test_name if with_target else result.check
    head = f"  {sym} {name}: " + (f"{label}: " if label else "") + result.message
    lines = [head]
    if result.cause:
        lines.append(_paint(f"      likely cause: {result.cause}", "35", colour))
    if hints and result.status in (Status.FAIL, Status.WARN, Status.ERROR):
        if result.hint:
            lines.append(_paint(f"      hint: {result.hint}", "36", colour))
        if result.docs:
            lines.append(_paint(f"      docs: {result.docs}", "2", colour))
    if evidence:
        lines.extend(evidence_lines(result))
    return "\n".join(lines)


def _collapse_key(result: Result) -> tuple | None:
    """Results with the same key are one line.

    Skips and errors that follow from one cause (an unreachable cluster) wherever they are;
    errors with the very same reason (one 403, Ctrl-C, an image that cannot be pulled) wherever
    they are; skips with the same reason within one cluster or pair.
    """
    if result.status not in (Status.SKIP, Status.ERROR) or result.details.get("not_applicable"):
        return None
    if result.cause:
        return ("cause", result.status, result.cause)
    if result.status is Status.ERROR:
        return ("same", result.status, result.message, result.hint)
    return ("same here", group_title(result), result.message)


def _collapsed_line(results: list[Result], colour: bool) -> str:
    first = results[0]
    sym = _paint(first.status.symbol, COLOURS[first.status], colour)
    targets = {r.target for r in results}
    names = [r.check for r in results] if len(targets) == 1 else [r.test_name for r in results]
    verb = "skipped" if first.status is Status.SKIP else "ERROR"
    reason = f"likely cause {first.cause} ({first.message})" if first.cause else first.message
    lines = [f"  {sym} {len(results)} checks {verb}: {reason}: {_names(names)}"]
    if first.status is Status.ERROR and not first.cause:
        if first.hint:
            lines.append(_paint(f"      hint: {first.hint}", "36", colour))
        if first.docs:
            lines.append(_paint(f"      docs: {first.docs}", "2", colour))
    return "\n".join(lines)


def render_terminal(report: RunReport, colour: bool = False, verbose: bool = True, evidence: bool = False) -> str:
    """The whole report as text.

    ``verbose=False`` (``--quiet``) shows only what is not a pass; ``evidence`` (``--verbose``)
    adds each result's details.
    """
    out: list[str] = []
    for c in report.clusters:
        facts = ", ".join(f"{k} {c[k]}" for k in ("provider", "cni", "k8s_version") if c.get(k))
        cidrs = " ".join(
            f"{label} {','.join(c[key])}" for label, key in (("pods", "pod_cidrs"), ("services", "service_cidrs")) if c.get(key)
        )
        out.append(f"• {c['name']} ({c.get('server') or '?'}): {facts or 'no facts'}{'; ' + cidrs if cidrs else ''}")

    # One line for every set of skips/errors sharing a cause or a reason, at its first member's place.
    sets: dict[tuple, list[Result]] = {}
    for r in report.results:
        key = _collapse_key(r)
        if key is not None:
            sets.setdefault(key, []).append(r)
    collapsed = {id(r): key for key, rs in sets.items() if len(rs) > 1 for r in rs}
    printed: set[tuple] = set()

    groups: dict[str, list[Result]] = {}
    for r in report.results:
        groups.setdefault(group_title(r), []).append(r)
    order = sorted(groups, key=lambda t: (not t.startswith("Cluster "), t.startswith("From ")))
    for title in order:
        lines: list[str] = []
        shown = [r for r in groups[title] if verbose or r.status is not Status.PASS]
        elsewhere = [r for r in shown if r.status is Status.SKIP and r.details.get("not_applicable")]
        for r in shown:
            if r in elsewhere:
                continue
            key = collapsed.get(id(r))
            if key is None:
                lines.append(format_line(r, colour, evidence=evidence, hints=not r.cause))
            elif key not in printed:
                printed.add(key)
                lines.append(_collapsed_line(sets[key], colour))
        if elsewhere and verbose:
            providers = "/".join(sorted({str(r.details["not_applicable"]) for r in elsewhere}))
            names = ", ".join(r.check for r in elsewhere)
            lines.append(_paint(f"  – {len(elsewhere)} check(s) not applicable to {providers}: {names}", COLOURS[Status.SKIP], colour))
        if lines:
            out += ["", _paint(title, "1", colour), *lines]

    out += recap_lines(report, colour)
    s = report.summary
    out.append("")
    parts = [f"{s[k]} {k}" for k in ("pass", "warn", "fail", "error", "skip")]
    verdict = "FAILED" if report.exit_code else "OK"
    tail = " (interrupted)" if report.interrupted else ""
    tail += " (warnings fail this run: --fail-on warn)" if report.fail_on_warn and s["warn"] else ""
    out.append(_paint(f"{verdict}: " + ", ".join(parts) + f" in {report.duration_s:.1f}s{tail}", "31" if report.exit_code else "32", colour))
    return "\n".join(out)


def recap_lines(report: RunReport, colour: bool = False) -> list[str]:
    """The closing recap: every fail and error, each likely cause first with what follows from it."""
    groups = report_groups(report)
    if not groups:
        return []
    problems = sum(len(g.labels) + len(g.failures) for g in groups)
    out = ["", _paint(f"Needs attention: {problems} problem(s), {len(groups)} likely cause(s)", "1", colour)]
    for g in groups:
        r = g.root
        sym = _paint(r.status.symbol, COLOURS[r.status], colour)
        label = f"{r.status.value.upper()}: " if r.status is not Status.FAIL else ""
        lead = "likely cause " if g.dependents else ""
        out.append(f"  {sym} {lead}{_names(g.labels)}: {label}{r.message}")
        if r.hint:
            out.append(_paint(f"      hint: {r.hint}", "36", colour))
        if r.docs:
            out.append(_paint(f"      docs: {r.docs}", "2", colour))
        if g.failures:
            out.append(f"      {g.summary()}: " + _names([d.test_name for d in g.failures]))
        elif g.skipped:
            out.append(f"      {g.summary()}")
    return out
