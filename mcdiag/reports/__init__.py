"""Report writers. Results are data; each writer turns the same :class:`RunReport` into one format.

A writer never decides a verdict. ``write_reports`` writes every requested file
and never lets one writer's failure stop the others.
"""

from __future__ import annotations

from pathlib import Path

from mcdiag.model import RunReport
from mcdiag.reports.html import write_html
from mcdiag.reports.json_report import write_json
from mcdiag.reports.junit import write_junit
from mcdiag.reports.terminal import render_terminal

__all__ = ["render_terminal", "write_html", "write_json", "write_junit", "write_reports"]


def write_reports(
    report: RunReport,
    *,
    report_dir: Path | None,
    json_path: Path | None = None,
    junit_path: Path | None = None,
    html_path: Path | None = None,
    json_file: bool = True,
) -> tuple[dict[str, Path], list[str]]:
    """Write JSON, JUnit and HTML reports; default paths are ``report_dir/mcdiag.{json,xml,html}``.

    Returns the paths written and one line per writer that failed. ``json_file=False``: the JSON
    went elsewhere (stdout, ``-o json``), so no JSON file.
    """
    targets = {
        "json": (json_path or (report_dir / "mcdiag.json" if report_dir else None)) if json_file else None,
        "junit": junit_path or (report_dir / "mcdiag-junit.xml" if report_dir else None),
        "html": html_path or (report_dir / "mcdiag.html" if report_dir else None),
    }
    writers = {"json": write_json, "junit": write_junit, "html": write_html}
    written: dict[str, Path] = {}
    problems: list[str] = []
    for kind, path in targets.items():
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writers[kind](report, path)
            written[kind] = path
        except OSError as exc:
            problems.append(f"cannot write the {kind} report to {path}: {exc.strerror or exc}")
    return written, problems
