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
