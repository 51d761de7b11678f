"""The HTML report: one self-contained file (inline CSS and a few lines of inline script, no fetches).

What a person reads first: the verdict and counts, then "Needs attention", cause first (each
likely cause with its hint and docs link, the failures that follow from it under it), then a
cluster x cluster matrix of everything between two clusters (pair checks, the gateways'
connection states, active probes), each cell coloured by its worst status with a symbol and
linking to its rows, with RTT and path MTU where measured. Then each cluster's facts, the
results grouped by cluster and pair, and the run's version, options and notes. A status filter
(checkboxes) hides rows without any network access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from mcdiag.model import Result, RunReport, Scope, Status
from mcdiag.reports.files import write_report_file
from mcdiag.reports.recap import group_title, report_groups

#: Worst first: the status a matrix cell shows when several results meet there.
SEVERITY = {Status.FAIL: 4, Status.ERROR: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}
ORDER = ("pass", "warn", "fail", "error", "skip")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:1280px}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
h3{font-size:1.05em;margin:1.2em 0 .3em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
a{color:#0b57d0}.meta{color:#555;font-size:.9em}
.pass{color:#17702a}.warn{color:#8a5a00}.fail,.error{color:#b3261e}.skip{color:#666}
.badge{display:inline-block;padding:.1em .5em;border-radius:.3em;font-weight:600;font-size:.85em;white-space:nowrap}
.b-pass{background:#dff3e4}.b-warn{background:#fff1c2}.b-fail,.b-error{background:#fde0dd}.b-skip{background:#eee}
.hint{color:#245;font-size:.9em}.cause{color:#6a1b9a;font-size:.9em}
.summary span{margin-right:1.2em;font-weight:600}
code{background:#f4f4f4;padding:0 .2em}
.matrix td.cell{min-width:11em}.matrix ul{list-style:none;margin:.2em 0 0;padding:0;font-size:.85em}
.c-pass{background:#e6f4ea}.c-warn{background:#fff4d0}.c-fail,.c-error{background:#fde3e0}.c-skip{background:#f1f1f1}
.c-none{background:#fafafa;color:#999}.fig{font-size:.8em;color:#333;margin-top:.2em}
.worst{font-weight:700}.dependents{margin:.2em 0 0 1.2em;padding:0;font-size:.9em}
#filter{margin:.6em 0;padding:.4em .6em;background:#f6f8fa;border:1px solid #ddd;display:inline-block}
#filter label{margin-right:1em}
@media print{#filter{display:none}}
"""

#: The status filter: hides result rows (tr[data-status]) whose status box is unticked.
SCRIPT = """
document.querySelectorAll('#filter input').forEach(function (box) {
  box.addEventListener('change', function () {
    var hide = {};
    document.querySelectorAll('#filter input').forEach(function (b) { if (!b.checked) hide[b.value] = true; });
    document.querySelectorAll('tr[data-status]').forEach(function (row) {
      row.style.display = hide[row.getAttribute('data-status')] ? 'none' : '';
    });
  });
});
"""


def row_id(result: Result) -> str:
    """The anchor of a result's row: ``r-cidr-overlap-east--west``."""
    return "r-" + re.sub(r"[^A-Za-z0-9_-]+", "-", result.test_name).strip("-")


def _group_id(title: str) -> str:
    return "g-" + re.sub(r"[^A-Za-z0-9_-]+", "-", title).strip("-").lower()


def _badge(status: Status) -> str:
    return f'<span class="badge b-{status.value}">{status.symbol} {status.value.upper()}</span>'


def duration(seconds: float) -> str:
    """``<1 ms``, ``12 ms``, ``1.2 s``: checks on prefetched data take well under a millisecond."""
    if seconds < 0.001:
        return "&lt;1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"


def _docs(url: str | None) -> str:
    return f'<div class="hint">docs: <a href="{escape(url)}">{escape(url)}</a></div>' if url else ""


def _row(r: Result) -> str:
    extra = ""
    if r.cause:
        extra += f'<div class="cause">likely cause: <a href="#{_anchor(r.cause)}">{escape(r.cause)}</a></div>'
    if r.hint and r.status in (Status.FAIL, Status.WARN, Status.ERROR):
        extra += f'<div class="hint">hint: {escape(r.hint)}</div>'
    extra += _docs(r.docs)
    return (
        f'<tr id="{row_id(r)}" data-status="{r.status.value}"><td>{_badge(r.status)}</td>'
        f"<td><code>{escape(r.check)}</code><br>{escape(r.title)}</td>"
        f"<td>{escape(r.message)}{extra}</td><td>{duration(r.duration_s)}</td></tr>"
    )


def _anchor(label: str) -> str:
    return "r-" + re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-")


# -- the matrix ---------------------------------------------------------------------------------
def _peer_status(result: Result, peer: str) -> tuple[Status, str]:
    """A cluster-scope result's verdict about one peer (a gateway's connection state), else its own."""
    conns = result.details.get("connections")
    if isinstance(conns, dict) and isinstance(conns.get(peer), dict):
        state = str(conns[peer].get("status") or "none")
        return (Status.PASS if state == "connected" else Status.FAIL), state
    return result.status, ""


def matrix_cells(report: RunReport) -> dict[tuple[str, str], list[tuple[Result, Status, str]]]:
    """``{(from, to): [(result, status there, note)]}`` for every pair of clusters.

    Ordered-pair results go to their direction; pair results to both; cluster-scope results of
    inter-cluster checks (gateway connections, endpoints) to each of their cluster's peers, with the
    connection state to that peer when the result has one. The diagonal holds each cluster's own results.
    """
    names = [c["name"] for c in report.clusters] or sorted({n for r in report.results for n in r.clusters})
    cells: dict[tuple[str, str], list[tuple[Result, Status, str]]] = {(a, b): [] for a in names for b in names}
    for r in report.results:
        if r.scope is Scope.ORDERED_PAIR and tuple(r.clusters) in cells:
            cells[tuple(r.clusters)].append((r, r.status, ""))
        elif r.scope is Scope.PAIR:
            a, b = r.clusters
            for key in ((a, b), (b, a)):
                if key in cells:
                    cells[key].append((r, r.status, ""))
        elif r.scope is Scope.CLUSTER:
            a = r.clusters[0]
            if (a, a) in cells:
                cells[(a, a)].append((r, r.status, ""))
            if "inter-cluster" in r.tags:
                for b in names:
                    if b != a:
                        status, note = _peer_status(r, b)
                        cells[(a, b)].append((r, status, note))
    return cells


def worst(statuses: Iterable[Status]) -> Status | None:
    """The worst of ``statuses`` (fail, error, warn, pass, skip), or ``None`` for none."""
    statuses = list(statuses)
    return max(statuses, key=lambda s: SEVERITY[s]) if statuses else None


def _figures(entries: list[tuple[Result, Status, str]], b: str) -> str:
    figs = []
    for r, _, _ in entries:
        d = r.details
        if r.check == "latency" and d.get("avg_ms") is not None:
            figs.append(f"RTT {float(d['avg_ms']):.1f} ms")
        elif r.check == "path-mtu" and d.get("mtu"):
            figs.append(f"path MTU {d['mtu']}")
        elif isinstance(d.get("rtt"), dict) and isinstance(d["rtt"].get(b), dict) and d["rtt"][b].get("average"):
            figs.append(f"gateway RTT {escape(str(d['rtt'][b]['average']))}")
    return f'<div class="fig">{" · ".join(escape(f) for f in dict.fromkeys(figs))}</div>' if figs else ""


def _matrix(report: RunReport) -> str:
    cells = matrix_cells(report)
    names = [c["name"] for c in report.clusters] or sorted({a for a, _ in cells})
    if len(names) < 1:
        return "<p>No clusters.</p>"
    head = "".join(f"<th>to {escape(n)}</th>" for n in names)
    rows = []
    for a in names:
        tds = []
        for b in names:
            entries = cells.get((a, b), [])
            w = worst(s for _, s, _ in entries)
            if w is None:
                tds.append(f'<td class="cell c-none" data-from="{escape(a)}" data-to="{escape(b)}">no results</td>')
                continue
            counts = {s: sum(1 for _, st, _ in entries if st is s) for s in Status}
            tally = " ".join(f"{counts[s]}{s.symbol}" for s in sorted(Status, key=lambda s: -SEVERITY[s]) if counts[s])
            items = "".join(
                f'<li class="{st.value}">{st.symbol} <a href="#{row_id(r)}">{escape(r.check)}</a>'
                + (f" ({escape(note)})" if note else "") + "</li>"
                for r, st, note in sorted(entries, key=lambda e: -SEVERITY[e[1]])
            )
            what = "own checks" if a == b else f"{escape(a)} to {escape(b)}"
            tds.append(
                f'<td class="cell c-{w.value}" data-from="{escape(a)}" data-to="{escape(b)}" data-worst="{w.value}">'
                f'<span class="worst {w.value}" title="{what}: worst {w.value}">{w.symbol} {w.value.upper()}</span> '
                f'<span class="meta">{tally}</span>{_figures(entries, b)}<ul>{items}</ul></td>'
            )
        rows.append(f"<tr><th>from {escape(a)}</th>{''.join(tds)}</tr>")
    legend = ("<p class=\"meta\">Each cell: everything between the two clusters (pair checks, the gateways' connection "
              "states, active probes A to B), coloured by its worst status: ✗ fail/error, ⚠ warn, ✓ pass, – skip. "
              "The diagonal holds each cluster's own checks.</p>")
    return f'<table class="matrix" id="matrix"><tr><th></th>{head}</tr>{"".join(rows)}</table>{legend}'


# -- needs attention, cause first ------------------------------------------------------------------
def _attention(report: RunReport) -> str:
    groups = report_groups(report)
    rows = []
    for g in groups:
        r = g.root
        lead = "<strong>likely cause</strong> " if g.dependents else ""
        names = ", ".join(f'<a href="#{_anchor(label)}"><code>{escape(label)}</code></a>' for label in g.labels)
        body = f"{lead}{names}: {escape(r.message)}"
        if r.hint:
            body += f'<div class="hint">hint: {escape(r.hint)}</div>'
        body += _docs(r.docs)
        if g.dependents:
            deps = "".join(
                f'<li>{d.status.symbol} <a href="#{row_id(d)}">{escape(d.test_name)}</a> '
                f'<span class="{d.status.value}">{d.status.value}</span></li>'
                for d in g.failures
            )
            more = f"<li class=\"skip\">– {len(g.skipped)} check(s) skipped because of it</li>" if g.skipped else ""
            body += f'<div class="cause">{escape(g.summary())}:</div><ul class="dependents">{deps}{more}</ul>'
        rows.append(f'<tr data-status="{r.status.value}"><td>{_badge(r.status)}</td><td>{body}</td></tr>')
    count = sum(len(g.labels) + len(g.failures) for g in groups)
    intro = (f"<p>{count} problem(s) with {len(groups)} likely cause(s); fix the causes first.</p>" if groups
             else '<p class="pass">✓ No failure and no error.</p>')
    table = f'<table class="attention">{"".join(rows)}</table>' if rows else ""
    return f'<h2 id="attention">Needs attention</h2>{intro}{table}'


def _warnings(report: RunReport) -> str:
    """Warnings that do not fail the run (with ``--fail-on warn`` they are in Needs attention)."""
    warns = [r for r in report.results if r.status is Status.WARN and not report.fail_on_warn]
    if not warns:
        return ""
    rows = []
    for r in warns:
        body = f'<a href="#{row_id(r)}"><code>{escape(r.test_name)}</code></a>: {escape(r.message)}'
        if r.hint:
            body += f'<div class="hint">hint: {escape(r.hint)}</div>'
        body += _docs(r.docs)
        rows.append(f'<tr data-status="warn"><td>{_badge(r.status)}</td><td>{body}</td></tr>')
    return f'<h2 id="warnings">Warnings ({len(warns)})</h2><table class="attention">{"".join(rows)}</table>'


def _facts(report: RunReport) -> str:
    def value(c: dict[str, Any], k: str) -> str:
        v = c.get(k)
        if isinstance(v, list):
            v = ", ".join(map(str, v))
        if k == "reachable":
            return "yes" if v else '<span class="fail">✗ no</span>'
        return escape(str(v)) if v not in (None, "") else '<span class="meta">unknown</span>'

    keys = ("name", "context", "server", "reachable", "provider", "cni", "k8s_version", "pod_cidrs", "service_cidrs")
    heads = ("name", "context", "server", "reachable", "provider", "CNI", "Kubernetes", "pod CIDRs", "service CIDRs")
    rows = "".join("<tr>" + "".join(f"<td>{value(c, k)}</td>" for k in keys) + "</tr>" for c in report.clusters)
    return f"<table><tr>{''.join(f'<th>{h}</th>' for h in heads)}</tr>{rows}</table>"


def _run_facts(report: RunReport) -> str:
    from mcdiag import __version__

    opts = report.options or {}
    mode = ("passive (API reads only: no pod, no packet)" if opts.get("passive")
            else "active and passive (probe pods where active checks ran)") if opts else "unknown"
    shown = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(', '.join(map(str, v)) if isinstance(v, list) else str(v))}</td></tr>"
        for k, v in opts.items()
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes) or "<li class=\"meta\">none</li>"
    return (
        f"<table><tr><th>mcdiag</th><td>{escape(__version__)}</td></tr><tr><th>mode</th><td>{escape(mode)}</td></tr>"
        f"<tr><th>warnings</th><td>{'fail the run (--fail-on warn)' if report.fail_on_warn else 'do not fail the run'}</td></tr>"
        f"{shown}</table><h3>Notes</h3><ul>{notes}</ul>"
    )


def render_html(report: RunReport) -> str:
    """The report as one HTML document."""
    from mcdiag import __version__

    s = report.summary
    verdict = "FAILED" if report.exit_code else "OK"
    summary = "".join(
        f'<span class="{k}" data-count="{k}">{Status(k).symbol} {s[k]} {k}</span>' for k in ORDER
    )
    boxes = "".join(f'<label><input type="checkbox" value="{k}" checked> {Status(k).symbol} {k}</label>' for k in ORDER)
    groups: dict[str, list[Result]] = {}
    for r in report.results:
        groups.setdefault(group_title(r), []).append(r)
    order = sorted(groups, key=lambda t: (not t.startswith("Cluster "), t.startswith("From ")))
    sections = "".join(
        f'<h3 id="{_group_id(title)}">{escape(title)}</h3><table class="results"><tr><th>status</th><th>check</th>'
        f"<th>result</th><th>time</th></tr>" + "".join(_row(r) for r in groups[title]) + "</table>"
        for title in order
    )
    passive = (report.options or {}).get("passive")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>mcdiag report: {verdict}</title><style>{CSS}</style></head>
<body><h1>mcdiag report: <span class="{'fail' if report.exit_code else 'pass'}">{'✗' if report.exit_code else '✓'} {verdict}</span></h1>
<p class="meta">mcdiag {escape(__version__)} · started {escape(report.started.isoformat(timespec='seconds'))} · took {report.duration_s:.1f}s{' · interrupted' if report.interrupted else ''}{' · passive run' if passive else ''} · {len(report.clusters)} cluster(s), {len(report.results)} result(s)</p>
<p class="summary" id="summary">{summary}</p>
{_attention(report)}
<h2>Between clusters</h2>{_matrix(report)}
{_warnings(report)}
<h2>Clusters</h2>{_facts(report)}
<h2>Results</h2><div id="filter">Show: {boxes}</div>
{sections}
<h2>Run</h2>{_run_facts(report)}
<p class="meta">Statuses: ✓ pass, ⚠ warn, ✗ fail, ✗ error (could not decide), – skip (does not apply). Catalogue of checks: <code>mcdiag list</code>; one check in detail: <code>mcdiag explain ID</code>.</p>
<script>{SCRIPT}</script>
</body></html>
"""


def write_html(report: RunReport, path: Path) -> None:
    """Write the HTML report to ``path``."""
    write_report_file(path, render_html(report).encode("utf-8"))
