"""Lab benchmarks (root; one lab per host): hooks, filled in by phase 2 of issue 12.

``python -m benchmarks --lab`` calls :func:`run_all`, which returns Markdown lines for
docs/performance.md. Each benchmark below is a hook: :func:`active_suite` times
``mcdiag all`` on the healthy lab of one provider (ported from the former
scripts/bench.py ``--lab``); the others say what they will measure and are not
implemented yet. Nothing here runs unless ``--lab`` is given.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from pathlib import Path

PROVIDERS = ("submariner", "netmaker")


def active_suite(provider: str, runs: int, tmp: Path, *, fault: str | None = None, jobs: int | None = None) -> list[str]:
    """``mcdiag all`` (active checks included) on the lab of ``provider``; one Markdown row per run.

    ``fault`` (a fault of the lab's fault table) and ``jobs`` (``--jobs``) are phase 2 hooks.
    """
    if fault is not None:
        raise NotImplementedError("lab benchmark per fault: phase 2 of issue 12")
    from mcdiag.cli import main
    from mcdiag.lab import Lab

    lab = Lab(tmp / f"lab-{provider}", provider)
    start = time.monotonic()
    lab.up()
    rows = [f"| {provider} | lab up | {time.monotonic() - start:.1f} s | |"]
    try:
        args = [a for c in lab.cluster_names for a in ("--cluster", f"{c}={lab.kubeconfig(c)}")]
        args += ["--jobs", str(jobs)] if jobs else []
        for i in range(runs):
            out = tmp / f"lab-{provider}-r{i}"
            start = time.monotonic()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = main(["all", *args, "--report-dir", str(out)])
            elapsed = time.monotonic() - start
            results = json.loads((out / "mcdiag.json").read_text())["results"]
            slow = sorted(results, key=lambda r: -r["duration_s"])[:3]
            rows.append(f"| {provider} | `mcdiag all`{f' --jobs {jobs}' if jobs else ''} run {i + 1} | {elapsed:.1f} s (exit {code}) | "
                        + ", ".join(f"{r['check']} {r['duration_s']:.1f}s" for r in slow) + " |")
    finally:
        lab.down()
    return rows


def faults(provider: str, runs: int, tmp: Path) -> list[str]:
    """Every fault of the lab's fault table, one active run each (phase 2)."""
    raise NotImplementedError("phase 2 of issue 12")


def jobs_series(provider: str, runs: int, tmp: Path) -> list[str]:
    """``--jobs 1`` against the default (phase 2)."""
    raise NotImplementedError("phase 2 of issue 12")


def clusters_series(provider: str, runs: int, tmp: Path, counts: tuple[int, ...] = (2, 3, 4, 8)) -> list[str]:
    """``mcdiag lab up --clusters N`` and ``mcdiag all`` over N clusters, against 2 (phase 2)."""
    raise NotImplementedError("phase 2 of issue 12: needs `mcdiag lab up --clusters N`")


def run_all(runs: int, tmp: Path) -> list[str]:
    """Every lab benchmark that exists; hooks not filled yet are listed as such."""
    if os.geteuid() != 0:
        return ["Not run: the lab needs root."]
    lines = ["| provider | what | wall | slowest checks |", "|---|---|---|---|"]
    missing = []
    for provider in PROVIDERS:
        lines += active_suite(provider, runs, tmp)
        for hook in (faults, jobs_series, clusters_series):
            try:
                lines += hook(provider, runs, tmp)
            except NotImplementedError as exc:
                missing.append(f"{hook.__name__} ({provider}): {exc}")
    return lines + ["", *(f"- not measured: {m}" for m in missing)]
