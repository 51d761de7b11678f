"""Pods created through a lab cluster's API really run in the lab (root).

The probe pods go through mcdiag's own executor and the official kubernetes
client, exactly as the active checks create them.
"""

from __future__ import annotations

import ipaddress
import os
import time

import pytest

from mcdiag.active.executor import PodSpec, ProbeExecutor
from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster
from mcdiag.lab import Lab
from mcdiag.lab.netns import cmdline, list_netns, netns_etc_dirs, pid_alive
from mcdiag.lab.topology import POD_HOSTS, pod_netns_re

pytestmark = pytest.mark.root

NS = "mcdiag-probes"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_lock):
    the_lab = Lab(tmp_path_factory.mktemp("podlab"), "submariner")
    try:
        st = the_lab.up()
        if not st["kubeconfigs"]:
            pytest.fail(f"no lab API servers: {st['warnings']}")
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="module")
def ex(lab):
    sources = {name: load_cluster(ClusterSpec(str(lab.kubeconfig(name))), 10.0) for name in lab.cluster_names}
    executor = ProbeExecutor(sources, start_timeout=20)
    yield executor
    assert executor.cleanup() == []


def _kube(lab, cluster: str):
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(str(lab.kubeconfig(cluster))))


def _probe(ex, cluster, node, *argv, host_network=False, timeout=10.0):
    return ex.run(cluster, PodSpec(node=node, argv=["mcdiag", "probe", *argv], host_network=host_network,
                                   timeout=timeout))


def _serve(ex, cluster, node, port=8080, host_network=False):
    spec = PodSpec(node=node, argv=["mcdiag", "probe", "serve", "--port", str(port)], name="serve",
                   host_network=host_network, timeout=20)
    name, pod, problem = ex.serve(cluster, spec)
    assert not problem, problem
    assert ex.wait_log(cluster, name, '"listening"', 15), ex.logs(cluster, name)
    return name, pod


def _wait(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_host_network_pod_on_gateway_reaches_peer_nginx(lab, ex):
    a, b = lab.cluster_names
    gw = lab.cluster(a).gateway
    res = _probe(ex, a, gw.name, "tcp", f"{lab.service_ip(b)}:8080", host_network=True)
    assert res.phase == "Succeeded" and res.ok, (res.problem, res.logs)
    assert res.data["outcome"] == "connected"
    assert res.pod_ip == gw.lan_ip  # hostNetwork: the node's address


def test_pod_network_pod_reachable_from_the_other_cluster_by_pod_ip(lab, ex):
    a, b = lab.cluster_names
    w = lab.cluster(b).worker
    name, pod = _serve(ex, b, w.name)
    try:
        ip = pod["status"]["podIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(w.pod_cidr) and ip != w.pod_ip
        assert int(ip.rsplit(".", 1)[1]) in POD_HOSTS
        assert pod["status"]["hostIP"] == w.lan_ip
        assert any(f"{w.netns}-p{ip.rsplit('.', 1)[1]}" == n for n in lab.pods()[b])
        # from a pod on the other cluster's worker (VXLAN, tunnel) and on its gateway (tunnel only)
        for node in (lab.cluster(a).worker, lab.cluster(a).gateway):
            res = _probe(ex, a, node.name, "http", f"http://{ip}:8080/")
            assert res.ok, (node.name, res.problem, res.logs)
            assert res.data["status"] == 200 and res.pod_ip != node.lan_ip
            assert ipaddress.ip_address(res.pod_ip) in ipaddress.ip_network(node.pod_cidr)
    finally:
        ex.stop(b, name)


def test_host_network_pod_on_gateway_can_listen_on_8080_beside_nginx(lab, ex):
    """The nginx service's :8080 is DNATed to the HTTP server's own port, so the gateway's 8080 is free for probes."""
    a, b = lab.cluster_names
    gw = lab.cluster(b).gateway
    name, _ = _serve(ex, b, gw.name, 8080, host_network=True)
    try:
        res = _probe(ex, a, lab.cluster(a).worker.name, "http", f"http://{gw.pod_ip}:8080/")
        assert res.ok and res.data["server_header"].startswith("mcdiag-echo"), res
        res = _probe(ex, a, lab.cluster(a).worker.name, "http", f"http://{lab.service_ip(b)}:8080/")
        assert res.ok and not res.data["server_header"].startswith("mcdiag-echo"), res
    finally:
        ex.stop(b, name)


@pytest.mark.parametrize("host_network", [False, True], ids=["pod-network", "hostNetwork"])
def test_pods_resolve_through_the_cluster_dns(lab, ex, host_network):
    a, b = lab.cluster_names
    for x, y in ((a, b), (b, a)):
        node = lab.cluster(x).worker
        res = _probe(ex, x, node.name, "dns", "nginx.nginx-test.svc.clusterset.local", host_network=host_network)
        assert res.ok, (res.problem, res.logs)
        assert res.data["answers"] == [lab.service_ip(y)]
        assert res.data["server"] == lab.dns_ip(x) and res.data["server_source"] == "/etc/resolv.conf"


def test_pod_resolv_conf_has_the_pods_namespace_in_its_search_list(lab, ex):
    a = lab.cluster_names[0]
    res = ex.run(a, PodSpec(node=lab.cluster(a).gateway.name, argv=["cat", "/etc/resolv.conf"], host_network=False,
                            timeout=10))
    assert res.phase == "Succeeded", res
    assert f"nameserver {lab.dns_ip(a)}" in res.logs
    assert f"search {NS}.svc.cluster.local svc.cluster.local cluster.local" in res.logs


def test_deleting_a_running_pod_kills_it_and_removes_its_namespace(lab, ex):
    b = lab.cluster_names[1]
    w = lab.cluster(b).worker
    name, pod = _serve(ex, b, w.name)
    ns = f"{w.netns}-p{pod['status']['podIP'].rsplit('.', 1)[1]}"
    piddir = lab.dir / "pods" / b
    pids = [int(f.read_text().split()[0]) for f in piddir.glob("pod-*.pid")
            if f.read_text().split()[1] == f"{NS}/{name}"]
    assert len(pids) == 1 and pid_alive(pids[0]) and "serve" in cmdline(pids[0])
    assert ns in list_netns() and ns in netns_etc_dirs() and (piddir / f"netns-{ns}").exists()
    ex.stop(b, name)
    assert _wait(lambda: not pid_alive(pids[0])), "pod process survived its deletion"
    assert _wait(lambda: ns not in list_netns() and ns not in netns_etc_dirs()), "pod namespace left behind"
    # The records go after the namespace they name (so a crash in between still leaves cleanup a trail).
    assert _wait(lambda: not (piddir / f"netns-{ns}").exists()), "netns record left behind"
    assert _wait(lambda: not list(piddir.glob(f"pod-{pids[0]}.pid"))), "pid record left behind"


def test_foreign_image_stays_pending_with_err_image_pull(lab):
    a = lab.cluster_names[0]
    api = _kube(lab, a)
    name = f"nginx-{os.getpid()}"
    api.create_namespaced_pod(NS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                   "spec": {"nodeName": lab.cluster(a).worker.name,
                                            "containers": [{"name": "c", "image": "docker.io/library/nginx:1.27",
                                                            "command": ["mcdiag", "probe", "serve"]}]}})
    try:
        def waiting():
            p = api.read_namespaced_pod(name, NS)
            cs = (p.status and p.status.container_statuses) or []
            return cs and cs[0].state.waiting and cs[0].state.waiting.reason == "ErrImagePull"

        assert _wait(waiting, 5)
        time.sleep(0.5)
        p = api.read_namespaced_pod(name, NS)
        assert p.status.phase == "Pending" and p.status.pod_ip is None
        assert lab.pods()[a] == []
    finally:
        api.delete_namespaced_pod(name, NS)


def test_no_pod_namespace_outlives_the_pods(lab, ex):
    assert _wait(lambda: all(not v for v in lab.pods().values())), lab.pods()
    assert not [n for n in netns_etc_dirs() if pod_netns_re().match(n)]
    assert not [n for n in list_netns() if pod_netns_re().match(n)]


def test_pod_default_route_ends_at_the_node(lab, ex):
    """A pod's default route points at its node, which has none: nothing leaves the lab."""
    a = lab.cluster_names[0]
    res = _probe(ex, a, lab.cluster(a).worker.name, "tcp", "192.0.2.1:80", "--timeout", "2")
    assert res.data and not res.ok and res.data["outcome"] != "connected", res
