"""Submariner and data-plane checks against the healthy guide pair (cluster, cluster1) and one mutation per failure mode.

Every failure test compares the full verdict map of ``mcdiag all --passive`` with the healthy
baseline: only the expected results may change.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from mcdiag.gather import resources as R
from mcdiag.lab.emulator import ApiEmulator
from mcdiag.run.registry import resolve
from tests.conftest import FIXTURES, SHARED, load_yaml_dir, query_key, real_crds

NAMES = ("cluster", "cluster1")
SUBM_NS = "submariner-operator"
CALICO_API = [{"group": "projectcalico.org", "version": "v3", "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}]
Pair = dict[str, list[dict]]


@functools.cache
def _crds() -> tuple:
    return tuple(real_crds())


@functools.cache
def _objects(name: str) -> tuple:
    return tuple(load_yaml_dir(FIXTURES / "submariner" / name))


def healthy_pair() -> Pair:
    return {name: copy.deepcopy(list(_objects(name))) for name in NAMES}


def run_pair(memory, objs: Pair, *, calico_api=NAMES, versions: dict[str, str] | None = None):
    """Run ``mcdiag all --passive`` in memory on each cluster's objects (served as the emulator serves them)."""
    per: dict = {}
    for name in NAMES:
        per[name] = {"extra_groups": CALICO_API} if name in calico_api else {}
        if versions and name in versions:
            per[name]["version"] = versions[name]
    return memory({name: list(_crds()) + objs[name] for name in NAMES}, "all", "--passive", **per)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The healthy pair's JSON report (computed once per module)."""
    from mcdiag.cli import main

    tmp = tmp_path_factory.mktemp("baseline")
    objs = healthy_pair()
    emus = [ApiEmulator(objects=list(_crds()) + objs[n], name=n, extra_groups=CALICO_API).start() for n in NAMES]
    try:
        args = []
        for emu in emus:
            args += ["--cluster", f"{emu.name}={emu.kubeconfig(tmp / f'{emu.name}.kubeconfig', context=f'{emu.name}-ctx')}"]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["all", "--passive", *args, "--report-dir", str(tmp / "reports")])
        report = json.loads((tmp / "reports" / "mcdiag.json").read_text())
        requests = {emu.name: [query_key(r) for r in emu.requests if r.method == "GET" and query_key(r)] for emu in emus}
    finally:
        for emu in emus:
            emu.stop()
    return {"code": code, "report": report, "out": out.getvalue(), "requests": requests, "dir": tmp / "reports"}


def verdicts(report: dict) -> dict[str, str]:
    out = {}
    for r in report["results"]:
        sep = {"cluster": "", "pair": "<->", "ordered-pair": "->"}[r["scope"]]
        out[f"{r['check']}[{sep.join(r['clusters']) if sep else r['clusters'][0]}]"] = r["status"]
    return out


# ---------------------------------------------------------------------------------------------
# Mutation helpers
# ---------------------------------------------------------------------------------------------
def find(objs: list[dict], kind: str, name: str, namespace: str | None = None, api: str | None = None) -> dict:
    for o in objs:
        m = o["metadata"]
        if o["kind"] == kind and m["name"] == name and (namespace is None or m.get("namespace") == namespace) and (api is None or o["apiVersion"] == api):
            return o
    raise KeyError(f"{kind} {namespace}/{name}")


def every(objs: list[dict], kind: str, name: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]


def remove(objs: list[dict], kind: str, name: str, namespace: str | None = None) -> None:
    objs.remove(find(objs, kind, name, namespace))


def gateway(objs: list[dict]) -> dict:
    return next(o for o in objs if o["kind"] == "Gateway")


def set_pod_not_ready(pod: dict, reason: str = "ContainersNotReady") -> None:
    for cond in pod["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(status="False", reason=reason)
    pod["status"]["containerStatuses"][0]["ready"] = False


def crashloop(pod: dict, restarts: int = 7) -> None:
    """Phase stays Running: only the container state tells."""
    pod["status"]["containerStatuses"][0].update(
        ready=False, restartCount=restarts, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}
    )


def corefile(objs: list[dict]) -> dict:
    return find(objs, "ConfigMap", "coredns", "kube-system")["data"]


def without_clusterset(text: str) -> str:
    head, _, _ = text.partition("#lighthouse-start")
    return head


def nodelocaldns(block: str) -> list[dict]:
    labels = {"k8s-app": "node-local-dns"}
    corefile_text = (
        "cluster.local:53 {\n    errors\n    cache {\n        success 9984 30\n        denial 9984 5\n    }\n    reload\n    loop\n"
        "    bind 169.254.25.10\n    forward . 10.96.0.10 {\n        force_tcp\n    }\n    prometheus :9253\n}\n"
        ".:53 {\n    errors\n    cache 30\n    reload\n    loop\n    bind 169.254.25.10\n    forward . /etc/resolv.conf\n}\n" + block
    )
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nodelocaldns", "namespace": "kube-system"}, "data": {"Corefile": corefile_text}},
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "nodelocaldns", "namespace": "kube-system", "labels": labels},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"hostNetwork": True, "containers": [{"name": "node-cache", "image": "registry.k8s.io/dns/k8s-dns-node-cache:1.22.28", "args": ["-localip", "169.254.25.10", "-conf", "/etc/coredns/Corefile"]}]}}},
            "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0, "numberReady": 2, "numberAvailable": 2},
        },
    ]


def enable_globalnet(objs: Pair, allocate: bool = True) -> None:
    """Globalnet as subctl join --globalnet deploys it: global CIDRs, the globalnet DaemonSet, egress and ingress IPs."""
    cidrs = {"cluster": "242.0.0.0/16", "cluster1": "242.1.0.0/16"}
    for name, items in objs.items():
        cr = find(items, "Submariner", "submariner", SUBM_NS)
        cr["spec"]["globalCIDR"] = cr["status"]["globalCIDR"] = cidrs[name]
        find(items, "ServiceDiscovery", "service-discovery", SUBM_NS)["spec"]["globalnetEnabled"] = True
        gw_ds = find(items, "DaemonSet", "submariner-gateway", SUBM_NS)
        gds = copy.deepcopy(gw_ds)
        gds["metadata"].update(name="submariner-globalnet", labels={"app": "submariner-globalnet"})
        gds["spec"]["selector"]["matchLabels"] = gds["spec"]["template"]["metadata"]["labels"] = {"app": "submariner-globalnet"}
        items.append(gds)
        gw_pod = next(o for o in items if o["kind"] == "Pod" and o["metadata"]["name"].startswith("submariner-gateway-"))
        gpod = copy.deepcopy(gw_pod)
        gpod["metadata"].update(name="submariner-globalnet-7mx4c", labels={"app": "submariner-globalnet"})
        gpod["metadata"]["ownerReferences"][0]["name"] = "submariner-globalnet"
        items.append(gpod)
        base = cidrs[name].split("/")[0].rsplit(".", 2)[0]
        items.append({
            "apiVersion": "submariner.io/v1", "kind": "ClusterGlobalEgressIP", "metadata": {"name": "cluster-egress.submariner.io"},
            "spec": {"numGlobalIPs": 8},
            "status": {"allocatedIPs": [f"{base}.0.{i}" for i in range(1, 9)] if allocate else [],
                       "conditions": [{"type": "Allocated", "status": "True" if allocate else "False", "reason": "Success" if allocate else "IPPoolAllocationFailed",
                                       "message": "Allocated global IP(s)" if allocate else "Error allocating IPs: insufficient IPs available",
                                       "lastTransitionTime": "2025-05-15T08:10:02Z"}]},
        })
    objs["cluster"].append({
        "apiVersion": "submariner.io/v1", "kind": "GlobalIngressIP", "metadata": {"name": "nginx", "namespace": "nginx-test", "labels": {"submariner.io/serviceRef": "nginx"}},
        "spec": {"target": "ClusterIPService", "serviceRef": {"name": "nginx"}},
        "status": {"allocatedIP": "242.0.255.253", "conditions": [{"type": "Allocated", "status": "True", "reason": "Success", "message": "Allocated global IP", "lastTransitionTime": "2025-05-15T08:10:02Z"}]},
    })


def overlap_service_cidrs(objs: Pair) -> None:
    """cluster1 installed with cluster's service CIDR (10.96.0.0/22) everywhere mcdiag discovers CIDRs."""
    items = objs["cluster1"]
    cr = find(items, "Submariner", "submariner", SUBM_NS)
    cr["spec"]["serviceCIDR"] = cr["status"]["serviceCIDR"] = "10.96.0.0/22"
    kubeadm = find(items, "ConfigMap", "kubeadm-config", "kube-system")["data"]
    kubeadm["ClusterConfiguration"] = kubeadm["ClusterConfiguration"].replace("10.96.4.0/22", "10.96.0.0/22")
    for o in items:
        if o["kind"] == "Pod" and o["metadata"]["namespace"] == "kube-system":
            cmd = o["spec"]["containers"][0].get("command") or []
            o["spec"]["containers"][0]["command"] = [w.replace("10.96.4.0/22", "10.96.0.0/22") for w in cmd]


def endpoint_of(objs: list[dict], cluster_id: str) -> dict:
    return next(o for o in objs if o["kind"] == "Endpoint" and o["metadata"]["namespace"] == SUBM_NS and o["spec"]["cluster_id"] == cluster_id)


def pod_named(objs: list[dict], prefix: str, node: str | None = None) -> dict:
    return next(
        o for o in objs if o["kind"] == "Pod" and o["metadata"]["name"].startswith(prefix) and (node is None or o["spec"]["nodeName"] == node)
    )


# ---------------------------------------------------------------------------------------------
# Failure modes: (id, mutation, {result: status}, words the message names, words the hint says, run options)
# ---------------------------------------------------------------------------------------------
def _calico_ipip(o: Pair):
    for pool in every(o["cluster"], "IPPool", "default-ipv4-ippool"):
        pool["spec"].update(ipipMode="Always", vxlanMode="Never")


def _remote_pool_missing(o: Pair):
    for pool in every(o["cluster"], "IPPool", "podcluster1"):
        o["cluster"].remove(pool)


def _remote_pool_enabled(o: Pair):
    for pool in every(o["cluster1"], "IPPool", "svccluster"):
        pool["spec"].update(disabled=False, natOutgoing=True)


def _remote_pool_bgp_export(o: Pair):
    for pool in every(o["cluster1"], "IPPool", "svccluster"):
        del pool["spec"]["disableBGPExport"]


def _ipvs(o: Pair):
    data = find(o["cluster1"], "ConfigMap", "kube-proxy", "kube-system")["data"]
    data["config.conf"] = data["config.conf"].replace("mode: iptables", "mode: ipvs")


def _empty_mode_is_iptables(o: Pair):
    data = find(o["cluster1"], "ConfigMap", "kube-proxy", "kube-system")["data"]
    data["config.conf"] = data["config.conf"].replace("mode: iptables", 'mode: ""')


def _nodelocal_without_block(o: Pair):
    o["cluster"] += nodelocaldns("")


def _nodelocal_with_block(o: Pair):
    o["cluster"] += nodelocaldns("clusterset.local:53 {\n    bind 169.254.25.10\n    forward . 10.96.2.117\n}\n")


def _nodelocal_wrong_ip(o: Pair):
    o["cluster"] += nodelocaldns("clusterset.local:53 {\n    bind 169.254.25.10\n    forward . 10.234.30.44\n}\n")


def _no_gateway_label(o: Pair):
    del find(o["cluster1"], "Node", "node2")["metadata"]["labels"]["submariner.io/gateway"]


def _malformed_public_ip(o: Pair):
    find(o["cluster"], "Node", "node1")["metadata"]["annotations"]["gateway.submariner.io/public-ip"] = "10.53.23.11"


def _unknown_gateway_key(o: Pair):
    find(o["cluster"], "Node", "node1")["metadata"]["annotations"]["gateway.submariner.io/public_ip"] = "ipv4:10.53.23.11"


def _connection(status: str, message: str):
    def change(o: Pair):
        conn = gateway(o["cluster"])["status"]["connections"][0]
        conn.update(status=status, statusMessage=message)
        conn.pop("latencyRTT", None)

    return change


def _gateway_passive(o: Pair):
    gateway(o["cluster"])["status"]["haStatus"] = "passive"


def _gateway_pod_passive(o: Pair):
    pod_named(o["cluster"], "submariner-gateway-")["metadata"]["labels"]["gateway.submariner.io/status"] = "passive"


def _routeagent(status: str, message: str):
    def change(o: Pair):
        agent = find(o["cluster"], "RouteAgent", "node3", SUBM_NS)
        agent["status"]["remoteEndpoints"][0].update(status=status, statusMessage=message)
        agent["status"]["remoteEndpoints"][0].pop("latencyRTT", None)

    return change


def _ds_unready_pod(o: Pair):
    set_pod_not_ready(pod_named(o["cluster"], "submariner-routeagent-", "node3"))
    find(o["cluster"], "DaemonSet", "submariner-routeagent", SUBM_NS)["status"].update(numberReady=1, numberAvailable=1, numberUnavailable=1)


def _ds_status_lies(o: Pair):
    """DaemonSet status still says 2/2 ready (stale), but one pod's Ready condition is False."""
    set_pod_not_ready(pod_named(o["cluster"], "submariner-routeagent-", "node3"))


def _crashloop_running(o: Pair):
    crashloop(pod_named(o["cluster1"], "submariner-lighthouse-agent-"))


def _restarts(o: Pair):
    pod_named(o["cluster1"], "submariner-lighthouse-coredns-")["status"]["containerStatuses"][0]["restartCount"] = 6


def _missing_daemonset(o: Pair):
    remove(o["cluster"], "DaemonSet", "submariner-metrics-proxy", SUBM_NS)
    o["cluster"].remove(pod_named(o["cluster"], "submariner-metrics-proxy-"))


def _two_local_endpoints(o: Pair):
    stale = copy.deepcopy(endpoint_of(o["cluster"], "cluster"))
    stale["metadata"]["name"] = "cluster-submariner-cable-cluster-192-168-23-23"
    stale["spec"].update(hostname="node3", private_ip="192.168.23.23", cable_name="submariner-cable-cluster-192-168-23-23")
    o["cluster"].append(stale)


def _remote_endpoint_missing(o: Pair):
    o["cluster"].remove(endpoint_of(o["cluster"], "cluster1"))


def _shared_public_ip(o: Pair):
    for items in o.values():
        endpoint_of(items, "cluster1")["spec"]["public_ip"] = "10.53.23.11"


def _broker_cluster_missing(o: Pair):
    remove(o["cluster"], "Cluster", "cluster1", "submariner-k8s-broker")


def _export_invalid(o: Pair):
    conds = find(o["cluster"], "ServiceExport", "nginx", "nginx-test")["status"]["conditions"]
    conds[0].update(status="False", reason="UnsupportedServiceType", message='Service of type "ExternalName" not supported')
    conds[1].update(status="False", reason="ExportFailed", message="")


def _export_conflict(o: Pair):
    conds = find(o["cluster"], "ServiceExport", "nginx", "nginx-test")["status"]["conditions"]
    conds[2].update(status="True", reason="ConflictingPorts", message="The service ports conflict between the constituent clusters [cluster, cluster1]")


def _import_missing(o: Pair):
    remove(o["cluster1"], "ServiceImport", "nginx", "nginx-test")


def _import_namespace_missing(o: Pair):
    remove(o["cluster1"], "ServiceImport", "nginx", "nginx-test")
    remove(o["cluster1"], "Namespace", "nginx-test")


def _coredns_no_block(o: Pair):
    data = corefile(o["cluster1"])
    data["Corefile"] = without_clusterset(data["Corefile"])


def _coredns_wrong_ip(o: Pair):
    data = corefile(o["cluster1"])
    data["Corefile"] = data["Corefile"].replace("forward . 10.96.6.201", "forward . 10.96.6.202")


def _coredns_custom_elsewhere(o: Pair):
    cr = find(o["cluster1"], "Submariner", "submariner", SUBM_NS)
    cr["spec"]["coreDNSCustomConfig"] = {"configMapName": "coredns-custom", "namespace": "dns-system"}


def _evicted_leftover(o: Pair):
    pod = copy.deepcopy(pod_named(o["cluster"], "submariner-lighthouse-agent-"))
    pod["metadata"]["name"] = "submariner-lighthouse-agent-5b678544d4-zz9qq"
    pod["status"] = {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: ephemeral-storage."}
    o["cluster"].append(pod)


def _globalnet_healthy(o: Pair):
    enable_globalnet(o)


def _globalnet_overlap(o: Pair):
    enable_globalnet(o)
    overlap_service_cidrs(o)


def _globalnet_unallocated(o: Pair):
    enable_globalnet(o, allocate=False)
    del find(o["cluster"], "GlobalIngressIP", "nginx", "nginx-test")["status"]["allocatedIP"]


CASES = [
    ("calico-ipip", _calico_ipip, {"calico-prereqs[cluster]": "fail"}, ["IPPool default-ipv4-ippool", "IPIP"], ["VXLAN"], {}),
    ("calico-api-server-missing", None, {"calico-prereqs[cluster1]": "fail"}, ["projectcalico.org/v3", "crd.projectcalico.org/v1"], ["Calico API server", "APIServer"], {"calico_api": ("cluster",)}),
    ("remote-ippool-missing", _remote_pool_missing, {"calico-prereqs[cluster]": "fail"}, ["100.128.0.0/10", "cluster1"], ["disabled: true", "natOutgoing: false"], {}),
    ("remote-ippool-enabled", _remote_pool_enabled, {"calico-prereqs[cluster1]": "fail"}, ["IPPool svccluster", "not disabled", "natOutgoing: true"], ["disabled: true"], {}),
    ("remote-ippool-bgp-export", _remote_pool_bgp_export, {"calico-prereqs[cluster1]": "warn"}, ["IPPool svccluster", "disableBGPExport"], ["disableBGPExport: true"], {}),
    ("kube-proxy-ipvs", _ipvs, {"kube-proxy-mode[cluster1]": "fail"}, ["ipvs", "ConfigMap kube-system/kube-proxy"], ["mode: iptables", "kube-system/kube-proxy"], {}),
    ("kube-proxy-empty-mode", _empty_mode_is_iptables, {}, [], [], {}),
    ("nodelocaldns-no-clusterset", _nodelocal_without_block, {"nodelocaldns[cluster]": "fail"}, ["ConfigMap kube-system/nodelocaldns", "clusterset.local"], ["clusterset.local:53", "10.96.2.117"], {}),
    ("nodelocaldns-with-clusterset", _nodelocal_with_block, {}, [], [], {}),
    ("nodelocaldns-wrong-ip", _nodelocal_wrong_ip, {"nodelocaldns[cluster]": "fail"}, ["10.234.30.44", "10.96.2.117", "submariner-operator/submariner-lighthouse-coredns"], ["forward . 10.96.2.117"], {}),
    ("no-gateway-label", _no_gateway_label, {"gateway-nodes[cluster1]": "fail"}, ["submariner.io/gateway=true"], ["kubectl label node"], {}),
    ("malformed-public-ip", _malformed_public_ip, {"gateway-nodes[cluster]": "fail"}, ["node1", "gateway.submariner.io/public-ip", "'10.53.23.11'"], ["ipv4:"], {}),
    ("unknown-gateway-key", _unknown_gateway_key, {"gateway-nodes[cluster]": "fail"}, ["node1", "gateway.submariner.io/public_ip"], ["kubectl annotate node node1"], {}),
    ("connection-connecting", _connection("connecting", ""), {"gateway-connections[cluster]": "fail"}, ["submariner-operator/node1", "cluster1", "connecting"], ["UDP 4500"], {}),
    ("connection-error", _connection("error", "Failed to successfully ping the remote endpoint IP 100.128.91.64"), {"gateway-connections[cluster]": "fail"}, ["submariner-operator/node1", "is error", '"Failed to successfully ping the remote endpoint IP 100.128.91.64"'], ["UDP 4500", "logs"], {}),
    ("connection-none", _connection("none", "Connection has not been established"), {"gateway-connections[cluster]": "fail"}, ["is none", '"Connection has not been established"'], ["gateway logs"], {}),
    ("no-active-gateway", _gateway_passive, {"gateway-connections[cluster]": "fail"}, ["no active Gateway", "submariner-operator/node1 passive"], ["submariner.io/gateway=true"], {}),
    ("no-active-gateway-pod", _gateway_pod_passive, {"submariner-deployment[cluster]": "fail"}, ["gateway.submariner.io/status=active"], ["logs"], {}),
    ("routeagent-error", _routeagent("error", "Failed to successfully ping the remote endpoint IP 100.128.91.64"), {"routeagent-connections[cluster]": "fail"}, ["RouteAgent submariner-operator/node3", "error", '"Failed to successfully ping'], ["UDP 4800", "node3"], {}),
    ("routeagent-connecting", _routeagent("connecting", ""), {"routeagent-connections[cluster]": "fail"}, ["RouteAgent submariner-operator/node3", "connecting"], ["UDP 4800"], {}),
    ("routeagent-healthcheck-off", _routeagent("none", "Health check is not enabled"), {"routeagent-connections[cluster]": "warn"}, ["node3", "health checking is off"], ["connectionHealthCheck"], {}),
    ("daemonset-unready-pod", _ds_unready_pod, {"submariner-deployment[cluster]": "fail"}, ["DaemonSet submariner-operator/submariner-routeagent: 1 of 2 pods ready", "submariner-operator/submariner-routeagent-x7k2q"], ["kubectl -n submariner-operator describe pod"], {}),
    ("daemonset-status-stale", _ds_status_lies, {"submariner-deployment[cluster]": "fail"}, ["submariner-operator/submariner-routeagent-x7k2q", "not Ready"], ["describe pod"], {}),
    ("crashloop-phase-running", _crashloop_running, {"submariner-deployment[cluster1]": "fail"}, ["submariner-operator/submariner-lighthouse-agent-5b678544d4-wq6tn", "CrashLoopBackOff", "phase Running"], ["logs", "--previous"], {}),
    ("restarts-warn", _restarts, {"submariner-deployment[cluster1]": "warn"}, ["submariner-lighthouse-coredns-56db555d7b-c8fjz", "restarted 6 times"], ["describe pod"], {}),
    ("daemonset-missing", _missing_daemonset, {"submariner-deployment[cluster]": "fail"}, ["DaemonSet submariner-operator/submariner-metrics-proxy not found"], ["operator logs"], {}),
    ("two-local-endpoints", _two_local_endpoints, {"submariner-endpoints[cluster]": "fail"}, ["2 local Endpoints", "submariner-operator/cluster-submariner-cable-cluster-192-168-23-23"], ["Delete the stale Endpoint"], {}),
    ("remote-endpoint-missing", _remote_endpoint_missing, {"submariner-endpoints[cluster]": "fail"}, ["no remote Endpoint for cluster cluster1"], ["same broker"], {}),
    ("shared-public-ip-nat", _shared_public_ip, {"submariner-endpoints[cluster]": "warn", "submariner-endpoints[cluster1]": "warn"}, ["10.53.23.11", "cluster, cluster1"], ["gateway.submariner.io/public-ip"], {}),
    ("broker-cluster-missing", _broker_cluster_missing, {"broker-clusters[cluster]": "fail"}, ["cluster cluster1", "submariner-k8s-broker"], ["Join cluster1"], {}),
    ("serviceexport-invalid", _export_invalid, {"service-exports[cluster]": "fail"}, ["ServiceExport nginx-test/nginx is not Valid", "UnsupportedServiceType", '"Service of type "ExternalName" not supported"'], ["Valid condition"], {}),
    ("serviceexport-conflict", _export_conflict, {"service-exports[cluster]": "fail"}, ["nginx-test/nginx is in Conflict", "ConflictingPorts"], ["same (ports, type)"], {}),
    ("serviceimport-missing", _import_missing, {"service-imports[cluster->cluster1]": "fail"}, ["no ServiceImport nginx-test/nginx in cluster1"], ["Lighthouse agent logs"], {}),
    ("serviceimport-namespace-missing", _import_namespace_missing, {"service-imports[cluster->cluster1]": "fail"}, ["namespace nginx-test does not exist"], ["kubectl create namespace nginx-test"], {}),
    ("coredns-no-clusterset", _coredns_no_block, {"coredns-forwarding[cluster1]": "fail"}, ["ConfigMap kube-system/coredns", "no clusterset.local:53 block"], ["clusterset.local:53 { forward . 10.96.6.201 }"], {}),
    ("coredns-wrong-ip", _coredns_wrong_ip, {"coredns-forwarding[cluster1]": "fail"}, ["10.96.6.202", "10.96.6.201", "submariner-operator/submariner-lighthouse-coredns"], ["forward . 10.96.6.201"], {}),
    ("coredns-custom-config-elsewhere", _coredns_custom_elsewhere, {"coredns-forwarding[cluster1]": "warn"}, ["dns-system/coredns-custom", "not verified"], ["clusterset.local:53"], {}),
    ("evicted-pod-left-behind", _evicted_leftover, {"submariner-deployment[cluster]": "warn"}, ["submariner-lighthouse-agent-5b678544d4-zz9qq", "evicted"], ["describe pod"], {}),
    ("k8s-1.18", None, {"k8s-version[cluster1]": "fail"}, ["v1.18"], ["Upgrade"], {"versions": {"cluster1": "v1.18.20"}}),
    ("cidr-overlap", overlap_service_cidrs, {"cidr-overlap[cluster<->cluster1]": "fail"}, ["10.96.0.0/22", "cluster", "cluster1"], ["Globalnet"], {}),
    ("cidr-overlap-globalnet", _globalnet_overlap, {"globalnet[cluster]": "pass", "globalnet[cluster1]": "pass"}, [], [], {}),
    ("globalnet-healthy", _globalnet_healthy, {"globalnet[cluster]": "pass", "globalnet[cluster1]": "pass"}, [], [], {}),
    ("globalnet-unallocated", _globalnet_unallocated, {"globalnet[cluster]": "fail", "globalnet[cluster1]": "fail"}, ["cluster-egress.submariner.io", "insufficient IPs"], ["Globalnet logs"], {}),
]


def test_healthy_pair_all_pass_or_skip_with_reason(baseline):
    report = baseline["report"]
    assert baseline["code"] == 0, baseline["out"]
    got = verdicts(report)
    for r in report["results"]:
        assert r["status"] in ("pass", "skip"), r
        if r["status"] == "skip":
            assert r["message"], r
    mine = [c.id for c in resolve(include_plugins=False).checks if "passive" in c.tags and c.providers != frozenset({"netmaker"})]
    expected_skips = {
            "broker-clusters[cluster1]", "globalnet[cluster]", "globalnet[cluster1]",
            "service-exports[cluster1]", "service-imports[cluster1->cluster]",  # cluster1 exports nothing
        }
    for key, status in got.items():
        if key.split("[")[0] in mine:
            assert status == ("skip" if key in expected_skips else "pass"), (key, status)
    assert "service-imports[cluster->cluster1]" in got and "service-imports[cluster1->cluster]" in got
    assert {c["name"]: c["provider"] for c in report["clusters"]} == {"cluster": "submariner", "cluster1": "submariner"}


def test_healthy_messages_and_details(baseline):
    results = {(r["check"], tuple(r["clusters"])): r for r in baseline["report"]["results"]}
    gw = results[("gateway-connections", ("cluster",))]
    assert "submariner-operator/node1" in gw["message"] and "cluster1 connected" in gw["message"]
    assert gw["details"]["rtt"]["cluster1"]["average"] == "1.203814ms"
    assert "iptables" in results[("kube-proxy-mode", ("cluster1",))]["message"]
    assert "10.96.2.117" in results[("coredns-forwarding", ("cluster",))]["message"]
    assert "not deployed" in results[("nodelocaldns", ("cluster",))]["message"]
    assert "node1" in results[("gateway-nodes", ("cluster",))]["message"]
    assert "cluster, cluster1" in results[("broker-clusters", ("cluster",))]["message"]
    assert "exports no service" in results[("service-imports", ("cluster1", "cluster"))]["message"]
    assert results[("routeagent-connections", ("cluster",))]["details"]["route_agents"]["submariner-operator/node1"]["cluster1"]["status"] == "none"


def test_no_secret_in_any_report(baseline):
    text = baseline["out"] + "".join(p.read_text(errors="replace") for p in baseline["dir"].iterdir() if p.is_file())
    assert text and "planted-broker-token-DO-NOT-LEAK" not in text and "planted-psk-DO-NOT-LEAK" not in text


def test_each_query_sent_once_per_cluster(baseline):
    for cluster, keys in baseline["requests"].items():
        lists = [k for k in keys if not k.startswith(("/version", "/api;", "/apis;")) and k not in ("/api", "/apis")]
        dupes = sorted({k for k in lists if lists.count(k) > 1})
        assert not dupes, (cluster, dupes)
        paths = {k.split(";")[0] for k in lists}
        assert "/api/v1/configmaps" not in paths and "/api/v1/namespaces/kube-system/configmaps" in paths
        # no cluster-wide list of every pod, node or Deployment: only selected, limited or namespaced ones
        for plain in ("/api/v1/pods", "/api/v1/nodes", "/apis/apps/v1/deployments"):
            assert f"{plain};limit=500" not in lists, (cluster, plain)


#: Field selectors kube-apiserver serves, by kind (every kind serves metadata.name and metadata.namespace).
SERVED_FIELDS = {"pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                          "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"},
                 "nodes": {"spec.unschedulable"}}


@pytest.mark.parametrize("check", [c for c in resolve(include_plugins=False).checks], ids=lambda c: c.id)
def test_declared_queries_are_narrow_and_servable(check):
    assert len(check.reads) == len(set(check.reads)), check.reads
    for res in (*check.reads, *check.reads_if_needed):
        if res.plural == "configmaps":
            assert res.namespace == "kube-system", res.key  # mcdiag reads ConfigMaps in kube-system only
        for path, _, _ in R.parse_fields(res.fields):
            assert path in {"metadata.name", "metadata.namespace"} | SERVED_FIELDS.get(res.plural, set()), res.key
    for res in check.reads:  # read ahead: never every pod or every Deployment of the cluster, whole
        if res.plural in ("pods", "deployments") and res.group in ("", "apps"):
            assert res.narrowed, (check.id, res.key)
    whole_nodes = [r for r in check.reads if r.plural == "nodes" and not r.narrowed]
    assert not whole_nodes or check.id == "netclient-deployment", (check.id, "reads every node ahead")


@pytest.mark.parametrize(("mutate", "expected", "message", "hint", "options"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_failure_mode(memory, baseline, mutate: Callable[[Pair], None] | None, expected, message, hint, options):
    objs = healthy_pair()
    if mutate:
        mutate(objs)
    run = run_pair(memory, objs, **options)
    base, got = verdicts(baseline["report"]), run.verdicts()
    changed = {k: got.get(k) for k in set(base) | set(got) if base.get(k) != got.get(k)}
    assert changed == expected, run.json["results"]
    for key in expected:
        check, target = key[:-1].split("[")
        result = run.result(check, target)
        if result["status"] in ("fail", "warn"):
            for word in message:
                assert word in result["message"], (word, result["message"])
            for word in hint:
                assert word in (result["hint"] or ""), (word, result["hint"])
            assert result["docs"], result


def test_broker_crd_missing_is_named(memory):
    """A broker CRD is missing when the API does not serve its kind (no CRD object is read)."""
    objs = healthy_pair()
    crds = [c for c in _crds() if c["metadata"]["name"] != "gateways.submariner.io"]
    run = memory({"cluster": crds + objs["cluster"], "cluster1": list(_crds()) + objs["cluster1"]}, "run", "broker-clusters",
                 extra_groups=CALICO_API)
    result = run.result("broker-clusters", "cluster")
    assert result["status"] == "fail" and "broker CRD(s) missing: gateways.submariner.io" in result["message"], result
    assert run.status("broker-clusters", "cluster1") == "skip"  # no broker there


def test_globalnet_distinct_cidrs_pass_the_overlap(memory):
    objs = healthy_pair()
    _globalnet_overlap(objs)
    run = run_pair(memory, objs)
    overlap = run.result("cidr-overlap", "cluster<->cluster1")
    assert overlap["status"] == "pass" and "Globalnet is on" in overlap["message"], overlap
    glob = run.result("globalnet", "cluster")
    assert "242.0.0.1" in glob["message"] and glob["details"]["ingress_ips"] == {"nginx-test/nginx": "242.0.255.253"}


# ---------------------------------------------------------------------------------------------
# Fixtures against the real CRD schemas
# ---------------------------------------------------------------------------------------------
SCHEMA_KINDS = {
    "Submariner": "submariner.io_submariners.yaml",
    "ServiceDiscovery": "submariner.io_servicediscoveries.yaml",
    "ServiceExport": "multicluster.x_k8s.io_serviceexports.yaml",
    "ServiceImport": "multicluster.x_k8s.io_serviceimports.yaml",
}


def _schema(file: str) -> dict:
    crd = next(d for d in yaml.safe_load_all((SHARED / "crds" / file).read_text()) if d)
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _strip_k8s_extensions(schema):
    """OpenAPI v3 as JSON Schema: drop x-kubernetes-* keys (metadata is validated by the API server, not here)."""
    if isinstance(schema, dict):
        return {k: _strip_k8s_extensions(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if isinstance(schema, list):
        return [_strip_k8s_extensions(v) for v in schema]
    return schema


@pytest.mark.skipif(not (SHARED / "crds").is_dir(), reason="the shared CRDs (../shared/crds) are not here")
@pytest.mark.parametrize("cluster", NAMES)
def test_fixtures_validate_against_real_crds(cluster):
    objs = list(_objects(cluster))
    seen = set()
    for obj in objs:
        file = SCHEMA_KINDS.get(obj["kind"])
        if file and obj["apiVersion"].split("/")[0] in ("submariner.io", "multicluster.x-k8s.io"):
            jsonschema.validate(obj, _strip_k8s_extensions(_schema(file)))
            seen.add(obj["kind"])
    assert seen == (set(SCHEMA_KINDS) if cluster == "cluster" else set(SCHEMA_KINDS) - {"ServiceExport"})


@pytest.mark.skipif(not (SHARED / "crds").is_dir(), reason="the shared CRDs (../shared/crds) are not here")
def test_globalnet_mutation_still_validates():
    objs = healthy_pair()
    enable_globalnet(objs)
    for items in objs.values():
        for obj in items:
            if obj["kind"] in ("Submariner", "ServiceDiscovery"):
                jsonschema.validate(obj, _strip_k8s_extensions(_schema(SCHEMA_KINDS[obj["kind"]])))


def test_fixture_readme_lists_every_file():
    readme = (FIXTURES / "submariner" / "README.md").read_text()
    for path in sorted((FIXTURES / "submariner").rglob("*.yaml")):
        assert path.name in readme, path
    assert Path(FIXTURES / "submariner" / "cluster" / "broker.yaml").exists()
