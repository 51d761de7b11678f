"""Fault matrix, kubeconfigs: cluster west's kubeconfig is broken one way at a time.

A kubeconfig that cannot work is a usage error (exit 2, one line naming the
cause); one that loads but cannot reach or authenticate is a diagnosis of that
cluster (``api-access[west]`` ``error`` naming the cause, reports written).
Exec credential plugins are real executables here.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from tests.faults.harness import Expect, execute, judge

SECRET = "S3CRET-kubeconfig-planted-0451"


def access_error(pattern: str, **more: tuple[str, str]) -> Expect:
    return Expect(1, {"api-access[west]": ("error", pattern), "api-access[east]": ("pass", "answers"), **more})


def usage(pattern: str) -> Expect:
    return Expect(2, stderr=r"^mcdiag: error: .*" + pattern, reports=False)


def script(folder: Path, name: str, body: str) -> str:
    path = folder / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def exec_user(command: str, args: list[str] | None = None, env: list[dict] | None = None) -> dict[str, Any]:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command, "args": args or [],
                     **({"env": env} if env else {})}}


def credential(token: str) -> str:
    return json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                       "status": {"token": token}})


# Each mutation gets (kubeconfig dict of west, the emulator, a scratch folder) and returns the dict to write
# (or a str/bytes to write as the file, or a Path to use as the kubeconfig).
def _exec_hang(kc, emu, d):
    kc["users"][0]["user"] = exec_user("sleep", ["600"])


def _exec_missing(kc, emu, d):
    kc["users"][0]["user"] = exec_user("mcdiag-no-such-credential-plugin")


def _exec_fails(kc, emu, d):
    cmd = script(d, "fails.sh", f"#!/bin/sh\necho 'login failed for --token {SECRET}' >&2\nexit 1\n")
    kc["users"][0]["user"] = exec_user(cmd, ["--token", SECRET])


def _exec_garbage(kc, emu, d):
    kc["users"][0]["user"] = exec_user(script(d, "garbage.sh", "#!/bin/sh\necho hello\n"))


def _exec_no_status(kc, emu, d):
    out = json.dumps({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1"})
    kc["users"][0]["user"] = exec_user(script(d, "nostatus.sh", f"#!/bin/sh\necho '{out}'\n"))


def _exec_ok(kc, emu, d):
    kc["users"][0]["user"] = exec_user(script(d, "ok.sh", f"#!/bin/sh\necho '{credential(emu.token)}'\n"),
                                       env=[{"name": "PLUGIN_PASSWORD", "value": SECRET}])


def _exec_relative(kc, emu, d):
    script(d, "rel.sh", f"#!/bin/sh\necho '{credential(emu.token)}'\n")
    kc["users"][0]["user"] = exec_user("./rel.sh")


def _exec_wrong_token(kc, emu, d):
    kc["users"][0]["user"] = exec_user(script(d, "wrong.sh", f"#!/bin/sh\necho '{credential(SECRET)}'\n"))


def _exec_killed(kc, emu, d):
    kc["users"][0]["user"] = exec_user(script(d, "killed.sh", "#!/bin/sh\nkill -9 $$\n"))


def _exec_spawns_and_hangs(kc, emu, d):
    kc["users"][0]["user"] = exec_user(script(d, "spawn.sh", "#!/bin/sh\nsleep 600 &\nsleep 600\n"))


def _password_in_url(kc, emu, d):
    kc["clusters"][0]["cluster"]["server"] = emu.url.replace("https://", f"https://admin:{SECRET}@")


def _token_as_userinfo(kc, emu, d):
    kc["clusters"][0]["cluster"]["server"] = emu.url.replace("https://", f"https://{SECRET}@")


def _no_scheme(kc, emu, d):
    kc["clusters"][0]["cluster"]["server"] = emu.url.removeprefix("https://")


def _ftp_scheme(kc, emu, d):
    kc["clusters"][0]["cluster"]["server"] = emu.url.replace("https://", "ftp://")


def _bad_port(kc, emu, d):
    kc["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:99999"


def _undefined_user(kc, emu, d):
    kc["contexts"][0]["context"]["user"] = "ghost"


def _undefined_cluster(kc, emu, d):
    kc["contexts"][0]["context"]["cluster"] = "ghost"


def _no_server(kc, emu, d):
    del kc["clusters"][0]["cluster"]["server"]


def _cert_garbage(kc, emu, d):
    kc["users"][0]["user"] = {"client-certificate-data": base64.b64encode(b"not a certificate").decode(),
                              "client-key-data": base64.b64encode(f"not a key {SECRET}".encode()).decode()}


def _cert_without_key(kc, emu, d):
    ca = trustme.CA()
    cert = ca.issue_cert("west-admin")
    kc["users"][0]["user"]["client-certificate-data"] = base64.b64encode(cert.cert_chain_pems[0].bytes()).decode()


def _cert_key_mismatch(kc, emu, d):
    ca = trustme.CA()
    one, two = ca.issue_cert("a"), ca.issue_cert("b")
    kc["users"][0]["user"]["client-certificate-data"] = base64.b64encode(one.cert_chain_pems[0].bytes()).decode()
    kc["users"][0]["user"]["client-key-data"] = base64.b64encode(two.private_key_pem.bytes()).decode()


def _client_cert_ok(kc, emu, d):
    """A valid client certificate and key besides the token: the key must never be printed."""
    ca = trustme.CA()
    cert = ca.issue_cert("west-admin")
    kc["users"][0]["user"]["client-certificate-data"] = base64.b64encode(cert.cert_chain_pems[0].bytes()).decode()
    kc["users"][0]["user"]["client-key-data"] = base64.b64encode(cert.private_key_pem.bytes()).decode()


def _ca_not_base64(kc, emu, d):
    kc["clusters"][0]["cluster"]["certificate-authority-data"] = "this is *not* base64!"


def _ca_not_pem(kc, emu, d):
    kc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(b"garbage").decode()


def _ca_file_missing(kc, emu, d):
    del kc["clusters"][0]["cluster"]["certificate-authority-data"]
    kc["clusters"][0]["cluster"]["certificate-authority"] = str(d / "nowhere" / "ca.crt")


def _ca_other(kc, emu, d):
    kc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(trustme.CA().cert_pem.bytes()).decode()


def _tls_server_name(kc, emu, d):
    kc["clusters"][0]["cluster"]["tls-server-name"] = "wrong.example"


def _insecure(kc, emu, d):
    del kc["clusters"][0]["cluster"]["certificate-authority-data"]
    kc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True


def _http_to_https(kc, emu, d):
    kc["clusters"][0]["cluster"]["server"] = emu.url.replace("https://", "http://")


def _proxy_refused(kc, emu, d):
    from mcdiag.lab.emulator.server import refused_url

    kc["clusters"][0]["cluster"]["proxy-url"] = refused_url().replace("https://", "http://")


def _proxy_bad_scheme(kc, emu, d):
    kc["clusters"][0]["cluster"]["proxy-url"] = "gopher://127.0.0.1:70"


def _refused(kc, emu, d):
    from mcdiag.lab.emulator.server import refused_url

    kc["clusters"][0]["cluster"]["server"] = refused_url()


def _wrong_token(kc, emu, d):
    kc["users"][0]["user"]["token"] = SECRET


def _token_file_missing(kc, emu, d):
    kc["users"][0]["user"] = {"tokenFile": str(d / "no-token")}


def _token_file(kc, emu, d):
    (d / "token").write_text(emu.token + "\n")
    kc["users"][0]["user"] = {"tokenFile": str(d / "token")}


def _auth_provider_gcp(kc, emu, d):
    kc["users"][0]["user"] = {"auth-provider": {"name": "gcp", "config": {"cmd-path": "gcloud"}}}


def _auth_provider_oidc(kc, emu, d):
    kc["users"][0]["user"] = {"auth-provider": {"name": "oidc", "config": {"id-token": emu.token,
                                                                             "refresh-token": SECRET}}}


def _no_current_context(kc, emu, d):
    del kc["current-context"]


def _empty_file(kc, emu, d):
    return ""


def _binary(kc, emu, d):
    return bytes(range(256)) * 4


def _yaml_list(kc, emu, d):
    return "- a\n- b\n"


def _bad_yaml(kc, emu, d):
    return "clusters: [\n  - {name: x\n"


def _deep_yaml(kc, emu, d):
    return "a: " + "[" * 20000 + "]" * 20000 + "\n"


def _contexts_string(kc, emu, d):
    kc["contexts"] = "everything"


def _directory(kc, emu, d):
    (d / "kc-dir").mkdir()
    return d / "kc-dir"


def _huge(kc, emu, d):
    return "# " + "x" * (17 << 20) + "\n"


def _exec_not_mapping(kc, emu, d):
    kc["users"][0]["user"] = {"exec": "aws eks get-token"}


CASES: list[tuple[str, str, Any, Expect, float]] = [
    ("exec-plugin-hangs", "exec plugin `sleep 600`", _exec_hang, access_error(r"'sleep' did not finish within 2s"), 30),
    ("exec-plugin-missing", "exec plugin not installed", _exec_missing,
     access_error(r"'mcdiag-no-such-credential-plugin' is not installed"), 30),
    ("exec-plugin-fails", "exec plugin exits 1, printing the --token argument on stderr", _exec_fails,
     access_error(r"exited with status 1: login failed for --token <redacted>"), 30),
    ("exec-plugin-garbage", "exec plugin prints `hello`", _exec_garbage, access_error(r"printed no ExecCredential"), 30),
    ("exec-plugin-no-status", "exec plugin prints an ExecCredential without status", _exec_no_status,
     access_error(r"without status"), 30),
    ("exec-plugin-ok", "exec plugin prints a valid ExecCredential (secret env)", _exec_ok,
     Expect(0, {"api-access[west]": ("pass", "answers")}), 30),
    ("exec-plugin-relative", "exec command ./rel.sh relative to the kubeconfig", _exec_relative,
     Expect(0, {"api-access[west]": ("pass", "answers")}), 30),
    ("exec-plugin-wrong-token", "exec plugin returns a token the server rejects", _exec_wrong_token,
     access_error(r"401 Unauthorized"), 30),
    ("exec-plugin-killed", "exec plugin dies of SIGKILL", _exec_killed, access_error(r"exited with status signal 9"), 30),
    ("exec-plugin-grandchild-hangs", "exec plugin leaves a child holding its output open", _exec_spawns_and_hangs,
     access_error(r"did not finish within 2s"), 30),
    ("exec-not-a-mapping", "users[].user.exec is a string", _exec_not_mapping, usage(r"exec is not a mapping"), 30),
    ("server-password", "server URL https://admin:PASSWORD@host (token auth too)", _password_in_url,
     Expect(0, {"api-access[west]": ("pass", r"answers")}), 30),
    ("server-token-userinfo", "server URL https://TOKEN@host", _token_as_userinfo,
     Expect(0, {"api-access[west]": ("pass", r"answers")}), 30),
    ("server-no-scheme", "server URL without https://", _no_scheme, usage(r"has no scheme; write https://"), 30),
    ("server-ftp-scheme", "server URL ftp://", _ftp_scheme, usage(r"must start with https://"), 30),
    ("server-bad-port", "server URL with port 99999", _bad_port, usage(r"cannot be parsed"), 30),
    ("server-missing", "cluster without server", _no_server, usage(r"has no server URL"), 30),
    ("undefined-user", "context names a user that is not defined", _undefined_user,
     usage(r"names user 'ghost', which is not defined"), 30),
    ("undefined-cluster", "context names a cluster that is not defined", _undefined_cluster,
     usage(r"names cluster 'ghost', which is not defined"), 30),
    ("client-cert-garbage", "client-certificate-data/client-key-data are base64 of garbage", _cert_garbage,
     usage(r"client-certificate and client-key are not a PEM certificate and key"), 30),
    ("client-cert-without-key", "client-certificate-data without client-key-data", _cert_without_key,
     usage(r"client-key missing"), 30),
    ("client-cert-key-mismatch", "client certificate and someone else's key", _cert_key_mismatch,
     usage(r"do not match|not a PEM certificate and key"), 30),
    ("client-cert-valid", "a valid client certificate and key beside the token", _client_cert_ok,
     Expect(0, {"api-access[west]": ("pass", "answers")}), 30),
    ("ca-not-base64", "certificate-authority-data is not base64", _ca_not_base64, usage(r"is not base64"), 30),
    ("ca-not-pem", "certificate-authority-data is base64 of garbage", _ca_not_pem,
     usage(r"certificate-authority is not a PEM certificate"), 30),
    ("ca-file-missing", "certificate-authority names a missing file", _ca_file_missing,
     usage(r"certificate-authority .* not found"), 30),
    ("ca-other", "another CA than the server's", _ca_other,
     access_error(r"^TLS with https://127\.0\.0\.1:\d+ failed: the server certificate is not trusted by the kubeconfig's CA$"),
     30),
    ("tls-server-name-wrong", "tls-server-name the certificate does not hold", _tls_server_name,
     access_error(r"not valid for this host name"), 30),
    ("insecure-skip-verify", "insecure-skip-tls-verify: true without a CA", _insecure,
     Expect(0, {"api-access[west]": ("pass", "answers")}), 30),
    ("http-to-https-port", "http:// to the HTTPS port", _http_to_https, access_error(r"closed before|cannot reach|not JSON"), 30),
    ("proxy-url-refused", "proxy-url where nothing listens", _proxy_refused,
     access_error(r"the proxy http://127\.0\.0\.1:\d+ \(proxy-url in the kubeconfig\) failed: connection refused"), 30),
    ("proxy-url-bad-scheme", "proxy-url gopher://", _proxy_bad_scheme, usage(r"proxy-url .* must be http"), 30),
    ("server-refused", "nothing listens at the server URL", _refused, access_error(r"refused: nothing listens there"), 30),
    ("token-wrong", "a token the server rejects", _wrong_token, access_error(r"401 Unauthorized"), 30),
    ("token-file-missing", "tokenFile names a missing file", _token_file_missing, usage(r"tokenFile .* not found"), 30),
    ("token-file", "token read from tokenFile", _token_file, Expect(0, {"api-access[west]": ("pass", "answers")}), 30),
    ("auth-provider-gcp", "legacy auth-provider gcp without a cached token", _auth_provider_gcp,
     usage(r"auth-provider 'gcp' has no cached token"), 30),
    ("auth-provider-oidc", "auth-provider oidc with a cached id-token (and a refresh token)", _auth_provider_oidc,
     Expect(0, {"api-access[west]": ("pass", "answers")}), 30),
    ("no-current-context", "no current-context and no --context", _no_current_context, usage(r"has no current-context"), 30),
    ("empty-file", "an empty file", _empty_file, usage(r"not a kubeconfig"), 30),
    ("binary-file", "1 KiB of binary", _binary, usage(r"cannot read it|not valid YAML|not a kubeconfig"), 30),
    ("yaml-list", "a YAML list", _yaml_list, usage(r"not a kubeconfig"), 30),
    ("bad-yaml", "YAML that does not parse", _bad_yaml, usage(r"not valid YAML at line"), 30),
    ("deep-yaml", "YAML nested 20,000 levels deep", _deep_yaml, usage(r"nested too deeply|not valid YAML"), 30),
    ("contexts-not-a-list", "contexts is a string", _contexts_string, usage(r"not a kubeconfig"), 30),
    ("a-directory", "the kubeconfig path is a directory", _directory, usage(r"is a directory"), 30),
    ("huge-file", "a 17 MiB file", _huge, usage(r"larger than 16 MiB"), 30),
]


@pytest.mark.parametrize(("cid", "fault", "mutate", "expect", "bound"), CASES, ids=[c[0] for c in CASES])
def test_kubeconfig_fault(cid, fault, mutate, expect, bound, healthy, tmp_path, workdir):
    emus, kcs = healthy
    emu = emus["west"]
    kc = copy.deepcopy(emu.kubeconfig_dict(context="west-ctx"))
    folder = tmp_path / "kc"
    folder.mkdir()
    out = mutate(kc, emu, folder)
    path = folder / "west.kubeconfig"
    if isinstance(out, Path):
        path = out
    elif isinstance(out, bytes):
        path.write_bytes(out)
    elif isinstance(out, str):
        path.write_text(out)
    else:
        path.write_text(yaml.safe_dump(kc))
    argv = ["all", "--passive", "--cluster", f"east={kcs['east']}", "--cluster", f"west={path}", "--request-timeout", "2"]
    run = execute(argv, workdir, bound=bound, env={"PATH": os.environ.get("PATH", "") + os.pathsep + os.path.dirname(sys.executable)})
    obs = judge(cid, "kubeconfig", fault, expect, [run], bound=bound, secrets=(SECRET, emu.token))
    assert obs.ok, obs.problems


def _same(kcs: dict[str, Path], folder: Path) -> list[str]:
    return ["all", "--passive", "--kubeconfig", str(kcs["west"]), "--remote-kubeconfig", str(kcs["west"])]


def _same_two_names(kcs: dict[str, Path], folder: Path) -> list[str]:
    copy_ = folder / "again.kubeconfig"
    copy_.write_text(kcs["west"].read_text().replace("west-ctx", "again-ctx"))
    return ["all", "--passive", "--cluster", f"one={kcs['west']}", "--cluster", f"two={copy_}"]


SAME = [
    ("same-kubeconfig-twice", "--kubeconfig and --remote-kubeconfig name one file", _same, ("west-ctx", "west-ctx-2")),
    ("same-server-two-names", "two names, two files, one API server", _same_two_names, ("one", "two")),
]


@pytest.mark.parametrize(("cid", "fault", "argv", "pair"), SAME, ids=[c[0] for c in SAME])
def test_same_api_server_is_reported_once(cid, fault, argv, pair, healthy, tmp_path, workdir):
    _, kcs = healthy
    a, b = pair
    expect = Expect(1, {f"*[{a}<->{b}]": ("error", r"are the same API server \(same server URL and CA"),
                        f"*[{b}->{a}]": ("skip", r"are one API server")},
                    notes=(r"are the same API server",))
    run = execute(argv(kcs, tmp_path), workdir, bound=30)
    obs = judge(cid, "kubeconfig", fault, expect, [run], bound=30)
    assert obs.ok, obs.problems
    data = json.loads((workdir / "reports" / "mcdiag.json").read_text())
    errors = [r for r in data["results"] if r["status"] in ("error", "fail")]
    assert len(errors) == 1, [(r["check"], r["message"]) for r in errors]  # once, not a cascade
