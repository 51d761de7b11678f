"""udp-listen / udp-send across a three-namespace line a—r—b.

Layout: a (10.250.1.1) — r (router, 10.250.1.2 / 10.250.2.1) — b (10.250.2.2).
The listener sniffs in b. Sniffing (AF_PACKET) sees a datagram before
netfilter runs, so a DROP in b's raw PREROUTING does NOT hide it from the
listener (tested below). To make a datagram vanish before the sniffer the
tests drop it in r's FORWARD chain, as a firewall between clusters would, or
in the sender's OUTPUT chain (then sendto() fails with EPERM and udp-send
itself reports the failure).
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from mcdiag.probes import new_marker

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (network namespaces)"),
]

B_IP = "10.250.2.2"


#: Seconds a listener that expects a datagram waits: generous, since it returns at the first match, and a busy
#: machine may take seconds to start the sender's Python (a short timeout here made CI flaky under load).
RECEIVE = "30"


def listen_and_send(lab, a, b, listen_args, send_args, timeout=RECEIVE, send_ok=True):
    listener = b.probe_background("udp-listen", "--timeout", timeout, *listen_args)
    event = lab.wait_for_event(listener, "listening")
    rc_send, sent, err = a.probe("udp-send", *send_args)
    if send_ok:
        assert rc_send == 0, (sent, err)
        assert sent["ok"] and sent["sent"] == sent["count"]
    else:
        assert rc_send == 1 and not sent["ok"], (sent, err)
    rc, got = lab.finish_background(listener)
    return event, sent, rc, got


# --------------------------------------------------------------------------- namespaces

def test_plain_datagram_reports_source(lab):
    a, _r, b = lab.line3()
    marker = new_marker()
    event, sent, rc, got = listen_and_send(
        lab, a, b, ["--port", "4801", "--marker", marker],
        ["--to", f"{B_IP}:4801", "--marker", marker, "--src-port", "40001", "--count", "2"])
    assert event["method"] == "sniff"
    assert rc == 0 and got["ok"], got
    assert got["method"] == "sniff"
    assert got["src_ip"] == "10.250.1.1" and got["src_port"] == 40001
    assert got["dst_ip"] == B_IP and got["dst_port"] == 4801
    assert got["vxlan"] is False and got["vni"] is None
    assert got["matches"] == 2
    assert sent["src_ip"] == "10.250.1.1"


def test_snat_on_router_is_visible_and_raw_drop_does_not_hide(lab):
    a, r, b = lab.line3()
    r.run("iptables", "-t", "nat", "-A", "POSTROUTING", "-d", B_IP, "-j", "SNAT", "--to-source", "10.250.2.1")
    # The sniffer runs before netfilter: a DROP in the receiver's raw table does not hide the datagram.
    b.run("iptables", "-t", "raw", "-A", "PREROUTING", "-p", "udp", "--dport", "4801", "-j", "DROP")
    marker = new_marker()
    _, _, rc, got = listen_and_send(lab, a, b, ["--port", "4801", "--marker", marker],
                                    ["--to", f"{B_IP}:4801", "--marker", marker, "--count", "1"])
    assert rc == 0 and got["ok"], got
    assert got["src_ip"] == "10.250.2.1"  # SNAT by r


@pytest.mark.parametrize("where", ["router-forward", "sender-output"])
def test_drop_before_listener_sees_nothing(lab, where):
    a, r, b = lab.line3()
    ns, chain = (r, "FORWARD") if where == "router-forward" else (a, "OUTPUT")
    ns.run("iptables", "-A", chain, "-p", "udp", "--dport", "4801", "-j", "DROP")
    marker = new_marker()
    # A DROP in the sender's own OUTPUT chain makes sendto() fail with EPERM: the sender reports it.
    _, sent, rc, got = listen_and_send(lab, a, b, ["--port", "4801", "--marker", marker],
                                       ["--to", f"{B_IP}:4801", "--marker", marker, "--count", "2"],
                                       timeout="1.5", send_ok=where == "router-forward")
    if where == "sender-output":
        assert sent["sent"] == 0 and "not permitted" in sent["reason"]
    assert rc == 1 and not got["ok"]
    assert got["matches"] == 0
    assert marker in got["reason"] and "UDP/4801" in got["reason"]


def test_vxlan_to_kernel_owned_port(lab):
    a, _r, b = lab.line3()
    # A kernel VXLAN device owns UDP/4800 in b, like Submariner's vx-submariner.
    b.run("ip", "link", "add", "vx-sm", "type", "vxlan", "id", "100", "dstport", "4800",
          "local", B_IP, "nolearning")
    b.run("ip", "addr", "add", "240.100.0.2/16", "dev", "vx-sm")
    b.run("ip", "link", "set", "vx-sm", "up")
    marker = new_marker()
    # Two listeners: the outer datagram on UDP/4800 (any interface), and the inner
    # datagram the kernel decapsulates onto vx-sm.
    inner = b.probe_background("udp-listen", "--timeout", RECEIVE, "--port", "5555", "--marker", marker,
                               "--iface", "vx-sm")
    lab.wait_for_event(inner, "listening")
    _, sent, rc, got = listen_and_send(
        lab, a, b, ["--port", "4800", "--marker", marker],
        ["--to", B_IP, "--marker", marker, "--vxlan-vni", "100", "--inner-src", "240.99.0.1",
         "--inner-dst", "240.100.0.2", "--inner-port", "5555", "--count", "1"])
    assert sent["port"] == 4800 and sent["vxlan"] and sent["vni"] == 100
    assert rc == 0 and got["ok"], got
    assert got["vxlan"] is True and got["vni"] == 100
    assert got["src_ip"] == "10.250.1.1" and got["dst_port"] == 4800
    assert got["inner_src_ip"] == "240.99.0.1" and got["inner_dst_ip"] == "240.100.0.2"
    assert got["inner_dst_port"] == 5555
    rc, got = lab.finish_background(inner)
    assert rc == 0 and got["ok"], got
    assert got["iface"] == "vx-sm" and got["listen_iface"] == "vx-sm"
    assert got["vxlan"] is False and got["src_ip"] == "240.99.0.1" and got["dst_port"] == 5555

    # A plain UDP socket cannot take the kernel-owned port: the socket method says so.
    rc, res, _ = b.probe("udp-listen", "--port", "4800", "--marker", marker, "--method", "socket",
                         "--timeout", "1")
    assert rc == 1 and res["method"] == "socket"
    assert "cannot bind" in res["reason"]


def test_socket_fallback_in_namespace(lab):
    a, _r, b = lab.line3()
    marker = new_marker()
    event, _, rc, got = listen_and_send(lab, a, b, ["--port", "4802", "--marker", marker, "--method", "socket"],
                                        ["--to", f"{B_IP}:4802", "--marker", marker, "--count", "1"])
    assert event["method"] == "socket"
    assert rc == 0 and got["ok"] and got["method"] == "socket"
    assert got["src_ip"] == "10.250.1.1"


def test_listener_survives_interfaces_coming_and_going(lab):
    """Pods come and go on a busy node: veths appear and vanish while listeners start and wait.

    The listener captures on one socket for the whole namespace, so churn cannot stop it from starting.
    """
    a, _r, b = lab.line3()
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            name = f"churn{i % 4}"
            b.run("ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p", check=False)
            b.run("ip", "link", "set", name, "up", check=False)
            b.run("ip", "link", "del", name, check=False)
            i += 1

    t = threading.Thread(target=churn, daemon=True)
    t.start()
    try:
        for _ in range(8):
            marker = new_marker()
            _, _, rc, got = listen_and_send(lab, a, b, ["--port", "4801", "--marker", marker],
                                            ["--to", f"{B_IP}:4801", "--marker", marker, "--count", "1"])
            assert rc == 0 and got["ok"] and got["method"] == "sniff", got
            assert got["sniffed_ifaces"] == "all" and got["iface"] == f"mt{lab.tag}2b", got
    finally:
        stop.set()
        t.join(10)


def test_listener_sees_an_interface_created_after_it_started(lab):
    a, r, b = lab.line3()
    marker = new_marker()
    listener = b.probe_background("udp-listen", "--timeout", RECEIVE, "--port", "4801", "--marker", marker)
    lab.wait_for_event(listener, "listening")
    a_if, b_if = lab.link(r, "10.250.3.1/30", b, "10.250.3.2/30")  # a new path into b, after the listener
    a.run("ip", "route", "add", "10.250.3.0/30", "via", "10.250.1.2")
    b.run("ip", "route", "replace", "10.250.1.0/30", "via", "10.250.3.1")
    rc_send, sent, err = a.probe("udp-send", "--to", "10.250.3.2:4801", "--marker", marker, "--count", "1")
    assert rc_send == 0, (sent, err)
    rc, got = lab.finish_background(listener)
    assert rc == 0 and got["ok"] and got["iface"] == b_if and got["dst_ip"] == "10.250.3.2", got
