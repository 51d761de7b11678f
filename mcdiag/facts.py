"""Facts many checks need, derived once per cluster by named functions.

Each function takes a :class:`~mcdiag.view.ClusterView` and returns plain data;
call them through ``view.fact(fn)`` so each is computed once per run. They read
only resources listed in their ``READS`` so the runner can prefetch them.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from mcdiag import resources as R
from mcdiag.errors import ResourceUnavailable
from mcdiag.view import ClusterView

SUBMARINER_NS = "submariner-operator"
BROKER_NS = "submariner-k8s-broker"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------------------------------------
# Small helpers shared by facts and checks
# ---------------------------------------------------------------------------------------------
def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj.metadata`` (never ``None``)."""
    return obj.get("metadata") or {}


def labels(obj: dict[str, Any]) -> dict[str, str]:
    """``obj.metadata.labels`` (never ``None``)."""
    return meta(obj).get("labels") or {}


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    """``obj.metadata.annotations`` (never ``None``)."""
    return meta(obj).get("annotations") or {}


def qualname(obj: dict[str, Any]) -> str:
    """``namespace/name`` (or ``name``), for messages."""
    m = meta(obj)
    return f"{m['namespace']}/{m.get('name')}" if m.get("namespace") else str(m.get("name"))


def split_cidrs(value: Any) -> list[str]:
    """``"10.0.0.0/16,fd00::/64"`` or a list of them -> a list of strings, blanks dropped."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        out: list[str] = []
        for v in value:
            out.extend(split_cidrs(v))
        return out
    return [part.strip() for part in str(value).split(",") if part.strip()]


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


def container_args(pod_or_template: dict[str, Any]) -> list[str]:
    """Every command/args word of every container of a pod (or a pod template's spec holder)."""
    spec = pod_or_template.get("spec") or {}
    if "template" in spec:
        spec = (spec.get("template") or {}).get("spec") or {}
    words: list[str] = []
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for key in ("command", "args"):
            for word in container.get(key) or []:
                words.extend(shlex.split(str(word)) if " " in str(word) else [str(word)])
    return words


def flag_value(words: list[str], flag: str) -> str | None:
    """The value of ``--flag=value`` or ``--flag value`` in a list of words."""
    for i, word in enumerate(words):
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
        if word == flag and i + 1 < len(words):
            return words[i + 1]
    return None


def config_map(view: ClusterView, name: str, namespace: str = "kube-system") -> dict[str, Any] | None:
    """A ConfigMap from the namespaces the view reads ConfigMaps in."""
    return view.find(R.core("configmaps", namespace), name, namespace)


# ---------------------------------------------------------------------------------------------
# Provider
# ---------------------------------------------------------------------------------------------
PROVIDER_READS = (R.SUBMARINERS, R.DAEMONSETS, R.NAMESPACES)


def submariner_cr(view: ClusterView) -> dict[str, Any] | None:
    """The ``Submariner`` CR (normally ``submariner-operator/submariner``), or ``None``."""
    items = view.optional(R.SUBMARINERS) or []
    preferred = [i for i in items if meta(i).get("namespace") == SUBMARINER_NS]
    return (preferred or items or [None])[0]


def detect_provider(view: ClusterView) -> str:
    """``submariner`` (Submariner CR or operator namespace), ``netmaker`` (DaemonSet ``app=netclient``) or ``none``."""
    if view.provider_override:
        return view.provider_override
    if submariner_cr(view) is not None:
        return "submariner"
    daemonsets_error: ResourceUnavailable | None = None
    try:
        if view.select(R.DAEMONSETS, app="netclient"):
            return "netmaker"
    except ResourceUnavailable as exc:
        daemonsets_error = exc
    try:
        if view.find(R.NAMESPACES, SUBMARINER_NS):
            return "submariner"
    except ResourceUnavailable:
        pass
    if daemonsets_error is not None:
        raise daemonsets_error  # netmaker or none cannot be told apart: an error with the reason, not a guess
    return "none"


def submariner_cluster_id(view: ClusterView) -> str | None:
    """The Submariner cluster id, used to name the cluster when no name was given."""
    try:
        cr = submariner_cr(view)
    except ResourceUnavailable:
        return None
    if not cr:
        return None
    return (cr.get("spec") or {}).get("clusterID") or (cr.get("status") or {}).get("clusterID")


def service_discovery_enabled(view: ClusterView) -> bool:
    """Submariner's service discovery (Lighthouse) is on: CR flag or a ServiceDiscovery object."""
    cr = submariner_cr(view)
    if cr and (cr.get("spec") or {}).get("serviceDiscoveryEnabled"):
        return True
    return bool(view.optional(R.SERVICEDISCOVERIES))


def global_cidrs(view: ClusterView) -> list[str]:
    """Globalnet CIDRs of the cluster (empty when Globalnet is off)."""
    cr = submariner_cr(view)
    if not cr:
        return []
    return split_cidrs((cr.get("status") or {}).get("globalCIDR") or (cr.get("spec") or {}).get("globalCIDR"))


# ---------------------------------------------------------------------------------------------
# CIDRs
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# CNI
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------
def parse_version(info: dict[str, Any]) -> tuple[int, int] | None:
    """(major, minor) from ``/version``; strips ``+`` from the minor (``"18+"``), falls back to gitVersion."""
    try:
        return int(str(info.get("major", "")).rstrip("+")), int(str(info.get("minor", "")).rstrip("+"))
    except ValueError:
        m = re.match(r"v?(\d+)\.(\d+)", str(info.get("gitVersion", "")))
        return (int(m.group(1)), int(m.group(2))) if m else None
