"""Fault matrix, interrupts and cleanup: Ctrl-C and SIGTERM at awkward moments, DELETEs that fail.

A signal must end the run within a second or two (the bound of each case is far
below what the hang would otherwise cost) and still write every report, with the
unfinished results ``error`` "interrupted". Probe objects that cannot be deleted
are named in every report, with the ``mcdiag cleanup --run-id`` command.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.faults import proxy as P
from tests.faults.harness import SIGINT, SIGTERM, Expect, execute, judge

STARTED = "mcdiag: checking"  # the run has started: stderr shows it
READING = "mcdiag: reading"  # the prefetch has started


def _exec_hang(folder, emu):
    kc = emu.kubeconfig_dict(context="west-ctx")
    kc["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "sleep",
                                       "args": ["600"]}}
    path = folder / "west-exec.kubeconfig"
    path.write_text(yaml.safe_dump(kc))
    return path


INTERRUPTED = Expect(1, {"api-access[west]": ("error", r"^interrupted$")}, notes=(r"^interrupted: \d+ of \d+ result",))
PREFETCH_INTERRUPTED = Expect(1, {"*[west]": ("error", r"^interrupted$"), "api-access[east]": ("pass", "answers")},
                              notes=(r"^interrupted: \d+ of \d+ result",))

CASES = [
    ("sigint-exec-plugin-hangs", "SIGINT while an exec credential plugin hangs (request timeout 60s)", "exec", None,
     [(STARTED, SIGINT)], INTERRUPTED),
    ("sigterm-exec-plugin-hangs", "SIGTERM while an exec credential plugin hangs", "exec", None,
     [(STARTED, SIGTERM)], INTERRUPTED),
    ("sigint-version-hangs", "SIGINT while /version hangs (the gate)", "proxy", r"^/version$",
     [(STARTED, SIGINT)], INTERRUPTED),
    ("sigterm-version-hangs", "SIGTERM while /version hangs (the gate)", "proxy", r"^/version$",
     [(STARTED, SIGTERM)], INTERRUPTED),
    ("sigint-list-hangs", "SIGINT while list pods hangs (the prefetch)", "proxy", r"^/api/v1/pods$",
     [(READING, SIGINT)], PREFETCH_INTERRUPTED),
    ("sigterm-list-hangs", "SIGTERM while list pods hangs (the prefetch)", "proxy", r"^/api/v1/pods$",
     [(READING, SIGTERM)], PREFETCH_INTERRUPTED),
    ("sigint-twice", "SIGINT, then SIGINT again 0.05s later, while /version hangs", "proxy", r"^/version$",
     [(STARTED, SIGINT), (0.05, SIGINT)], INTERRUPTED),
    ("sigint-then-sigterm", "SIGINT, then SIGTERM 0.1s later, while list pods hangs", "proxy", r"^/api/v1/pods$",
     [(READING, SIGINT), (0.1, SIGTERM)], PREFETCH_INTERRUPTED),
]


@pytest.mark.parametrize(("cid", "fault", "kind", "path", "signals", "expect"), CASES, ids=[c[0] for c in CASES])
def test_signal(cid, fault, kind, path, signals, expect, healthy, proxied, tmp_path, workdir):
    emus, kcs = healthy
    proxy, west = proxied
    if kind == "exec":
        west = _exec_hang(tmp_path, emus["west"])
    else:
        proxy.add(path, P.hang())
    argv = ["all", "--passive", "--cluster", f"east={kcs['east']}", "--cluster", f"west={west}", "--request-timeout", "60"]
    run = execute(argv, workdir, bound=20, signals=signals)
    obs = judge(cid, "interrupts", fault, expect, [run], bound=20, secrets=(emus["west"].token,))
    assert obs.ok, obs.problems
    assert json.loads((workdir / "reports" / "mcdiag.json").read_text())["interrupted"] is True


def test_sigterm_during_gather_still_saves(healthy, proxied, workdir):
    emus, kcs = healthy
    proxy, west = proxied
    proxy.add(r"^/api/v1/pods$", P.hang())
    run = execute(["gather", "--cluster", f"east={kcs['east']}", "--cluster", f"west={west}", "--request-timeout", "60",
                   "-o", "snap"], workdir, bound=20, signals=[(2.0, SIGTERM)])
    expect = Expect(1, stderr=r"interrupted: some checks did not finish", reports=False)
    obs = judge("sigterm-during-gather", "interrupts", "SIGTERM during `mcdiag gather` while list pods hangs", expect,
                [run], bound=20, secrets=(emus["west"].token,))
    assert obs.ok, obs.problems
    manifest = json.loads((workdir / "snap" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["clusters"]] == ["east", "west"]


# ---------------------------------------------------------------------------------------------
# Cleanup failures
# ---------------------------------------------------------------------------------------------
def test_cleanup_failures_are_in_every_report(emulate, workdir):
    """Probe pods are created and never start (no kubelet); every DELETE answers 500: every report says what is left."""
    from tests.conftest import PAIRS, pair_objects

    _, names, options = PAIRS["submariner"]
    clusters = emulate(pair_objects("submariner"), **options)
    for emu in clusters.emulators.values():
        emu.fail(r".", 500, "etcdserver: request timed out", method="DELETE")
    argv = ["run", "pod-connectivity", *clusters.args(*names), "--probe-start-timeout", "2", "--request-timeout", "2"]
    run = execute(argv, workdir, bound=60)
    expect = Expect(1, {"pod-connectivity[cluster->cluster1]": ("error", r"never started within 2s")},
                    notes=(r"cleanup: cluster: Pod mcdiag-\S+ not deleted: .*500", r"mcdiag cleanup --run-id [0-9a-f]+"))
    obs = judge("cleanup-delete-500", "cleanup", "active run; every DELETE answers 500", expect, [run], bound=60,
                secrets=[e.token for e in clusters.emulators.values()])
    assert obs.ok, obs.problems
    data = json.loads((workdir / "reports" / "mcdiag.json").read_text())
    run_id = re.search(r"--run-id ([0-9a-f]+)", " ".join(data["notes"])).group(1)
    assert any(run_id in p["metadata"]["name"] for e in clusters.emulators.values() for p in e.objects("Pod"))
    junit = ET.tostring(ET.parse(workdir / "reports" / "mcdiag-junit.xml").getroot(), encoding="unicode")
    html = (workdir / "reports" / "mcdiag.html").read_text()
    for text in (junit, html, run.err.decode()):  # JUnit, HTML and the terminal: each names what was left, and how
        assert f"mcdiag cleanup --run-id {run_id}" in text and "not deleted" in text
