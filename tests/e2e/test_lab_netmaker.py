"""mcdiag against the real lab with the Netmaker provider: healthy baseline, every lab fault, the echo service.

The Netmaker lab has no Submariner cluster id, so the clusters are named on the command line. Its
netclients are deployed with netmak8s's current manifests (only TOKEN: the network is in the token).
Runs are in the default mode (no ``--service``): the peer's services that servicex publishes, and
mcdiag's echo control.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import (
    ACTIVE,
    ECHO_OPTS,
    FAULTS,
    FWD,
    REV,
    check_echo_run,
    echo_entry,
    make_lab,
    record_timing,
    run_fault,
    run_mcdiag,
    wait_clean,
    wait_tunnel,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)")

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from make_lab(tmp_path_factory, "netmaker")


def names(lab) -> list[str]:
    return [a for c in lab.cluster_names for a in ("--cluster", f"{c}={lab.kubeconfig(c)}")]


@pytest.fixture(scope="module")
def baseline(lab, tmp_path_factory):
    run = run_mcdiag(["all", *names(lab), *ECHO_OPTS], tmp_path_factory.mktemp("healthy"))
    record_timing(lab.provider, "healthy", run, [k for k, v in run.verdicts().items() if v == "fail"])
    return run


def test_healthy_netmaker_lab_passes(lab, baseline):
    bad = {k: (s, baseline.result(k)["message"]) for k, s in baseline.verdicts().items() if s in ("fail", "error")}
    assert baseline.code == 0 and not bad, bad
    active = {k: s for k, s in baseline.verdicts().items() if k.split("[")[0] in ACTIVE}
    assert active.pop("vxlan-firewall[cluster]") == active.pop("vxlan-firewall[cluster1]") == "skip"
    assert set(active.values()) == {"pass"} and len(active) == 14, active
    tunnel = baseline.result(f"tunnel-firewall[{FWD}]")["details"]
    assert tunnel["ports"][0]["port"] == 51821 and tunnel["to_ip"] == lab.gateway_ip("cluster1")  # ExternalIP
    assert baseline.result(f"dns-clusterset[{FWD}]")["details"]["name"] == "nginx.nginx-test.cloud-k3s"
    dns = baseline.result("coredns-forwarding[cluster]")["details"]
    assert dns["network"] == "dc1-k3s" and dns["peer_networks"] == ["cloud-k3s"]  # read from the access tokens
    check_echo_run(baseline, lab, [("cluster", "cluster1"), ("cluster1", "cluster")])
    assert {p.name for p in baseline.report_dir.iterdir()} >= {"mcdiag.json", "mcdiag-junit.xml", "mcdiag.html"}
    objects, processes = wait_clean(lab)
    assert objects == {} and processes == []


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "block-tunnel"])  # that one: below
def test_fault_fails_exactly_its_checks(lab, baseline, fault, tmp_path):
    run = run_fault(lab, baseline, fault, FAULTS[fault], names(lab), tmp_path)
    if fault == "break-dns":
        dns = run.result(f"dns-clusterset[{FWD}]")
        assert "NXDOMAIN" in dns["message"] and "Netmaker DNS" in dns["message"] and "broken hop" in dns["message"], dns
    if fault == "stop-service":
        http = run.result(f"service-reachability[{REV}]")
        assert "nginx-test/nginx" in http["message"] and "the echo control" in http["message"], http
    objects, processes = wait_clean(lab)
    assert objects == {} and processes == []


def test_blocked_wireguard_port(lab, baseline, tmp_path):
    run = run_fault(lab, baseline, "block-tunnel", FAULTS["block-tunnel"], names(lab), tmp_path)
    assert "UDP/51821 (WireGuard)" in run.result(f"tunnel-firewall[{REV}]")["message"]
    wait_tunnel(lab)
    objects, processes = wait_clean(lab)
    assert objects == {} and processes == []


def test_temporary_echo_service(lab, tmp_path):
    """Without ``--service``: the echo service (no ServiceExport with Netmaker) is found as SVC.NS.NETWORK."""
    run = run_mcdiag(["run", "dns-clusterset", "service-reachability", *names(lab), *ECHO_OPTS], tmp_path)
    check_echo_run(run, lab, [("cluster", "cluster1"), ("cluster1", "cluster")])
    network = {"cluster": lab.cluster("cluster1").network, "cluster1": lab.cluster("cluster").network}
    for a, net in network.items():
        echo = echo_entry(run.result(f"dns-clusterset[{a}->{'cluster1' if a == 'cluster' else 'cluster'}]"))
        assert echo["name"].endswith(f".mcdiag-probes.{net}"), echo
    objects, processes = wait_clean(lab)
    assert objects == {} and processes == []


def test_default_mode_matches_the_golden_map(lab, tmp_path):
    """The README's own command (no --service, clusters named by context) gives the map kept in tests/golden."""
    from tests.conftest import GOLDEN
    from tests.e2e.conftest import cluster_args

    run = run_mcdiag(["all", *cluster_args(lab)], tmp_path)
    assert run.verdicts() == GOLDEN["lab-netmaker/healthy"]
