"""Netmaker networks from access tokens: netclient v0.9.x manifests (TOKEN only) and the older generation (NETWORK).

The ``netmaker`` fixture pair's netclient workloads are replaced by netmak8s's two manifest
generations: ``netmaker-v07`` (netclient v0.7.6.1: ``ACCESS_TOKEN`` plus ``NETWORK``, ``join -t``/``checkin -n``)
and ``netmaker-v09`` (the current v0.9.3: ``TOKEN`` only, the network inside the token). Both must judge
alike, and the token (and the key inside it) never leaves the view.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re

import pytest

from mcdiag.facts import netmaker
from mcdiag.gather.kubeconfig import ClusterSpec
from mcdiag.gather.redact import redact
from mcdiag.gather.view import ClusterView, with_read_facts
from tests.conftest import FIXTURES, GOLDEN, FakeSource, fake_view, load_yaml_dir, real_crds

K3S = "v1.28.5+k3s1"
PLANTED_KEY = "planted-netmaker-key-DO-NOT-LEAK"
NETCLIENT_KINDS = {("DaemonSet", "netclient"), ("Deployment", "netclient-gateway")}


@functools.cache
def _objects(directory: str, cluster: str) -> tuple:
    return tuple(load_yaml_dir(FIXTURES / directory / cluster))


def _netclient(obj: dict) -> bool:
    app = (obj["metadata"].get("labels") or {}).get("app")
    return app in ("netclient", "netclient-gateway") and obj["kind"] in ("DaemonSet", "Deployment", "Pod")


def pair(generation: str) -> dict[str, list[dict]]:
    """The Netmaker fixture pair with the netclient manifests of ``generation`` (``v07`` or ``v09``)."""
    out = {}
    for name in ("dc1", "cloud"):
        objs = [o for o in list(real_crds()) + list(_objects("netmaker", name)) if not _netclient(o)]
        out[name] = copy.deepcopy(objs + list(_objects(f"netmaker-{generation}", name)))
    return out


def tokens(objs: dict[str, list[dict]]) -> list[str]:
    found = []
    for items in objs.values():
        for o in items:
            for c in netmaker.pod_spec(o).get("containers") or []:
                found += [e["value"] for e in c.get("env") or [] if e.get("name") == "TOKEN" and e.get("value")]
    return sorted(set(found))


def make_token(network: str, key: str = "k") -> str:
    return base64.b64encode(json.dumps({"apiconnstring": "api.example:443", "network": network, "key": key}).encode()).decode()


def test_token_network_decodes_padded_unpadded_and_urlsafe():
    raw = json.dumps({"apiconnstring": "a:443", "network": "net-1", "key": "s3cr3t+/?"}).encode()
    assert netmaker.token_network(base64.b64encode(raw).decode()) == "net-1"
    assert netmaker.token_network(base64.b64encode(raw).decode().rstrip("=")) == "net-1"
    assert netmaker.token_network(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == "net-1"
    for junk in ("", "XXXX", "TOKEN_VALUE", "<redacted>", base64.b64encode(b'{"network": "a b;rm"}').decode(),
                 base64.b64encode(b"[1, 2]").decode(), None, 42):
        assert netmaker.token_network(junk) is None, junk


def test_v09_manifests_carry_only_the_token():
    objs = pair("v09")
    ds = next(o for o in objs["dc1"] if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "netclient")
    names = [e["name"] for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "NETWORK" not in names and "TOKEN" in names and "command" not in ds["spec"]["template"]["spec"]["containers"][0]
    assert netmaker.workload_network(ds) is None  # nothing but the token says the network


def test_the_view_keeps_the_network_and_redacts_the_token():
    objs = pair("v09")
    ds = next(o for o in objs["dc1"] if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "netclient")
    kept = redact(with_read_facts(ds, netmaker.READ_FACTS))
    assert netmaker.workload_network(kept) == "dc1-k3s"
    assert netmaker.network_source(kept) == "access token"
    text = json.dumps(kept)
    assert PLANTED_KEY not in text and not any(t in text for t in tokens(objs))
    workloads = [o for o in objs["dc1"] if o["kind"] in ("DaemonSet", "Deployment")]
    assert netmaker.cluster_networks(fake_view("dc1", *workloads)) == []  # a view without the read facts cannot know
    view = ClusterView(ClusterSpec(None, name="dc1", explicit_name=True), FakeSource(workloads), read_facts=netmaker.READ_FACTS)
    assert netmaker.cluster_networks(view) == ["dc1-k3s"] and netmaker.gateway_networks(view) == ["cloud-k3s"]


def test_read_facts_ignore_other_workloads_and_bad_tokens():
    other = {"kind": "Deployment", "metadata": {"name": "x", "labels": {"app": "web"}},
             "spec": {"template": {"spec": {"containers": [{"image": "nginx", "env": [{"name": "TOKEN", "value": make_token("n1")}]}]}}}}
    assert netmaker.keep_token_network(other) == {}
    broken = copy.deepcopy(other)
    broken["metadata"]["labels"]["app"] = "netclient"
    broken["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "not-a-token"
    assert netmaker.keep_token_network(broken) == {}
    joined = copy.deepcopy(broken)
    joined["spec"]["template"]["spec"]["containers"][0]["env"] = []
    joined["spec"]["template"]["spec"]["containers"][0]["command"] = ["netclient", "join", "-t", make_token("n2")]
    assert netmaker.keep_token_network(joined) == {netmaker.TOKEN_NETWORK_ANNOTATION: "n2"}


@pytest.mark.parametrize("generation", ["v07", "v09"])
def test_both_generations_pass_everywhere(memory, generation):
    objs = pair(generation)
    run = memory(objs, "all", "--passive", version=K3S)
    assert run.verdicts() == GOLDEN["netmaker/healthy"]  # the same map as the pair's own healthy run
    assert "fail" not in run.verdicts().values() and "warn" not in run.verdicts().values()
    dns = run.result("coredns-forwarding", "dc1")["details"]
    assert dns["network"] == "dc1-k3s" and dns["peer_networks"] == ["cloud-k3s"]
    deploy = run.result("netclient-deployment", "cloud")["details"]
    assert deploy["networks"] == ["cloud-k3s"] and deploy["gateway_networks"] == ["dc1-k3s"]


@pytest.mark.parametrize("generation", ["v07", "v09"])
def test_missing_peer_block_fails_that_cluster_only(memory, generation):
    objs = pair(generation)
    cm = next(o for o in objs["cloud"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "coredns")
    cm["data"]["Corefile"] = re.sub(r"dc1-k3s:53 \{.*?\}\n", "", cm["data"]["Corefile"], flags=re.S)
    run = memory(objs, "all", "--passive", version=K3S)
    assert run.verdicts() == {**GOLDEN["netmaker/healthy"], "coredns-forwarding[cloud]": "fail"}
    assert "no dc1-k3s:53 block" in run.result("coredns-forwarding", "cloud")["message"]
    assert run.code == 1


def test_no_token_in_any_output(emulate, mcdiag, tmp_path):
    objs = pair("v09")
    secrets = tokens(objs)
    assert len(secrets) == 2
    clusters = emulate(objs, version=K3S)
    run = mcdiag("all", "--passive", *clusters.args())
    snap = mcdiag("gather", *clusters.args(), "-o", str(tmp_path / "snap"))
    assert snap.code in (0, 1)
    offline = mcdiag("all", "--from-snapshot", str(tmp_path / "snap"))
    assert offline.json["results"] and run.json["results"]
    assert offline.status("coredns-forwarding", "dc1") == run.status("coredns-forwarding", "dc1") == "pass"
    text = run.out + run.err + snap.out + snap.err + offline.out + offline.err
    for d in (run.report_dir, offline.report_dir, tmp_path / "snap"):
        text += "".join(p.read_text(errors="replace") for p in d.rglob("*") if p.is_file())
    assert "cloud-k3s" in text  # the network is kept...
    for secret in [*secrets, PLANTED_KEY, *(s.rstrip("=") for s in secrets)]:
        assert secret not in text  # ...the token and its key are not


def test_every_link_a_netmaker_result_prints_is_netmakers():
    from mcdiag.run.registry import resolve

    for check in resolve(include_plugins=False).checks:
        if check.providers is not None and "netmaker" not in check.providers:
            continue
        link = check.docs_for("netmaker")
        assert link is None or "submariner.io" not in link, (check.id, link)
        if check.docs and "submariner.io" in check.docs:
            assert check.docs_for("submariner") == check.docs, check.id


def test_netmaker_failures_link_netmaker_docs(memory):
    objs = pair("v09")
    cm = next(o for o in objs["cloud"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "coredns")
    cm["data"]["Corefile"] = re.sub(r"dc1-k3s:53 \{.*?\}\n", "", cm["data"]["Corefile"], flags=re.S)
    for node in (o for o in objs["dc1"] if o["kind"] == "Node"):
        node["metadata"]["labels"].pop("gateway", None)
    run = memory(objs, "run", "coredns-forwarding", "gateway-nodes", version=K3S)
    failed = [r for r in run.json["results"] if r["status"] == "fail"]
    assert {(r["check"], r["clusters"][0]) for r in failed} == {("coredns-forwarding", "cloud"), ("gateway-nodes", "dc1")}
    for r in failed:
        assert r["docs"] in (netmaker.NETMAKER_K8S_DOCS, netmaker.NETMAK8S_DOCS, netmaker.NETMAKER_DOCS), r
