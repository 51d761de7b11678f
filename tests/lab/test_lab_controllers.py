"""The lab's control-plane loops, against the lab's API emulator over HTTPS (no network namespaces).

Objects are created with the real kubernetes client, as mcdiag's executor creates its echo service;
the kube-proxy rules go to a recorder here (the e2e tests run them in the lab's namespaces) and are
syntax-checked by the real ``nft -c`` in a throwaway network namespace when root.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import time

import pytest
from kubernetes import client, config

from mcdiag.lab.controllers import DYN_TABLE, LabControllers, hosts_file
from mcdiag.lab.emulator import ApiEmulator
from mcdiag.lab.objects import lab_objects
from mcdiag.lab.topology import build_topology

NS = "mcdiag-probes"


class Rig:
    def __init__(self, provider: str, tmp_path):
        self.topo = build_topology(provider)
        self.c = self.topo.cluster("cluster1")
        self.emu = ApiEmulator(objects=lab_objects(self.topo, self.c.name), name=self.c.name,
                               host="127.0.0.1", port=0).start()
        self.rules: list[tuple[str, str]] = []
        self.rundir = tmp_path / "run"
        self.ctl = LabControllers(self.emu, self.c, self.rundir, apply_nft=lambda ns, s: self.rules.append((ns, s)),
                                  interval=0.2).start()
        kc = tmp_path / "kubeconfig"
        self.emu.kubeconfig(kc)
        api = config.new_client_from_config(str(kc))
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.core.create_namespace({"metadata": {"name": NS}})

    def close(self):
        self.ctl.stop()
        self.emu.stop()

    def hosts(self, role: str) -> str:
        return hosts_file(self.rundir, self.c.name, role).read_text()

    def echo(self, name="echo", export=True, replicas=1):
        labels = {"app": name}
        self.apps.create_namespaced_deployment(NS, {
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "echo", "image": "ghcr.io/mcdiag/mcdiag-probe:0.1.0",
                                                           "command": ["mcdiag", "probe", "serve"]}]}}}})
        self.core.create_namespaced_service(NS, {"metadata": {"name": name},
                                                 "spec": {"selector": labels, "ports": [{"port": 8080, "targetPort": 8080}]}})
        if export:
            self.custom.create_namespaced_custom_object("multicluster.x-k8s.io", "v1alpha1", NS, "serviceexports",
                                                        {"apiVersion": "multicluster.x-k8s.io/v1alpha1",
                                                         "kind": "ServiceExport", "metadata": {"name": name}})

    def pods(self, name="echo"):
        return [p for p in self.emu.objects("Pod", NS) if p["metadata"]["name"].startswith(f"{name}-")]

    def run_pod(self, pod, ip):
        """What the kubelet reports once the container runs."""
        self.emu.update_status("v1", "pods", pod["metadata"]["name"], NS, {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"}]})


def wait(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    return pred()


@pytest.fixture(params=["submariner", "netmaker"])
def rig(request, tmp_path):
    r = Rig(request.param, tmp_path)
    yield r
    r.close()


def test_lab_objects_are_left_alone(rig):
    before = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in rig.emu.objects()}
    rig.ctl.sync()
    after = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in rig.emu.objects()}
    assert after == before  # no pod for the lab's own Deployments, no new IP for its Services
    assert rig.hosts("coredns") == rig.hosts("exports") == ""
    assert len(rig.rules) == 1 and "dnat" not in rig.rules[0][1] and rig.rules[0][0] == rig.c.gateway.netns


def test_echo_service_gets_a_pod_an_ip_dnat_and_dns_names(rig):
    rig.echo(export=rig.c.provider == "submariner")
    pods = wait(rig.pods)
    assert len(pods) == 1
    pod = pods[0]
    assert pod["spec"]["nodeName"] == rig.c.gateway.name
    assert pod["metadata"]["labels"] == {"app": "echo"}
    owner = pod["metadata"]["ownerReferences"][0]
    dep = rig.apps.read_namespaced_deployment("echo", NS)
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == ("Deployment", "echo", dep.metadata.uid, True)
    assert not dep.status or not dep.status.available_replicas  # the pod does not run yet

    svc = wait(lambda: rig.core.read_namespaced_service("echo", NS).spec.cluster_ip)
    net = ipaddress.ip_network(rig.c.service_cidr)
    assert ipaddress.ip_address(svc) in net and int(ipaddress.ip_address(svc)) > int(net.network_address) + net.num_addresses // 2
    assert svc not in {ip for _n, _ns, ip, _p in rig.c.services()}
    assert not any("dnat" in s for _ns, s in rig.rules)  # no ready endpoint, no rule

    pod_ip = rig.c.gateway.pod_address(150)
    rig.run_pod(pod, pod_ip)
    assert wait(lambda: (rig.apps.read_namespaced_deployment("echo", NS).status.available_replicas or 0) == 1)
    rule = f"ip daddr {svc} tcp dport 8080 dnat to {pod_ip}:8080"
    assert wait(lambda: any(rule in s for _ns, s in rig.rules)), rig.rules[-1]
    assert f"{svc} echo.{NS}.svc.cluster.local" in rig.hosts("coredns")
    published = rig.hosts("exports")
    if rig.c.provider == "submariner":
        assert published == f"{svc} echo.{NS}.svc.clusterset.local cluster1.echo.{NS}.svc.clusterset.local\n"
        se = rig.custom.get_namespaced_custom_object("multicluster.x-k8s.io", "v1alpha1", NS, "serviceexports", "echo")
        assert {c["type"]: c["status"] for c in se["status"]["conditions"]} == {"Valid": "True", "Ready": "True",
                                                                                "Conflict": "False"}
    else:
        assert published == f"{svc} echo.{NS}.{rig.c.network}\n"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="nft -c needs root")
def test_kube_proxy_rules_are_valid_nft(rig):
    rig.echo(export=False, replicas=2)
    pods = wait(lambda: len(rig.pods()) == 2 and rig.pods())
    for i, p in enumerate(pods):
        rig.run_pod(p, rig.c.gateway.pod_address(150 + i))
    assert wait(lambda: any("numgen random mod 2" in s for _ns, s in rig.rules)), rig.rules[-1]
    for _ns, script in (rig.rules[0], rig.rules[-1]):
        cp = subprocess.run(["unshare", "--net", "nft", "-c", "-f", "-"], input=script, capture_output=True, text=True)
        assert cp.returncode == 0, (cp.stderr, script)
    assert f"table ip {DYN_TABLE}" in rig.rules[-1][1]


@pytest.mark.parametrize("rig", ["submariner"], indirect=True)  # ServiceExport is Submariner's
def test_export_of_a_missing_service_is_invalid(rig):
    rig.custom.create_namespaced_custom_object("multicluster.x-k8s.io", "v1alpha1", NS, "serviceexports",
                                               {"apiVersion": "multicluster.x-k8s.io/v1alpha1",
                                                "kind": "ServiceExport", "metadata": {"name": "ghost"}})

    def valid():
        se = rig.custom.get_namespaced_custom_object("multicluster.x-k8s.io", "v1alpha1", NS, "serviceexports", "ghost")
        return {c["type"]: c for c in (se.get("status") or {}).get("conditions") or []}.get("Valid")

    cond = wait(valid)
    assert cond["status"] == "False" and "doesn't exist" in cond["message"]
    assert rig.hosts("exports") == ""


def test_deleting_the_deployment_removes_its_pod_and_the_namespace_everything(rig):
    rig.echo(export=rig.c.provider == "submariner")
    pod = wait(rig.pods)[0]
    rig.run_pod(pod, rig.c.gateway.pod_address(150))
    assert wait(lambda: "echo" in rig.hosts("exports"))
    rig.apps.delete_namespaced_deployment("echo", NS)
    assert wait(lambda: not rig.pods()), "pod of the deleted Deployment not collected"
    assert wait(lambda: not any("dnat" in s for s in [rig.rules[-1][1]])), rig.rules[-1]
    rig.core.delete_namespace(NS)
    assert wait(lambda: rig.hosts("coredns") == rig.hosts("exports") == ""), (rig.hosts("coredns"), rig.hosts("exports"))
    assert rig.ctl.errors == []


def test_orphan_pod_created_after_its_namespace_went_is_collected(rig):
    """A pod added for a Deployment whose namespace is deleted in the same instant is garbage collected."""
    rig.echo(export=False)
    wait(rig.pods)
    dep_uid = rig.apps.read_namespaced_deployment("echo", NS).metadata.uid
    rig.core.delete_namespace(NS)
    rig.emu.add({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "echo-late", "namespace": NS,
                              "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "echo",
                                                   "uid": dep_uid, "controller": True}]},
                 "spec": {"nodeName": rig.c.gateway.name, "containers": [{"name": "c", "image": "x"}]}})
    assert wait(lambda: not rig.emu.objects("Pod", NS))
