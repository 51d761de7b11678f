"""The live API source: one cluster's API server over HTTPS, driven through urllib3.

The kubeconfig is loaded by the ``kubernetes`` client's loader into a
``Configuration`` (:mod:`mcdiag.gather.kubeconfig`); requests go straight
through a urllib3 pool built from it, because every one of them must be
bounded in ways the generated client cannot be asked for:

- a **deadline per request** that covers the whole body (a body that trickles in
  is cut off at the request timeout, not reset on every read), and the run's
  deadline (``--timeout``) on top;
- **bounded retries** with backoff that honours ``Retry-After`` for 429, 503 and a
  connection reset, and one relist from the start when a ``continue`` token
  expires (410);
- a **page limit** per list, and answers of the wrong shape (a JSON array for a
  list, nesting deeper than the parser allows, discovery with wrong types) named
  as such;
- **cancellation**: once the run is interrupted, no new request starts and no
  retry waits.

Each page's objects lose ``metadata.managedFields`` as they are parsed (which manager
wrote which field: no check judges it, and it is often a third of an object), so a
long list holds only what checks read.

Every failure becomes a :class:`~mcdiag.errors.ResourceUnavailable` with the
reason and a hint that names the status, never an exception of a library.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import urllib3

from mcdiag.errors import ResourceUnavailable
from mcdiag.gather.resources import Resource
from mcdiag.gather.table import NotATable, table_rows

#: Items per list page. Small enough for huge clusters, large enough for few round trips.
PAGE_SIZE = 500
#: Rows per page of a list in the ``Table`` form: a row is about a hundred bytes where a whole pod is
#: several kB, so a page of 2,000 rows is smaller than one of 500 objects, in a quarter of the requests.
TABLE_PAGE_SIZE = 2000
#: Pages one list may take (``PAGE_SIZE * MAX_PAGES`` objects) before it counts as endless.
MAX_PAGES = 1000
#: Attempts per request when the answer is transient (429, 503, connection reset).
ATTEMPTS = 4
#: Longest ``Retry-After`` (seconds) worth waiting for; a longer one fails the request at once.
MAX_RETRY_AFTER = 10.0
#: Largest answer body read (bytes).
MAX_BODY = 1 << 30
#: Seconds a connection may take to open (capped by the request timeout).
CONNECT_TIMEOUT = 5.0

_REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


class _Transient(Exception):
    """A failure worth one more attempt (after ``delay`` seconds, if given)."""

    def __init__(self, error: ResourceUnavailable, delay: float | None = None):
        super().__init__(error.message)
        self.error = error
        self.delay = delay


class LiveSource:
    """Reads (and, for probe pods, writes) one API server; every request bounded."""

    live = True

    def __init__(
        self,
        server: str,
        pool: urllib3.PoolManager,
        request_timeout: float,
        *,
        headers: dict[str, str] | None = None,
        credential: Any = None,
        proxy: str | None = None,
        configuration: Any = None,
    ):
        self.server = server.rstrip("/")
        self.pool = pool
        self.timeout = request_timeout
        self.headers = dict(headers or {})
        #: Runs on the first request (an exec credential plugin); returns extra headers or raises.
        self.credential = credential
        self.proxy = proxy
        #: The ``kubernetes`` Configuration the kubeconfig was loaded into (credentials, TLS files).
        self.configuration = configuration
        #: Monotonic time after which no request may start (the run's ``--timeout``).
        self.deadline: float | None = None
        #: Set when the run is interrupted: no new request, no retry wait.
        self.cancelled = threading.Event()
        self._auth_lock = threading.Lock()
        self._auth: dict[str, str] | None = None if credential is not None else {}
        self._refresh: Callable[[Any], None] | None = None

    @classmethod
    def from_configuration(cls, cfg: Any, request_timeout: float, *, credential: Any = None) -> LiveSource:
        """A source for a ``kubernetes.client.Configuration`` (kubeconfig or in-cluster loaded)."""
        from mcdiag.gather.redact import remember

        source = cls(
            cfg.host,
            make_pool(cfg),
            request_timeout,
            headers=auth_headers(cfg),
            credential=credential,
            proxy=getattr(cfg, "proxy", None),
            configuration=cfg,
        )
        remember(*(v.split(" ", 1)[-1] for v in source.headers.values()))
        #: The loader's hook that re-reads a rotating token (in-cluster service accounts, expiring tokens).
        source._refresh = getattr(cfg, "refresh_api_key_hook", None)
        return source

    # -- requests -------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None, what: str = "", raw: bool = False,
        accept: str | None = None,
    ) -> Any:
        """One API request; returns the decoded JSON body (the text when ``raw``). Failures: ResourceUnavailable."""
        what = what or f"{method} {path}"
        data = json.dumps(body).encode() if body is not None else None
        payload = self._with_retries(method, path, query, data, what, raw, accept)
        if raw:
            return payload.decode("utf-8", "replace")
        if not payload:
            return {}
        try:
            return json.loads(payload)
        except RecursionError:
            raise ResourceUnavailable("error", f"{what}: the answer is nested too deeply to read (not a Kubernetes object)",
                                      hint=_server_hint()) from None
        except ValueError:
            raise ResourceUnavailable("error", f"{what}: the API server answered something that is not JSON",
                                      hint=_server_hint()) from None

    def request_text(self, method: str, path: str, query: dict[str, str] | None = None, what: str = "") -> str:
        """A request whose answer is text (pod logs)."""
        return self.request(method, path, query, what=what, raw=True)

    def get(self, path: str, query: dict[str, str] | None = None, what: str = "", accept: str | None = None) -> dict[str, Any]:
        """GET ``path`` and decode JSON; anything but a JSON object is an error naming ``what``."""
        what = what or f"GET {path}"
        answer = self.request("GET", path, query, what=what, accept=accept)
        if not isinstance(answer, dict):
            raise ResourceUnavailable("error", f"{what}: the API server answered {_describe(answer)}, not an object",
                                      hint=_server_hint())
        return answer

    def version(self) -> dict[str, Any]:
        """``/version`` (its fields must be strings, as every API server sends them)."""
        info = self.get("/version", what="GET /version")
        for key in ("gitVersion", "major", "minor"):
            if key in info and not isinstance(info[key], str):
                raise _malformed("GET /version", key, info[key], "a string")
        return info

    def served_group_versions(self) -> set[str]:
        """Every group/version the server serves, from ``/api`` and ``/apis``."""
        served: set[str] = set()
        core = self.get("/api", what="API discovery (/api)").get("versions") or []
        groups = self.get("/apis", what="API discovery (/apis)").get("groups") or []
        if not isinstance(core, list) or not all(isinstance(v, str) for v in core):
            raise _malformed("API discovery (/api)", "versions", core, "a list of strings")
        served.update(core)
        if not isinstance(groups, list):
            raise _malformed("API discovery (/apis)", "groups", groups, "a list")
        for group in groups:
            versions = group.get("versions") if isinstance(group, dict) else group
            if not isinstance(versions, list):
                raise _malformed("API discovery (/apis)", "groups[].versions", versions, "a list")
            for v in versions:
                gv = v.get("groupVersion") if isinstance(v, dict) else v
                if not isinstance(gv, str):
                    raise _malformed("API discovery (/apis)", "groups[].versions[].groupVersion", gv, "a string")
                served.add(gv)
        return served

    def list(self, res: Resource) -> list[dict[str, Any]]:
        """Every object of ``res``, page by page; a continue token that expired (410) restarts the list once.

        A table query (``res.table``) answers row records (:mod:`mcdiag.gather.table`); a server
        that refuses the ``Table`` form (406 Not Acceptable) is asked for the whole objects instead,
        and one that answers whole objects is taken at its word (the view prints their rows).
        """
        for attempt in (1, 2):
            try:
                return self._list_pages(res)
            except ResourceUnavailable as exc:
                if exc.status == 410 and getattr(exc, "paging", False) and attempt == 1:
                    continue  # the list changed while paging: read it again, from the start
                if exc.status == 406 and res.table and not getattr(exc, "paging", False):
                    return self.list(replace(res, table=False))  # no Table form here: whole objects
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _list_pages(self, res: Resource) -> list[dict[str, Any]]:
        what = f"list {res.display}"
        items: list[dict[str, Any]] = []
        page_size = res.limit or (TABLE_PAGE_SIZE if res.table else PAGE_SIZE)
        params = res.params()
        if res.table:  # the cells only; the namespace too when the query spans namespaces (rows do not name it)
            params["includeObject"] = "None" if res.namespace else "Metadata"
        query: dict[str, str] = {**params, "limit": str(page_size)}
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            try:
                page = self.get(res.path(), query, what=what, accept=res.accept)
            except ResourceUnavailable as exc:
                if "continue" in query:
                    exc.paging = True  # type: ignore[attr-defined]
                    if exc.status == 410:
                        exc.message = f"{what}: the continue token expired twice while paging (410 Gone)"
                        exc.hint = ("The list changed faster than it could be read page by page (HTTP 410 Gone, twice); "
                                    "run again when the cluster is quieter.")
                raise
            if res.table and page.get("kind") == "Table":
                try:
                    rows = table_rows(page, res.namespace)
                except NotATable as exc:
                    raise ResourceUnavailable("error", f"{what}: the Table answer is malformed ({exc})",
                                              hint=_server_hint()) from None
                items.extend(rows)
            elif "items" not in page:
                raise ResourceUnavailable("error", f"{what}: the answer has no items, so it is not a list "
                                                   f"(kind {str(page.get('kind') or 'missing')[:40]!r})", hint=_server_hint())
            else:
                raw_items = page.get("items")
                if raw_items is not None and not isinstance(raw_items, list):
                    raise _malformed(what, "items", raw_items, "a list")
                kind = str(page.get("kind") or "").removesuffix("List")
                for i, item in enumerate(raw_items or []):
                    if not isinstance(item, dict):
                        raise _malformed(what, f"items[{len(items) + i}]", item, "an object")
                    item.setdefault("kind", kind)
                    item.setdefault("apiVersion", res.group_version)
                    meta = item.get("metadata")
                    if isinstance(meta, dict):
                        meta.pop("managedFields", None)  # who wrote which field: never judged, often a third of an object
                items.extend(raw_items or [])
            if res.limit:  # the first objects only: one page, whatever follows
                return items[: res.limit]
            meta = page.get("metadata") or {}
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                return items
            if not isinstance(token, str):
                raise _malformed(what, "metadata.continue", token, "a string")
            if token in seen:
                raise ResourceUnavailable("error", f"{what}: the API server answered the same continue token twice "
                                                   "(the list would never end)", hint=_server_hint())
            seen.add(token)
            query = {**params, "limit": str(page_size), "continue": token}
        raise ResourceUnavailable(
            "error",
            f"{what}: still not finished after {MAX_PAGES} pages of {page_size} (the API server keeps answering "
            "with continue tokens)",
            hint=_server_hint(),
        )

    # -- one request, its retries and its deadline ------------------------------------------------
    def _with_retries(self, method: str, path: str, query: dict[str, str] | None, data: bytes | None,
                      what: str, raw: bool, accept: str | None = None) -> bytes:
        last: _Transient | None = None
        attempts = 0
        for attempt in range(ATTEMPTS):
            if last is not None:
                delay = last.delay if last.delay is not None else 0.25 * 2 ** (attempt - 1)
                if delay > MAX_RETRY_AFTER or delay >= self._run_left() or self.cancelled.wait(delay):
                    break
            attempts += 1
            try:
                return self._once(method, path, query, data, what, raw, accept)
            except _Transient as exc:
                if method not in ("GET", "DELETE") and exc.error.status is None:
                    raise exc.error from None  # a write that may have arrived is never sent twice
                last = exc
        assert last is not None
        if attempts > 1:
            last.error.message += f" (after {attempts} attempts)"
        raise last.error

    def _run_left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def _once(self, method: str, path: str, query: dict[str, str] | None, data: bytes | None,
              what: str, raw: bool, accept: str | None = None) -> bytes:
        if self.cancelled.is_set():
            raise ResourceUnavailable("error", f"{what}: not sent, the run was interrupted")
        left = self._run_left()
        if left <= 0:
            raise ResourceUnavailable("error", f"{what}: not sent, the run's time limit (--timeout) was reached",
                                      hint="Give the run more time with --timeout, or fewer checks.")
        budget = min(self.timeout, left)
        try:
            return self._attempt(method, path, query, data, what, raw, budget, accept)
        except ResourceUnavailable as exc:
            if budget < self.timeout and exc.kind == "unreachable" and self._run_left() <= 0.05:
                exc.message = f"{what}: not answered before the run's time limit (--timeout) was reached"
                exc.hint = "Give the run more time with --timeout, or find out why the API server is slow."
            raise

    def _attempt(self, method: str, path: str, query: dict[str, str] | None, data: bytes | None,
                 what: str, raw: bool, budget: float, accept: str | None = None) -> bytes:
        deadline = time.monotonic() + budget
        headers = {"Accept": accept or ("*/*" if raw else "application/json"), "User-Agent": _user_agent()}
        headers.update(self._current_headers())
        headers.update(self._credential_headers())
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self.server + path + ("?" + urlencode(query) if query else "")
        try:
            resp = self.pool.urlopen(
                method, url, body=data, headers=headers, retries=False, redirect=False, preload_content=False,
                timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT, budget), read=budget), assert_same_host=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            error = _network_error(exc, self, budget)
            if _is_reset(exc):
                raise _Transient(error) from None
            raise error from None
        except (OSError, ValueError) as exc:  # sockets, and URLs urllib3 cannot parse
            raise ResourceUnavailable("unreachable", f"cannot reach {self.server}: {exc.__class__.__name__}",
                                      hint=_reach_hint()) from None
        try:
            body = _read_body(resp, deadline, what, budget)
        except urllib3.exceptions.HTTPError as exc:
            _discard(resp)
            error = _network_error(exc, self, budget, what=what)
            if _is_reset(exc):
                raise _Transient(error) from None
            raise error from None
        except OSError as exc:
            _discard(resp)
            raise ResourceUnavailable("unreachable", f"{what}: reading the answer failed ({exc.__class__.__name__})",
                                      hint=_reach_hint()) from None
        except ResourceUnavailable:
            _discard(resp)
            raise
        resp.release_conn()
        status = resp.status
        if 200 <= status <= 299:
            return body
        error = _api_error(status, body, what, resp.headers)
        if status in (429, 503):
            raise _Transient(error, _retry_after(resp.headers))
        raise error

    def _current_headers(self) -> dict[str, str]:
        """The Authorization the configuration holds now (a rotating token is re-read by the loader's hook)."""
        if self._refresh is None:
            return self.headers
        with self._auth_lock:
            try:
                self._refresh(self.configuration)
                self.headers = auth_headers(self.configuration)
            except Exception as exc:  # a token file that vanished: the request says so, once per attempt
                raise ResourceUnavailable("credentials", f"cannot read the credentials again ({exc.__class__.__name__})",
                                          hint="Check the token file the kubeconfig or service account names.") from None
        from mcdiag.gather.redact import remember

        remember(*(v.split(" ", 1)[-1] for v in self.headers.values()))
        return self.headers

    def _credential_headers(self) -> dict[str, str]:
        if self._auth is not None:
            return self._auth
        with self._auth_lock:
            if self._auth is None:
                auth = self.credential()  # raises ResourceUnavailable (cached by the plugin)
                files = getattr(self.credential, "cert_files", None)
                if files:  # the plugin gave a client certificate: connections need it
                    self.pool = make_pool(self.configuration, *files)
                self._auth = auth
        return self._auth


# ---------------------------------------------------------------------------------------------
# Pools and credentials from a Configuration
# ---------------------------------------------------------------------------------------------
def make_pool(cfg: Any, cert_file: str | None = None, key_file: str | None = None) -> urllib3.PoolManager:
    """A urllib3 pool with the TLS settings of a connection (a kubeconfig :class:`Connection` or a client Configuration)."""
    kwargs: dict[str, Any] = {
        "num_pools": 4,
        "maxsize": 16,
        "cert_reqs": "CERT_REQUIRED" if getattr(cfg, "verify_ssl", True) else "CERT_NONE",
        "ca_certs": getattr(cfg, "ssl_ca_cert", None),
        "ca_cert_data": getattr(cfg, "ssl_ca_cert_data", None),
        "cert_file": cert_file or getattr(cfg, "cert_file", None),
        "key_file": key_file or getattr(cfg, "key_file", None),
        "retries": False,
    }
    server_name = getattr(cfg, "tls_server_name", None)
    if server_name:
        kwargs["server_hostname"] = server_name
        kwargs["assert_hostname"] = server_name
    if not getattr(cfg, "verify_ssl", True):
        kwargs["assert_hostname"] = False
        # Said once in the run's notes (insecure-skip-tls-verify), not on stderr at every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    proxy = getattr(cfg, "proxy", None)
    if proxy:
        if proxy.startswith("socks"):
            from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks; kubeconfig.py checks first

            return SOCKSProxyManager(proxy, **kwargs)
        return urllib3.ProxyManager(proxy, proxy_headers=getattr(cfg, "proxy_headers", None), **kwargs)
    return urllib3.PoolManager(**kwargs)


def auth_headers(cfg: Any) -> dict[str, str]:
    """The Authorization header a Configuration carries (bearer token or basic credentials)."""
    token = (getattr(cfg, "api_key", None) or {}).get("authorization") or (getattr(cfg, "api_key", None) or {}).get(
        "BearerToken"
    )
    if token:
        token = token.strip()  # a tokenFile's trailing newline is not part of the token
        prefix = (getattr(cfg, "api_key_prefix", None) or {}).get("authorization")
        value = f"{prefix} {token}" if prefix and not token.lower().startswith(prefix.lower()) else token
        if not value.lower().startswith(("bearer ", "basic ")):
            value = f"Bearer {value}"
        return {"Authorization": value}
    if getattr(cfg, "username", None) or getattr(cfg, "password", None):
        return dict(urllib3.util.make_headers(basic_auth=f"{cfg.username or ''}:{cfg.password or ''}"))
    return {}


# ---------------------------------------------------------------------------------------------
# Reading an answer
# ---------------------------------------------------------------------------------------------
def _read_body(resp: Any, deadline: float, what: str, budget: float) -> bytes:
    """The whole body, or an error once ``deadline`` passes (each read waits at most the time left)."""
    sock = _socket_of(resp)
    chunks: list[bytes] = []
    total = 0
    read = getattr(resp, "read1", None) or resp.read
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _slow_body(what, budget, total)
        if sock is not None:
            try:
                sock.settimeout(left)
            except OSError:
                sock = None
        try:
            chunk = read(65536)
        except urllib3.exceptions.ReadTimeoutError:
            raise _slow_body(what, budget, total) from None
        except TimeoutError:
            raise _slow_body(what, budget, total) from None
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_BODY:
            raise ResourceUnavailable("error", f"{what}: the answer is larger than {MAX_BODY >> 20} MiB",
                                      hint=_server_hint())
        chunks.append(chunk)


def _slow_body(what: str, budget: float, got: int) -> ResourceUnavailable:
    return ResourceUnavailable(
        "unreachable",
        f"{what}: the answer did not arrive in full within {budget:g}s ({got} bytes so far)",
        hint="The API server (or a proxy in front of it) answers too slowly: check its load and the network, "
        "or raise --request-timeout.",
    )


def _socket_of(resp: Any) -> Any:
    conn = getattr(resp, "_connection", None) or getattr(resp, "connection", None)
    return getattr(conn, "sock", None)


def _discard(resp: Any) -> None:
    """Close a response that was not read to the end (its connection is not reused)."""
    try:
        resp.close()
        resp.release_conn()
    except Exception:
        pass


def _retry_after(headers: Any) -> float | None:
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    if value is None:
        return "null"
    return "a JSON object"


def _malformed(what: str, field: str, value: Any, expected: str) -> ResourceUnavailable:
    return ResourceUnavailable(
        "error", f"{what}: {field} is {_describe(value)} where {expected} belongs (a malformed answer)", hint=_server_hint()
    )


def _server_hint() -> str:
    return ("The API server (or a proxy or webhook in front of it) answered something a Kubernetes API server does "
            "not: check what answers at the kubeconfig's server URL.")


def _reach_hint() -> str:
    return "Check that the API server is up and reachable from here (VPN, firewall, server URL in kubeconfig)."


def _user_agent() -> str:
    from mcdiag import __version__

    return f"mcdiag/{__version__}"


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def _status_message(body: bytes) -> str:
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return ""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"][:300]
    return ""


def _api_error(status: int, body: bytes, what: str, headers: Any = None) -> ResourceUnavailable:
    message = _status_message(body)
    reason = _REASONS.get(status, "")
    head = f"{what}: {status} {reason}".rstrip()
    if status == 401:
        return ResourceUnavailable(
            "unauthorized",
            f"{head}: the API server rejected the credentials",
            status=401,
            hint="The token or client certificate in the kubeconfig is expired or wrong (HTTP 401); refresh the kubeconfig.",
        )
    if status == 403:
        return ResourceUnavailable("forbidden", f"{head}: {message}" if message else head, status=403)
    if status == 404:
        return ResourceUnavailable("not-served", f"{head}: {message}" if message else head, status=404)
    if status == 429:
        after = _retry_after(headers)
        return ResourceUnavailable(
            "error",
            f"{head}: the API server is throttling requests" + (f" (Retry-After {after:g}s)" if after is not None else ""),
            status=429,
            hint="The API server throttled mcdiag (HTTP 429 Too Many Requests): run again later or with fewer --jobs, "
            "or give mcdiag's user more API priority and fairness share.",
        )
    if status == 503:
        return ResourceUnavailable(
            "error",
            f"{head}" + (f": {message}" if message else ""),
            status=503,
            hint="The API server answered HTTP 503 Service Unavailable: it may be starting or overloaded, or an "
            "aggregated API behind it is down (kubectl get apiservices); run again when it is ready.",
        )
    if status == 410:
        return ResourceUnavailable("error", f"{head}" + (f": {message}" if message else ""), status=410,
                                   hint="The API server answered HTTP 410 Gone: what was asked for expired; run again.")
    if 300 <= status < 400:
        return ResourceUnavailable(
            "error", f"{head}: the API server redirects elsewhere (HTTP {status})", status=status,
            hint="Something in front of the API server answers with a redirect (a login page or a proxy): put the "
            "API server's own URL in the kubeconfig.",
        )
    return ResourceUnavailable(
        "error",
        f"{head}" + (f": {message}" if message else ""),
        status=status,
        hint=f"The API server answered HTTP {status}{' ' + reason if reason else ''}: check its health "
        "(kubectl get --raw /readyz) and its logs.",
    )


def _is_reset(exc: Exception) -> bool:
    """A connection the server dropped (reset, closed before answering): worth another attempt."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return True
        text = str(exc)
        if "RemoteDisconnected" in text or "Connection reset" in text or "Connection aborted" in text:
            return True
        if isinstance(exc, urllib3.exceptions.ProtocolError) and ("IncompleteRead" in text or "ended prematurely" in text):
            return True
        nxt = exc.__cause__ or exc.__context__ or (exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Exception) else None)
        exc = nxt  # type: ignore[assignment]
    return False


def _network_error(exc: Exception, source: LiveSource, timeout: float, what: str = "") -> ResourceUnavailable:
    server = source.server
    text = str(exc)
    prefix = f"{what}: " if what else ""
    hint = _reach_hint()
    if isinstance(exc, urllib3.exceptions.ProxyError) or (source.proxy and "proxy" in text.lower()):
        reason = f"the proxy {source.proxy} (proxy-url in the kubeconfig) failed: " + (
            "connection refused, nothing listens there" if "refused" in text.lower() else exc.__class__.__name__
        )
        hint = "Check the kubeconfig's proxy-url: the proxy must be running and reachable from here."
    elif isinstance(exc, urllib3.exceptions.DecodeError):
        reason = f"{prefix}the answer from {server} could not be decoded (a broken Content-Encoding)"
        prefix, hint = "", _server_hint()
    elif isinstance(exc, urllib3.exceptions.ReadTimeoutError) or "Read timed out" in text:
        reason = f"the API server at {server} accepted the connection but did not answer within {timeout:g}s"
    elif "refused" in text.lower():  # before timeouts: urllib3's NewConnectionError subclasses ConnectTimeoutError
        reason = f"connection to {server} refused: nothing listens there"
    elif isinstance(exc, urllib3.exceptions.SSLError) or "SSL" in text or "CERTIFICATE" in text:
        reason, hint = _tls_reason(text, server)
    elif isinstance(exc, urllib3.exceptions.ConnectTimeoutError) or "timed out" in text:
        reason = f"connecting to {server} timed out"
    elif "Name or service not known" in text or "nodename nor servname" in text or "NameResolution" in text \
            or "Temporary failure in name resolution" in text:
        reason = f"cannot resolve the API server host of {server}"
    elif _is_reset(exc):
        reason = f"{prefix}the connection to {server} was closed before the answer was complete"
        prefix = ""
    elif isinstance(exc, urllib3.exceptions.LocationParseError | urllib3.exceptions.LocationValueError):
        reason = f"the server URL {server} cannot be used ({exc.__class__.__name__})"
        hint = "Fix the server URL in the kubeconfig (https://HOST:PORT)."
    else:
        reason = f"cannot reach {server}: {exc.__class__.__name__}"
    return ResourceUnavailable("unreachable", prefix + reason, hint=hint)


def _tls_reason(text: str, server: str) -> tuple[str, str]:
    if "doesn't match" in text or "does not match" in text or "IP address mismatch" in text or "Hostname mismatch" in text:
        return (
            f"TLS with {server} failed: the server certificate is not valid for this host name",
            "The server URL's host (or tls-server-name) is not in the certificate: use the name the certificate "
            "was issued for, or set tls-server-name in the kubeconfig.",
        )
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        if "hostname" in text.lower():
            return (
                f"TLS with {server} failed: the server certificate is not valid for this host name",
                "The server URL's host is not in the certificate: use the name the certificate was issued for, "
                "or set tls-server-name in the kubeconfig.",
            )
        return (
            f"TLS with {server} failed: the server certificate is not trusted by the kubeconfig's CA",
            "The kubeconfig's certificate-authority(-data) is not the CA that signed this API server's certificate: "
            "fetch a fresh kubeconfig for this cluster.",
        )
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return (
            f"TLS with {server} failed: the server does not speak TLS there (is it an http:// endpoint?)",
            "Check the scheme and port of the server URL in the kubeconfig.",
        )
    return (
        f"TLS with {server} failed: the handshake was rejected",
        "Check the client certificate and the CA in the kubeconfig, and that the server URL points at the API server.",
    )


def cancellable(sources: list[Any]) -> Callable[[], None]:
    """A function that cancels every live source in ``sources`` (interrupts stop new requests and retry waits)."""

    def cancel() -> None:
        for source in sources:
            event = getattr(source, "cancelled", None)
            if event is not None:
                event.set()

    return cancel
