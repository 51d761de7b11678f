"""The submariner lab, built once for the module: healthy paths, each fault and its heal (root)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from lab_helpers import path_matrix, probe, probe_env, udp_arrives, wait_matrix

from mcdiag.lab import FAULTS, Lab

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_lock):
    the_lab = Lab(tmp_path_factory.mktemp("lab"), "submariner")
    try:
        the_lab.up()
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="module")
def healthy(lab):
    """Probe the healthy path matrix (every path works) once."""
    return path_matrix(lab)


def _tunnel(lab, src: str, dst: str) -> bool:
    s, d = lab.cluster(src).gateway, lab.cluster(dst)
    return udp_arrives(s.netns, d.gateway.netns, d.gateway.public_ip, d.tunnel_port, d.gateway.wan_iface)


def test_healthy_paths(healthy):
    broken = sorted(k for k, ok in healthy.items() if not ok)
    assert not broken, f"broken in a healthy lab: {broken}"
    assert len(healthy) == 16


def test_tunnel_port_reachable_both_ways(lab):
    a, b = lab.cluster_names
    assert _tunnel(lab, a, b)
    assert _tunnel(lab, b, a)


def test_handshakes_recent(lab):
    for name in lab.cluster_names:
        c = lab.cluster(name)
        rc, res = probe(c.gateway.netns, "wg", "--iface", c.wg_iface, "--max-age", "180")
        assert rc == 0, res
        assert [p["endpoint"] for p in res["peers"]] == [f"{lab.peer(name).gateway.public_ip}:51821"]
    st = lab.status()
    assert all(ages for h in st["handshakes"].values() for ages in h["peers"].values())


def test_dns_answers_peer_service_ip(lab):
    a, b = lab.cluster_names
    for x, y in ((a, b), (b, a)):
        rc, res = probe(lab.node_netns(x, "worker"), "dns", "nginx.nginx-test.svc.clusterset.local",
                        "--server", lab.dns_ip(x))
        assert rc == 0 and res["answers"] == [lab.service_ip(y)], res
        rc, res = probe(lab.node_netns(x, "gateway"), "dns", "nginx.nginx-test.svc.cluster.local",
                        "--server", lab.dns_ip(x))
        assert res["answers"] == [lab.service_ip(x)], res


def _broken_by(fault: str, c: str, p: str) -> set[str]:
    """Paths (names of :func:`path_matrix`) that ``fault`` on cluster ``c`` (peer ``p``) must break."""
    both = {f"ping {c}.w1->{p}.w1", f"ping {p}.w1->{c}.w1", f"bigping {c}->{p}", f"bigping {p}->{c}",
            f"dns {c}->{p}", f"dns {p}->{c}", f"http {c}->{p}", f"http {p}->{c}", f"http {p}.gw->{c}"}
    return {
        # only what C's worker sends into the VXLAN towards C's gateway: its requests to the peer and its
        # replies to the peer; C's services live on C's gateway, C's worker reaches its own DNS over the LAN
        "block-vxlan": {f"ping {c}.w1->{p}.w1", f"ping {p}.w1->{c}.w1", f"bigping {c}->{p}", f"bigping {p}->{c}",
                        f"http {c}->{p}", f"vxlan {c}"},
        # everything crossing the tunnel
        "block-tunnel": both | {f"ping {c}.gw->{p}.gw", f"ping {p}.gw->{c}.gw", f"http {c}.gw->{p}"},
        "break-dns": {f"dns {c}->{p}"},
        "stop-service": {f"http {p}->{c}", f"http {p}.gw->{c}"},
        "mtu-blackhole": {f"bigping {c}->{p}", f"bigping {p}->{c}"},
        # only flows initiated by the peer towards C
        "drop-return": {f"ping {p}.w1->{c}.w1", f"ping {p}.gw->{c}.gw", f"bigping {p}->{c}", f"dns {p}->{c}",
                        f"http {p}->{c}", f"http {p}.gw->{c}"},
        # API objects (and CoreDNS reloaded without the block): only C's lookups of the peer's names
        "coredns-no-forward": {f"dns {c}->{p}"},
        "kube-proxy-ipvs": set(),
        "calico-ipip": set(),
    }[fault]


CASES = [("block-vxlan", 0), ("block-tunnel", 1), ("break-dns", 0), ("stop-service", 1), ("mtu-blackhole", 1),
         ("drop-return", 0), ("coredns-no-forward", 1), ("kube-proxy-ipvs", 0), ("calico-ipip", 1)]


def test_every_fault_has_a_case():
    assert sorted(f for f, _ in CASES) == sorted(FAULTS)


@pytest.mark.parametrize("fault,idx", CASES, ids=[f"{f}-{'AB'[i]}" for f, i in CASES])
def test_fault_breaks_exactly_its_paths_and_heals(lab, healthy, fault, idx):
    assert all(healthy.values())
    names = lab.cluster_names
    c, p = "AB"[idx], "AB"[1 - idx]
    rec = lab.break_(fault, names[idx])
    try:
        assert rec["fault"] == fault and rec["cluster"] == names[idx]
        assert [(f["fault"], f["cluster"]) for f in lab.status()["faults"]] == [(fault, names[idx])]
        expect = {k: k not in _broken_by(fault, c, p) for k in healthy}
        got = wait_matrix(lab, expect, timeout=10)
        assert {k for k, v in got.items() if not v} == {k for k, v in expect.items() if not v}
        if fault == "block-tunnel":  # only the direction towards the affected gateway is filtered
            assert not _tunnel(lab, names[1 - idx], names[idx])
            assert _tunnel(lab, names[idx], names[1 - idx])
    finally:
        healed = lab.heal()
    assert [r["fault"] for r in healed] == [fault]
    assert lab.status()["faults"] == []
    got = wait_matrix(lab, healthy, timeout=30)
    assert got == healthy, sorted(k for k, v in got.items() if not v)


@pytest.mark.parametrize("fault,path,field,word", [
    ("kube-proxy-ipvs", "/api/v1/namespaces/kube-system/configmaps/kube-proxy", "data", "mode: ipvs"),
    ("calico-ipip", "/apis/projectcalico.org/v3/ippools/default-ipv4-ippool", "spec", "'ipipMode': 'Always'"),
    ("coredns-no-forward", "/api/v1/namespaces/kube-system/configmaps/coredns", "data", None),
])
def test_api_faults_change_the_objects_and_heal_puts_them_back(lab, fault, path, field, word):
    from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster

    api = load_cluster(ClusterSpec(str(lab.kubeconfig("cluster1"))), 10.0)
    before = api.get(path)[field]
    lab.break_(fault, "cluster1")
    try:
        during = api.get(path)[field]
        assert during != before
        if word:
            assert word in str(during)
        else:
            assert "clusterset.local" in before["Corefile"] and "clusterset.local" not in during["Corefile"]
    finally:
        lab.heal()
    assert api.get(path)[field] == before


def test_api_faults_refuse_the_other_provider():
    from mcdiag.lab import LabError
    from mcdiag.lab.faults import apply
    from mcdiag.lab.topology import build_topology

    with pytest.raises(LabError, match="applies to the submariner lab"):
        apply(None, "calico-ipip", build_topology("netmaker").cluster("cluster"))


def test_mtu_probe_sees_the_smaller_path_mtu(lab):
    a, b = lab.cluster_names
    src = lab.node_netns(a, "worker")
    lab.break_("mtu-blackhole", b)
    try:
        rc, res = probe(src, "mtu", lab.pod_ip(b), "--timeout", "20")
        # 1280 on the WAN link minus WireGuard's 60 bytes of outer IP/UDP/header+tag overhead
        assert 1200 <= res["mtu"] < 1280, res
        assert res["icmp_frag_needed"] is False or res["next_hop_mtu"] != 1280, res  # the ICMP was suppressed
    finally:
        lab.heal()
    rc, res = probe(src, "mtu", lab.pod_ip(b), "--timeout", "20")
    assert rc == 0 and res["mtu"] == 1420, res


def test_break_twice_is_one_fault_and_unknown_fault_is_refused(lab):
    from mcdiag.lab import LabError

    lab.break_("break-dns")
    lab.break_("break-dns")
    try:
        assert len(lab.status()["faults"]) == 1
        with pytest.raises(LabError, match="unknown fault"):
            lab.break_("no-such-fault")
    finally:
        lab.heal()


def test_second_up_reports_running_lab(lab):
    st = lab.up()
    assert st["already_running"] is True and st["running"] is True
    cp = subprocess.run([sys.executable, "-m", "mcdiag.lab.cli", "lab", "up", "--dir", str(lab.dir)],
                        capture_output=True, text=True, env=probe_env(), timeout=60)
    assert cp.returncode == 0 and "already running" in cp.stdout + cp.stderr


def test_status_cli(lab):
    cp = subprocess.run([sys.executable, "-m", "mcdiag.lab.cli", "lab", "status", "--dir", str(lab.dir), "--json"],
                        capture_output=True, text=True, env=probe_env(), timeout=60)
    assert cp.returncode == 0, cp.stderr
    st = json.loads(cp.stdout)
    assert st["running"] and st["provider"] == "submariner"
    assert all(st["namespaces"].values()) and len(st["namespaces"]) == 7
    assert {k.split(":")[1] for k in st["processes"]} >= {"wireguard-go", "coredns", "exports", "nginx", "apiserver"}
    assert st["pods"] == {name: [] for name in lab.cluster_names}
    cp = subprocess.run([sys.executable, "-m", "mcdiag.lab.cli", "lab", "status", "--dir", str(lab.dir)],
                        capture_output=True, text=True, env=probe_env(), timeout=60)
    assert "latest handshake" in cp.stdout and "no faults" in cp.stdout


def test_no_route_out_of_the_lab(lab):
    """No namespace has a default route or a link to the root namespace."""
    for ns in lab.topology.namespaces:
        routes = lab.exec(ns, ["ip", "-4", "route", "show", "default"]).stdout
        assert routes.strip() == "", (ns, routes)
        links = lab.exec(ns, ["ip", "-o", "link", "show", "type", "veth"]).stdout
        for line in links.splitlines():  # every veth's peer lives in another lab namespace
            m = re.search(r"link-netns (\S+)", line)
            assert m and m.group(1) in lab.topology.namespaces, (ns, line)
    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    for name in ("to-cluster", "wan0", "vx-submariner", "sm-cluster"):
        assert f": {name}" not in root_links and f": {name}@" not in root_links


def test_kubeconfigs_serve_the_lab_objects(lab):
    st = lab.status()
    if not st["kubeconfigs"]:
        pytest.skip("; ".join(st["warnings"]) or "no API emulator")
    from kubernetes import client, config

    for name in lab.cluster_names:
        api = config.new_client_from_config(str(lab.kubeconfig(name)))
        nodes = client.CoreV1Api(api).list_node().items
        assert sorted(n.metadata.name for n in nodes) == sorted(n.name for n in lab.cluster(name).nodes)
        gws = client.CustomObjectsApi(api).list_namespaced_custom_object(
            "submariner.io", "v1", "submariner-operator", "gateways")["items"]
        conn = gws[0]["status"]["connections"][0]
        assert conn["status"] == "connected" and conn["usingIP"] == lab.peer(name).gateway.public_ip
        svc = client.CoreV1Api(api).read_namespaced_service("nginx", "nginx-test")
        assert svc.spec.cluster_ip == lab.service_ip(name)
