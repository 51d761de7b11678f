"""Lab life cycle (root): SIGKILL in the middle of ``up`` then ``down``; the netmaker lab; idempotent down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab_helpers import path_matrix, probe, probe_env

from mcdiag.lab import Lab
from mcdiag.lab.netns import cmdline, lab_pids, list_netns, netns_etc_dirs, pid_alive
from mcdiag.lab.topology import PROVIDERS, build_topology, pod_netns_re, scheme_namespaces

pytestmark = pytest.mark.root

WG_IFACES = {c.wg_iface for p in PROVIDERS for c in build_topology(p).clusters}


def _lab_processes(d: Path) -> list[tuple[int, str]]:
    """List live processes of a lab in ``d``, and any wireguard-go of a lab interface."""
    found = [(pid, " ".join(cmdline(pid))) for pid in lab_pids(d)]
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            args = cmdline(int(p.name))
            if args and os.path.basename(args[0]) == "wireguard-go" and WG_IFACES & set(args):
                found.append((int(p.name), " ".join(args)))
    return found


def _lab_namespaces() -> list[str]:
    """Lab namespaces (nodes and pods) on the host, and lab entries in /etc/netns."""
    rx = pod_netns_re()
    scheme = set(scheme_namespaces())
    return [n for n in list_netns() + netns_etc_dirs() if n in scheme or rx.match(n)]


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcdiag.lab.cli", "lab", *args], capture_output=True, text=True,
                          env=probe_env(), timeout=timeout)


def _state(d: Path) -> dict:
    try:
        return json.loads((d / "state.json").read_text())
    except (OSError, ValueError):
        return {}


@pytest.mark.parametrize("stage", ["namespaces", "processes"])
def test_down_after_sigkilled_up_removes_everything(tmp_path, lab_lock, stage):
    d = tmp_path / "lab"
    up = subprocess.Popen([sys.executable, "-m", "mcdiag.lab.cli", "lab", "up", "--dir", str(d)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=probe_env())
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and up.poll() is None:
            st = _state(d)
            if stage == "namespaces" and len(st.get("namespaces", [])) >= 3:
                break
            if stage == "processes" and any(k.endswith(":coredns") for k in st.get("processes", {})):
                break
            time.sleep(0.01)
        assert up.poll() is None, "lab up finished before it could be killed"
        up.send_signal(signal.SIGKILL)
        up.wait(10)
        st = _state(d)
        assert st.get("phase") == "starting"
        if stage == "processes":
            assert _lab_processes(d), "expected lab processes to outlive the killed up"
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        cp = _cli("down", "--dir", str(d))
    assert cp.returncode == 0, cp.stderr
    assert _lab_namespaces() == []
    assert _lab_processes(d) == []
    assert not (d / "state.json").exists()
    # down is idempotent
    cp = _cli("down", "--dir", str(d))
    assert cp.returncode == 0 and "removed 0 namespace" in cp.stdout


def test_netmaker_lab(tmp_path, lab_lock):
    lab = Lab(tmp_path / "nm", "netmaker")
    try:
        st = lab.up()
        assert st["running"] and st["provider"] == "netmaker"
        a, b = lab.cluster_names
        ca, cb = lab.cluster(a), lab.cluster(b)
        assert (ca.network, cb.network) == ("dc1-k3s", "cloud-k3s")
        assert (ca.wg_iface, cb.wg_iface) == ("nm-dc1-k3s", "nm-cloud-k3s")
        got = path_matrix(lab)
        assert all(got.values()), sorted(k for k, v in got.items() if not v)
        # the guide's naming: SVC.NS.<network of the cluster that has the service>
        rc, res = probe(ca.worker.netns, "dns", "nginx.nginx-test.cloud-k3s", "--server", ca.dns_ip)
        assert res["answers"] == [cb.nginx_ip], res
        rc, res = probe(cb.worker.netns, "dns", "kube-dns.kube-system.dc1-k3s", "--server", cb.dns_ip)
        assert res["answers"] == [ca.dns_ip], res
        rc, res = probe(ca.gateway.netns, "wg", "--iface", ca.wg_iface)
        assert rc == 0 and res["peers"][0]["allowed_ips"] == [cb.pod_cidr, cb.service_cidr, f"{cb.wg_ip}/32"], res
        rc, res = probe(ca.gateway.netns, "ping", cb.wg_ip, "--count", "2")
        assert rc == 0, res
        lab.break_("break-dns", a)
        rc, res = probe(ca.worker.netns, "dns", "nginx.nginx-test.cloud-k3s", "--server", ca.dns_ip)
        assert rc == 1 and res["rcode_class"] == "nxdomain", res
        lab.heal()
        rc, res = probe(ca.worker.netns, "dns", "nginx.nginx-test.cloud-k3s", "--server", ca.dns_ip)
        assert rc == 0, res
        if st["kubeconfigs"]:
            from kubernetes import client, config

            from mcdiag.active.executor import PodSpec, ProbeExecutor
            from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster

            # the netclient gateway's view, through a probe pod on the gateway node
            ex = ProbeExecutor({a: load_cluster(ClusterSpec(str(lab.kubeconfig(a))), 10.0)}, start_timeout=20)
            try:
                res = ex.run(a, PodSpec(node=ca.gateway.name, argv=["mcdiag", "probe", "wg", "--max-age", "180"],
                                        host_network=True, timeout=10))
                one = ex.run(a, PodSpec(node=ca.gateway.name, argv=["mcdiag", "probe", "wg", "--iface", ca.wg_iface],
                                        host_network=True, timeout=10))
            finally:
                ex.cleanup()
            # wireguard-go's control sockets are host-wide: without --iface the probe also lists the peer's
            assert res.ok, (res.problem, res.logs)
            assert f"{cb.gateway.public_ip}:51821" in [p["endpoint"] for p in res.data["peers"]]
            assert one.ok and [p["endpoint"] for p in one.data["peers"]] == [f"{cb.gateway.public_ip}:51821"], one

            api = config.new_client_from_config(str(lab.kubeconfig(a)))
            ds = client.AppsV1Api(api).list_namespaced_daemon_set("default", label_selector="app=netclient").items
            assert ds and ds[0].status.number_ready == 2
            gw = [n.metadata.name for n in client.CoreV1Api(api).list_node(label_selector="gateway=true").items]
            assert gw == [ca.gateway.name]
    finally:
        res = lab.down()
    assert set(res["namespaces_removed"]) == set(lab.topology.namespaces)
    assert _lab_processes(lab.dir) == []
    assert _lab_namespaces() == []


def test_down_after_sigkilled_apiserver_removes_its_pods(tmp_path, lab_lock):
    """The pods of a SIGKILLed lab API server outlive it; `lab down` still removes them and their namespaces."""
    lab = Lab(tmp_path / "lab")
    pids: list[int] = []
    try:
        st = lab.up()
        assert st["kubeconfigs"], st["warnings"]
        from kubernetes import client, config

        b = lab.cluster_names[1]
        c = lab.cluster(b)
        api = client.CoreV1Api(config.new_client_from_config(str(lab.kubeconfig(b))))
        api.create_namespace({"metadata": {"name": "mcdiag-probes"}})
        for name, node, host in (("pod-net", c.worker, False), ("host-net", c.gateway, True)):
            api.create_namespaced_pod("mcdiag-probes", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": node.name, "hostNetwork": host, "containers": [{
                    "name": "probe", "image": "ghcr.io/mcdiag/mcdiag-probe:test",
                    "command": ["mcdiag", "probe", "serve", "--port", "9000"]}]}})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(pids) < 2:
            pids = [int(f.read_text().split()[0]) for f in (lab.dir / "pods" / b).glob("pod-*.pid")]
            time.sleep(0.1)
        assert len(pids) == 2 and lab.pods()[b]
        apiserver = lab.status()["processes"][f"{b}:apiserver"]["pid"]
        os.kill(apiserver, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pid_alive(apiserver):
            time.sleep(0.05)
        assert not pid_alive(apiserver)
        assert all(pid_alive(p) for p in pids), "the pods should outlive their API server"
        assert not lab.running()
    finally:
        cp = _cli("down", "--dir", str(lab.dir))
    assert cp.returncode == 0, cp.stderr
    assert not [p for p in pids if pid_alive(p)]
    assert _lab_namespaces() == []
    assert _lab_processes(lab.dir) == []
    assert not (lab.dir / "pods").exists()


def test_up_refuses_while_another_dirs_lab_runs(tmp_path, lab_lock):
    first = Lab(tmp_path / "one")
    try:
        first.up()
        from mcdiag.lab import LabError

        with pytest.raises(LabError, match=f"belong to the lab in {first.dir}"):
            Lab(tmp_path / "two").up()
        assert first.running()
        # `down` of another directory leaves a live lab's namespaces alone
        res = Lab(tmp_path / "two").down()
        assert res["namespaces_removed"] == [] and res["owner"] == str(first.dir)
        cp = _cli("down", "--dir", str(tmp_path / "three"))
        assert cp.returncode == 0 and f"lab down --dir {first.dir}" in cp.stdout
        assert first.running()
    finally:
        first.down()
