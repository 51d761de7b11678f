"""A tiny HTTP echo server: the target of connectivity and service probes, and the temporary echo service.

Answers every GET with a small JSON body naming the host, so a client can tell
which cluster answered. Runs until ``duration`` seconds pass (0: until killed).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._base import ProbeUsageError


class _Echo(BaseHTTPRequestHandler):
    server_version = "mcdiag-echo"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps(
            {"echo": "mcdiag", "host": socket.gethostname(), "pod": os.environ.get("POD_NAME"), "path": self.path}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.hits += 1  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


def http_serve(port: int = 8080, bind: str = "0.0.0.0", duration: float = 0.0, on_ready: Any = None) -> dict[str, Any]:
    """Serve until ``duration`` passes (0 = until interrupted); report how many requests came."""
    if not 0 < port < 65536:
        raise ProbeUsageError(f"port out of range: {port}")
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    try:
        server = Server((bind, port), _Echo)
    except OSError as exc:
        return {"probe": "serve", "ok": False, "reason": f"cannot listen on {bind}:{port}: {exc.strerror}", "port": port}
    server.hits = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    if on_ready:
        on_ready({"port": port, "bind": bind})
    start = time.monotonic()
    try:
        while duration <= 0 or time.monotonic() - start < duration:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return {
        "probe": "serve",
        "ok": True,
        "reason": "served",
        "port": port,
        "requests": server.hits,  # type: ignore[attr-defined]
        "duration_s": round(time.monotonic() - start, 3),
    }
