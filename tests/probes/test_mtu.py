"""path_mtu across a—r—b with the r–b link MTU lowered to 1400.

r itself generates the ICMP fragmentation-needed (it is the router whose
egress MTU is too small), so that ICMP leaves r through its OUTPUT chain, not
FORWARD: the blackhole test drops it in r's OUTPUT (and FORWARD, for ICMP
from routers further along).
"""

from __future__ import annotations

import os
import shutil

import pytest

from mcdiag.probes import ProbeUsageError, path_mtu

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (network namespaces)"),
]

B_IP = "10.250.2.2"


def test_icmp_frag_needed_gives_mtu(lab):
    a, _r, _b = lab.line3(rb_mtu=1400)
    rc, res, err = a.probe("mtu", B_IP, "--probe-timeout", "0.3", "--timeout", "8")
    assert rc == 0, (res, err)
    assert res["ok"] and res["mtu"] == 1400
    assert res["icmp_frag_needed"] is True and res["next_hop_mtu"] == 1400
    assert res["blackhole"] is False


def test_blackhole_when_frag_needed_is_dropped(lab):
    a, r, _b = lab.line3(rb_mtu=1400)
    for chain in ("OUTPUT", "FORWARD"):
        r.run("iptables", "-A", chain, "-p", "icmp", "--icmp-type", "fragmentation-needed", "-j", "DROP")
    rc, res, err = a.probe("mtu", B_IP, "--probe-timeout", "0.25", "--timeout", "10")
    assert rc == 1, (res, err)
    assert res["ok"] is False and res["blackhole"] is True
    assert res["icmp_frag_needed"] is False
    assert 1390 <= res["mtu"] <= 1400
    assert "blackhole" in res["reason"]


def test_full_path_without_bottleneck(lab):
    a, _r, _b = lab.line3()
    rc, res, _ = a.probe("mtu", B_IP, "--probe-timeout", "0.3", "--hi", "1500")
    assert rc == 0 and res["mtu"] == 1500 and res["blackhole"] is False


def test_no_reply_at_all(lab):
    a, _r, b = lab.line3()
    b.run("iptables", "-A", "INPUT", "-p", "icmp", "-j", "DROP")
    rc, res, _ = a.probe("mtu", B_IP, "--probe-timeout", "0.2", "--timeout", "2")
    assert rc == 1 and res["mtu"] is None
    assert "no ICMP echo reply" in res["reason"]


def test_usage_errors():
    with pytest.raises(ProbeUsageError):
        path_mtu("::1")
    with pytest.raises(ProbeUsageError):
        path_mtu("10.0.0.1", lo=2000, hi=1000)
    with pytest.raises(ProbeUsageError):
        path_mtu("nope")
