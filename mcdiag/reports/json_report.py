"""The JSON report (CHECKS.md's contract)."""

from __future__ import annotations

import json
from pathlib import Path

from mcdiag.model import RunReport
from mcdiag.reports.files import write_report_file


def write_json(report: RunReport, path: Path) -> None:
    """Write ``report`` as JSON to ``path`` (atomically: a reader never sees half a file)."""
    write_report_file(path, (json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n").encode("utf-8"))
