"""Where the lab's pods run: :class:`LabNodeRuntime` plugs lab nodes into :class:`mcdiag.lab.kubelet.Kubelet`.

* hostNetwork pods run in the node's namespace (``ip netns exec mcdiag-C-gw ...``);
  their ``status.hostIP``/``podIP`` is the node's LAN address.
* Other pods get a namespace of their own, ``<node netns>-p<N>``, wired like a
  bridge CNI: a veth ``vp<N>`` (node side, a port of the node's ``cni0``) /
  ``eth0`` (pod side) with address ``.N`` of the node's pod CIDR slice
  (N in :data:`~mcdiag.lab.topology.POD_HOSTS`) and a default route via the
  node's ``.1``. Nothing else is needed: the node already routes its slice and
  forwards for it exactly as for its own "pod IP".
* Every pod namespace gets ``/etc/netns/<ns>/resolv.conf`` (cluster DNS, search
  list of the pod's Kubernetes namespace), removed with the namespace.

Crash safety: before a pod namespace is created its name is written to
``STATE_DIR/netns-<name>``; the kubelet writes ``pod-<pid>.pid`` for every
process. :func:`sweep` (run by ``lab down``) uses both, and also removes any
namespace on the host whose name follows the pod scheme
(:func:`~mcdiag.lab.topology.pod_netns_re`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from pathlib import Path

from . import netns
from .netns import LabError
from .topology import POD_HOSTS, Cluster, Node, pod_netns_re


class LabNodeRuntime:
    """The :class:`mcdiag.lab.kubelet.NodeRuntime` of one lab node."""

    def __init__(self, cluster: Cluster, node: Node, state_dir: Path | None = None):
        self.cluster = cluster
        self.node = node
        self.state_dir = Path(state_dir) if state_dir else None
        self._lock = threading.Lock()
        self._hosts: dict[str, int] = {}  # pod key -> host part of its address (held until the netns is gone)

    def host_netns(self) -> str | None:
        return self.node.netns

    def host_ip(self) -> str:
        return self.node.lan_ip

    def _allocate(self, key: str) -> int:
        with self._lock:
            if key in self._hosts:
                raise LabError(f"pod {key} already has a network namespace on {self.node.name}")
            used = set(self._hosts.values())
            for host in POD_HOSTS:
                if host not in used and not netns.netns_exists(self.node.pod_netns(host)):
                    self._hosts[key] = host
                    return host
        raise LabError(f"no free pod address left on node {self.node.name} ({self.node.pod_cidr})")

    def _record(self, ns: str, key: str) -> None:
        if self.state_dir:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            (self.state_dir / f"netns-{ns}").write_text(f"{key}\n")

    def _unrecord(self, ns: str) -> None:
        if self.state_dir:
            (self.state_dir / f"netns-{ns}").unlink(missing_ok=True)

    def create_pod_netns(self, key: str) -> tuple[str | None, str]:
        host = self._allocate(key)
        ns = self.node.pod_netns(host)
        try:
            self._record(ns, key)
            build_pod_netns(self.cluster, self.node, host, key.split("/", 1)[0])
        except BaseException:
            self._remove(key, host)
            raise
        return ns, self.node.pod_address(host)

    def delete_pod_netns(self, key: str) -> None:
        with self._lock:
            host = self._hosts.get(key)
        if host is not None:
            self._remove(key, host)

    def _remove(self, key: str, host: int) -> None:
        ns = self.node.pod_netns(host)
        try:
            remove_pod_netns(self.node, host)
            self._unrecord(ns)
        finally:
            with self._lock:
                self._hosts.pop(key, None)

    def pods(self) -> dict[str, str]:
        """Pod key -> namespace, for the pods that have one now."""
        with self._lock:
            return {k: self.node.pod_netns(h) for k, h in self._hosts.items()}

    def release_all(self) -> None:
        """Remove every pod namespace of this node (on shutdown)."""
        with self._lock:
            items = list(self._hosts.items())
        for key, host in items:
            with contextlib.suppress(LabError):
                self._remove(key, host)


def build_pod_netns(c: Cluster, node: Node, host: int, k8s_namespace: str = "default") -> str:
    """Create pod namespace ``.host`` of ``node`` (veth into cni0, address, default route, resolv.conf).

    Three ``ip`` processes: the namespace, then one batch in the node's namespace and one in the pod's.
    """
    ns = node.pod_netns(host)
    veth_host = f"vp{host}"
    plen = node.pod_cidr.split("/")[1]
    netns.write_resolv_conf(ns, netns.resolv_conf_text(c, k8s_namespace))
    if not netns.netns_exists(ns):
        netns.run(["ip", "netns", "add", ns])
    # In the node: drop a leftover of a crashed create and the ARP entry of the address's last pod (what a CNI's
    # gratuitous ARP achieves: no stale MAC for a reused address), then the veth into cni0.
    netns.batch(node.netns, [f"link del {veth_host}", f"neigh del {node.pod_address(host)} dev cni0"], force=True)
    netns.batch(node.netns, [f"link add {veth_host} type veth peer name eth0 netns {ns}",
                             f"link set {veth_host} master cni0 up"])
    netns.batch(ns, ["link set lo up", f"addr add {node.pod_address(host)}/{plen} dev eth0", "link set eth0 up",
                     f"route replace default via {node.pod_ip} dev eth0"])
    return ns


def forget_neighbour(node: Node, host: int) -> None:
    """Drop the node's ARP entry for pod address ``.host`` (the address may now belong to another pod)."""
    netns.ip(node.netns, "neigh", "del", node.pod_address(host), "dev", "cni0", check=False)


def remove_pod_netns(node: Node, host: int) -> None:
    """Kill what runs in pod namespace ``.host`` of ``node``, delete it (the veth goes with it) and its resolv.conf."""
    ns = node.pod_netns(host)
    netns.del_netns(ns)
    if netns.netns_exists(ns):
        raise LabError(f"pod namespace {ns} could not be deleted")
    netns.remove_netns_etc(ns)
    forget_neighbour(node, host)


def present_pod_namespaces() -> list[str]:
    """Pod namespaces (lab naming scheme) present on this host."""
    rx = pod_netns_re()
    return [n for n in netns.list_netns() if rx.match(n)]


def _netns_inodes(names: list[str]) -> set[int]:
    out = set()
    for n in names:
        with contextlib.suppress(OSError):
            out.add(os.stat(f"/run/netns/{n}").st_ino)
    return out


def sweep(pods_dir: Path, lab_namespaces: list[str]) -> tuple[list[str], list[str]]:
    """Kill recorded pod processes and delete pod namespaces (recorded or following the scheme).

    A recorded pid is killed only when the process still lives in one of the
    lab's namespaces (guards against recycled pids). Returns (killed, removed).
    """
    rx = pod_netns_re()
    killed, removed = [], []
    recorded = []
    pidfiles = sorted(pods_dir.glob("*/pod-*.pid")) if pods_dir.is_dir() else []
    if pods_dir.is_dir():
        recorded = [f.name[len("netns-"):] for f in pods_dir.glob("*/netns-*")]
    names = list(dict.fromkeys([n for n in recorded if rx.match(n)] + present_pod_namespaces()))
    inodes = _netns_inodes([*lab_namespaces, *names])
    for f in pidfiles:
        try:
            pid = int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            ino = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue
        if ino in inodes and netns.pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            netns.kill_pid(pid)
            killed.append(f"pod pid {pid}")
    for n in names:
        if netns.netns_exists(n):
            netns.del_netns(n)
            removed.append(n)
        netns.remove_netns_etc(n)
    if pods_dir.is_dir():
        shutil.rmtree(pods_dir, ignore_errors=True)
    return killed, removed
