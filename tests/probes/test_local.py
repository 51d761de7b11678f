"""http / tcp / ping probes in-process against servers on loopback."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time

import pytest

from mcdiag.probes import ProbeUsageError, http_get, latency, ping, tcp_connect


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/")
            self.end_headers()
            return
        if self.path == "/missing":
            self.send_error(404)
            return
        body = b"x" * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_ok(http_server):
    res = http_get(http_server + "/", timeout=2)
    assert res["ok"] and res["probe"] == "http" and res["reason"] == ""
    assert res["status"] == 200 and res["bytes"] == 1000
    assert res["ttfb_s"] <= res["total_s"]


def test_http_redirect_is_ok(http_server):
    res = http_get(http_server + "/redirect", timeout=2)
    assert res["ok"] and res["status"] == 302 and res["location"] == "/"


def test_http_404_fails(http_server):
    res = http_get(http_server + "/missing", timeout=2)
    assert not res["ok"] and res["status"] == 404 and res["outcome"] == "response"


def test_http_timeout(http_server):
    res = http_get(http_server + "/slow", timeout=0.4)
    assert not res["ok"] and res["outcome"] == "timeout"
    assert res["duration_s"] < 1.4


def test_http_refused():
    res = http_get(f"http://127.0.0.1:{free_port()}/", timeout=1)
    assert not res["ok"] and res["outcome"] == "refused"


def test_http_usage():
    with pytest.raises(ProbeUsageError):
        http_get("ftp://example.invalid/")
    with pytest.raises(ProbeUsageError):
        http_get("http://127.0.0.1/", timeout=0)


def test_tcp_connected_and_refused():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        res = tcp_connect("127.0.0.1", srv.getsockname()[1], timeout=1)
        assert res["ok"] and res["outcome"] == "connected" and res["connect_s"] >= 0
    res = tcp_connect("127.0.0.1", free_port(), timeout=1)
    assert not res["ok"] and res["outcome"] == "refused"
    assert "refused" in res["reason"]


def test_tcp_usage():
    with pytest.raises(ProbeUsageError):
        tcp_connect("127.0.0.1", 70000)
    with pytest.raises(ProbeUsageError):
        tcp_connect("127.0.0.1", 80, timeout=-1)


@pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP socket needs root here")
def test_ping_loopback():
    res = ping("127.0.0.1", count=2, interval=0.05, timeout=2)
    assert res["ok"] and res["received"] == 2 and res["method"] == "raw"
    res = latency("::1", count=3, interval=0.01, timeout=2)
    assert res["ok"] and res["received"] == 3 and res["stddev_ms"] is not None


def test_ping_usage():
    with pytest.raises(ProbeUsageError):
        ping("localhost")
    with pytest.raises(ProbeUsageError):
        ping("127.0.0.1", count=0)
