"""The lab's Kubernetes objects: real shapes, and they agree with the topology."""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml

from mcdiag.lab.objects import (
    FAKE_BROKER_TOKEN,
    FAKE_NETMAKER_TOKENS,
    FAKE_PSK,
    FAKE_SECRETS,
    K3S_VERSION,
    KUBEADM_VERSION,
    corefile,
    extra_groups,
    k8s_version,
    lab_objects,
)
from mcdiag.lab.topology import MAX_CLUSTERS, build_topology

SUB = build_topology("submariner")
NM = build_topology("netmaker")


def _index(objs):
    return {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objs}


def _all(objs, kind, ns=None):
    return [o for o in objs if o["kind"] == kind and (ns is None or o["metadata"].get("namespace") == ns)]


@pytest.fixture(scope="module", params=[("submariner", "cluster"), ("submariner", "cluster1"),
                                        ("netmaker", "cluster"), ("netmaker", "cluster1")],
                ids=lambda p: "-".join(p))
def case(request):
    provider, name = request.param
    topo = build_topology(provider)
    return topo, topo.cluster(name), lab_objects(topo, name)


def test_pure_and_serialisable(case):
    topo, c, objs = case
    assert lab_objects(topo, c.name) == objs
    json.dumps(objs)
    assert list(yaml.safe_load_all(yaml.safe_dump_all(objs))) == objs
    keys = [(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]
    assert len(keys) == len(set(keys))
    assert all(o["apiVersion"] and o["metadata"]["uid"] for o in objs)


def test_nodes(case):
    topo, c, objs = case
    nodes = {n["metadata"]["name"]: n for n in _all(objs, "Node")}
    assert sorted(nodes) == sorted(n.name for n in c.nodes)
    gw_label = "submariner.io/gateway" if c.provider == "submariner" else "gateway"
    for n in c.nodes:
        o = nodes[n.name]
        lab = o["metadata"]["labels"]
        ann = o["metadata"]["annotations"]
        assert lab["kubernetes.io/hostname"] == n.name
        assert o["status"]["addresses"][0] == {"type": "InternalIP", "address": n.lan_ip}
        assert o["spec"]["podCIDR"] == n.pod_cidr and o["spec"]["podCIDRs"] == [n.pod_cidr]
        assert {x["type"]: x["status"] for x in o["status"]["conditions"]}["Ready"] == "True"
        assert (lab.get(gw_label) == "true") is n.is_gateway
        if c.provider == "submariner":  # kubeadm + Calico, as in the Submariner guide
            assert o["status"]["nodeInfo"]["kubeletVersion"] == KUBEADM_VERSION
            assert ann["projectcalico.org/IPv4Address"].startswith(n.lan_ip + "/")
            assert not [k for k in ann if k.startswith(("k3s.io/", "flannel.alpha.coreos.com/"))]
            assert ("node-role.kubernetes.io/control-plane" in lab) is n.is_gateway
            continue
        assert o["status"]["nodeInfo"]["kubeletVersion"] == K3S_VERSION
        assert ann["flannel.alpha.coreos.com/public-ip"] == n.lan_ip
        args = json.loads(ann["k3s.io/node-args"])
        if n.is_gateway:
            assert args[args.index("--cluster-cidr") + 1] == c.pod_cidr
            assert args[args.index("--service-cidr") + 1] == c.service_cidr
        else:
            assert args[0] == "agent" and "********" in args
    gw = nodes[c.gateway.name]
    ann = gw["metadata"]["annotations"]
    assert "ExternalIP" not in [a["type"] for a in nodes[c.worker.name]["status"]["addresses"]]
    if c.provider == "submariner":
        assert ann["gateway.submariner.io/public-ip"] == f"ipv4:{c.gateway.public_ip}"
    else:
        assert {"type": "ExternalIP", "address": c.gateway.public_ip} in gw["status"]["addresses"]
        assert ann["k3s.io/external-ip"] == c.gateway.public_ip
        assert ann["flannel.alpha.coreos.com/public-ip-overwrite"] == c.gateway.public_ip


def test_submariner_lab_is_the_guides_kubeadm_with_calico_vxlan():
    objs = lab_objects(SUB, "cluster")
    idx = _index(objs)
    c, peer = SUB.cluster("cluster"), SUB.cluster("cluster1")
    cfg = idx[("ConfigMap", "kube-system", "kubeadm-config")]["data"]["ClusterConfiguration"]
    assert f"podSubnet: {c.pod_cidr}" in cfg and f"serviceSubnet: {c.service_cidr}" in cfg
    assert "\nmode: iptables\n" in idx[("ConfigMap", "kube-system", "kube-proxy")]["data"]["config.conf"]
    assert ("DaemonSet", "kube-system", "kube-proxy") in idx and ("DaemonSet", "calico-system", "calico-node") in idx
    assert ("Deployment", "calico-apiserver", "calico-apiserver") in idx
    for api in ("projectcalico.org/v3", "crd.projectcalico.org/v1"):
        pools = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "IPPool" and o["apiVersion"] == api}
        assert pools["default-ipv4-ippool"]["cidr"] == c.pod_cidr and pools["default-ipv4-ippool"]["vxlanMode"] == "Always"
        assert pools["default-ipv4-ippool"]["ipipMode"] == "Never"
        remote = {p["cidr"]: p for n, p in pools.items() if n != "default-ipv4-ippool"}
        assert set(remote) == {peer.pod_cidr, peer.service_cidr}
        assert all(p["disabled"] is True and p["natOutgoing"] is False and p["disableBGPExport"] is True for p in remote.values())
    assert extra_groups("submariner")[0]["group"] == "projectcalico.org" and extra_groups("netmaker") == ()


def test_lab_objects_pass_every_passive_check(memory):
    """The lab's API objects, judged as mcdiag judges a real pair: nothing fails or warns, Calico's checks run."""
    for provider in ("submariner", "netmaker"):
        topo = build_topology(provider)
        run = memory({n: lab_objects(topo, n) for n in topo.cluster_names}, "all", "--passive",
                     version=k8s_version(provider), extra_groups=list(extra_groups(provider)))
        bad = {(r["check"], tuple(r["clusters"])): r["message"] for r in run.json["results"] if r["status"] not in ("pass", "skip")}
        assert not bad, (provider, bad)
        if provider == "submariner":
            assert run.status("calico-prereqs", "cluster") == run.status("calico-prereqs", "cluster1") == "pass"
            assert "ConfigMap" in run.result("kube-proxy-mode", "cluster")["message"]
            assert run.result("cni-support", "cluster")["details"]["cni"] == "calico"
            assert run.result("cluster-cidrs", "cluster")["status"] == "pass"
        else:
            dns = run.result("coredns-forwarding", "cluster")["details"]
            assert dns["network"] == "dc1-k3s" and dns["peer_networks"] == ["cloud-k3s"]  # from the access tokens
            assert not dns["assumed"]


def test_services_match_what_the_lab_serves(case):
    topo, c, objs = case
    idx = _index(objs)
    for name, ns, ip, port in c.services():
        svc = idx[("Service", ns, name)]
        assert svc["spec"]["clusterIP"] == ip
        assert port in [p["port"] for p in svc["spec"]["ports"]]
    assert idx[("Service", "nginx-test", "nginx")]["spec"]["ports"][0]["port"] == 8080
    ep = idx[("Endpoints", "nginx-test", "nginx")]
    assert ep["subsets"][0]["addresses"] == [{"ip": c.nginx_pod_ip}]
    # the service pods run on the gateway, where the lab serves them
    backends = {c.coredns_pod_ip, c.nginx_pod_ip} | ({c.lighthouse_pod_ip} if c.provider == "submariner" else set())
    pods = [o for o in objs if o["kind"] == "Pod" and o["status"]["podIP"] in backends]
    assert len(pods) == len(backends) and {o["spec"]["nodeName"] for o in pods} == {c.gateway.name}


def test_corefile(case):
    topo, c, objs = case
    cf = _index(objs)[("ConfigMap", "kube-system", "coredns")]["data"]["Corefile"]
    assert cf == corefile(topo, c)
    if c.provider == "submariner":
        m = re.search(r"clusterset\.local:53 \{\s*forward \. (\S+)\s*\}", cf)
        lh = _index(objs)[("Service", "submariner-operator", "submariner-lighthouse-coredns")]
        assert m and m.group(1) == lh["spec"]["clusterIP"] == c.lighthouse_ip
    else:
        peer = topo.peer(c.name)
        m = re.search(rf"{re.escape(peer.network)}:53 \{{[^}}]*forward \. (\S+)", cf)
        assert m and m.group(1) == peer.exports_dns_ip
        assert "clusterset.local" not in cf


def test_workloads_ready(case):
    topo, c, objs = case
    for ds in _all(objs, "DaemonSet"):
        st = ds["status"]
        assert st["numberReady"] == st["desiredNumberScheduled"] == st["numberAvailable"] > 0
    for d in _all(objs, "Deployment"):
        conds = {x["type"]: x["status"] for x in d["status"]["conditions"]}
        assert conds["Available"] == "True" and d["status"]["readyReplicas"] == d["spec"]["replicas"]
    for p in _all(objs, "Pod"):
        conds = {x["type"]: x["status"] for x in p["status"]["conditions"]}
        assert p["status"]["phase"] == "Running" and conds["Ready"] == "True"
        assert all(cs["ready"] and cs["restartCount"] == 0 for cs in p["status"]["containerStatuses"])
        assert p["spec"]["nodeName"] in {n.name for n in c.nodes}
        owner = p["metadata"]["ownerReferences"][0]
        assert _index(objs)[(owner["kind"], p["metadata"]["namespace"], owner["name"])]["metadata"]["uid"] == owner["uid"]


def test_submariner_objects():
    objs = lab_objects(SUB, "cluster")
    idx = _index(objs)
    c, peer = SUB.cluster("cluster"), SUB.cluster("cluster1")
    ns = "submariner-operator"
    for name in ("submariner-gateway", "submariner-routeagent", "submariner-metrics-proxy"):
        assert ("DaemonSet", ns, name) in idx
    for name in ("submariner-lighthouse-agent", "submariner-lighthouse-coredns", "submariner-operator"):
        assert ("Deployment", ns, name) in idx
    gw_pods = [p for p in _all(objs, "Pod", ns) if p["metadata"]["labels"].get("app") == "submariner-gateway"]
    assert len(gw_pods) == 1 and gw_pods[0]["metadata"]["labels"]["gateway.submariner.io/status"] == "active"
    assert gw_pods[0]["spec"]["nodeName"] == c.gateway.name and gw_pods[0]["status"]["podIP"] == c.gateway.lan_ip

    sm = idx[("Submariner", ns, "submariner")]
    assert sm["apiVersion"] == "submariner.io/v1alpha1"
    assert (sm["spec"]["clusterID"], sm["spec"]["clusterCIDR"], sm["spec"]["serviceCIDR"]) == (
        "cluster", c.pod_cidr, c.service_cidr)
    assert sm["spec"]["natEnabled"] is True and sm["spec"]["serviceDiscoveryEnabled"] is True
    assert sm["spec"]["brokerK8sApiServerToken"] == FAKE_BROKER_TOKEN and sm["spec"]["ceIPSecPSK"] == FAKE_PSK
    assert sm["status"]["clusterID"] == "cluster" and sm["status"]["networkPlugin"]
    assert sm["status"]["gateways"][0]["haStatus"] == "active"

    eps = {o["spec"]["cluster_id"]: o for o in _all(objs, "Endpoint", ns)}
    assert sorted(eps) == ["cluster", "cluster1"]
    spec = eps["cluster1"]["spec"]
    assert set(spec) >= {"cluster_id", "cable_name", "hostname", "subnets", "private_ip", "public_ip",
                         "nat_enabled", "backend", "backend_config"}
    assert spec["backend"] == "wireguard" and spec["backend_config"]["udp-port"] == "51821"
    assert (spec["private_ip"], spec["public_ip"]) == (peer.gateway.lan_ip, peer.gateway.public_ip)
    assert set(spec["subnets"]) == {peer.pod_cidr, peer.service_cidr}

    gw = idx[("Gateway", ns, c.gateway.name)]
    conn = gw["status"]["connections"][0]
    assert gw["status"]["haStatus"] == "active"
    assert conn["status"] == "connected" and conn["usingIP"] == peer.gateway.public_ip
    assert conn["endpoint"]["cluster_id"] == "cluster1" and conn["latencyRTT"]["average"]
    ras = {o["metadata"]["name"]: o["status"]["remoteEndpoints"][0]["status"] for o in _all(objs, "RouteAgent", ns)}
    assert ras == {c.gateway.name: "none", c.worker.name: "connected"}

    broker = "submariner-k8s-broker"
    assert sorted(o["metadata"]["name"] for o in _all(objs, "Cluster", broker)) == ["cluster", "cluster1"]
    assert not _all(lab_objects(SUB, "cluster1"), "Cluster")
    tok = idx[("Secret", broker, "submariner-k8s-broker-client-token")]
    assert base64.b64decode(tok["data"]["token"]).decode() == FAKE_BROKER_TOKEN

    crds = {o["metadata"]["name"] for o in _all(objs, "CustomResourceDefinition")}
    assert crds >= {"clusters.submariner.io", "endpoints.submariner.io", "gateways.submariner.io",
                    "routeagents.submariner.io", "clusterglobalegressips.submariner.io",
                    "globalingressips.submariner.io", "serviceexports.multicluster.x-k8s.io",
                    "serviceimports.multicluster.x-k8s.io", "submariners.submariner.io"}
    se = idx[("ServiceExport", "nginx-test", "nginx")]
    assert {x["type"]: x["status"] for x in se["status"]["conditions"]}["Valid"] == "True"
    si = idx[("ServiceImport", "nginx-test", "nginx")]
    assert [x["cluster"] for x in si["status"]["clusters"]] == ["cluster", "cluster1"]


def test_minimal_crds_without_shared_dir():
    objs = lab_objects(SUB, "cluster", crd_dir=None)
    crds = {o["metadata"]["name"]: o for o in _all(objs, "CustomResourceDefinition")}
    assert crds["submariners.submariner.io"]["spec"]["versions"][0]["name"] == "v1alpha1"
    assert crds["endpoints.submariner.io"]["spec"]["names"]["kind"] == "Endpoint"
    assert crds["clusterglobalegressips.submariner.io"]["spec"]["scope"] == "Cluster"


def test_public_keys_fill_endpoints():
    objs = lab_objects(SUB, "cluster", wg_public_keys={"cluster": "K1=", "cluster1": "K2="})
    eps = {o["spec"]["cluster_id"]: o["spec"] for o in _all(objs, "Endpoint", "submariner-operator")}
    assert eps["cluster1"]["backend_config"]["publicKey"] == "K2="


def test_netmaker_objects():
    objs = lab_objects(NM, "cluster")
    idx = _index(objs)
    c = NM.cluster("cluster")
    ds = idx[("DaemonSet", "default", "netclient")]
    assert ds["metadata"]["labels"]["app"] == "netclient" and ds["status"]["numberReady"] == 2
    env = {e["name"]: e.get("value") for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "NETWORK" not in env and env["TOKEN"] == FAKE_NETMAKER_TOKENS["dc1-k3s"]  # netclient v0.9.x: the token says it
    dep = idx[("Deployment", "default", "netclient-gateway")]
    assert dep["metadata"]["labels"]["app"] == "netclient-gateway"
    pods = [p for p in _all(objs, "Pod", "default") if p["metadata"]["labels"].get("app") == "netclient-gateway"]
    assert [p["spec"]["nodeName"] for p in pods] == [c.gateway.name]
    genv = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert genv["TOKEN"] == FAKE_NETMAKER_TOKENS["cloud-k3s"] and genv["NETCLIENT_PORT"] == "51821"
    assert ("Deployment", "default", "servicex") in idx
    assert not [o for o in objs if "submariner" in o["apiVersion"] or o["kind"] == "CustomResourceDefinition"]


def test_fake_secrets_are_where_real_ones_live():
    text = json.dumps(lab_objects(SUB, "cluster")) + json.dumps(lab_objects(NM, "cluster"))
    # the tokens of the networks of clusters 3 and up live in a larger lab's netclient workloads
    text += json.dumps(lab_objects(build_topology("netmaker", MAX_CLUSTERS), "cluster"))
    for s in FAKE_SECRETS:
        assert s in text or base64.b64encode(s.encode()).decode() in text, s


def test_three_submariner_clusters_are_a_full_mesh():
    """Each cluster of a 3-cluster lab knows both peers: Endpoints, Gateway connections, RouteAgents, IPPools, broker."""
    topo = build_topology("submariner", 3)
    for c in topo.clusters:
        objs = lab_objects(topo, c.name)
        ns = "submariner-operator"
        peers = [p.name for p in topo.peers(c.name)]
        assert sorted(o["spec"]["cluster_id"] for o in _all(objs, "Endpoint", ns)) == sorted([c.name, *peers])
        conns = _index(objs)[("Gateway", ns, c.gateway.name)]["status"]["connections"]
        assert [x["endpoint"]["cluster_id"] for x in conns] == peers
        assert [x["usingIP"] for x in conns] == [p.gateway.public_ip for p in topo.peers(c.name)]
        assert all(x["status"] == "connected" for x in conns)
        for ra in _all(objs, "RouteAgent", ns):
            assert [r["spec"]["cluster_id"] for r in ra["status"]["remoteEndpoints"]] == peers
        pools = {o["spec"]["cidr"]: o["spec"] for o in _all(objs, "IPPool") if o["apiVersion"] == "projectcalico.org/v3"}
        for p in topo.peers(c.name):
            assert pools[p.pod_cidr]["disabled"] and pools[p.service_cidr]["disabled"]
        si = _index(objs)[("ServiceImport", "nginx-test", "nginx")]
        assert [x["cluster"] for x in si["status"]["clusters"]] == topo.cluster_names
    broker = lab_objects(topo, "cluster")
    assert sorted(o["metadata"]["name"] for o in _all(broker, "Cluster", "submariner-k8s-broker")) == topo.cluster_names


def test_three_netmaker_clusters_join_every_peer_network():
    """One netclient-gateway per peer network (its token), and a Corefile block per peer network."""
    topo = build_topology("netmaker", 3)
    for c in topo.clusters:
        objs = lab_objects(topo, c.name)
        gws = [d for d in _all(objs, "Deployment", "default") if d["metadata"]["labels"].get("app") == "netclient-gateway"]
        tokens = sorted(e["value"] for d in gws for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
                        if e["name"] == "TOKEN")
        assert tokens == sorted(FAKE_NETMAKER_TOKENS[p.network] for p in topo.peers(c.name))
        assert sorted(d["metadata"]["name"] for d in gws) == sorted(f"netclient-gateway-{p.network}"
                                                                      for p in topo.peers(c.name))
        cf = corefile(topo, c)
        for p in topo.peers(c.name):
            m = re.search(rf"{re.escape(p.network)}:53 \{{[^}}]*forward \. (\S+)", cf)
            assert m and m.group(1) == p.exports_dns_ip
        assert f"{c.network}:53" not in cf
