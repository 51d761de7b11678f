"""The JSON report (CHECKS.md's contract)."""

from __future__ import annotations

import json
from pathlib import Path

from mcdiag.model import RunReport


def write_json(report: RunReport, path: Path) -> None:
    """Write ``report`` as JSON to ``path`` (atomically: a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
