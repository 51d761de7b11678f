"""Kubeconfigs: which clusters were given, and how to reach each (a :class:`~mcdiag.gather.api.LiveSource`).

Everything here is about *reaching* clusters. What is read from them lives in
:mod:`mcdiag.gather.view`; what it means lives in :mod:`mcdiag.facts` and the checks.

A kubeconfig is checked field by field before the ``kubernetes`` client's loader
fills a ``Configuration`` from it, so a broken one is named for what is wrong
(an undefined user, a server URL without a scheme, certificate data that is not
base64 or not PEM) with exit 2. Credentials are never printed: the server URL
loses its user-info, and every token and password is remembered by
:mod:`mcdiag.gather.redact`. An exec credential plugin does not run here: it runs
on the first request, bounded by the request timeout, with its own errors
(:class:`ExecPlugin`).
"""

from __future__ import annotations

import atexit
import base64
import binascii
import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from mcdiag.errors import ResourceUnavailable, UsageError
from mcdiag.gather.redact import redact_text, remember, secret_name

#: Largest kubeconfig file read (bytes): anything bigger is not a kubeconfig.
MAX_KUBECONFIG = 16 << 20


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
            if path.is_dir():
                raise UsageError(f"kubeconfig {path}{label}: is a directory, not a file")
            if path.stat().st_size > MAX_KUBECONFIG:
                raise UsageError(f"kubeconfig {path}{label}: larger than {MAX_KUBECONFIG >> 20} MiB, not a kubeconfig")
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
        except RecursionError:
            raise UsageError(f"kubeconfig {path}{label}: nested too deeply to be a kubeconfig") from None
        if not isinstance(data, dict) or not isinstance(data.get("contexts") or [], list):
            raise UsageError(f"kubeconfig {path}{label}: not a kubeconfig (no contexts list)")
        for section in ("clusters", "contexts", "users"):
            entries = data.get(section) or []
            if not isinstance(entries, list):
                raise UsageError(f"kubeconfig {path}{label}: {section} is not a list")
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise UsageError(f"kubeconfig {path}{label}: malformed entry in {section} (no name)")
                if entry["name"] not in seen[section]:
                    seen[section].add(entry["name"])
                    merged[section].append(entry)
        if "current-context" not in merged and data.get("current-context"):
            merged["current-context"] = data["current-context"]
        merged.setdefault("_base", str(path.parent))
    return merged


@dataclass
class Connection:
    """How to reach one API server, read from a kubeconfig: what the pool and the headers need.

    mcdiag reads kubeconfigs itself (the checks above name what is wrong); it does not import
    the kubernetes client for this, whose package loads every API class and model (about 0.25 s
    of every run). The field names are those of ``kubernetes.client.Configuration``, which the
    in-cluster path still uses, so that :mod:`mcdiag.gather.api` takes either.
    """

    host: str
    verify_ssl: bool = True
    ssl_ca_cert: str | None = None
    ssl_ca_cert_data: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_server_name: str | None = None
    proxy: str | None = None
    proxy_headers: dict[str, str] | None = None
    api_key: dict[str, str] = field(default_factory=dict, repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    refresh_api_key_hook: Any = None


def key_pair_files(cert: bytes, key: bytes) -> tuple[str, str]:
    """A client certificate and key written to a private folder (TLS loads them from files), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="mcdiag-tls-"))
    atexit.register(shutil.rmtree, folder, True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert)
    key_file.touch(mode=0o600)
    key_file.write_bytes(key)
    return str(cert_file), str(key_file)


def load_cluster(spec: ClusterSpec, request_timeout: float) -> Any:
    """Load ``spec``'s kubeconfig and return a source for it. Raises :class:`UsageError` on bad input."""
    if spec.extra.get("in_cluster"):  # --in-cluster: the pod's service account, see mcdiag.gather.incluster
        from mcdiag.gather.incluster import load_in_cluster

        return load_in_cluster(spec, request_timeout)
    paths = kubeconfig_paths(spec.kubeconfig)
    data = _read_kubeconfig(paths, spec.label)
    kc = f"{paths[0]}{spec.label}"
    contexts = {c["name"]: c for c in data["contexts"]}
    context = spec.context or data.get("current-context")
    if not context:
        raise UsageError(f"kubeconfig {paths[0]} has no current-context; pass --context{spec.label}")
    if context not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise UsageError(f"context {context!r} not found in kubeconfig {kc} (contexts: {known})")
    ctx = contexts[context].get("context")
    if not isinstance(ctx, dict):
        raise UsageError(f"context {context!r} in {kc} is empty: it names no cluster")
    clusters = {c["name"]: c for c in data["clusters"]}
    cluster_ref = ctx.get("cluster")
    if cluster_ref not in clusters:
        raise UsageError(f"context {context!r} in {kc} names cluster {cluster_ref!r}, which is not defined")
    cluster = clusters[cluster_ref].get("cluster")
    if not isinstance(cluster, dict):
        raise UsageError(f"cluster {cluster_ref!r} in {kc} is empty (no server URL)")
    users = {u["name"]: u for u in data["users"]}
    user_ref = ctx.get("user")
    if user_ref and user_ref not in users:
        known = ", ".join(sorted(users)) or "none"
        raise UsageError(f"context {context!r} in {kc} names user {user_ref!r}, which is not defined (users: {known})")
    user = dict((users[user_ref].get("user") or {}) if user_ref else {})
    if not isinstance(user, dict):
        raise UsageError(f"user {user_ref!r} in {kc} is malformed (not a mapping)")
    where = f"kubeconfig {kc}, context {context!r}"
    base = str(data.pop("_base", "") or "")

    server, url_user, url_password = _server_url(cluster.get("server"), f"cluster {cluster_ref!r} in {kc}")
    cluster = {**cluster, "server": server}
    remember(user.get("token"), user.get("password"), url_password)
    if url_password is not None and not any(k in user for k in ("token", "tokenFile", "exec", "auth-provider", "username")):
        user["username"], user["password"] = url_user or "", url_password  # kubectl's rule: user-info is basic auth
    ca, cert, key = _check_tls(cluster, user, base, where)
    _check_proxy(cluster, where)
    plugin = _exec_plugin(user.pop("exec", None), base, server, cluster, request_timeout, where)
    _auth_provider(user, where)
    token = _token(user, base, where)
    conn = Connection(
        host=server,
        verify_ssl=not cluster.get("insecure-skip-tls-verify"),
        ssl_ca_cert_data=ca.decode("ascii") if ca is not None else None,
        tls_server_name=str(cluster["tls-server-name"]) if cluster.get("tls-server-name") else None,
        proxy=str(cluster["proxy-url"]) if cluster.get("proxy-url") else None,
    )
    if token:
        conn.api_key["authorization"] = f"Bearer {token}"
    elif user.get("username") is not None and user.get("password") is not None:  # the client's rule: both
        conn.username, conn.password = str(user["username"]), str(user["password"])
    if cert is not None and key is not None:
        conn.cert_file, conn.key_file = key_pair_files(cert, key)
    spec.server = server
    spec.resolved_context = context
    spec.extra["identity"] = server_identity(server, ca)
    spec.extra["insecure"] = not conn.verify_ssl
    from mcdiag.gather.api import LiveSource

    return LiveSource.from_configuration(conn, request_timeout, credential=plugin)


def server_identity(server: str, ca: bytes | None) -> str:
    """One string per API server: normalised URL plus the CA's fingerprint (same string, same server)."""
    parts = urlsplit(server)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = (parts.hostname or "").lower()
    if host in ("localhost", "::1"):
        host = "127.0.0.1"
    ca_id = hashlib.sha256(ca).hexdigest()[:16] if ca else "-"
    return f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}#{ca_id}"


# ---------------------------------------------------------------------------------------------
# Field checks: each names what is wrong, never a secret
# ---------------------------------------------------------------------------------------------
def _server_url(server: Any, what: str) -> tuple[str, str | None, str | None]:
    """``server`` without user-info, plus the user and password it carried (basic auth, secret)."""
    if not server:
        raise UsageError(f"{what} has no server URL")
    if not isinstance(server, str):
        raise UsageError(f"{what}: the server URL is not a string")
    try:
        parts = urlsplit(server.strip())
        port = parts.port
    except ValueError:
        raise UsageError(f"{what}: the server URL {redact_text(server)!r} cannot be parsed (bad port?)") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        if "://" not in server:
            raise UsageError(f"{what}: the server URL {redact_text(server)!r} has no scheme; write https://{redact_text(server)}")
        raise UsageError(f"{what}: the server URL {redact_text(server)!r} must start with https:// (or http://)")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if user is not None and password is None:  # https://TOKEN@host: the user-info is the secret
        remember(user)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), user, password


def _b64(value: Any, field_name: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise UsageError(f"{where}: {field_name} is not a string")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{where}: {field_name} is not base64 (paste the base64 of the PEM file)") from None


def _file(path: Any, field_name: str, base: str, where: str) -> bytes:
    if not isinstance(path, str) or not path:
        raise UsageError(f"{where}: {field_name} is not a file path")
    full = Path(os.path.expanduser(path))
    if not full.is_absolute() and base:
        full = Path(base) / full
    try:
        return full.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{where}: {field_name} {full} not found") from None
    except OSError as exc:
        raise UsageError(f"{where}: {field_name} {full} cannot be read ({exc.__class__.__name__})") from None


def _tls_context() -> ssl.SSLContext:
    """A context to test that PEM material loads: without the system's CA store (25 ms per load, never used here)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _pem_or_data(section: dict[str, Any], name: str, base: str, where: str) -> bytes | None:
    if section.get(f"{name}-data"):
        return _b64(section[f"{name}-data"], f"{name}-data", where)
    if section.get(name):
        return _file(section[name], name, base, where)
    return None


def _check_tls(cluster: dict[str, Any], user: dict[str, Any], base: str,
               where: str) -> tuple[bytes | None, bytes | None, bytes | None]:
    """Check the CA and the client certificate and key load; return the bytes of the three."""
    ca = _pem_or_data(cluster, "certificate-authority", base, where)
    if ca is not None:
        try:
            ctx = _tls_context()
            ctx.load_verify_locations(cadata=ca.decode("ascii", "strict"))
        except (ssl.SSLError, ValueError, UnicodeDecodeError):
            raise UsageError(f"{where}: the certificate-authority is not a PEM certificate") from None
    cert = _pem_or_data(user, "client-certificate", base, where)
    key = _pem_or_data(user, "client-key", base, where)
    if key is not None:
        remember(*[ln.strip() for ln in key.decode("utf-8", "replace").splitlines() if ln.strip() and "-----" not in ln])
    if (cert is None) != (key is None):
        missing = "client-key" if key is None else "client-certificate"
        raise UsageError(f"{where}: a client certificate needs its key and the key its certificate ({missing} missing)")
    if cert is not None and key is not None:
        with tempfile.TemporaryDirectory(prefix="mcdiag-tls-") as tmp:
            cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert_path.write_bytes(cert)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key)
            try:
                _tls_context().load_cert_chain(str(cert_path), str(key_path))
            except ssl.SSLError as exc:
                what = "do not match" if "mismatch" in str(exc).lower() else "are not a PEM certificate and key"
                raise UsageError(f"{where}: client-certificate and client-key {what}") from None
    return ca, cert, key


def _check_proxy(cluster: dict[str, Any], where: str) -> None:
    proxy = cluster.get("proxy-url")
    if not proxy:
        return
    scheme = urlsplit(str(proxy)).scheme
    if scheme not in ("http", "https", "socks5", "socks5h"):
        raise UsageError(f"{where}: proxy-url {redact_text(str(proxy))!r} must be http://, https:// or socks5://")
    if scheme.startswith("socks"):
        import importlib.util

        if importlib.util.find_spec("socks") is None:  # PySocks, urllib3's SOCKS support (optional)
            raise UsageError(f"{where}: proxy-url is a SOCKS proxy, which needs PySocks (pip install pysocks)")
    remember(urlsplit(str(proxy)).password)


def _token(user: dict[str, Any], base: str, where: str) -> str | None:
    """The bearer token: ``token``, else the content of ``tokenFile`` (kubectl's order)."""
    token = user.get("token")
    if token is not None and not isinstance(token, str):
        raise UsageError(f"{where}: token is not a string")
    if not token and user.get("tokenFile"):
        token = _file(user["tokenFile"], "tokenFile", base, where).decode("utf-8", "replace").strip()
    token = (token or "").strip()
    remember(token or None)
    return token or None


def _auth_provider(user: dict[str, Any], where: str) -> None:
    """Legacy ``auth-provider``: a cached token is used as is; refreshing one (network, unbounded) is not done."""
    provider = user.pop("auth-provider", None)
    if not provider or user.get("token") or user.get("tokenFile"):
        return
    name = (provider or {}).get("name") if isinstance(provider, dict) else None
    config = (provider or {}).get("config") if isinstance(provider, dict) else None
    token = None
    if isinstance(config, dict):
        token = config.get("id-token") if name == "oidc" else config.get("access-token")
    if not isinstance(token, str) or not token:
        raise UsageError(
            f"{where}: auth-provider {name!r} has no cached token, and mcdiag does not run auth providers; "
            "use an exec credential plugin (e.g. kubelogin, gke-gcloud-auth-plugin, kubelogin for Azure)"
        )
    remember(token, config.get("refresh-token") if isinstance(config, dict) else None)
    user["token"] = token


# ---------------------------------------------------------------------------------------------
# Exec credential plugins: run on the first request, bounded, with their own errors
# ---------------------------------------------------------------------------------------------
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def kill_exec_plugins() -> None:
    """Kill every exec credential plugin still running (at exit, or when the run is interrupted)."""
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        try:
            proc.kill()
        except OSError:
            pass


def _exec_plugin(cfg: Any, base: str, server: str, cluster: dict[str, Any], timeout: float, where: str) -> ExecPlugin | None:
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise UsageError(f"{where}: users[].user.exec is not a mapping")
    command = cfg.get("command")
    if not isinstance(command, str) or not command.strip():
        raise UsageError(f"{where}: users[].user.exec has no command")
    args = cfg.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
        raise UsageError(f"{where}: users[].user.exec.args is not a list of strings")
    env = cfg.get("env") or []
    if not isinstance(env, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in env):
        raise UsageError(f"{where}: users[].user.exec.env is not a list of name/value pairs")
    api_version = cfg.get("apiVersion") or "client.authentication.k8s.io/v1beta1"
    if not str(api_version).startswith("client.authentication.k8s.io/"):
        raise UsageError(f"{where}: users[].user.exec.apiVersion {api_version!r} is not client.authentication.k8s.io/*")
    remember(*[str(e.get("value")) for e in env if e.get("value") and secret_name(e["name"])])
    return ExecPlugin(
        command=command.strip(),
        args=[str(a) for a in args],
        env={e["name"]: str(e.get("value") or "") for e in env},
        api_version=str(api_version),
        base=base,
        server=server,
        cluster=cluster if cfg.get("provideClusterInfo") else None,
        install_hint=str(cfg.get("installHint") or ""),
        timeout=timeout,
    )


@dataclass
class ExecPlugin:
    """A kubeconfig's ``exec`` credential plugin, run once on the first request (thread-safe, bounded)."""

    command: str
    args: list[str]
    env: dict[str, str]
    api_version: str
    base: str
    server: str
    cluster: dict[str, Any] | None
    install_hint: str
    timeout: float
    _result: dict[str, str] | ResourceUnavailable | None = None
    #: (certificate file, key file) when the plugin returned a client certificate instead of a token.
    cert_files: tuple[str, str] | None = None

    def __call__(self) -> dict[str, str]:
        """The headers the plugin's credential gives (``Authorization``), or :class:`ResourceUnavailable`."""
        if self._result is None:
            try:
                self._result = self._run()
            except ResourceUnavailable as exc:
                self._result = exc
        if isinstance(self._result, ResourceUnavailable):
            raise self._result
        return self._result

    @property
    def name(self) -> str:
        return os.path.basename(self.command)

    def _fail(self, message: str, hint: str) -> ResourceUnavailable:
        return ResourceUnavailable("credentials", f"the kubeconfig's exec credential plugin {self.name!r} {message}",
                                   hint=redact_text(hint))

    def _executable(self) -> str:
        command = self.command
        if os.sep in command and not os.path.isabs(command) and self.base:
            command = os.path.join(self.base, command)
        found = shutil.which(command)
        if found is None:
            hint = self.install_hint.strip().splitlines()[0] if self.install_hint.strip() else (
                f"Install {self.name} (it must be on PATH), or fix users[].user.exec.command in the kubeconfig.")
            raise self._fail("is not installed (not found on PATH)", hint)
        return found

    def _run(self) -> dict[str, str]:
        exe = self._executable()
        info: dict[str, Any] = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        if self.cluster is not None:
            info["spec"]["cluster"] = {k: v for k, v in self.cluster.items() if k in ("server", "certificate-authority-data",
                                                                                        "tls-server-name", "proxy-url")}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            proc = subprocess.Popen([exe, *self.args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            raise self._fail(f"cannot be started ({exc.strerror or exc.__class__.__name__})",
                             "Check that the plugin is an executable file.") from None
        with _running_lock:
            _running.add(proc)
        started = time.monotonic()
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                proc.communicate(timeout=2)
            except (subprocess.TimeoutExpired, ValueError, OSError):
                pass
            raise self._fail(
                f"did not finish within {self.timeout:g}s",
                f"Run `{self.name}` by hand to see what it waits for (a login prompt, a network call); "
                "mcdiag gives it the request timeout (--request-timeout).",
            ) from None
        finally:
            with _running_lock:
                _running.discard(proc)
        if proc.returncode != 0:
            line = next((ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()), "")
            detail = f": {redact_text(line)[:200]}" if line else ""
            code = proc.returncode if proc.returncode >= 0 else f"signal {-proc.returncode}"
            raise self._fail(f"exited with status {code}{detail}",
                             f"Run `{self.name}` by hand to see why (an expired login?), then run mcdiag again.")
        return self._credential(out, time.monotonic() - started)

    def _credential(self, out: bytes, _took: float) -> dict[str, str]:
        try:
            data = json.loads(out)
        except (ValueError, RecursionError):
            raise self._fail("printed no ExecCredential (its output is not JSON)",
                             f"Run `{self.name}` by hand: it must print an ExecCredential as JSON.") from None
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, dict):
            raise self._fail("printed an ExecCredential without status",
                             f"Run `{self.name}` by hand: its ExecCredential must carry status.token.")
        token = status.get("token")
        if isinstance(token, str) and token:
            remember(token)
            return {"Authorization": f"Bearer {token}"}
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if isinstance(cert, str) and isinstance(key, str) and cert and key:
            remember(*[ln.strip() for ln in key.splitlines() if ln.strip() and "-----" not in ln])
            cert_file, key_file = key_pair_files(cert.encode(), key.encode())
            try:
                _tls_context().load_cert_chain(cert_file, key_file)
            except ssl.SSLError:
                raise self._fail("returned a client certificate and key that cannot be loaded",
                                 f"Run `{self.name}` by hand: its certificate and key must be PEM and match.") from None
            self.cert_files = (cert_file, key_file)
            return {}
        raise self._fail("printed an ExecCredential without status.token",
                         f"Run `{self.name}` by hand: its ExecCredential must carry status.token.")
