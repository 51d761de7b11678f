"""Submariner's own state: components, Endpoints, broker, gateway and route-agent connections, Globalnet, services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcdiag import facts
from mcdiag import resources as R
from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import meta, qualname
from mcdiag.model import Check, CheckContext, Outcome, Scope
from mcdiag.view import ClusterView

SUBMARINER = frozenset({"submariner"})
TROUBLESHOOTING_DOCS = "https://submariner.io/operations/troubleshooting/"
SERVICE_DISCOVERY_DOCS = "https://submariner.io/getting-started/architecture/service-discovery/"

GATEWAY_DAEMONSET = "submariner-gateway"
ROUTEAGENT_DAEMONSET = "submariner-routeagent"
METRICS_DAEMONSET = "submariner-metrics-proxy"
GLOBALNET_DAEMONSET = "submariner-globalnet"
LIGHTHOUSE_AGENT = "submariner-lighthouse-agent"
LIGHTHOUSE_COREDNS = "submariner-lighthouse-coredns"
OPERATOR_DEPLOYMENT = "submariner-operator"
CLUSTER_EGRESS_NAME = "cluster-egress.submariner.io"
BROKER_CRDS = (
    "clusters.submariner.io",
    "endpoints.submariner.io",
    "gateways.submariner.io",
    "serviceexports.multicluster.x-k8s.io",
    "serviceimports.multicluster.x-k8s.io",
)


# ---------------------------------------------------------------------------------------------
# Helpers shared by the Submariner and data-plane checks
# ---------------------------------------------------------------------------------------------
def reads(*groups: Iterable[R.Resource]) -> tuple[R.Resource, ...]:
    """Concatenate resource tuples, each resource once, first occurrence order."""
    out: list[R.Resource] = []
    for group in groups:
        for res in group:
            if res not in out:
                out.append(res)
    return tuple(out)


class Findings:
    """Problems (fail) and warnings (warn) met by a check, each with its hint; turned into one outcome."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def fail(self, message: str, hint: str) -> None:
        """Record a failure."""
        self.problems.append((message, hint))

    def warn(self, message: str, hint: str) -> None:
        """Record a warning."""
        self.warnings.append((message, hint))

    def outcome(self, check: Check, ok: str, **details: Any) -> Outcome:
        """Fail with every problem, else warn with every warning, else pass with ``ok``."""
        for items, make in ((self.problems, check.fail), (self.warnings, check.warn)):
            if items:
                hints = list(dict.fromkeys(h for _, h in items if h))
                return make("; ".join(m for m, _ in items), hint=" ".join(hints) or None, **details)
        return check.passed(ok, **details)


def expected_peers(ctx: CheckContext, view: ClusterView) -> tuple[dict[str, str], list[str]]:
    """Return the Submariner cluster ids of every other given cluster (``{id: mcdiag name}``) and notes on those left out."""
    peers: dict[str, str] = {}
    notes: list[str] = []
    for peer in ctx.peers(view):
        if peer.unreachable:
            notes.append(f"{peer.name} not compared: unreachable")
            continue
        try:
            provider = peer.fact(facts.detect_provider)
        except ResourceUnavailable as exc:
            notes.append(f"{peer.name} not compared: {exc.message}")
            continue
        if provider != "submariner":
            notes.append(f"{peer.name} not compared: provider {provider}")
            continue
        peers[facts.cluster_id_of(peer)] = peer.name
    return peers, notes


def who(cluster_id: str, name: str) -> str:
    """``cluster1``, or ``cluster1 (east)`` when the mcdiag name differs from the Submariner cluster id."""
    return cluster_id if cluster_id == name else f"{cluster_id} ({name})"


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("type")): c for c in ((obj.get("status") or {}).get("conditions") or []) if c.get("type")}


def _quote(message: Any) -> str:
    return f': "{message}"' if message else ""


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------
class SubmarinerDeployment(Check):
    """Submariner's DaemonSets and Deployments have every pod ready; exactly one gateway pod is active."""

    id = "submariner-deployment"
    title = "Submariner components ready"
    tags = frozenset({"passive", "submariner"})
    providers = SUBMARINER
    reads = reads((R.PODS, R.DAEMONSETS, R.DEPLOYMENTS), facts.SUBMARINER_SETTINGS_READS)
    hint = "Inspect the failing pods (kubectl -n submariner-operator describe pod NAME; kubectl logs NAME --previous)."
    docs = TROUBLESHOOTING_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        settings = view.fact(facts.submariner_settings)
        ns = settings.namespace
        pods = [p for p in view.list(R.PODS) if meta(p).get("namespace") == ns]
        daemonsets = {meta(d).get("name"): d for d in view.list(R.DAEMONSETS) if meta(d).get("namespace") == ns}
        deployments = {meta(d).get("name"): d for d in view.list(R.DEPLOYMENTS) if meta(d).get("namespace") == ns}
        want_ds = [GATEWAY_DAEMONSET, ROUTEAGENT_DAEMONSET, METRICS_DAEMONSET] + ([GLOBALNET_DAEMONSET] if settings.globalnet else [])
        want_dep = [OPERATOR_DEPLOYMENT] + ([LIGHTHOUSE_AGENT, LIGHTHOUSE_COREDNS] if settings.service_discovery else [])
        found = Findings()
        pod_hint = f"Inspect the failing pods (kubectl -n {ns} describe pod NAME; kubectl -n {ns} logs NAME --previous) and fix the cause they report."
        missing_hint = (
            f"The operator did not create it: check the Submariner CR status and the operator logs "
            f"(kubectl -n {ns} logs deploy/{OPERATOR_DEPLOYMENT})."
        )
        seen_pods: set[str] = set()
        checked: list[str] = []
        for kind, wanted, have in (("DaemonSet", want_ds, daemonsets), ("Deployment", want_dep, deployments)):
            for name in wanted:
                obj = have.get(name)
                if obj is None:
                    found.fail(f"{kind} {ns}/{name} not found", missing_hint)
                    continue
                checked.append(f"{kind} {ns}/{name}")
                problems, warnings = facts.workload_readiness(obj, pods)
                for p in problems:
                    found.fail(p, pod_hint)
                for w in warnings:
                    found.warn(w + " (unstable)", pod_hint)
                seen_pods.update(qualname(p) for p in facts.owned_pods(pods, obj))
        for pod in pods:
            if qualname(pod) in seen_pods:
                continue
            st = facts.pod_state(pod)
            if st.problem:
                found.fail(st.problem, pod_hint)
            elif st.warning:
                found.warn(st.warning + " (unstable)", pod_hint)
        active = sorted(
            qualname(p)
            for p in pods
            if facts.labels(p).get("gateway.submariner.io/status") == "active"
            and facts.labels(p).get("app", GATEWAY_DAEMONSET) == GATEWAY_DAEMONSET
        )
        if not active and GATEWAY_DAEMONSET in daemonsets:
            found.fail(
                f"no gateway pod in {ns} is labelled gateway.submariner.io/status=active",
                f"Check the gateway pods' logs (kubectl -n {ns} logs ds/{GATEWAY_DAEMONSET}) and that a gateway node is Ready.",
            )
        elif len(active) > 1:
            found.fail(
                f"{len(active)} gateway pods are active at once ({', '.join(active)})",
                "Keep one active gateway per cluster: check leader election in the gateway logs and delete the stale pod.",
            )
        return found.outcome(
            self,
            f"{len(checked)} Submariner workloads ready in {ns} ({len(pods)} pods Running and Ready); active gateway pod {', '.join(active)}",
            workloads=checked,
            pods=len(pods),
            active_gateway_pods=active,
            globalnet=settings.globalnet,
            service_discovery=settings.service_discovery,
        )


# ---------------------------------------------------------------------------------------------
# Endpoints and broker
# ---------------------------------------------------------------------------------------------
class SubmarinerEndpoints(Check):
    """Exactly one local Endpoint, a remote Endpoint for every other given cluster, no shared public IP with NAT."""

    id = "submariner-endpoints"
    title = "Submariner Endpoints"
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads((R.SUBMARINER_ENDPOINTS,), facts.SUBMARINER_SETTINGS_READS)
    docs = TROUBLESHOOTING_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        items = view.optional(R.SUBMARINER_ENDPOINTS)
        if items is None:
            return self.skip("endpoints.submariner.io CRD not installed")
        ns = facts.submariner_namespace(view)
        local_id = facts.cluster_id_of(view)
        endpoints = [e for e in items if meta(e).get("namespace") == ns]
        found = Findings()
        local = [e for e in endpoints if (e.get("spec") or {}).get("cluster_id") == local_id]
        if not local:
            found.fail(
                f"no local Endpoint for cluster {local_id} in {ns}",
                f"The gateway has not registered: check that a Ready node is labelled submariner.io/gateway=true "
                f"and read the gateway logs (kubectl -n {ns} logs ds/{GATEWAY_DAEMONSET}).",
            )
        elif len(local) > 1:
            found.fail(
                f"{len(local)} local Endpoints for cluster {local_id}: "
                + ", ".join(f"{qualname(e)} ({(e.get('spec') or {}).get('hostname')})" for e in local),
                f"Delete the stale Endpoint(s) (kubectl -n {ns} delete endpoints.submariner.io NAME), keeping the one "
                "whose hostname is the active gateway node.",
            )
        peers, notes = expected_peers(ctx, view)
        by_cluster: dict[str, list[dict[str, Any]]] = {}
        for e in endpoints:
            by_cluster.setdefault(str((e.get("spec") or {}).get("cluster_id")), []).append(e)
        for peer_id, peer_name in sorted(peers.items()):
            if peer_id not in by_cluster:
                found.fail(
                    f"no remote Endpoint for cluster {who(peer_id, peer_name)} in {ns}",
                    f"Check that {peer_name}'s gateway is running and that both clusters joined the same broker "
                    "(kubectl -n submariner-k8s-broker get endpoints.submariner.io on the broker cluster).",
                )
        shared: dict[str, set[str]] = {}
        for e in endpoints:
            spec = e.get("spec") or {}
            if spec.get("nat_enabled") and spec.get("public_ip"):
                shared.setdefault(str(spec["public_ip"]), set()).add(str(spec.get("cluster_id")))
        for ip, ids in sorted(shared.items()):
            if len(ids) > 1:
                found.warn(
                    f"clusters {', '.join(sorted(ids))} advertise the same public IP {ip} with NAT on",
                    "Give each cluster's gateway its own public IP (annotation gateway.submariner.io/public-ip on the "
                    "gateway node), or join the clusters without NAT if their gateways reach each other privately.",
                )
        summary = {
            qualname(e): {k: (e.get("spec") or {}).get(k) for k in ("cluster_id", "hostname", "private_ip", "public_ip", "nat_enabled", "backend")}
            for e in endpoints
        }
        loc = local[0] if local else {}
        ok = f"local Endpoint {qualname(loc) if loc else '?'} ({facts.endpoint_ip(loc.get('spec') or {})})"
        if peers:
            ok += f"; remote Endpoints for {', '.join(sorted(peers))}"
        return found.outcome(self, ok, endpoints=summary, expected_peers=sorted(peers), notes=notes)


class BrokerClusters(Check):
    """On the broker cluster: every joined cluster has a Cluster object, and the broker CRDs exist."""

    id = "broker-clusters"
    title = "Broker: joined clusters and CRDs"
    tags = frozenset({"passive", "submariner"})
    # No provider filter: a broker-only cluster (helm broker chart, no Submariner CR) is still checked.
    reads = reads((R.NAMESPACES, R.SUBMARINER_CLUSTERS, R.CRDS), facts.PROVIDER_READS)
    docs = "https://submariner.io/getting-started/architecture/broker/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        if view.find(R.NAMESPACES, facts.BROKER_NS) is None:
            return self.skip(f"no broker here (namespace {facts.BROKER_NS} absent)")
        found = Findings()
        crds = {meta(c).get("name") for c in view.list(R.CRDS)}
        missing_crds = [c for c in BROKER_CRDS if c not in crds]
        if missing_crds:
            found.fail(
                f"broker CRD(s) missing: {', '.join(missing_crds)}",
                "Re-install the broker (helm upgrade --install submariner-k8s-broker submariner-latest/submariner-k8s-broker "
                f"-n {facts.BROKER_NS}, or subctl deploy-broker) so that its CRDs are created.",
            )
        clusters = view.optional(R.SUBMARINER_CLUSTERS)
        joined: list[str] = []
        if clusters is None:
            if "clusters.submariner.io" not in missing_crds:
                found.fail("clusters.submariner.io is not served", "Re-install the broker CRDs.")
        else:
            joined = sorted(
                str((c.get("spec") or {}).get("cluster_id") or meta(c).get("name"))
                for c in clusters
                if meta(c).get("namespace") == facts.BROKER_NS
            )
        expected: dict[str, str] = {}
        notes: list[str] = []
        if view.fact(facts.detect_provider) == "submariner":
            expected[facts.cluster_id_of(view)] = view.name
        peers, notes = expected_peers(ctx, view)
        expected.update(peers)
        if clusters is not None:
            for cid, name in sorted(expected.items()):
                if cid not in joined:
                    found.fail(
                        f"cluster {who(cid, name)} has no clusters.submariner.io in {facts.BROKER_NS}",
                        f"Join {name} to this broker (check its Submariner CR's broker, brokerK8sApiServer and "
                        f"brokerK8sRemoteNamespace) and read its gateway logs for broker errors.",
                    )
        return found.outcome(
            self,
            f"broker {facts.BROKER_NS}: clusters {', '.join(joined) or 'none'} joined; broker CRDs present",
            joined=joined,
            expected=sorted(expected),
            notes=notes,
        )


# ---------------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------------
class GatewayConnections(Check):
    """An active Gateway exists and has a `connected` connection to every other given cluster."""

    id = "gateway-connections"
    title = "Gateway connections"
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads(facts.GATEWAY_READS, facts.SUBMARINER_SETTINGS_READS)
    docs = TROUBLESHOOTING_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        gateways = view.optional(R.SUBMARINER_GATEWAYS)
        if gateways is None:
            return self.skip("gateways.submariner.io CRD not installed")
        ns = facts.submariner_namespace(view)
        logs = f"kubectl -n {ns} logs ds/{GATEWAY_DAEMONSET}"
        active = view.fact(facts.active_gateway)
        if active is None or active.gateway is None:
            states = ", ".join(
                f"{qualname(g)} {(g.get('status') or {}).get('haStatus') or 'no status'}"
                + _quote((g.get("status") or {}).get("statusFailure"))
                for g in gateways
            )
            return self.fail(
                f"no active Gateway in {ns}" + (f" ({states})" if states else " (no Gateway objects)"),
                hint=f"Make sure a Ready node is labelled submariner.io/gateway=true and read the gateway logs ({logs}).",
                gateways=states,
            )
        gw = active.gateway
        status = gw.get("status") or {}
        found = Findings()
        if status.get("statusFailure"):
            found.fail(f"Gateway {qualname(gw)} reports a failure{_quote(status['statusFailure'])}", f"Read the gateway logs ({logs}).")
        conns: dict[str, dict[str, Any]] = {}
        for conn in status.get("connections") or []:
            conns[str((conn.get("endpoint") or {}).get("cluster_id"))] = conn
        peers, notes = expected_peers(ctx, view)
        rtt: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        firewall = (
            "Open UDP 4500 (IPsec NAT-T) and UDP 4490 (NAT discovery) between the gateway nodes, check the "
            f"gateway.submariner.io/public-ip annotations when NAT is on, then read the gateway logs ({logs})."
        )
        for cid, conn in sorted(conns.items()):
            summary[cid] = {"status": conn.get("status"), "statusMessage": conn.get("statusMessage"), "usingIP": conn.get("usingIP"), "usingNAT": conn.get("usingNAT")}
            if conn.get("latencyRTT"):
                rtt[cid] = dict(conn["latencyRTT"])
        for cid, name in sorted(peers.items()):
            conn = conns.get(cid)
            if conn is None:
                found.fail(
                    f"active Gateway {qualname(gw)} has no connection to cluster {who(cid, name)}",
                    f"Check that {name} has a remote Endpoint here (submariner-endpoints) and read the gateway logs ({logs}).",
                )
                continue
            state = str(conn.get("status") or "none")
            if state == "connected":
                continue
            ep = conn.get("endpoint") or {}
            where = f"cable {ep.get('cable_name')}, {conn.get('usingIP') or facts.endpoint_ip(ep)}"
            found.fail(
                f"Gateway {qualname(gw)} connection to cluster {cid} ({where}) is {state}{_quote(conn.get('statusMessage'))}",
                firewall if state in ("connecting", "error") else
                f"The cable engine has not set up this connection: read the gateway logs ({logs}) on both clusters.",
            )
        ok = f"active Gateway {qualname(gw)}: " + (
            ", ".join(
                f"{cid} connected" + (f" (RTT avg {rtt[cid].get('average')})" if rtt.get(cid, {}).get("average") else "")
                for cid in sorted(peers)
            )
            or "no other Submariner cluster given"
        )
        return found.outcome(self, ok, gateway=qualname(gw), node=active.node, connections=summary, rtt=rtt, notes=notes)


class RouteAgentConnections(Check):
    """Every RouteAgent's remote endpoints are `connected` (`none` on the gateway node itself is normal)."""

    id = "routeagent-connections"
    title = "Route agent connections"
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads((R.SUBMARINER_ROUTEAGENTS, R.NODES), facts.GATEWAY_READS, facts.SUBMARINER_SETTINGS_READS)
    docs = "https://submariner.io/getting-started/architecture/route-agent/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        agents = view.optional(R.SUBMARINER_ROUTEAGENTS)
        if agents is None:
            return self.skip("routeagents.submariner.io CRD not installed")
        ns = facts.submariner_namespace(view)
        agents = [a for a in agents if meta(a).get("namespace") in (ns, None)]
        if not agents:
            return self.warn(
                f"no RouteAgent objects in {ns}: the route agents report nothing",
                hint=f"Check that DaemonSet {ns}/{ROUTEAGENT_DAEMONSET} runs on every node and read its logs.",
            )
        gateway_nodes = {
            meta(n).get("name") for n in view.list(R.NODES) if facts.labels(n).get("submariner.io/gateway") == "true"
        }
        active = view.fact(facts.active_gateway)
        if active and active.node:
            gateway_nodes.add(active.node)
        peers, notes = expected_peers(ctx, view)
        found = Findings()
        summary: dict[str, Any] = {}
        for agent in sorted(agents, key=qualname):
            node = meta(agent).get("name")
            on_gateway = node in gateway_nodes
            logs = f"kubectl -n {ns} logs -l app={ROUTEAGENT_DAEMONSET} --field-selector spec.nodeName={node}"
            remotes = (agent.get("status") or {}).get("remoteEndpoints") or []
            seen: set[str] = set()
            for remote in remotes:
                spec = remote.get("spec") or {}
                cid = str(spec.get("cluster_id"))
                seen.add(cid)
                state = str(remote.get("status") or "none")
                message = str(remote.get("statusMessage") or "")
                summary.setdefault(qualname(agent), {})[cid] = {"status": state, "statusMessage": message, "latencyRTT": remote.get("latencyRTT")}
                what = f"RouteAgent {qualname(agent)} (node {node}) to cluster {cid} ({spec.get('hostname') or spec.get('cable_name')})"
                if state == "connected":
                    continue
                if state == "none":
                    lowered = message.lower()
                    if on_gateway or "gateway node" in lowered:
                        continue
                    if "not enabled" in lowered or "not configured" in lowered:
                        found.warn(
                            f"{what}: health checking is off{_quote(message)}",
                            "Enable the connection health check (Submariner CR spec.connectionHealthCheck.enabled: true, "
                            "or subctl join --health-check) so route-agent connectivity is verified.",
                        )
                        continue
                found.fail(
                    f"{what} is {state}{_quote(message)}",
                    f"Allow VXLAN (UDP 4800) between node {node} and the active gateway node, then read the route agent logs ({logs}).",
                )
            for cid, name in sorted(peers.items()):
                if cid not in seen:
                    found.fail(
                        f"RouteAgent {qualname(agent)} (node {node}) has no remote endpoint for cluster {who(cid, name)}",
                        f"Check that {name}'s Endpoint is synced to this cluster (submariner-endpoints) and read the route agent logs ({logs}).",
                    )
        return found.outcome(
            self,
            f"{len(agents)} route agent(s) in {ns}: remote endpoints connected (gateway nodes: {', '.join(sorted(gateway_nodes)) or 'none'})",
            route_agents=summary,
            gateway_nodes=sorted(gateway_nodes),
            notes=notes,
        )


# ---------------------------------------------------------------------------------------------
# Globalnet and services
# ---------------------------------------------------------------------------------------------
def _exported_services(view: ClusterView) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(ServiceExport, its Service or None) for every export of the cluster."""
    exports = view.optional(R.SERVICE_EXPORTS) or []
    out = []
    for exp in sorted(exports, key=qualname):
        out.append((exp, view.find(R.SERVICES, meta(exp).get("name"), meta(exp).get("namespace"))))
    return out


class Globalnet(Check):
    """With Globalnet: the cluster egress IPs are allocated and every exported ClusterIP Service has a global IP."""

    id = "globalnet"
    title = "Globalnet IP allocation"
    tags = frozenset({"passive", "submariner"})
    providers = SUBMARINER
    reads = reads(
        (R.CLUSTER_GLOBAL_EGRESS_IPS, R.GLOBAL_INGRESS_IPS, R.SERVICE_EXPORTS, R.SERVICES),
        facts.SUBMARINER_SETTINGS_READS,
    )
    docs = "https://submariner.io/getting-started/architecture/globalnet/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        settings = view.fact(facts.submariner_settings)
        if not settings.globalnet:
            return self.skip("Globalnet is off (no global CIDR)")
        egress = view.optional(R.CLUSTER_GLOBAL_EGRESS_IPS)
        if egress is None:
            return self.skip("clusterglobalegressips.submariner.io CRD not installed")
        ns = settings.namespace
        logs = f"kubectl -n {ns} logs ds/{GLOBALNET_DAEMONSET}"
        found = Findings()
        cluster_egress = next((e for e in egress if meta(e).get("name") == CLUSTER_EGRESS_NAME), None)
        egress_ips: list[str] = []
        if cluster_egress is None:
            found.fail(f"ClusterGlobalEgressIP {CLUSTER_EGRESS_NAME} not found", f"Check that Globalnet runs ({logs}).")
        else:
            egress_ips = list((cluster_egress.get("status") or {}).get("allocatedIPs") or [])
            if not egress_ips:
                cond = _conditions(cluster_egress).get("Allocated") or {}
                found.fail(
                    f"ClusterGlobalEgressIP {CLUSTER_EGRESS_NAME} has no allocated IPs{_quote(cond.get('message'))}",
                    f"Check that the global CIDR {', '.join(settings.global_cidrs)} has free addresses and read the Globalnet logs ({logs}).",
                )
        ingress = view.optional(R.GLOBAL_INGRESS_IPS) or []
        allocated: dict[str, str] = {}
        for _exp, svc in _exported_services(view):
            if svc is None:
                continue
            spec = svc.get("spec") or {}
            if spec.get("type", "ClusterIP") != "ClusterIP" or spec.get("clusterIP") in (None, "None"):
                continue
            ns_svc, name = meta(svc).get("namespace"), meta(svc).get("name")
            gip = next(
                (
                    g
                    for g in ingress
                    if meta(g).get("namespace") == ns_svc
                    and (g.get("spec") or {}).get("target") == "ClusterIPService"
                    and ((g.get("spec") or {}).get("serviceRef") or {}).get("name") == name
                ),
                None,
            )
            if gip is None:
                found.fail(
                    f"exported Service {ns_svc}/{name} has no GlobalIngressIP",
                    f"Globalnet has not processed the export: read the Globalnet logs ({logs}).",
                )
            elif not (gip.get("status") or {}).get("allocatedIP"):
                cond = _conditions(gip).get("Allocated") or {}
                found.fail(
                    f"GlobalIngressIP {qualname(gip)} for Service {ns_svc}/{name} has no allocated IP{_quote(cond.get('message'))}",
                    f"Check that the global CIDR has free addresses and read the Globalnet logs ({logs}).",
                )
            else:
                allocated[f"{ns_svc}/{name}"] = gip["status"]["allocatedIP"]
        return found.outcome(
            self,
            f"cluster egress IPs {', '.join(egress_ips)} allocated; {len(allocated)} exported Service(s) have global IPs",
            global_cidrs=settings.global_cidrs,
            egress_ips=egress_ips,
            ingress_ips=allocated,
        )


class ServiceExports(Check):
    """Every ServiceExport is Valid and Ready (or legacy Synced), without Conflict, and its Service exists."""

    id = "service-exports"
    title = "ServiceExports valid and ready"
    tags = frozenset({"passive", "submariner"})
    providers = SUBMARINER
    reads = reads((R.SERVICE_EXPORTS, R.SERVICES), facts.SUBMARINER_SETTINGS_READS)
    docs = SERVICE_DISCOVERY_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        if view.optional(R.SERVICE_EXPORTS) is None:
            return self.skip("serviceexports.multicluster.x-k8s.io CRD not installed")
        ns = facts.submariner_namespace(view)
        agent_logs = f"kubectl -n {ns} logs deploy/{LIGHTHOUSE_AGENT}"
        found = Findings()
        exports = _exported_services(view)
        if not exports:
            return self.skip(f"no ServiceExport in {view.name}: nothing is exported from it")
        states: dict[str, Any] = {}
        for exp, svc in exports:
            name = qualname(exp)
            conds = _conditions(exp)
            states[name] = {t: c.get("status") for t, c in conds.items()}
            if svc is None:
                found.fail(
                    f"ServiceExport {name} exports a Service that does not exist",
                    f"Create Service {name} or delete the ServiceExport (kubectl -n {meta(exp).get('namespace')} delete serviceexport {meta(exp).get('name')}).",
                )
                continue
            valid = conds.get("Valid")
            if valid is not None and valid.get("status") != "True":
                found.fail(
                    f"ServiceExport {name} is not Valid ({valid.get('reason') or valid.get('status')}){_quote(valid.get('message'))}",
                    f"Fix what the Valid condition says on Service {name} (e.g. its type: ExternalName cannot be exported), then check the Lighthouse agent logs ({agent_logs}).",
                )
                continue
            conflict = conds.get("Conflict")
            if conflict is not None and conflict.get("status") == "True":
                found.fail(
                    f"ServiceExport {name} is in Conflict ({conflict.get('reason')}){_quote(conflict.get('message'))}",
                    f"Make the Service {name} the same (ports, type) in every cluster that exports it.",
                )
                continue
            ready = conds.get("Ready") or conds.get("Synced")
            if valid is None and ready is None:
                found.fail(
                    f"ServiceExport {name} has no status conditions: the Lighthouse agent has not processed it",
                    f"Check that Deployment {ns}/{LIGHTHOUSE_AGENT} runs and read its logs ({agent_logs}).",
                )
            elif ready is None or ready.get("status") != "True":
                found.fail(
                    f"ServiceExport {name} is not Ready" + (f" ({ready.get('reason')}){_quote(ready.get('message'))}" if ready else ""),
                    f"The export has not reached the broker: read the Lighthouse agent logs ({agent_logs}).",
                )
        ok = f"{len(exports)} ServiceExport(s) Valid and Ready: {', '.join(qualname(e) for e, _ in exports)}"
        return found.outcome(self, ok, exports=states)


class ServiceImports(Check):
    """Every service exported in A has an aggregated ServiceImport `<ns>/<svc>` in B listing A."""

    id = "service-imports"
    title = "Exported services imported by the peer"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads((R.SERVICE_EXPORTS, R.SERVICE_IMPORTS, R.NAMESPACES, R.SERVICES), facts.SUBMARINER_SETTINGS_READS)
    docs = SERVICE_DISCOVERY_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        a, b = ctx.a, ctx.b
        exports = a.optional(R.SERVICE_EXPORTS)
        if exports is None:
            return self.skip(f"serviceexports.multicluster.x-k8s.io CRD not installed in {a.name}")
        if not exports:
            return self.skip(f"{a.name} exports no service: nothing to import in {b.name}")
        imports = b.optional(R.SERVICE_IMPORTS)
        if imports is None:
            return self.skip(f"serviceimports.multicluster.x-k8s.io CRD not installed in {b.name}")
        a_id = facts.cluster_id_of(a)
        namespaces = {meta(n).get("name") for n in b.list(R.NAMESPACES)}
        ns_b = facts.submariner_namespace(b)
        found = Findings()
        listed: dict[str, list[str]] = {}
        for exp in sorted(exports, key=qualname):
            ns, name = meta(exp).get("namespace"), meta(exp).get("name")
            imp = next((i for i in imports if meta(i).get("namespace") == ns and meta(i).get("name") == name), None)
            if imp is None:
                if ns not in namespaces:
                    found.fail(
                        f"no ServiceImport {ns}/{name} in {b.name}: namespace {ns} does not exist there",
                        f"Create namespace {ns} in {b.name} (kubectl create namespace {ns}): Lighthouse imports services only into existing namespaces.",
                    )
                else:
                    found.fail(
                        f"no ServiceImport {ns}/{name} in {b.name} for the service exported by {a.name}",
                        f"Check that the ServiceExport {ns}/{name} in {a.name} is Ready and read the Lighthouse agent logs in both "
                        f"clusters (kubectl -n {ns_b} logs deploy/{LIGHTHOUSE_AGENT}).",
                    )
                continue
            clusters = [str(c.get("cluster")) for c in ((imp.get("status") or {}).get("clusters") or [])]
            listed[qualname(imp)] = clusters
            if a_id not in clusters:
                found.fail(
                    f"ServiceImport {qualname(imp)} in {b.name} lists clusters [{', '.join(clusters)}] but not {a_id}",
                    f"The export from {a.name} has not reached {b.name}: read the Lighthouse agent logs in both clusters "
                    f"(kubectl -n {ns_b} logs deploy/{LIGHTHOUSE_AGENT}).",
                )
        return found.outcome(
            self,
            f"{len(exports)} service(s) exported by {a.name} imported in {b.name}: {', '.join(sorted(listed))}",
            imports=listed,
        )

