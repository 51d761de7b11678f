"""HTTP(S) GET probe using the standard library."""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.parse
from typing import Any

from ._base import ProbeUsageError, check_timeout, errno_reason, finish, new_result


def http_get(url: str, timeout: float = 5.0, insecure: bool = False,
             max_bytes: int = 10 * 1024 * 1024, host_header: str | None = None,
             connect_timeout: float | None = None) -> dict[str, Any]:
    """GET ``url`` once (no redirects followed); ok when the status is 2xx or 3xx.

    Fields: status, reason_phrase, bytes (body bytes read, capped at
    ``max_bytes``), connect_s, ttfb_s (request start to response headers),
    total_s, location (for redirects), outcome (``response``, ``timeout``,
    ``refused``, ``tls-error``, ``error``). The whole exchange is bounded by
    ``timeout``, the TCP connection (and TLS handshake) by ``connect_timeout`` (default ``timeout``):
    a path that drops the SYN is told apart at once from a server that is slow to answer.
    ``insecure`` skips TLS verification.
    """
    timeout = check_timeout(timeout)
    connect_timeout = timeout if connect_timeout is None else min(check_timeout(connect_timeout, "connect_timeout"), timeout)
    if not isinstance(url, str):
        raise ProbeUsageError("url must be a string")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeUsageError(f"url must be http:// or https:// with a host, got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ProbeUsageError(f"bad port in url {url!r}") from None
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    res = new_result("http", url=url, status=None, reason_phrase=None, bytes=0, connect_s=None,
                     ttfb_s=None, total_s=None, outcome=None)
    started = time.monotonic()
    deadline = started + timeout
    host = parts.hostname
    if parts.scheme == "https":
        ctx = ssl.create_default_context()
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=connect_timeout,
                                                                       context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    try:
        conn.connect()
        res["connect_s"] = round(time.monotonic() - started, 6)
        if conn.sock is not None:
            conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
        headers = {"User-Agent": "mcdiag-probe", "Accept": "*/*", "Connection": "close"}
        if host_header:
            headers["Host"] = host_header
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        res["ttfb_s"] = round(time.monotonic() - started, 6)
        res["status"] = resp.status
        res["reason_phrase"] = resp.reason
        if resp.getheader("Location"):
            res["location"] = resp.getheader("Location")
        if resp.getheader("Server"):
            res["server_header"] = resp.getheader("Server")
        total = 0
        truncated = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("body not complete")
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            total += len(chunk)
            if total >= max_bytes:
                truncated = True
                break
        res["bytes"] = total
        if truncated:
            res["truncated"] = True
        res["total_s"] = round(time.monotonic() - started, 6)
        res["outcome"] = "response"
    except TimeoutError:
        res["outcome"] = "timeout"
        res["total_s"] = round(time.monotonic() - started, 6)
        stage = "response headers" if res["status"] is None else "complete body"
        within = timeout
        if res["connect_s"] is None:
            stage, within = "TCP connection", connect_timeout
        return finish(res, started, False, f"no {stage} from {host}:{port} within {within:g}s")
    except ConnectionRefusedError:
        res["outcome"] = "refused"
        return finish(res, started, False, f"connection to {host}:{port} refused (nothing listening)")
    except ssl.SSLError as exc:
        res["outcome"] = "tls-error"
        return finish(res, started, False, f"TLS handshake with {host}:{port} failed: {exc.reason or exc}")
    except (OSError, http.client.HTTPException) as exc:
        res["outcome"] = "error"
        return finish(res, started, False, f"GET {url} failed: {errno_reason(exc)}")
    finally:
        conn.close()
    if 200 <= res["status"] < 400:
        return finish(res, started, True, "")
    return finish(res, started, False, f"GET {url} returned HTTP {res['status']} {res['reason_phrase']}")
