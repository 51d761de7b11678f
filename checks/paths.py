"""Active: the data path between pods across clusters: pod-connectivity, path-mtu, latency."""

from __future__ import annotations

from typing import Any

from mcdiag.active import targets as T
from mcdiag.active.base import SUBMARINER_DOCS, ActiveCheck, not_started, reason
from mcdiag.model import CheckContext, Outcome, Scope


class PodConnectivity(ActiveCheck):
    """A probe pod in A reaches a probe pod in B by pod IP (from a gateway and a non-gateway node)."""

    id = "pod-connectivity"
    depends = ("tunnel-firewall", "gateway-connections", "wireguard-handshake", "vxlan-firewall", "routeagent-connections", "cidr-overlap")
    title = "Pod to pod across clusters"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.NODE_READS
    reads_if_needed = T.NODE_READS_IF_NEEDED
    hint = "Check the tunnel between the gateways (tunnel-firewall, gateway-connections) and that B's pod CIDR is routed and allowed."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a = ctx.a
        a_gw, target, err = self.gateway_and_target(ctx, probes)
        if err:
            return err
        other = T.other_node(a, a_gw)
        sources = [("gateway", a_gw)] + ([("non-gateway", other)] if other.node is not None else [])
        wait = self.answer_timeout(ctx)
        argv = ["tcp", f"{target.ip}:{target.port}", "--timeout", f"{wait:g}"]
        results = probes.run_all([(a.name, self.spec(src.name, argv, "pod-conn", False, wait)) for _, src in sources])
        details: dict[str, Any] = {"target": f"{target.ip}:{target.port}", "target_node": target.node, "from": {}}
        if other.node is None:
            details["note"] = f"{a.name} has a single node: probed from the gateway only"
        failed = []
        for (role, src), r in zip(sources, results, strict=True):
            if (problem := not_started(r)) is not None:
                return self.error(f"{a.name} {role} node {src.name}: {problem}", **details)
            data = r.data
            details["from"][src.name] = {"role": role, "ok": r.ok, "outcome": data.get("outcome"),
                                         "connect_ms": round(data["connect_s"] * 1000, 2) if data.get("connect_s") else None,
                                         "reason": data.get("reason") or ""}
            if not r.ok:
                failed.append((role, src, data))
        where = f"{ctx.b.name}'s target pod {target.ip}:{target.port} on {target.node}"
        if not failed:
            return self.passed(f"reached {where} from " + " and ".join(f"{src.name} ({role})" for role, src in sources), **details)
        text = "; ".join(f"from {src.name} ({role}): {d.get('reason') or d.get('outcome')}" for role, src, d in failed)
        roles = {role for role, _, _ in failed}
        if roles == {"non-gateway"}:
            hint = (f"Only {a.name}'s non-gateway node fails: its traffic rides the VXLAN to the gateway "
                    f"(see vxlan-firewall, routeagent-connections) before the tunnel.")
        else:
            hint = None
        return self.fail(f"cannot reach {where} {text}", hint=hint, **details)


class PathMtu(ActiveCheck):
    """The largest don't-fragment packet that crosses A->B is measured; packets above it vanishing silently fail."""

    id = "path-mtu"
    depends = ("pod-connectivity",)
    title = "Path MTU across clusters"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.NODE_READS
    reads_if_needed = T.NODE_READS_IF_NEEDED
    hint = "Clamp TCP MSS or lower the tunnel MTU below the path MTU, or let ICMP fragmentation-needed through."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a = ctx.a
        a_gw, target, err = self.gateway_and_target(ctx, probes)
        if err:
            return err
        # Each size waits at most a quarter of --answer-timeout (0.5 s by default; less once the path's RTT is known).
        argv = ["mtu", target.ip, "--timeout", "25", "--probe-timeout", f"{self.answer_timeout(ctx) / 4:g}"]
        r = probes.run(a.name, self.spec(a_gw.name, argv, "mtu", False, 25))
        if (problem := not_started(r)) is not None:
            return self.error(problem)
        d = r.data
        mtu = d.get("mtu")
        details = {"mtu": mtu, "blackhole": d.get("blackhole"), "icmp_frag_needed": d.get("icmp_frag_needed"),
                   "next_hop_mtu": d.get("next_hop_mtu"), "local_mtu": d.get("local_mtu"), "target": target.ip,
                   "from_node": a_gw.name, "tried": d.get("tried")}
        where = f"{a.name} ({a_gw.name}) -> {ctx.b.name}'s target pod {target.ip}"
        if mtu is None:
            return self.fail(f"no ICMP echo reply on {where}: {reason(r)}",
                             hint="The path is down or ICMP is blocked: see pod-connectivity and tunnel-firewall.", **details)
        if d.get("blackhole"):
            return self.fail(
                f"PMTU black hole on {where}: packets up to {mtu} bytes pass, larger ones vanish without an ICMP "
                f"fragmentation-needed", hint=f"Clamp TCP MSS to {mtu - 40} / lower the tunnel MTU to {mtu} (or let ICMP "
                f"type 3 code 4 through the underlay).", **details)
        if not r.ok:
            return self.warn(f"path MTU on {where} not fully measured: {reason(r)} (works at {mtu} bytes)",
                             hint="Re-run; a slow or lossy path can stop the search early.", **details)
        how = f", next-hop MTU {d['next_hop_mtu']} reported by ICMP" if d.get("icmp_frag_needed") else ""
        return self.passed(f"path MTU {mtu} bytes on {where}{how}", **details)


class Latency(ActiveCheck):
    """RTT min/avg/max from A to a pod in B; warns above --max-rtt."""

    id = "latency"
    depends = ("pod-connectivity",)
    title = "Round-trip time across clusters"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.NODE_READS
    reads_if_needed = T.NODE_READS_IF_NEEDED
    hint = "Expect this RTT in every cross-cluster call; check the underlay route and the gateways' load, or raise --max-rtt."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a = ctx.a
        a_gw, target, err = self.gateway_and_target(ctx, probes)
        if err:
            return err
        # The warm-up (echoes until the first reply) waits --answer-timeout; the series then gets 1 s to send and 1 s more.
        wait = self.answer_timeout(ctx)
        argv = ["latency", target.ip, "--count", "10", "--interval", "0.1", "--timeout", f"{wait + 4:g}",
                "--warmup-wait", f"{wait:g}"]
        r = probes.run(a.name, self.spec(a_gw.name, argv, "latency", False, wait + 4))
        if (problem := not_started(r)) is not None:
            return self.error(problem)
        d = r.data
        limit = float(ctx.option("max_rtt", 100.0))
        details = {k: d.get(k) for k in ("min_ms", "avg_ms", "max_ms", "stddev_ms", "loss_pct", "sent", "received", "warmup_ms")}
        details.update(target=target.ip, from_node=a_gw.name, max_rtt_ms=limit)
        where = f"{a.name} ({a_gw.name}) -> {ctx.b.name}'s target pod {target.ip}"
        if not r.ok:
            return self.fail(f"{where}: {reason(r)}", hint="ICMP to B's pods is lost: see pod-connectivity and tunnel-firewall.",
                             **details)
        stats = f"RTT min/avg/max {d.get('min_ms')}/{d.get('avg_ms')}/{d.get('max_ms')} ms, loss {d.get('loss_pct')}%"
        if (d.get("avg_ms") or 0) > limit:
            return self.warn(f"{where}: {stats}, above --max-rtt {limit:g} ms", **details)
        return self.passed(f"{where}: {stats}", **details)
