"""Networks: pod and service CIDRs (and where each came from), the CNI, and kube-proxy's mode."""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts.objects import (
    annotations,
    config_map,
    container_args,
    flag_value,
    labels,
    meta,
    qualname,
    split_cidrs,
)
from mcdiag.facts.submariner import submariner_cr
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str]) -> tuple[list[Network], list[str]]:
    """Parse CIDRs (IPv4 and IPv6; host bits tolerated). Returns (networks, unparseable)."""
    nets: list[Network] = []
    bad: list[str] = []
    for value in values:
        try:
            nets.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            bad.append(value)
    return nets, bad


CIDR_READS = (
    R.SUBMARINERS,
    R.CONFIGMAPS_KUBE_SYSTEM,
    R.PODS,
    R.NODES,
    R.SERVICECIDRS,
)


@dataclass
class Cidrs:
    """Pod and service CIDRs of one cluster, with where each came from."""

    pod: list[str] = field(default_factory=list)
    service: list[str] = field(default_factory=list)
    pod_source: str | None = None
    service_source: str | None = None
    #: Every source consulted and what it said: ``[{"source":..., "pod": [...], "service": [...]}]``.
    sources: list[dict[str, Any]] = field(default_factory=list)
    #: Sources that could not be read, with the reason.
    unreadable: list[str] = field(default_factory=list)


def _k3s_args(node: dict[str, Any]) -> list[str]:
    raw = annotations(node).get("k3s.io/node-args")
    if not raw:
        return []
    try:
        words = json.loads(raw)
    except ValueError:
        return shlex.split(raw)
    return [str(w) for w in words] if isinstance(words, list) else []


def _is_k3s(node: dict[str, Any]) -> bool:
    info = ((node.get("status") or {}).get("nodeInfo") or {})
    return "+k3s" in str(info.get("kubeletVersion", "")) or labels(node).get("node.kubernetes.io/instance-type") == "k3s"


def _kubeadm_networking(view: ClusterView) -> dict[str, Any]:
    cm = config_map(view, "kubeadm-config")
    if not cm:
        return {}
    raw = (cm.get("data") or {}).get("ClusterConfiguration") or ""
    try:
        conf = __import__("yaml").safe_load(raw) or {}
    except Exception:
        return {"_malformed": True}
    return (conf.get("networking") or {}) if isinstance(conf, dict) else {}


def _read(view: ClusterView, fn, unreadable: list[str], label: str):
    try:
        return fn()
    except ResourceUnavailable as exc:
        if exc.kind != "not-served":
            unreadable.append(f"{label}: {exc.message}")
        return None


def cluster_cidrs(view: ClusterView, overrides: dict[str, list[str]] | None = None) -> Cidrs:
    """Discover pod and service CIDRs from every source the API exposes, in CHECKS.md's order.

    ``overrides`` is ``{"pod": [...], "service": [...]}`` from ``--pod-cidr/--service-cidr``.
    """
    out = Cidrs()
    found: list[tuple[str, list[str], list[str]]] = []
    overrides = overrides or {}
    if overrides.get("pod") or overrides.get("service"):
        found.append(("command-line option", overrides.get("pod") or [], overrides.get("service") or []))

    cr = _read(view, lambda: submariner_cr(view), out.unreadable, "Submariner CR")
    if cr:
        st, sp = cr.get("status") or {}, cr.get("spec") or {}
        pod = split_cidrs(st.get("clusterCIDR")) or split_cidrs(sp.get("clusterCIDR"))
        svc = split_cidrs(st.get("serviceCIDR")) or split_cidrs(sp.get("serviceCIDR"))
        found.append((f"Submariner CR {qualname(cr)}", pod, svc))

    net = _read(view, lambda: _kubeadm_networking(view), out.unreadable, "kubeadm-config")
    if net and not net.get("_malformed"):
        found.append(("kubeadm-config ClusterConfiguration", split_cidrs(net.get("podSubnet")), split_cidrs(net.get("serviceSubnet"))))

    pods = _read(view, lambda: view.list(R.PODS), out.unreadable, "pods") or []
    for pod in (p for p in pods if meta(p).get("namespace") == "kube-system"):
        comp = labels(pod).get("component")
        words = container_args(pod)
        if comp == "kube-controller-manager" or "kube-controller-manager" in words[:1]:
            cidr = flag_value(words, "--cluster-cidr")
            if cidr:
                found.append((f"kube-controller-manager --cluster-cidr ({qualname(pod)})", split_cidrs(cidr), []))
            svc = flag_value(words, "--service-cluster-ip-range")
            if svc:
                found.append((f"kube-controller-manager --service-cluster-ip-range ({qualname(pod)})", [], split_cidrs(svc)))
        if comp == "kube-apiserver" or "kube-apiserver" in words[:1]:
            svc = flag_value(words, "--service-cluster-ip-range")
            if svc:
                found.append((f"kube-apiserver --service-cluster-ip-range ({qualname(pod)})", [], split_cidrs(svc)))

    nodes = _read(view, lambda: view.list(R.NODES), out.unreadable, "nodes") or []
    for node in nodes:
        args = _k3s_args(node)
        pod, svc = flag_value(args, "--cluster-cidr"), flag_value(args, "--service-cidr")
        if pod or svc:
            found.append((f"k3s node args ({meta(node).get('name')})", split_cidrs(pod), split_cidrs(svc)))
            break

    scidrs = _read(view, lambda: view.optional(R.SERVICECIDRS), out.unreadable, "ServiceCIDR objects") or []
    svc_from_objects = [c for obj in scidrs for c in split_cidrs((obj.get("spec") or {}).get("cidrs"))]
    if svc_from_objects:
        found.append(("ServiceCIDR objects", [], sorted(set(svc_from_objects))))

    node_cidrs: list[str] = []
    for node in nodes:
        spec = node.get("spec") or {}
        node_cidrs.extend(split_cidrs(spec.get("podCIDRs")) or split_cidrs(spec.get("podCIDR")))
    if node_cidrs:
        collapsed = _collapse(node_cidrs)
        found.append(("node spec.podCIDRs (per-node slices)", collapsed, []))

    if nodes and any(_is_k3s(n) for n in nodes):
        found.append(("k3s defaults", ["10.42.0.0/16"], ["10.43.0.0/16"]))

    for source, pod, svc in found:
        out.sources.append({"source": source, "pod": pod, "service": svc})
        if pod and not out.pod:
            out.pod, out.pod_source = pod, source
        if svc and not out.service:
            out.service, out.service_source = svc, source
    return out


def _collapse(values: list[str]) -> list[str]:
    nets, bad = parse_networks(values)
    v4 = ipaddress.collapse_addresses(n for n in nets if n.version == 4)
    v6 = ipaddress.collapse_addresses(n for n in nets if n.version == 6)
    return [str(n) for n in list(v4) + list(v6)] + bad


def cidrs_of(view: ClusterView, options: dict[str, Any] | None = None) -> Cidrs:
    """The cluster's CIDRs, honouring ``--pod-cidr/--service-cidr`` for this cluster (cached per view)."""
    overrides = {}
    for kind in ("pod", "service"):
        per = ((options or {}).get(f"{kind}_cidrs") or {}).get(view.name)
        if per:
            overrides[kind] = per
    if not overrides:
        return view.fact(cluster_cidrs)
    return view._once(f"cidrs:{sorted(overrides.items())}", lambda: cluster_cidrs(view, overrides))


CNI_READS = (
    R.OPENSHIFT_NETWORKS,
    R.PODS,
    R.DAEMONSETS,
    R.CONFIGMAPS_KUBE_SYSTEM,
    R.NODES,
)


def detect_cni(view: ClusterView) -> str:
    """The CNI, in CHECKS.md's order. ``generic`` when nothing known is found."""
    networks = view.optional(R.OPENSHIFT_NETWORKS) or []
    for net in networks:
        if meta(net).get("name") == "cluster":
            kind = (net.get("spec") or {}).get("networkType") or (net.get("status") or {}).get("networkType")
            if kind:
                return str(kind).lower().replace("openshiftsdn", "openshift-sdn").replace("ovnkubernetes", "ovn-kubernetes")
    if view.select(R.PODS, app="ovnkube-node"):
        return "ovn-kubernetes"
    if view.select(R.PODS, name="weave-net"):
        return "weave-net"
    daemonsets = view.optional(R.DAEMONSETS) or []
    if any(labels(d).get("k8s-app") == "canal" for d in daemonsets):
        return "canal"
    calico_cm = config_map(view, "calico-config")
    if calico_cm or any(
        meta(d).get("name") == "calico-node" and meta(d).get("namespace") in ("kube-system", "calico-system") for d in daemonsets
    ):
        return "calico"
    if any(
        "flannel" in str(meta(d).get("name")) and meta(d).get("namespace") in ("kube-system", "kube-flannel") for d in daemonsets
    ):
        return "flannel"
    for node in view.optional(R.NODES) or []:
        if any(k.startswith("flannel.alpha.coreos.com/") for k in annotations(node)):
            return "flannel"
    if view.select(R.PODS, app="kindnet"):
        return "kindnet"
    if any(meta(d).get("name") == "cilium" or labels(d).get("k8s-app") == "cilium" for d in daemonsets):
        return "cilium"
    return "generic"


KUBE_PROXY_READS = (R.CONFIGMAPS_KUBE_SYSTEM, R.DAEMONSETS, R.NODES) + CNI_READS


@dataclass
class KubeProxyMode:
    """kube-proxy's mode and where it was read; ``replacement`` names what replaces kube-proxy."""

    mode: str | None
    source: str
    replacement: str | None = None


def _proxy_config_mode(cm: dict[str, Any]) -> tuple[str, str] | None:
    """(mode, key) from a kube-proxy ConfigMap: the KubeProxyConfiguration's ``mode`` ("" means iptables)."""
    import yaml

    data = cm.get("data") or {}
    keys = ["config.conf"] + sorted(k for k in data if k != "config.conf")
    for key in keys:
        raw = data.get(key)
        if not raw:
            continue
        try:
            conf = yaml.safe_load(raw)
        except yaml.YAMLError:
            continue
        if isinstance(conf, dict) and (conf.get("kind") == "KubeProxyConfiguration" or "mode" in conf):
            return (str(conf.get("mode") or "").strip() or "iptables", key)
    return None


def _cilium_replaces_kube_proxy(view: ClusterView) -> bool:
    cm = config_map(view, "cilium-config")
    value = str(((cm or {}).get("data") or {}).get("kube-proxy-replacement", "")).lower()
    if value in ("true", "strict"):
        return True
    for ds in view.optional(R.DAEMONSETS) or []:
        if meta(ds).get("name") == "cilium":
            flag = flag_value(container_args(ds), "--kube-proxy-replacement")
            if str(flag).lower() in ("true", "strict"):
                return True
    return False


def kube_proxy_mode(view: ClusterView) -> KubeProxyMode:
    """Find kube-proxy's proxy mode and where it is set.

    In order: the kube-proxy DaemonSet's ``--proxy-mode`` when it has no ``--config``, the ``kube-system/kube-proxy`` ConfigMap (``mode:`` empty means iptables), k3s node args
    (``--kube-proxy-arg=proxy-mode=ipvs``); with no kube-proxy at all, OVN-Kubernetes or Cilium's
    kube-proxy replacement.
    """
    daemonsets = view.optional(R.DAEMONSETS) or []
    ds = next(
        (d for d in daemonsets if meta(d).get("name") == "kube-proxy" or labels(d).get("k8s-app") == "kube-proxy"), None
    )
    cm = config_map(view, "kube-proxy")
    if ds is not None:
        words = container_args(ds)
        flag = flag_value(words, "--proxy-mode")
        if flag and not flag_value(words, "--config"):
            return KubeProxyMode(flag, f"DaemonSet {qualname(ds)} --proxy-mode")
    if cm is not None:
        found = _proxy_config_mode(cm)
        if found:
            mode, key = found
            return KubeProxyMode(mode, f"ConfigMap {qualname(cm)} ({key})")
    if ds is not None:
        return KubeProxyMode("iptables", f"DaemonSet {qualname(ds)} (no --proxy-mode: the default, iptables)")
    nodes = view.optional(R.NODES) or []
    for node in nodes:
        args = _k3s_args(node)
        if not args and not _is_k3s(node):
            continue
        if "--disable-kube-proxy" in args:
            break
        for i, word in enumerate(args):
            value = word.split("=", 1)[1] if word.startswith("--kube-proxy-arg=") else (
                args[i + 1] if word == "--kube-proxy-arg" and i + 1 < len(args) else None
            )
            if value and value.lstrip("-").startswith("proxy-mode="):
                return KubeProxyMode(value.split("=", 1)[1], f"k3s node args ({meta(node).get('name')})")
        return KubeProxyMode("iptables", f"k3s embedded kube-proxy ({meta(node).get('name')}; default iptables)")
    cni = view.fact(detect_cni)
    if cni in ("ovn-kubernetes", "ovnkubernetes"):
        return KubeProxyMode(None, "no kube-proxy DaemonSet", replacement="OVN-Kubernetes")
    if cni == "openshift-sdn":
        return KubeProxyMode("iptables", "OpenShift SDN (its built-in proxy runs in iptables mode)")
    if _cilium_replaces_kube_proxy(view):
        return KubeProxyMode(None, "no kube-proxy DaemonSet", replacement="Cilium kubeProxyReplacement")
    return KubeProxyMode(None, "no kube-proxy DaemonSet or ConfigMap found")
