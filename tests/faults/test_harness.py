"""The harness can fail: a traceback, a leaked secret, a missing or broken report, a run past its bound are caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults.harness import Expect, Run, judge


@pytest.fixture(autouse=True)
def _not_recorded(monkeypatch):
    monkeypatch.delenv("MCDIAG_FAULTS_RESULTS", raising=False)  # self-tests are not rows of the matrix


def _run(tmp_path: Path, out: bytes = b"", err: bytes = b"", code: int = 0, timed_out: bool = False) -> Run:
    return Run(["all"], code, out, err, 1.0, timed_out, tmp_path / "reports", sorted(p for p in tmp_path.rglob("*") if p.is_file()))


def _reports(tmp_path: Path, results: list[dict], junit: str = "<testsuites/>") -> None:
    d = tmp_path / "reports"
    d.mkdir(exist_ok=True)
    (d / "mcdiag.json").write_text(json.dumps({"tool": "mcdiag", "version": "0", "results": results, "summary": {},
                                               "clusters": [], "interrupted": False, "notes": []}))
    (d / "mcdiag-junit.xml").write_text(junit)
    (d / "mcdiag.html").write_text("<html></html>")


RESULT = {"check": "api-access", "clusters": ["east"], "scope": "cluster", "status": "pass", "message": "ok"}


def test_a_clean_run_passes(tmp_path):
    _reports(tmp_path, [RESULT])
    assert judge("t", "self-test", "", Expect(0, {"api-access[east]": ("pass", "ok")}), [_run(tmp_path)], bound=9).ok


def test_each_invariant_is_caught(tmp_path):
    _reports(tmp_path, [RESULT])
    expect = Expect(0, {"api-access[east]": ("pass", "ok")})
    tb = judge("t", "self-test", "", expect, [_run(tmp_path, err=b"Traceback (most recent call last):\n")], bound=9)
    assert tb.traceback and not tb.ok
    (tmp_path / "reports" / "leak.txt").write_text("the s3cret-planted-value")
    leak = judge("t", "self-test", "", expect, [_run(tmp_path)], bound=9, secrets=["s3cret-planted-value"])
    assert leak.leaked and not leak.ok
    slow = judge("t", "self-test", "", expect, [_run(tmp_path, timed_out=True)], bound=9)
    assert slow.past_bound and not slow.ok
    wrong = judge("t", "self-test", "", Expect(0, {"api-access[east]": ("error", "x")}), [_run(tmp_path)], bound=9)
    assert not wrong.ok


def test_broken_reports_are_lost_reports(tmp_path):
    _reports(tmp_path, [RESULT], junit="<testsuites>")
    obs = judge("t", "self-test", "", Expect(0), [_run(tmp_path)], bound=9)
    assert not obs.reports_ok and not obs.ok
    (tmp_path / "reports" / "mcdiag.json").unlink()
    assert not judge("t", "self-test", "", Expect(0), [_run(tmp_path)], bound=9).reports_ok


def test_a_warning_without_hint_is_caught(tmp_path):
    _reports(tmp_path, [{**RESULT, "status": "warn", "message": "odd", "hint": None}])
    assert not judge("t", "self-test", "", Expect(0), [_run(tmp_path)], bound=9).ok
