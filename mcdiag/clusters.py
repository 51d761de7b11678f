"""Cluster access: kubeconfig loading, cluster naming, and the live API source.

Everything here is about *reaching* clusters. What is read from them lives in
:mod:`mcdiag.view`; what it means lives in :mod:`mcdiag.facts` and the checks.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml

from mcdiag.errors import ResourceUnavailable, UsageError
from mcdiag.resources import Resource

#: Items per list page. Small enough for huge clusters, large enough for few round trips.
PAGE_SIZE = 500


@dataclass
class ClusterSpec:
    """One cluster as given on the command line: a kubeconfig and a context."""

    kubeconfig: str | None
    context: str | None = None
    #: The name given with ``--cluster NAME=...``; ``None`` until resolved otherwise.
    name: str | None = None
    explicit_name: bool = False
    #: Filled in once the kubeconfig has loaded.
    server: str = ""
    resolved_context: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How to name this cluster in an error before it has a name: `` (cluster east)`` or nothing."""
        return f" (cluster {self.name})" if self.name else ""


def parse_cluster_option(value: str) -> ClusterSpec:
    """Parse ``NAME=PATH[:CONTEXT]`` (the context may itself contain colons, as EKS ARNs do)."""
    name, sep, rest = value.partition("=")
    if not sep or not name or not rest:
        raise UsageError(f"--cluster expects NAME=PATH[:CONTEXT], got {value!r}")
    path, _, context = rest.partition(":")
    if not path:
        raise UsageError(f"--cluster {value!r}: the kubeconfig path is empty")
    return ClusterSpec(kubeconfig=path, context=context or None, name=name, explicit_name=True)


def kubeconfig_paths(path: str | None) -> list[Path]:
    """The files a kubeconfig argument means: the path, else ``$KUBECONFIG`` (a list), else ``~/.kube/config``."""
    if path:
        return [Path(os.path.expanduser(path))]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(os.path.expanduser(p)) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _read_kubeconfig(paths: list[Path], label: str) -> dict[str, Any]:
    """Read and merge kubeconfig files, first one wins per name (kubectl's rule). One-line errors."""
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    seen: dict[str, set[str]] = {"clusters": set(), "contexts": set(), "users": set()}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"kubeconfig {path}{label}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"kubeconfig {path}{label}: cannot read it ({exc.__class__.__name__})") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise UsageError(f"kubeconfig {path}{label}: not valid YAML{where}") from None
        if not isinstance(data, dict) or not isinstance(data.get("contexts") or [], list):
            raise UsageError(f"kubeconfig {path}{label}: not a kubeconfig (no contexts list)")
        for section in ("clusters", "contexts", "users"):
            for entry in data.get(section) or []:
                if not isinstance(entry, dict) or "name" not in entry:
                    raise UsageError(f"kubeconfig {path}{label}: malformed entry in {section}")
                if entry["name"] not in seen[section]:
                    seen[section].add(entry["name"])
                    merged[section].append(entry)
        if "current-context" not in merged and data.get("current-context"):
            merged["current-context"] = data["current-context"]
        merged.setdefault("_base", str(path.parent))
    return merged


def load_cluster(spec: ClusterSpec, request_timeout: float) -> LiveSource:
    """Load ``spec``'s kubeconfig and return a source for it. Raises :class:`UsageError` on bad input."""
    from kubernetes import client as kclient
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader

    paths = kubeconfig_paths(spec.kubeconfig)
    data = _read_kubeconfig(paths, spec.label)
    contexts = {c["name"]: c for c in data["contexts"]}
    context = spec.context or data.get("current-context")
    if not context:
        raise UsageError(f"kubeconfig {paths[0]} has no current-context; pass --context{spec.label}")
    if context not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise UsageError(f"context {context!r} not found in kubeconfig {paths[0]} (contexts: {known})")
    cluster_ref = (contexts[context].get("context") or {}).get("cluster")
    clusters = {c["name"]: c for c in data["clusters"]}
    if cluster_ref not in clusters:
        raise UsageError(f"context {context!r} in {paths[0]} names cluster {cluster_ref!r}, which is not defined")
    server = ((clusters[cluster_ref].get("cluster") or {}).get("server")) or ""
    if not server:
        raise UsageError(f"cluster {cluster_ref!r} in {paths[0]} has no server URL")

    base = data.pop("_base", "")
    cfg = kclient.Configuration()
    try:
        KubeConfigLoader(config_dict=data, active_context=context, config_base_path=base).load_and_set(cfg)
    except ConfigException as exc:
        # The client's messages name fields, never secret values.
        raise UsageError(f"kubeconfig {paths[0]}, context {context!r}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # malformed certificate data and the like
        raise UsageError(
            f"kubeconfig {paths[0]}, context {context!r}: cannot load it ({exc.__class__.__name__})"
        ) from None
    cfg.retries = False  # one bounded attempt per request; the runner decides about retrying
    spec.server = server
    spec.resolved_context = context
    return LiveSource(kclient.ApiClient(cfg), server, request_timeout)


class LiveSource:
    """Reads a real API server through the official ``kubernetes`` client."""

    live = True

    def __init__(self, api_client: Any, server: str, request_timeout: float):
        self.api = api_client
        self.server = server
        self.timeout = request_timeout

    def request(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None, what: str = "", raw: bool = False
    ) -> Any:
        """One API request through the official client; every failure becomes :class:`ResourceUnavailable`.

        Returns the decoded JSON body, or the text when ``raw`` (pod logs).
        """
        from kubernetes.client.exceptions import ApiException

        what = what or f"{method} {path}"
        timeout = (min(self.timeout, 5.0), self.timeout)
        headers = {"Accept": "*/*" if raw else "application/json"}
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
        query: dict[str, str] = {"limit": str(PAGE_SIZE)}
        while True:
            page = self.get(res.path(), query, what=f"list {res.display}")
            kind = (page.get("kind") or "").removesuffix("List")
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    item.setdefault("kind", kind)
                    item.setdefault("apiVersion", res.group_version)
                    items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query = {"limit": str(PAGE_SIZE), "continue": token}


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
