"""Data-plane checks on the Netmaker pair (coredns-forwarding, gateway-nodes) and before anything is installed."""

from __future__ import annotations

import copy
import functools
import re

import pytest
from mcdiag.checks.gateways import public_ip_problem

from tests.conftest import FIXTURES, load_yaml_dir, real_crds

K3S = "v1.28.5+k3s1"
MINE = ("calico-prereqs", "kube-proxy-mode", "nodelocaldns", "gateway-nodes", "coredns-forwarding")


@functools.cache
def _crds() -> tuple:
    return tuple(real_crds())


@functools.cache
def _netmaker(cluster: str) -> tuple:
    return tuple(load_yaml_dir(FIXTURES / "netmaker" / cluster))


def netmaker_pair() -> dict[str, list[dict]]:
    return {name: copy.deepcopy(list(_crds()) + list(_netmaker(name))) for name in ("dc1", "cloud")}


def find(objs: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def run_netmaker(memory, change=None):
    objs = netmaker_pair()
    if change:
        change(objs)
    return memory(objs, "run", "coredns-forwarding", "gateway-nodes", version=K3S)


# ---------------------------------------------------------------------------------------------
# Netmaker
# ---------------------------------------------------------------------------------------------
def test_netmaker_pair_passes(memory):
    run = run_netmaker(memory)
    dns = run.result("coredns-forwarding", "dc1")
    assert dns["status"] == "pass" and "cloud-k3s" in dns["message"], dns
    assert dns["details"]["network"] == "dc1-k3s" and dns["details"]["peer_networks"] == ["cloud-k3s"]
    assert run.result("coredns-forwarding", "cloud")["details"]["peer_networks"] == ["dc1-k3s"]
    gw = run.result("gateway-nodes", "dc1")
    assert gw["status"] == "pass" and "datacenter1" in gw["message"] and "gateway=true" in gw["message"]
    assert run.verdicts() == {f"{c}[{n}]": "pass" for c in ("gateway-nodes", "coredns-forwarding") for n in ("dc1", "cloud")}


def _drop_block(objs):
    data = find(objs["dc1"], "ConfigMap", "coredns")["data"]
    data["Corefile"] = re.sub(r"cloud-k3s:53 \{.*?\}\n", "", data["Corefile"], flags=re.S)


def _block_without_ip(objs):
    data = find(objs["cloud"], "ConfigMap", "coredns")["data"]
    data["Corefile"] = data["Corefile"].replace("forward . 203.0.113.10", "forward . netmaker.example.com")


def _no_gateway_label(objs):
    for node in (o for o in objs["cloud"] if o["kind"] == "Node"):
        node["metadata"]["labels"].pop("gateway", None)


@pytest.mark.parametrize(
    ("change", "key", "message", "hint"),
    [
        (_drop_block, "coredns-forwarding[dc1]", ["ConfigMap kube-system/coredns", "no cloud-k3s:53 block"], ["cloud-k3s:53 { forward . NETMAKER_SERVER_IP }", "edit cm coredns"]),
        (_block_without_ip, "coredns-forwarding[cloud]", ["dc1-k3s:53", "no IP address", "netmaker.example.com"], ["forward . NETMAKER_SERVER_IP"]),
        (_no_gateway_label, "gateway-nodes[cloud]", ["no node is labelled gateway=true"], ["kubectl label node NODE gateway=true"]),
    ],
    ids=["peer-block-missing", "peer-block-without-ip", "no-gateway-label"],
)
def test_netmaker_failures(memory, change, key, message, hint):
    run = run_netmaker(memory, change)
    got = run.verdicts()
    assert {k: v for k, v in got.items() if v != "pass"} == {key: "fail"}, run.out
    check, target = key[:-1].split("[")
    result = run.result(check, target)
    for word in message:
        assert word in result["message"], result["message"]
    for word in hint:
        assert word in result["hint"], result["hint"]


def test_netmaker_single_cluster_uses_its_gateway_network(memory):
    objs = netmaker_pair()
    run = memory({"dc1": objs["dc1"]}, "run", "coredns-forwarding", version=K3S)
    result = run.result("coredns-forwarding", "dc1")
    assert result["status"] == "pass" and result["details"]["peer_networks"] == ["cloud-k3s"], result


def test_submariner_only_checks_skip_on_netmaker(memory):
    run = memory(netmaker_pair(), "run", "calico-prereqs", "kube-proxy-mode", "nodelocaldns", version=K3S)
    for key, status in run.verdicts().items():
        assert status == "skip", key
    assert "applies to" in run.result("kube-proxy-mode", "dc1")["message"]


# ---------------------------------------------------------------------------------------------
# Before anything is installed (provider none)
# ---------------------------------------------------------------------------------------------
def plain_cluster(mode: str = "iptables") -> list[dict]:
    labels = {"k8s-app": "kube-proxy"}
    return [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
         "spec": {"podCIDR": "10.244.0.0/24"}, "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.29.3"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
         "data": {"config.conf": f"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: {mode}\n"}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": labels},
         "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "kube-proxy", "image": "k", "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"]}]}}},
         "status": {"desiredNumberScheduled": 1, "numberReady": 1}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nodelocaldns", "namespace": "kube-system"},
         "data": {"Corefile": "cluster.local:53 {\n    bind 169.254.25.10\n    forward . 10.96.0.10\n}\n"}},
    ]


def test_preflight_before_install_warns_with_the_fix(memory):
    run = memory({"plain": list(_crds()) + plain_cluster("ipvs")}, "run", *MINE)
    kp = run.result("kube-proxy-mode", "plain")
    assert kp["status"] == "warn" and "ipvs" in kp["message"] and "not installed yet" in kp["message"] and "mode: iptables" in kp["hint"]
    nl = run.result("nodelocaldns", "plain")
    assert nl["status"] == "warn" and "kube-system/nodelocaldns" in nl["message"] and "clusterset.local:53" in nl["hint"]
    assert run.result("calico-prereqs", "plain")["status"] == "skip"  # CNI generic: not Calico
    for check in ("gateway-nodes", "coredns-forwarding"):
        skipped = run.result(check, "plain")
        assert skipped["status"] == "skip" and skipped["message"], skipped
    assert run.code == 0


def test_preflight_before_install_passes_when_ready(memory):
    objs = plain_cluster("iptables")[:-1]
    run = memory({"plain": list(_crds()) + objs}, "run", "kube-proxy-mode", "nodelocaldns")
    assert run.verdicts() == {"kube-proxy-mode[plain]": "pass", "nodelocaldns[plain]": "pass"}


def test_gateway_nodes_with_provider_override_checks_labels_before_install(memory):
    run = memory({"plain": list(_crds()) + plain_cluster()}, "run", "gateway-nodes", "--provider", "submariner")
    result = run.result("gateway-nodes", "plain")
    assert result["status"] == "fail" and "submariner.io/gateway=true" in result["hint"]


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ipv4:10.53.23.11", None),
        ("lb:submariner-gateway", None),
        ("api:api.ipify.org,ipv4:10.54.10.7", None),
        ("dns:gw.example.com", None),
        ("10.53.23.11", "not TYPE:VALUE"),
        ("ipv4:10.53.23", "not an IPv4 address"),
        ("ipv6:fd00::1", "unknown type 'ipv6'"),
        ("ipv4:", "not TYPE:VALUE"),
        ("", "empty"),
    ],
)
def test_public_ip_values(value, problem):
    got = public_ip_problem(value)
    assert (got is None) if problem is None else (problem in got), got
