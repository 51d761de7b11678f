"""Kubernetes object helpers: plain functions of API objects (dicts), shared by facts, checks and probes.

One helper per concept: an object's metadata, a container's arguments and env
values, a node's readiness and addresses, a label selector, a workload's pods
and whether they are ready (ready, not merely scheduled).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj.metadata`` (never ``None``)."""
    return obj.get("metadata") or {}


def labels(obj: dict[str, Any]) -> dict[str, str]:
    """``obj.metadata.labels`` (never ``None``)."""
    return meta(obj).get("labels") or {}


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    """``obj.metadata.annotations`` (never ``None``)."""
    return meta(obj).get("annotations") or {}


def qualname(obj: dict[str, Any]) -> str:
    """``namespace/name`` (or ``name``), for messages."""
    m = meta(obj)
    return f"{m['namespace']}/{m.get('name')}" if m.get("namespace") else str(m.get("name"))


def split_cidrs(value: Any) -> list[str]:
    """``"10.0.0.0/16,fd00::/64"`` or a list of them -> a list of strings, blanks dropped."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        out: list[str] = []
        for v in value:
            out.extend(split_cidrs(v))
        return out
    return [part.strip() for part in str(value).split(",") if part.strip()]


def container_args(pod_or_template: dict[str, Any]) -> list[str]:
    """Every command/args word of every container of a pod (or a pod template's spec holder)."""
    spec = pod_or_template.get("spec") or {}
    if "template" in spec:
        spec = (spec.get("template") or {}).get("spec") or {}
    words: list[str] = []
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for key in ("command", "args"):
            for word in container.get(key) or []:
                words.extend(shlex.split(str(word)) if " " in str(word) else [str(word)])
    return words


def flag_value(words: list[str], flag: str) -> str | None:
    """The value of ``--flag=value`` or ``--flag value`` in a list of words."""
    for i, word in enumerate(words):
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
        if word == flag and i + 1 < len(words):
            return words[i + 1]
    return None


def named(view: ClusterView, res: R.Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    """The object of kind ``res`` called ``name`` (in ``namespace``), or ``None``, by a query for that name alone.

    The view cuts it out of a broader query it already holds, else asks the API for that one
    object (``fieldSelector=metadata.name=NAME``); ``None`` too when the kind is not served.
    """
    query = (res.within(namespace) if namespace else res).named(name)
    return next(iter(view.optional(query) or []), None)


def config_map(view: ClusterView, name: str, namespace: str = "kube-system") -> dict[str, Any] | None:
    """A ConfigMap from the namespaces the view reads ConfigMaps in."""
    return view.find(R.core("configmaps", namespace), name, namespace)


#: Restarts from which a container is reported as unstable (warn).
RESTART_WARN = 5


@dataclass
class PodState:
    """How one pod is doing: ``problem`` (fail) and ``warning`` (warn) are sentences, or ``None``."""

    name: str
    node: str | None
    phase: str
    ready: bool
    restarts: int
    problem: str | None = None
    warning: str | None = None


def pod_state(pod: dict[str, Any]) -> PodState:
    """Judge a pod by its Ready condition and container states, not by its phase.

    A container waiting in ``CrashLoopBackOff`` (or ``ImagePullBackOff``, ``ErrImagePull``,
    ``CreateContainerConfigError``...) is a problem even while the phase is ``Running``;
    ``RESTART_WARN`` or more restarts is a warning.
    """
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    containers = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    state = PodState(qualname(pod), (pod.get("spec") or {}).get("nodeName"), phase, ready, restarts)
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            msg = f": {waiting['message']}" if waiting.get("message") else ""
            state.problem = (
                f"pod {state.name} container {c.get('name')} is waiting in {reason} "
                f"(phase {phase}, {c.get('restartCount') or 0} restarts){msg}"
            )
            return state
    if meta(pod).get("deletionTimestamp"):
        state.problem = f"pod {state.name} is terminating"
    elif phase == "Failed" and status.get("reason") == "Evicted":
        state.warning = f"pod {state.name} was evicted and left behind ({status.get('message') or 'Evicted'})"
    elif phase in ("Failed", "Unknown", "Pending"):
        state.problem = f"pod {state.name} is in phase {phase}" + (f" ({status['reason']})" if status.get("reason") else "")
    elif phase != "Succeeded" and not ready:
        cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        why = [w for w in (cond.get("reason"), cond.get("message")) if w]
        bad = [c.get("name") for c in containers if not c.get("ready") and c.get("name")]
        if bad:
            why.append(f"container {', '.join(bad)} not ready")
        state.problem = f"pod {state.name} is {phase} but not Ready" + (f" ({'; '.join(why)})" if why else "")
    elif restarts >= RESTART_WARN:
        state.warning = f"pod {state.name} has restarted {restarts} times"
    return state


#: STATUS values of a pod row that are no problem by themselves (READY and RESTARTS decide).
_ROW_FINE = frozenset({"Running", "Completed", "Succeeded"})
#: STATUS values of a pod row that mean its containers have not started yet.
_ROW_STARTING = frozenset({"Pending", "ContainerCreating", "PodInitializing"})


def _count(cell: Any) -> tuple[int, int] | None:
    """``(ready, total)`` of a READY cell (``1/2``), or ``None``."""
    ready, _, total = str(cell or "").partition("/")
    return (int(ready), int(total)) if ready.isdigit() and total.isdigit() else None


def row_restarts(cell: Any) -> int:
    """The restarts a RESTARTS cell counts (``6 (5m ago)`` is 6)."""
    head = str(cell if cell is not None else "").split(" ", 1)[0]
    return int(head) if head.isdigit() else 0


def row_state(row: dict[str, Any]) -> PodState:
    """Judge a pod by its row (kubectl's columns, :mod:`mcdiag.gather.table`), as :func:`pod_state` judges a pod.

    STATUS names what a container waits in (``CrashLoopBackOff``, ``ImagePullBackOff``...), an
    init step (``Init:0/1``, ``Init:Error``), ``Terminating``, ``Evicted`` (left behind: a warning)
    or a phase; a ``Running`` pod with fewer READY containers than it has (or a readiness gate
    not met) is not Ready; ``RESTART_WARN`` or more RESTARTS of a healthy pod is a warning.
    """
    cells = row.get("cells") or {}
    name = qualname(row)
    status = str(cells.get("Status") or "Unknown")
    node = cells.get("Node") if cells.get("Node") not in (None, "", "<none>") else None
    ready_count = _count(cells.get("Ready"))
    gates = _count(cells.get("Readiness Gates"))
    restarts = row_restarts(cells.get("Restarts"))
    ready = status in _ROW_FINE and (ready_count is None or ready_count[0] >= ready_count[1]) \
        and (gates is None or gates[0] >= gates[1])
    state = PodState(name, node, status, ready, restarts)
    where = f" on node {node}" if node else ""
    if status == "Terminating":
        state.problem = f"pod {name} is terminating"
    elif status == "Evicted":
        state.warning = f"pod {name} was evicted and left behind (Evicted)"
    elif status in _ROW_STARTING:
        state.problem = f"pod {name} is in phase Pending ({status}){where}"
    elif status in ("Completed", "Succeeded"):
        pass
    elif status != "Running":
        state.problem = (f"pod {name} is in {status} (READY {cells.get('Ready') or '?'}, "
                         f"{restarts} restarts){where}")
    elif not ready:
        why = f"{ready_count[0]} of {ready_count[1]} containers ready" if ready_count else "READY unknown"
        if gates is not None and gates[0] < gates[1]:
            why += f"; readiness gates {gates[0]}/{gates[1]}"
        state.problem = f"pod {name} is Running but not Ready ({why}){where}"
    elif restarts >= RESTART_WARN:
        state.warning = f"pod {name} has restarted {restarts} times"
    return state


def rows_readiness(
    workload: dict[str, Any], rows: list[dict[str, Any]], pods: list[dict[str, Any]] | None = None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a workload whose pods were read as rows (``rows``, all of them its pods):
    :func:`workload_readiness` on the whole ``pods`` it may also own, then each row's state.
    """
    problems, warnings = workload_readiness(workload, pods or [])
    more_problems, more_warnings = sort_states(row_state(row) for row in rows)
    return problems + more_problems, warnings + more_warnings


def workload_pods(workload: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods of a DaemonSet (owned directly) or a Deployment (through its ``NAME-HASH`` ReplicaSet).

    A pod without owner references counts when the workload's selector selects it.
    """
    ns, name, kind = meta(workload).get("namespace"), meta(workload).get("name"), workload.get("kind")
    selector = (workload.get("spec") or {}).get("selector")
    out = []
    for pod in pods:
        if meta(pod).get("namespace") != ns:
            continue
        owners = meta(pod).get("ownerReferences") or []
        if owners:
            for ref in owners:
                if kind == "DaemonSet" and ref.get("kind") == "DaemonSet" and ref.get("name") == name:
                    out.append(pod)
                elif (
                    kind == "Deployment"
                    and ref.get("kind") == "ReplicaSet"
                    and str(ref.get("name", "")).rsplit("-", 1)[0] == name
                ):
                    out.append(pod)
        elif selects(selector, labels(pod)):
            out.append(pod)
    return out


def workload_problem(workload: dict[str, Any]) -> str | None:
    """Why a DaemonSet or Deployment is not up by its own counts, or ``None``.

    A DaemonSet needs ``numberReady`` equal to ``desiredNumberScheduled`` (ready, not merely
    scheduled); a Deployment needs ``spec.replicas`` available replicas and an Available
    condition that is not False.
    """
    kind, name = workload.get("kind"), qualname(workload)
    status = workload.get("status") or {}
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        if desired == 0:
            return f"DaemonSet {name} schedules no pod (desiredNumberScheduled 0): no node matches its selector"
        if ready < desired:
            return f"DaemonSet {name}: {ready} of {desired} pods ready"
        return None
    wanted = int((workload.get("spec") or {}).get("replicas", 1) or 0)
    available = int(status.get("availableReplicas") or 0)
    if wanted == 0:
        return f"{kind} {name} is scaled to 0 replicas"
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"), None)
    down = cond is not None and cond.get("status") == "False"
    if available < wanted or down:
        why = (cond.get("message") or cond.get("reason")) if down else None
        return f"{kind} {name}: {available} of {wanted} replicas available" + (f" ({why})" if why else "")
    return None


def workload_readiness(workload: dict[str, Any], pods: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a DaemonSet or Deployment: :func:`workload_problem`, then each of its pods' state."""
    problems, warnings = sort_states(pod_state(pod) for pod in workload_pods(workload, pods))
    if (problem := workload_problem(workload)) is not None:
        problems.insert(0, problem)
    return problems, warnings


def sort_states(states: Iterable[PodState]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of pod states (whole pods or rows), in order; a state with a problem adds no warning."""
    problems: list[str] = []
    warnings: list[str] = []
    for st in states:
        if st.problem:
            problems.append(st.problem)
        elif st.warning:
            warnings.append(st.warning)
    return problems, warnings


def agent_problem(pod: dict[str, Any]) -> str | None:
    """Why a long-running agent's pod (netclient, a gateway) is not up, or ``None``.

    :func:`pod_state`'s verdict (CrashLoopBackOff counts even while Running), and any phase
    but Running, or not Ready, is a problem too.
    """
    state = pod_state(pod)
    if state.problem:
        return state.problem
    if state.phase != "Running" or not state.ready:
        return state.warning or f"pod {state.name} is in phase {state.phase}"
    return None


# ---------------------------------------------------------------------------------------------
# Env values, nodes, selectors and scheduling
# ---------------------------------------------------------------------------------------------
def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a pod, or of a workload's pod template."""
    spec = obj.get("spec") or {}
    if "template" in spec:
        return ((spec.get("template") or {}).get("spec")) or {}
    return spec


def env_value(obj: dict[str, Any], name: str) -> str | None:
    """The literal value of env var ``name`` in a pod's (or a workload template's) containers.

    A value that refers to another variable (``$(VAR)``, ``${VAR}``) is not a literal: ``None``.
    """
    for container in pod_spec(obj).get("containers") or []:
        for env in container.get("env") or []:
            value = env.get("value")
            if env.get("name") == name and isinstance(value, str) and value and "$" not in value:
                return value
    return None


def node_ready(node: dict[str, Any]) -> bool:
    """The node's Ready condition is True."""
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def node_address(node: dict[str, Any], kind: str = "InternalIP") -> str | None:
    """The node's first address of ``kind`` (``InternalIP``, ``ExternalIP``), or ``None``."""
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == kind and addr.get("address"):
            return str(addr["address"])
    return None


def node_name(node: dict[str, Any] | None) -> str:
    """The node's name (``?`` for none)."""
    return str(meta(node or {}).get("name") or "?")


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
    spec = pod_spec(ds)
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

