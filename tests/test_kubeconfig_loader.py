"""mcdiag reads kubeconfigs itself: what each kind of credential puts on the wire, against a real TLS server.

A small HTTPS server on loopback answers ``/version`` with what it saw: the client certificate's
common name (it requires one when told to) and the Authorization header. mcdiag's
:func:`load_cluster` builds the connection; nothing of the kubernetes client is imported.
"""

from __future__ import annotations

import base64
import json
import ssl
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
import yaml

from mcdiag.errors import ResourceUnavailable
from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        cert = self.connection.getpeercert() or {}
        cn = next((v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"), None)
        body = json.dumps({"major": "1", "minor": "30", "gitVersion": "v1.30.0", "cn": cn,
                           "authorization": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """(url, CA, a function that makes the server require client certificates of that CA)."""
    ca = trustme.CA()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)

    def require_client_certs():
        ctx.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(ctx)

    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", ca, require_client_certs
    finally:
        httpd.shutdown()
        httpd.server_close()


def _kubeconfig(tmp_path: Path, url: str, ca: trustme.CA | None, user: dict, **cluster) -> str:
    c = {"server": url, **cluster}
    if ca is not None:
        c["certificate-authority-data"] = base64.b64encode(ca.cert_pem.bytes()).decode()
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "c", "cluster": c}], "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }))
    return str(path)


def _version(path: str) -> dict:
    return load_cluster(ClusterSpec(path), 5.0).get("/version")


def test_client_certificate_is_presented_and_its_key_kept_private(tmp_path, server):
    url, ca, require_client_certs = server
    require_client_certs()
    cert = ca.issue_cert("mcdiag-admin", common_name="mcdiag-admin")
    user = {"client-certificate-data": base64.b64encode(cert.cert_chain_pems[0].bytes()).decode(),
            "client-key-data": base64.b64encode(cert.private_key_pem.bytes()).decode()}
    source = load_cluster(ClusterSpec(_kubeconfig(tmp_path, url, ca, user)), 5.0)
    answer = source.get("/version")
    assert answer["cn"] == "mcdiag-admin" and answer["authorization"] is None
    key_file = Path(source.configuration.key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_without_a_client_certificate_the_server_refuses(tmp_path, server):
    url, ca, require_client_certs = server
    require_client_certs()
    with pytest.raises(ResourceUnavailable):
        _version(_kubeconfig(tmp_path, url, ca, {"token": "t0ken-abc"}))


def test_token_wins_over_basic_auth_and_basic_needs_both(tmp_path, server):
    url, ca, _ = server
    assert _version(_kubeconfig(tmp_path, url, ca, {"token": "t0ken-abc", "username": "u", "password": "p"}))[
        "authorization"] == "Bearer t0ken-abc"
    basic = base64.b64encode(b"admin:pw").decode()
    assert _version(_kubeconfig(tmp_path, url, ca, {"username": "admin", "password": "pw"}))["authorization"] == f"Basic {basic}"
    assert _version(_kubeconfig(tmp_path, url, ca, {"username": "admin"}))["authorization"] is None


def test_token_file_relative_to_the_kubeconfig(tmp_path, server):
    url, ca, _ = server
    (tmp_path / "token").write_text("t0ken-from-file\n")
    assert _version(_kubeconfig(tmp_path, url, ca, {"tokenFile": "token"}))["authorization"] == "Bearer t0ken-from-file"


def test_the_server_is_verified_unless_the_kubeconfig_says_not_to(tmp_path, server):
    url, ca, _ = server
    with pytest.raises(ResourceUnavailable, match="not trusted"):
        _version(_kubeconfig(tmp_path, url, trustme.CA(), {"token": "t"}))
    assert _version(_kubeconfig(tmp_path, url, None, {"token": "t"}, **{"insecure-skip-tls-verify": True}))["gitVersion"]


def test_an_unverified_server_is_said_once_in_the_notes_not_at_every_request(tmp_path, server):
    url, _, _ = server
    path = _kubeconfig(tmp_path, url, None, {"token": "t"}, **{"insecure-skip-tls-verify": True})
    out = subprocess.run([sys.executable, "-m", "mcdiag", "run", "k8s-version", "--kubeconfig", path,
                          "--report-dir", str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert "InsecureRequestWarning" not in out.stderr + out.stdout
    notes = json.loads((tmp_path / "r" / "mcdiag.json").read_text())["notes"]
    assert [n for n in notes if "not verified (insecure-skip-tls-verify" in n], notes


def test_loading_a_kubeconfig_imports_nothing_of_the_kubernetes_client(tmp_path, server):
    url, ca, _ = server
    path = _kubeconfig(tmp_path, url, ca, {"token": "t"})
    code = ("import sys; from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster; "
            f"load_cluster(ClusterSpec({path!r}), 5.0).get('/version'); "
            "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
