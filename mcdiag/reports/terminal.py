"""The terminal report: results grouped by cluster and pair, ✓ ⚠ ✗, hints under failures.

Colour only on a TTY and never with ``NO_COLOR`` set (https://no-color.org).
"""

from __future__ import annotations

import os
from typing import TextIO

from mcdiag.model import Result, RunReport, Scope, Status

COLOURS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.ERROR: "31", Status.SKIP: "2"}


def use_colour(stream: TextIO) -> bool:
    """Colour when ``stream`` is a terminal and ``NO_COLOR`` is unset."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour else text


def format_line(result: Result, colour: bool, with_target: bool = False) -> str:
    """One result as a line (plus hint lines for fail/warn/error)."""
    sym = _paint(result.status.symbol, COLOURS[result.status], colour)
    label = result.status.value.upper() if result.status in (Status.ERROR, Status.SKIP) else ""
    where = f" [{result.target}]" if with_target else ""
    head = f"  {sym} {result.check}{where}: " + (f"{label}: " if label else "") + result.message
    lines = [head]
    if result.status in (Status.FAIL, Status.WARN, Status.ERROR):
        if result.hint:
            lines.append(_paint(f"      hint: {result.hint}", "36", colour))
        if result.docs:
            lines.append(_paint(f"      docs: {result.docs}", "2", colour))
    return "\n".join(lines)


def _group_title(result: Result) -> str:
    if result.scope is Scope.CLUSTER:
        return f"Cluster {result.clusters[0]}"
    if result.scope is Scope.PAIR:
        return f"Clusters {result.clusters[0]} <-> {result.clusters[1]}"
    return f"From {result.clusters[0]} to {result.clusters[1]}"


def render_terminal(report: RunReport, colour: bool = False, verbose: bool = True) -> str:
    """The whole report as text. ``verbose=False`` shows only what is not a pass."""
    out: list[str] = []
    for c in report.clusters:
        facts = ", ".join(
            f"{k} {c[k]}" for k in ("provider", "cni", "k8s_version") if c.get(k)
        )
        cidrs = " ".join(
            f"{label} {','.join(c[key])}" for label, key in (("pods", "pod_cidrs"), ("services", "service_cidrs")) if c.get(key)
        )
        out.append(f"• {c['name']} ({c.get('server') or '?'}): {facts or 'no facts'}{'; ' + cidrs if cidrs else ''}")
    groups: dict[str, list[Result]] = {}
    for r in report.results:
        groups.setdefault(_group_title(r), []).append(r)
    order = sorted(groups, key=lambda t: (not t.startswith("Cluster "), t.startswith("From "), 0))
    for title in order:
        shown = [r for r in groups[title] if verbose or r.status is not Status.PASS]
        if not shown:
            continue
        out.append("")
        out.append(_paint(title, "1", colour))
        elsewhere = [r for r in shown if r.status is Status.SKIP and r.details.get("not_applicable")]
        out.extend(format_line(r, colour) for r in shown if r not in elsewhere)
        if elsewhere:
            providers = "/".join(sorted({str(r.details["not_applicable"]) for r in elsewhere}))
            names = ", ".join(r.check for r in elsewhere)
            out.append(_paint(f"  – {len(elsewhere)} check(s) not applicable to {providers}: {names}", COLOURS[Status.SKIP], colour))
    s = report.summary
    out.append("")
    parts = [f"{s[k]} {k}" for k in ("pass", "warn", "fail", "error", "skip")]
    verdict = "FAILED" if report.exit_code else "OK"
    tail = " (interrupted)" if report.interrupted else ""
    out.append(_paint(f"{verdict}: " + ", ".join(parts) + f" in {report.duration_s:.1f}s{tail}", "31" if report.exit_code else "32", colour))
    return "\n".join(out)
