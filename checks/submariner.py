"""Submariner's own state: submariner-deployment, submariner-endpoints, broker-clusters, gateway-connections,
routeagent-connections, cluster-id, submariner-versions, cable-driver.
"""

from __future__ import annotations

import re
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import cluster, objects, submariner
from mcdiag.facts.objects import meta, qualname
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, CheckContext, Findings, Outcome, Scope, reads

SUBMARINER = frozenset({"submariner"})


TROUBLESHOOTING_DOCS = "https://submariner.io/operations/troubleshooting/"


GATEWAY_DAEMONSET = "submariner-gateway"


ROUTEAGENT_DAEMONSET = "submariner-routeagent"


METRICS_DAEMONSET = "submariner-metrics-proxy"


GLOBALNET_DAEMONSET = "submariner-globalnet"


LIGHTHOUSE_AGENT = "submariner-lighthouse-agent"


LIGHTHOUSE_COREDNS = "submariner-lighthouse-coredns"


OPERATOR_DEPLOYMENT = "submariner-operator"


BROKER_CRDS = (
    "clusters.submariner.io",
    "endpoints.submariner.io",
    "gateways.submariner.io",
    "serviceexports.multicluster.x-k8s.io",
    "serviceimports.multicluster.x-k8s.io",
)
#: What each broker CRD serves: a CRD is there when the API serves its kind (a list of it answers).
BROKER_KINDS = (R.SUBMARINER_CLUSTERS, R.SUBMARINER_ENDPOINTS, R.SUBMARINER_GATEWAYS, R.SERVICE_EXPORTS, R.SERVICE_IMPORTS)


def expected_peers(ctx: CheckContext, view: ClusterView) -> tuple[dict[str, str], list[str]]:
    """Return the Submariner cluster ids of every other given cluster (``{id: mcdiag name}``) and notes on those left out."""
    peers: dict[str, str] = {}
    notes: list[str] = []
    for peer in ctx.peers(view):
        if peer.unreachable:
            notes.append(f"{peer.name} not compared: unreachable")
            continue
        try:
            provider = peer.fact(cluster.detect_provider)
        except ResourceUnavailable as exc:
            notes.append(f"{peer.name} not compared: {exc.message}")
            continue
        if provider != "submariner":
            notes.append(f"{peer.name} not compared: provider {provider}")
            continue
        peers[submariner.cluster_id_of(peer)] = peer.name
    return peers, notes


def who(cluster_id: str, name: str) -> str:
    """``cluster1``, or ``cluster1 (east)`` when the mcdiag name differs from the Submariner cluster id."""
    return cluster_id if cluster_id == name else f"{cluster_id} ({name})"


def _quote(message: Any) -> str:
    return f': "{message}"' if message else ""


class SubmarinerDeployment(Check):
    """Submariner's DaemonSets and Deployments have every pod ready; exactly one gateway pod is active."""

    id = "submariner-deployment"
    title = "Submariner components ready"
    tags = frozenset({"passive", "submariner"})
    providers = SUBMARINER
    #: Every pod of Submariner's namespace is judged: a pod can be not Ready while its DaemonSet's status says
    #: otherwise (stale). The route agent's pods (one per node) are read as rows of kubectl's columns (READY,
    #: STATUS, RESTARTS, NODE: what decides), every other pod (a handful) whole.
    reads = reads((submariner.SUBMARINER_COMPONENT_PODS, submariner.ROUTEAGENT_POD_ROWS, submariner.SUBMARINER_DAEMONSETS,
                   submariner.SUBMARINER_DEPLOYMENTS), submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    hint = "Inspect the failing pods (kubectl -n submariner-operator describe pod NAME; kubectl logs NAME --previous)."
    docs = TROUBLESHOOTING_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        settings = view.fact(submariner.submariner_settings)
        ns = settings.namespace
        pods = view.list(submariner.here(view, submariner.SUBMARINER_COMPONENT_PODS))
        agent_rows = view.list(submariner.here(view, submariner.ROUTEAGENT_POD_ROWS))
        daemonsets = {meta(d).get("name"): d for d in view.list(submariner.here(view, submariner.SUBMARINER_DAEMONSETS))}
        deployments = {meta(d).get("name"): d for d in view.list(submariner.here(view, submariner.SUBMARINER_DEPLOYMENTS))}
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
                if kind == "DaemonSet" and name == ROUTEAGENT_DAEMONSET:  # its pods are rows (and any it owns unlabelled)
                    problems, warnings = objects.rows_readiness(obj, agent_rows, pods)
                    seen_pods.update(qualname(r) for r in agent_rows)
                else:
                    problems, warnings = objects.workload_readiness(obj, pods)
                for p in problems:
                    found.fail(p, pod_hint)
                for w in warnings:
                    found.warn(w + " (unstable)", pod_hint)
                seen_pods.update(qualname(p) for p in objects.workload_pods(obj, pods))
        # Pods no workload above owns, and the route agent's rows when its DaemonSet is missing.
        problems, warnings = objects.sort_states(
            [objects.pod_state(p) for p in pods if qualname(p) not in seen_pods]
            + [objects.row_state(r) for r in agent_rows if qualname(r) not in seen_pods])
        for p in problems:
            found.fail(p, pod_hint)
        for w in warnings:
            found.warn(w + " (unstable)", pod_hint)
        active = sorted(
            qualname(p)
            for p in pods
            if objects.labels(p).get("gateway.submariner.io/status") == "active"
            and objects.labels(p).get("app", GATEWAY_DAEMONSET) == GATEWAY_DAEMONSET
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
            f"{len(checked)} Submariner workloads ready in {ns} ({len(pods) + len(agent_rows)} pods Running and Ready); "
            f"active gateway pod {', '.join(active)}",
            workloads=checked,
            pods=len(pods) + len(agent_rows),
            active_gateway_pods=active,
            globalnet=settings.globalnet,
            service_discovery=settings.service_discovery,
        )


class SubmarinerEndpoints(Check):
    """Exactly one local Endpoint, a remote Endpoint for every other given cluster, no shared public IP with NAT."""

    id = "submariner-endpoints"
    depends = ("submariner-deployment",)
    title = "Submariner Endpoints"
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads((R.SUBMARINER_ENDPOINTS,), submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    docs = TROUBLESHOOTING_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        items = view.optional(R.SUBMARINER_ENDPOINTS)
        if items is None:
            return self.skip("endpoints.submariner.io CRD not installed")
        ns = submariner.submariner_namespace(view)
        local_id = submariner.cluster_id_of(view)
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
        ok = f"local Endpoint {qualname(loc) if loc else '?'} ({submariner.endpoint_ip(loc.get('spec') or {})})"
        if peers:
            ok += f"; remote Endpoints for {', '.join(sorted(peers))}"
        return found.outcome(self, ok, endpoints=summary, expected_peers=sorted(peers), notes=notes)


class BrokerClusters(Check):
    """On the broker cluster: every joined cluster has a Cluster object, and the broker CRDs exist."""

    id = "broker-clusters"
    title = "Broker: joined clusters and CRDs"
    tags = frozenset({"passive", "submariner"})
    # Provider none too: a broker-only cluster (helm broker chart, no Submariner CR) is still checked.
    providers = frozenset({"submariner", "none"})
    reads = reads((submariner.BROKER_NAMESPACE,), cluster.PROVIDER_READS)
    #: On the broker only: the kinds its CRDs serve (a CRD is installed when its kind is served; the CRD objects
    #: themselves are large and need a cluster-wide permission), and its Cluster objects among them.
    reads_if_needed = BROKER_KINDS
    docs = "https://submariner.io/getting-started/architecture/broker/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        if not view.list(submariner.BROKER_NAMESPACE):
            return self.skip(f"no broker here (namespace {submariner.BROKER_NS} absent)")
        found = Findings()
        missing_crds = [name for name, kind in zip(BROKER_CRDS, BROKER_KINDS, strict=True) if view.optional(kind) is None]
        if missing_crds:
            found.fail(
                f"broker CRD(s) missing: {', '.join(missing_crds)}",
                "Re-install the broker (helm upgrade --install submariner-k8s-broker submariner-latest/submariner-k8s-broker "
                f"-n {submariner.BROKER_NS}, or subctl deploy-broker) so that its CRDs are created.",
            )
        clusters = view.optional(R.SUBMARINER_CLUSTERS)  # None: reported above as a missing CRD
        joined: list[str] = []
        if clusters is not None:
            joined = sorted(
                str((c.get("spec") or {}).get("cluster_id") or meta(c).get("name"))
                for c in clusters
                if meta(c).get("namespace") == submariner.BROKER_NS
            )
        expected: dict[str, str] = {}
        notes: list[str] = []
        if view.fact(cluster.detect_provider) == "submariner":
            expected[submariner.cluster_id_of(view)] = view.name
        peers, notes = expected_peers(ctx, view)
        expected.update(peers)
        if clusters is not None:
            for cid, name in sorted(expected.items()):
                if cid not in joined:
                    found.fail(
                        f"cluster {who(cid, name)} has no clusters.submariner.io in {submariner.BROKER_NS}",
                        f"Join {name} to this broker (check its Submariner CR's broker, brokerK8sApiServer and "
                        f"brokerK8sRemoteNamespace) and read its gateway logs for broker errors.",
                    )
        return found.outcome(
            self,
            f"broker {submariner.BROKER_NS}: clusters {', '.join(joined) or 'none'} joined; broker CRDs present",
            joined=joined,
            expected=sorted(expected),
            notes=notes,
        )


class GatewayConnections(Check):
    """An active Gateway exists and has a `connected` connection to every other given cluster."""

    id = "gateway-connections"
    depends = ("cable-driver", "tunnel-firewall", "gateway-nodes", "submariner-deployment")
    title = "Gateway connections"
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads(submariner.GATEWAY_READS, submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    docs = TROUBLESHOOTING_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        gateways = view.optional(R.SUBMARINER_GATEWAYS)
        if gateways is None:
            return self.skip("gateways.submariner.io CRD not installed")
        ns = submariner.submariner_namespace(view)
        logs = f"kubectl -n {ns} logs ds/{GATEWAY_DAEMONSET}"
        active = view.fact(submariner.active_gateway)
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
            where = f"cable {ep.get('cable_name')}, {conn.get('usingIP') or submariner.endpoint_ip(ep)}"
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
    depends = ("gateway-connections", "vxlan-firewall", "submariner-deployment")
    title = "Route agent connections"
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads((R.SUBMARINER_ROUTEAGENTS, submariner.GATEWAY_NODES), submariner.GATEWAY_READS,
                  submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    docs = "https://submariner.io/getting-started/architecture/route-agent/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        agents = view.optional(R.SUBMARINER_ROUTEAGENTS)
        if agents is None:
            return self.skip("routeagents.submariner.io CRD not installed")
        ns = submariner.submariner_namespace(view)
        agents = [a for a in agents if meta(a).get("namespace") in (ns, None)]
        if not agents:
            return self.warn(
                f"no RouteAgent objects in {ns}: the route agents report nothing",
                hint=f"Check that DaemonSet {ns}/{ROUTEAGENT_DAEMONSET} runs on every node and read its logs.",
            )
        gateway_nodes = {
            meta(n).get("name") for n in view.list(submariner.GATEWAY_NODES) if objects.labels(n).get("submariner.io/gateway") == "true"
        }
        active = view.fact(submariner.active_gateway)
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


#: A DNS-1123 label: what Lighthouse needs a cluster id to be (it builds ``CLUSTERID.SVC.NS.svc.clusterset.local``).
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def cluster_id_problem(cluster_id: str) -> str | None:
    """Why ``cluster_id`` is not a valid DNS-1123 label, or ``None``."""
    if len(cluster_id) > 63:
        return f"is {len(cluster_id)} characters long (at most 63)"
    if DNS1123_LABEL.fullmatch(cluster_id):
        return None
    reasons = []
    if "." in cluster_id:
        reasons.append("contains dots (a label has none: Lighthouse's CLUSTERID.SVC.NS.svc.clusterset.local would gain a level)")
    if cluster_id != cluster_id.lower():
        reasons.append("has upper-case letters")
    if any(not (c.isalnum() or c in "-.") for c in cluster_id):
        reasons.append("has characters other than a-z, 0-9 and -")
    if cluster_id[:1] == "-" or cluster_id[-1:] == "-":
        reasons.append("starts or ends with -")
    return "; ".join(reasons) or "is not a DNS-1123 label"


class ClusterId(Check):
    """The Submariner cluster ID is a valid DNS-1123 label (Lighthouse builds DNS names from it) and unique among the given clusters."""

    id = "cluster-id"
    title = "Submariner cluster ID"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER
    reads = reads(submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    hint = ("Rejoin the cluster with a cluster ID that is a lowercase DNS-1123 label unique in the cluster set "
            "(subctl join --clusterid NAME; with Helm, submariner.clusterId).")
    docs = "https://submariner.io/operations/deployment/subctl/#join"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        settings = view.fact(submariner.submariner_settings)
        if not settings.installed:
            return self.skip("no Submariner CR: the cluster ID is chosen when the cluster joins")
        cid = settings.cluster_id
        if not cid:
            return self.fail(f"the Submariner CR {settings.namespace}/submariner has no clusterID (spec or status)")
        found = Findings()
        problem = cluster_id_problem(str(cid))
        if problem:
            found.fail(f"cluster ID {cid!r} {problem}: Lighthouse cannot build DNS names from it", self.hint)
        same = []
        for peer in ctx.peers(view):
            if peer.unreachable:
                continue
            try:
                if peer.fact(cluster.detect_provider) != "submariner":
                    continue
                other = peer.fact(submariner.submariner_settings).cluster_id
            except ResourceUnavailable:
                continue
            if other == cid:
                same.append(peer.name)
        if same:
            found.fail(f"cluster ID {cid!r} is also the cluster ID of {', '.join(same)}: the broker keeps one Endpoint per ID",
                       "Give every cluster its own cluster ID: rejoin one of them with subctl join --clusterid NEW-NAME.")
        return found.outcome(self, f"cluster ID {cid!r} is a valid DNS-1123 label, unique among the given clusters",
                             cluster_id=cid, same_id=same)


class SubmarinerVersions(Check):
    """The Submariner components run the same version within the cluster and as the other given clusters."""

    id = "submariner-versions"
    title = "Submariner versions"
    tags = frozenset({"passive", "submariner"})
    providers = SUBMARINER
    reads = reads(submariner.VERSION_READS, submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    hint = "Upgrade every cluster to the same Submariner release (subctl upgrade, or helm upgrade of the operator chart)."
    docs = "https://submariner.io/operations/upgrading/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        mine = view.fact(submariner.component_versions)
        if not mine:
            return self.skip(f"no Submariner component found in {submariner.submariner_namespace(view)}")
        found = Findings()
        known = {c: v for c, v in mine.items() if v}
        versions = sorted(set(known.values()))
        if len(versions) > 1:
            by = "; ".join(f"{v}: {', '.join(sorted(c for c, x in known.items() if x == v))}" for v in versions)
            found.warn(f"the Submariner components of {view.name} run different versions ({by})",
                       "Let the operator roll every component to one version (subctl upgrade), or fix the images set by hand.")
        peers: dict[str, list[str]] = {}
        for peer in ctx.peers(view):
            if peer.unreachable:
                continue
            try:
                if peer.fact(cluster.detect_provider) != "submariner":
                    continue
                theirs = sorted({v for v in peer.fact(submariner.component_versions).values() if v})
            except ResourceUnavailable:
                continue
            if theirs:
                peers[peer.name] = theirs
        skew = {name: v for name, v in peers.items() if v != versions}
        if skew and versions:
            found.warn(f"{view.name} runs Submariner {', '.join(versions)}, "
                       + ", ".join(f"{name} runs {', '.join(v)}" for name, v in sorted(skew.items())), self.hint)
        unknown = sorted(c for c, v in mine.items() if not v)
        ok = f"every Submariner component runs {', '.join(versions) or 'an unversioned image'}"
        ok += f" (as {', '.join(sorted(peers))})" if peers and not skew else ""
        return found.outcome(self, ok, components=mine, peers=peers, unversioned=unknown)


class CableDriver(Check):
    """Both clusters' gateways use the same cable driver (a libreswan cluster and a wireguard cluster never connect)."""

    id = "cable-driver"
    title = "Cable driver"
    scope = Scope.PAIR
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads(submariner.ENDPOINT_READS, submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    depends = ("submariner-endpoints",)
    hint = "Join every cluster with the same cable driver (subctl join --cable-driver NAME; with Helm, submariner.cableDriver)."
    docs = "https://submariner.io/getting-started/architecture/gateway-engine/"

    def run(self, ctx: CheckContext) -> Outcome:
        (da, sa), (db, sb) = ctx.a.fact(submariner.cable_driver), ctx.b.fact(submariner.cable_driver)
        details = {ctx.a.name: {"driver": da, "source": sa}, ctx.b.name: {"driver": db, "source": sb}}
        if da is None or db is None:
            missing = [v.name for v, d in ((ctx.a, da), (ctx.b, db)) if d is None]
            return self.skip(f"cannot tell the cable driver of {', '.join(missing)} (no Submariner CR, no local Endpoint)", **details)
        if da != db:
            return self.fail(f"{ctx.a.name} uses cable driver {da} ({sa}), {ctx.b.name} uses {db} ({sb}): "
                             "their gateways can never connect", **details)
        return self.passed(f"both use cable driver {da}", **details)
