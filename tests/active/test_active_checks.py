"""Active checks end to end on emulated clusters whose probe pods run on this host (loopback).

Runs ``mcdiag run ...`` in-process; the kubelet runs each probe pod as a process bound to its
cluster's loopback address. Covers pass/fail/skip/error per check, pods that never start,
cleanup (also when a check raises) and ``--passive``.
"""

from __future__ import annotations

import os

import pytest

ACTIVE = ["vxlan-firewall", "tunnel-firewall", "wireguard-handshake", "pod-connectivity", "dns-clusterset",
          "service-reachability", "path-mtu", "latency"]
FAST = ("--probe-start-timeout", "5", "--jobs", "16")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="probes sniff and send raw ICMP: needs root")


def run(mcdiag, p, *ids: str, extra: tuple[str, ...] = ("--service", "nginx-test/nginx")):
    return mcdiag("run", *(ids or ACTIVE), *p.args(), *FAST, *extra)


def test_healthy_submariner_pair_passes(mcdiag, pair):
    p = pair("submariner")
    r = run(mcdiag, p)
    v = r.verdicts()
    assert v.pop("wireguard-handshake[east]") == "skip"
    assert v.pop("wireguard-handshake[west]") == "skip"
    assert set(v.values()) == {"pass"}, {k: (s, r.result(*k[:-1].split("[")).get("message")) for k, s in v.items() if s != "pass"}
    assert not p.leftovers()
    assert not p.running()


def fake_wg(tmp_path, age: int = 5):
    """A ``wg`` on PATH that reports one peer that handshook ``age`` seconds ago.

    The wg probe keeps only interfaces that exist in its network namespace (wireguard-go's sockets
    are host-wide), so the fake names its interface after one every host has: lo.
    """
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    wg = bindir / "wg"
    wg.write_text(
        "#!/bin/sh\n"
        "now=$(date +%s)\n"
        "printf 'lo\\t(hidden)\\tPUBKEYA=\\t51821\\toff\\n'\n"
        f"printf 'lo\\tPUBKEYB=\\t(none)\\t127.0.0.3:51821\\t10.44.0.0/16\\t%s\\t100\\t200\\t20\\n' $((now-{age}))\n"
    )
    wg.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}"}


def test_healthy_netmaker_pair_passes(mcdiag, pair, tmp_path):
    p = pair("netmaker", env=fake_wg(tmp_path))
    r = run(mcdiag, p)
    v = r.verdicts()
    assert v.pop("vxlan-firewall[east]") == "skip" and v.pop("vxlan-firewall[west]") == "skip"
    assert set(v.values()) == {"pass"}, {k: s for k, s in v.items() if s != "pass"}
    assert r.result("tunnel-firewall", "east->west")["details"]["ports"][0]["port"] == 51821
    assert r.result("dns-clusterset", "east->west")["details"]["name"] == "nginx.nginx-test.cloud-k3s"
    assert not p.leftovers() and not p.running()


def test_stale_wireguard_peer_fails(mcdiag, pair, tmp_path):
    p = pair("netmaker", env=fake_wg(tmp_path, age=600))
    r = run(mcdiag, p, "wireguard-handshake")
    assert r.verdicts() == {"wireguard-handshake[east]": "fail", "wireguard-handshake[west]": "fail"}
    assert r.result("wireguard-handshake", "east")["hint"]


@pytest.mark.parametrize("mode,word", [("nxdomain", "NXDOMAIN"), ("silent", "timeout"), ("nodata", "empty answer"),
                                       ("127.0.0.9", "not to west's")])
def test_dns_failures_fail_dns_clusterset_only(mcdiag, pair, mode, word):
    p = pair("submariner")
    p.dns["east"].mode["nginx.nginx-test.svc.clusterset.local"] = mode
    r = run(mcdiag, p, "dns-clusterset", "service-reachability")
    assert r.verdicts() == {
        "dns-clusterset[east->west]": "fail", "dns-clusterset[west->east]": "pass",
        "service-reachability[east->west]": "pass" if mode != "127.0.0.9" else "fail",
        "service-reachability[west->east]": "pass",
    }
    assert word in r.result("dns-clusterset", "east->west")["message"]
    if mode != "127.0.0.9":
        assert "judged by IP only" in r.result("service-reachability", "east->west")["message"]


def test_stopped_service_fails_service_reachability_of_that_direction(mcdiag, pair):
    p = pair("submariner")
    p.nginx["west"].stop()
    r = run(mcdiag, p, "dns-clusterset", "service-reachability")
    assert r.verdicts() == {"dns-clusterset[east->west]": "pass", "dns-clusterset[west->east]": "pass",
                            "service-reachability[east->west]": "fail", "service-reachability[west->east]": "pass"}
    assert "refused" in r.result("service-reachability", "east->west")["message"]


def test_latency_warns_above_max_rtt(mcdiag, pair):
    p = pair("submariner")
    r = run(mcdiag, p, "latency", extra=("--max-rtt", "0.000001"))
    assert set(r.verdicts().values()) == {"warn"}
    assert r.code == 0


def test_single_node_cluster_skips_vxlan(mcdiag, pair):
    p = pair("submariner", nodes=1)
    r = run(mcdiag, p, "vxlan-firewall", "pod-connectivity")
    assert r.verdicts() == {"vxlan-firewall[east]": "skip", "vxlan-firewall[west]": "skip",
                            "pod-connectivity[east->west]": "pass", "pod-connectivity[west->east]": "pass"}
    assert "single-node" in r.result("vxlan-firewall", "east")["message"]
    assert "single node" in r.result("pod-connectivity", "east->west")["details"]["note"]


def test_probe_image_that_cannot_be_pulled_is_an_error(mcdiag, pair):
    p = pair("submariner")
    r = run(mcdiag, p, extra=("--service", "nginx-test/nginx", "--image", "registry.example/busybox:1", "--probe-start-timeout", "2"))
    v = r.verdicts()
    assert {k: s for k, s in v.items() if not k.startswith("wireguard-handshake")} == {
        k: "error" for k in v if not k.startswith("wireguard-handshake")}
    assert all("ErrImagePull" in x["message"] for x in r.json["results"] if x["status"] == "error")
    assert r.code == 1
    assert not p.leftovers() and not p.running()


def test_temporary_echo_service_is_created_and_removed(mcdiag, pair):
    p = pair("submariner")
    seen: list[str] = []
    p.emulated["west"].on_create(lambda o: seen.append(o["kind"]))
    r = run(mcdiag, p, "dns-clusterset", "service-reachability", extra=("--probe-start-timeout", "2"))
    assert set(r.verdicts().values()) == {"error"}
    assert "never became available" in r.result("dns-clusterset", "east->west")["message"]
    assert {"Deployment", "Service", "ServiceExport"} <= set(seen)
    assert seen.count("Deployment") == 1  # one echo service per cluster per run, shared by both checks
    assert not p.leftovers()


def test_passive_starts_nothing(mcdiag, pair):
    p = pair("submariner")
    for name in p.names:
        p.emulated[name].clear_requests()
    r = mcdiag("all", *p.args(), "--passive", "--service", "nginx-test/nginx")
    assert all(x["check"] not in ACTIVE for x in r.json["results"])
    r = run(mcdiag, p, "latency", "vxlan-firewall", extra=("--passive",))
    for name in p.names:
        assert p.emulated[name].writes() == []
    assert not p.running()


def test_cleanup_after_a_check_raises(mcdiag, pair, monkeypatch):
    from mcdiag.checks import paths

    def explode(self, ctx, probes):
        probes.target(ctx.b.name, f"{ctx.b.name}-gw")
        probes.echo_service(ctx.b.name)
        raise RuntimeError("boom")

    monkeypatch.setattr(paths.Latency, "probe", explode)
    p = pair("submariner")
    created: list[str] = []
    for name in p.names:
        p.emulated[name].on_create(lambda o: created.append(o["kind"]))
    r = run(mcdiag, p, "latency", extra=("--probe-start-timeout", "2"))
    assert set(r.verdicts().values()) == {"error"}
    assert "boom" in r.result("latency", "east->west")["message"]
    assert "Pod" in created and "Deployment" in created
    assert not p.leftovers() and not p.running()


@pytest.mark.parametrize("provider", ["submariner", "netmaker"])
def test_cluster_dns_compared_with_the_zone_owner(mcdiag, pair, provider, tmp_path):
    """East's cluster DNS loses the name, the zone's owner still knows it: the broken hop is east's cluster DNS."""
    p = pair(provider, owners=True, env=fake_wg(tmp_path) if provider == "netmaker" else None)
    name = "nginx.nginx-test.svc.clusterset.local" if provider == "submariner" else "nginx.nginx-test.cloud-k3s"
    p.dns["east"].mode[name] = "nxdomain"
    r = run(mcdiag, p, "dns-clusterset")
    assert r.verdicts() == {"dns-clusterset[east->west]": "fail", "dns-clusterset[west->east]": "pass"}
    res = r.result("dns-clusterset", "east->west")
    owner = "Lighthouse DNS" if provider == "submariner" else "Netmaker DNS"
    assert "NXDOMAIN" in res["message"] and owner in res["message"] and "broken hop is east's cluster DNS" in res["message"], res
    assert "coredns-forwarding" in res["hint"]
    nginx = next(s for s in res["details"]["services"] if s["service"] == "nginx-test/nginx")
    assert nginx["owner"]["rcode_class"] == "answer" and nginx["rcode_class"] == "nxdomain"
    # asked of both at once, then of east's cluster DNS once more (a name may reach the owner between two questions)
    assert p.owner["east"].queries.count(name) == 1 and p.dns["east"].queries.count(name) == 2
    if provider == "netmaker":
        assert res["docs"].startswith("https://nm-k8s"), res["docs"]
    p.owner["east"].mode[name] = "silent"
    r = run(mcdiag, p, "dns-clusterset")
    res = r.result("dns-clusterset", "east->west")
    assert res["status"] == "fail" and "broken hop is the zone's owner" in res["message"], res
