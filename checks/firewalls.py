"""Active: the ports the tunnels need: vxlan-firewall, tunnel-firewall, wireguard-handshake."""

from __future__ import annotations

from typing import Any

from mcdiag.active import targets as T
from mcdiag.active.base import (
    NETMAKER_DOCS,
    SUBMARINER_DOCS,
    ActiveCheck,
    listener_problem,
    marker,
    not_started,
    reason,
)
from mcdiag.facts import cluster
from mcdiag.model import CheckContext, Outcome, Scope

VXLAN_PORT, VXLAN_VNI = 4800, 100


class VxlanFirewall(ActiveCheck):
    """A marked VXLAN datagram (UDP/4800, VNI 100) from a non-gateway node reaches the active gateway."""

    id = "vxlan-firewall"
    depends = ("gateway-nodes",)
    title = "VXLAN UDP/4800 from nodes to the gateway"
    tags = frozenset({"active", "intra-cluster", "submariner"})
    providers = frozenset({"submariner"})
    reads = T.NODE_READS
    reads_if_needed = T.NODE_READS_IF_NEEDED
    hint = "Allow UDP/4800 between nodes (host firewall, cloud security groups): Submariner's vx-submariner carries non-gateway traffic to the gateway."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        view = ctx.cluster
        gw = self.gateway(view)
        if gw.node is None:
            return self.error(gw.reason)
        other = T.other_node(view, gw)
        if other.node is None:
            return self.skip(f"single-node cluster ({other.reason}): no VXLAN between nodes")
        if not gw.ip:
            return self.error(f"the gateway node {gw.name} has no InternalIP")
        mark, wait = marker(), self.listen_timeout(probes)
        listen = self.spec(gw.name, ["udp-listen", "--port", str(VXLAN_PORT), "--marker", mark, "--timeout", str(wait)],
                           "vxlan-listen", True, wait)
        send = self.spec(other.name, self.send_argv(f"{gw.ip}:{VXLAN_PORT}", mark, "--vxlan-vni", str(VXLAN_VNI)),
                         "vxlan-send", True)
        [(received, sent)] = probes.pair_all([((view.name, listen), (view.name, send))], grace=self.datagram_grace(ctx))
        if (problem := listener_problem(received, sent)) is not None:
            return self.error(problem)
        details = {"gateway": gw.name, "gateway_ip": gw.ip, "sender": other.name, "sender_ip": other.ip, "port": VXLAN_PORT}
        if not sent.ok:
            return self.fail(f"the sender on {other.name} could not send to {gw.ip}:{VXLAN_PORT}: {reason(sent)}", **details)
        if received.ok:
            via = received.data.get("iface")
            return self.passed(
                f"VXLAN UDP/{VXLAN_PORT} from {other.name} ({other.ip}) reached the active gateway {gw.name} ({gw.ip})"
                + (f" on {via}" if via else ""), **details)
        return self.fail(
            f"marked VXLAN datagrams (UDP/{VXLAN_PORT}, VNI {VXLAN_VNI}) from {other.name} ({other.ip}) never reached "
            f"the active gateway {gw.name} ({gw.ip})", **details)


class TunnelFirewall(ActiveCheck):
    """A marked datagram from A's gateway node reaches B's gateway node on B's tunnel port(s)."""

    id = "tunnel-firewall"
    depends = ("gateway-nodes",)
    title = "Tunnel ports open between gateways"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.TUNNEL_READS
    reads_if_needed = T.NODE_READS_IF_NEEDED
    hint = "Allow the tunnel's UDP ports from A's gateway to B's gateway (firewalls, cloud security groups, NAT port forwarding)."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a, b = ctx.a, ctx.b
        if (differ := self.providers_differ(ctx)) is not None:
            return differ
        a_gw, b_gw = self.gateway(a), self.gateway(b)
        for view, gw in ((a, a_gw), (b, b_gw)):
            if gw.node is None:
                return self.error(f"{view.name}: {gw.reason}")
        provider = a.fact(cluster.detect_provider)
        tunnel = T.submariner_tunnel(a, b, b_gw) if provider == "submariner" else T.netmaker_tunnel(b, b_gw)
        if tunnel.ip is None:
            return self.error(f"cannot tell where {a.name}'s gateway reaches {b.name}: {tunnel.ip_source}")
        wait = self.listen_timeout(probes)
        jobs, marks = [], []
        for port in tunnel.ports:
            mark = marker()
            marks.append(mark)
            listen = self.spec(b_gw.name, ["udp-listen", "--port", str(port.port), "--marker", mark, "--timeout", str(wait)],
                               "tunnel-listen", True, wait)
            send = self.spec(a_gw.name, self.send_argv(f"{tunnel.ip}:{port.port}", mark), "tunnel-send", True)
            jobs.append(((b.name, listen), (a.name, send)))
        results = probes.pair_all(jobs, grace=self.datagram_grace(ctx))
        for received, sent in results:
            if (problem := listener_problem(received, sent)) is not None:
                return self.error(problem)
        ports, bad = [], []
        for port, (received, sent) in zip(tunnel.ports, results, strict=True):
            ok = bool(sent and sent.ok and received.ok)
            ports.append({"port": port.port, "what": port.what, "source": port.source, "received": ok,
                          "seen_from": f"{received.data.get('src_ip')}:{received.data.get('src_port')}" if ok else None,
                          "reason": "" if ok else (reason(sent) if sent and not sent.ok else reason(received))})
            if not ok:
                bad.append(f"UDP/{port.port} ({port.what})")
        details = {"from_node": a_gw.name, "to_node": b_gw.name, "to_ip": tunnel.ip, "ip_source": tunnel.ip_source,
                   "ports": ports}
        if bad:
            return self.fail(
                f"{' and '.join(bad)} from {a.name}'s gateway {a_gw.name} never reached {b.name}'s gateway node "
                f"{b_gw.name} at {tunnel.ip} ({tunnel.ip_source})",
                hint=f"Allow {', '.join(bad)} from {a_gw.name} to {b_gw.name} ({tunnel.ip}): host firewalls, cloud "
                     f"security groups, and port forwarding on any NAT in front of {b_gw.name}.",
                **details)
        shown = ", ".join(f"UDP/{p.port} ({p.what})" for p in tunnel.ports)
        return self.passed(f"{shown} from {a_gw.name} reached {b_gw.name} at {tunnel.ip}", **details)


class WireguardHandshake(ActiveCheck):
    """On the gateway, every WireGuard peer's latest handshake is under 180 s old."""

    id = "wireguard-handshake"
    depends = ("tunnel-firewall", "netclient-deployment")
    title = "WireGuard handshakes recent"
    tags = frozenset({"active", "netmaker"})
    providers = frozenset({"netmaker"})
    reads = T.NODE_READS
    reads_if_needed = T.NODE_READS_IF_NEEDED
    hint = "Check UDP reachability of the peers' WireGuard ports (tunnel-firewall), their endpoints and keys (netclient logs on the gateway)."
    docs = NETMAKER_DOCS
    MAX_AGE = 180

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        view = ctx.cluster
        gw = self.gateway(view)
        if gw.node is None:
            return self.error(gw.reason)
        r = probes.run(view.name, self.spec(gw.name, ["wg", "--max-age", str(self.MAX_AGE)], "wg", True, 15))
        if (problem := not_started(r)) is not None:
            return self.error(problem)
        data = r.data
        peers = [{"interface": p.get("interface"), "endpoint": p.get("endpoint"), "age_s": p.get("age_s"),
                  "fresh": p.get("fresh")} for p in data.get("peers") or []]
        details = {"node": gw.name, "interfaces": [i.get("name") for i in data.get("interfaces") or []], "peers": peers}
        if r.ok:
            oldest = max((p["age_s"] or 0 for p in peers), default=0)
            return self.passed(f"{len(peers)} WireGuard peer(s) on {gw.name} handshook within {self.MAX_AGE}s "
                               f"(oldest {oldest:.0f}s ago)", **details)
        if not data.get("interfaces") and "no WireGuard interface" not in reason(r):
            return self.error(f"cannot read WireGuard on {gw.name}: {reason(r)}", **details)
        return self.fail(f"{gw.name}: {reason(r)}", **details)
