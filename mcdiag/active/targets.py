"""Where active checks probe from and to: pure functions of the cluster views.

Node choice (gateway = the active gateway node; non-gateway = another Ready
node; node IP = InternalIP), the tunnel endpoint a peer's gateway is reached at
(IP and UDP ports, with where each came from), and the
service and DNS name ``dns-clusterset`` / ``service-reachability`` probe. Like
facts, they read only the resources listed in ``READS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcdiag.facts import cluster, dns, netmaker, objects, submariner
from mcdiag.facts.objects import (
    annotations,
    container_args,
    env_value,
    flag_value,
    labels,
    meta,
    node_address,
    node_name,
    node_ready,
    qualname,
)
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

SUBMARINER_GATEWAY_LABEL = "submariner.io/gateway"
NETMAKER_GATEWAY_LABEL = "gateway"
SUBMARINER_NODE_PREFIX = "gateway.submariner.io/"
DEFAULT_UDP_PORT = 4500
DEFAULT_NATT_PORT = 4490
DEFAULT_WIREGUARD_PORT = 51821
FLANNEL_PUBLIC_IP = "flannel.alpha.coreos.com/public-ip"
FLANNEL_PUBLIC_IP_OVERWRITE = "flannel.alpha.coreos.com/public-ip-overwrite"

#: Nodes not labelled as a gateway of either provider, the first few by name: where a non-gateway probe runs.
NON_GATEWAY_NODES = R.NODES.where(labels=f"{SUBMARINER_GATEWAY_LABEL}!=true,{NETMAKER_GATEWAY_LABEL}!=true")
#: How many of them are read ahead (one page: the first Ready one is nearly always among them).
NON_GATEWAY_SAMPLE = 20
#: Where probes run: the gateway nodes of both providers (a few), the first non-gateway nodes, the active
#: gateway (Submariner) or netclient-gateway's pod and Deployment (Netmaker). Never every node.
NODE_READS = tuple(dict.fromkeys((
    submariner.GATEWAY_NODES,
    netmaker.GATEWAY_NODES,
    NON_GATEWAY_NODES.first(NON_GATEWAY_SAMPLE),
    netmaker.NETCLIENT_GATEWAY_PODS,
    netmaker.NETCLIENT_GATEWAY_DEPLOYMENTS,
) + cluster.PROVIDER_READS + submariner.GATEWAY_READS))
#: Read only when needed: the active gateway's node by name when it is not labelled as a gateway, and
#: every non-gateway node when none of the first ones is Ready.
NODE_READS_IF_NEEDED = (R.NODES,)
TUNNEL_READS = tuple(dict.fromkeys(NODE_READS + submariner.ENDPOINT_READS + submariner.SUBMARINER_SETTINGS_READS))
#: Services are read by name (the echo control, ``--service``, each export, the Lighthouse DNS Service).
SERVICE_READS = tuple(dict.fromkeys(NODE_READS + (R.SERVICE_EXPORTS, R.SERVICE_IMPORTS, R.GLOBAL_INGRESS_IPS)
                                    + submariner.SUBMARINER_SETTINGS_READS + submariner.LIGHTHOUSE_READS + netmaker.NETMAKER_READS
                                    + dns.DNS_READS))
#: ... and, when needed: the names of every Service (Netmaker's servicex publishes them all), a Service by name,
#: servicex's Deployments, and what the DNS facts read when needed.
SERVICE_READS_IF_NEEDED = tuple(dict.fromkeys(NODE_READS_IF_NEEDED + (R.SERVICES, R.SERVICES.metadata())
                                              + netmaker.SERVICEX_DEPLOYMENTS + dns.DNS_READS_IF_NEEDED))


# ---------------------------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------------------------
@dataclass
class NodeChoice:
    """A node to probe from or to, and why it was chosen (or why there is none)."""

    node: dict[str, Any] | None
    reason: str

    @property
    def name(self) -> str:
        """The node's name."""
        return node_name(self.node)

    @property
    def ip(self) -> str | None:
        """The node's InternalIP."""
        return node_address(self.node) if self.node else None


def _node(view: ClusterView, name: str, *held: R.Resource) -> dict[str, Any] | None:
    """The node called ``name``: from the node queries ``held`` when it is there, else by its name."""
    for query in held:
        for node in view.list(query):
            if node_name(node) == name:
                return node
    return objects.named(view, R.NODES, name)


def gateway_node(view: ClusterView) -> NodeChoice:
    """Return the node the cluster's inter-cluster traffic leaves from.

    Submariner: the active gateway (``Gateway`` with ``haStatus: active``, else the gateway pod
    labelled active), normally labelled ``submariner.io/gateway=true``. Netmaker: a Ready node
    labelled ``gateway=true``, preferably the one running ``netclient-gateway``.
    """
    provider = view.fact(cluster.detect_provider)
    if provider == "submariner":
        active = submariner.active_gateway(view)
        if active is None or not active.node:
            return NodeChoice(None, "no active Submariner gateway (no Gateway with haStatus active, no gateway pod "
                                    "labelled gateway.submariner.io/status=active)")
        node = _node(view, active.node, submariner.GATEWAY_NODES)
        if node is None:
            return NodeChoice(None, f"the active gateway node {active.node} ({active.source}) is not a node of the cluster")
        if not node_ready(node):
            return NodeChoice(None, f"the active gateway node {active.node} is not Ready")
        label = labels(node).get(SUBMARINER_GATEWAY_LABEL) == "true"
        return NodeChoice(node, f"active gateway from {active.source}" + ("" if label else f" (not labelled {SUBMARINER_GATEWAY_LABEL}=true)"))
    if provider == "netmaker":
        labelled = sorted(
            (n for n in view.list(netmaker.GATEWAY_NODES) if labels(n).get(NETMAKER_GATEWAY_LABEL) == "true" and node_ready(n)),
            key=node_name,
        )
        if not labelled:
            return NodeChoice(None, f"no Ready node labelled {NETMAKER_GATEWAY_LABEL}=true")
        running = {
            (p.get("spec") or {}).get("nodeName")
            for p in view.list(netmaker.NETCLIENT_GATEWAY_PODS)
            if objects.pod_state(p).problem is None
        }
        for node in labelled:
            if node_name(node) in running:
                return NodeChoice(node, f"labelled {NETMAKER_GATEWAY_LABEL}=true, runs netclient-gateway")
        return NodeChoice(labelled[0], f"labelled {NETMAKER_GATEWAY_LABEL}=true")
    return NodeChoice(None, f"no gateway node for provider {provider}")


def other_node(view: ClusterView, gateway: NodeChoice) -> NodeChoice:
    """Another Ready node than the gateway, preferably one not labelled as a gateway (``node`` None on single-node clusters).

    The first Ready non-gateway node by name, from the first :data:`NON_GATEWAY_SAMPLE` of them (every
    non-gateway node is read only when none of those is Ready), else a Ready gateway node.
    """

    def first_ready(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
        ready = sorted((n for n in nodes if node_name(n) != gateway.name and node_ready(n)), key=node_name)
        return ready[0] if ready else None

    sample = view.list(NON_GATEWAY_NODES.first(NON_GATEWAY_SAMPLE))
    node = first_ready(sample)
    if node is None and len(sample) >= NON_GATEWAY_SAMPLE:
        node = first_ready(view.list(NON_GATEWAY_NODES))
    if node is not None:
        return NodeChoice(node, "a Ready non-gateway node")
    gateways = {node_name(n): n for q in (submariner.GATEWAY_NODES, netmaker.GATEWAY_NODES) for n in view.list(q)}
    node = first_ready(list(gateways.values()))
    if node is None:
        return NodeChoice(None, f"no Ready node besides the gateway {gateway.name}")
    return NodeChoice(node, "a Ready node (every other node is a gateway)")


# ---------------------------------------------------------------------------------------------
# Tunnel endpoints
# ---------------------------------------------------------------------------------------------
@dataclass
class TunnelPort:
    """One UDP port a peer's gateway listens on for the tunnel."""

    port: int
    what: str
    source: str


@dataclass
class TunnelTarget:
    """How A's gateway reaches B's gateway: IP (and where it came from) and UDP ports."""

    ip: str | None
    ip_source: str
    ports: list[TunnelPort] = field(default_factory=list)


def _port(value: Any) -> int | None:
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return port if 0 < port < 65536 else None


local_endpoint = submariner.local_endpoint


def _endpoint_seen_by(view: ClusterView, cluster_id: str) -> dict[str, Any] | None:
    ns = submariner.submariner_namespace(view)
    found = [e for e in view.optional(R.SUBMARINER_ENDPOINTS) or [] if (e.get("spec") or {}).get("cluster_id") == cluster_id]
    found.sort(key=lambda e: (meta(e).get("namespace") != ns, qualname(e)))
    return found[0] if found else None


def _connection_to(view: ClusterView, cluster_id: str) -> dict[str, Any] | None:
    active = submariner.active_gateway(view)
    gateway = active.gateway if active else None
    for conn in ((gateway or {}).get("status") or {}).get("connections") or []:
        if ((conn.get("endpoint") or {}).get("cluster_id")) == cluster_id:
            return conn
    return None


def submariner_tunnel(a: ClusterView, b: ClusterView, b_gateway: NodeChoice) -> TunnelTarget:
    """B's gateway as A's gateway reaches it: ``usingIP`` of A's connection, else public IP with NAT, else private IP.

    Ports: ``udp-port`` and ``natt-discovery-port`` from B's gateway node label/annotation
    (``gateway.submariner.io/...``), else B's Endpoint ``backend_config``, else 4500 and 4490.
    """
    b_id = submariner.cluster_id_of(b)
    endpoint = local_endpoint(b) or _endpoint_seen_by(a, b_id)
    spec = (endpoint or {}).get("spec") or {}
    config = spec.get("backend_config") or {}
    node = b_gateway.node or {}
    ports = []
    for key, default, what in (("udp-port", DEFAULT_UDP_PORT, "udp-port"), ("natt-discovery-port", DEFAULT_NATT_PORT, "NAT discovery")):
        name = SUBMARINER_NODE_PREFIX + key
        if _port(labels(node).get(name)):
            ports.append(TunnelPort(_port(labels(node)[name]), what, f"node label {name}"))
        elif _port(annotations(node).get(name)):
            ports.append(TunnelPort(_port(annotations(node)[name]), what, f"node annotation {name}"))
        elif _port(config.get(key)):
            ports.append(TunnelPort(_port(config[key]), what, f"Endpoint {qualname(endpoint or {})} backend_config {key}"))
        else:
            ports.append(TunnelPort(default, what, "default"))
    conn = _connection_to(a, b_id)
    if conn and conn.get("usingIP"):
        return TunnelTarget(str(conn["usingIP"]), f"usingIP of {a.name}'s Gateway connection to {b_id}", ports)
    nat = spec.get("nat_enabled")
    if nat is None:
        nat = a.fact(submariner.submariner_settings).nat_enabled
    if nat and spec.get("public_ip"):
        return TunnelTarget(str(spec["public_ip"]), f"public_ip of Endpoint {qualname(endpoint)} (NAT on)", ports)
    if spec.get("private_ip"):
        return TunnelTarget(str(spec["private_ip"]), f"private_ip of Endpoint {qualname(endpoint)}", ports)
    if b_gateway.ip:
        return TunnelTarget(b_gateway.ip, f"InternalIP of {b_gateway.name} (no Endpoint of {b_id} found)", ports)
    return TunnelTarget(None, f"no Endpoint of {b_id} and no InternalIP on {b_gateway.name}", ports)


def netmaker_tunnel(b: ClusterView, b_gateway: NodeChoice) -> TunnelTarget:
    """B's Netmaker gateway: ExternalIP, else flannel's public-ip annotation, else InternalIP; the WireGuard port.

    The port is ``NETCLIENT_PORT`` of B's ``netclient-gateway`` Deployment when it is a literal (netclient
    v0.9.x), else its ``netclient join --port N`` (older manifests), else 51821.
    """
    port = TunnelPort(DEFAULT_WIREGUARD_PORT, "WireGuard", "default")
    for dep in sorted(b.list(netmaker.NETCLIENT_GATEWAY_DEPLOYMENTS), key=qualname):
        value = _port(env_value(dep, "NETCLIENT_PORT"))
        if value:
            port = TunnelPort(value, "WireGuard", f"NETCLIENT_PORT of Deployment {qualname(dep)}")
            break
        value = _port(flag_value(container_args(dep), "--port"))
        if value:
            port = TunnelPort(value, "WireGuard", f"netclient join --port of Deployment {qualname(dep)}")
            break
    node = b_gateway.node or {}
    external = node_address(node, "ExternalIP")
    if external:
        return TunnelTarget(external, f"ExternalIP of {b_gateway.name}", [port])
    for key in (FLANNEL_PUBLIC_IP_OVERWRITE, FLANNEL_PUBLIC_IP):
        if annotations(node).get(key):
            return TunnelTarget(annotations(node)[key], f"annotation {key} of {b_gateway.name}", [port])
    if b_gateway.ip:
        return TunnelTarget(b_gateway.ip, f"InternalIP of {b_gateway.name}", [port])
    return TunnelTarget(None, f"{b_gateway.name} has no ExternalIP, public-ip annotation or InternalIP", [port])


# ---------------------------------------------------------------------------------------------
# DNS and services
# ---------------------------------------------------------------------------------------------
def service_ips(svc: dict[str, Any]) -> list[str]:
    """The Service's ClusterIP(s) (none for a headless service)."""
    spec = svc.get("spec") or {}
    ips = [str(i) for i in spec.get("clusterIPs") or [] if i and i != "None"]
    if not ips and spec.get("clusterIP") and spec["clusterIP"] != "None":
        ips = [str(spec["clusterIP"])]
    return ips


def service_port(svc: dict[str, Any]) -> int | None:
    """The TCP port an HTTP GET goes to: the port named ``http``, else 80/8080, else the first TCP port."""
    ports = [p for p in (svc.get("spec") or {}).get("ports") or [] if (p.get("protocol") or "TCP") == "TCP" and p.get("port")]
    for pick in (lambda p: p.get("name") == "http", lambda p: p.get("port") in (80, 8080), lambda p: True):
        for p in ports:
            if pick(p):
                return int(p["port"])
    return None


def global_ingress_ips(view: ClusterView, namespace: str, name: str) -> list[str]:
    """Globalnet: the ``GlobalIngressIP`` addresses allocated to Service ``namespace/name`` (what clusterset names answer)."""
    out = []
    for gip in view.optional(R.GLOBAL_INGRESS_IPS) or []:
        ref = (gip.get("spec") or {}).get("serviceRef") or {}
        if meta(gip).get("namespace") == namespace and ref.get("name") == name:
            ip = (gip.get("status") or {}).get("allocatedIP")
            if ip:
                out.append(str(ip))
    return out


def exported_name(a: ClusterView, b: ClusterView, namespace: str, name: str) -> tuple[str | None, str]:
    """The name pods in A use for B's service: ``NAME.NS.svc.clusterset.local`` or ``NAME.NS.<B's Netmaker network>``.

    Returns (name, where the zone came from) or (None, why not).
    """
    provider = b.fact(cluster.detect_provider)
    if provider == "submariner":
        return f"{name}.{namespace}.svc.clusterset.local", "Submariner Lighthouse (clusterset.local)"
    if provider == "netmaker":
        networks = netmaker.cluster_networks(b)
        network = networks[0] if networks else None
        if not network:
            return None, f"cannot tell {b.name}'s Netmaker network (no literal NETWORK in DaemonSet app=netclient)"
        return f"{name}.{namespace}.{network}", f"{b.name}'s Netmaker network {network}"
    return None, f"{b.name} uses provider {provider}: no cross-cluster service names"


# ---------------------------------------------------------------------------------------------
# The services dns-clusterset and service-reachability probe
# ---------------------------------------------------------------------------------------------
#: Namespaces whose Services are the platform's, not the user's (never picked as "exported" for Netmaker).
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "openshift-dns", "submariner-operator",
                     "submariner-k8s-broker", "calico-system", "calico-apiserver", "tigera-operator", "kube-flannel")


@dataclass
class ServiceTarget:
    """One of B's services to probe from A, and why it was chosen."""

    namespace: str
    name: str
    ips: list[str]
    port: int | None
    #: What the clusterset name must answer: the ClusterIP(s), or Globalnet ingress IPs.
    expected: list[str]
    #: ``--service``, ``ServiceExport``, ``servicex``, or ``echo control`` (mcdiag's temporary echo service).
    source: str
    #: Why it cannot be probed (does not exist, headless ...); empty when it can.
    problem: str = ""

    @property
    def ref(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def temporary(self) -> bool:
        """Whether this is mcdiag's own echo service (made for this run: its name may still be propagating)."""
        return self.source == "echo control"


def service_target(b: ClusterView, namespace: str, name: str, source: str) -> ServiceTarget:
    """B's Service ``namespace/name`` as a probe target (``problem`` says why it cannot be one)."""
    svc = objects.named(b, R.SERVICES, name, namespace)
    if svc is None:
        return ServiceTarget(namespace, name, [], None, [], source, f"Service {namespace}/{name} does not exist in {b.name}")
    ips = service_ips(svc)
    if not ips:
        return ServiceTarget(namespace, name, [], None, [], source, f"Service {namespace}/{name} in {b.name} is headless (no ClusterIP)")
    expected = ips
    if b.fact(cluster.detect_provider) == "submariner" and b.fact(submariner.submariner_settings).globalnet:
        expected = global_ingress_ips(b, namespace, name) or ips
    return ServiceTarget(namespace, name, ips, service_port(svc), expected, source)


def _servicex(view: ClusterView) -> bool:
    return bool(netmaker.servicex_deployments(view))


def exported_services(b: ClusterView, limit: int, skip_namespaces: tuple[str, ...] = ()) -> tuple[list[tuple[str, str]], str, int]:
    """B's exported services, sorted, at most ``limit``: (``[(ns, name)]``, what "exported" means here, how many there are).

    Submariner: B's ServiceExports. Netmaker: every Service servicex publishes (all of them, outside the
    platform's namespaces), when B runs servicex.
    """
    provider = b.fact(cluster.detect_provider)
    if provider == "submariner":
        found = sorted({(meta(e).get("namespace") or "", meta(e).get("name") or "") for e in b.optional(R.SERVICE_EXPORTS) or []})
        how = "ServiceExport"
    elif provider == "netmaker" and _servicex(b):
        # servicex publishes every Service: their names are read (metadata only), each probed one by name.
        found = sorted({(meta(s).get("namespace") or "", meta(s).get("name") or "") for s in b.list(R.SERVICES.metadata())
                        if meta(s).get("namespace") not in SYSTEM_NAMESPACES
                        and (meta(s).get("namespace"), meta(s).get("name")) != ("default", "kubernetes")})
        how = "servicex"
    else:
        return [], "", 0
    found = [f for f in found if f[0] not in skip_namespaces and all(f)]
    return found[: max(0, limit)], how, len(found)


@dataclass
class ZoneOwner:
    """The DNS server that owns B's zone as A sees it, or why there is none."""

    ip: str | None
    port: int
    what: str


def zone_owner(a: ClusterView, b: ClusterView) -> ZoneOwner:
    """Who answers B's service names for A: A's Lighthouse DNS (Submariner), or the server A's DNS forwards B's network to (Netmaker)."""
    provider = b.fact(cluster.detect_provider)
    if provider == "submariner":
        ns = submariner.submariner_namespace(a)
        ref = f"{ns}/{submariner.LIGHTHOUSE_DNS_SERVICE}"
        svc = submariner.lighthouse_service(a)
        ip = a.fact(submariner.lighthouse_dns_ip)
        if svc is None or ip is None:
            return ZoneOwner(None, 53, f"{a.name} has no Lighthouse DNS Service {ref}")
        udp = [p for p in (svc.get("spec") or {}).get("ports") or [] if (p.get("protocol") or "TCP") == "UDP" and p.get("port")]
        return ZoneOwner(ip, int(udp[0]["port"]) if udp else 53, f"{a.name}'s Lighthouse DNS {ref} ({ip})")
    if provider == "netmaker":
        networks = netmaker.cluster_networks(b)
        if not networks:
            return ZoneOwner(None, 53, f"cannot tell {b.name}'s Netmaker network")
        config = a.fact(dns.cluster_dns_config)
        block = config.serving(networks[0])
        targets = dns.forward_targets(block) if block is not None else []
        if not targets:
            why = "has no" if block is None else "forwards to no IP address in its"
            return ZoneOwner(None, 53, f"{a.name}'s cluster DNS {why} {networks[0]}:53 block")
        ip, port = targets[0]
        return ZoneOwner(ip, port, f"the Netmaker DNS {ip} that {a.name}'s {block.source} forwards {networks[0]} to")
    return ZoneOwner(None, 53, f"{b.name} uses provider {provider}: no cross-cluster zone")


def service_import(a: ClusterView, b: ClusterView, namespace: str, name: str) -> bool | None:
    """Whether A holds a ServiceImport of B's ``namespace/name`` that lists B (``None``: the provider has none)."""
    if b.fact(cluster.detect_provider) != "submariner":
        return None
    items = a.optional(R.SERVICE_IMPORTS)
    if items is None:
        return False
    b_id = submariner.cluster_id_of(b)
    for imp in items:
        m = meta(imp)
        lab = labels(imp)
        ns_ok = m.get("namespace") == namespace or lab.get("lighthouse.submariner.io/sourceNamespace") == namespace
        name_ok = m.get("name") == name or lab.get("lighthouse.submariner.io/sourceName") == name or m.get("name") == f"{name}-{namespace}-{b_id}"
        if ns_ok and name_ok:
            clusters = [str(c.get("cluster")) for c in ((imp.get("status") or {}).get("clusters") or [])]
            if not clusters or b_id in clusters:
                return True
    return False
