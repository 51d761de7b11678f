"""Netmaker: the netclient DaemonSet, the netclient-gateway Deployment and servicex."""

from __future__ import annotations

from typing import Any

from mcdiag import facts
from mcdiag import resources as R
from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import labels, meta
from mcdiag.model import Check, CheckContext, Outcome

NETMAK8S_DOCS = "https://github.com/gravitl/netmak8s"
#: Waiting reasons that mean a container will not come up by itself.
#: Taints every DaemonSet pod tolerates (the DaemonSet controller adds these tolerations).
_DAEMONSET_TOLERATED = (
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/network-unavailable",
)


# ---------------------------------------------------------------------------------------------
# Pods, selectors and scheduling (plain functions of API objects)
# ---------------------------------------------------------------------------------------------
def _expressions_match(have: dict[str, str], expressions: list[dict[str, Any]]) -> bool:
    for expr in expressions or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        if op == "In" and have.get(key) not in values:
            return False
        if op == "NotIn" and key in have and have[key] in values:
            return False
        if op == "Exists" and key not in have:
            return False
        if op == "DoesNotExist" and key in have:
            return False
    return True


def selects(selector: dict[str, Any] | None, obj_labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (``matchLabels`` + ``matchExpressions``) selects these labels."""
    selector = selector or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return False  # an empty selector of a workload selects nothing useful
    if any(obj_labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return _expressions_match(obj_labels, selector.get("matchExpressions") or [])


def pods_of(workload: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the pods a DaemonSet/Deployment selects in its namespace."""
    ns = meta(workload).get("namespace")
    selector = (workload.get("spec") or {}).get("selector")
    return [p for p in pods if meta(p).get("namespace") == ns and selects(selector, labels(p))]


def _template_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return (((workload.get("spec") or {}).get("template") or {}).get("spec")) or {}


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol.get("key") == taint.get("key")):
            return True
        if tol.get("key") == taint.get("key") and str(tol.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


def daemonset_wants(ds: dict[str, Any], node: dict[str, Any]) -> bool:
    """Whether ``ds`` should run a pod on ``node`` (nodeSelector, required node affinity, taints)."""
    spec = _template_spec(ds)
    node_labels = labels(node)
    if any(node_labels.get(k) != str(v) for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        fields = {"metadata.name": str(meta(node).get("name"))}
        if not any(
            _expressions_match(node_labels, t.get("matchExpressions") or [])
            and _expressions_match(fields, t.get("matchFields") or [])
            for t in terms
        ):
            return False
    tolerations = list(spec.get("tolerations") or [])
    tolerations += [{"key": k, "operator": "Exists"} for k in _DAEMONSET_TOLERATED]
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
            return False
    return True


def pod_problem(pod: dict[str, Any]) -> str | None:
    """Why a netclient pod is not up (``facts.pod_state``'s verdict; CrashLoopBackOff counts even while
    Running), or ``None``. netclient pods are long-running agents: any phase but Running is a problem.
    """
    state = facts.pod_state(pod)
    if state.problem:
        return state.problem
    if state.phase != "Running" or not state.ready:
        return state.warning or f"pod {state.name} is in phase {state.phase}"
    return None


def deployment_problem(dep: dict[str, Any]) -> str | None:
    """Why a Deployment is not available, or ``None``."""
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    want = spec.get("replicas", 1)
    if want == 0:
        return "scaled to 0 replicas"
    available = int(status.get("availableReplicas") or 0)
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"), None)
    if available < want or (cond is not None and cond.get("status") != "True"):
        why = (cond or {}).get("message") or (cond or {}).get("reason")
        return f"{available}/{want} replicas available" + (f" ({why})" if why else "")
    return None


def env_value(workload: dict[str, Any], name: str) -> str | None:
    """Return the literal value of env var ``name`` in a workload's (or pod's) containers."""
    spec = _template_spec(workload) if "template" in (workload.get("spec") or {}) else (workload.get("spec") or {})
    for container in spec.get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == name and isinstance(env.get("value"), str):
                return env["value"]
    return None


def netclient_networks(view: Any) -> list[str]:
    """Netmaker networks the cluster's netclient DaemonSets join (env ``NETWORK``; empty when only a token is set)."""
    found = [env_value(ds, "NETWORK") for ds in view.select(R.DAEMONSETS, app="netclient")]
    return sorted({n for n in found if n})


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------
class NetclientDeployment(Check):
    """The netclient DaemonSet is ready on every node, netclient-gateway runs on a gateway=true node, servicex is up."""

    id = "netclient-deployment"
    title = "Netmaker netclient deployment"
    tags = frozenset({"passive", "netmaker"})
    providers = frozenset({"netmaker"})
    reads = (R.DAEMONSETS, R.DEPLOYMENTS, R.PODS, R.NODES) + facts.PROVIDER_READS
    hint = "Inspect the failing pods (kubectl describe pod / kubectl logs) and re-apply the netmak8s manifests."
    docs = NETMAK8S_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        nodes = view.list(R.NODES)
        pods = view.list(R.PODS)
        fails: list[tuple[str, str]] = []  # (sentence, hint)
        warns: list[tuple[str, str]] = []
        said: list[str] = []
        details: dict[str, Any] = {}

        # 1. netclient DaemonSet(s): a READY pod on every node they should run on.
        for ds in view.select(R.DAEMONSETS, app="netclient"):
            name = facts.qualname(ds)
            mine = pods_of(ds, pods)
            wanted = [n for n in nodes if daemonset_wants(ds, n)]
            bad: dict[str, str] = {}
            for node in wanted:
                node_name = meta(node).get("name")
                on_node = [p for p in mine if (p.get("spec") or {}).get("nodeName") == node_name]
                if not on_node:
                    bad[node_name] = "no pod"
                    continue
                problems = [pod_problem(p) for p in on_node]
                if all(problems):
                    bad[node_name] = problems[0]
            ready = len(wanted) - len(bad)
            details[name] = {"nodes": len(wanted), "ready": ready, "not_ready": bad, "network": env_value(ds, "NETWORK")}
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
        gateways = view.select(R.DEPLOYMENTS, app="netclient-gateway")
        if not gateway_nodes:
            fails.append(("no node is labelled gateway=true",
                          "Label the node that is to be the egress gateway: kubectl label node NODE gateway=true."))
        if not gateways:
            fails.append(("no Deployment app=netclient-gateway: other clusters cannot reach this cluster's pods and services",
                          "Apply netclient-gateway.yaml with the OTHER cluster's network name and access token."))
        gateway_networks: list[str] = []
        for dep in gateways:
            name = facts.qualname(dep)
            network = env_value(dep, "NETWORK")
            if network:
                gateway_networks.append(network)
            problem = deployment_problem(dep)
            mine = pods_of(dep, pods)
            running = [p for p in mine if not pod_problem(p)]
            placed = sorted({(p.get("spec") or {}).get("nodeName") or "?" for p in running})
            details[name] = {"problem": problem, "nodes": placed, "network": network}
            crashing = [why for p in mine if (why := pod_problem(p))]
            if problem or not running:
                what = f"is not available: {problem}" if problem else "has no ready pod"
                why = f" ({'; '.join(crashing)})" if crashing else ""
                fails.append((f"Deployment {name} {what}{why}", self.hint))
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

        own = netclient_networks(view)
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
        for dep in view.list(R.DEPLOYMENTS):
            if meta(dep).get("name") != "servicex" and labels(dep).get("app") != "servicex":
                continue
            name = facts.qualname(dep)
            problem = deployment_problem(dep)
            mine = pods_of(dep, pods)
            crashing = [why for p in mine if (why := pod_problem(p))]
            details[name] = {"problem": problem}
            if problem or (mine and len(crashing) == len(mine)):
                fails.append((f"Deployment {name} is not available: {problem or '; '.join(crashing)}",
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
        states = [(p, facts.pod_state(p)) for p in pods]
        many = [f"{meta(p).get('name')} ({st.restarts})" for p, st in states if st.restarts >= facts.RESTART_WARN and not pod_problem(p)]
        if many:
            warns.append((f"{owner} pods restart often: {', '.join(many)}",
                          "Look at the previous container logs (kubectl logs --previous) for why it restarts."))

    @staticmethod
    def _peer_networks(peer: Any) -> list[str]:
        if peer.unreachable:
            return []
        try:
            if peer.fact(facts.detect_provider) != "netmaker":
                return []
            return netclient_networks(peer)
        except ResourceUnavailable:
            return []
