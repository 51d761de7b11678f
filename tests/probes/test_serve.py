"""The echo server probe answers HTTP on loopback and reports its hits."""

import threading
import time

from mcdiag.probes.http import http_get
from mcdiag.probes.serve import http_serve


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_and_counts():
    ready = threading.Event()
    out = {}
    port = _free_port()  # never a fixed port: tests run in parallel with each other and with other work
    t = threading.Thread(target=lambda: out.update(http_serve(port, bind="127.0.0.1", duration=3, on_ready=lambda i: ready.set())))
    t.start()
    assert ready.wait(20)
    got = http_get(f"http://127.0.0.1:{port}/hello", timeout=10)
    t.join(10)
    assert got["ok"] and got["status"] == 200
    assert out["ok"] and out["requests"] == 1


def test_serve_port_in_use_is_a_result():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        start = time.monotonic()
        out = http_serve(s.getsockname()[1], bind="127.0.0.1", duration=1)
        assert not out["ok"] and "cannot listen" in out["reason"]
        assert time.monotonic() - start < 1
    finally:
        s.close()
