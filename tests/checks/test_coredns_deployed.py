"""coredns-forwarding and nodelocaldns judge what the DNS pods load: kubeadm, k3s + coredns-custom, RKE2, OpenShift.

The CoreDNS fixtures (mcdiag/lab/fixtures/coredns/) replace the Submariner pair's ``cluster1`` CoreDNS objects;
each flavour passes as shipped, and fails when the Lighthouse forward sits only where its pods never look.
"""

from __future__ import annotations

import copy
import functools

import pytest

from mcdiag.facts import dns
from tests.conftest import CALICO_API, FIXTURES, load_yaml_dir, pair_objects

FLAVOURS = ("kubeadm", "k3s", "rke2", "openshift")
BLOCK = "clusterset.local:53 {\n    forward . 10.96.6.201\n}\n"


@functools.cache
def _flavour(name: str) -> tuple:
    return tuple(load_yaml_dir(FIXTURES / "coredns" / name))


def _is_cluster_dns(o: dict) -> bool:
    name, ns = o["metadata"].get("name"), o["metadata"].get("namespace")
    if o["kind"] == "Pod":
        return (o["metadata"].get("labels") or {}).get("k8s-app") == "kube-dns"
    return ns == "kube-system" and (o["kind"], name) in {("ConfigMap", "coredns"), ("Deployment", "coredns"), ("Service", "kube-dns")}


def pair(flavour: str) -> dict[str, list[dict]]:
    objs = pair_objects("submariner")
    objs["cluster1"] = [o for o in objs["cluster1"] if not _is_cluster_dns(o)] + copy.deepcopy(list(_flavour(flavour)))
    return objs


def find(objs: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def run(memory, objs, *checks: str):
    return memory(objs, "run", *(checks or ("coredns-forwarding",)), extra_groups=CALICO_API)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_each_flavour_passes_as_shipped(memory, flavour):
    r = run(memory, pair(flavour))
    assert r.verdicts() == {"coredns-forwarding[cluster]": "pass", "coredns-forwarding[cluster1]": "pass"}, r.result(
        "coredns-forwarding", "cluster1")
    result = r.result("coredns-forwarding", "cluster1")
    details = result["details"]
    assert not details["assumed"], details
    expected = {
        "kubeadm": ("ConfigMap kube-system/coredns (Corefile)", "Deployment kube-system/coredns"),
        "k3s": ("ConfigMap kube-system/coredns-custom (lighthouse.server)", "Deployment kube-system/coredns"),
        "rke2": ("ConfigMap kube-system/rke2-coredns-rke2-coredns (Corefile)", "Deployment kube-system/rke2-coredns-rke2-coredns"),
        "openshift": ("DNS operator dns.operator.openshift.io/default server lighthouse", "OpenShift DNS operator"),
    }[flavour]
    assert result["message"].startswith(expected[0]) and expected[1] in result["message"], result["message"]
    assert "10.96.6.201" in result["message"]


def _kubeadm_key(objs):
    data = find(objs["cluster1"], "ConfigMap", "coredns")["data"]
    data["Corefile"] = data["Corefile"].split("#lighthouse-start")[0]
    data["lighthouse.server"] = BLOCK


def _k3s_wrong_suffix(objs):
    data = find(objs["cluster1"], "ConfigMap", "coredns-custom")["data"]
    data["lighthouse.conf"] = data.pop("lighthouse.server")


def _k3s_unmounted(objs):
    spec = find(objs["cluster1"], "Deployment", "coredns")["spec"]["template"]["spec"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "custom-config-volume"]
    spec["containers"][0]["volumeMounts"] = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] != "custom-config-volume"]


def _rke2_key(objs):
    data = find(objs["cluster1"], "ConfigMap", "rke2-coredns-rke2-coredns")["data"]
    data["Corefile"] = data["Corefile"].split("clusterset.local:53")[0]
    data["lighthouse.server"] = BLOCK


def _openshift_configmap(objs):
    find(objs["cluster1"], "DNS", "default")["spec"].pop("servers")
    objs["cluster1"].append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
                             "data": {"Corefile": BLOCK}})


@pytest.mark.parametrize(("flavour", "change", "stray"), [
    ("kubeadm", _kubeadm_key, "ConfigMap kube-system/coredns (lighthouse.server)"),
    ("k3s", _k3s_wrong_suffix, "ConfigMap kube-system/coredns-custom (lighthouse.conf)"),
    ("k3s", _k3s_unmounted, "ConfigMap kube-system/coredns-custom (lighthouse.server)"),
    ("rke2", _rke2_key, "ConfigMap kube-system/rke2-coredns-rke2-coredns (lighthouse.server)"),
    ("openshift", _openshift_configmap, "ConfigMap kube-system/coredns (Corefile)"),
], ids=["kubeadm-extra-key", "k3s-not-dot-server", "k3s-custom-not-mounted", "rke2-extra-key", "openshift-configmap"])
def test_a_forward_the_pods_never_load_fails(memory, flavour, change, stray):
    objs = pair(flavour)
    change(objs)
    r = run(memory, objs)
    assert r.verdicts() == {"coredns-forwarding[cluster]": "pass", "coredns-forwarding[cluster1]": "fail"}
    result = r.result("coredns-forwarding", "cluster1")
    assert "no clusterset.local:53 block" in result["message"], result["message"]
    assert stray in result["message"] and "never loads it" in result["message"], result["message"]
    assert "10.96.6.201" in result["hint"]
    if flavour == "openshift":
        assert "dns.operator/default" in result["hint"]
    elif flavour == "rke2":
        assert "HelmChartConfig" in result["hint"]
    else:
        assert "edit cm" in result["hint"]


def test_a_dns_workload_outside_kube_system_is_not_verified(memory):
    objs = pair("kubeadm")
    for o in objs["cluster1"]:
        if _is_cluster_dns(o) and o["kind"] != "Pod":
            o["metadata"]["namespace"] = "dns-system"
    objs["cluster1"].append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dns-system"}})
    # kube-dns itself moved: the labelled Service in dns-system is found, its ConfigMap cannot be read
    r = run(memory, objs)
    result = r.result("coredns-forwarding", "cluster1")
    assert result["status"] == "warn" and "outside kube-system" in result["message"], result


# ---------------------------------------------------------------------------------------------
# NodeLocal DNSCache, as the upstream manifest deploys it (Corefile.base)
# ---------------------------------------------------------------------------------------------
def nodelocal(corefile: str, key: str = "Corefile") -> list[dict]:
    labels = {"k8s-app": "node-local-dns"}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "node-local-dns", "namespace": "kube-system"},
         "data": {key: corefile}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-local-dns", "namespace": "kube-system", "labels": labels},
         "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
             "hostNetwork": True, "dnsPolicy": "Default",
             "containers": [{"name": "node-cache", "image": "registry.k8s.io/dns/k8s-dns-node-cache:1.22.28",
                             "args": ["-localip", "169.254.20.10,10.96.0.10", "-conf", "/etc/Corefile", "-upstreamsvc", "kube-dns-upstream"],
                             "volumeMounts": [{"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                                              {"name": "config-volume", "mountPath": "/etc/coredns"}]}],
             "volumes": [{"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                         {"name": "config-volume", "configMap": {"name": "node-local-dns",
                                                                 "items": [{"key": "Corefile", "path": "Corefile.base"}]}}]}}}},
    ]


@pytest.mark.parametrize(("key", "status"), [("Corefile", "pass"), ("Corefile.extra", "fail")])
def test_nodelocaldns_follows_its_mount(memory, key, status):
    objs = pair_objects("submariner")
    objs["cluster"] += nodelocal("cluster.local:53 {\n    forward . 10.96.0.10\n}\n"
                                 "clusterset.local:53 {\n    bind 169.254.20.10\n    forward . 10.96.2.117\n}\n", key)
    r = run(memory, objs, "nodelocaldns")
    result = r.result("nodelocaldns", "cluster")
    assert result["status"] == status, result
    if status == "pass":
        assert "ConfigMap kube-system/node-local-dns (Corefile)" in result["details"]["loaded"]
    else:
        assert "never loads it" in result["message"] and "(Corefile.extra)" in result["message"]


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def test_imports_and_relative_patterns():
    text = ".:53 {\n    import custom/*.override\n}\nimport custom/*.server\nimport /etc/other/a.server b.server\n"
    assert dns.corefile_imports(text) == ["custom/*.server", "/etc/other/a.server", "b.server"]
    assert [b.zones for b in dns.corefile_blocks(text)] == [[".:53"]]
    files = [dns._File("/etc/coredns/custom/x.server", "kube-system/c", "x.server", "a:53 {\n forward . 1.2.3.4\n}\n"),
             dns._File("/etc/coredns/custom/sub/y.server", "kube-system/c", "y", ""),
             dns._File("/etc/coredns/Corefile", "kube-system/coredns", "Corefile", text)]
    assert [f.key for f in dns._glob(files, "/etc/coredns/custom/*.server")] == ["x.server"]
    loaded = dns._follow(files, ["/etc/coredns/Corefile"], "CoreDNS")
    assert [b.zones for b in loaded.blocks] == [[".:53"], ["a:53"]] and loaded.problem is None
    assert dns.forward_targets(dns.ServerBlock(["z"], [], ["1.2.3.4:5353", "[fd00::1]:53", "9.9.9.9", "name"])) == [
        ("1.2.3.4", 5353), ("fd00::1", 53), ("9.9.9.9", 53)]
