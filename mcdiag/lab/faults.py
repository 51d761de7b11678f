"""Faults the lab can inject, each reversible, each recorded in the lab state.

``--cluster NAME`` picks the *affected* cluster (default: the first, ``cluster``). In a lab of
more than two clusters, "the peer" below is every other cluster: a fault of C's gateway, LAN,
WAN link or DNS acts on C's traffic with all of them.
Firewall faults are nftables tables of their own (``mcdiag_<fault>``) in the
namespace named below; healing deletes the table, so nothing else is touched.

``block-vxlan``
    In the affected cluster's LAN bridge (``mcdiag-C-lan``, nft ``bridge``
    family, forward hook) frames carrying UDP/4800 to the gateway's node IP are
    dropped: they never reach the gateway namespace, so a sniffer there sees
    nothing. Breaks every cross-cluster path that enters the VXLAN at a
    non-gateway node of C: everything C's worker (and its pods) sends to the
    peer, and the replies of C's worker pods to peer-initiated flows (so the
    peer reaching C's worker pod IPs fails too). C's services (DNS, nginx)
    live on the gateway, so the peer resolving and fetching C's services,
    C's worker using its own cluster DNS (plain LAN, not VXLAN), everything
    of C's gateway and intra-cluster traffic stay fine -- as with
    Submariner, where only non-gateway nodes use ``vx-submariner``.
``block-tunnel``
    In ``mcdiag-wan`` (forward hook) UDP/51821 sent out of the link towards C's
    gateway is dropped. The peer's handshakes and data never arrive at C; C's
    own packets still leave but get no answer: the tunnel is down both ways
    (``latest handshake`` stops advancing; a fresh lab never completes one).
``break-dns``
    C's CoreDNS stand-in (dnsmasq ``coredns``) is restarted without its forward
    for the peer zone (``clusterset.local`` / the peer's Netmaker network),
    answering NXDOMAIN for it as a Corefile without that block would. Only
    lookups *from* C of the peer's names break; the peer resolving C's names
    still works.
``stop-service``
    C's nginx stand-in (HTTP on 8080) is stopped: HTTP to C's nginx service IP
    fails from everywhere (connection refused); DNS still answers.
``mtu-blackhole``
    In ``mcdiag-wan`` the link towards C's gateway gets MTU 1280 and ICMP
    "fragmentation needed" is dropped (output and forward hooks). Tunnel
    packets larger than 1280 bytes outer (about 1220 inner) vanish silently
    in both directions (towards C: dropped by the router with the ICMP
    suppressed; from C: too big for the router's receiving side). Small
    packets, handshakes and pings pass.
``drop-return``
    In C's gateway (forward and output hooks) packets leaving through the
    WireGuard interface that conntrack sees as ``ESTABLISHED`` in the ``REPLY``
    direction are dropped: an asymmetric path where C's answers never make it
    back. Flows *initiated by the peer* towards C (ping, DNS, HTTP to C's pods
    and services) get no replies and fail; flows *initiated by C* towards the
    peer keep working (their packets leave C in the ORIGINAL direction and the
    replies come in). So with C affected: peer->C fails, C->peer passes.
    WireGuard handshakes are unaffected (outer UDP on the WAN link).

Faults that change API objects (for the passive checks), through the cluster's
own API server (its kubeconfig in the lab directory); healing puts back what
was there:

``kube-proxy-ipvs`` (Submariner lab)
    ConfigMap ``kube-system/kube-proxy`` says ``mode: ipvs``, which Submariner
    does not support.
``calico-ipip`` (Submariner lab)
    Calico's ``default-ipv4-ippool`` (``projectcalico.org/v3`` and its
    ``crd.projectcalico.org/v1`` copy) uses IPIP (``ipipMode: Always``,
    ``vxlanMode: Never``), Calico's default the guide tells to change.
``coredns-no-forward``
    The cross-cluster block (``clusterset.local:53`` / the peer's network) is
    gone from ConfigMap ``kube-system/coredns``, and the CoreDNS stand-in is
    reloaded without it, as CoreDNS's ``reload`` plugin would: the config the
    DNS pods load lacks the forward, and lookups from C of the peer's names
    get NXDOMAIN.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import netns
from .netns import LabError
from .topology import PROVIDERS, Cluster, Topology

MTU_BLACKHOLE = 1280


@dataclass(frozen=True)
class Fault:
    """A fault: what it does (docstring of the module) and how to apply and heal it."""

    name: str
    summary: str
    apply: Callable[[Any, Cluster], dict]
    heal: Callable[[Any, dict], None]
    #: The lab providers it applies to.
    providers: tuple[str, ...] = PROVIDERS


def _table(fault: str) -> str:
    return "mcdiag_" + fault.replace("-", "_")


def _drop_table(ns: str, family: str, table: str) -> None:
    netns.nsexec(ns, ["nft", "delete", "table", family, table], check=False)


# -- block-vxlan
def _block_vxlan(lab, c: Cluster) -> dict:
    t = _table("block-vxlan")
    netns.nft(c.lan_ns, f"""table bridge {t} {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    ip daddr {c.gateway.lan_ip} udp dport {c.vxlan_port} counter drop comment "mcdiag block-vxlan"
  }}
}}
""")
    return {"netns": c.lan_ns, "family": "bridge", "table": t}


def _heal_table(lab, rec: dict) -> None:
    _drop_table(rec["netns"], rec["family"], rec["table"])


# -- block-tunnel
def _block_tunnel(lab, c: Cluster) -> dict:
    topo: Topology = lab.topology
    t = _table("block-tunnel") + "_" + c.name
    netns.nft(topo.wan_ns, f"""table inet {t} {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    oifname "{c.gateway.wan_port}" udp dport {c.tunnel_port} counter drop comment "mcdiag block-tunnel {c.name}"
  }}
}}
""")
    return {"netns": topo.wan_ns, "family": "inet", "table": t}


# -- mtu-blackhole
def _mtu_blackhole(lab, c: Cluster) -> dict:
    topo: Topology = lab.topology
    t = _table("mtu-blackhole") + "_" + c.name
    port = c.gateway.wan_port
    cp = netns.ip(topo.wan_ns, "-o", "link", "show", port)
    old = int(cp.stdout.split(" mtu ")[1].split()[0])
    netns.nft(topo.wan_ns, f"""table inet {t} {{
  chain output {{
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter drop comment "mcdiag mtu-blackhole"
  }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter drop comment "mcdiag mtu-blackhole"
  }}
}}
""")
    netns.ip(topo.wan_ns, "link", "set", port, "mtu", str(MTU_BLACKHOLE))
    return {"netns": topo.wan_ns, "family": "inet", "table": t, "link": port, "old_mtu": old}


def _heal_mtu(lab, rec: dict) -> None:
    netns.ip(rec["netns"], "link", "set", rec["link"], "mtu", str(rec.get("old_mtu", 1500)), check=False)
    _drop_table(rec["netns"], rec["family"], rec["table"])


# -- drop-return
def _drop_return(lab, c: Cluster) -> dict:
    t = _table("drop-return")
    rule = f'oifname "{c.wg_iface}" ct direction reply ct state established counter drop comment "mcdiag drop-return"'
    netns.nft(c.gateway.netns, f"""table inet {t} {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    {rule}
  }}
  chain output {{
    type filter hook output priority 0; policy accept;
    {rule}
  }}
}}
""")
    return {"netns": c.gateway.netns, "family": "inet", "table": t}


# -- break-dns
def _break_dns(lab, c: Cluster) -> dict:
    lab._restart_dns(c, forward=False)
    return {}


def _heal_dns(lab, rec: dict) -> None:
    lab._restart_dns(lab.topology.cluster(rec["cluster"]), forward=True)


# -- stop-service
def _stop_service(lab, c: Cluster) -> dict:
    lab._stop_process(f"{c.name}:nginx")
    return {}


def _heal_service(lab, rec: dict) -> None:
    lab._start_http(lab.topology.cluster(rec["cluster"]))


# -- faults in API objects
KUBE_PROXY_CM = "/api/v1/namespaces/kube-system/configmaps/kube-proxy"
COREDNS_CM = "/api/v1/namespaces/kube-system/configmaps/coredns"
IPPOOLS = ("/apis/projectcalico.org/v3/ippools/default-ipv4-ippool", "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool")


def _api(lab, c: Cluster) -> Any:
    """The cluster's own API server, through its kubeconfig (the real client, as mcdiag talks to it)."""
    from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster

    return load_cluster(ClusterSpec(str(lab.kubeconfig(c.name))), 10.0)


def _edit(lab, c: Cluster, path: str, field: str, change: Callable[[Any], Any]) -> dict:
    """GET ``path``, replace its ``field`` with ``change(old value)``, PUT it; returns how to put it back."""
    api = _api(lab, c)
    obj = api.get(path, what=f"get {path}")
    old = copy.deepcopy(obj.get(field))
    obj[field] = change(copy.deepcopy(old))
    api.request("PUT", path, body=obj, what=f"update {path}")
    return {"path": path, "field": field, "value": old}


def _restore(lab, rec: dict) -> None:
    api = _api(lab, lab.topology.cluster(rec["cluster"]))
    for item in rec.get("objects", []):
        obj = api.get(item["path"], what=f"get {item['path']}")
        obj[item["field"]] = item["value"]
        api.request("PUT", item["path"], body=obj, what=f"update {item['path']}")


def _kube_proxy_ipvs(lab, c: Cluster) -> dict:
    def ipvs(data: dict) -> dict:
        data["config.conf"] = re.sub(r"(?m)^mode:.*$", "mode: ipvs", data["config.conf"])
        return data

    return {"objects": [_edit(lab, c, KUBE_PROXY_CM, "data", ipvs)]}


def _calico_ipip(lab, c: Cluster) -> dict:
    def ipip(spec: dict) -> dict:
        return {**spec, "ipipMode": "Always", "vxlanMode": "Never"}

    return {"objects": [_edit(lab, c, path, "spec", ipip) for path in IPPOOLS]}


def _coredns_no_forward(lab, c: Cluster) -> dict:
    from .objects import corefile

    rec = {"objects": [_edit(lab, c, COREDNS_CM, "data",
                             lambda data: {**data, "Corefile": corefile(lab.topology, c, forward=False)})]}
    lab._restart_dns(c, forward=False)
    return rec


def _heal_coredns(lab, rec: dict) -> None:
    _restore(lab, rec)
    _heal_dns(lab, rec)


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("block-vxlan", "drop UDP/4800 to the gateway in the cluster's node LAN", _block_vxlan, _heal_table),
        Fault("block-tunnel", "drop UDP/51821 towards the cluster's gateway in the WAN router", _block_tunnel,
              _heal_table),
        Fault("break-dns", "restart the cluster's DNS without the forward to the peer", _break_dns, _heal_dns),
        Fault("stop-service", "stop the cluster's nginx HTTP server", _stop_service, _heal_service),
        Fault("mtu-blackhole", f"MTU {MTU_BLACKHOLE} on the WAN link to the gateway, ICMP frag-needed dropped",
              _mtu_blackhole, _heal_mtu),
        Fault("drop-return", "drop replies leaving the gateway into the tunnel (peer-initiated flows die)",
              _drop_return, _heal_table),
        Fault("kube-proxy-ipvs", "ConfigMap kube-system/kube-proxy set to mode: ipvs", _kube_proxy_ipvs, _restore,
              ("submariner",)),
        Fault("calico-ipip", "Calico's default IPPool switched to IPIP (ipipMode Always, vxlanMode Never)", _calico_ipip,
              _restore, ("submariner",)),
        Fault("coredns-no-forward", "the cross-cluster block removed from ConfigMap kube-system/coredns, CoreDNS reloaded",
              _coredns_no_forward, _heal_coredns),
    )
}


def apply(lab, fault: str, c: Cluster) -> dict:
    """Apply ``fault`` to cluster ``c``; return the record to keep in the state."""
    f = FAULTS[fault]
    if c.provider not in f.providers:
        raise LabError(f"fault {fault} applies to the {'/'.join(f.providers)} lab, not to this {c.provider} lab")
    from mcdiag.errors import ResourceUnavailable

    rec = {"fault": fault, "cluster": c.name, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        rec.update(f.apply(lab, c))
    except ResourceUnavailable as exc:
        raise LabError(f"fault {fault}: {c.name}'s API server: {exc.message}") from None
    return rec


def heal(lab, rec: dict) -> None:
    FAULTS[rec["fault"]].heal(lab, rec)
