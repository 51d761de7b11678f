"""The fault matrix's harness: run ``mcdiag`` as a user would (a subprocess), under one fault, and judge it.

Every case asserts the same invariants besides its own expectations:

- no Python traceback, on stdout or stderr;
- the exit code expected;
- the reports written and valid (JSON parses with every result well-formed, JUnit
  parses and validates against the Jenkins schema when it is beside the checkout,
  HTML complete), unless the case is a usage error (exit 2, one line);
- the status and reason of the affected results;
- no planted secret in any byte written (stdout, stderr, every file of the run);
- the run ended within its bound (a generous deadline, not a speed test).

Each observation is also appended as a JSON line to ``$MCDIAG_FAULTS_RESULTS/``
when that is set: ``scripts/reliability.py`` turns them into docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, SHARED

STATUSES = {"pass", "warn", "fail", "skip", "error"}
TRACEBACK = b"Traceback (most recent call last)"


@dataclass
class Expect:
    """What a case expects: exit code(s), and for result keys (``check[target]``, or ``*[target]`` /
    ``*`` for any result of that target / any result at all) a status and a regex its message matches.
    """

    code: int | tuple[int, ...]
    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: A regex stderr matches (usage errors: the one line).
    stderr: str | None = None
    #: Reports expected (False for usage errors and runs that never start).
    reports: bool = True
    #: Regexes the notes of the JSON report must match (each, some note).
    notes: tuple[str, ...] = ()
    #: Regexes that no result message may match (e.g. "internal error").
    never: tuple[str, ...] = ("internal error", "Traceback")

    def describe(self) -> str:
        codes = self.code if isinstance(self.code, tuple) else (self.code,)
        parts = [f"exit {'/'.join(map(str, codes))}"]
        parts += [f"{k}: {s} ~ /{m}/" for k, (s, m) in self.results.items()]
        if self.stderr:
            parts.append(f"stderr ~ /{self.stderr}/")
        parts += [f"note ~ /{n}/" for n in self.notes]
        if not self.reports:
            parts.append("no reports (usage error)")
        return "; ".join(parts)


@dataclass
class Run:
    """One finished invocation."""

    argv: list[str]
    code: int | None
    out: bytes
    err: bytes
    seconds: float
    timed_out: bool
    report_dir: Path
    files: list[Path]
    #: Seconds from the last signal sent to the end of the process (None: no signal).
    after_signal: float | None = None
    #: Signals never sent (their cue never came, or the run had ended).
    unsent: int = 0
    #: Signals sent.
    sent: int = 0


def execute(
    argv: Sequence[str],
    cwd: Path,
    *,
    bound: float,
    env: dict[str, str] | None = None,
    signals: Sequence[tuple[float | str, int]] = (),
    stdout: Any = None,
) -> Run:
    """Run ``python -m mcdiag ARGV`` in ``cwd``; kill it at ``bound`` seconds.

    ``signals``: (when, signum) sent in order; ``when`` is seconds after start, or a string that
    stderr must show first.
    """
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("MCDIAG_FAULTS_RESULTS", None)
    out_path, err_path = cwd / f".out-{time.monotonic_ns()}", cwd / f".err-{time.monotonic_ns()}"
    start = time.monotonic()
    with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
        proc = subprocess.Popen([sys.executable, "-m", "mcdiag", *argv], cwd=cwd, env=full_env,
                                stdout=stdout if stdout is not None else out_f, stderr=err_f, stdin=subprocess.DEVNULL)
        timed_out = False
        signalled: float | None = None
        pending = list(signals)
        while True:
            try:
                proc.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - start
            if pending:
                when, sig = pending[0]
                since = time.monotonic() - (signalled or start)  # a number: seconds after the previous signal
                ready = since >= when if isinstance(when, int | float) else when.encode() in err_path.read_bytes()
                if ready:
                    proc.send_signal(sig)
                    signalled = time.monotonic()
                    pending.pop(0)
            if elapsed > bound:
                timed_out = True
                proc.kill()
                proc.wait(10)
                break
    end = time.monotonic()
    seconds = end - start
    report_dir = cwd / "reports"
    out, err = out_path.read_bytes(), err_path.read_bytes()
    out_path.unlink()
    err_path.unlink()
    files = sorted(p for p in cwd.rglob("*") if p.is_file())
    return Run(list(argv), proc.returncode, out, err, seconds, timed_out, report_dir, files,
               None if signalled is None else round(end - signalled, 2), len(pending), len(signals) - len(pending))


@cache
def _junit_schema() -> Any:
    xsd = SHARED / "schemas" / "junit-10.xsd"
    if not xsd.exists():
        return None
    import xmlschema

    return xmlschema.XMLSchema(str(xsd))


def check_reports(report_dir: Path) -> tuple[bool, str, dict[str, Any] | None]:
    """(valid, why not, the JSON report)."""
    paths = {k: report_dir / n for k, n in (("json", "mcdiag.json"), ("junit", "mcdiag-junit.xml"), ("html", "mcdiag.html"))}
    missing = [k for k, p in paths.items() if not p.is_file()]
    if missing:
        return False, f"missing: {', '.join(missing)}", None
    try:
        data = json.loads(paths["json"].read_text(encoding="utf-8"))
    except ValueError as exc:
        return False, f"JSON report does not parse: {exc}", None
    for key in ("tool", "version", "results", "summary", "clusters", "interrupted", "notes"):
        if key not in data:
            return False, f"JSON report lacks {key}", data
    for r in data["results"]:
        if r.get("status") not in STATUSES or not isinstance(r.get("message"), str):
            return False, f"malformed result {r!r:.200}", data
        if r["status"] in ("error", "skip", "fail", "warn") and not r["message"].strip():
            return False, f"{r['check']}: {r['status']} without a reason", data
        if r["status"] in ("fail", "warn") and not r.get("hint"):
            return False, f"{r['check']}: {r['status']} without a hint", data
    try:
        ET.parse(paths["junit"])
    except ET.ParseError as exc:
        return False, f"JUnit does not parse: {exc}", data
    schema = _junit_schema()
    if schema is not None and not schema.is_valid(str(paths["junit"])):
        return False, "JUnit does not validate against junit-10.xsd", data
    if "</html>" not in paths["html"].read_text(encoding="utf-8", errors="replace"):
        return False, "HTML report is incomplete", data
    return True, "", data


def _label(r: dict[str, Any]) -> str:
    c = r["clusters"]
    return {"cluster": c[0], "pair": "<->".join(c), "ordered-pair": "->".join(c)}[r["scope"]]


def _matching(results: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if key == "*":
        return results
    check, _, target = key.partition("[")
    target = target.rstrip("]")
    return [r for r in results if (check == "*" or r["check"] == check) and (not target or _label(r) == target)]


@dataclass
class Observation:
    """What one case saw (one line of the results file)."""

    case: str
    category: str
    fault: str
    expected: str
    observed: str
    code: int | None
    seconds: float
    bound: float
    traceback: bool
    reports_expected: bool
    reports_ok: bool
    leaked: list[str]
    past_bound: bool
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(case_id: str, category: str, fault: str, expect: Expect, runs: Sequence[Run], *, bound: float,
          secrets: Sequence[str] = ()) -> Observation:
    """Check every invariant and expectation; record the observation; return it (``problems`` empty = pass)."""
    problems: list[str] = []
    main = runs[0]
    codes = expect.code if isinstance(expect.code, tuple) else (expect.code,)
    traceback = any(TRACEBACK in r.out or TRACEBACK in r.err for r in runs)
    if traceback:
        problems.append("a Python traceback was printed")
    if main.code not in codes:
        problems.append(f"exit {main.code}, expected {'/'.join(map(str, codes))}")
    past = any(r.timed_out for r in runs)
    if any(r.unsent and not r.sent for r in runs):
        problems.append("no signal was sent (the cue never appeared on stderr)")
    if past:
        problems.append(f"still running after its bound of {bound:g}s (killed)")
    err_text = main.err.decode("utf-8", "replace")
    if expect.stderr and not re.search(expect.stderr, err_text):
        problems.append(f"stderr does not match /{expect.stderr}/: {err_text[-300:]!r}")
    if not expect.reports:
        lines = [ln for ln in err_text.splitlines() if ln.strip()]
        if main.code == 2 and len(lines) != 1:
            problems.append(f"a usage error must be one line on stderr, got {len(lines)}")
    reports_ok, data = True, None
    observed: list[str] = [f"exit {main.code}"]
    if main.after_signal is not None:
        observed.append(f"ended {main.after_signal:.1f}s after the signal")
    if expect.reports:
        reports_ok, why, data = check_reports(main.report_dir)
        if not reports_ok:
            problems.append(f"reports: {why}")
    if data is not None:
        results = data["results"]
        for key, (status, pattern) in expect.results.items():
            found = _matching(results, key)
            hit = [r for r in found if r["status"] == status and re.search(pattern, r["message"])]
            if hit:
                observed.append(f"{key}: {hit[0]['status']} \"{hit[0]['message'][:110]}\"")
            else:
                seen = "; ".join(f"{r['check']}[{_label(r)}] {r['status']} {r['message'][:80]!r}" for r in found[:3])
                problems.append(f"{key}: no {status} matching /{pattern}/ (saw {seen or 'no such result'})")
                observed.append(f"{key}: " + (f"{found[0]['status']} \"{found[0]['message'][:110]}\"" if found else "missing"))
        for pattern in expect.never:
            bad = [r for r in results if re.search(pattern, r["message"])]
            if bad:
                problems.append(f"{bad[0]['check']}[{_label(bad[0])}]: message matches /{pattern}/: {bad[0]['message'][:150]}")
        for pattern in expect.notes:
            if not any(re.search(pattern, n) for n in data["notes"]):
                problems.append(f"no note matches /{pattern}/ (notes: {data['notes']!r:.300})")
        problems += _notes_everywhere(data["notes"], main)
        observed.append("summary " + ", ".join(f"{v} {k}" for k, v in data["summary"].items() if v))
    elif expect.stderr:
        line = next((ln for ln in err_text.splitlines() if re.search(expect.stderr, ln)), "") or err_text.strip()
        line = re.sub(r"(/[^\s/]+)+/([^\s/]+)", r"…/\2", line)  # temporary paths say nothing
        observed.append(f"\"{line[:200]}\"")
    leaked = []
    for secret in secrets:
        needle = secret.encode()
        where = [label for r in runs for label, blob in (("stdout", r.out), ("stderr", r.err)) if needle in blob]
        where += [str(p.name) for r in runs for p in r.files if p.exists() and needle in p.read_bytes()]
        if where:
            leaked.append(f"{secret[:6]}… in {', '.join(sorted(set(where)))}")
    if leaked:
        problems.append(f"secrets leaked: {leaked}")
    obs = Observation(
        case=case_id, category=category, fault=fault, expected=expect.describe(), observed="; ".join(observed),
        code=main.code, seconds=round(sum(r.seconds for r in runs), 2), bound=bound, traceback=traceback,
        reports_expected=expect.reports, reports_ok=reports_ok if expect.reports else True, leaked=leaked,
        past_bound=past, problems=problems,
    )
    record(obs)
    return obs


def _notes_everywhere(notes: list[str], run: Run) -> list[str]:
    """Every note of the JSON report is in the JUnit, the HTML and on the terminal too (every report)."""
    import html

    if not notes:
        return []
    junit = ET.tostring(ET.parse(run.report_dir / "mcdiag-junit.xml").getroot(), encoding="unicode", method="text")
    page = html.unescape((run.report_dir / "mcdiag.html").read_text(encoding="utf-8", errors="replace"))
    terminal = (run.out + run.err).decode("utf-8", "replace")
    out = []
    for note in notes:
        missing = [name for name, text in (("JUnit", junit), ("HTML", page), ("terminal", terminal)) if note not in text]
        if missing:
            out.append(f"note {note[:80]!r} missing from {', '.join(missing)}")
    return out


def record(obs: Observation) -> None:
    """Append ``obs`` to ``$MCDIAG_FAULTS_RESULTS/<pid>.jsonl`` (when set)."""
    folder = os.environ.get("MCDIAG_FAULTS_RESULTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    with open(Path(folder) / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(obs)) + "\n")


@dataclass
class Case:
    """One row of the matrix: an id, what is broken, what must happen."""

    id: str
    fault: str
    expect: Expect
    #: Builds the invocation(s) from the environment the test module provides; returns argv lists.
    setup: Callable[..., Any]
    bound: float = 45.0
    secrets: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    signals: tuple[tuple[float | str, int], ...] = ()

    def __str__(self) -> str:
        return self.id


SIGINT, SIGTERM = signal.SIGINT, signal.SIGTERM
