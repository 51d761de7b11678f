"""Submariner: the CR and its settings, the cluster id, the active gateway, Endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts.objects import meta, qualname, split_cidrs
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

SUBMARINER_NS = "submariner-operator"


BROKER_NS = "submariner-k8s-broker"

#: Queries in Submariner's namespace are declared for ``submariner-operator`` (where ``subctl`` installs it);
#: :func:`here` points them at the namespace the cluster's Submariner CR is in, when that is another one.
#: Every pod there (the queries below narrow it).
SUBMARINER_PODS = R.PODS.within(SUBMARINER_NS)
#: The route agent's pods are labelled ``app=submariner-routeagent`` (one per node).
ROUTEAGENT_APP = "submariner-routeagent"
#: Every pod of Submariner's namespace but the route agent's, whole (each pod's readiness is judged):
#: the gateway, operator, Lighthouse, metrics proxy and Globalnet pods, a handful whatever the nodes.
SUBMARINER_COMPONENT_PODS = SUBMARINER_PODS.where(labels=f"app!={ROUTEAGENT_APP}")
#: The route agent's pods in the ``Table`` form (kubectl's READY, STATUS, RESTARTS, NODE; a few hundred
#: bytes each): one per node, so the one read of a Submariner cluster that grows with the nodes, kept small.
ROUTEAGENT_POD_ROWS = SUBMARINER_PODS.where(labels=f"app={ROUTEAGENT_APP}").as_table()
#: The gateway pod labelled active (one, or none).
ACTIVE_GATEWAY_PODS = SUBMARINER_PODS.where(labels="gateway.submariner.io/status=active")
SUBMARINER_DAEMONSETS = R.DAEMONSETS.within(SUBMARINER_NS)
SUBMARINER_DEPLOYMENTS = R.DEPLOYMENTS.within(SUBMARINER_NS)
#: The nodes labelled as Submariner gateways, whole (their labels, annotations and readiness): a few.
GATEWAY_NODES = R.NODES.where(labels="submariner.io/gateway=true")
#: The broker's namespace, by name (metadata only): whether this cluster is the broker.
BROKER_NAMESPACE = R.NAMESPACES.named(BROKER_NS).metadata()


def here(view: ClusterView, query: R.Resource) -> R.Resource:
    """``query`` (declared in ``submariner-operator``) in the namespace this cluster's Submariner runs in."""
    ns = submariner_namespace(view)
    return query.within(ns) if query.namespace == SUBMARINER_NS and ns != SUBMARINER_NS else query


def submariner_cr(view: ClusterView) -> dict[str, Any] | None:
    """The ``Submariner`` CR (normally ``submariner-operator/submariner``), or ``None``."""
    items = view.optional(R.SUBMARINERS) or []
    preferred = [i for i in items if meta(i).get("namespace") == SUBMARINER_NS]
    return (preferred or items or [None])[0]


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


SUBMARINER_SETTINGS_READS = (R.SUBMARINERS, R.SERVICEDISCOVERIES)


GATEWAY_READS = (R.SUBMARINERS, R.SUBMARINER_GATEWAYS, ACTIVE_GATEWAY_PODS)


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
    pods = view.list(here(view, ACTIVE_GATEWAY_PODS))
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


LIGHTHOUSE_DNS_SERVICE = "submariner-lighthouse-coredns"
#: The Lighthouse DNS Service, by name.
LIGHTHOUSE_SERVICE = R.SERVICES.within(SUBMARINER_NS).named(LIGHTHOUSE_DNS_SERVICE)
LIGHTHOUSE_READS = (R.SUBMARINERS, LIGHTHOUSE_SERVICE)


def lighthouse_service(view: ClusterView) -> dict[str, Any] | None:
    """The Lighthouse DNS Service (``<submariner ns>/submariner-lighthouse-coredns``), or ``None``."""
    return next(iter(view.list(here(view, LIGHTHOUSE_SERVICE))), None)


def lighthouse_dns_ip(view: ClusterView) -> str | None:
    """Return the ClusterIP of the Lighthouse DNS service (``<submariner ns>/submariner-lighthouse-coredns``)."""
    svc = lighthouse_service(view)
    ip = ((svc or {}).get("spec") or {}).get("clusterIP")
    return ip if ip and ip != "None" else None


ENDPOINT_READS = (R.SUBMARINERS, R.SUBMARINER_ENDPOINTS)


def local_endpoint(view: ClusterView) -> dict[str, Any] | None:
    """The cluster's own Submariner ``Endpoint`` (its cluster id; in the Submariner namespace first)."""
    cid = cluster_id_of(view)
    ns = submariner_namespace(view)
    mine = [e for e in view.optional(R.SUBMARINER_ENDPOINTS) or [] if (e.get("spec") or {}).get("cluster_id") == cid]
    mine.sort(key=lambda e: (meta(e).get("namespace") != ns, qualname(e)))
    return mine[0] if mine else None


#: Submariner's default cable driver (``subctl join`` without ``--cable-driver``).
DEFAULT_CABLE_DRIVER = "libreswan"


def cable_driver(view: ClusterView) -> tuple[str | None, str]:
    """The cable driver this cluster's gateway uses, and where that was read.

    The local Endpoint's ``backend`` (what the running gateway registered), else the Submariner
    CR's ``spec.cableDriver``, else Submariner's default (libreswan) when the CR leaves it empty.
    """
    endpoint = local_endpoint(view)
    backend = ((endpoint or {}).get("spec") or {}).get("backend")
    if backend:
        return str(backend), f"backend of local Endpoint {qualname(endpoint)}"
    cr = submariner_cr(view)
    if cr is None:
        return None, "no Submariner CR and no local Endpoint"
    driver = (cr.get("spec") or {}).get("cableDriver")
    if driver:
        return str(driver), f"cableDriver of Submariner CR {qualname(cr)}"
    return DEFAULT_CABLE_DRIVER, f"Submariner's default (Submariner CR {qualname(cr)} sets no cableDriver)"


#: The Submariner components whose images must agree: (kind, name).
COMPONENTS = (
    ("Deployment", "submariner-operator"),
    ("DaemonSet", "submariner-gateway"),
    ("DaemonSet", "submariner-routeagent"),
    ("DaemonSet", "submariner-metrics-proxy"),
    ("DaemonSet", "submariner-globalnet"),
    ("Deployment", "submariner-lighthouse-agent"),
    ("Deployment", "submariner-lighthouse-coredns"),
)
VERSION_READS = (R.SUBMARINERS, SUBMARINER_DAEMONSETS, SUBMARINER_DEPLOYMENTS)


def image_version(image: str) -> str | None:
    """The version an image reference carries: its tag without a leading ``v`` (``None`` for digests only or ``latest``)."""
    ref = str(image).split("@", 1)[0]
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag or not tag or tag in ("latest", "devel"):
        return None
    return tag[1:] if tag[:1] == "v" and tag[1:2].isdigit() else tag


def component_versions(view: ClusterView) -> dict[str, str | None]:
    """``{component: version}`` of the Submariner components deployed here (their first container's image tag)."""
    ns = submariner_namespace(view)
    out: dict[str, str | None] = {}
    for kind, name in COMPONENTS:
        res = here(view, SUBMARINER_DEPLOYMENTS if kind == "Deployment" else SUBMARINER_DAEMONSETS)
        workload = view.find(res, name, ns)
        if workload is None:
            continue
        containers = ((((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
        out[name] = image_version(containers[0].get("image") or "") if containers else None
    return out
