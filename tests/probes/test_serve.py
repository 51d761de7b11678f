"""The echo server probe answers HTTP on loopback and reports its hits."""

import threading
import time

from mcdiag.probes.http import http_get
from mcdiag.probes.serve import http_serve


def test_serve_answers_and_counts():
    ready = threading.Event()
    out = {}
    t = threading.Thread(target=lambda: out.update(http_serve(18091, bind="127.0.0.1", duration=1.5, on_ready=lambda i: ready.set())))
    t.start()
    assert ready.wait(5)
    got = http_get("http://127.0.0.1:18091/hello", timeout=3)
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
