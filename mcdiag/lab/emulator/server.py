"""HTTPS server side of the API emulator: :class:`ApiEmulator`.

See the package docstring for the overall picture.  Requests are answered in
this order: ``hang`` (read the request, never answer), ``fail()`` rules,
authentication (401), discovery / health endpoints, resource routing (404),
``forbid()`` rules (403), then the operation itself.
"""

from __future__ import annotations

import base64
import binascii
import copy
import fnmatch
import json
import logging
import re
import secrets
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import trustme
import yaml

from .printers import table
from .selectors import SelectorError, parse_field_selector, parse_label_selector
from .store import (
    BUILTIN_RESOURCES,
    CRD_KIND,
    ApiError,
    JsonPatchError,
    ObjectStore,
    ResourceType,
    json_patch,
    merge_patch,
    not_found,
    status_object,
)

__all__ = ["ApiEmulator", "RequestRecord", "refused_url"]

log = logging.getLogger("mcdiag.lab.emulator")

DEFAULT_USERNAME = "system:serviceaccount:default:mcdiag"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

_NOT_SERVED = "the server could not find the requested resource"
_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)
# Built-in resources whose DELETE answers with the deleted object rather than a Status.
_DELETE_RETURNS_OBJECT = {("", "pods"), ("", "namespaces"), ("", "services")}


def refused_url(host: str = "127.0.0.1") -> str:
    """Return an ``https://`` URL on which nothing listens, so connecting is refused.

    Binds a socket to an ephemeral port, reads the port and closes the socket.
    (A stopped :class:`ApiEmulator` gives the same: its ``url`` refuses connections.)
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return f"https://{_url_host(host)}:{port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator received (also 401/403/404 ones; ``status`` 0 when it hung)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    user_agent: str
    user: str | None = None
    body: Any = None
    content_type: str | None = None
    #: The ``Accept`` header (``application/json;as=PartialObjectMetadataList;...`` for metadata only).
    accept: str | None = None
    #: Bytes of the response body sent.
    size: int = 0


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any
    raw_body: bytes
    user: str | None = None

    def json_body(self) -> Any:
        if not self.raw_body:
            return None
        try:
            return json.loads(self.raw_body)
        except ValueError:
            try:
                return yaml.safe_load(self.raw_body)
            except yaml.YAMLError as e:
                raise ApiError(400, "BadRequest", f"couldn't decode the request body: {e}") from None


@dataclass
class _ForbidRule:
    verb: str
    resource: str
    group: str
    namespace: str | None
    user: str | None

    def matches(self, user: str | None, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return (
            fnmatch.fnmatchcase(verb, self.verb)
            and fnmatch.fnmatchcase(resource, self.resource)
            and fnmatch.fnmatchcase(group, self.group)
            and (self.namespace is None or self.namespace == namespace)
            and (self.user is None or self.user == user)
        )


@dataclass
class _FailRule:
    pattern: re.Pattern[str]
    status: int
    message: str
    method: str | None
    times: int | None


@dataclass
class _Response:
    status: int
    body: Any  # dict -> JSON, bytes -> JSON already encoded, str -> text/plain
    content_type: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple, emulator: ApiEmulator, ssl_context: ssl.SSLContext, family: int):
        self.address_family = family
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (socket.getfqdn), which can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:
        # TLS handshake in the per-connection thread, so a slow client cannot block accept().
        try:
            request.settimeout(10)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (OSError, ssl.SSLError) as e:
            log.debug("%s: TLS handshake with %s failed: %s", self.emulator.name, client_address, e)
            request.close()
            return
        with self.connections_lock:
            self.connections.add(tls)
        try:
            super().process_request_thread(tls, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(tls)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s: error serving %s", self.emulator.name, client_address, exc_info=True)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as Go's net/http (kube-apiserver) sets: the status line, headers and body go out
    # in separate writes, and with Nagle each answer waited ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "mcdiag-emulator"
    sys_version = ""
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("%s: %s", self.server.emulator.name, format % args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        emu = self.server.emulator
        split = urlsplit(self.path)
        path = unquote(split.path) or "/"
        if len(path) > 1:
            path = path.rstrip("/")
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        req = _Request(self.command, path, query, self.headers, self._read_body())
        user_agent = self.headers.get("User-Agent", "")
        if emu.hang:
            emu._record(req, 0, user_agent)
            emu._stop_event.wait()
            self.close_connection = True
            return
        try:
            resp = emu._handle(req)
        except ApiError as e:
            resp = _Response(e.code, e.status())
        except Exception as e:  # a bug in the emulator: answer like a broken apiserver would
            log.exception("%s: internal error for %s %s", emu.name, self.command, self.path)
            resp = _Response(500, status_object(500, "InternalError", f"emulator error: {e}"))
        if isinstance(resp.body, (dict, list)):
            payload = json.dumps(resp.body).encode()
            ctype = resp.content_type or "application/json"
        elif isinstance(resp.body, bytes):
            payload = resp.body
            ctype = resp.content_type or "application/json"
        else:
            payload = str(resp.body).encode()
            ctype = resp.content_type or "text/plain; charset=utf-8"
        # Recorded before the answer goes out: a client that has its answer finds the request in
        # the log (recorded after, a fast client could look before the line was there).
        emu._record(req, resp.status, user_agent, len(payload))
        self.send_response(resp.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", secrets.token_hex(16))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


def _version_info(version: str, override: Mapping[str, Any] | None) -> dict[str, str]:
    m = re.match(r"^v?(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"cannot parse Kubernetes version {version!r}")
    info = {
        "major": m.group(1),
        "minor": m.group(2),
        "gitVersion": version,
        "gitCommit": "6813625b7cd706db5bc7388921be03071e1a492d",
        "gitTreeState": "clean",
        "buildDate": "2024-03-15T00:00:00Z",
        "goVersion": "go1.21.8",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
    info.update(override or {})
    return info


class ApiEmulator:
    """An emulated kube-apiserver over real HTTPS, serving objects from memory.

    ``objects`` are loaded at construction (see :func:`load_objects`); ``token``
    is the bearer token of ``username`` (random when None); ``version`` is the
    gitVersion served at ``/version`` and decides version-gated built-ins
    (networking.k8s.io ``servicecidrs``/``ipaddresses``: v1beta1 from 1.31, v1
    from 1.33); ``version_info`` overrides fields of ``/version`` (e.g.
    ``{"minor": "18+"}``).  ``san_ips`` adds IP addresses or host names to the
    server certificate besides 127.0.0.1, ::1, localhost and ``host``.
    ``extra_groups`` declares API groups served without CRDs (aggregated APIs)::

        [{"group": "projectcalico.org", "version": "v3",
          "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}]
    """

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]] | None = None,
        name: str = "emulator",
        version: str = "v1.29.3",
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        username: str = DEFAULT_USERNAME,
        version_info: Mapping[str, Any] | None = None,
        san_ips: Iterable[str] = (),
        extra_groups: Iterable[Mapping[str, Any]] | None = None,
    ):
        self.name = name
        self.version_info = _version_info(version, version_info)
        minor = int(re.match(r"\d+", str(self.version_info["minor"])).group(0))  # type: ignore[union-attr]
        self.store = ObjectStore(name, minor, extra_groups or ())
        self.token = token or secrets.token_urlsafe(32)
        self.username = username
        self.host = host
        self._port = port
        self.hang = False
        #: How lists asked for in the ``Table`` form are answered: ``"serve"`` (as kube-apiserver),
        #: ``"ignore"`` (whole objects, as a proxy that drops the ``as=`` parameter) or ``"refuse"`` (406).
        self.tables = "serve"
        #: RBAC allow-list: ``authorize(user, verb, group, resource, namespace) -> bool`` (``resource`` may be
        #: ``plural/subresource``); False answers 403. None: every authenticated request is allowed.
        self.authorize: Callable[[str | None, str, str, str, str | None], bool] | None = None
        self._extra_tokens: dict[str, str] = {}
        self._forbid_rules: list[_ForbidRule] = []
        self._fail_rules: list[_FailRule] = []
        self._rules_lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._requests_lock = threading.Lock()
        self._request_hooks: list[Callable[[RequestRecord], Any]] = []
        self._pod_logs: dict[tuple[str, str, str | None], str] = {}
        self._compacted_rv = 0
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        identities = ["127.0.0.1", "::1", "localhost"]
        for extra in [host, *san_ips]:
            if extra and extra not in ("0.0.0.0", "::") and extra not in identities:
                identities.append(extra)
        self._ca = trustme.CA(organization_name=f"mcdiag emulator {name}")
        self._cert = self._ca.issue_cert(*identities, common_name=f"kube-apiserver-{name}")
        if objects:
            self.add_all(objects)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> ApiEmulator:
        """Listen and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError(f"emulator {self.name} already started")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cert.configure_cert(ctx)
        ctx.set_alpn_protocols(["http/1.1"])
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = _Server((self.host, self._port), self, ctx, family)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"mcdiag-emulator-{self.name}",
            daemon=True,
        )
        self._thread.start()
        log.debug("emulator %s serving at %s", self.name, self.url)
        return self

    def stop(self) -> None:
        """Stop serving: release hung requests, close the listener and open connections."""
        self._stop_event.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ApiEmulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Listening port (after :meth:`start`)."""
        if not self._port:
            raise RuntimeError("emulator not started: no port yet")
        return self._port

    @property
    def url(self) -> str:
        """``https://HOST:PORT`` (a wildcard bind address is advertised as 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else "::1" if self.host == "::" else self.host
        return f"https://{_url_host(host)}:{self.port}"

    @property
    def certificate_authority_pem(self) -> bytes:
        """PEM of the CA that signed the server certificate."""
        return self._ca.cert_pem.bytes()

    # -- kubeconfig ----------------------------------------------------------------------
    def kubeconfig_dict(
        self,
        context: str | None = None,
        cluster_name: str | None = None,
        user: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
    ) -> dict:
        """Return the kubeconfig :meth:`kubeconfig` writes, as a dict."""
        context = context or f"{self.name}-ctx"
        cluster_name = cluster_name or self.name
        user = user or f"{self.name}-admin"
        ctx: dict[str, Any] = {"cluster": cluster_name, "user": user}
        if namespace:
            ctx["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(
                            self.certificate_authority_pem
                        ).decode(),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }

    def kubeconfig(
        self,
        path: str | Path,
        context: str | None = None,
        cluster_name: str | None = None,
        user: str | None = None,
        token: str | None = None,
        *,
        namespace: str | None = None,
        merge: bool = False,
    ) -> Path:
        """Write a kubeconfig for this emulator and return its path.

        Defaults: context ``NAME-ctx``, cluster ``NAME``, user ``NAME-admin``,
        the emulator's token (pass another ``token`` to get a kubeconfig that is
        answered 401).  With ``merge=True`` an existing file keeps its other
        clusters/users/contexts (same-named entries are replaced) and its
        current-context, so several emulators can share one kubeconfig.
        """
        path = Path(path)
        cfg = self.kubeconfig_dict(context, cluster_name, user, token, namespace)
        if merge and path.exists():
            old = yaml.safe_load(path.read_text()) or {}
            for section in ("clusters", "users", "contexts"):
                names = {e["name"] for e in cfg[section]}
                cfg[section] = [e for e in old.get(section) or [] if e.get("name") not in names] + cfg[
                    section
                ]
            if old.get("current-context"):
                cfg["current-context"] = old["current-context"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    # -- users and fault injection ----------------------------------------------------------
    def add_user(self, username: str, token: str | None = None) -> str:
        """Accept another bearer token, authenticating as ``username``; returns the token."""
        token = token or secrets.token_urlsafe(32)
        self._extra_tokens[token] = username
        return token

    def forbid(
        self, verb: str, resource: str, group: str = "", namespace: str | None = None, user: str | None = None
    ) -> None:
        """Answer matching requests with 403 Forbidden, as RBAC would.

        ``verb`` (get, list, watch, create, update, patch, delete, deletecollection),
        ``resource`` (plural, or ``plural/subresource``) and ``group`` are shell-style
        patterns (``"*"`` matches all); ``namespace=None`` matches every namespace and
        the cluster scope; ``user=None`` matches every user.
        """
        with self._rules_lock:
            self._forbid_rules.append(_ForbidRule(verb, resource, group, namespace, user))

    def fail(
        self,
        path_regex: str,
        status: int = 500,
        message: str | None = None,
        *,
        method: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer requests whose path matches ``path_regex`` (re.search) with a Status of ``status``.

        ``method`` restricts it to one HTTP method; ``times`` to the next N matching requests.
        Checked before authentication, like a failing server or proxy in front.
        """
        reason = _REASONS.get(status, "InternalError" if status >= 500 else "BadRequest")
        message = message or f"emulated failure ({status} {reason})"
        with self._rules_lock:
            self._fail_rules.append(
                _FailRule(re.compile(path_regex), status, message, method.upper() if method else None, times)
            )

    def reset_faults(self) -> None:
        """Remove all forbid() and fail() rules and stop hanging."""
        with self._rules_lock:
            self._forbid_rules.clear()
            self._fail_rules.clear()
        self.hang = False
        #: How lists asked for in the ``Table`` form are answered: ``"serve"`` (as kube-apiserver),
        #: ``"ignore"`` (whole objects, as a proxy that drops the ``as=`` parameter) or ``"refuse"`` (406).
        self.tables = "serve"

    def expire_continue_tokens(self) -> None:
        """Make every continue token issued so far answer 410 Expired (as after an etcd compaction)."""
        self._compacted_rv = self.store.bump_resource_version()

    # -- request log -------------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        """Snapshot of the requests received so far, oldest first."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        with self._requests_lock:
            self._requests.clear()

    def on_request(self, callback: Callable[[RequestRecord], Any]) -> Callable[[RequestRecord], Any]:
        """Call ``callback(record)`` after each request is answered (request logs of benchmarks)."""
        with self._requests_lock:
            self._request_hooks.append(callback)
        return callback

    def writes(self) -> list[RequestRecord]:
        """Return the requests with method POST, PUT, PATCH or DELETE."""
        return [r for r in self.requests if r.method in WRITE_METHODS]

    def _record(self, req: _Request, status: int, user_agent: str, size: int = 0) -> None:
        body = None
        if req.raw_body:
            try:
                body = json.loads(req.raw_body)
            except ValueError:
                body = req.raw_body.decode("utf-8", "replace")
        rec = RequestRecord(
            req.method,
            req.path,
            dict(req.query),
            status,
            user_agent,
            req.user,
            body,
            req.headers.get("Content-Type"),
            req.headers.get("Accept"),
            size,
        )
        with self._requests_lock:
            self._requests.append(rec)
            for callback in self._request_hooks:
                try:
                    callback(rec)
                except Exception:
                    log.exception("emulator on_request callback %r failed", callback)

    # -- object access for tests and the lab ----------------------------------------------
    def on_create(self, callback: Callable[[dict], Any]) -> Callable[[dict], Any]:
        """Call ``callback(obj)`` after each object is created (API or add()); usable as decorator."""
        self.store.hooks.create.append(callback)
        return callback

    def on_update(self, callback: Callable[[dict], Any]) -> Callable[[dict], Any]:
        """Call ``callback(obj)`` after each update (PUT, PATCH, status, add() of an existing object)."""
        self.store.hooks.update.append(callback)
        return callback

    def on_delete(self, callback: Callable[[dict], Any]) -> Callable[[dict], Any]:
        """Call ``callback(obj)`` after each object is deleted (also objects of a deleted namespace)."""
        self.store.hooks.delete.append(callback)
        return callback

    def add(self, obj: Mapping[str, Any]) -> dict:
        """Insert or replace an object as given (defaults uid/resourceVersion/creationTimestamp)."""
        event, stored = self.store.put(obj)
        self.store.hooks.fire(event, [stored])
        return stored

    def add_all(self, objs: Iterable[Mapping[str, Any]]) -> list[dict]:
        """Add several objects; CRDs and namespaces first."""
        objs = list(objs)

        def rank(o: Mapping[str, Any]) -> int:
            if o.get("kind") == CRD_KIND:
                return 0
            return 1 if o.get("kind") == "Namespace" else 2

        return [self.add(o) for o in sorted(objs, key=rank)]

    def add_generated(self, objs: Iterable[dict]) -> int:
        """Store generated objects as they are, without copies or hooks (see :mod:`.generate`); returns the count.

        The objects may share nested parts; the emulator never changes a stored object's
        nested parts in place. For big clusters: 150,000 pods load in seconds.
        """
        return self.store.put_generated(objs)

    def _locate(
        self, api_version: str, kind_or_plural: str, namespace: str | None
    ) -> tuple[str, str, str | None]:
        group, kind, rt = self.store.resolve(api_version, kind_or_plural)
        if rt is not None:
            namespace = (namespace or "default") if rt.namespaced else None
        return group, kind, namespace

    def get_object(
        self, api_version: str, kind_or_plural: str, name: str, namespace: str | None = None
    ) -> dict | None:
        """Return a copy of a stored object, or None (``namespace`` defaults to "default" for namespaced kinds)."""
        group, kind, namespace = self._locate(api_version, kind_or_plural, namespace)
        with self.store.lock:
            obj = self.store.get(group, kind, namespace, name)
            return copy.deepcopy(obj) if obj is not None else None

    def delete_object(
        self, api_version: str, kind_or_plural: str, name: str, namespace: str | None = None
    ) -> dict | None:
        """Delete an object (and a namespace's contents / a CRD's resources); returns it or None."""
        group, kind, namespace = self._locate(api_version, kind_or_plural, namespace)
        deleted = self.store.remove(group, kind, namespace, name)
        deleted = copy.deepcopy(deleted)
        self.store.hooks.fire("delete", deleted)
        return deleted[-1] if deleted else None

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[dict]:
        """Return copies of stored objects, optionally of one kind (kind or plural) and namespace."""
        kinds: set[str] | None = None
        if kind is not None:
            kinds = {kind}
            reg = self.store.registry()
            kinds |= {rt.kind for rt in reg.by_gvr.values() if rt.plural == kind}
        with self.store.lock:
            return [
                copy.deepcopy(o)
                for o in self.store.list(namespace=namespace)
                if kinds is None or o.get("kind") in kinds
            ]

    def update_status(
        self,
        api_version: str,
        kind_or_plural: str,
        name: str,
        namespace: str | None,
        status: Mapping[str, Any],
    ) -> dict:
        """Set ``.status`` of an object from outside (e.g. a lab kubelet); KeyError if missing."""
        group, kind, namespace = self._locate(api_version, kind_or_plural, namespace)
        obj = self.store.set_status(group, kind, namespace, name, dict(status))
        self.store.hooks.fire("update", [obj])
        return obj

    def set_pod_log(self, namespace: str, name: str, text: str, container: str | None = None) -> None:
        """Text served at ``/api/v1/namespaces/NS/pods/NAME/log`` (optionally per container)."""
        self._pod_logs[(namespace, name, container)] = text

    # -- request handling ----------------------------------------------------------------------
    def _user_for(self, token: str) -> str | None:
        if secrets.compare_digest(token, self.token):
            return self.username
        return self._extra_tokens.get(token)

    def _handle(self, req: _Request) -> _Response:
        with self._rules_lock:
            for rule in self._fail_rules:
                if (rule.method is None or rule.method == req.method) and rule.pattern.search(req.path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._fail_rules.remove(rule)
                    raise ApiError(rule.status, _REASONS.get(rule.status, "InternalError"), rule.message)

        auth = req.headers.get("Authorization", "")
        public = any(req.path == p or req.path.startswith(p + "/") for p in PUBLIC_PATHS)
        if auth:
            scheme, _, token = auth.partition(" ")
            req.user = self._user_for(token.strip()) if scheme.lower() == "bearer" else None
            if req.user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
        elif public:
            req.user = "system:anonymous"
        else:
            raise ApiError(401, "Unauthorized", "Unauthorized")

        path = req.path
        if path == "/version":
            return _Response(200, dict(self.version_info))
        if public:
            return _Response(200, "ok")
        if req.method not in ("GET", "HEAD") and not (path.startswith("/api/") or path.startswith("/apis/")):
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        segs = [s for s in path.split("/") if s]
        if not segs:
            return _Response(200, {"paths": self._root_paths()})
        if segs[0] == "api":
            if len(segs) == 1:
                return _Response(
                    200,
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": self.url.removeprefix("https://")}
                        ],
                    },
                )
            if segs[1] != "v1":
                raise _not_served()
            return self._group_version(req, "", "v1", segs[2:])
        if segs[0] == "apis":
            registry = self.store.registry()
            if len(segs) == 1:
                return _Response(
                    200,
                    {
                        "kind": "APIGroupList",
                        "apiVersion": "v1",
                        "groups": [self._group_entry(g) for g in registry.group_versions if g],
                    },
                )
            group = segs[1]
            if not group or group not in registry.group_versions:
                raise _not_served()
            if len(segs) == 2:
                return _Response(200, {"kind": "APIGroup", "apiVersion": "v1", **self._group_entry(group)})
            return self._group_version(req, group, segs[2], segs[3:])
        raise _not_served()

    def _root_paths(self) -> list[str]:
        registry = self.store.registry()
        paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
        for group, versions in registry.group_versions.items():
            if group:
                paths.append(f"/apis/{group}")
                paths.extend(f"/apis/{group}/{v}" for v in versions)
        return sorted(paths)

    def _group_entry(self, group: str) -> dict:
        versions = self.store.registry().group_versions[group]
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _group_version(self, req: _Request, group: str, version: str, rest: list[str]) -> _Response:
        registry = self.store.registry()
        if version not in registry.group_versions.get(group, []):
            raise _not_served()
        if not rest:
            if req.method not in ("GET", "HEAD"):
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            resources = []
            for rt in registry.resources(group, version):
                resources.extend(rt.discovery())
            return _Response(
                200,
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": resources,
                },
            )
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = registry.lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        rt = registry.lookup(group, version, rest[0])
        if rt is None or len(rest) > 3 or (rt.namespaced and namespace is None and len(rest) > 1):
            raise _not_served()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in rt.subresources:
            raise _not_served()
        return self._resource(req, rt, namespace, name, sub)

    def _verb(self, req: _Request, rt: ResourceType, name: str | None) -> str:
        method = req.method
        if method in ("GET", "HEAD"):
            if name is not None:
                return "get"
            return "watch" if req.query.get("watch") in ("true", "1") else "list"
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
        if method == "DELETE":
            verb = "delete" if name is not None else "deletecollection"
        if verb is None:
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        return verb

    def _check_forbidden(
        self,
        user: str | None,
        verb: str,
        rt: ResourceType,
        sub: str | None,
        namespace: str | None,
        name: str | None,
    ) -> None:
        reason = self._forbidden_reason(
            user, verb, rt.group, rt.plural + (f"/{sub}" if sub else ""), namespace, name, rt.group_resource
        )
        if reason:
            raise ApiError(403, "Forbidden", reason, {"name": name, "group": rt.group, "kind": rt.plural})

    def _forbidden_reason(
        self,
        user: str | None,
        verb: str,
        group: str,
        resource: str,
        namespace: str | None,
        name: str | None,
        group_resource: str,
    ) -> str | None:
        with self._rules_lock:
            hit = any(r.matches(user, verb, group, resource, namespace) for r in self._forbid_rules)
        if not hit and self.authorize is not None:
            hit = not self.authorize(user, verb, group, resource, namespace)
        if not hit:
            return None
        subject = f'{group_resource} "{name}"' if name else group_resource
        scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        return (
            f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
            f'in API group "{group}"{scope}'
        )

    def _served(self, obj: Mapping[str, Any], rt: ResourceType) -> dict:
        out = copy.deepcopy(dict(obj))
        out["apiVersion"], out["kind"] = rt.api_version, rt.kind
        return out

    def _resource(
        self, req: _Request, rt: ResourceType, namespace: str | None, name: str | None, sub: str | None
    ) -> _Response:
        verb = self._verb(req, rt, name)
        if sub is None and verb not in rt.verbs:
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        self._check_forbidden(req.user, verb, rt, sub, namespace, name)
        if verb == "watch":
            raise ApiError(405, "MethodNotAllowed", "watch is not supported by the mcdiag API emulator")
        dry_run = req.query.get("dryRun") == "All"
        store = self.store
        if verb == "list":
            return self._list(req, rt, namespace)
        if verb == "get":
            with store.lock:
                obj = store.get(rt.group, rt.kind, namespace, name or "")
                if obj is None:
                    raise not_found(rt, name or "")
                obj = self._served(obj, rt)
            if sub == "log":
                return self._pod_log(req, namespace or "", name or "")
            if sub == "scale":
                return _Response(200, _scale_of(obj))
            if _wants_partial(req.headers.get("Accept"), listing=False):
                return _Response(200, {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
            return _Response(200, obj)
        if verb == "create":
            if name is not None or (rt.namespaced and namespace is None):
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            body = req.json_body()
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body must be a JSON object")
            if rt.group == "authorization.k8s.io" and rt.kind == "SelfSubjectAccessReview":
                return self._access_review(req, rt, body)
            body_ns = (body.get("metadata") or {}).get("namespace")
            if rt.namespaced and body_ns and body_ns != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            if body.get("kind") and body["kind"] != rt.kind:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"the kind in the request body ({body['kind']}) does not match the resource ({rt.kind})",
                )
            created = store.create(rt, copy.deepcopy(body), namespace, dry_run=dry_run)
            created = self._served(created, rt)
            if not dry_run:
                store.hooks.fire("create", [created])
            return _Response(201, created)
        if verb in ("update", "patch"):
            if sub == "log":
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            body = req.json_body()
            with store.lock:
                cur = store.get(rt.group, rt.kind, namespace, name or "")
                if cur is None:
                    raise not_found(rt, name or "")
                cur = self._served(cur, rt)
                if sub == "scale":
                    new_scale = _apply_patch(req, _scale_of(cur), body) if verb == "patch" else body
                    if not isinstance(new_scale, dict):
                        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
                    replicas = (new_scale.get("spec") or {}).get("replicas")
                    new = copy.deepcopy(cur)
                    new["metadata"].pop("resourceVersion", None)
                    new.setdefault("spec", {})["replicas"] = replicas
                    _, stored = store.replace(rt, namespace, name or "", new, dry_run=dry_run)
                    result: dict = _scale_of(self._served(stored, rt))
                else:
                    new = _apply_patch(req, cur, body) if verb == "patch" else body
                    if not isinstance(new, dict):
                        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
                    _, stored = store.replace(
                        rt,
                        namespace,
                        name or "",
                        copy.deepcopy(new),
                        subresource="status" if sub == "status" else None,
                        dry_run=dry_run,
                    )
                    result = self._served(stored, rt)
            if not dry_run:
                store.hooks.fire("update", [self._served(stored, rt)])
            return _Response(200, result)
        if verb == "delete":
            if sub is not None:
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            if dry_run:
                with store.lock:
                    obj = store.get(rt.group, rt.kind, namespace, name or "")
                    if obj is None:
                        raise not_found(rt, name or "")
                    return _Response(200, self._served(obj, rt))
            deleted = store.remove(rt.group, rt.kind, namespace, name or "")
            if not deleted:
                raise not_found(rt, name or "")
            store.hooks.fire("delete", deleted)
            obj = deleted[-1]
            if (rt.group, rt.plural) in _DELETE_RETURNS_OBJECT or not _is_builtin(rt):
                return _Response(200, self._served(obj, rt))
            return _Response(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        k: v
                        for k, v in {
                            "name": name,
                            "group": rt.group,
                            "kind": rt.plural,
                            "uid": obj["metadata"].get("uid"),
                        }.items()
                        if v
                    },
                },
            )
        if verb == "deletecollection":
            matches = self._select(req, rt, namespace)
            deleted_items = []
            if not dry_run:
                for obj in matches:
                    meta = obj["metadata"]
                    removed = store.remove(rt.group, rt.kind, meta.get("namespace"), meta["name"])
                    store.hooks.fire("delete", removed)
                    if removed:
                        deleted_items.append(self._served(removed[-1], rt))
            else:
                deleted_items = [self._served(o, rt) for o in matches]
            return _Response(
                200,
                {
                    "kind": rt.list_kind_name,
                    "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": str(store.resource_version)},
                    "items": deleted_items,
                },
            )
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    def _select(
        self, req: _Request, rt: ResourceType, namespace: str | None, *, copies: bool = True
    ) -> list[dict]:
        """Objects of a collection matching the request's selectors, sorted; copies or stored refs."""
        try:
            labels = parse_label_selector(req.query.get("labelSelector"))
            fields = parse_field_selector(req.query.get("fieldSelector"))
        except SelectorError as e:
            raise ApiError(400, "BadRequest", str(e)) from None
        with self.store.lock:
            out = []
            for o in self.store.list(rt.group, rt.kind, namespace):
                if not labels.matches_object(o):
                    continue
                if fields and not fields.matches({**o, "apiVersion": rt.api_version, "kind": rt.kind}):
                    continue
                out.append(self._served(o, rt) if copies else o)
            return out

    def _list(self, req: _Request, rt: ResourceType, namespace: str | None) -> _Response:
        """One list page, in time proportional to the objects it looks at (sorted index, resumable tokens)."""
        limit_text = req.query.get("limit") or "0"
        try:
            limit = int(limit_text)
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid limit {limit_text!r}") from None
        form = _list_form(req.headers.get("Accept"), self.tables)
        partial = form == "partial"
        include = req.query.get("includeObject") or "Metadata"
        if form == "table" and include not in ("None", "Metadata", "Object"):
            raise ApiError(400, "BadRequest", f"includeObject: Unsupported value: {include!r}: supported values: "
                                              '"None", "Metadata", "Object"')
        token = req.query.get("continue")
        start: tuple[str, str] | None = None
        if token:
            token_rv, start = _decode_continue(token)
            if token_rv < self._compacted_rv:
                raise ApiError(410, "Expired", _EXPIRED)
        try:
            labels = parse_label_selector(req.query.get("labelSelector"))
            fields = parse_field_selector(req.query.get("fieldSelector"))
        except SelectorError as e:
            raise ApiError(400, "BadRequest", str(e)) from None
        where = None
        if labels or fields:

            def where(o: dict) -> bool:
                if not labels.matches_object(o):
                    return False
                return not fields or fields.matches({**o, "apiVersion": rt.api_version, "kind": rt.kind})

        store = self.store
        with store.lock:
            list_rv = token_rv if token else store.resource_version
            items, more = store.page(rt.group, rt.kind, namespace, after=start, limit=max(limit, 0), where=where,
                                     labelled=_labelled(labels))
            meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if more:
                last = _sort_key(items[-1])
                meta["continue"] = _encode_continue(list_rv, last)
                if where is None:  # as kube-apiserver: unknown (left out) when a selector is used
                    meta["remainingItemCount"] = store.count(rt.group, rt.kind, namespace, after=last)
            if form == "table":
                body = table(rt.kind, rt.api_version, items, meta, include)
            elif partial:
                body = {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]} for o in items],
                }
            else:
                body = {
                    "kind": rt.list_kind_name,
                    "apiVersion": rt.api_version,
                    "metadata": meta,
                    "items": [{**o, "apiVersion": rt.api_version, "kind": rt.kind} for o in items],
                }
            # Encoded under the lock: the page shares the stored objects, which writers replace.
            payload = _dumps(body)
        return _Response(200, payload)

    def _pod_log(self, req: _Request, namespace: str, name: str) -> _Response:
        container = req.query.get("container")
        text = self._pod_logs.get((namespace, name, container))
        if text is None:
            text = self._pod_logs.get((namespace, name, None), "")
        tail = req.query.get("tailLines")
        if tail and tail.lstrip("-").isdigit():
            n = int(tail)
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-n:]) if n > 0 else ""
        return _Response(200, text, "text/plain")

    def _access_review(self, req: _Request, rt: ResourceType, body: dict) -> _Response:
        attrs = (body.get("spec") or {}).get("resourceAttributes")
        status: dict[str, Any] = {"allowed": True}
        if attrs:
            resource = attrs.get("resource", "")
            if attrs.get("subresource"):
                resource += "/" + attrs["subresource"]
            reason = self._forbidden_reason(
                req.user,
                attrs.get("verb", ""),
                attrs.get("group", ""),
                resource,
                attrs.get("namespace") or None,
                attrs.get("name") or None,
                resource,
            )
            if reason:
                status = {"allowed": False, "denied": True, "reason": "forbidden by emulator rule"}
        out = copy.deepcopy(body)
        out["apiVersion"], out["kind"] = rt.api_version, rt.kind
        out.setdefault("metadata", {})["creationTimestamp"] = None
        out["status"] = status
        return _Response(201, out)


try:  # a fast encoder for big list pages when installed (the [lab] extra has it); the same JSON either way
    import orjson

    def _dumps(body: Any) -> bytes:
        try:
            return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # what orjson cannot encode, json answers as before
            return json.dumps(body, separators=(",", ":")).encode()
except ImportError:  # pragma: no cover - orjson is in the [lab] extra

    def _dumps(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()


_PARTIAL_GROUP_VERSIONS = ("v1", "v1beta1")


def _labelled(selector: Any) -> tuple[str, tuple[str, ...]] | None:
    """A requirement of a label selector that only objects carrying one of some labels meet (``k=v``, ``k in (a,b)``)."""
    for req in getattr(selector, "requirements", ()):
        if req.operator in ("=", "in") and req.values:
            return req.key, tuple(req.values)
    return None


def _wants_partial(accept: str | None, *, listing: bool) -> bool:
    """Whether ``Accept`` asks for metadata only; 406 when it accepts nothing the emulator serves.

    Media ranges are tried in order, as kube-apiserver negotiates: a plain JSON (or any)
    type is whole objects; ``as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`` (of a list)
    or ``as=PartialObjectMetadata`` (of one object) is metadata only; other ``as=`` kinds
    are not served here (a list's ``Table`` form is negotiated by :func:`_list_form`).
    """
    if not accept:
        return False
    refused = []
    for media in accept.split(","):
        parts = [p.strip() for p in media.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        as_kind = params.get("as")
        if not as_kind:
            if parts[0] in ("application/json", "*/*", "application/*", "application/yaml") or parts[0].endswith("+json"):
                return False
            refused.append(parts[0])
            continue
        wanted = "PartialObjectMetadataList" if listing else "PartialObjectMetadata"
        if as_kind == wanted and params.get("g") == "meta.k8s.io" and params.get("v") in _PARTIAL_GROUP_VERSIONS:
            return True
        refused.append(media.strip())
    if any(not r.startswith("application/vnd.kubernetes.protobuf") for r in refused):
        raise ApiError(
            406,
            "NotAcceptable",
            f"only the following media types are accepted: application/json, "
            f"application/json;as=PartialObjectMetadata{'List' if listing else ''};g=meta.k8s.io;v=v1 (got {accept!r})",
        )
    return False  # protobuf only: answered in JSON, as before


_TABLE_GROUP_VERSIONS = ("v1", "v1beta1")


def _list_form(accept: str | None, tables: str = "serve") -> str:
    """The form of a list answer ``Accept`` asks for: ``"whole"``, ``"partial"`` or ``"table"``.

    Media ranges are tried in order, as kube-apiserver negotiates them:
    ``as=Table;g=meta.k8s.io;v=v1`` (or ``v1beta1``) is the table form, unless the
    emulator is told to ignore it (the next range decides) or to refuse it (406).
    """
    if accept and "as=Table" in accept and tables != "serve":
        if tables == "refuse":
            raise ApiError(406, "NotAcceptable", f"only the following media types are accepted: application/json, "
                                                 f"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1 (got {accept!r})")
        accept = ",".join(m for m in accept.split(",") if "as=Table" not in m) or "application/json"
    for media in (accept or "").split(","):
        parts = [p.strip() for p in media.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in _TABLE_GROUP_VERSIONS:
            return "table"
        if params.get("as") == "Table":
            continue
        return "partial" if _wants_partial(media, listing=True) else "whole"
    return "partial" if _wants_partial(accept, listing=True) else "whole"


def _not_served() -> ApiError:
    return ApiError(404, "NotFound", _NOT_SERVED)


def _is_builtin(rt: ResourceType) -> bool:
    return rt in BUILTIN_RESOURCES


def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(last)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
            )
        rv, start = data["rv"], data["start"]
        if not isinstance(rv, int) or not (isinstance(start, list) and len(start) == 2):
            raise ValueError("continue key is not valid: malformed")
        return rv, (str(start[0]), str(start[1]))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as e:
        msg = str(e) if str(e).startswith("continue key") else f"continue key is not valid: {e}"
        raise ApiError(400, "BadRequest", msg) from None


def _scale_of(obj: Mapping[str, Any]) -> dict:
    meta = obj.get("metadata") or {}
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }


def _apply_patch(req: _Request, current: dict, patch: Any) -> Any:
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        return merge_patch(current, patch)
    if ctype == "application/json-patch+json":
        try:
            return json_patch(current, patch)
        except JsonPatchError as e:
            raise ApiError(
                422, "Invalid", f"the server rejected our request due to an error in our request: {e}"
            ) from None
    raise ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json "
        f"(got {ctype or 'none'!r})",
    )
