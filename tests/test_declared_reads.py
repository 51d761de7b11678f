"""Every check reads only what it declares, and a run reads only what its checks need.

In memory (the emulator's object store, every query recorded): each passive check run alone
(``mcdiag run ID``) on each fixture pair and on every Submariner failure mode asks only
queries its ``reads``/``reads_if_needed`` (or the gate's, or the session's) cover; ``mcdiag run
k8s-version`` asks exactly what it and the gate need, over HTTPS too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcdiag.cli.main import build_parser
from mcdiag.facts import cluster, networks, submariner
from mcdiag.gather import resources as R
from mcdiag.gather.kubeconfig import ClusterSpec
from mcdiag.gather.view import ClusterView
from mcdiag.run.options import Options
from mcdiag.run.registry import resolve
from mcdiag.run.session import Session, reads_of
from tests.checks import test_submariner as S
from tests.conftest import PAIRS, StoreSource, pair_objects, query_key

REGISTRY = resolve(include_plugins=False)
PASSIVE = [c for c in REGISTRY.checks if "passive" in c.tags]
GATES = [c for c in REGISTRY.checks if c.fatal]


class RecordingSource(StoreSource):
    """The emulator's store, recording every query asked of it."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.asked: list[R.Resource] = []

    def list(self, res: Any) -> list[dict[str, Any]]:
        self.asked.append(res)
        return super().list(res)


def run_recorded(clusters: dict[str, list[dict[str, Any]]], *argv: str, **source_options: Any):
    """Run mcdiag in memory; returns (JSON report, session, {cluster: [queries asked]})."""
    options = Options.from_values(build_parser().parse_args(list(argv)))
    views = []
    for name, objects in clusters.items():
        per = source_options.get(name, source_options) if isinstance(source_options.get(name), dict) else source_options
        source = RecordingSource(objects, name=name, **{k: v for k, v in per.items() if k in ("version", "extra_groups")})
        spec = ClusterSpec(None, name=name, explicit_name=True, server=f"memory://{name}", resolved_context=f"{name}-ctx")
        views.append(ClusterView(spec, source))
    session = Session(options)
    report = session.run(views=views)
    return json.loads(json.dumps(report.to_dict())), session, {v.name: list(v.source.asked) for v in views}


def undeclared(asked: list[R.Resource], declared: set[R.Resource]) -> list[str]:
    """The queries asked that no declared query covers (a declared query covers its narrower ones)."""
    return sorted({q.key for q in asked if not any(d == q or d.covers(q) for d in declared)})


@pytest.mark.parametrize("pair", sorted(PAIRS))
@pytest.mark.parametrize("check", PASSIVE, ids=lambda c: c.id)
def test_each_check_alone_reads_only_what_it_declares(pair, check):
    _, _, options = PAIRS[pair]
    report, session, asked = run_recorded(pair_objects(pair), "run", check.id, **options)
    assert report["results"] and all(r["status"] != "error" for r in report["results"]), report["results"]
    declared = reads_of([check, *GATES])
    for name, queries in asked.items():
        assert undeclared(queries, declared) == [], (name, check.id)
        assert len(queries) == len(set(queries)), (name, sorted(q.key for q in queries))  # each query once


@pytest.mark.parametrize("case", [c[0] for c in S.CASES])
def test_every_failure_mode_reads_only_declared_queries(case):
    mutate, options = next((c[1], c[5]) for c in S.CASES if c[0] == case)
    objs = S.healthy_pair()
    if mutate:
        mutate(objs)
    per = {}
    for name in S.NAMES:
        per[name] = {"extra_groups": S.CALICO_API} if name in options.get("calico_api", S.NAMES) else {}
        if name in options.get("versions", {}):
            per[name]["version"] = options["versions"][name]
    report, session, asked = run_recorded({n: list(S._crds()) + objs[n] for n in S.NAMES}, "all", "--passive", **per)
    assert report["results"]
    declared = reads_of([*session.checks, *GATES])
    for name, queries in asked.items():
        assert undeclared(queries, declared) == [], name
        assert len(queries) == len(set(queries)), name
        # never every pod or Deployment of a cluster, and every node only as a declared last resort
        assert not {R.PODS, R.DEPLOYMENTS} & set(queries), name


def test_k8s_version_reads_only_what_it_and_the_gate_need():
    report, session, asked = run_recorded(pair_objects("submariner"), "run", "k8s-version", extra_groups=PAIRS["submariner"][2]["extra_groups"])
    assert {r["status"] for r in report["results"]} == {"pass"}
    wanted = {cluster.NODE_SAMPLE, *cluster.PROVIDER_READS, R.SERVICEDISCOVERIES}
    for name, queries in asked.items():
        assert set(queries) == wanted, (name, sorted(q.key for q in queries))
    # the report's cluster facts are those the run could work out from that: the provider, not the CNI or CIDRs
    for info in report["clusters"]:
        assert info["provider"] == "submariner" and info["k8s_version"] == "v1.29.3"
        assert info["cni"] is None and info["pod_cidrs"] == [] and info["service_cidrs"] == []


def test_k8s_version_over_https_sends_only_its_requests(emulate, mcdiag):
    _, names, options = PAIRS["submariner"]
    clusters = emulate(pair_objects("submariner"), **options)
    run = mcdiag("run", "k8s-version", *clusters.args(*names))
    assert run.code == 0
    expected = {
        "/version", "/api", "/apis",
        "/api/v1/nodes;limit=1",                                                              # the gate: nodes listable
        "/apis/submariner.io/v1alpha1/submariners;limit=500",                                 # the provider: Submariner CR,
        "/apis/apps/v1/daemonsets;labelSelector=app=netclient;limit=500",                     # netclient DaemonSets,
        "/api/v1/namespaces;fieldSelector=metadata.name=submariner-operator;limit=500;meta",  # Submariner's namespace
        "/apis/submariner.io/v1alpha1/servicediscoveries;limit=500",                          # service discovery on?
    }
    for name in names:
        keys = [query_key(r) for r in clusters[name].requests if query_key(r)]
        assert sorted(keys) == sorted(expected), name


def test_reports_of_a_full_run_still_show_every_cluster_fact():
    report, _, _ = run_recorded(pair_objects("submariner"), "all", "--passive", extra_groups=PAIRS["submariner"][2]["extra_groups"])
    for info in report["clusters"]:
        assert info["provider"] == "submariner" and info["cni"] == "calico" and info["pod_cidrs"] and info["service_cidrs"]


def test_checks_for_another_provider_are_not_read_ahead():
    """netclient-deployment reads every node, whole: on Submariner clusters that is never read."""
    _, _, asked = run_recorded(pair_objects("submariner"), "all", "--passive", extra_groups=PAIRS["submariner"][2]["extra_groups"])
    for name, queries in asked.items():
        assert R.NODES not in queries, name
        assert not [q for q in queries if q.plural == "nodes" and not (q.labels or q.limit)], name
    _, _, asked = run_recorded(pair_objects("netmaker"), "all", "--passive", **PAIRS["netmaker"][2])
    for name, queries in asked.items():
        assert R.NODES in queries, name  # netclient-deployment judges every node there
        assert submariner.SUBMARINER_PODS not in queries, name


def test_last_resort_reads_only_when_needed():
    """Every node's pod CIDR slice is read only when nothing else names the pod CIDR."""
    pair = pair_objects("submariner")
    _, _, asked = run_recorded(pair, "run", "cluster-cidrs", extra_groups=PAIRS["submariner"][2]["extra_groups"])
    assert all(R.NODES not in q for q in asked.values())
    for name in pair:  # no Submariner CR, no kubeadm-config, no control-plane pod: the nodes are all that is left
        pair[name] = [o for o in pair[name] if o["kind"] not in ("Submariner", "Pod")
                      and (o["kind"], o["metadata"].get("name")) != ("ConfigMap", "kubeadm-config")]
    report, _, asked = run_recorded(pair, "run", "cluster-cidrs", extra_groups=PAIRS["submariner"][2]["extra_groups"])
    for name, queries in asked.items():
        assert R.NODES in queries and networks.CONTROL_PLANE_PODS_K8S_APP in queries, name
    result = next(r for r in report["results"] if r["clusters"] == ["cluster"])
    assert result["details"]["pod_source"] == "node spec.podCIDRs (per-node slices)", result
