"""tcp / ping / latency / http between two namespaces a (10.250.0.1) and b (10.250.0.2)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (network namespaces)"),
]

B_IP = "10.250.0.2"


@pytest.fixture
def pair(lab):
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "10.250.0.1/30", b, "10.250.0.2/30")
    return a, b


def start_http_server(client, server, directory, port=8080):
    server.spawn(sys.executable, "-m", "http.server", str(port), "--bind", B_IP, "--directory", str(directory))
    # Wait until it accepts connections (our own server in our own namespace).
    for _ in range(50):
        rc, _, _ = client.probe("tcp", f"{B_IP}:{port}", "--timeout", "0.2")
        if rc == 0:
            return
    raise AssertionError("http.server did not start")


def test_tcp_connected_refused_timeout(pair, tmp_path):
    a, b = pair
    start_http_server(a, b, tmp_path)
    rc, res, _ = a.probe("tcp", f"{B_IP}:8080")
    assert rc == 0 and res["outcome"] == "connected" and res["connect_s"] >= 0
    rc, res, _ = a.probe("tcp", f"{B_IP}:8081", "--timeout", "1")
    assert rc == 1 and res["outcome"] == "refused"
    b.run("iptables", "-A", "INPUT", "-p", "tcp", "--dport", "8082", "-j", "DROP")
    rc, res, _ = a.probe("tcp", f"{B_IP}:8082", "--timeout", "0.5")
    assert rc == 1 and res["outcome"] == "timeout"
    assert "0.5s" in res["reason"]
    # HTTP to a port whose SYNs are dropped: the connect timeout speaks, not the whole exchange's.
    rc, res, _ = a.probe("http", f"http://{B_IP}:8082/", "--timeout", "5", "--connect-timeout", "0.5")
    assert rc == 1 and res["outcome"] == "timeout" and res["connect_s"] is None
    assert "no TCP connection" in res["reason"] and "within 0.5s" in res["reason"]


def test_http_in_namespace(pair, tmp_path):
    a, b = pair
    (tmp_path / "index.html").write_text("hello mcdiag")
    start_http_server(a, b, tmp_path)
    rc, res, _ = a.probe("http", f"http://{B_IP}:8080/")
    assert rc == 0 and res["ok"] and res["status"] == 200 and res["bytes"] == 12
    assert 0 <= res["connect_s"] <= res["ttfb_s"] <= res["total_s"]
    rc, res, _ = a.probe("http", f"http://{B_IP}:8080/missing")
    assert rc == 1 and res["status"] == 404 and "404" in res["reason"]


def test_ping_and_latency(pair):
    a, b = pair
    rc, res, _ = a.probe("ping", B_IP, "--count", "3", "--interval", "0.05")
    assert rc == 0 and res["sent"] == 3 and res["received"] == 3 and res["loss_pct"] == 0
    assert res["min_ms"] <= res["avg_ms"] <= res["max_ms"]
    rc, res, _ = a.probe("latency", B_IP, "--count", "5", "--interval", "0.02")
    assert rc == 0 and res["received"] == 5
    assert set(res) >= {"min_ms", "avg_ms", "max_ms", "stddev_ms", "loss_pct"}
    assert res["warmup_ms"] is not None  # the warm-up echo went first and was answered, not counted
    rc, res, _ = a.probe("latency", B_IP, "--count", "2", "--interval", "0.02", "--no-warmup")
    assert rc == 0 and res["received"] == 2 and res["warmup_ms"] is None
    b.run("iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP")
    rc, res, _ = a.probe("ping", B_IP, "--count", "2", "--interval", "0.05", "--timeout", "1")
    assert rc == 1 and res["received"] == 0 and res["loss_pct"] == 100
    assert "no ICMP echo reply" in res["reason"]
    # A path that answers no warm-up echo: the probe ends after the warm-up, without the series.
    rc, res, _ = a.probe("latency", B_IP, "--count", "5", "--interval", "0.02", "--timeout", "6", "--warmup-wait", "0.5")
    assert rc == 1 and res["received"] == 0 and res["warmup_ms"] is None
    assert res["warmup_sent"] == res["sent"] >= 2  # an echo every 0.2 s, all unanswered
    assert "no ICMP echo reply" in res["reason"] and "the series was not sent" in res["reason"]


def test_ping_reports_icmp_unreachable(pair):
    a, b = pair
    b.run("iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "REJECT",
          "--reject-with", "icmp-host-prohibited")
    rc, res, _ = a.probe("ping", B_IP, "--count", "1", "--timeout", "1")
    assert rc == 1
    assert any("prohibited" in e for e in res["icmp_errors"]), res
