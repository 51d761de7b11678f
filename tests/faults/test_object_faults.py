"""Fault matrix, objects: malformed objects and planted secrets in the shipped Submariner and Netmaker pairs.

Malformed objects (wrong types where a real API server would enforce a schema)
must become results that name the object and the field, never "internal error".
Planted secrets, of every shape the redaction knows, must appear in no byte any
run writes: ``mcdiag gather`` (the snapshot), ``mcdiag all --from-snapshot`` (its
reports), and once all together a live ``mcdiag all --passive``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import trustme

from tests.conftest import PAIRS, pair_objects
from tests.faults.harness import Expect, execute, judge


def every(objs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objs if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]


def start(emulate, pair: str, mutate: Callable[[dict[str, list[dict]]], None]) -> tuple[Any, list[str]]:
    objs = pair_objects(pair)
    mutate(objs)
    _, names, options = PAIRS[pair]
    clusters = emulate(objs, **options)
    return clusters, clusters.args(*names)


# ---------------------------------------------------------------------------------------------
# Malformed objects
# ---------------------------------------------------------------------------------------------
def _submariner_spec_string(o):
    for cr in every(o["cluster"], "Submariner"):
        cr["spec"] = "broker: k8s"


def _submariner_status_list(o):
    for cr in every(o["cluster"], "Submariner"):
        cr["status"] = ["running"]


def _labels_null(o):
    for node in every(o["cluster"], "Node"):
        node["metadata"]["labels"] = None
        node["metadata"]["annotations"] = None


def _gateway_connections_string(o):
    for gw in every(o["cluster"], "Gateway"):
        gw["status"]["connections"] = "connected"


def _gateway_connection_element(o):
    for gw in every(o["cluster"], "Gateway"):
        gw["status"]["connections"] = ["connected"]


def _endpoint_subnets_string(o):
    for ep in every(o["cluster"], "Endpoint"):
        ep["spec"]["subnets"] = "10.96.0.0/16"


def _endpoint_backend_config_list(o):
    for ep in every(o["cluster"], "Endpoint"):
        ep["spec"]["backend_config"] = ["natt"]


def _label_value_number(o):
    for node in every(o["cluster"], "Node")[:1]:
        node["metadata"]["labels"]["submariner.io/gateway"] = True


def _namespace_uid_number(o):
    for ns in every(o["cluster"], "Namespace"):
        if ns["metadata"]["name"] == "submariner-k8s-broker":  # a namespace mcdiag reads (by name, metadata only)
            ns["metadata"]["uid"] = 12345


def _nulls_everywhere(o):
    for obj in o["cluster"]:
        if obj["kind"] in ("DaemonSet", "Deployment"):
            obj["status"] = None
        if obj["kind"] == "ConfigMap":
            obj["data"] = None
        if obj["kind"] == "Pod":
            obj["spec"]["containers"] = None
            obj["status"] = None


def _unicode(o):
    for node in every(o["cluster"], "Node")[:1]:
        node["metadata"]["annotations"] = {**(node["metadata"].get("annotations") or {}), "备注": "网关节点 ✓ \u202e"}


def _huge_annotation(o):
    for node in every(o["cluster"], "Node")[:1]:
        node["metadata"]["annotations"] = {**(node["metadata"].get("annotations") or {}), "blob": "x" * (1 << 20)}


SUB = "submariner-operator/submariner"
MALFORMED = [
    ("submariner-spec-string", "the Submariner CR's spec is a string", _submariner_spec_string,
     Expect(1, {"*[cluster]": ("error", rf"Submariner {SUB}: spec is the string 'broker: k8s' where an object belongs")})),
    ("submariner-status-list", "the Submariner CR's status is a list", _submariner_status_list,
     Expect(1, {"*[cluster]": ("error", rf"Submariner {SUB}: status is a list where an object belongs")})),
    ("labels-null", "labels and annotations null on every node", _labels_null,
     Expect((0, 1), {"api-access[cluster]": ("pass", "answers")})),
    ("gateway-connections-string", "a Gateway's status.connections is a string", _gateway_connections_string,
     Expect(1, {"*[cluster]": ("error", r"Gateway .*: status\.connections is the string 'connected' where a list belongs")})),
    ("gateway-connection-element", "a Gateway's status.connections holds a string", _gateway_connection_element,
     Expect(1, {"*[cluster]": ("error", r"status\.connections\[0\] is the string 'connected' where an object belongs")})),
    ("endpoint-subnets-string", "an Endpoint's spec.subnets is a string", _endpoint_subnets_string,
     Expect(1, {"*[cluster]": ("error", r"Endpoint .*: spec\.subnets is the string '10\.96\.0\.0/16' where a list belongs")})),
    ("endpoint-backend-config-list", "an Endpoint's spec.backend_config is a list", _endpoint_backend_config_list,
     Expect(1, {"*[cluster]": ("error", r"spec\.backend_config is a list where an object belongs")})),
    ("label-value-boolean", "a node label's value is a boolean", _label_value_number,
     Expect(1, {"api-access[cluster]": ("error", r"Node .*: metadata\.labels\['submariner\.io/gateway'\] is a boolean")})),
    ("namespace-uid-number", "a namespace's uid is a number", _namespace_uid_number,
     Expect(1, {"*[cluster]": ("error", r"Namespace .*: metadata\.uid is a number where a string belongs")})),
    ("nulls-everywhere", "null status, data and containers in workloads, ConfigMaps and pods", _nulls_everywhere,
     Expect((0, 1), {"api-access[cluster]": ("pass", "answers")})),
    ("unicode-annotation", "non-ASCII and bidi characters in an annotation", _unicode,
     Expect((0, 1), {"api-access[cluster]": ("pass", "answers")})),
    ("huge-annotation", "a 1 MiB annotation", _huge_annotation, Expect((0, 1), {"api-access[cluster]": ("pass", "answers")})),
]


@pytest.mark.parametrize(("cid", "fault", "mutate", "expect"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_object(cid, fault, mutate, expect, emulate, workdir):
    clusters, args = start(emulate, "submariner", mutate)
    run = execute(["all", "--passive", *args, "--request-timeout", "5"], workdir, bound=60)
    obs = judge(cid, "objects", fault, expect, [run], bound=60, secrets=[e.token for e in clusters.emulators.values()])
    assert obs.ok, obs.problems


# ---------------------------------------------------------------------------------------------
# Planted secrets
# ---------------------------------------------------------------------------------------------
def _key_pem() -> str:
    return trustme.CA().issue_cert("x").private_key_pem.bytes().decode()


def _jwt(secret: str) -> str:
    def seg(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{seg({'alg': 'RS256', 'kid': 'k'})}.{seg({'sub': 'system:serviceaccount:x:y'})}.{secret}"


def _netmaker_token(secret: str) -> str:
    return base64.b64encode(json.dumps({"apiconnstring": "api.nm.example.com:443", "network": "dc1-k3s",
                                        "key": secret, "localrange": ""}).encode()).decode()


def _container(objs: list[dict], kind: str = "DaemonSet") -> dict:
    workload = every(objs, kind)[0]
    return workload["spec"]["template"]["spec"]["containers"][0]


def _annotate(objs: list[dict], key: str, value: str) -> None:
    node = every(objs, "Node")[0]
    node["metadata"]["annotations"] = {**(node["metadata"].get("annotations") or {}), key: value}


def _env(name: str, value: str) -> Callable[[list[dict]], None]:
    return lambda objs: _container(objs).setdefault("env", []).append({"name": name, "value": value})


def _arg(value: str) -> Callable[[list[dict]], None]:
    return lambda objs: _container(objs).setdefault("args", []).append(value)


def _configmap_line(line: str) -> Callable[[list[dict]], None]:
    def plant(objs: list[dict]) -> None:
        name = f"notes-{sum(1 for o in objs if o['metadata']['name'].startswith('notes-'))}"
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "kube-system"},
                     "data": {"setup.conf": f"# how this cluster was set up\nregion: eu-1\n{line}\nreplicas: 3\n"}})
    return plant


def _cr_field(field: str, value: str) -> Callable[[list[dict]], None]:
    def plant(objs: list[dict]) -> None:
        every(objs, "Submariner")[0]["spec"][field] = value
    return plant


def _status_message(value: str) -> Callable[[list[dict]], None]:
    def plant(objs: list[dict]) -> None:
        for gw in every(objs, "Gateway"):
            gw["status"]["statusFailure"] = value
    return plant


K = "planted"
SECRETS: list[tuple[str, str, str, Callable[[str], Callable[[list[dict]], None]]]] = [
    ("env-url-userinfo", "env SUBMARINER_BROKER_URL=https://admin:SECRET@broker", f"{K}-env-url-pw-1",
     lambda s: _env("SUBMARINER_BROKER_URL", f"https://admin:{s}@broker.example:6443")),
    ("env-pass-name", "env BROKER_PASS=SECRET (a name that does not say password)", f"{K}-broker-pass-2",
     lambda s: _env("BROKER_PASS", s)),
    ("env-api-key", "env API_KEY=SECRET", f"{K}-api-key-3", lambda s: _env("API_KEY", s)),
    ("env-postgres-url", "env DATABASE=postgres://user:SECRET@db/x", f"{K}-pg-pw-4",
     lambda s: _env("DATABASE", f"postgres://mcd:{s}@db.example:5432/x")),
    ("arg-broker-url", "arg --broker-url=https://u:SECRET@broker", f"{K}-arg-url-pw-5",
     lambda s: _arg(f"--broker-url=https://u:{s}@broker.example:6443")),
    ("arg-password-flag", "args --password SECRET", f"{K}-arg-password-6",
     lambda s: (lambda objs: _container(objs).setdefault("args", []).extend(["--password", s]))),
    ("arg-netmaker-token", "arg -t BASE64 Netmaker access token (key inside)", f"{K}-nm-key-7",
     lambda s: (lambda objs: _container(objs).setdefault("args", []).extend(["-t", _netmaker_token(s)]))),
    ("annotation-token-pair", "annotation value `token=SECRET`", f"{K}-ann-token-8",
     lambda s: (lambda objs: _annotate(objs, "example.com/notes", f"joined with token={s} yesterday"))),
    ("annotation-netclient-join", "annotation value `netclient join -t SECRET`", f"{K}-ann-join-9",
     lambda s: (lambda objs: _annotate(objs, "example.com/setup", f"netclient join -t {s} -n dc1-k3s"))),
    ("annotation-privkey-key", "annotation whose key ends in privkey", f"{K}-ann-privkey-10",
     lambda s: (lambda objs: _annotate(objs, "wireguard.example.com/privkey", s))),
    ("annotation-jwt", "a service-account JWT in an annotation", f"{K}-jwt-sig-11",
     lambda s: (lambda objs: _annotate(objs, "example.com/debug", f"used {_jwt(s.replace('-', ''))} to log in"))),
    ("annotation-bearer", "annotation value `Authorization: Bearer SECRET`", f"{K}-bearer-12",
     lambda s: (lambda objs: _annotate(objs, "example.com/curl", f"curl -H 'Authorization: Bearer {s}' https://x"))),
    ("cr-broker-url-userinfo", "spec.brokerK8sApiServer https://u:SECRET@broker", f"{K}-cr-url-pw-13",
     lambda s: _cr_field("brokerK8sApiServer", f"https://u:{s}@broker.example:6443")),
    ("configmap-masterkey", "ConfigMap line `masterkey: SECRET`", f"{K}-masterkey-14",
     lambda s: _configmap_line(f"masterkey: {s}")),
    ("configmap-env-line", "ConfigMap line `DB_PASSWORD=SECRET`", f"{K}-cm-dbpw-15",
     lambda s: _configmap_line(f"DB_PASSWORD={s}")),
    ("status-message-password", "a status message holding password=SECRET", f"{K}-status-pw-16",
     lambda s: _status_message(f"cannot log in to broker with password={s}")),
    ("annotation-url-token-user", "annotation value https://TOKEN@git.example/x", f"{K}-url-token-17",
     lambda s: (lambda objs: _annotate(objs, "example.com/source", f"https://{s}@git.example.com/infra.git"))),
]


def _plant_pem(objs: list[dict]) -> str:
    pem = _key_pem()
    body = [ln for ln in pem.splitlines() if "-----" not in ln][1]
    _configmap_line("tls.key: |\n" + "\n".join("  " + ln for ln in pem.splitlines()))(objs)
    b64 = base64.b64encode(_key_pem().encode()).decode()
    _annotate(objs, "example.com/client-key-data", b64)
    _annotate(objs, "example.com/key-b64", f"key is {b64}")
    return body


def _offline_and_gather(workdir, args: list[str], secrets: list[str], cid: str, fault: str, expect: Expect) -> None:
    snap = workdir / "snap"
    gather = execute(["gather", *args, "-o", str(snap)], workdir, bound=60)
    offline = execute(["all", "--from-snapshot", str(snap)], workdir, bound=60)
    obs = judge(cid, "secrets", fault, expect, [offline, gather], bound=120, secrets=secrets)
    assert obs.ok, obs.problems
    assert gather.code == 0, gather.err.decode()[-500:]


@pytest.mark.parametrize(("cid", "fault", "secret", "plant"), SECRETS, ids=[c[0] for c in SECRETS])
def test_planted_secret(cid, fault, secret, plant, emulate, workdir):
    clusters, args = start(emulate, "submariner", lambda o: plant(secret)(o["cluster"]))
    expect = Expect((0, 1), {"api-access[cluster]": ("pass", "answers")})
    _offline_and_gather(workdir, args, [secret, *(e.token for e in clusters.emulators.values())], cid, fault, expect)


def test_planted_pem_private_keys(emulate, workdir):
    found: list[str] = []
    clusters, args = start(emulate, "submariner", lambda o: found.append(_plant_pem(o["cluster"])))
    expect = Expect((0, 1), {"api-access[cluster]": ("pass", "answers")})
    _offline_and_gather(workdir, args, [found[0], *(e.token for e in clusters.emulators.values())],
                        "pem-private-keys", "PEM private keys in a ConfigMap and base64 PEM in annotations", expect)


def test_every_secret_at_once_live_and_offline(emulate, workdir):
    """All the shapes above in one pair (Netmaker's too), through a live run, gather, and an offline run."""
    secrets = [s for _, _, s, _ in SECRETS]

    def plant_all(o: dict[str, list[dict]]) -> None:
        for _, _, secret, plant in SECRETS:
            plant(secret)(o["cluster"])

    clusters, args = start(emulate, "submariner", plant_all)
    tokens = [e.token for e in clusters.emulators.values()]
    live = execute(["all", "--passive", *args, "--report-dir", "live"], workdir, bound=60)
    live.report_dir = workdir / "live"
    snap = workdir / "snap"
    gather = execute(["gather", *args, "-o", str(snap)], workdir, bound=60)
    offline = execute(["all", "--from-snapshot", str(snap)], workdir, bound=60)
    expect = Expect((0, 1), {"api-access[cluster]": ("pass", "answers")})
    obs = judge("every-secret-at-once", "secrets", "all 17 planted shapes at once: live run, gather, offline run",
                expect, [live, gather, offline], bound=180, secrets=secrets + tokens)
    assert obs.ok, obs.problems


def test_netmaker_tokens(emulate, workdir):
    """The Netmaker pair's own planted token and master key, plus a real-shaped base64 access token in TOKEN."""
    secret = f"{K}-nm-token-key-18"

    def plant(o: dict[str, list[dict]]) -> None:
        for objs in o.values():
            for ds in every(objs, "DaemonSet"):
                for c in ds["spec"]["template"]["spec"]["containers"]:
                    for e in c.get("env") or []:
                        if e.get("name") == "TOKEN":
                            e["value"] = _netmaker_token(secret)

    clusters, args = start(emulate, "netmaker", plant)
    expect = Expect((0, 1), {"api-access[dc1]": ("pass", "answers")})
    _offline_and_gather(workdir, args, [secret, _netmaker_token(secret), "planted-netmaker-master-key-DO-NOT-LEAK",
                                        *(e.token for e in clusters.emulators.values())],
                        "netmaker-access-token", "Netmaker TOKEN env holding a base64 access token", expect)
