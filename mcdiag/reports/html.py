"""The HTML report: one self-contained file (inline CSS, no scripts or fetches).

Summary, cluster facts, a cluster x cluster matrix of the active probes, and
the results grouped by cluster and pair, each failure with its hint.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from mcdiag.model import Result, RunReport, Scope, Status

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
.pass{color:#17702a}.warn{color:#9a6700}.fail,.error{color:#b3261e}.skip{color:#777}
.badge{display:inline-block;padding:.1em .5em;border-radius:.3em;font-weight:600;font-size:.85em}
.b-pass{background:#dff3e4}.b-warn{background:#fff1c2}.b-fail,.b-error{background:#fde0dd}.b-skip{background:#eee}
.hint{color:#245;font-size:.9em}.summary span{margin-right:1.2em;font-weight:600}
code{background:#f4f4f4;padding:0 .2em}
"""


def _badge(status: Status) -> str:
    return f'<span class="badge b-{status.value}">{status.value.upper()}</span>'


def _row(r: Result) -> str:
    extra = ""
    if r.hint and r.status in (Status.FAIL, Status.WARN, Status.ERROR):
        extra += f'<div class="hint">hint: {escape(r.hint)}</div>'
    if r.docs:
        extra += f'<div class="hint">docs: <a href="{escape(r.docs)}">{escape(r.docs)}</a></div>'
    return (
        f"<tr><td>{_badge(r.status)}</td><td><code>{escape(r.check)}</code><br>{escape(r.title)}</td>"
        f"<td>{escape(r.message)}{extra}</td><td>{r.duration_s:.2f}s</td></tr>"
    )


def _matrix(report: RunReport) -> str:
    active = [r for r in report.results if r.scope is Scope.ORDERED_PAIR and "active" in r.tags]
    if not active:
        return "<p>No active probes ran (passive run, or no active checks selected).</p>"
    names = [c["name"] for c in report.clusters]
    cells = {}
    for r in active:
        cells.setdefault(tuple(r.clusters), []).append(r)
    head = "".join(f"<th>to {escape(n)}</th>" for n in names)
    rows = []
    for src in names:
        tds = []
        for dst in names:
            if src == dst:
                tds.append("<td>—</td>")
                continue
            items = cells.get((src, dst), [])
            tds.append(
                "<td>"
                + "<br>".join(f'<span class="{r.status.value}">{escape(r.check)}: {r.status.value}</span>' for r in items)
                + "</td>"
            )
        rows.append(f"<tr><th>from {escape(src)}</th>{''.join(tds)}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _problems(report: RunReport) -> str:
    """Everything that needs attention first, with its hint."""
    bad = [r for r in report.results if r.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    if not bad:
        return ""
    rows = "".join(
        f"<tr><td>{_badge(r.status)}</td><td><code>{escape(r.test_name)}</code></td><td>{escape(r.message)}"
        + (f'<div class="hint">hint: {escape(r.hint)}</div>' if r.hint else "")
        + "</td></tr>"
        for r in bad
    )
    return f"<h2>Needs attention</h2><table><tr><th>status</th><th>check</th><th>result</th></tr>{rows}</table>"


def render_html(report: RunReport) -> str:
    """The report as one HTML document."""
    s = report.summary
    verdict = "FAILED" if report.exit_code else "OK"
    summary = "".join(f'<span class="{k}">{s[k]} {k}</span>' for k in ("pass", "warn", "fail", "error", "skip"))
    clusters = "".join(
        "<tr>" + "".join(
            f"<td>{escape(str(c.get(k) if not isinstance(c.get(k), list) else ', '.join(c.get(k))) or '')}</td>"
            for k in ("name", "context", "server", "provider", "cni", "k8s_version", "pod_cidrs", "service_cidrs")
        ) + "</tr>"
        for c in report.clusters
    )
    groups: dict[str, list[Result]] = {}
    for r in report.results:
        title = {Scope.CLUSTER: "Cluster", Scope.PAIR: "Clusters", Scope.ORDERED_PAIR: "From"}[r.scope]
        groups.setdefault(f"{title} {r.target.replace('->', ' to ').replace('<-> ', '')}", []).append(r)
    sections = "".join(
        f"<h2>{escape(title)}</h2><table><tr><th>status</th><th>check</th><th>result</th><th>time</th></tr>"
        + "".join(_row(r) for r in rs)
        + "</table>"
        for title, rs in groups.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mcdiag report: {verdict}</title><style>{CSS}</style></head>
<body><h1>mcdiag report: <span class="{'fail' if report.exit_code else 'pass'}">{verdict}</span></h1>
<p>Started {escape(report.started.isoformat(timespec='seconds'))}, took {report.duration_s:.1f}s{' (interrupted)' if report.interrupted else ''}.</p>
<p class="summary">{summary}</p>
{"<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>" if report.notes else ""}
<h2>Clusters</h2><table><tr><th>name</th><th>context</th><th>server</th><th>provider</th><th>CNI</th><th>version</th><th>pod CIDRs</th><th>service CIDRs</th></tr>{clusters}</table>
{_problems(report)}
<h2>Active probes</h2>{_matrix(report)}
{sections}
</body></html>
"""


def write_html(report: RunReport, path: Path) -> None:
    """Write the HTML report to ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
