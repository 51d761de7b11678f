"""Fault matrix, the command line and its environment: bad options, terminals, report paths, time limits.

Options that cannot work are usage errors (exit 2, one line saying why); an
environment that cannot take the output (an ASCII terminal, a closed pipe, an
unwritable report path) still gets every report it can take.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.faults import proxy as P
from tests.faults.harness import Expect, execute, judge


def usage(pattern: str) -> Expect:
    return Expect(2, stderr=r"^mcdiag: error: .*" + pattern, reports=False)


OPTIONS = [
    ("check-timeout-negative", ["--check-timeout", "-5"], usage(r"--check-timeout must be a positive number of seconds")),
    ("check-timeout-inf", ["--check-timeout", "inf"], usage(r"--check-timeout must be a positive number of seconds")),
    ("check-timeout-nan", ["--check-timeout", "nan"], usage(r"--check-timeout must be a positive number of seconds")),
    ("request-timeout-nan", ["--request-timeout", "nan"], usage(r"--request-timeout must be a positive")),
    ("request-timeout-inf", ["--request-timeout", "inf"], usage(r"--request-timeout must be a positive")),
    ("request-timeout-huge", ["--request-timeout", "1e300"], usage(r"--request-timeout must be at most")),
    ("probe-start-timeout-negative", ["--probe-start-timeout", "-1"], usage(r"--probe-start-timeout must be a positive")),
    ("run-timeout-zero", ["--timeout", "0"], usage(r"--timeout must be a positive number of seconds")),
    ("answer-timeout-zero", ["--answer-timeout", "0"], usage(r"--answer-timeout must be a positive number of seconds")),
    ("answer-timeout-huge", ["--answer-timeout", "600"], usage(r"--answer-timeout must be at most 60 seconds")),
    ("jobs-zero", ["--jobs", "0"], usage(r"--jobs must be between 1 and")),
    ("jobs-huge", ["--jobs", "100000"], usage(r"--jobs must be between 1 and")),
    ("max-rtt-negative", ["--max-rtt", "-3"], usage(r"--max-rtt must be a positive number")),
    ("timeout-not-a-number", ["--request-timeout", "soon"], usage(r"invalid float value")),
    ("bad-cidr", ["--pod-cidr", "east=10.0.0.0/33"], usage(r"not a CIDR")),
    ("unknown-cluster-in-cidr", ["--pod-cidr", "north=10.0.0.0/16"], usage(r"no cluster called 'north'")),
    ("bad-probe-namespace", ["--probe-namespace", "Not_A_Namespace"], usage(r"is not a valid namespace name")),
    ("snapshot-and-clusters", ["--from-snapshot", "/nowhere"], usage(r"--from-snapshot replaces the cluster options")),
]


@pytest.mark.parametrize(("cid", "extra", "expect"), OPTIONS, ids=[c[0] for c in OPTIONS])
def test_bad_option(cid, extra, expect, healthy, workdir):
    _, kcs = healthy
    argv = ["all", "--cluster", f"east={kcs['east']}", "--cluster", f"west={kcs['west']}", *extra]
    run = execute(argv, workdir, bound=30)
    obs = judge(cid, "command line", " ".join(extra), expect, [run], bound=30)
    assert obs.ok, obs.problems


SELECTIONS = [
    ("empty-selection-id-passive", ["run", "pod-connectivity", "--passive"], usage(r"no check selected by id\(s\) pod-connectivity and --passive")),
    ("empty-selection-tag-passive", ["all", "--tag", "active", "--passive"], usage(r"no check selected by tag\(s\) active and --passive")),
    ("unknown-check", ["run", "no-such-check"], usage(r"unknown check id\(s\): no-such-check")),
    ("unknown-tag", ["all", "--tag", "nonsense"], usage(r"invalid choice: 'nonsense'")),
]


@pytest.mark.parametrize(("cid", "argv", "expect"), SELECTIONS, ids=[c[0] for c in SELECTIONS])
def test_bad_selection(cid, argv, expect, healthy, workdir):
    _, kcs = healthy
    run = execute([*argv, "--kubeconfig", str(kcs["east"])], workdir, bound=30)
    obs = judge(cid, "command line", " ".join(argv), expect, [run], bound=30)
    assert obs.ok, obs.problems


def test_ascii_terminal(healthy, workdir):
    """PYTHONIOENCODING=ascii: the terminal report replaces what it cannot encode; the files are UTF-8 and whole."""
    _, kcs = healthy
    run = execute(["all", "--passive", "--cluster", f"east={kcs['east']}", "--cluster", f"west={kcs['west']}"], workdir,
                  bound=30, env={"PYTHONIOENCODING": "ascii"})
    obs = judge("ascii-terminal", "command line", "PYTHONIOENCODING=ascii (the report's ✓ and ✗ cannot be printed)",
                Expect(0, {"api-access[west]": ("pass", "answers")}), [run], bound=30)
    assert obs.ok, obs.problems
    assert b"api-access" in run.out


def test_report_dir_is_a_file(healthy, workdir):
    _, kcs = healthy
    (workdir / "reports").write_text("not a directory")
    run = execute(["all", "--passive", "--cluster", f"east={kcs['east']}"], workdir, bound=30)
    expect = Expect(1, stderr=r"cannot write the json report to reports/mcdiag\.json", reports=False)
    obs = judge("report-dir-is-a-file", "command line", "--report-dir names an existing file", expect, [run], bound=30)
    assert obs.ok, obs.problems
    assert b"api-access" in run.out  # the terminal report still came


def test_report_path_is_a_directory(healthy, workdir):
    _, kcs = healthy
    (workdir / "taken").mkdir()
    (workdir / "taken" / "keep").write_text("x")
    run = execute(["all", "--passive", "--cluster", f"east={kcs['east']}", "--json", "taken"], workdir, bound=30)
    expect = Expect(1, stderr=r"cannot write the json report to taken", reports=False)
    obs = judge("report-path-is-a-directory", "command line", "--json names a non-empty directory", expect, [run], bound=30)
    assert obs.ok, obs.problems
    assert (workdir / "reports" / "mcdiag-junit.xml").is_file()  # the other writers still wrote
    assert b"api-access" in run.out


def test_stdout_closed(healthy, workdir):
    _, kcs = healthy
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait()
    run = execute(["all", "--passive", "--cluster", f"east={kcs['east']}"], workdir, bound=30, stdout=reader.stdin)
    reader.stdin.close()
    expect = Expect((0, 1), {"api-access[east]": ("pass", "answers")})
    obs = judge("stdout-closed", "command line", "stdout is a pipe whose reader has gone", expect, [run], bound=30)
    assert obs.ok, obs.problems


def test_run_time_limit(healthy, proxied, workdir):
    """--timeout 4 with an API server that never answers and a request timeout of 60s: the run ends at its limit."""
    _, kcs = healthy
    proxy, west = proxied
    proxy.add(r"^/api/v1/", P.hang())
    run = execute(["all", "--passive", "--cluster", f"east={kcs['east']}", "--cluster", f"west={west}",
                   "--request-timeout", "60", "--timeout", "4"], workdir, bound=25)
    expect = Expect(1, {"api-access[west]": ("error", r"time limit (of 4s )?\(--timeout\) was reached"),
                        "api-access[east]": ("pass", "answers")})
    obs = judge("run-time-limit", "command line", "--timeout 4 while west never answers (request timeout 60s)",
                expect, [run], bound=25)
    assert obs.ok, obs.problems


def test_gather_into_non_empty_dir(healthy, workdir):
    _, kcs = healthy
    (workdir / "snap").mkdir()
    (workdir / "snap" / "x").write_text("x")
    run = execute(["gather", "--kubeconfig", str(kcs["east"]), "-o", "snap"], workdir, bound=30)
    obs = judge("gather-non-empty-dir", "command line", "gather -o into a non-empty directory",
                usage(r"directory is not empty"), [run], bound=30)
    assert obs.ok, obs.problems


def test_snapshot_garbage(workdir):
    (workdir / "snap").mkdir()
    (workdir / "snap" / "manifest.json").write_text("{not json")
    run = execute(["all", "--from-snapshot", "snap"], workdir, bound=30)
    obs = judge("snapshot-garbage", "command line", "--from-snapshot a directory whose manifest is not JSON",
                usage(r"is not valid JSON"), [run], bound=30)
    assert obs.ok, obs.problems


def test_rbac_prints_valid_roles(workdir):
    import yaml

    for mode in ("--passive", "--active"):
        run = execute(["rbac", mode], workdir, bound=30)
        assert run.code == 0 and not run.err, run.err
        docs = list(yaml.safe_load_all(run.out))
        assert docs[0]["kind"] == "ClusterRole" and all(d["kind"] in ("ClusterRole", "Role") for d in docs)
        verbs = {v for d in docs for r in d["rules"] for v in r["verbs"]}
        assert ("create" in verbs) == (mode == "--active")


def test_report_into_a_fifo_and_through_a_symlink(healthy, workdir):
    """--junit-xml names a FIFO a reader waits on, --json a symlink: both are written into, neither replaced
    (a rename over them, as root over /dev/stdout or /dev/null, would replace a device for the whole host).
    """
    import os
    import threading

    _, kcs = healthy
    fifo = workdir / "junit.pipe"
    os.mkfifo(fifo)
    (workdir / "real").mkdir()
    (workdir / "real" / "out.json").write_text("")
    (workdir / "link.json").symlink_to(workdir / "real" / "out.json")
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run = execute(["all", "--passive", "--cluster", f"east={kcs['east']}", "--junit-xml", str(fifo), "--json",
                   str(workdir / "link.json")], workdir, bound=30)
    reader.join(10)
    expect = Expect(0, stderr=r"reports: ", reports=False)
    obs = judge("report-into-fifo-and-symlink", "command line", "--junit-xml names a FIFO, --json a symlink", expect,
                [run], bound=30)
    assert obs.ok, obs.problems
    assert got and got[0].startswith(b"<?xml") and b"api-access" in got[0]
    assert fifo.is_fifo() and (workdir / "link.json").is_symlink()
    assert json.loads((workdir / "real" / "out.json").read_text())["results"]
