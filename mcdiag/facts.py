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


# ---------------------------------------------------------------------------------------------
# Pods and workloads: readiness as CHECKS.md judges it (ready, not merely scheduled)
# ---------------------------------------------------------------------------------------------
#: Restarts from which a container is reported as unstable (warn).
RESTART_WARN = 5


@dataclass
class PodState:
    """How one pod is doing: ``problem`` (fail) and ``warning`` (warn) are sentences, or ``None``."""

    name: str
    node: str | None
    phase: str
    ready: bool
    restarts: int
    problem: str | None = None
    warning: str | None = None


def pod_state(pod: dict[str, Any]) -> PodState:
    """Judge a pod by its Ready condition and container states, not by its phase.

    A container waiting in ``CrashLoopBackOff`` (or ``ImagePullBackOff``, ``ErrImagePull``,
    ``CreateContainerConfigError``...) is a problem even while the phase is ``Running``;
    ``RESTART_WARN`` or more restarts is a warning.
    """
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    containers = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    state = PodState(qualname(pod), (pod.get("spec") or {}).get("nodeName"), phase, ready, restarts)
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            msg = f": {waiting['message']}" if waiting.get("message") else ""
            state.problem = (
                f"pod {state.name} container {c.get('name')} is waiting in {reason} "
                f"(phase {phase}, {c.get('restartCount') or 0} restarts){msg}"
            )
            return state
    if meta(pod).get("deletionTimestamp"):
        state.problem = f"pod {state.name} is terminating"
    elif phase == "Failed" and status.get("reason") == "Evicted":
        state.warning = f"pod {state.name} was evicted and left behind ({status.get('message') or 'Evicted'})"
    elif phase in ("Failed", "Unknown", "Pending"):
        state.problem = f"pod {state.name} is in phase {phase}" + (f" ({status['reason']})" if status.get("reason") else "")
    elif phase != "Succeeded" and not ready:
        cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        why = [w for w in (cond.get("reason"), cond.get("message")) if w]
        bad = [c.get("name") for c in containers if not c.get("ready") and c.get("name")]
        if bad:
            why.append(f"container {', '.join(bad)} not ready")
        state.problem = f"pod {state.name} is {phase} but not Ready" + (f" ({'; '.join(why)})" if why else "")
    elif restarts >= RESTART_WARN:
        state.warning = f"pod {state.name} has restarted {restarts} times"
    return state


def owned_pods(pods: list[dict[str, Any]], workload: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the pods of a DaemonSet (owned directly) or a Deployment (owned through a ``NAME-HASH`` ReplicaSet).

    Falls back to the workload's ``spec.selector.matchLabels`` when pods carry no owner references.
    """
    ns, name, kind = meta(workload).get("namespace"), meta(workload).get("name"), workload.get("kind")
    out = []
    for pod in pods:
        if meta(pod).get("namespace") != ns:
            continue
        owners = meta(pod).get("ownerReferences") or []
        if owners:
            for ref in owners:
                if kind == "DaemonSet" and ref.get("kind") == "DaemonSet" and ref.get("name") == name:
                    out.append(pod)
                elif (
                    kind == "Deployment"
                    and ref.get("kind") == "ReplicaSet"
                    and str(ref.get("name", "")).rsplit("-", 1)[0] == name
                ):
                    out.append(pod)
            continue
        match = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if match and all(labels(pod).get(k) == v for k, v in match.items()):
            out.append(pod)
    return out


def workload_readiness(workload: dict[str, Any], pods: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a DaemonSet or Deployment: counts of READY pods, then each pod's state.

    A DaemonSet passes when ``numberReady`` equals ``desiredNumberScheduled`` (not merely
    scheduled) and each of its pods is Ready; a Deployment when its available replicas
    reach ``spec.replicas``.
    """
    problems: list[str] = []
    warnings: list[str] = []
    kind, name = workload.get("kind"), qualname(workload)
    status = workload.get("status") or {}
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        if desired == 0:
            problems.append(f"DaemonSet {name} schedules no pod (desiredNumberScheduled 0): no node matches its selector")
        elif ready < desired:
            problems.append(f"DaemonSet {name}: {ready} of {desired} pods ready")
    else:
        wanted = int((workload.get("spec") or {}).get("replicas", 1) or 0)
        available = int(status.get("availableReplicas") or 0)
        if wanted == 0:
            problems.append(f"Deployment {name} is scaled to 0 replicas")
        elif available < wanted:
            problems.append(f"Deployment {name}: {available} of {wanted} replicas available")
    for pod in owned_pods(pods, workload):
        st = pod_state(pod)
        if st.problem:
            problems.append(st.problem)
        elif st.warning:
            warnings.append(st.warning)
    return problems, warnings


# ---------------------------------------------------------------------------------------------
# Submariner settings, gateways and connections
# ---------------------------------------------------------------------------------------------
SUBMARINER_SETTINGS_READS = (R.SUBMARINERS, R.SERVICEDISCOVERIES, R.DAEMONSETS, R.NAMESPACES)
GATEWAY_READS = (R.SUBMARINERS, R.SUBMARINER_GATEWAYS, R.PODS)


@dataclass
class SubmarinerSettings:
    """What the Submariner CR (and ServiceDiscovery) say about this cluster's deployment."""

    installed: bool
    namespace: str = SUBMARINER_NS
    cluster_id: str | None = None
    globalnet: bool = False
    global_cidrs: list[str] = field(default_factory=list)
    service_discovery: bool = False
    nat_enabled: bool | None = None
    cable_driver: str | None = None
    #: ``spec.connectionHealthCheck.enabled``; ``None`` when the CR does not say.
    health_check: bool | None = None
    #: ``spec.coreDNSCustomConfig`` (``{"configMapName":..., "namespace":...}``) when set.
    coredns_custom: dict[str, Any] = field(default_factory=dict)


def submariner_settings(view: ClusterView) -> SubmarinerSettings:
    """Globalnet, service discovery, NAT and friends from the Submariner CR (status first, then spec)."""
    cr = submariner_cr(view)
    discoveries = view.optional(R.SERVICEDISCOVERIES) or []
    if cr is None:
        return SubmarinerSettings(installed=False, service_discovery=bool(discoveries))
    spec, status = cr.get("spec") or {}, cr.get("status") or {}
    gcidrs = global_cidrs(view)
    globalnet = bool(gcidrs) or any((d.get("spec") or {}).get("globalnetEnabled") for d in discoveries)
    nat = status.get("natEnabled", spec.get("natEnabled"))
    check = spec.get("connectionHealthCheck")
    return SubmarinerSettings(
        installed=True,
        namespace=meta(cr).get("namespace") or SUBMARINER_NS,
        cluster_id=spec.get("clusterID") or status.get("clusterID"),
        globalnet=globalnet,
        global_cidrs=gcidrs,
        service_discovery=bool(spec.get("serviceDiscoveryEnabled")) or bool(discoveries),
        nat_enabled=None if nat is None else bool(nat),
        cable_driver=spec.get("cableDriver") or None,
        health_check=None if not isinstance(check, dict) or "enabled" not in check else bool(check["enabled"]),
        coredns_custom=dict(spec.get("coreDNSCustomConfig") or {}),
    )


def submariner_namespace(view: ClusterView) -> str:
    """Where the Submariner components live: the CR's namespace, else ``submariner-operator``."""
    cr = submariner_cr(view)
    return (meta(cr).get("namespace") if cr else None) or SUBMARINER_NS


def cluster_id_of(view: ClusterView) -> str:
    """Return the Submariner cluster id of a cluster, or its mcdiag name when it has none."""
    try:
        return submariner_cluster_id(view) or view.name
    except ResourceUnavailable:
        return view.name


@dataclass
class ActiveGateway:
    """The active Submariner gateway of a cluster and how it was recognised."""

    node: str | None
    source: str
    #: The ``Gateway`` object with ``status.haStatus: active`` (``None`` when only the pod label says so).
    gateway: dict[str, Any] | None = None
    #: The gateway pod labelled ``gateway.submariner.io/status=active``, when there is one.
    pod: dict[str, Any] | None = None


def active_gateway(view: ClusterView) -> ActiveGateway | None:
    """Find the active gateway: the ``Gateway`` with ``haStatus: active``, else the pod labelled active; or ``None``."""
    ns = submariner_namespace(view)
    gateways = [g for g in (view.optional(R.SUBMARINER_GATEWAYS) or []) if meta(g).get("namespace") in (ns, None)]
    pods = [
        p
        for p in view.list(R.PODS)
        if meta(p).get("namespace") == ns and labels(p).get("gateway.submariner.io/status") == "active"
    ]
    for gw in sorted(gateways, key=lambda g: str(meta(g).get("name"))):
        status = gw.get("status") or {}
        if status.get("haStatus") == "active":
            node = ((status.get("localEndpoint") or {}).get("hostname")) or meta(gw).get("name")
            pod = next((p for p in pods if (p.get("spec") or {}).get("nodeName") == node), None)
            return ActiveGateway(node, f"Gateway {qualname(gw)} (haStatus active)", gw, pod)
    if pods:
        pod = sorted(pods, key=qualname)[0]
        return ActiveGateway(
            (pod.get("spec") or {}).get("nodeName"), f"pod {qualname(pod)} (gateway.submariner.io/status=active)", None, pod
        )
    return None


def endpoint_ip(spec: dict[str, Any]) -> str:
    """How a Submariner Endpoint spec is reached, for messages: ``public (private)``."""
    pub, priv = spec.get("public_ip"), spec.get("private_ip")
    if pub and priv and pub != priv:
        return f"{pub} (private {priv})"
    return str(pub or priv or "?")


def endpoint_health_check_ip(spec: dict[str, Any]) -> str | None:
    """Return the Endpoint's health-check IP (``healthCheckIP`` in the CRD; ``health_check_ip`` in older dumps)."""
    return spec.get("healthCheckIP") or spec.get("health_check_ip")


# ---------------------------------------------------------------------------------------------
# kube-proxy
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# DNS: Corefiles and the Lighthouse DNS service
# ---------------------------------------------------------------------------------------------
DNS_READS = (R.CONFIGMAPS_KUBE_SYSTEM, R.SERVICES, R.SUBMARINERS)
LIGHTHOUSE_DNS_SERVICE = "submariner-lighthouse-coredns"


@dataclass
class ServerBlock:
    """One server block of a Corefile: its zones (``clusterset.local:53``), plugin lines and forward targets."""

    zones: list[str]
    lines: list[str]
    forwards: list[str]
    source: str = ""

    def serves(self, zone: str) -> bool:
        """Whether the block answers for ``zone`` on port 53 (``zone``, ``zone:53``, ``dns://zone:53``)."""
        want = zone.rstrip(".").lower()
        for key in self.zones:
            key = key.lower().split("://", 1)[-1]
            name, _, port = key.partition(":")
            if name.rstrip(".") == want and port in ("", "53"):
                return True
        return False


def corefile_blocks(text: str, source: str = "") -> list[ServerBlock]:
    """Parse a Corefile into its top-level server blocks (comments stripped, nested blocks kept as lines)."""
    blocks: list[ServerBlock] = []
    depth = 0
    zones: list[str] = []
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if depth == 0:
            if "{" not in line:
                # A key list continued on the next line ends with a comma; anything else here
                # (``import /etc/coredns/custom/*.server``) is not a server block.
                pending = f"{pending} {line}".strip() if line.endswith(",") else ""
                continue
            pending = f"{pending} {line}".strip()
            head, _, rest = pending.partition("{")
            zones = [z for z in head.replace(",", " ").split() if z]
            lines, pending, depth = [], "", 1
            line = rest.strip()
            if not line:
                continue
        opens, closes = line.count("{"), line.count("}")
        if depth + opens - closes <= 0:
            inner = line.rsplit("}", 1)[0].strip()
            if inner:
                lines.append(inner)
            blocks.append(ServerBlock(zones, lines, _forwards(lines), source))
            depth = 0
            continue
        depth += opens - closes
        lines.append(line)
    return blocks


def _forwards(lines: list[str]) -> list[str]:
    targets: list[str] = []
    for line in lines:
        words = line.replace("{", " ").split()
        if words[:1] == ["forward"] and len(words) >= 3:
            for word in words[2:]:
                if word == "}":
                    break
                targets.append(word.split("://", 1)[-1])
    return targets


def _strip_port(target: str) -> str:
    if target.startswith("["):
        return target[1:].split("]", 1)[0]
    return target.rsplit(":", 1)[0] if target.count(":") == 1 else target


def forward_ips(block: ServerBlock) -> list[str]:
    """Return the IP addresses a block forwards to (ports stripped; names and files left out)."""
    out = []
    for target in block.forwards:
        host = _strip_port(target)
        try:
            out.append(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    return out


def coredns_blocks(view: ClusterView) -> tuple[list[ServerBlock], list[str]]:
    """Every server block CoreDNS loads, and the ConfigMaps read (``kube-system`` only).

    ``kube-system/coredns`` ``Corefile``, k3s's ``kube-system/coredns-custom`` ``*.server`` entries, and the
    ConfigMap named by the Submariner CR's ``coreDNSCustomConfig`` when it lives in ``kube-system``.
    """
    sources: list[tuple[dict[str, Any], list[str]]] = []
    cm = config_map(view, "coredns")
    if cm:
        sources.append((cm, ["Corefile"]))
    custom = config_map(view, "coredns-custom")
    if custom:
        sources.append((custom, sorted(k for k in (custom.get("data") or {}) if k.endswith(".server"))))
    try:
        cr = submariner_cr(view)
    except ResourceUnavailable:
        cr = None
    extra = ((cr or {}).get("spec") or {}).get("coreDNSCustomConfig") or {}
    if extra.get("configMapName") and (extra.get("namespace") or "kube-system") == "kube-system":
        named = config_map(view, extra["configMapName"])
        if named and named is not cm and named is not custom:
            sources.append((named, sorted(named.get("data") or {})))
    blocks: list[ServerBlock] = []
    read: list[str] = []
    for obj, keys in sources:
        read.append(qualname(obj))
        for key in keys:
            text = (obj.get("data") or {}).get(key)
            if text:
                blocks.extend(corefile_blocks(str(text), f"ConfigMap {qualname(obj)} ({key})"))
    return blocks, read


def lighthouse_dns_ip(view: ClusterView) -> str | None:
    """Return the ClusterIP of the Lighthouse DNS service (``<submariner ns>/submariner-lighthouse-coredns``)."""
    ns = submariner_namespace(view)
    svc = view.find(R.SERVICES, LIGHTHOUSE_DNS_SERVICE, ns)
    ip = ((svc or {}).get("spec") or {}).get("clusterIP")
    return ip if ip and ip != "None" else None


# ---------------------------------------------------------------------------------------------
# Netmaker networks
# ---------------------------------------------------------------------------------------------
NETMAKER_READS = (R.DAEMONSETS, R.DEPLOYMENTS)


def _container_network(workload: dict[str, Any]) -> str | None:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in spec.get("containers") or []:
        for env in container.get("env") or []:
            value = env.get("value")
            if env.get("name") == "NETWORK" and value and "$" not in value:
                return str(value)
    words = container_args(workload)
    for flag in ("-n", "--network", "--net"):
        value = flag_value(words, flag)
        if value and "$" not in value and not value.startswith("-"):
            return value.rstrip(";")
    return None


def netclient_network(view: ClusterView) -> str | None:
    """Return the Netmaker network this cluster's nodes join: ``NETWORK`` env (or ``-n NET``) of DaemonSet ``app=netclient``."""
    for ds in sorted(view.select(R.DAEMONSETS, app="netclient"), key=qualname):
        network = _container_network(ds)
        if network:
            return network
    return None


def netclient_gateway_networks(view: ClusterView) -> list[str]:
    """Return the networks this cluster's gateway Deployments (``app=netclient-gateway``) join: the OTHER clusters' networks."""
    found = []
    for dep in sorted(view.select(R.DEPLOYMENTS, app="netclient-gateway"), key=qualname):
        network = _container_network(dep)
        if network and network not in found:
            found.append(network)
    return found
