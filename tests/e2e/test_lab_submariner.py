"""mcdiag against the real lab (Submariner provider): healthy baseline, every lab fault, pytest parity, hygiene.

One lab for the module: the Submariner guide's setup (kubeadm, Calico VXLAN with its API server).
The healthy ``mcdiag all`` in the default mode (no ``--service``: the peer's exported nginx and
mcdiag's echo control) is the baseline; each fault then runs ``mcdiag all`` again and the whole
verdict map is compared with the baseline: exactly the checks that own the fault (and the data-path
checks riding the broken hop) flip to ``fail``, nothing else moves, nothing is ``error``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import (
    ACTIVE,
    ECHO_OPTS,
    FWD,
    REV,
    RUN_OPTS,
    SUBMARINER_FAULTS,
    check_echo_run,
    cluster_args,
    make_lab,
    managed_objects,
    probe_processes,
    record_timing,
    run_fault,
    run_mcdiag,
    wait_clean,
    wait_tunnel,
)
from tests.e2e.conftest import (
    FAULTS as COMMON_FAULTS,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)")

FAULTS = {**COMMON_FAULTS, "block-vxlan": {"vxlan-firewall[cluster]", *COMMON_FAULTS["block-vxlan"]}, **SUBMARINER_FAULTS}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from make_lab(tmp_path_factory, "submariner")


@pytest.fixture(scope="module")
def baseline(lab, tmp_path_factory):
    """The healthy lab's ``mcdiag all`` in the default mode (every check, every report)."""
    run = run_mcdiag(["all", *cluster_args(lab), *ECHO_OPTS], tmp_path_factory.mktemp("healthy"))
    record_timing(lab.provider, "healthy", run, [k for k, v in run.verdicts().items() if v == "fail"])
    return run


def assert_clean(lab) -> None:
    objects, processes = wait_clean(lab)
    assert objects == {}, f"objects labelled managed-by=mcdiag left: {objects}"
    assert processes == [], f"probe processes left: {processes}"


def test_healthy_lab_passes_everything(lab, baseline):
    bad = {k: (s, baseline.result(k)["message"]) for k, s in baseline.verdicts().items() if s in ("fail", "error")}
    assert baseline.code == 0 and not bad, bad
    for r in baseline.report["results"]:
        if r["check"] in ACTIVE and r["status"] != "pass":
            # the only active skips: checks of the other provider
            assert r["status"] == "skip" and r["check"] == "wireguard-handshake" and "netmaker" in r["message"], r
        if r["status"] == "skip":
            assert r["message"], r
    for name in ("mcdiag.json", "mcdiag-junit.xml", "mcdiag.html"):
        assert any(p.name == name for p in baseline.report_dir.iterdir()), sorted(p.name for p in baseline.report_dir.iterdir())
    active = {k: s for k, s in baseline.verdicts().items() if k.split("[")[0] in ACTIVE}
    assert len(active) == 16 and list(active.values()).count("pass") == 14
    # the guide's prerequisites, read from the objects as the guide sets them
    assert baseline.result("calico-prereqs[cluster]")["status"] == "pass"
    assert "ConfigMap kube-system/kube-proxy" in baseline.result("kube-proxy-mode[cluster1]")["message"]
    check_echo_run(baseline, lab, [("cluster", "cluster1"), ("cluster1", "cluster")])
    assert_clean(lab)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_fails_exactly_its_checks(lab, baseline, fault, tmp_path):
    run = run_fault(lab, baseline, fault, FAULTS[fault], cluster_args(lab), tmp_path)
    if fault == "mtu-blackhole":
        for d in (FWD, REV):
            r = run.result(f"path-mtu[{d}]")
            mtu = r["details"]["mtu"]
            assert 1200 <= mtu < 1280 and str(mtu) in r["message"] and "black hole" in r["message"], r
            assert "MSS" in r["hint"] and str(mtu) in r["hint"]
    if fault == "block-tunnel":
        r = run.result(f"tunnel-firewall[{REV}]")
        assert "UDP/51821" in r["message"] and "cluster-gw" in r["message"] and "UDP/4490" not in r["message"]
        wait_tunnel(lab)
    if fault == "break-dns":
        dns = run.result(f"dns-clusterset[{FWD}]")
        assert "NXDOMAIN" in dns["message"] and "Lighthouse DNS" in dns["message"] and "broken hop" in dns["message"], dns
        assert "judged by IP only" in run.result(f"service-reachability[{FWD}]")["message"]
    if fault == "stop-service":
        http = run.result(f"service-reachability[{REV}]")
        assert "nginx-test/nginx" in http["message"] and "the echo control" in http["message"], http
        assert "answered (HTTP 200)" in http["message"] and "nginx-test/nginx itself" in http["hint"], http
    assert_clean(lab)


def test_pytest_plugin_gives_the_same_verdicts(lab, baseline, tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    names = lab.cluster_names
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "inter-cluster", "-n", "2", "--kubeconfig", str(lab.kubeconfig(names[0])),
         "--remote-kubeconfig", str(lab.kubeconfig(names[1])), "--mcdiag-service", "nginx-test/nginx",
         "--mcdiag-probe-start-timeout", "20", f"--mcdiag-report-dir={tmp_path / 'reports'}", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    report = json.loads((tmp_path / "reports" / "mcdiag.json").read_text())
    got = {f"{r['check']}[{'->'.join(r['clusters'])}]" if r["scope"] == "ordered-pair" else
           f"{r['check']}[{'<->'.join(r['clusters']) if r['scope'] == 'pair' else r['clusters'][0]}]": r["status"]
           for r in report["results"]}
    inter = {r["check"] for r in baseline.report["results"] if "inter-cluster" in r["tags"]}
    expected = {k: s for k, s in baseline.verdicts().items() if k.split("[")[0] in inter}
    assert got == expected, (proc.stdout[-3000:], proc.stderr[-2000:])
    assert any(k.startswith("pod-connectivity") for k in got)
    assert_clean(lab)


def test_temporary_echo_service(lab, tmp_path):
    """Without ``--service`` mcdiag exports its own echo service in each cluster, uses it and removes it.

    The lab's controllers give the Deployment a pod, the Service a ClusterIP and kube-proxy DNAT,
    and the ServiceExport a clusterset.local name in the peer's DNS; all of it goes with the run.
    """
    run = run_mcdiag(["run", "dns-clusterset", "service-reachability", *cluster_args(lab), *ECHO_OPTS], tmp_path)
    check_echo_run(run, lab, [("cluster", "cluster1"), ("cluster1", "cluster")])
    assert_clean(lab)


#: A run that is surely still running when the test stops it: the tunnel is blocked, so the probes that cross it
#: wait their whole --answer-timeout (a healthy run can end, cleanup included, before a signal lands).
HELD = ["--answer-timeout", "30"]


def test_sigkill_mid_run_then_cleanup(lab, tmp_path):
    args = cluster_args(lab)
    # No --service: the killed run also leaves its echo Deployment, Service and ServiceExport (and the
    # lab's DNAT rules and DNS names for them), which cleanup must take away too.
    lab.break_("block-tunnel", cluster="cluster")
    proc = subprocess.Popen([sys.executable, "-m", "mcdiag", "all", *args, *ECHO_OPTS, *HELD, "--report-dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def started() -> bool:
        found = [o for objs in managed_objects(lab).values() for o in objs]
        return any(o.startswith("pods/") for o in found) and any(o.startswith("deployments/") for o in found)

    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not started():
            time.sleep(0.2)
        assert started(), f"no probe pod and echo Deployment appeared: {managed_objects(lab)}"
        time.sleep(1.0)  # let a few more start, listeners included
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        lab.heal()
    assert managed_objects(lab), "the killed run left nothing to clean up: the test proves nothing"
    cp = subprocess.run([sys.executable, "-m", "mcdiag", "cleanup", *args], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert "deleted" in cp.stdout
    assert_clean(lab)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_cleans_up_after_itself(lab, tmp_path, sig):
    """Ctrl-C (or SIGTERM) mid-run: mcdiag deletes what it made and writes its reports; no `mcdiag cleanup` needed.

    The unfinished checks are ``error`` "interrupted" and the exit code is 1, as CHECKS.md says.
    """
    lab.break_("block-tunnel", cluster="cluster")
    proc = subprocess.Popen([sys.executable, "-m", "mcdiag", "all", *cluster_args(lab), *ECHO_OPTS, *HELD,
                             "--report-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not any(o.startswith("deployments/") for objs in managed_objects(lab).values()
                                                 for o in objs):
            time.sleep(0.2)
        assert managed_objects(lab), "nothing was created before the interrupt: the test proves nothing"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        lab.heal()
    assert proc.returncode == 1, (proc.returncode, err[-2000:])
    assert "deleting probe pods" in err, err[-2000:]
    report = json.loads((tmp_path / "mcdiag.json").read_text())
    assert report["interrupted"] is True
    assert any(r["status"] == "error" and "interrupted" in r["message"] for r in report["results"]), report["results"]
    assert (tmp_path / "mcdiag-junit.xml").exists() and (tmp_path / "mcdiag.html").exists()
    assert_clean(lab)


def test_passive_starts_no_pod(lab, tmp_path):
    before = lab.pods()
    run = run_mcdiag(["all", *cluster_args(lab), "--passive", *RUN_OPTS], tmp_path)
    assert run.code == 0
    assert not any(r["check"] in ACTIVE for r in run.report["results"])
    assert lab.pods() == before == {"cluster": [], "cluster1": []}
    assert managed_objects(lab) == {} and probe_processes() == []
    assert "probe pods" not in run.err


def test_default_mode_matches_the_golden_map(lab, tmp_path):
    """The README's own command (no --service) gives the verdict map kept in tests/golden."""
    from tests.conftest import GOLDEN

    run = run_mcdiag(["all", *cluster_args(lab)], tmp_path)
    assert run.verdicts() == GOLDEN["lab-submariner/healthy"]
    assert_clean(lab)
