"""Facts behind the Submariner and data-plane checks: pod readiness, settings, active gateway, kube-proxy, Corefiles, Netmaker networks."""

from __future__ import annotations

import json

import pytest

from mcdiag.facts import dns, netmaker, networks, objects
from mcdiag.facts import submariner as sm
from mcdiag.gather.view import ClusterView
from tests.conftest import fake_view


def view(*objects: dict, served: tuple[str, ...] = ()) -> ClusterView:
    return fake_view("test", *objects, served=served)


def obj(api: str, kind: str, name: str, namespace: str | None = None, **body) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    meta.update(body.pop("metadata", {}))
    return {"apiVersion": api, "kind": kind, "metadata": meta, **body}


def pod(name: str, ns: str = "submariner-operator", *, phase="Running", ready=True, waiting=None, restarts=0, labels=None, owner=None, node="node1") -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    meta = {"labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1]}]
    return obj(
        "v1", "Pod", name, ns, metadata=meta, spec={"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
        status={"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": [{"name": "c", "ready": ready and not waiting, "restartCount": restarts, "state": state}]},
    )


def submariner(spec: dict | None = None, status: dict | None = None) -> dict:
    return obj("submariner.io/v1alpha1", "Submariner", "submariner", "submariner-operator",
               spec={"clusterID": "east", "natEnabled": True, **(spec or {})}, status=status or {})


# ---------------------------------------------------------------------------------------------
# Pods and workloads
# ---------------------------------------------------------------------------------------------
def test_pod_state_crashloop_fails_even_while_running():
    st = objects.pod_state(pod("gw", waiting="CrashLoopBackOff", restarts=9))
    assert st.phase == "Running" and "CrashLoopBackOff" in st.problem and "phase Running" in st.problem and "9 restarts" in st.problem


def test_pod_state_not_ready_pending_restarts_and_healthy():
    assert "not Ready" in objects.pod_state(pod("a", ready=False)).problem
    assert "Pending" in objects.pod_state(pod("b", phase="Pending", ready=False)).problem
    warned = objects.pod_state(pod("c", restarts=objects.RESTART_WARN))
    assert warned.problem is None and "restarted 5 times" in warned.warning
    evicted = pod("e", phase="Failed", ready=False)
    evicted["status"].update(reason="Evicted", message="The node was low on resource: memory.")
    assert objects.pod_state(evicted).problem is None and "evicted" in objects.pod_state(evicted).warning
    ok = objects.pod_state(pod("d", restarts=4))
    assert ok.problem is None and ok.warning is None and ok.ready


def test_workload_readiness_uses_ready_counts_and_pods():
    ds = obj("apps/v1", "DaemonSet", "submariner-routeagent", "submariner-operator",
             spec={"selector": {"matchLabels": {"app": "ra"}}},
             status={"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1})
    pods = [pod("ra-1", owner=("DaemonSet", "submariner-routeagent")), pod("ra-2", ready=False, owner=("DaemonSet", "submariner-routeagent")),
            pod("other", owner=("DaemonSet", "something-else"))]
    problems, warnings = objects.workload_readiness(ds, pods)
    assert problems[0] == "DaemonSet submariner-operator/submariner-routeagent: 1 of 2 pods ready"
    assert any("ra-2" in p for p in problems) and not any("other" in p for p in problems) and warnings == []
    none_scheduled = dict(ds, status={"desiredNumberScheduled": 0, "numberReady": 0})
    assert "schedules no pod" in objects.workload_readiness(none_scheduled, [])[0][0]


def test_owned_pods_of_deployment_through_replicaset_and_by_labels():
    dep = obj("apps/v1", "Deployment", "submariner-lighthouse-agent", "submariner-operator",
              spec={"replicas": 1, "selector": {"matchLabels": {"app": "la"}}}, status={"availableReplicas": 0})
    owned = pod("submariner-lighthouse-agent-5b678544d4-prm9k", owner=("ReplicaSet", "submariner-lighthouse-agent-5b678544d4"))
    labelled = pod("la-x", labels={"app": "la"})
    assert objects.workload_pods(dep, [owned, labelled, pod("zzz")]) == [owned, labelled]
    assert "0 of 1 replicas available" in objects.workload_readiness(dep, [])[0][0]


# ---------------------------------------------------------------------------------------------
# Submariner settings, active gateway
# ---------------------------------------------------------------------------------------------
def test_settings_plain():
    s = sm.submariner_settings(view(submariner({"serviceDiscoveryEnabled": True, "connectionHealthCheck": {"enabled": True}})))
    assert s.installed and s.cluster_id == "east" and s.namespace == "submariner-operator"
    assert s.service_discovery and not s.globalnet and s.nat_enabled is True and s.health_check is True


def test_settings_globalnet_from_cr_or_service_discovery():
    assert sm.submariner_settings(view(submariner(status={"globalCIDR": "242.0.0.0/16", "clusterID": "east", "natEnabled": False}))).globalnet
    sd = obj("submariner.io/v1alpha1", "ServiceDiscovery", "service-discovery", "submariner-operator", spec={"globalnetEnabled": True})
    s = sm.submariner_settings(view(submariner(), sd))
    assert s.globalnet and s.service_discovery and s.global_cidrs == []


def test_settings_without_submariner():
    s = sm.submariner_settings(view(served=("submariner.io/v1alpha1",)))
    assert not s.installed and not s.globalnet and s.cluster_id is None


def gateway(name: str, ha: str) -> dict:
    return obj("submariner.io/v1", "Gateway", name, "submariner-operator", status={"haStatus": ha, "localEndpoint": {"hostname": name}, "connections": []})


def test_active_gateway_from_gateway_object():
    gw_pod = pod("submariner-gateway-abc", labels={"app": "submariner-gateway", "gateway.submariner.io/status": "active"}, node="node2")
    active = sm.active_gateway(view(submariner(), gateway("node1", "passive"), gateway("node2", "active"), gw_pod))
    assert active.node == "node2" and active.gateway["metadata"]["name"] == "node2" and active.pod == gw_pod
    assert "haStatus active" in active.source


def test_active_gateway_from_pod_label_only_and_none():
    gw_pod = pod("submariner-gateway-abc", labels={"app": "submariner-gateway", "gateway.submariner.io/status": "active"}, node="node7")
    active = sm.active_gateway(view(submariner(), gw_pod))
    assert active.node == "node7" and active.gateway is None and "status=active" in active.source
    assert sm.active_gateway(view(submariner(), gateway("node1", "passive"))) is None


def test_endpoint_helpers():
    spec = {"public_ip": "10.53.23.11", "private_ip": "192.168.23.22", "healthCheckIP": "100.64.0.1"}
    assert sm.endpoint_ip(spec) == "10.53.23.11 (private 192.168.23.22)"


# ---------------------------------------------------------------------------------------------
# kube-proxy
# ---------------------------------------------------------------------------------------------
def kp_cm(mode_line: str) -> dict:
    conf = f"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n{mode_line}\n"
    return obj("v1", "ConfigMap", "kube-proxy", "kube-system", data={"config.conf": conf})


def kp_ds(*command: str) -> dict:
    return obj("apps/v1", "DaemonSet", "kube-proxy", "kube-system", metadata={"labels": {"k8s-app": "kube-proxy"}},
               spec={"template": {"spec": {"containers": [{"name": "kube-proxy", "command": list(command)}]}}})


def k3s_node(*args: str) -> dict:
    return obj("v1", "Node", "k3s-1", metadata={"annotations": {"k3s.io/node-args": json.dumps(["server", *args])}},
               status={"nodeInfo": {"kubeletVersion": "v1.28.5+k3s1"}})


@pytest.mark.parametrize(
    ("objects", "mode", "source"),
    [
        ([kp_cm('mode: ""'), kp_ds("kube-proxy", "--config=/var/lib/kube-proxy/config.conf")], "iptables", "ConfigMap kube-system/kube-proxy (config.conf)"),
        ([kp_cm("mode:"), kp_ds("kube-proxy", "--config=/x")], "iptables", "ConfigMap"),
        ([kp_cm("mode: ipvs"), kp_ds("kube-proxy", "--config=/x")], "ipvs", "ConfigMap"),
        ([kp_cm("mode: iptables"), kp_ds("kube-proxy", "--proxy-mode=ipvs")], "ipvs", "DaemonSet kube-system/kube-proxy --proxy-mode"),
        ([kp_ds("kube-proxy", "--proxy-mode", "ipvs")], "ipvs", "DaemonSet"),
        ([kp_ds("kube-proxy", "--v=2")], "iptables", "DaemonSet"),
        ([k3s_node("--kube-proxy-arg=proxy-mode=ipvs")], "ipvs", "k3s node args"),
        ([k3s_node("--kube-proxy-arg", "proxy-mode=ipvs")], "ipvs", "k3s node args"),
        ([k3s_node("--cluster-cidr=10.42.0.0/16")], "iptables", "k3s embedded"),
    ],
)
def test_kube_proxy_mode(objects, mode, source):
    kp = networks.kube_proxy_mode(view(*objects))
    assert kp.mode == mode and kp.source.startswith(source) and kp.replacement is None


def test_kube_proxy_replacements_and_unknown():
    ovn = networks.kube_proxy_mode(view(pod("ovnkube-node-x", "ovn-kubernetes", labels={"app": "ovnkube-node"})))
    assert ovn.mode is None and ovn.replacement == "OVN-Kubernetes"
    cilium = obj("v1", "ConfigMap", "cilium-config", "kube-system", data={"kube-proxy-replacement": "true"})
    cds = obj("apps/v1", "DaemonSet", "cilium", "kube-system", metadata={"labels": {"k8s-app": "cilium"}})
    assert networks.kube_proxy_mode(view(cilium, cds)).replacement == "Cilium kubeProxyReplacement"
    assert networks.kube_proxy_mode(view(k3s_node("--disable-kube-proxy"))).mode is None
    sdn = obj("config.openshift.io/v1", "Network", "cluster", spec={"networkType": "OpenShiftSDN"})
    assert networks.kube_proxy_mode(view(sdn)).mode == "iptables"
    unknown = networks.kube_proxy_mode(view())
    assert unknown.mode is None and unknown.replacement is None and "no kube-proxy" in unknown.source


# ---------------------------------------------------------------------------------------------
# Corefiles
# ---------------------------------------------------------------------------------------------
COREFILE = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
    }
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
}
#lighthouse-start AUTO-GENERATED SECTION. DO NOT EDIT
clusterset.local:53 {
    forward . 10.96.2.117
}
#lighthouse-end
import /etc/coredns/custom/*.server
dc1-k3s:53 { forward . 203.0.113.10:53 }
dns://cloud-k3s:53 {
    forward . tls://203.0.113.11 dns.example.com  # a name is not an IP
}
supercluster.local:5353 {
    forward . 10.0.0.1
}
"""


def test_corefile_blocks():
    blocks = dns.corefile_blocks(COREFILE, "ConfigMap kube-system/coredns (Corefile)")
    assert [b.zones for b in blocks] == [[".:53"], ["clusterset.local:53"], ["dc1-k3s:53"], ["dns://cloud-k3s:53"], ["supercluster.local:5353"]]
    root, clusterset, dc1, cloud, other = blocks
    assert root.forwards == ["/etc/resolv.conf"] and dns.forward_ips(root) == []
    assert any(line.startswith("kubernetes") for line in root.lines)
    assert clusterset.serves("clusterset.local") and not root.serves("clusterset.local")
    assert dns.forward_ips(clusterset) == ["10.96.2.117"] and clusterset.source.endswith("(Corefile)")
    assert dc1.serves("dc1-k3s") and dns.forward_ips(dc1) == ["203.0.113.10"]
    assert cloud.serves("cloud-k3s") and dns.forward_ips(cloud) == ["203.0.113.11"]
    assert not other.serves("supercluster.local")  # port 5353 is not DNS on 53


def test_coredns_blocks_and_lighthouse_ip():
    core = obj("v1", "ConfigMap", "coredns", "kube-system", data={"Corefile": COREFILE})
    custom = obj("v1", "ConfigMap", "coredns-custom", "kube-system", data={"peer.server": "east-k3s:53 {\n forward . 198.51.100.1\n}\n", "x.override": "log"})
    svc = obj("v1", "Service", "submariner-lighthouse-coredns", "submariner-operator", spec={"clusterIP": "10.96.2.117"})
    v = view(core, custom, svc, submariner())
    blocks, read = dns.coredns_blocks(v)
    assert read == ["kube-system/coredns", "kube-system/coredns-custom"]
    assert any(b.serves("east-k3s") and b.source == "ConfigMap kube-system/coredns-custom (peer.server)" for b in blocks)
    assert sm.lighthouse_dns_ip(v) == "10.96.2.117"
    assert sm.lighthouse_dns_ip(view(submariner())) is None


# ---------------------------------------------------------------------------------------------
# Netmaker networks
# ---------------------------------------------------------------------------------------------
def workload(kind: str, name: str, app: str, env=None, command=None) -> dict:
    container = {"name": "netclient", "image": "gravitl/netclient:v0.9.3", "env": env or [], **({"command": command} if command else {})}
    return obj("apps/v1", kind, name, "default", metadata={"labels": {"app": app}}, spec={"template": {"spec": {"containers": [container]}}})


def test_netclient_networks():
    ds = workload("DaemonSet", "netclient", "netclient", env=[{"name": "ACCESS_TOKEN", "value": "x"}, {"name": "NETWORK", "value": "dc1-k3s"}])
    gw = workload("Deployment", "netclient-gateway", "netclient-gateway", env=[{"name": "NETWORK", "value": "cloud-k3s"}])
    v = view(ds, gw)
    assert netmaker.cluster_networks(v) == ["dc1-k3s"]
    assert netmaker.gateway_networks(v) == ["cloud-k3s"]
    by_arg = workload("DaemonSet", "netclient", "netclient", env=[{"name": "NETWORK", "value": "$(NET)"}],
                      command=["bash", "-c", "/root/netclient join -t $ACCESS_TOKEN; /root/netclient checkin -n dc1-k3s"])
    assert netmaker.cluster_networks(view(by_arg)) == ["dc1-k3s"]
    assert netmaker.cluster_networks(view()) == []
