"""A fault proxy: HTTPS on loopback in front of an API emulator, mangling the answers a rule matches.

The emulator answers like a real API server; the proxy turns some answers into
what a broken server, a bad proxy or a hostile network would send: a list as a
JSON array, a ``continue`` token that never ends, a body that trickles in,
100,000 levels of nesting, discovery with wrong types, 429 with ``Retry-After``,
503, 410 on a continue token, a reset connection, a hang. Everything else is
forwarded unchanged (with the client's token), so the rest of the run is real.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trustme
import yaml


@dataclass
class Request:
    """One request the proxy received."""

    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes


@dataclass
class Answer:
    """What to send back: status, headers and body (``None`` body: nothing, e.g. after a reset)."""

    status: int
    body: bytes | None = b""
    headers: dict[str, str] = field(default_factory=dict)


#: An action gets the request and a ``forward()`` that returns the emulator's answer; it returns an Answer,
#: or None when it has written (or refused to write) the answer itself through the handler.
Action = Callable[[Request, Callable[[], Answer], "Handler"], Answer | None]


@dataclass
class Rule:
    """Apply ``action`` to requests whose path matches ``path`` (re.search), ``times`` times (None: always)."""

    path: str
    action: Action
    method: str | None = "GET"
    times: int | None = None
    query: Callable[[dict[str, str]], bool] | None = None
    hits: int = 0

    def matches(self, req: Request) -> bool:
        if self.method and req.method != self.method:
            return False
        if not re.search(self.path, req.path):
            return False
        if self.query is not None and not self.query(req.query):
            return False
        return self.times is None or self.hits < self.times


class Handler(BaseHTTPRequestHandler):
    """Handles one proxied request."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _request(self) -> Request:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return Request(self.command, parts.path, dict(parse_qsl(parts.query)), self.headers, body)

    def _dispatch(self) -> None:
        req = self._request()
        proxy = self.server.proxy
        proxy.requests.append(req)
        rule = proxy.rule_for(req)

        def forward() -> Answer:
            return proxy.forward(req)

        answer = rule.action(req, forward, self) if rule else forward()
        if answer is not None:
            self.send(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch  # noqa: N815

    def send(self, answer: Answer) -> None:
        body = answer.body or b""
        self.send_response(answer.status)
        headers = {"Content-Type": "application/json", **answer.headers}
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            self.wfile.flush()

    def reset(self) -> None:
        """Close the connection with a TCP reset (no answer at all)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: FaultProxy, ctx: ssl.SSLContext):
        self.proxy = proxy
        self.ctx = ctx
        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up mid-answer are part of the game


class FaultProxy:
    """HTTPS on 127.0.0.1 in front of ``upstream`` (an ApiEmulator); ``rules`` decide what is mangled."""

    def __init__(self, upstream: Any, ca: trustme.CA | None = None):
        self.upstream = upstream
        self.ca = ca or trustme.CA()
        self.rules: list[Rule] = []
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        self._server = _Server(self, ctx)
        self._upstream_ctx = ssl.create_default_context(cadata=upstream.certificate_authority_pem.decode())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fault-proxy")

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def add(self, path: str, action: Action, **kwargs: Any) -> Rule:
        rule = Rule(path, action, **kwargs)
        self.rules.append(rule)
        return rule

    def rule_for(self, req: Request) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(req):
                    rule.hits += 1
                    return rule
        return None

    def forward(self, req: Request) -> Answer:
        """The emulator's answer to ``req``."""
        url = urlsplit(self.upstream.url)
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=self._upstream_ctx, timeout=30)
        query = "&".join(f"{k}={v}" for k, v in req.query.items())
        headers = {k: v for k, v in req.headers.items() if k.lower() in ("authorization", "accept", "content-type")}
        try:
            conn.request(req.method, req.path + (f"?{query}" if query else ""), body=req.body or None, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            ctype = resp.getheader("Content-Type") or "application/json"
            return Answer(resp.status, body, {"Content-Type": ctype})
        finally:
            conn.close()

    def kubeconfig(self, path: Path, name: str, token: str | None = None) -> Path:
        """A kubeconfig for the proxy (its CA, the emulator's token), context ``NAME-ctx``."""
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.ca.cert_pem.bytes()).decode(),
            }}],
            "users": [{"name": f"{name}-admin", "user": {"token": token or self.upstream.token}}],
            "contexts": [{"name": f"{name}-ctx", "context": {"cluster": name, "user": f"{name}-admin"}}],
            "current-context": f"{name}-ctx",
        }
        path.write_text(yaml.safe_dump(cfg))
        return path


# ---------------------------------------------------------------------------------------------
# Actions
# ---------------------------------------------------------------------------------------------
def status(code: int, headers: dict[str, str] | None = None, message: str = "injected") -> Action:
    """Answer with a Kubernetes Status of ``code``."""
    body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code})

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> Answer:
        return Answer(code, body.encode(), dict(headers or {}))

    return act


def raw(body: bytes | str, code: int = 200, content_type: str = "application/json") -> Action:
    """Answer ``body`` as is."""
    data = body.encode() if isinstance(body, str) else body

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> Answer:
        return Answer(code, data, {"Content-Type": content_type})

    return act


def mutate(fn: Callable[[Any], Any]) -> Action:
    """Forward, then answer ``fn(decoded JSON)`` (its return value, or the object changed in place)."""

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> Answer:
        answer = forward()
        data = json.loads(answer.body or b"{}")
        out = fn(data)
        return Answer(answer.status, json.dumps(data if out is None else out).encode(), answer.headers)

    return act


def replace_text(old: str, new: str) -> Action:
    """Forward, then replace ``old`` by ``new`` in the raw JSON text (to plant escapes such as lone surrogates)."""

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> Answer:
        answer = forward()
        return Answer(answer.status, (answer.body or b"").replace(old.encode(), new.encode()), answer.headers)

    return act


def as_array() -> Action:
    """A list answered as a bare JSON array of its items."""
    return mutate(lambda data: data.get("items") or [])


def deep(depth: int = 100_000) -> Action:
    """A body nested ``depth`` levels deep."""
    return raw('{"kind":"NodeList","items":' + "[" * depth + "]" * depth + "}")


def trickle(interval: float = 0.4, size: int = 4000) -> Action:
    """Headers at once, then the body one byte per ``interval`` (each read well under any timeout)."""

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> None:
        answer = forward()
        body = (answer.body or b"") + b" " * max(0, size - len(answer.body or b""))
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.flush()
        for i in range(len(body)):
            if h.server.proxy.stopping.wait(interval):
                return
            try:
                h.wfile.write(body[i:i + 1])
                h.wfile.flush()
            except OSError:
                return
        h.close_connection = True

    return act


def hang() -> Action:
    """Never answer (until the proxy stops)."""

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> None:
        h.server.proxy.stopping.wait(300)
        h.close_connection = True

    return act


def reset() -> Action:
    """Reset the connection without an answer."""

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> None:
        h.reset()

    return act


def truncate(keep: int = 40) -> Action:
    """Promise the whole body, send ``keep`` bytes of it, close."""

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> None:
        answer = forward()
        body = answer.body or b""
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body) + 1000))
        h.end_headers()
        h.wfile.write(body[:keep])
        h.wfile.flush()
        h.close_connection = True
        h.reset()

    return act


def delayed(seconds: float, then: Action | None = None) -> Action:
    """Wait, then forward (or apply ``then``)."""

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> Answer | None:
        time.sleep(seconds)
        return then(req, forward, h) if then else forward()

    return act


def endless_pages(same: bool = False) -> Action:
    """Every page says there is more: a fresh token each time (or always the same), the same items."""
    cached: dict[str, Any] = {}
    counter = [0]

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> Answer:
        if "data" not in cached:
            cached["data"] = json.loads(forward().body or b"{}")
        counter[0] += 1
        data = dict(cached["data"])
        data["metadata"] = {**(data.get("metadata") or {}), "continue": "same" if same else f"token-{counter[0]}"}
        return Answer(200, json.dumps(data).encode())

    return act


def paginate(per_page: int = 1, expire: int = 0) -> Action:
    """Serve a list in pages of ``per_page`` with the proxy's own continue tokens.

    The first ``expire`` requests that carry a continue token answer 410 Expired (-1: all of them), as after
    an etcd compaction.
    """
    state: dict[str, Any] = {"expire": expire}

    def act(req: Request, forward: Callable[[], Answer], h: Handler) -> Answer:
        token = req.query.get("continue")
        if token is None:
            state["data"] = json.loads(forward().body or b"{}")
            start = 0
        else:
            if state["expire"] != 0:
                state["expire"] -= 1 if state["expire"] > 0 else 0
                return status(410, message="The provided continue parameter is too old to display a consistent "
                                           "list result.")(req, forward, h)
            start = int(token.removeprefix("p"))
        items = state["data"].get("items") or []
        page = dict(state["data"])
        page["items"] = items[start:start + per_page]
        more = start + per_page < len(items)
        page["metadata"] = {**(page.get("metadata") or {}), **({"continue": f"p{start + per_page}"} if more else {})}
        page["metadata"].pop("continue", None) if not more else None
        return Answer(200, json.dumps(page).encode())

    return act
