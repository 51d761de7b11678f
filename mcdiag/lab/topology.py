"""Pure description of the lab: clusters, nodes, addresses, CIDRs, ports.

Nothing here touches the system; :func:`build_topology` is deterministic, so the
same provider always yields the same names and addresses (``down`` relies on
that to find leftovers of a crashed ``up``).

Layout (both providers; ``cluster`` shown, ``cluster1`` in brackets)::

    mcdiag-cluster-w1 --eth0--+                                   +--eth0-- mcdiag-cluster1-w1
      192.168.23.23           |                                   |           192.168.80.222
                      [br0 in mcdiag-cluster-lan]   [br0 in mcdiag-cluster1-lan]
    mcdiag-cluster-gw --eth0--+                                   +--eth0-- mcdiag-cluster1-gw
      192.168.23.22 --wan0-- to-cluster [mcdiag-wan] to-cluster1 --wan0-- 192.168.80.221
      198.18.1.11          198.18.1.1      198.18.2.1          198.18.2.7

* Node LAN: a Linux bridge ``br0`` inside the ``mcdiag-<cluster>-lan`` namespace;
  an nftables ``bridge`` table there can drop frames before they reach a node.
  Node addresses follow the Submariner guide (node1 192.168.23.22, node2
  192.168.80.221).
* Underlay WAN: the ``mcdiag-wan`` router joins the gateways' "public" IPs
  (198.18.0.0/15, benchmarking range). No namespace has a default route and none
  is linked to the root namespace.
* Intra-cluster: kernel VXLAN ``vx-submariner`` (``vx-netmaker`` for netmaker),
  VNI 100, UDP 4800, addresses 240.<last three octets of the node IP>/8 as
  Submariner's route agent does; workers route the remote cluster's pod and
  service CIDRs through it to the gateway, with the node's pod IP as source.
* Inter-cluster: WireGuard (wireguard-go) between the gateways on UDP 51821;
  allowed-ips are the peer's pod + service CIDRs (+ its tunnel address for
  netmaker). Interface names must be unique on the host because wireguard-go's
  control socket lives in the shared ``/var/run/wireguard``: ``sm-cluster``,
  ``sm-cluster1`` (submariner), ``nm-dc1-k3s``, ``nm-cloud-k3s`` (netmaker).
* Pods: each node has a bridge ``cni0`` holding ``.1`` of its pod CIDR slice (the
  node's "pod IP"). Pods created through a lab cluster's API run for real
  (:mod:`mcdiag.lab.pods`): hostNetwork pods in the node's namespace, the
  others in a namespace of their own, ``<node netns>-p<N>`` (e.g.
  ``mcdiag-cluster-w1-p100``), with ``eth0`` (a veth whose peer ``vp<N>`` is a
  port of the node's ``cni0``), address ``.N`` of the node's slice
  (N = 100..254) and a default route via the node's ``.1``. So pod traffic
  takes exactly the node's paths (cross-cluster through the tunnel; from a
  worker through the VXLAN to the gateway).
* Services live on the *gateway*: the ClusterIPs and the DNS/HTTP "pods" (``.10``
  CoreDNS, ``.11`` Lighthouse DNS, ``.53`` exports DNS, ``.80`` nginx of the
  gateway's slice) are addresses on the gateway's loopback; workers route the
  cluster's own service CIDR to the gateway over the LAN (the lab's stand-in
  for kube-proxy). An nftables table ``mcdiag_kube_proxy`` there DNATs
  nginx's ``:8080`` to the HTTP server's real port (18080), so a hostNetwork
  probe pod on the gateway can still listen on 8080 itself. Remote traffic
  to services therefore never rides a VXLAN; only traffic from or to a
  worker does (as with Submariner, whose non-gateway nodes reach the
  tunnel through ``vx-submariner``).
* Cluster DNS: every node namespace and pod namespace gets
  ``/etc/netns/<ns>/resolv.conf`` (``ip netns exec`` mounts it as
  ``/etc/resolv.conf``) with the kube-dns ClusterIP and the usual search list.
* DNS per cluster, dnsmasq processes on the gateway: ``coredns`` on the
  kube-dns ClusterIP answers ``*.svc.cluster.local`` and forwards
  ``clusterset.local`` to the cluster's own ``lighthouse`` (submariner: on the
  Lighthouse ClusterIP, the zone's owner, which asks the *peer's* ``exports``
  server), or the peer's Netmaker network name straight to the *peer's*
  ``exports`` server (netmaker: the Netmaker DNS the Corefile names);
  ``exports`` answers this cluster's exported names (submariner:
  ``nginx.nginx-test.svc.clusterset.local``; netmaker: ``SVC.NS.<own network>``
  for every Service, as Netmaker's servicex pushes them). So a name resolved in
  ``cluster`` crosses the tunnel and answers ``cluster1``'s service IP.

Netmaker provider: the cluster names stay ``cluster`` / ``cluster1`` (so the
namespace names are the same for both providers); ``cluster`` is the guide's
on-prem k3s in network ``dc1-k3s`` (10.65.24.0/24; pods 10.42/16, services
10.43/16, nginx 10.43.45.229), ``cluster1`` the cloud k3s in ``cloud-k3s``
(10.36.50.0/24; pods 10.44/16, services 10.45/16).

N clusters (``build_topology(provider, N)``, ``mcdiag lab up --clusters N``, 2 to
:data:`MAX_CLUSTERS`): the first two are the ones above, whatever N; cluster ``i``
>= 2 is ``cluster<i>`` (:func:`cluster_plan`: pods 10.(42+2i)/16, services
10.(43+2i)/16, LAN 192.168.(100+i).0/24, WAN 198.18.(i+1).0/24 with public address
.11, Netmaker network ``edge<i>-k3s`` in 10.66.<i>.0/24). Every cluster is peered
with every other: each gateway's WireGuard interface has one peer per other
cluster (allowed-ips: that cluster's pod and service CIDRs, and its Netmaker
address), workers route every peer's CIDRs into the VXLAN, and the DNS forwards
every peer's zone (Netmaker: a block per peer network; Submariner:
``clusterset.local`` to the cluster's Lighthouse stand-in, which asks every peer,
see :mod:`mcdiag.lab.lighthouse`). "The peer" above is then every other cluster.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass

PROVIDERS = ("submariner", "netmaker")
PREFIX = "mcdiag-"
WAN_NS = "mcdiag-wan"
VXLAN_PORT = 4800
VXLAN_VNI = 100
TUNNEL_PORT = 51821
NGINX_PORT = 8080
NGINX_BACKEND_PORT = 18080  # where the HTTP server really listens (DNAT from :8080)
KEEPALIVE_S = 20
POD_HOSTS = range(100, 255)  # host part of pod IPs handed out by the lab kubelet, per node slice


@dataclass(frozen=True)
class Node:
    """One Kubernetes node, played by one network namespace."""

    name: str  # Kubernetes node name, e.g. "cluster-gw"
    cluster: str
    role: str  # "gateway" or "worker"
    netns: str  # e.g. "mcdiag-cluster-gw"
    lan_iface: str  # interface in the node namespace ("eth0")
    lan_port: str  # its peer, a port of the LAN bridge (in the LAN namespace)
    lan_ip: str  # node InternalIP
    pod_cidr: str  # this node's slice of the cluster pod CIDR
    pod_ip: str  # address of cni0, reachable cross-cluster
    vxlan_ip: str  # 240.x.y.z
    public_ip: str | None = None  # gateway only: WAN address
    wan_iface: str | None = None  # gateway only, in the node namespace
    wan_port: str | None = None  # gateway only, its peer in the WAN namespace
    wan_router_ip: str | None = None  # gateway only

    @property
    def is_gateway(self) -> bool:
        return self.role == "gateway"

    def pod_address(self, host: int) -> str:
        """Address ``.host`` of this node's pod CIDR slice."""
        return str(ipaddress.ip_network(self.pod_cidr).network_address + host)

    def pod_netns(self, host: int) -> str:
        """Namespace of the pod whose address is ``.host`` of this node's slice."""
        return f"{self.netns}-p{host}"


@dataclass(frozen=True)
class Cluster:
    """One lab cluster: CIDRs, nodes, service addresses, tunnel parameters."""

    name: str
    provider: str
    pod_cidr: str
    service_cidr: str
    lan_cidr: str
    lan_ns: str
    nodes: tuple[Node, ...]
    kubernetes_ip: str  # default/kubernetes ClusterIP
    dns_ip: str  # kube-system/kube-dns ClusterIP
    coredns_pod_ip: str
    lighthouse_ip: str  # submariner-operator/submariner-lighthouse-coredns ClusterIP
    lighthouse_pod_ip: str
    exports_dns_ip: str  # the "exports" DNS the peer forwards to (a pod IP)
    nginx_ip: str  # nginx-test/nginx ClusterIP
    nginx_pod_ip: str
    nginx_port: int
    wan_cidr: str
    vxlan_iface: str
    wg_iface: str
    wg_ip: str | None  # netmaker: address in the cluster's own network
    network: str | None  # netmaker network name ("dc1-k3s")
    network_subnet: str | None
    tunnel_port: int = TUNNEL_PORT
    vxlan_port: int = VXLAN_PORT
    vxlan_vni: int = VXLAN_VNI

    @property
    def gateway(self) -> Node:
        return next(n for n in self.nodes if n.is_gateway)

    @property
    def workers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if not n.is_gateway)

    @property
    def worker(self) -> Node:
        return self.workers[0]

    @property
    def dns_zone(self) -> str:
        """The zone under which *this* cluster's exported services are published."""
        return "clusterset.local" if self.provider == "submariner" else str(self.network)

    def exported_name(self, svc: str = "nginx", ns: str = "nginx-test") -> str:
        """DNS name by which the peer cluster reaches this cluster's service."""
        if self.provider == "submariner":
            return f"{svc}.{ns}.svc.clusterset.local"
        return f"{svc}.{ns}.{self.network}"

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if name in (n.name, n.netns, n.role):
                return n
        raise KeyError(f"no node {name!r} in cluster {self.name}")

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.lan_ns, *(n.netns for n in self.nodes))

    def services(self) -> list[tuple[str, str, str, int]]:
        """(name, namespace, ClusterIP, port) of the Services the lab serves (DNS records and objects agree)."""
        out = [
            ("kubernetes", "default", self.kubernetes_ip, 443),
            ("kube-dns", "kube-system", self.dns_ip, 53),
            ("nginx", "nginx-test", self.nginx_ip, self.nginx_port),
        ]
        if self.provider == "submariner":
            out.append(("submariner-lighthouse-coredns", "submariner-operator", self.lighthouse_ip, 53))
        return out


@dataclass(frozen=True)
class Topology:
    """The whole lab: N clusters (2 by default) joined through the ``mcdiag-wan`` router."""

    provider: str
    clusters: tuple[Cluster, ...]
    wan_ns: str = WAN_NS
    keepalive_s: int = KEEPALIVE_S

    @property
    def cluster_names(self) -> list[str]:
        return [c.name for c in self.clusters]

    def cluster(self, name: str | None = None) -> Cluster:
        if name is None:
            return self.clusters[0]
        for c in self.clusters:
            if c.name == name or (c.network and c.network == name):
                return c
        raise KeyError(f"no cluster {name!r} (have {', '.join(self.cluster_names)})")

    def peers(self, name: str) -> tuple[Cluster, ...]:
        """Every other cluster, in lab order (each cluster is peered with every other)."""
        me = self.cluster(name)
        return tuple(c for c in self.clusters if c.name != me.name)

    def peer(self, name: str) -> Cluster:
        """Return the other cluster of a two-cluster lab (with more, :meth:`peers` says which ones)."""
        peers = self.peers(name)
        if len(peers) != 1:
            raise ValueError(f"{name} has {len(peers)} peers in this {len(self.clusters)}-cluster lab: use peers()")
        return peers[0]

    @property
    def namespaces(self) -> list[str]:
        """Every namespace the lab creates, in creation order."""
        out = [self.wan_ns]
        for c in self.clusters:
            out.extend(c.namespaces)
        return out

    @property
    def nodes(self) -> list[Node]:
        return [n for c in self.clusters for n in c.nodes]

    def node(self, ref: str) -> Node:
        """Return a node by Kubernetes name or namespace name."""
        for n in self.nodes:
            if ref in (n.name, n.netns):
                return n
        raise KeyError(f"no node {ref!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _cluster(
    name: str,
    provider: str,
    pod_cidr: str,
    service_cidr: str,
    lan_cidr: str,
    gw_host: int,
    public_ip: str,
    wan_cidr: str,
    network: str | None,
    network_subnet: str | None,
) -> Cluster:
    pod = ipaddress.ip_network(pod_cidr)
    svc = ipaddress.ip_network(service_cidr)
    lan = ipaddress.ip_network(lan_cidr)
    wan = ipaddress.ip_network(wan_cidr)
    pod_base = int(pod.network_address)
    svc_base = int(svc.network_address)

    def svc_ip(a: int, b: int) -> str:
        return str(ipaddress.ip_address(svc_base + a * 256 + b))

    def slice_(i: int) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(f"{ipaddress.ip_address(pod_base + i * 256)}/24")

    nodes = []
    for i, role in enumerate(("gateway", "worker")):
        short = "gw" if role == "gateway" else "w1"
        lan_ip = ipaddress.ip_address(int(lan.network_address) + gw_host + i)
        o = lan_ip.packed
        sl = slice_(i)
        kw = {}
        if role == "gateway":
            kw = dict(
                public_ip=public_ip,
                wan_iface="wan0",
                wan_port=f"to-{name}"[:15],
                wan_router_ip=str(wan.network_address + 1),
            )
        nodes.append(
            Node(
                name=f"{name}-{short}",
                cluster=name,
                role=role,
                netns=f"{PREFIX}{name}-{short}",
                lan_iface="eth0",
                lan_port=short,
                lan_ip=str(lan_ip),
                pod_cidr=str(sl),
                pod_ip=str(sl.network_address + 1),
                vxlan_ip=f"240.{o[1]}.{o[2]}.{o[3]}",
                **kw,
            )
        )
    gw_slice = slice_(0)  # the service "pods" run on the gateway
    if provider == "submariner":
        wg_iface, vx_iface = f"sm-{name}"[:15], "vx-submariner"
        wg_ip = None
    else:
        wg_iface, vx_iface = f"nm-{network}"[:15], "vx-netmaker"
        wg_ip = str(ipaddress.ip_network(network_subnet).network_address + 1)
    return Cluster(
        name=name,
        provider=provider,
        pod_cidr=pod_cidr,
        service_cidr=service_cidr,
        lan_cidr=lan_cidr,
        lan_ns=f"{PREFIX}{name}-lan",
        nodes=tuple(nodes),
        kubernetes_ip=svc_ip(0, 1),
        dns_ip=svc_ip(0, 10),
        coredns_pod_ip=str(gw_slice.network_address + 10),
        lighthouse_ip=svc_ip(30, 44),
        lighthouse_pod_ip=str(gw_slice.network_address + 11),
        exports_dns_ip=str(gw_slice.network_address + 53),
        nginx_ip=svc_ip(45, 229),
        nginx_pod_ip=str(gw_slice.network_address + 80),
        nginx_port=NGINX_PORT,
        wan_cidr=wan_cidr,
        vxlan_iface=vx_iface,
        wg_iface=wg_iface,
        wg_ip=wg_ip,
        network=network,
        network_subnet=network_subnet,
    )


#: At most this many clusters (``mcdiag lab up --clusters N``): addresses are generated for these.
MAX_CLUSTERS = 10
DEFAULT_CLUSTERS = 2


def cluster_plan(i: int, provider: str) -> dict:
    """Names and addresses of the lab's cluster number ``i`` (0-based), generated for any ``i`` below :data:`MAX_CLUSTERS`.

    The first two are the guides' (``cluster``: pods 10.42/16, services 10.43/16, LAN 192.168.23.0/24,
    public 198.18.1.11, Netmaker network ``dc1-k3s`` 10.65.24.0/24; ``cluster1``: 10.44/16, 10.45/16,
    192.168.80.0/24, 198.18.2.7, ``cloud-k3s`` 10.36.50.0/24). Cluster ``i`` >= 2 is ``cluster<i>``:
    pods 10.(42+2i)/16, services 10.(43+2i)/16, LAN 192.168.(100+i).0/24 (gateway .22), WAN
    198.18.(i+1).0/24 (public .11), Netmaker network ``edge<i>-k3s`` 10.66.<i>.0/24.
    """
    if not 0 <= i < MAX_CLUSTERS:
        raise ValueError(f"the lab has at most {MAX_CLUSTERS} clusters")
    nm = provider == "netmaker"
    if i == 0:
        plan = dict(name="cluster", pod_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16", lan_cidr="192.168.23.0/24",
                    gw_host=22, public_ip="198.18.1.11", wan_cidr="198.18.1.0/24",
                    network="dc1-k3s", network_subnet="10.65.24.0/24")
    elif i == 1:
        plan = dict(name="cluster1", pod_cidr="10.44.0.0/16", service_cidr="10.45.0.0/16", lan_cidr="192.168.80.0/24",
                    gw_host=221, public_ip="198.18.2.7", wan_cidr="198.18.2.0/24",
                    network="cloud-k3s", network_subnet="10.36.50.0/24")
    else:
        plan = dict(name=f"cluster{i}", pod_cidr=f"10.{42 + 2 * i}.0.0/16", service_cidr=f"10.{43 + 2 * i}.0.0/16",
                    lan_cidr=f"192.168.{100 + i}.0/24", gw_host=22, public_ip=f"198.18.{i + 1}.11",
                    wan_cidr=f"198.18.{i + 1}.0/24", network=f"edge{i}-k3s", network_subnet=f"10.66.{i}.0/24")
    if not nm:
        plan.update(network=None, network_subnet=None)
    return plan


def build_topology(provider: str = "submariner", clusters: int = DEFAULT_CLUSTERS) -> Topology:
    """Return the lab topology for ``provider`` (``submariner`` or ``netmaker``) with ``clusters`` clusters (2 by default).

    Every cluster is peered with every other; the first two keep the guides' names and addresses
    whatever the number, so a 2-cluster lab is a prefix of any larger one.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r} (choose {' or '.join(PROVIDERS)})")
    if isinstance(clusters, bool) or not isinstance(clusters, int) or not 2 <= clusters <= MAX_CLUSTERS:
        raise ValueError(f"the lab has 2 to {MAX_CLUSTERS} clusters, not {clusters!r}")
    return Topology(provider=provider,
                    clusters=tuple(_cluster(provider=provider, **cluster_plan(i, provider)) for i in range(clusters)))


def pod_netns_re() -> re.Pattern[str]:
    """Names of pod namespaces any lab provider would create (``mcdiag-<node>-p<N>``), for any number of clusters."""
    nodes = sorted({n.netns for p in PROVIDERS for n in build_topology(p, MAX_CLUSTERS).nodes})
    return re.compile("^(?:" + "|".join(re.escape(n) for n in nodes) + r")-p(\d{1,3})$")


def scheme_namespaces() -> list[str]:
    """Every namespace name any lab provider would create, for any number of clusters (for leftover cleanup)."""
    names: list[str] = []
    for p in PROVIDERS:
        for ns in build_topology(p, MAX_CLUSTERS).namespaces:
            if ns not in names:
                names.append(ns)
    return names
