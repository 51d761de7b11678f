"""netclient-deployment: judged by READY pods on every node, gateway placement and networks, servicex."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import pytest

from mcdiag.facts.objects import agent_problem, daemonset_wants, selects
from tests.conftest import FIXTURES, load_yaml_dir, real_crds

K3S = "v1.28.5+k3s1"
CHECK = "netclient-deployment"


@functools.cache
def _crds() -> tuple:
    return tuple(real_crds())


@functools.cache
def _objects(cluster: str) -> tuple:
    return _crds() + tuple(load_yaml_dir(FIXTURES / "netmaker" / cluster))


@pytest.fixture(scope="module", autouse=True)
def _load_fixtures():
    """Parse the fixture YAML once per module, outside the tests' own time."""
    _objects("dc1"), _objects("cloud")


def objects(cluster: str) -> list[dict]:
    return copy.deepcopy(list(_objects(cluster)))


def find(objs: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def remove(objs: list[dict], kind: str, name: str) -> None:
    objs.remove(find(objs, kind, name))


def run_pair(memory, change: Callable[[list[dict]], None] | None = None, *args: str):
    dc1, cloud = objects("dc1"), objects("cloud")
    if change:
        change(dc1)
    return memory({"dc1": dc1, "cloud": cloud}, "run", CHECK, *args, version=K3S)


def crashloop(pod: dict) -> None:
    """Phase stays Running and the Ready condition is stale: only the container state tells."""
    cs = pod["status"]["containerStatuses"][0]
    cs.update(ready=False, restartCount=7, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}})


def test_healthy_pair_passes(memory):
    run = run_pair(memory)
    for cluster, nodes, gw, net in (("dc1", 3, "datacenter1", "cloud-k3s"), ("cloud", 2, "k3s-2", "dc1-k3s")):
        result = run.result(CHECK, cluster)
        assert result["status"] == "pass", result
        assert f"ready on {nodes} node(s)" in result["message"] and gw in result["message"] and net in result["message"]
        assert "servicex available" in result["message"]
    assert run.code == 0


def test_crashloop_fails_even_with_phase_running(memory):
    def change(objs):
        crashloop(find(objs, "Pod", "netclient-gv4zf"))  # datacenter2; DaemonSet status still says 3 ready

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail"
    assert "2/3" in result["message"] and "datacenter2" in result["message"] and "CrashLoopBackOff" in result["message"]


def test_judged_by_ready_pods_not_daemonset_status(memory):
    def change(objs):
        ready = next(c for c in find(objs, "Pod", "netclient-p5dqg")["status"]["conditions"] if c["type"] == "Ready")
        ready.update(status="False", reason="ContainersNotReady")
        remove(objs, "Pod", "netclient-hkznw")  # master1: scheduled per status, but no pod at all

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail"
    assert "1/3" in result["message"] and "master1: no pod" in result["message"] and "ContainersNotReady" in result["message"]
    assert result["details"]["default/netclient"]["not_ready"].keys() == {"master1", "datacenter1"}


def test_pending_pod_fails(memory):
    def change(objs):
        find(objs, "Pod", "netclient-gv4zf")["status"] = {"phase": "Pending"}

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail" and "phase Pending" in result["message"]


def test_nodeselector_subset_and_untolerated_taint_are_not_expected(memory):
    def change(objs):
        ds = find(objs, "DaemonSet", "netclient")
        ds["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
        find(objs, "Node", "datacenter2")["metadata"]["labels"]["kubernetes.io/os"] = "windows"
        find(objs, "Node", "master1")["spec"]["taints"] = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
        remove(objs, "Pod", "netclient-gv4zf")
        remove(objs, "Pod", "netclient-hkznw")

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "pass", result
    assert "ready on 1 of 3 node(s)" in result["message"]


def test_gateway_pod_off_gateway_node_fails(memory):
    def change(objs):
        find(objs, "Pod", "netclient-gateway-7d9f8b6c5-x2x7q")["spec"]["nodeName"] = "datacenter2"

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail"
    assert "datacenter2" in result["message"] and "gateway=true" in result["message"]
    assert "preferred" in result["hint"]


def test_no_gateway_label_fails(memory):
    def change(objs):
        del find(objs, "Node", "datacenter1")["metadata"]["labels"]["gateway"]

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail"
    assert "no node is labelled gateway=true" in result["message"] and "kubectl label node" in result["hint"]


def test_missing_gateway_deployment_fails(memory):
    def change(objs):
        remove(objs, "Deployment", "netclient-gateway")
        remove(objs, "Pod", "netclient-gateway-7d9f8b6c5-x2x7q")

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail" and "netclient-gateway" in result["message"]
    assert "OTHER" in result["hint"]


def test_gateway_crashloop_fails(memory):
    def change(objs):
        crashloop(find(objs, "Pod", "netclient-gateway-7d9f8b6c5-x2x7q"))

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail" and "CrashLoopBackOff" in result["message"]


def test_gateway_unavailable_fails(memory):
    def change(objs):
        dep = find(objs, "Deployment", "netclient-gateway")
        dep["status"].update(availableReplicas=0, readyReplicas=0)
        dep["status"]["conditions"][0].update(status="False", reason="MinimumReplicasUnavailable",
                                              message="Deployment does not have minimum availability.")
        remove(objs, "Pod", "netclient-gateway-7d9f8b6c5-x2x7q")

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "fail" and "0 of 1 replicas available" in result["message"]


def test_gateway_in_own_network_fails(memory):
    def change(objs):
        env = find(objs, "Deployment", "netclient-gateway")["spec"]["template"]["spec"]["containers"][0]["env"]
        next(e for e in env if e["name"] == "NETWORK")["value"] = "dc1-k3s"

    run = run_pair(memory, change)
    result = run.result(CHECK, "dc1")
    assert result["status"] == "fail"
    assert "own network" in result["message"] and "cloud-k3s of cluster cloud" in result["message"]
    assert run.status(CHECK, "cloud") == "pass"


def test_servicex_unavailable_fails_and_absent_passes(memory):
    def broken(objs):
        crashloop(find(objs, "Pod", "servicex-785dd5699b-78q5w"))
        find(objs, "Deployment", "servicex")["status"]["availableReplicas"] = 0

    result = run_pair(memory, broken).result(CHECK, "dc1")
    assert result["status"] == "fail" and "servicex" in result["message"] and "master key" in result["hint"]

    def absent(objs):
        remove(objs, "Deployment", "servicex")
        remove(objs, "Pod", "servicex-785dd5699b-78q5w")

    result = run_pair(memory, absent).result(CHECK, "dc1")
    assert result["status"] == "pass" and "servicex" not in result["message"]


def test_many_restarts_warn(memory):
    def change(objs):
        find(objs, "Pod", "netclient-p5dqg")["status"]["containerStatuses"][0]["restartCount"] = 12

    result = run_pair(memory, change).result(CHECK, "dc1")
    assert result["status"] == "warn" and "netclient-p5dqg (12)" in result["message"]


def test_skips_on_other_providers(memory):
    run = run_pair(memory, None, "--provider", "none")
    result = run.result(CHECK, "dc1")
    assert result["status"] == "skip" and "netmaker" in result["message"] and "none" in result["message"]


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}, None),
        ({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
          "containerStatuses": [{"name": "c", "ready": True, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
         "CrashLoopBackOff"),
        ({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
          "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}, "ImagePullBackOff"),
        ({"phase": "Running"}, "not Ready"),
        ({"phase": "Succeeded"}, "phase Succeeded"),
        ({}, "phase Unknown"),
    ],
)
def test_agent_problem(status, problem):
    got = agent_problem({"metadata": {"name": "p"}, "status": status})
    assert (got is None) if problem is None else (problem in got)


def test_daemonset_scheduling_rules():
    def node(labels=None, taints=None, name="n"):
        return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}

    def daemonset(**spec):
        return {"spec": {"template": {"spec": spec}}}

    assert daemonset_wants(daemonset(), node())
    assert daemonset_wants(daemonset(), node(taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]))
    assert not daemonset_wants(daemonset(), node(taints=[{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]))
    assert daemonset_wants(daemonset(), node(taints=[{"key": "x", "effect": "PreferNoSchedule"}]))
    assert daemonset_wants(daemonset(tolerations=[{"operator": "Exists"}]), node(taints=[{"key": "x", "effect": "NoSchedule"}]))
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gateway", "operator": "In", "values": ["true"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
    ]}}}
    assert daemonset_wants(daemonset(affinity=affinity), node({"gateway": "true"}))
    assert daemonset_wants(daemonset(affinity=affinity), node(name="special"))
    assert not daemonset_wants(daemonset(affinity=affinity), node())
    assert selects({"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["x"]}]},
                   {"app": "a", "t": "y"})
    assert not selects({}, {"app": "a"})

