"""The Table form of a list: kubectl's pod printer (product and emulator), table queries, the emulator's
Table answers over HTTPS (paging, includeObject, a server that refuses or ignores tables), snapshots,
and submariner-deployment judging the route agent's pods from their rows.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import objects, submariner
from mcdiag.gather import api
from mcdiag.gather import resources as R
from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster
from mcdiag.gather.snapshot import SnapshotSource, load_snapshot_views, save_snapshot
from mcdiag.gather.table import (
    POD_COLUMNS,
    ROW_KIND,
    NotATable,
    human_duration,
    is_row,
    pod_cells,
    row_of,
    table_rows,
)
from mcdiag.gather.view import ClusterView
from mcdiag.lab.emulator.printers import print_pod
from tests.checks import test_submariner as S

NOW = datetime(2025, 5, 15, 9, 0, 0, tzinfo=UTC)


def stamp(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str = "p", *, ns: str = "team", labels: dict | None = None, node: str | None = "n1", phase: str = "Running",
        containers: int = 1, statuses: list | None = None, init: list | None = None, init_statuses: list | None = None,
        conditions: list | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)]}
    if node:
        spec["nodeName"] = node
    if init:
        spec["initContainers"] = init
    status: dict[str, Any] = {"phase": phase}
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    meta = {"name": name, "namespace": ns, "labels": labels or {"app": "x"}, "creationTimestamp": stamp(timedelta(days=3, hours=4))}
    out = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}
    for key, value in extra.items():
        (meta if key == "deletionTimestamp" else status)[key] = value
    return out


def running(name: str = "c0", ready: bool = True, restarts: int = 0, finished: timedelta | None = None) -> dict[str, Any]:
    cs: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": stamp(timedelta(hours=1))}}}
    if finished is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": stamp(finished)}}
    return cs


def waiting(reason: str, name: str = "c0", restarts: int = 0, finished: timedelta | None = None) -> dict[str, Any]:
    cs = {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}
    if finished is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": stamp(finished)}}
    return cs


def terminated(name: str, code: int, reason: str | None = None) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": code}
    if reason:
        term["reason"] = reason
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": term}}


READY = [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]
INITS = [{"name": "i0", "image": "busybox"}, {"name": "i1", "image": "busybox"}]

#: (pod, READY, STATUS, RESTARTS, NODE) as kubectl prints them (printPod's rules).
PRINTED = {
    "running": (pod(statuses=[running()], conditions=READY), "1/1", "Running", "0", "n1"),
    "crashloop": (pod(statuses=[waiting("CrashLoopBackOff", restarts=7, finished=timedelta(minutes=5))]),
                  "0/1", "CrashLoopBackOff", "7 (5m ago)", "n1"),
    "restarts-ago": (pod(statuses=[running(restarts=6, finished=timedelta(hours=3, minutes=5))], conditions=READY),
                     "1/1", "Running", "6 (3h5m ago)", "n1"),
    "restarts-no-time": (pod(statuses=[running(restarts=3)], conditions=READY), "1/1", "Running", "3", "n1"),
    "not-ready": (pod(statuses=[running(ready=False)]), "0/1", "Running", "0", "n1"),
    "evicted": (pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory."), "0/1", "Evicted", "0", "n1"),
    "terminating": (pod(statuses=[running()], conditions=READY, deletionTimestamp=stamp(timedelta(seconds=30))),
                    "1/1", "Terminating", "0", "n1"),
    "node-lost": (pod(statuses=[running()], deletionTimestamp=stamp(timedelta(minutes=1)), reason="NodeLost"), "1/1", "Unknown", "0", "n1"),
    "pending-unscheduled": (pod(phase="Pending", node=None), "0/1", "Pending", "0", "<none>"),
    "container-creating": (pod(phase="Pending", statuses=[waiting("ContainerCreating")]), "0/1", "ContainerCreating", "0", "n1"),
    "image-pull": (pod(phase="Pending", statuses=[waiting("ImagePullBackOff")]), "0/1", "ImagePullBackOff", "0", "n1"),
    "init-running": (pod(phase="Pending", init=INITS, init_statuses=[{"name": "i0", "state": {"running": {}}}, {"name": "i1", "state": {"waiting": {"reason": "PodInitializing"}}}],
                         statuses=[waiting("PodInitializing")]), "0/1", "Init:0/2", "0", "n1"),
    "init-second": (pod(phase="Pending", init=INITS, init_statuses=[terminated("i0", 0, "Completed"), {"name": "i1", "state": {"running": {}}}]),
                    "0/1", "Init:1/2", "0", "n1"),
    "init-crashloop": (pod(phase="Pending", init=INITS[:1], init_statuses=[waiting("CrashLoopBackOff", name="i0", restarts=4)]),
                       "0/1", "Init:CrashLoopBackOff", "4", "n1"),
    "init-error": (pod(phase="Pending", init=INITS[:1], init_statuses=[terminated("i0", 2, "Error")]), "0/1", "Init:Error", "0", "n1"),
    "init-exit-code": (pod(phase="Pending", init=INITS[:1], init_statuses=[terminated("i0", 3)]), "0/1", "Init:ExitCode:3", "0", "n1"),
    "completed-and-running": (pod(containers=2, statuses=[running("c0"), terminated("c1", 0, "Completed")], conditions=READY),
                              "1/2", "Running", "0", "n1"),
    "completed-not-ready": (pod(containers=2, statuses=[running("c0"), terminated("c1", 0, "Completed")]), "1/2", "NotReady", "0", "n1"),
    "oom": (pod(statuses=[terminated("c0", 137, "OOMKilled")]), "0/1", "OOMKilled", "0", "n1"),
    "succeeded": (pod(phase="Succeeded", statuses=[terminated("c0", 0, "Completed")]), "0/1", "Completed", "0", "n1"),
    "sidecar": (pod(init=[{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}], conditions=READY,
                    init_statuses=[{**running("proxy"), "started": True}], statuses=[running()]), "2/2", "Running", "0", "n1"),
    "scheduling-gated": (pod(phase="Pending", node=None, conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]),
                         "0/1", "SchedulingGated", "0", "<none>"),
}


@pytest.mark.parametrize("case", sorted(PRINTED))
def test_pod_rows_print_as_kubectl_prints_them(case):
    obj, ready, status, restarts, node = PRINTED[case]
    cells = pod_cells(obj, NOW)
    assert (cells["Ready"], cells["Status"], cells["Restarts"], cells["Node"]) == (ready, status, restarts, node)
    assert cells["Name"] == "p" and cells["Age"] == "3d4h" and list(cells) == list(POD_COLUMNS)


@pytest.mark.parametrize("case", sorted(PRINTED))
def test_the_emulator_prints_the_same_rows(case):
    """Two implementations of printPod (the server's, the product's) agree on every case."""
    obj = PRINTED[case][0]
    assert print_pod(copy.deepcopy(obj), NOW.timestamp()) == [pod_cells(obj, NOW)[c] for c in POD_COLUMNS]


def test_readiness_gates_and_ip():
    obj = pod(statuses=[running()], conditions=READY, podIPs=[{"ip": "10.1.2.3"}])
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    cells = pod_cells(obj, NOW)
    assert cells["Readiness Gates"] == "0/1" and cells["IP"] == "10.1.2.3" and cells["Nominated Node"] == "<none>"
    assert objects.row_state(row_of(obj, NOW)).problem == "pod team/p is Running but not Ready (1 of 1 containers ready; readiness gates 0/1) on node n1"


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (130, "2m10s"), (600, "10m"), (10799, "179m"),
    (3 * 3600, "3h"), (3 * 3600 + 300, "3h5m"), (8 * 3600 + 60, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"),
    (50 * 3600, "2d2h"), (8 * 86400, "8d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"),
])
def test_durations_as_kubectl_prints_them(seconds, text):
    assert human_duration(seconds) == text


# -- judging rows --------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "verdict", "words"), [
    ("running", None, ""),
    ("crashloop", "problem", "is in CrashLoopBackOff (READY 0/1, 7 restarts) on node n1"),
    ("not-ready", "problem", "is Running but not Ready (0 of 1 containers ready)"),
    ("evicted", "warning", "was evicted and left behind"),
    ("terminating", "problem", "is terminating"),
    ("pending-unscheduled", "problem", "is in phase Pending (Pending)"),
    ("container-creating", "problem", "is in phase Pending (ContainerCreating)"),
    ("init-crashloop", "problem", "is in Init:CrashLoopBackOff"),
    ("restarts-ago", "warning", "has restarted 6 times"),
    ("restarts-no-time", None, ""),
    ("succeeded", None, ""),
])
def test_row_state_judges_as_pod_state(case, verdict, words):
    obj = PRINTED[case][0]
    by_row, whole = objects.row_state(row_of(obj, NOW)), objects.pod_state(obj)
    got = "problem" if by_row.problem else "warning" if by_row.warning else None
    assert got == verdict and words in (by_row.problem or by_row.warning or "")
    # the same verdict as judging the whole pod
    assert got == ("problem" if whole.problem else "warning" if whole.warning else None)
    assert (by_row.restarts, by_row.node) == (whole.restarts, whole.node)


# -- table queries ---------------------------------------------------------------------------------
AGENTS = R.PODS.within("team").where(labels="app=agent")
AGENT_ROWS = AGENTS.as_table()
OBJS = [pod(f"agent-{i}", labels={"app": "agent"}, node=f"n{i}", statuses=[running()], conditions=READY) for i in range(5)] + [
    pod("web", labels={"app": "web"}, statuses=[running()], conditions=READY),
    pod("agent-elsewhere", ns="other", labels={"app": "agent"}, statuses=[running()], conditions=READY),
]


def test_table_queries_have_their_own_key_display_and_accept_header():
    assert AGENT_ROWS.key == "v1/pods@team;l=app=agent;table" and R.from_key(AGENT_ROWS.key) == AGENT_ROWS
    assert AGENT_ROWS.display == "rows (kubectl's columns) of pods in namespace team selected by app=agent"
    assert AGENT_ROWS.accept.startswith("application/json;as=Table;v=v1;g=meta.k8s.io")
    assert AGENT_ROWS.accept.endswith(",application/json") and AGENT_ROWS.narrowed and AGENT_ROWS != AGENTS


@pytest.mark.parametrize(("wide", "narrow", "covers"), [
    (R.PODS, AGENT_ROWS, True),                      # whole objects cover the table form of what they cover
    (R.PODS.within("team"), AGENT_ROWS, True),
    (AGENTS, AGENT_ROWS, True),
    (R.PODS.within("other"), AGENT_ROWS, False),
    (R.PODS.within("team").where(labels="app!=agent"), AGENT_ROWS, False),
    (R.PODS.metadata(), AGENT_ROWS, False),          # metadata cannot print rows
    (AGENT_ROWS, AGENTS, False),                     # a table never covers whole objects
    (R.PODS.as_table(), AGENT_ROWS, False),          # rows carry no labels to cut by
    (AGENT_ROWS, AGENT_ROWS.first(1), True),
    (AGENT_ROWS.first(1), AGENT_ROWS, False),
])
def test_covers_tables(wide, narrow, covers):
    assert wide.covers(narrow) is covers


def test_table_rows_are_cut_from_whole_objects_and_rows_pass_through():
    rows = AGENT_ROWS.cut(OBJS)
    assert [r["metadata"]["name"] for r in rows] == [f"agent-{i}" for i in range(5)]
    assert all(is_row(r) and r["kind"] == ROW_KIND and r["metadata"]["namespace"] == "team" for r in rows)
    assert rows[3]["cells"]["Node"] == "n3" and rows[3]["cells"]["Ready"] == "1/1"
    assert AGENT_ROWS.cut(rows) == rows  # the server selected them: labels are not judged again
    assert R.PODS.within("team").as_table().named("web").cut(OBJS)[0]["metadata"]["name"] == "web"


def test_malformed_table_answers_are_named():
    good = {"kind": "Table", "columnDefinitions": [{"name": "Name", "format": "name"}, {"name": "Ready"}], "rows": [{"cells": ["a", "1/1"]}]}
    assert table_rows(good, "ns") == [{"apiVersion": "meta.k8s.io/v1", "kind": ROW_KIND, "metadata": {"name": "a", "namespace": "ns"},
                                       "cells": {"Name": "a", "Ready": "1/1"}}]
    for bad, words in (({**good, "columnDefinitions": "x"}, "columnDefinitions"), ({**good, "rows": {}}, "rows is not a list"),
                       ({**good, "rows": [{"cells": "a"}]}, "rows[0]"), ({**good, "rows": [{"cells": [""]}]}, "names no object")):
        with pytest.raises(NotATable, match=words.replace("[", r"\[")):
            table_rows(bad, "ns")


# -- over HTTPS, through the emulator --------------------------------------------------------------
def _view(clusters, name: str = "east") -> ClusterView:
    spec = ClusterSpec(str(clusters.kubeconfigs[name]), name=name, explicit_name=True)
    return ClusterView(spec, load_cluster(spec, 10.0))


def _table_requests(emu) -> list:
    return [r for r in emu.requests if "as=Table" in (r.accept or "")]


def test_table_over_https_is_paged_with_include_object_none(emulate, monkeypatch):
    monkeypatch.setattr(api, "TABLE_PAGE_SIZE", 2)  # five agents: three pages
    clusters = emulate({"east": copy.deepcopy(OBJS)})
    emu = clusters["east"]
    view = _view(clusters)
    emu.clear_requests()
    rows = view.list(AGENT_ROWS)
    assert [r["metadata"] for r in rows] == [{"name": f"agent-{i}", "namespace": "team"} for i in range(5)]
    assert rows[2]["cells"] == {**pod_cells(OBJS[2]), "Age": rows[2]["cells"]["Age"]}  # the server's printer, the product's rules
    reqs = _table_requests(emu)
    assert len(reqs) == 3 == len(emu.requests) and all(r.status == 200 for r in reqs)
    assert all(r.query["includeObject"] == "None" and r.query["labelSelector"] == "app=agent" and r.query["limit"] == "2" for r in reqs)
    assert "continue" not in reqs[0].query and reqs[1].query["continue"] and reqs[2].query["continue"] != reqs[1].query["continue"]
    # cluster-wide: the rows name their namespace (includeObject=Metadata)
    everywhere = view.list(R.PODS.where(labels="app=agent").as_table())
    assert {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in everywhere} >= {("other", "agent-elsewhere"), ("team", "agent-0")}
    assert _table_requests(emu)[-1].query["includeObject"] == "Metadata"


def test_emulator_table_answer_shape(emulate):
    clusters = emulate({"east": copy.deepcopy(OBJS)})
    source = load_cluster(ClusterSpec(str(clusters.kubeconfigs["east"]), name="east", explicit_name=True), 10.0)
    for include in ("None", "Metadata", "Object"):
        page = source.get("/api/v1/namespaces/team/pods", {"labelSelector": "app=agent", "includeObject": include, "limit": "1"},
                          accept=AGENT_ROWS.accept)
        assert page["kind"] == "Table" and page["apiVersion"] == "meta.k8s.io/v1" and page["metadata"]["continue"]
        assert [c["name"] for c in page["columnDefinitions"]] == list(POD_COLUMNS)
        (row,) = page["rows"]
        assert row["cells"][0] == "agent-0"
        assert ("object" in row) is (include != "None")
        if include == "Metadata":
            assert row["object"]["kind"] == "PartialObjectMetadata" and "spec" not in row["object"]
        if include == "Object":
            assert row["object"]["kind"] == "Pod" and row["object"]["spec"]["nodeName"] == "n0"
    with pytest.raises(ResourceUnavailable, match="400"):
        source.get("/api/v1/namespaces/team/pods", {"includeObject": "Everything"}, accept=AGENT_ROWS.accept)
    page = source.get("/api/v1/namespaces", {}, accept=AGENT_ROWS.accept)  # kinds without a printer: the default table
    assert page["kind"] == "Table" and [c["name"] for c in page["columnDefinitions"]] == ["Name", "Created At"]


@pytest.mark.parametrize("mode", ["refuse", "ignore"])
def test_a_server_without_tables_is_read_whole_and_printed_here(emulate, mode):
    clusters = emulate({"east": copy.deepcopy(OBJS)})
    emu = clusters["east"]
    emu.tables = mode
    view = _view(clusters)
    emu.clear_requests()
    rows = view.list(AGENT_ROWS)
    assert [r["metadata"]["name"] for r in rows] == [f"agent-{i}" for i in range(5)] and all(is_row(r) for r in rows)
    assert rows[1]["cells"]["Node"] == "n1" and rows[1]["cells"]["Status"] == "Running"
    statuses = [(r.status, "as=Table" in (r.accept or "")) for r in emu.requests]
    assert statuses == ([(406, True), (200, False)] if mode == "refuse" else [(200, True)])


# -- snapshots -----------------------------------------------------------------------------------
def test_table_queries_round_trip_through_snapshots(emulate, tmp_path):
    clusters = emulate({"east": copy.deepcopy(OBJS)})
    view = _view(clusters)
    rows = view.list(AGENT_ROWS)
    save_snapshot(tmp_path / "snap", [view])
    index = json.loads((tmp_path / "snap" / "east" / "cluster.json").read_text())
    saved = json.loads((tmp_path / "snap" / "east" / index["lists"][AGENT_ROWS.key]).read_text())
    assert saved["items"] == rows and "v1/pods@team;l=app=agent" not in index["lists"]
    (replayed,) = load_snapshot_views(tmp_path / "snap", type("O", (), {"provider": None})())
    assert replayed.list(AGENT_ROWS) == rows
    with pytest.raises(ResourceUnavailable, match="not in the snapshot"):
        replayed.source.list(AGENTS)  # rows are never whole objects
    # a snapshot that holds the whole pods serves the rows from them
    whole = tmp_path / "whole"
    (whole / "lists").mkdir(parents=True)
    (whole / "lists" / "pods.json").write_text(json.dumps({"key": "v1/pods@team", "items": OBJS[:6]}))
    (whole / "cluster.json").write_text(json.dumps({"version": {"gitVersion": "v1.29.3"}, "discovery": ["v1"],
                                                    "lists": {"v1/pods@team": "lists/pods.json"}}))
    src = SnapshotSource(whole, "whole")
    assert [r["metadata"]["name"] for r in src.list(AGENT_ROWS)] == [f"agent-{i}" for i in range(5)]
    assert all(is_row(r) for r in src.list(AGENT_ROWS))


# -- submariner-deployment from the route agent's rows ---------------------------------------------
def _agent(objs, node: str = "node3") -> dict:
    return S.pod_named(objs["cluster"], "submariner-routeagent-", node)


def _deployment(memory, objs) -> dict:
    run = S.run_pair(memory, objs)
    return run.result("submariner-deployment", "cluster")


ROUTEAGENT_CASES = {
    "crashloop": (lambda p: S.crashloop(p, restarts=9), "fail", ["submariner-routeagent-x7k2q", "CrashLoopBackOff", "9 restarts", "node3"]),
    "evicted": (lambda p: p.update(status={"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}),
                "warn", ["submariner-routeagent-x7k2q", "evicted"]),
    "terminating": (lambda p: p["metadata"].update(deletionTimestamp="2025-05-15T08:00:00Z"), "fail", ["submariner-routeagent-x7k2q", "terminating"]),
    "pending": (lambda p: p["status"].update(phase="Pending", containerStatuses=[{"name": "submariner-routeagent", "ready": False, "restartCount": 0,
                                                                               "state": {"waiting": {"reason": "ContainerCreating"}}}]),
                "fail", ["submariner-routeagent-x7k2q", "Pending", "ContainerCreating"]),
    "restarts": (lambda p: p["status"]["containerStatuses"][0].update(restartCount=objects.RESTART_WARN + 1), "warn",
                 ["submariner-routeagent-x7k2q", f"restarted {objects.RESTART_WARN + 1} times", "(unstable)"]),
}


@pytest.mark.parametrize("case", sorted(ROUTEAGENT_CASES))
def test_route_agent_pods_are_judged_from_their_rows(memory, case):
    mutate, status, words = ROUTEAGENT_CASES[case]
    objs = S.healthy_pair()
    mutate(_agent(objs))
    result = _deployment(memory, objs)
    assert result["status"] == status, result
    for word in words:
        assert word in result["message"], (word, result["message"])
    assert "describe pod" in result["hint"]


def test_route_agent_rows_over_https_name_the_stale_daemonsets_pod(emulate, mcdiag):
    """The DaemonSet's status says 2/2 ready; the row of the pod on node3 says 0/1: fail, from a Table request."""
    objs = S.healthy_pair()
    S.set_pod_not_ready(_agent(objs))
    clusters = emulate({n: list(S._crds()) + objs[n] for n in S.NAMES}, extra_groups=S.CALICO_API)
    run = mcdiag("run", "submariner-deployment", *clusters.args())
    result = run.result("submariner-deployment", "cluster")
    assert result["status"] == "fail" and "submariner-operator/submariner-routeagent-x7k2q is Running but not Ready" in result["message"]
    assert run.status("submariner-deployment", "cluster1") == "pass"
    for name in S.NAMES:
        (table,) = _table_requests(clusters[name])
        assert table.path == "/api/v1/namespaces/submariner-operator/pods" and table.status == 200
        assert table.query["labelSelector"] == "app=submariner-routeagent" and table.query["includeObject"] == "None"
        whole = [r for r in clusters[name].requests if r.path == table.path and r not in (table,)]
        assert {r.query.get("labelSelector") for r in whole} <= {"app!=submariner-routeagent", "gateway.submariner.io/status=active"}


def test_submariner_deployment_declares_rows_not_every_pod():
    from mcdiag.checks.submariner import SubmarinerDeployment

    reads = SubmarinerDeployment.reads
    assert submariner.ROUTEAGENT_POD_ROWS in reads and submariner.SUBMARINER_COMPONENT_PODS in reads
    assert submariner.SUBMARINER_PODS not in reads
    # nothing it reads ahead holds the route agent's pods whole (their rows would be cut from it)
    assert [q.key for q in reads if q != submariner.ROUTEAGENT_POD_ROWS and q.covers(submariner.ROUTEAGENT_POD_ROWS)] == []


def test_a_view_holding_the_whole_pods_prints_the_rows_without_asking(emulate):
    clusters = emulate({"east": copy.deepcopy(OBJS)})
    emu = clusters["east"]
    view = _view(clusters)
    emu.clear_requests()
    view.prefetch([R.PODS.within("team"), AGENT_ROWS])
    assert [r.path for r in emu.requests] == ["/api/v1/namespaces/team/pods"] and _table_requests(emu) == []
    rows = view.list(AGENT_ROWS)
    assert [r["metadata"]["name"] for r in rows] == [f"agent-{i}" for i in range(5)] and all(is_row(r) for r in rows)
    assert view.holds(AGENT_ROWS) and not view.holds(R.PODS.within("other").as_table())
