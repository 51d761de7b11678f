"""Networks: pod and service CIDRs (and where each came from), the CNI, and kube-proxy's mode."""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts.cluster import NODE_SAMPLE
from mcdiag.facts.objects import (
    annotations,
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


#: kubeadm's ClusterConfiguration (``networking.podSubnet``/``serviceSubnet``).
KUBEADM_CONFIG = R.CONFIGMAPS_KUBE_SYSTEM.named("kubeadm-config")
#: The control plane's static pods, as kubeadm and RKE2 label them (``component``).
CONTROL_PLANE_PODS = R.PODS.within("kube-system").where(labels="component in (kube-apiserver,kube-controller-manager)")
#: ... and as kops and older manifests label them (``k8s-app``): asked only when the first finds none.
CONTROL_PLANE_PODS_K8S_APP = R.PODS.within("kube-system").where(labels="k8s-app in (kube-apiserver,kube-controller-manager)")
#: One control-plane node, the first by name: on k3s, a server's node args carry ``--cluster-cidr``
#: and ``--service-cidr`` (an agent's do not). Asked only when the sampled node is a k3s agent.
K3S_SERVER_SAMPLE = R.NODES.where(labels="node-role.kubernetes.io/control-plane").first(1)

#: What :func:`cluster_cidrs` reads ahead: none of it grows with the cluster's nodes or pods.
CIDR_READS = (
    R.SUBMARINERS,
    KUBEADM_CONFIG,
    CONTROL_PLANE_PODS,
    NODE_SAMPLE,
    R.SERVICECIDRS,
)
#: What it reads only when needed: the kops labels, a k3s server's args, and, the last resort when no other
#: source names the pod CIDR, every node's ``spec.podCIDRs`` (a cluster-wide list of whole nodes).
CIDR_READS_IF_NEEDED = (CONTROL_PLANE_PODS_K8S_APP, K3S_SERVER_SAMPLE, R.NODES)


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
    cm = next(iter(view.list(KUBEADM_CONFIG)), None)
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


def _control_plane_flags(pods: list[dict[str, Any]]) -> list[tuple[str, list[str], list[str]]]:
    found = []
    for pod in pods:
        comp = labels(pod).get("component") or labels(pod).get("k8s-app")
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
    return found


def _node_slices(nodes: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        spec = node.get("spec") or {}
        out.extend(split_cidrs(spec.get("podCIDRs")) or split_cidrs(spec.get("podCIDR")))
    return out


def cluster_cidrs(view: ClusterView, overrides: dict[str, list[str]] | None = None) -> Cidrs:
    """Discover pod and service CIDRs from every source the API exposes, in CHECKS.md's order.

    ``overrides`` is ``{"pod": [...], "service": [...]}`` from ``--pod-cidr/--service-cidr``.
    What it reads stays small whatever the cluster's size (:data:`CIDR_READS`): the control
    plane's pods by label, one node as a sample (k3s args, one pod CIDR slice to compare with
    the CIDR found). Every node's ``spec.podCIDRs`` is read only as the last resort, when no
    source before it names the pod CIDR.
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

    pods = _read(view, lambda: view.list(CONTROL_PLANE_PODS), out.unreadable, "control-plane pods")
    if pods is not None and not pods:  # none labelled as kubeadm does: as kops does?
        pods = _read(view, lambda: view.list(CONTROL_PLANE_PODS_K8S_APP), out.unreadable, "control-plane pods")
    found.extend(_control_plane_flags(pods or []))

    sample = _read(view, lambda: view.list(NODE_SAMPLE), out.unreadable, "nodes") or []
    k3s = [n for n in sample if _is_k3s(n)]
    with_args = [n for n in sample if flag_value(_k3s_args(n), "--cluster-cidr") or flag_value(_k3s_args(n), "--service-cidr")]
    if k3s and not with_args:  # a k3s agent: a server's args name the CIDRs
        with_args = _read(view, lambda: view.list(K3S_SERVER_SAMPLE), out.unreadable, "k3s server node") or []
    for node in with_args:
        args = _k3s_args(node)
        pod, svc = flag_value(args, "--cluster-cidr"), flag_value(args, "--service-cidr")
        if pod or svc:
            found.append((f"k3s node args ({meta(node).get('name')})", split_cidrs(pod), split_cidrs(svc)))
            break

    scidrs = _read(view, lambda: view.optional(R.SERVICECIDRS), out.unreadable, "ServiceCIDR objects") or []
    svc_from_objects = [c for obj in scidrs for c in split_cidrs((obj.get("spec") or {}).get("cidrs"))]
    if svc_from_objects:
        found.append(("ServiceCIDR objects", [], sorted(set(svc_from_objects))))

    if any(pod for _, pod, _ in found):
        # A source names the pod CIDR: one node's slice is enough to tell whether that source is stale.
        slices = _node_slices(sample)
        if slices:
            found.append((f"node spec.podCIDRs of {meta(sample[0]).get('name')} (one node, a sample)", _collapse(slices), []))
    else:
        # The last resort: every node's slice of the pod CIDR (a cluster-wide list of whole nodes).
        nodes = _read(view, lambda: view.list(R.NODES), out.unreadable, "nodes") or []
        node_cidrs = _node_slices(nodes)
        if node_cidrs:
            found.append(("node spec.podCIDRs (per-node slices)", _collapse(node_cidrs), []))
        k3s = k3s or [n for n in nodes if _is_k3s(n)]

    if k3s:
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


#: OpenShift's cluster network configuration (served only on OpenShift).
OPENSHIFT_NETWORK = R.OPENSHIFT_NETWORKS.named("cluster")
#: Existence tests of the CNI agents known by their pods: metadata of at most one pod each, however many nodes run one.
OVNKUBE_POD = R.PODS.where(labels="app=ovnkube-node").metadata().first(1)
WEAVE_POD = R.PODS.where(labels="name=weave-net").metadata().first(1)
KINDNET_POD = R.PODS.where(labels="app=kindnet").metadata().first(1)
#: The DaemonSets' names and labels (every DaemonSet: there are few, whatever the number of nodes).
DAEMONSET_NAMES = R.DAEMONSETS.metadata()
CALICO_CONFIG = R.CONFIGMAPS_KUBE_SYSTEM.named("calico-config")
CILIUM_CONFIG = R.CONFIGMAPS_KUBE_SYSTEM.named("cilium-config")

#: What :func:`detect_cni` reads ahead (kindnet's test is asked only when nothing before it matched).
CNI_READS = (
    OPENSHIFT_NETWORK,
    OVNKUBE_POD,
    WEAVE_POD,
    DAEMONSET_NAMES,
    CALICO_CONFIG,
    NODE_SAMPLE,
)
CNI_READS_IF_NEEDED = (KINDNET_POD,)


def detect_cni(view: ClusterView) -> str:
    """The CNI, in CHECKS.md's order. ``generic`` when nothing known is found."""
    networks = view.optional(OPENSHIFT_NETWORK) or []
    for net in networks:
        if meta(net).get("name") == "cluster":
            kind = (net.get("spec") or {}).get("networkType") or (net.get("status") or {}).get("networkType")
            if kind:
                return str(kind).lower().replace("openshiftsdn", "openshift-sdn").replace("ovnkubernetes", "ovn-kubernetes")
    if view.list(OVNKUBE_POD):
        return "ovn-kubernetes"
    if view.list(WEAVE_POD):
        return "weave-net"
    daemonsets = view.list(DAEMONSET_NAMES)
    if any(labels(d).get("k8s-app") == "canal" for d in daemonsets):
        return "canal"
    calico_cm = next(iter(view.list(CALICO_CONFIG)), None)
    if calico_cm or any(
        meta(d).get("name") == "calico-node" and meta(d).get("namespace") in ("kube-system", "calico-system") for d in daemonsets
    ):
        return "calico"
    if any(
        "flannel" in str(meta(d).get("name")) and meta(d).get("namespace") in ("kube-system", "kube-flannel") for d in daemonsets
    ):
        return "flannel"
    for node in view.list(NODE_SAMPLE):  # flannel annotates every node it runs on: one will tell
        if any(k.startswith("flannel.alpha.coreos.com/") for k in annotations(node)):
            return "flannel"
    if view.list(KINDNET_POD):
        return "kindnet"
    if any(meta(d).get("name") == "cilium" or labels(d).get("k8s-app") == "cilium" for d in daemonsets):
        return "cilium"
    return "generic"


KUBE_PROXY_CONFIG = R.CONFIGMAPS_KUBE_SYSTEM.named("kube-proxy")
#: What :func:`kube_proxy_mode` reads: the DaemonSets whole (their arguments; few, whatever the cluster's
#: size), kube-proxy's ConfigMap, one node (k3s's embedded kube-proxy), and the CNI's reads when there is no kube-proxy.
KUBE_PROXY_READS = (R.DAEMONSETS, KUBE_PROXY_CONFIG, NODE_SAMPLE) + CNI_READS
KUBE_PROXY_READS_IF_NEEDED = (CILIUM_CONFIG,) + CNI_READS_IF_NEEDED


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
    cm = next(iter(view.list(CILIUM_CONFIG)), None)
    value = str(((cm or {}).get("data") or {}).get("kube-proxy-replacement", "")).lower()
    if value in ("true", "strict"):
        return True
    for ds in view.list(R.DAEMONSETS):
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
    daemonsets = view.list(R.DAEMONSETS)
    ds = next(
        (d for d in daemonsets if meta(d).get("name") == "kube-proxy" or labels(d).get("k8s-app") == "kube-proxy"), None
    )
    cm = next(iter(view.list(KUBE_PROXY_CONFIG)), None)
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
    for node in view.list(NODE_SAMPLE):  # k3s runs kube-proxy inside every node's k3s: one node tells
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
