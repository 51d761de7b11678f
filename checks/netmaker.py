"""Netmaker's own state: netclient-deployment (the netclient DaemonSet, netclient-gateway and servicex)."""

from __future__ import annotations

from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import cluster, netmaker, objects
from mcdiag.facts.objects import agent_problem, daemonset_wants, labels, meta, workload_pods, workload_problem
from mcdiag.gather import resources as R
from mcdiag.model import Check, CheckContext, Outcome, reads

NETMAK8S_DOCS = netmaker.NETMAK8S_DOCS


class NetclientDeployment(Check):
    """The netclient DaemonSet is ready on every node, netclient-gateway runs on a gateway=true node, servicex is up.

    Reads every node, whole (which nodes the DaemonSet should run on depends on their labels
    and taints), and the pods of netmak8s's workloads by their ``app`` labels (one netclient pod
    per node): both grow with the nodes. Only on Netmaker clusters.
    """

    id = "netclient-deployment"
    depends = ("gateway-nodes",)
    title = "Netmaker netclient deployment"
    tags = frozenset({"passive", "netmaker"})
    providers = frozenset({"netmaker"})
    reads = reads(netmaker.NETMAKER_READS, netmaker.SERVICEX_DEPLOYMENTS, (netmaker.NETMAKER_PODS, R.NODES), cluster.PROVIDER_READS)
    hint = "Inspect the failing pods (kubectl describe pod / kubectl logs) and re-apply the netmak8s manifests."
    docs = NETMAK8S_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        nodes = view.list(R.NODES)
        pods = view.list(netmaker.NETMAKER_PODS)
        fails: list[tuple[str, str]] = []  # (sentence, hint)
        warns: list[tuple[str, str]] = []
        said: list[str] = []
        details: dict[str, Any] = {}

        # 1. netclient DaemonSet(s): a READY pod on every node they should run on.
        for ds in view.list(netmaker.NETCLIENT_DAEMONSETS):
            name = objects.qualname(ds)
            mine = workload_pods(ds, pods)
            wanted = [n for n in nodes if daemonset_wants(ds, n)]
            bad: dict[str, str] = {}
            for node in wanted:
                node_name = meta(node).get("name")
                on_node = [p for p in mine if (p.get("spec") or {}).get("nodeName") == node_name]
                if not on_node:
                    bad[node_name] = "no pod"
                    continue
                problems = [agent_problem(p) for p in on_node]
                if all(problems):
                    bad[node_name] = problems[0]
            ready = len(wanted) - len(bad)
            details[name] = {"nodes": len(wanted), "ready": ready, "not_ready": bad, "network": netmaker.workload_network(ds)}
            if not wanted:
                fails.append((f"DaemonSet {name} selects none of the {len(nodes)} node(s)",
                              "Fix the DaemonSet's nodeSelector/affinity/tolerations so netclient runs on every node."))
            elif bad:
                listed = "; ".join(f"{n}: {why}" for n, why in sorted(bad.items()))
                fails.append((f"DaemonSet {name} is ready on {ready}/{len(wanted)} node(s) ({listed})",
                              "See why with kubectl describe pod / kubectl logs on those nodes (WireGuard installed? "
                              "Netmaker server reachable? access token valid?), then delete the pods to retry."))
            else:
                subset = f" of {len(nodes)}" if len(wanted) < len(nodes) else ""
                said.append(f"{name} ready on {ready}{subset} node(s)")
            self._restarts(mine, name, warns)

        # 2. netclient-gateway Deployment: available, its pod on a gateway=true node, in the peers' networks.
        gateway_nodes = sorted(meta(n).get("name") for n in nodes if labels(n).get("gateway") == "true")
        details["gateway_nodes"] = gateway_nodes
        gateways = view.list(netmaker.NETCLIENT_GATEWAY_DEPLOYMENTS)
        if not gateway_nodes:
            fails.append(("no node is labelled gateway=true",
                          "Label the node that is to be the egress gateway: kubectl label node NODE gateway=true."))
        if not gateways:
            fails.append(("no Deployment app=netclient-gateway: other clusters cannot reach this cluster's pods and services",
                          "Apply netclient-gateway.yaml with the OTHER cluster's network name and access token."))
        gateway_networks: list[str] = []
        for dep in gateways:
            name = objects.qualname(dep)
            network = netmaker.workload_network(dep)
            if network:
                gateway_networks.append(network)
            problem = workload_problem(dep)
            mine = workload_pods(dep, pods)
            running = [p for p in mine if not agent_problem(p)]
            placed = sorted({(p.get("spec") or {}).get("nodeName") or "?" for p in running})
            details[name] = {"problem": problem, "nodes": placed, "network": network}
            crashing = [why for p in mine if (why := agent_problem(p))]
            if problem or not running:
                why = f" ({'; '.join(crashing)})" if crashing else ""
                fails.append(((problem or f"Deployment {name} has no ready pod") + why, self.hint))
                continue
            off = [n for n in placed if n not in gateway_nodes]
            if off:
                fails.append((f"{name} runs on {', '.join(off)}, which is not labelled gateway=true",
                              "Label the intended gateway node gateway=true (the manifest's affinity is only preferred) "
                              f"and delete the {name} pod so it is rescheduled there."))
            else:
                said.append(f"{name} available on gateway node {', '.join(placed)}" + (f" (network {network})" if network else ""))
            if crashing:
                warns.append((f"{name}: {'; '.join(crashing)}", self.hint))
            self._restarts(mine, name, warns)

        own = netmaker.cluster_networks(view)
        details["networks"] = own
        details["gateway_networks"] = sorted(gateway_networks)
        for network in sorted(set(gateway_networks) & set(own)):
            fails.append((f"netclient-gateway joins {network}, this cluster's own network, instead of the other cluster's",
                          "Re-apply netclient-gateway.yaml with the OTHER cluster's network name and access token."))
        if gateway_networks:
            for peer in ctx.peers(view):
                peer_nets = self._peer_networks(peer)
                missing = [n for n in peer_nets if n not in gateway_networks]
                if peer_nets and missing:
                    fails.append((f"no netclient-gateway joins network {', '.join(missing)} of cluster {peer.name}: "
                                  f"pods there cannot reach {view.name}",
                                  f"Deploy a netclient-gateway here with the network name and token of {', '.join(missing)}."))

        # 3. servicex (service discovery), when present.
        for dep in netmaker.servicex_deployments(view):
            name = objects.qualname(dep)
            problem = workload_problem(dep)
            mine = workload_pods(dep, pods)
            crashing = [why for p in mine if (why := agent_problem(p))]
            details[name] = {"problem": problem}
            if problem or (mine and len(crashing) == len(mine)):
                fails.append((problem or f"Deployment {name} is not available: {'; '.join(crashing)}",
                              "Check the servicex pod's logs: the Netmaker API URL and master key must be right."))
            else:
                said.append(f"{name} available")
                if crashing:
                    warns.append((f"{name}: {'; '.join(crashing)}", self.hint))
            self._restarts(mine, name, warns)

        if fails:
            return self.fail("; ".join(s for s, _ in fails), hint=fails[0][1], **details)
        if warns:
            return self.warn("; ".join(s for s, _ in warns), hint=warns[0][1], **details)
        return self.passed("; ".join(said) or "netclient is deployed", **details)

    @staticmethod
    def _restarts(pods: list[dict[str, Any]], owner: str, warns: list[tuple[str, str]]) -> None:
        states = [(p, objects.pod_state(p)) for p in pods]
        many = [f"{meta(p).get('name')} ({st.restarts})" for p, st in states if st.restarts >= objects.RESTART_WARN and not agent_problem(p)]
        if many:
            warns.append((f"{owner} pods restart often: {', '.join(many)}",
                          "Look at the previous container logs (kubectl logs --previous) for why it restarts."))

    @staticmethod
    def _peer_networks(peer: Any) -> list[str]:
        if peer.unreachable:
            return []
        try:
            if peer.fact(cluster.detect_provider) != "netmaker":
                return []
            return netmaker.cluster_networks(peer)
        except ResourceUnavailable:
            return []
