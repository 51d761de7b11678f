"""The few control-plane loops a lab cluster needs for workloads created through its API.

A real cluster turns a Deployment into pods, gives a Service a ClusterIP, lets
kube-proxy send that IP to the pods, and publishes exported services in DNS
(Submariner's Lighthouse; Netmaker's DNS for every service). mcdiag's
temporary echo service (Deployment + Service (+ ServiceExport)) relies on all
of that, so each lab API server runs :class:`LabControllers` next to its
kubelet. One reconcile loop, level-triggered: every create/update/delete the
emulator sees wakes it, and it converges the whole cluster:

- **Deployment → Pod**: one pod per replica from the template, owned by the
  Deployment (no ReplicaSet in between), scheduled on the gateway node (where
  the lab's kube-proxy rules live); pods whose owner is gone are deleted
  (garbage collection). Deployment status counts ready pods.
- **Service → ClusterIP** from the cluster's service CIDR (upper half, so it
  never meets the lab's fixed addresses).
- **kube-proxy**: nft table ``mcdiag_kube_proxy_dyn`` in the gateway's
  namespace DNATs each such Service's IP:port to its ready pods (the peer's
  traffic enters the cluster at the gateway).
- **DNS**: ``SVC.NS.svc.cluster.local`` for every such Service in the
  cluster's CoreDNS stand-in; ``SVC.NS.svc.clusterset.local`` (and
  ``CLUSTER.SVC...``) for every exported one (Submariner), or ``SVC.NS.NETWORK``
  for every one (Netmaker), in the "exports" DNS the peer forwards to. Written
  to the dnsmasq ``--addn-hosts`` files, then SIGHUP.
- **ServiceExport status**: ``Valid``/``Ready`` once its Service has an IP,
  ``Valid=False`` when the Service does not exist.

Objects present when the controllers start (the lab's own, which describe
running things truthfully) are left alone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import netns
from .netns import hosts_file
from .objects import _cond
from .topology import Cluster

log = logging.getLogger(__name__)

DYN_TABLE = "mcdiag_kube_proxy_dyn"
EXPORT_API = "multicluster.x-k8s.io/v1alpha1"


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")


def _ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    if st.get("phase") != "Running" or not st.get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _owner_uid(pod: dict[str, Any]) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "Deployment" and ref.get("controller"):
            return ref.get("uid")
    return None


class LabControllers:
    """Deployment, Service, kube-proxy, DNS and ServiceExport loops of one lab cluster."""

    def __init__(
        self,
        emulator: Any,
        cluster: Cluster,
        rundir: Path,
        *,
        apply_nft: Callable[[str, str], None] | None = None,
        interval: float = 2.0,
    ):
        self.emu = emulator
        self.c = cluster
        self.rundir = rundir
        self.apply_nft = apply_nft or netns.nft
        self.interval = interval
        self.static = {_key(o) for o in emulator.objects()}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._rules: str | None = None
        self._hosts: dict[str, str] = {}
        #: (namespace, selector) of the Services the last sync saw: a pod they select wakes the loop.
        self._selectors: list[tuple[str, dict[str, str]]] = []
        self.errors: list[str] = []
        for hook in (emulator.on_create, emulator.on_update, emulator.on_delete):
            hook(self._event)
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"lab-controllers-{cluster.name}")

    def start(self) -> LabControllers:
        self.sync()  # empty DNS files and rule table before the first client comes
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _event(self, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        if kind in ("Deployment", "Service", "ServiceExport", "Namespace"):
            self._wake.set()
        elif kind == "Pod" and self._concerns(obj):
            self._wake.set()

    def _concerns(self, pod: dict[str, Any]) -> bool:
        """Whether a pod matters to the loops: owned (a Deployment's, or garbage), or selected by a Service.

        Probe pods (most of the pods a run makes) are neither, and their events no longer cost a sync.
        """
        meta = pod.get("metadata") or {}
        if meta.get("ownerReferences"):
            return True
        labels = meta.get("labels") or {}
        return any(ns == meta.get("namespace") and _selects(sel, labels) for ns, sel in list(self._selectors))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync()
            except Exception as exc:  # keep reconciling; the next event or tick retries
                log.exception("lab controllers of %s: sync failed", self.c.name)
                self.errors = [*self.errors[-19:], str(exc)]  # the last few, for tests and debugging

    # -- the reconcile -------------------------------------------------------------------------
    def _dynamic(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.emu.objects(kind) if _key(o) not in self.static
                and not (o.get("metadata") or {}).get("deletionTimestamp")]

    def sync(self) -> None:
        self._deployments()
        services = self._services()
        self._selectors = [((s.get("metadata") or {}).get("namespace") or "", dict((s.get("spec") or {}).get("selector") or {}))
                           for s in services]
        pods = [p for p in self._dynamic("Pod") if _ready(p)]
        self._kube_proxy(services, pods)
        exports = self._exports(services)
        self._dns(services, exports)

    def _deployments(self) -> None:
        deployments = {(d.get("metadata") or {}).get("uid"): d for d in self._dynamic("Deployment")}
        pods = self._dynamic("Pod")
        owned: dict[str, list[dict[str, Any]]] = {}
        for p in pods:
            uid = _owner_uid(p)
            if uid is None:
                continue
            if uid not in deployments:  # garbage collection
                meta = p["metadata"]
                self.emu.delete_object("v1", "pods", meta["name"], meta.get("namespace"))
                continue
            owned.setdefault(uid, []).append(p)
        for uid, d in deployments.items():
            meta, spec = d["metadata"], d.get("spec") or {}
            want = int(spec.get("replicas", 1) or 0)
            have = owned.get(uid, [])
            for i in range(len(have), want):
                self._create_pod(d, i)
            for p in have[want:]:
                self.emu.delete_object("v1", "pods", p["metadata"]["name"], meta.get("namespace"))
            ready = sum(1 for p in have[:want] if _ready(p))
            status = {
                "observedGeneration": meta.get("generation", 1),
                "replicas": min(len(have), want) if have else 0,
                "updatedReplicas": min(len(have), want),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "conditions": [_cond("Available", "True" if ready >= want else "False",
                                     "MinimumReplicasAvailable" if ready >= want else "MinimumReplicasUnavailable",
                                     "Deployment has minimum availability." if ready >= want
                                     else "Deployment does not have minimum availability.")],
            }
            if {k: v for k, v in (d.get("status") or {}).items() if k != "conditions"} != {
                    k: v for k, v in status.items() if k != "conditions"}:
                self.emu.update_status("apps/v1", "deployments", meta["name"], meta.get("namespace"), status)

    def _create_pod(self, d: dict[str, Any], index: int) -> None:
        meta = d["metadata"]
        template = d.get("spec", {}).get("template") or {}
        suffix = hashlib.sha256(f"{meta.get('uid')}/{index}".encode()).hexdigest()[:5]
        name = f"{meta['name']}-{suffix}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta.get("namespace"),
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"],
                                     "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {**(template.get("spec") or {}), "nodeName": self.c.gateway.name},
            "status": {"phase": "Pending"},
        }
        self.emu.add(pod)

    def _services(self) -> list[dict[str, Any]]:
        out = []
        used = {ip for s in self.emu.objects("Service") for ip in [(s.get("spec") or {}).get("clusterIP")] if ip}
        net = ipaddress.ip_network(self.c.service_cidr)
        for s in self._dynamic("Service"):
            spec = s.get("spec") or {}
            if spec.get("type", "ClusterIP") not in ("ClusterIP", "NodePort", "LoadBalancer"):
                continue
            if spec.get("clusterIP") == "None":
                continue
            if not spec.get("clusterIP"):
                ip = self._allocate(net, used)
                if ip is None:
                    log.warning("%s: no free ClusterIP left for %s", self.c.name, _key(s))
                    continue
                used.add(ip)
                s = {**s, "spec": {**spec, "clusterIP": ip, "clusterIPs": [ip]}}
                self.emu.add(s)
            out.append(s)
        return out

    @staticmethod
    def _allocate(net: ipaddress.IPv4Network | ipaddress.IPv6Network, used: set[str]) -> str | None:
        start = int(net.network_address) + net.num_addresses // 2 + 1
        for i in range(min(4096, net.num_addresses // 2 - 1)):
            ip = str(ipaddress.ip_address(start + i))
            if ip not in used:
                return ip
        return None

    def _kube_proxy(self, services: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        lines = []
        for s in sorted(services, key=_key):
            spec = s["spec"]
            sel = spec.get("selector") or {}
            ns = s["metadata"].get("namespace")
            backends = sorted(p["status"]["podIP"] for p in pods
                              if p["metadata"].get("namespace") == ns and _selects(sel, p["metadata"].get("labels") or {}))
            if not backends or ":" in spec["clusterIP"]:
                continue
            for port in spec.get("ports") or []:
                proto = (port.get("protocol") or "TCP").lower()
                target = port.get("targetPort", port.get("port"))
                if not isinstance(target, int):
                    continue  # named target ports: not needed by anything the lab runs
                to = (f"dnat to {backends[0]}:{target}" if len(backends) == 1 else
                      "dnat to numgen random mod {} map {{ {} }}".format(
                          len(backends), ", ".join(f"{i} : {b}" for i, b in enumerate(backends))) + f":{target}")
                lines.append(f'ip daddr {spec["clusterIP"]} {proto} dport {port["port"]} {to} '
                             f'comment "{ns}/{s["metadata"]["name"]}"')
        body = "\n    ".join(lines)
        rules = (f"table ip {DYN_TABLE} {{}}\ndelete table ip {DYN_TABLE}\n"
                 f"table ip {DYN_TABLE} {{\n"
                 f"  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n    {body}\n  }}\n"
                 f"  chain output {{\n    type nat hook output priority -100; policy accept;\n    {body}\n  }}\n}}\n")
        if rules != self._rules:
            self.apply_nft(self.c.gateway.netns, rules)
            self._rules = rules

    def _exports(self, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Dynamic Services exported by a (dynamic) ServiceExport; their exports' status set truthfully."""
        by_key = {(s["metadata"].get("namespace"), s["metadata"]["name"]): s for s in services}
        exported = []
        for se in self._dynamic("ServiceExport"):
            meta = se["metadata"]
            svc = by_key.get((meta.get("namespace"), meta["name"]))
            if svc is not None:
                exported.append(svc)
                conds = [_cond("Valid", reason="", message=""),
                         _cond("Ready", reason="", message="Service was successfully exported to the broker"),
                         _cond("Conflict", "False", reason="", message="")]
            else:
                conds = [_cond("Valid", "False", "ServiceUnavailable", "Service to be exported doesn't exist")]
            if [(c["type"], c["status"]) for c in (se.get("status") or {}).get("conditions") or []] != [
                    (c["type"], c["status"]) for c in conds]:
                self.emu.update_status(EXPORT_API, "serviceexports", meta["name"], meta.get("namespace"),
                                       {"conditions": conds})
        return exported

    def _dns(self, services: list[dict[str, Any]], exported: list[dict[str, Any]]) -> None:
        local, published = [], []
        for s in sorted(services, key=_key):
            ns, name, ip = s["metadata"].get("namespace"), s["metadata"]["name"], s["spec"]["clusterIP"]
            local.append(f"{ip} {name}.{ns}.svc.cluster.local")
            if self.c.provider == "netmaker":
                published.append(f"{ip} {self.c.exported_name(name, ns)}")
        if self.c.provider == "submariner":
            for s in sorted(exported, key=_key):
                ns, name, ip = s["metadata"].get("namespace"), s["metadata"]["name"], s["spec"]["clusterIP"]
                fqdn = self.c.exported_name(name, ns)
                published.append(f"{ip} {fqdn} {self.c.name}.{fqdn}")
        for role, lines in (("coredns", local), ("exports", published)):
            text = "".join(f"{line}\n" for line in lines)
            if self._hosts.get(role) == text:
                continue
            f = hosts_file(self.rundir, self.c.name, role)
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_name(f.name + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, f)
            self._hosts[role] = text
            self._reload_dns(role)

    def _reload_dns(self, role: str) -> None:
        """SIGHUP the role's dnsmasq (it re-reads ``--addn-hosts``), if it runs."""
        pidfile = self.rundir / f"{self.c.name}.{role}.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if netns.pid_alive(pid) and "dnsmasq" in " ".join(netns.cmdline(pid)[:1]):
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass
