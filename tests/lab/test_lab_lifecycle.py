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
from mcdiag.lab.netns import cmdline, lab_pids, list_netns
from mcdiag.lab.topology import PROVIDERS, build_topology, scheme_namespaces

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
    assert [n for n in scheme_namespaces() if n in list_netns()] == []
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

            api = config.new_client_from_config(str(lab.kubeconfig(a)))
            ds = client.AppsV1Api(api).list_namespaced_daemon_set("default", label_selector="app=netclient").items
            assert ds and ds[0].status.number_ready == 2
            gw = [n.metadata.name for n in client.CoreV1Api(api).list_node(label_selector="gateway=true").items]
            assert gw == [ca.gateway.name]
    finally:
        res = lab.down()
    assert set(res["namespaces_removed"]) == set(lab.topology.namespaces)
    assert _lab_processes(lab.dir) == []


def test_up_refuses_while_another_dirs_lab_runs(tmp_path, lab_lock):
    first = Lab(tmp_path / "one")
    try:
        first.up()
        from mcdiag.lab import LabError

        with pytest.raises(LabError, match="already exist"):
            Lab(tmp_path / "two").up()
        assert first.running()
    finally:
        first.down()
