"""udp probes without namespaces: payload decoding, argument checks, the socket method on loopback."""

from __future__ import annotations

import socket
import threading

import pytest

from mcdiag.probes import ProbeUsageError, new_marker, udp_listen, udp_send
from mcdiag.probes.udp import build_vxlan_payload, describe_payload


def test_describe_payload_plain_and_vxlan():
    assert describe_payload(b"xx MARK yy", b"MARK") == {"vxlan": False, "vni": None}
    assert describe_payload(b"nothing", b"MARK") is None
    data = build_vxlan_payload(b"MARK seq=0", 100, "10.0.0.1", "10.0.0.2", 1234, 4800)
    info = describe_payload(data, b"MARK")
    assert info["vxlan"] is True and info["vni"] == 100
    assert info["inner_src_ip"] == "10.0.0.1" and info["inner_dst_ip"] == "10.0.0.2"
    assert info["inner_dst_port"] == 4800 and info["inner_src_port"] == 1234


def test_usage_errors():
    with pytest.raises(ProbeUsageError):
        udp_send("not-an-ip", 1, "m")
    with pytest.raises(ProbeUsageError):
        udp_send("127.0.0.1", None, "m")
    with pytest.raises(ProbeUsageError):
        udp_send("127.0.0.1", 5, "m", vxlan_vni=2 ** 24)
    with pytest.raises(ProbeUsageError):
        udp_listen(0, "m")
    with pytest.raises(ProbeUsageError):
        udp_listen(5000, "")
    with pytest.raises(ProbeUsageError):
        udp_listen(5000, "m", method="carrier-pigeon")


def test_socket_method_on_loopback():
    marker = new_marker()
    ready = threading.Event()
    out = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def listen():
        out["res"] = udp_listen(port, marker, timeout=3, bind="127.0.0.1", method="socket",
                                ready=ready, linger=0.1)

    t = threading.Thread(target=listen)
    t.start()
    assert ready.wait(3)
    sent = udp_send("127.0.0.1", port, marker, count=1)
    t.join(5)
    assert sent["ok"], sent
    res = out["res"]
    assert res["ok"] and res["method"] == "socket", res
    assert res["src_ip"] == "127.0.0.1" and res["src_port"] == sent["src_port"]
    assert res["vxlan"] is False
