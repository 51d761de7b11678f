"""Active checks: probes in short-lived pods (firewalls, tunnels, pod and service paths, DNS, MTU, latency).

Each check chooses nodes and targets from the views (:mod:`mcdiag.active.targets`) and
asks the run's probe executor (``ctx.probes``) to run ``mcdiag probe ...`` there. Without
an executor (``--passive``, snapshots) every check skips. A probe pod that never starts
makes the check ``error`` with the reason the pod gives (``ErrImagePull`` ...).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from mcdiag import facts
from mcdiag import resources as R
from mcdiag.active import targets as T
from mcdiag.active.executor import PodResult, PodSpec
from mcdiag.model import Check, CheckContext, Outcome, Scope
from mcdiag.view import ClusterView

BOTH = frozenset({"submariner", "netmaker"})
SUBMARINER_DOCS = "https://submariner.io/operations/troubleshooting/"
NETMAKER_DOCS = "https://docs.netmaker.io/"
VXLAN_PORT, VXLAN_VNI = 4800, 100
#: Seconds a temporary echo service may take to become resolvable across clusters.
ECHO_DNS_WAIT = 45.0
DNS_TIMEOUT = 3.0


def marker() -> str:
    """A fresh marker for one listener/sender pair."""
    return "mcdiag-" + uuid.uuid4().hex[:12]


def not_started(*results: PodResult | None) -> str | None:
    """The problem of the first probe pod that gave no result (never started, no JSON), or ``None``."""
    for r in results:
        if r is not None and r.data is None:
            return r.problem or f"probe pod {r.pod} gave no result"
    return None


def listener_problem(received: PodResult, sent: PodResult | None) -> str | None:
    """Why a listener/sender pair decided nothing: a pod never started, or the listener never listened."""
    if (problem := not_started(sent, received)) is not None:  # a sender that never ran explains a stopped listener
        return problem
    if sent is None:
        return f"the listener on {received.node} never started listening: {reason(received)}"
    return None


def reason(r: PodResult) -> str:
    """The probe's own reason, or its problem."""
    return str((r.data or {}).get("reason") or r.problem or "no reason given")


class ActiveCheck(Check):
    """Shared plumbing: skip without an executor; the probe budget; pod specs."""

    providers = BOTH
    timeout = 240.0

    def run(self, ctx: CheckContext) -> Outcome:
        if ctx.probes is None:
            return self.skip("passive run (--passive or a snapshot): active checks start no probe pod")
        return self.probe(ctx, ctx.probes)

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:  # pragma: no cover - abstract
        """Run the probes and judge them."""
        raise NotImplementedError

    @staticmethod
    def spec(node: str, argv: list[str], name: str, host_network: bool = False, timeout: float = 15.0) -> PodSpec:
        """A probe pod running ``mcdiag probe ARGV`` on ``node``."""
        return PodSpec(node=node, argv=["mcdiag", "probe", *argv], name=name, host_network=host_network, timeout=timeout)

    @staticmethod
    def listen_timeout(probes: Any) -> float:
        """Seconds a listener waits for its datagram: the sender's pod must start meanwhile."""
        return float(min(getattr(probes, "start_timeout", 60.0), 60.0) + 10.0)

    def gateway(self, view: ClusterView) -> T.NodeChoice:
        """The view's gateway node (cached per view)."""
        return view.fact(T.gateway_node)

    def providers_differ(self, ctx: CheckContext) -> Outcome | None:
        """Skip a pair joined by two different providers."""
        pa, pb = ctx.a.fact(facts.detect_provider), ctx.b.fact(facts.detect_provider)
        if pa != pb:
            return self.skip(f"{ctx.a.name} uses {pa}, {ctx.b.name} uses {pb}: no tunnel between them to probe")
        return None

    def gateway_and_target(self, ctx: CheckContext, probes: Any) -> tuple[Any, Any, Outcome | None]:
        """A's gateway node (the probe source) and B's shared target pod, or an error outcome."""
        a_gw = self.gateway(ctx.a)
        if a_gw.node is None:
            return a_gw, None, self.error(f"{ctx.a.name}: {a_gw.reason}")
        target, err = self.target_of(ctx, probes)
        return a_gw, target, err

    def gateway_and_service(self, ctx: CheckContext, probes: Any) -> tuple[Any, Any, Outcome | None]:
        """A's gateway node (the probe source) and B's service under test, or an error outcome."""
        a_gw = self.gateway(ctx.a)
        if a_gw.node is None:
            return a_gw, None, self.error(f"{ctx.a.name}: {a_gw.reason}")
        svc, err = self.service(ctx, probes)
        return a_gw, svc, err

    def target_of(self, ctx: CheckContext, probes: Any) -> tuple[Any, Outcome | None]:
        """B's shared target pod on B's gateway node, or an error outcome."""
        gw = self.gateway(ctx.b)
        if gw.node is None:
            return None, self.error(f"{ctx.b.name}: {gw.reason}: nowhere to put the target pod")
        target = probes.target(ctx.b.name, gw.name)
        if target.problem:
            return None, self.error(f"{ctx.b.name}: {target.problem}")
        return target, None


# ---------------------------------------------------------------------------------------------
# Firewalls and tunnels
# ---------------------------------------------------------------------------------------------
class VxlanFirewall(ActiveCheck):
    """A marked VXLAN datagram (UDP/4800, VNI 100) from a non-gateway node reaches the active gateway."""

    id = "vxlan-firewall"
    title = "VXLAN UDP/4800 from nodes to the gateway"
    tags = frozenset({"active", "intra-cluster", "submariner"})
    providers = frozenset({"submariner"})
    reads = T.NODE_READS
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
        send = self.spec(other.name, ["udp-send", "--to", f"{gw.ip}:{VXLAN_PORT}", "--vxlan-vni", str(VXLAN_VNI), "--marker", mark],
                         "vxlan-send", True)
        [(received, sent)] = probes.pair_all([((view.name, listen), (view.name, send))])
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
    title = "Tunnel ports open between gateways"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.TUNNEL_READS
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
        provider = a.fact(facts.detect_provider)
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
            send = self.spec(a_gw.name, ["udp-send", "--to", f"{tunnel.ip}:{port.port}", "--marker", mark], "tunnel-send", True)
            jobs.append(((b.name, listen), (a.name, send)))
        results = probes.pair_all(jobs)
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
    title = "WireGuard handshakes recent"
    tags = frozenset({"active", "netmaker"})
    providers = frozenset({"netmaker"})
    reads = T.NODE_READS
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


# ---------------------------------------------------------------------------------------------
# Pod paths
# ---------------------------------------------------------------------------------------------
class PodConnectivity(ActiveCheck):
    """A probe pod in A reaches a probe pod in B by pod IP (from a gateway and a non-gateway node)."""

    id = "pod-connectivity"
    title = "Pod to pod across clusters"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.NODE_READS
    hint = "Check the tunnel between the gateways (tunnel-firewall, gateway-connections) and that B's pod CIDR is routed and allowed."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a = ctx.a
        a_gw, target, err = self.gateway_and_target(ctx, probes)
        if err:
            return err
        other = T.other_node(a, a_gw)
        sources = [("gateway", a_gw)] + ([("non-gateway", other)] if other.node is not None else [])
        argv = ["tcp", f"{target.ip}:{target.port}", "--timeout", "5"]
        results = probes.run_all([(a.name, self.spec(src.name, argv, "pod-conn", False, 5)) for _, src in sources])
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


# ---------------------------------------------------------------------------------------------
# Services and DNS
# ---------------------------------------------------------------------------------------------
class _Service:
    """B's service to probe: the ``--service`` given, or the run's temporary echo service."""

    def __init__(self, namespace: str, name: str, ips: list[str], port: int | None, temporary: bool, expected: list[str]):
        self.namespace, self.name, self.ips, self.port = namespace, name, ips, port
        self.temporary = temporary
        #: What the clusterset name must answer: the ClusterIP(s), or Globalnet ingress IPs.
        self.expected = expected

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class ServiceCheck(ActiveCheck):
    """Shared by dns-clusterset and service-reachability: the service, its name, and resolving it from A."""

    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.SERVICE_READS

    def service(self, ctx: CheckContext, probes: Any) -> tuple[_Service | None, Outcome | None]:
        b = ctx.b
        given = ctx.option("service")
        if given:
            ns, _, name = str(given).partition("/")
            svc = b.find(R.SERVICES, name, ns)
            if svc is None:
                return None, self.error(f"service {given} (--service) does not exist in {b.name}")
            ips = T.service_ips(svc)
            if not ips:
                return None, self.error(f"service {given} in {b.name} is headless (no ClusterIP): give a ClusterIP service")
            expected = ips
            if b.fact(facts.detect_provider) == "submariner" and b.fact(facts.submariner_settings).globalnet:
                expected = T.global_ingress_ips(b, ns, name) or ips
            return _Service(ns, name, ips, T.service_port(svc), False, expected), None
        export = b.fact(facts.detect_provider) == "submariner"
        echo = probes.echo_service(b.name, export=export)
        if echo.problem:
            return None, self.error(f"{b.name}: {echo.problem}")
        return _Service(echo.namespace, echo.name, [echo.ip], echo.port, True, [echo.ip]), None

    def resolve(self, ctx: CheckContext, probes: Any, svc: _Service, node: str) -> tuple[dict[str, Any] | None, str, Outcome | None]:
        """Query B's service name from a pod on ``node`` in A; a temporary service gets time to appear.

        Returns (dns probe result, name, error outcome).
        """
        a, b = ctx.a, ctx.b
        name, why = T.exported_name(a, b, svc.namespace, svc.name)
        if name is None:
            return None, "", self.error(why)
        dns = T.cluster_dns(a)
        argv = ["dns", name, "--timeout", str(DNS_TIMEOUT)]
        if dns:
            argv += ["--server", dns[0], "--port", str(dns[1])]
        end = time.monotonic() + (ECHO_DNS_WAIT if svc.temporary else 0)
        while True:
            r = probes.run(a.name, self.spec(node, argv, "dns", False, DNS_TIMEOUT + 5))
            if (problem := not_started(r)) is not None:
                return None, name, self.error(problem)
            answered = set(r.data.get("answers") or [])
            if not svc.temporary or (answered & set(svc.expected)) or time.monotonic() >= end:
                break
            time.sleep(3)
        data = r.data
        if svc.temporary and not (set(data.get("answers") or []) & set(svc.expected)):
            data["temporary_unresolved"] = True
        return data, name, None


DNS_HINTS = {
    "submariner": {
        "nxdomain": "The name is unknown: check the ServiceExport in B is Valid/Ready (service-exports), that Lighthouse "
                    "imported it (service-imports) and that A's CoreDNS forwards clusterset.local to the Lighthouse DNS "
                    "(coredns-forwarding).",
        "timeout": "No DNS answer in time: check that A's CoreDNS and the submariner-lighthouse-coredns pods run and that "
                   "UDP/53 to them is allowed.",
        "nodata": "The name exists but has no A record: the service has no ready endpoints in B, or its export is not "
                  "ready yet (ServiceImport without IPs).",
        "wrong": "The name answers another address: look for a stale ServiceImport, a service of the same name exported "
                 "by another cluster, or Globalnet ingress IPs not allocated.",
    },
    "netmaker": {
        "nxdomain": "The name is unknown: A's CoreDNS needs a `NETWORK:53 { forward . IP }` block for B's network "
                    "(coredns-forwarding) and servicex must publish B's services to Netmaker DNS.",
        "timeout": "No DNS answer in time: check A's CoreDNS and that the Netmaker DNS it forwards to is reachable "
                   "through the tunnel (UDP/53).",
        "nodata": "The name exists but has no A record: servicex published no address for the service.",
        "wrong": "The name answers another address: servicex's entry is stale (re-run servicex or check for a "
                 "same-named service in another cluster).",
    },
}


class DnsClusterset(ServiceCheck):
    """From a pod in A, B's exported service name resolves to B's service IP."""

    id = "dns-clusterset"
    title = "Cross-cluster service DNS"
    hint = "Check service export and DNS forwarding for the clusterset zone."
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a, b = ctx.a, ctx.b
        a_gw, svc, err = self.gateway_and_service(ctx, probes)
        if err:
            return err
        data, name, err = self.resolve(ctx, probes, svc, a_gw.name)
        if err:
            return err
        provider = b.fact(facts.detect_provider)
        answers = list(data.get("answers") or [])
        if provider == "submariner" and answers and not set(answers) & set(svc.expected):
            local = a.find(R.SERVICES, svc.name, svc.namespace)
            if local is not None and set(answers) <= set(T.service_ips(local)):
                # Lighthouse prefers the local cluster's export of the same service: ask for B's by its cluster id.
                specific = f"{facts.cluster_id_of(b)}.{name}"
                argv = ["dns", specific, "--timeout", str(DNS_TIMEOUT)]
                if (dns := T.cluster_dns(a)) is not None:
                    argv += ["--server", dns[0], "--port", str(dns[1])]
                r = probes.run(a.name, self.spec(a_gw.name, argv, "dns", False, DNS_TIMEOUT + 5))
                if (problem := not_started(r)) is not None:
                    return self.error(problem)
                data, name, answers = r.data, specific, list(r.data.get("answers") or [])
        cls = data.get("rcode_class")
        details = {"name": name, "server": data.get("server"), "rcode": data.get("rcode"), "rcode_class": cls,
                   "answers": answers, "expected": svc.expected, "service": svc.ref, "from_node": a_gw.name,
                   "temporary_service": svc.temporary}
        hints = DNS_HINTS.get(provider, DNS_HINTS["submariner"])
        if set(answers) & set(svc.expected):
            return self.passed(f"{name} resolves to {', '.join(answers)} ({b.name}'s {svc.ref})", **details)
        if data.get("temporary_unresolved") and cls != "answer":
            return self.error(f"the temporary echo service {svc.ref} of {b.name} never became resolvable as {name} "
                              f"within {ECHO_DNS_WAIT:g}s: {data.get('reason')}", hint=hints.get(cls), **details)
        if cls == "answer":
            return self.fail(f"{name} resolves to {', '.join(answers)}, not to {b.name}'s {svc.ref} "
                             f"({', '.join(svc.expected)})", hint=hints["wrong"], **details)
        if cls in ("nxdomain", "timeout", "nodata"):
            what = {"nxdomain": "does not exist (NXDOMAIN)", "timeout": "got no answer in time (timeout)",
                    "nodata": "exists but has no address (NOERROR, empty answer)"}[cls]
            return self.fail(f"{name} {what} from {a.name} (server {data.get('server')})", hint=hints[cls], **details)
        return self.fail(f"{name} does not resolve from {a.name}: {data.get('reason')}", **details)


class ServiceReachability(ServiceCheck):
    """From a pod in A, an HTTP GET to B's exported service, by DNS name and by IP, answers within the timeout."""

    id = "service-reachability"
    title = "Cross-cluster service answers"
    hint = "Check that B's service has ready endpoints listening on its port, and that B's service CIDR is routed through the tunnel."
    docs = "https://submariner.io/operations/troubleshooting/"

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a, b = ctx.a, ctx.b
        a_gw, svc, err = self.gateway_and_service(ctx, probes)
        if err:
            return err
        if svc.port is None:
            return self.error(f"service {svc.ref} in {b.name} has no TCP port to send an HTTP GET to")
        data, name, err = self.resolve(ctx, probes, svc, a_gw.name)
        if err:
            return err
        resolved = list(data.get("answers") or []) if data.get("rcode_class") == "answer" else []
        ip = svc.ips[0]
        urls = [f"http://{ip}:{svc.port}/"]
        by_name = resolved[0] if resolved else None
        if by_name and by_name != ip:
            urls.append(f"http://{by_name}:{svc.port}/")
        results = probes.run_all([(a.name, self.spec(a_gw.name, ["http", u, "--timeout", "5"], "http", False, 5)) for u in urls])
        for r in results:
            if (problem := not_started(r)) is not None:
                return self.error(problem)
        answers = {u: r.data for u, r in zip(urls, results, strict=True)}
        ip_data = answers[urls[0]]
        name_data = answers[urls[-1]] if by_name else None

        def said(d: dict[str, Any]) -> str:
            return f"HTTP {d['status']}" if d.get("outcome") == "response" else (d.get("reason") or str(d.get("outcome")))

        details = {"service": svc.ref, "name": name, "resolved": resolved, "from_node": a_gw.name,
                   "by_ip": {"url": urls[0], "outcome": ip_data.get("outcome"), "status": ip_data.get("status"),
                             "total_s": ip_data.get("total_s")},
                   "by_name": None if name_data is None else {
                       "url": urls[-1], "outcome": name_data.get("outcome"), "status": name_data.get("status")}}
        ip_ok = ip_data.get("outcome") == "response"
        name_ok = name_data is not None and name_data.get("outcome") == "response"
        if not ip_ok:
            hint = None
            if ip_data.get("outcome") == "refused":
                hint = f"Nothing listens behind {svc.ref} in {b.name} on port {svc.port}: check its pods are Ready and its targetPort."
            return self.fail(f"GET {urls[0]} ({b.name}'s {svc.ref} by ClusterIP) failed: {said(ip_data)}", hint=hint, **details)
        if not by_name:
            return self.passed(f"{b.name}'s {svc.ref} answers by ClusterIP {ip}:{svc.port} ({said(ip_data)}); by name "
                               f"judged by IP only: {name} does not resolve from {a.name} (dns-clusterset's failure)",
                               **details)
        if not name_ok:
            return self.fail(f"{name} resolves to {by_name}, and GET {urls[-1]} failed: {said(name_data)}",
                             hint="The name answers an address that does not serve: see dns-clusterset (wrong IP).", **details)
        return self.passed(f"{b.name}'s {svc.ref} answers by name {name} and by ClusterIP {ip}:{svc.port} ({said(ip_data)})",
                           **details)


# ---------------------------------------------------------------------------------------------
# Path MTU and latency
# ---------------------------------------------------------------------------------------------
class PathMtu(ActiveCheck):
    """The largest don't-fragment packet that crosses A->B is measured; packets above it vanishing silently fail."""

    id = "path-mtu"
    title = "Path MTU across clusters"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.NODE_READS
    hint = "Clamp TCP MSS or lower the tunnel MTU below the path MTU, or let ICMP fragmentation-needed through."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a = ctx.a
        a_gw, target, err = self.gateway_and_target(ctx, probes)
        if err:
            return err
        argv = ["mtu", target.ip, "--timeout", "25", "--probe-timeout", "0.5"]
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
    title = "Round-trip time across clusters"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.NODE_READS
    hint = "Expect this RTT in every cross-cluster call; check the underlay route and the gateways' load, or raise --max-rtt."
    docs = SUBMARINER_DOCS

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a = ctx.a
        a_gw, target, err = self.gateway_and_target(ctx, probes)
        if err:
            return err
        argv = ["latency", target.ip, "--count", "10", "--interval", "0.1", "--timeout", "6"]
        r = probes.run(a.name, self.spec(a_gw.name, argv, "latency", False, 6))
        if (problem := not_started(r)) is not None:
            return self.error(problem)
        d = r.data
        limit = float(ctx.option("max_rtt", 100.0))
        details = {k: d.get(k) for k in ("min_ms", "avg_ms", "max_ms", "stddev_ms", "loss_pct", "sent", "received")}
        details.update(target=target.ip, from_node=a_gw.name, max_rtt_ms=limit)
        where = f"{a.name} ({a_gw.name}) -> {ctx.b.name}'s target pod {target.ip}"
        if not r.ok:
            return self.fail(f"{where}: {reason(r)}", hint="ICMP to B's pods is lost: see pod-connectivity and tunnel-firewall.",
                             **details)
        stats = f"RTT min/avg/max {d.get('min_ms')}/{d.get('avg_ms')}/{d.get('max_ms')} ms, loss {d.get('loss_pct')}%"
        if (d.get("avg_ms") or 0) > limit:
            return self.warn(f"{where}: {stats}, above --max-rtt {limit:g} ms", **details)
        return self.passed(f"{where}: {stats}", **details)
