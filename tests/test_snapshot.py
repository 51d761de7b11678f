"""Offline snapshots: `mcdiag gather` then `mcdiag all --from-snapshot` gives the live verdicts, and leaks nothing."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mcdiag.errors import ResourceUnavailable, UsageError
from mcdiag.facts.netmaker import NETCLIENT_GATEWAY_DEPLOYMENTS, NETMAKER_PODS
from mcdiag.facts.networks import WEAVE_POD
from mcdiag.gather.resources import Resource, core
from mcdiag.gather.snapshot import SnapshotSource, load_snapshot_views, read_manifest
from tests.conftest import FIXTURES, PAIRS, fixture_objects, pair_objects

CALICO_API = [{"group": "projectcalico.org", "version": "v3", "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}]
FACTS = ("name", "context", "server", "provider", "cni", "k8s_version", "pod_cidrs", "service_cidrs")
_SECRET_ENV = re.compile(r"token|secret|psk|passw|key", re.IGNORECASE)
_SECRET_FIELD = re.compile(r"(token|psk|password)$", re.IGNORECASE)


def planted_secrets(objects: list[dict]) -> set[str]:
    """Every secret value in the fixtures: Secret data (but CA certificates), secret-named env vars, token/PSK fields."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("kind") == "Secret":
                for key, encoded in (value.get("data") or {}).items():
                    if key not in ("ca.crt", "namespace"):
                        found.update((encoded, base64.b64decode(encoded).decode("utf-8", "replace")))
                found.update((value.get("stringData") or {}).values())
            if isinstance(value.get("name"), str) and isinstance(value.get("value"), str) and _SECRET_ENV.search(value["name"]):
                found.add(value["value"])
            for key, item in value.items():
                if isinstance(item, str) and _SECRET_FIELD.search(key):
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(objects)
    return {s for s in found if len(s) >= 12 and s != "<redacted>"}


def assert_nothing_leaks(secrets: set[str], paths: list[Path], texts: list[str]) -> None:
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    assert files
    for f in files:
        content = f.read_text(encoding="utf-8", errors="replace")
        leaked = [s[:16] for s in secrets if s in content]
        assert not leaked, f"{f}: {leaked}"
    for text in texts:
        assert not [s for s in secrets if s in text]


def outcome(run) -> dict[str, tuple[str, str]]:
    out = {}
    for r in run.json["results"]:
        out[f"{r['check']}[{'|'.join(r['clusters'])}]"] = (r["status"], r["message"])
    return out


@pytest.fixture(scope="module", autouse=True)
def _load_fixtures():
    """Parse the fixture YAML once per module, outside the tests' own time."""
    for directory, names, _ in PAIRS.values():
        for name in names:
            if (FIXTURES / directory / name).is_dir():
                fixture_objects(directory, name)


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_from_snapshot_gives_the_live_verdicts_offline(emulate, mcdiag, tmp_path, pair):
    objects = pair_objects(pair)
    clusters = emulate(objects, **PAIRS[pair][2])
    live = mcdiag("all", "--passive", *clusters.args())
    snap = tmp_path / "snap"
    gather = mcdiag("gather", *clusters.args(), "-o", str(snap))
    assert gather.code == 0, gather.err
    for emu in clusters.emulators.values():
        emu.clear_requests()
    offline = mcdiag("all", "--from-snapshot", str(snap))
    assert all(emu.requests == [] for emu in clusters.emulators.values())  # offline indeed

    assert offline.code == live.code
    assert offline.verdicts() == live.verdicts()
    assert outcome(offline) == outcome(live)
    assert [{k: c[k] for k in FACTS} for c in offline.json["clusters"]] == [{k: c[k] for k in FACTS} for c in live.json["clusters"]]

    secrets = {s for objs in objects.values() for s in planted_secrets(objs)}
    assert {"planted-broker-token-DO-NOT-LEAK", "planted-psk-DO-NOT-LEAK"} <= secrets if pair == "submariner" else (
        {"planted-netmaker-token-DO-NOT-LEAK", "planted-netmaker-master-key-DO-NOT-LEAK"} <= secrets)
    secrets |= {emu.token for emu in clusters.emulators.values()}
    runs = (live, gather, offline)
    assert_nothing_leaks(secrets, [snap, live.report_dir, offline.report_dir], [t for r in runs for t in (r.out, r.err)])


def test_snapshot_layout_and_manifest(emulate, mcdiag, tmp_path):
    clusters = emulate(pair_objects("netmaker"), version="v1.28.5+k3s1")
    snap = tmp_path / "snap"
    gather = mcdiag("gather", *clusters.kube_args("dc1", "cloud"), "-o", str(snap))
    assert gather.code == 0 and "--from-snapshot" in gather.out
    assert "without being declared" not in gather.out + gather.err  # every query is a declared one (or narrower)
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["tool"] == "mcdiag" and manifest["version"] and manifest["created"]
    assert [c["name"] for c in manifest["clusters"]] == ["dc1-ctx", "cloud-ctx"]  # context names (no Submariner id)
    assert [c["server"] for c in manifest["clusters"]] == [clusters["dc1"].url, clusters["cloud"].url]
    assert "netclient-deployment" in manifest["checks"] and "api-access" in manifest["checks"]
    dc1 = json.loads((snap / "dc1-ctx" / "cluster.json").read_text())
    assert dc1["version"]["gitVersion"] == "v1.28.5+k3s1" and "apps/v1" in dc1["discovery"]
    assert {"v1/nodes", NETMAKER_PODS.key, "apps/v1/daemonsets", NETCLIENT_GATEWAY_DEPLOYMENTS.key,
            "v1/configmaps@kube-system"} <= set(dc1["lists"])
    assert "v1/pods" not in dc1["lists"] and "apps/v1/deployments" not in dc1["lists"]  # never every pod or Deployment
    nodes = json.loads((snap / "dc1-ctx" / dc1["lists"]["v1/nodes"]).read_text())
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["datacenter1", "datacenter2", "master1"]
    daemonsets = json.loads((snap / "dc1-ctx" / dc1["lists"]["apps/v1/daemonsets"]).read_text())
    env = daemonsets["items"][0]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env}["TOKEN"] == "<redacted>"
    assert {e["name"]: e["value"] for e in env}["NETWORK"] == "dc1-k3s"
    # A resource the server does not serve is saved as such (ServiceCIDR v1 needs Kubernetes 1.33).
    assert json.loads((snap / "dc1-ctx" / dc1["lists"]["networking.k8s.io/v1/servicecidrs"]).read_text())["error"]["kind"] == "not-served"
    # Never the kubeconfig: no file names it or holds its parts.
    for f in snap.rglob("*.json"):
        text = f.read_text()
        assert "current-context" not in text and "certificate-authority-data" not in text and clusters["dc1"].token not in text
        assert f.stat().st_mode & 0o077 == 0

    views = load_snapshot_views(snap, type("O", (), {"provider": None})())
    assert [v.name for v in views] == ["dc1-ctx", "cloud-ctx"] and all(v.spec.explicit_name for v in views)
    offline = mcdiag("all", "--from-snapshot", str(snap))
    assert offline.code == 0 and [c["name"] for c in offline.json["clusters"]] == ["dc1-ctx", "cloud-ctx"]


@pytest.mark.parametrize(("key", "check"), [(NETMAKER_PODS.key, "netclient-deployment"), ("apps/v1/daemonsets", "coredns-forwarding"),
                                            (WEAVE_POD.key, "cni-support")])
def test_a_list_missing_from_the_snapshot_is_an_error_not_a_pass(emulate, mcdiag, tmp_path, key, check):
    clusters = emulate(pair_objects("netmaker"), version="v1.28.5+k3s1")
    snap = tmp_path / "snap"
    assert mcdiag("gather", *clusters.args(), "-o", str(snap)).code == 0
    index_file = snap / "dc1" / "cluster.json"
    index = json.loads(index_file.read_text())
    (snap / "dc1" / index["lists"].pop(key)).unlink()
    index_file.write_text(json.dumps(index))

    run = mcdiag("all", "--from-snapshot", str(snap))
    assert run.code == 1
    result = run.result(check, "dc1")
    assert result["status"] == "error" and "not in the snapshot" in result["message"]
    assert run.status(check, "cloud") == "pass"


def test_unreachable_cluster_replays_as_unreachable(emulate, mcdiag, tmp_path):
    clusters = emulate(pair_objects("netmaker"), version="v1.28.5+k3s1")
    clusters["cloud"].stop()
    live = mcdiag("all", "--passive", *clusters.args())
    assert live.status("api-access", "cloud") == "error"
    snap = tmp_path / "snap"
    gather = mcdiag("gather", *clusters.args(), "-o", str(snap))
    assert gather.code == 1 and "unreachable" in gather.out
    assert read_manifest(snap)["clusters"][1]["unreachable"]
    offline = mcdiag("all", "--from-snapshot", str(snap))
    assert offline.verdicts() == live.verdicts() and offline.code == 1
    assert offline.status("netclient-deployment", "cloud") == "skip"


def test_credentials_in_unexpected_places_are_scrubbed(emulate, mcdiag, tmp_path):
    token = "kubeconfig-bearer-token-0123456789abcdef"
    objects = pair_objects("netmaker")
    objects["dc1"].append(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ops-notes", "namespace": "kube-system"},
         "data": {"notes": f"admin login: {token}"}}
    )
    clusters = emulate(objects, version="v1.28.5+k3s1", token=token)
    snap = tmp_path / "snap"
    gather = mcdiag("gather", *clusters.args(), "-o", str(snap))
    assert gather.code == 0
    index = json.loads((snap / "dc1" / "cluster.json").read_text())["lists"]
    configmaps = json.loads((snap / "dc1" / index["v1/configmaps@kube-system"]).read_text())
    notes = next(c for c in configmaps["items"] if c["metadata"]["name"] == "ops-notes")
    assert notes["data"]["notes"] == "admin login: <redacted>"
    assert_nothing_leaks({token}, [snap], [gather.out, gather.err])


def test_usage_errors_exit_2(emulate, mcdiag, tmp_path):
    clusters = emulate(pair_objects("netmaker"), version="v1.28.5+k3s1")
    full = tmp_path / "full"
    full.mkdir()
    (full / "something").write_text("x")
    for args, fragment in (
        (["gather", *clusters.args(), "-o", str(full)], "not empty"),
        (["all", "--from-snapshot", str(full)], "manifest.json not found"),
        (["all", "--from-snapshot", str(tmp_path / "nope")], "not a directory"),
    ):
        run = mcdiag(*args)
        assert run.code == 2, args
        lines = run.err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in run.err
    with pytest.raises(SystemExit) as exc:
        mcdiag("gather", *clusters.args())  # -o is required
    assert exc.value.code == 2


def test_snapshot_source_contract(tmp_path):
    cdir = tmp_path / "c"
    (cdir / "lists").mkdir(parents=True)
    (cdir / "lists" / "v1_configmaps.json").write_text(json.dumps({"key": "v1/configmaps", "items": [
        {"metadata": {"name": "a", "namespace": "kube-system"}}, {"metadata": {"name": "b", "namespace": "default"}}]}))
    (cdir / "lists" / "broken.json").write_text("{not json")
    (cdir / "lists" / "v1_secrets.json").write_text(json.dumps({"key": "v1/secrets", "error": {
        "kind": "forbidden", "message": "list secrets: 403 Forbidden", "status": 403}}))
    (cdir / "cluster.json").write_text(json.dumps({
        "name": "c", "version": {"gitVersion": "v1.29.3"}, "discovery": ["v1", "apps/v1"],
        "lists": {"v1/configmaps": "lists/v1_configmaps.json", "v1/services": "lists/broken.json",
                  "v1/secrets": "lists/v1_secrets.json", "v1/nodes": "../../outside.json"}}))
    src = SnapshotSource(cdir, "c")
    assert src.version()["gitVersion"] == "v1.29.3" and "apps/v1" in src.served_group_versions()
    assert [o["metadata"]["name"] for o in src.list(core("configmaps", "kube-system"))] == ["a"]
    # any query a recorded one covers is cut out of it: by name, selected, limited, metadata only
    assert [o["metadata"]["name"] for o in src.list(core("configmaps").named("b"))] == ["b"]
    assert src.list(core("configmaps").where(labels="app=x")) == []
    assert [o["metadata"]["name"] for o in src.list(core("configmaps").first(1))] == ["a"]
    assert src.list(core("configmaps", "default").metadata()) == [
        {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {"name": "b", "namespace": "default"}}]
    for res, kind, words in (
        (core("pods"), "error", "not in the snapshot"),
        (core("services"), "error", "broken.json"),
        (core("secrets"), "forbidden", "403"),
        (core("nodes"), "error", "outside"),
        (Resource("apps", "v1", "daemonsets"), "error", "not in the snapshot"),
    ):
        with pytest.raises(ResourceUnavailable) as exc:
            src.list(res)
        assert exc.value.kind == kind and words in exc.value.message
    (tmp_path / "manifest.json").write_text(json.dumps({"tool": "mcdiag", "format": 99, "clusters": [{"name": "c", "dir": "c"}]}))
    with pytest.raises(UsageError, match="newer"):
        read_manifest(tmp_path)
