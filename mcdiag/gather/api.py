"""The live API source: one cluster's API server through the official ``kubernetes`` client.

Every request is bounded by the request timeout; every failure becomes a
:class:`~mcdiag.errors.ResourceUnavailable` with the reason (and a hint where
one helps), never an exception from the client library.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import urllib3

from mcdiag.errors import ResourceUnavailable
from mcdiag.gather.resources import Resource

#: Items per list page. Small enough for huge clusters, large enough for few round trips.
PAGE_SIZE = 500


class LiveSource:
    """Reads a real API server through the official ``kubernetes`` client."""

    live = True

    def __init__(self, api_client: Any, server: str, request_timeout: float):
        self.api = api_client
        self.server = server
        self.timeout = request_timeout

    def request(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None, what: str = "", raw: bool = False,
        accept: str | None = None,
    ) -> Any:
        """One API request through the official client; every failure becomes :class:`ResourceUnavailable`.

        Returns the decoded JSON body, or the text when ``raw`` (pod logs).
        """
        from kubernetes.client.exceptions import ApiException

        what = what or f"{method} {path}"
        timeout = (min(self.timeout, 5.0), self.timeout)
        headers = {"Accept": accept or ("*/*" if raw else "application/json")}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            if hasattr(self.api, "param_serialize"):  # kubernetes >= 33 (openapi-generator v7 client)
                method_, url, hdrs, body_, post = self.api.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=list((query or {}).items()),
                    header_params=headers,
                    body=body,
                    auth_settings=["BearerToken"],
                )
                resp = self.api.call_api(method_, url, header_params=hdrs, body=body_, post_params=post, _request_timeout=timeout)
                data = resp.read()
                if not 200 <= resp.status <= 299:
                    raise ApiException.from_response(http_resp=resp, body=None, data=None)
            else:  # older clients
                resp = self.api.call_api(
                    path,
                    method,
                    query_params=list((query or {}).items()),
                    header_params=headers,
                    body=body,
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _return_http_data_only=True,
                    _request_timeout=timeout,
                )
                data = resp.data
        except ApiException as exc:
            raise _api_error(exc, what) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _network_error(exc, self.server, self.timeout) from None
        except (OSError, ssl.SSLError) as exc:
            raise ResourceUnavailable("unreachable", f"cannot reach {self.server}: {exc}") from None
        if raw:
            return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise ResourceUnavailable("error", f"{what}: the API server answered something that is not JSON") from None

    def request_text(self, method: str, path: str, query: dict[str, str] | None = None, what: str = "") -> str:
        """A request whose answer is text (pod logs)."""
        return self.request(method, path, query, what=what, raw=True)

    def get(self, path: str, query: dict[str, str] | None = None, what: str = "") -> dict[str, Any]:
        """GET ``path`` and decode JSON."""
        return self.request("GET", path, query, what=what or f"GET {path}")

    def version(self) -> dict[str, Any]:
        """``/version``."""
        return self.get("/version", what="GET /version")

    def served_group_versions(self) -> set[str]:
        """Every group/version the server serves, from ``/api`` and ``/apis``."""
        served = set(self.get("/api", what="API discovery").get("versions") or [])
        for group in self.get("/apis", what="API discovery").get("groups") or []:
            for v in group.get("versions") or []:
                if v.get("groupVersion"):
                    served.add(v["groupVersion"])
        return served

    def list(self, res: Resource) -> list[dict[str, Any]]:
        """Every object of ``res``, following ``continue`` tokens page by page."""
        items: list[dict[str, Any]] = []
        query: dict[str, str] = {**res.params(), "limit": str(PAGE_SIZE)}
        while True:
            page = self.request("GET", res.path(), query, what=f"list {res.display}", accept=res.accept)
            kind = (page.get("kind") or "").removesuffix("List")
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    item.setdefault("kind", kind)
                    item.setdefault("apiVersion", res.group_version)
                    items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query = {**res.params(), "limit": str(PAGE_SIZE), "continue": token}


def _status_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
        return str(body.get("message") or exc.reason or "")
    except (ValueError, TypeError):
        return str(exc.reason or "")


def _api_error(exc: Any, what: str) -> ResourceUnavailable:
    message = _status_message(exc)
    if exc.status == 401:
        return ResourceUnavailable(
            "unauthorized",
            f"{what}: 401 Unauthorized: the API server rejected the credentials",
            status=401,
            hint="The token or client certificate in the kubeconfig is expired or wrong; refresh the kubeconfig.",
        )
    if exc.status == 403:
        return ResourceUnavailable("forbidden", f"{what}: 403 Forbidden: {message}", status=403)
    if exc.status == 404:
        return ResourceUnavailable("not-served", f"{what}: 404 Not Found: {message}", status=404)
    return ResourceUnavailable("error", f"{what}: HTTP {exc.status}: {message}", status=exc.status)


def _network_error(exc: Exception, server: str, timeout: float) -> ResourceUnavailable:
    text = str(exc)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError) or "Read timed out" in text:
        reason = f"the API server at {server} accepted the connection but did not answer within {timeout:g}s"
    elif "refused" in text.lower():  # before timeouts: urllib3's NewConnectionError subclasses ConnectTimeoutError
        reason = f"connection to {server} refused: nothing listens there"
    elif isinstance(exc, urllib3.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        reason = f"TLS with {server} failed: the server certificate is not trusted by the kubeconfig's CA"
    elif isinstance(exc, urllib3.exceptions.ConnectTimeoutError) or "timed out" in text:
        reason = f"connecting to {server} timed out"
    elif "Name or service not known" in text or "nodename nor servname" in text:
        reason = f"cannot resolve the API server host of {server}"
    else:
        reason = f"cannot reach {server}: {exc.__class__.__name__}"
    return ResourceUnavailable(
        "unreachable",
        reason,
        hint="Check that the API server is up and reachable from here (VPN, firewall, server URL in kubeconfig).",
    )
