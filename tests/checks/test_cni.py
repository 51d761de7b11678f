"""cni-support: CNI detection in CHECKS.md's order, and the verdict per provider."""

from __future__ import annotations

import copy
import functools

import pytest

from tests.conftest import real_crds


@functools.cache
def _crds() -> tuple:
    return tuple(real_crds())


@pytest.fixture(scope="module", autouse=True)
def _load_crds():
    """Parse the CRDs once per module, outside the tests' own time."""
    _crds()


def node(name: str = "node1", annotations: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}, "annotations": annotations or {}},
        "spec": {"podCIDR": "10.42.0.0/24"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.29.3"}},
    }


def ds(name: str, namespace: str = "kube-system", labels: dict | None = None) -> dict:
    labels = labels or {"k8s-app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
        },
    }


def pod(name: str, labels: dict, namespace: str = "kube-system") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "x"}]},
        "status": {"phase": "Running"},
    }


def cm(name: str, namespace: str = "kube-system") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": {}}


def openshift_network(network_type: str) -> dict:
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "Network",
        "metadata": {"name": "cluster"},
        "spec": {"networkType": network_type, "clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}]},
    }


K3S_FLANNEL = {"flannel.alpha.coreos.com/backend-type": "vxlan", "flannel.alpha.coreos.com/public-ip": "192.168.88.150"}

#: (case id, extra objects, expected CNI)
DETECTION = [
    ("openshift-sdn", [openshift_network("OpenShiftSDN"), ds("kube-flannel-ds")], "openshift-sdn"),
    ("openshift-ovn", [openshift_network("OVNKubernetes")], "ovn-kubernetes"),
    ("ovnkube-pod", [pod("ovnkube-node-x", {"app": "ovnkube-node"}, "ovn-kubernetes"), ds("calico-node")], "ovn-kubernetes"),
    ("weave", [pod("weave-net-x", {"name": "weave-net"}), cm("calico-config")], "weave-net"),
    ("canal-before-calico", [ds("canal"), cm("calico-config")], "canal"),
    ("calico-configmap", [cm("calico-config")], "calico"),
    ("calico-operator", [ds("calico-node", "calico-system")], "calico"),
    ("calico-other-namespace-ignored", [ds("calico-node", "default")], "generic"),
    ("flannel-daemonset", [ds("kube-flannel-ds", "kube-flannel", {"app": "flannel"})], "flannel"),
    ("flannel-before-kindnet", [ds("kube-flannel-ds"), pod("kindnet-x", {"app": "kindnet"})], "flannel"),
    ("kindnet", [pod("kindnet-x", {"app": "kindnet"})], "kindnet"),
    ("cilium", [ds("cilium")], "cilium"),
    ("generic", [], "generic"),
]


def run_cni(memory, objects: list[dict], *extra: str, nodes: list[dict] | None = None):
    objs = [copy.deepcopy(o) for o in _crds()] + (nodes or [node()]) + objects
    return memory({"east": objs}, "run", "cni-support", *extra)


@pytest.mark.parametrize(("objects", "cni"), [(o, c) for _, o, c in DETECTION], ids=[i for i, _, _ in DETECTION])
def test_detection_order(memory, objects, cni):
    run = run_cni(memory, objects, "--provider", "submariner")
    result = run.result("cni-support", "east")
    assert result["details"]["cni"] == cni
    assert run.json["clusters"][0]["cni"] == cni


def test_k3s_builtin_flannel_from_node_annotations_passes(memory):
    run = run_cni(memory, [], "--provider", "submariner", nodes=[node("server1", K3S_FLANNEL)])
    result = run.result("cni-support", "east")
    assert result["status"] == "pass" and result["details"]["cni"] == "flannel"
    assert "subctl" in result["message"]  # says that subctl's verdict on flannel is wrong
    assert run.code == 0


@pytest.mark.parametrize(
    ("provider", "objects", "status"),
    [
        ("submariner", [cm("calico-config")], "pass"),
        ("submariner", [pod("weave-net-x", {"name": "weave-net"})], "pass"),
        ("submariner", [], "warn"),
        ("submariner", [ds("cilium")], "fail"),
        ("none", [ds("cilium")], "warn"),
        ("none", [], "warn"),
        ("none", [ds("canal")], "pass"),
        ("netmaker", [ds("cilium")], "pass"),
        ("netmaker", [], "pass"),
    ],
    ids=["sm-calico", "sm-weave", "sm-generic", "sm-cilium", "none-cilium", "none-generic", "none-canal", "nm-cilium", "nm-generic"],
)
def test_verdict_per_provider(memory, provider, objects, status):
    run = run_cni(memory, objects, "--provider", provider)
    result = run.result("cni-support", "east")
    assert result["status"] == status, result
    assert result["details"]["provider"] == provider
    if status in ("warn", "fail"):
        assert result["hint"]
    if status == "fail":
        assert "cilium" in result["message"] and "ClusterMesh" in result["hint"]
        assert run.code == 1
    if provider == "none" and status == "warn" and objects:
        assert "not installed" in result["message"]
    if not objects and provider != "netmaker":
        assert "may or may not work" in result["message"]


def test_detected_submariner_provider_fails_cilium(memory):
    submariner = {
        "apiVersion": "submariner.io/v1alpha1",
        "kind": "Submariner",
        "metadata": {"name": "submariner", "namespace": "submariner-operator"},
        "spec": {"clusterID": "east", "broker": "k8s", "brokerK8sApiServer": "https://broker:6443"},
    }
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "submariner-operator"}}
    run = run_cni(memory, [ns, submariner, ds("cilium")])
    result = run.result("cni-support", "east")
    assert (result["status"], result["details"]["provider"]) == ("fail", "submariner")


def test_unreadable_pods_is_an_error_not_generic(memory):
    objs = [copy.deepcopy(o) for o in _crds()] + [node()]
    run = memory({"east": objs}, "run", "cni-support", "--provider", "submariner", forbid={"east": {"pods"}})
    result = run.result("cni-support", "east")
    assert result["status"] == "error" and "list pods" in (result["hint"] or "")
