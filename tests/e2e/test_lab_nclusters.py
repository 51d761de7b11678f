"""mcdiag over a lab of three clusters, both providers: every cluster, pair and ordered pair in the report, all passing.

``mcdiag lab up --clusters 3`` peers every cluster with every other (a WireGuard peer per cluster
on each gateway, DNS forwarding for every peer's zone, the API objects that say so); ``mcdiag all``
over the three, with the product's default bound on concurrency, must pass every check that
applies, with a result for each of the 6 ordered pairs, the 3 pairs and the 3 clusters. A fault
on one cluster then fails exactly the checks of the pairs that reach it.
"""

from __future__ import annotations

import itertools
import os

import pytest

from tests.e2e.conftest import ACTIVE, LAB_MAX_RTT, check_echo_run, make_lab, run_mcdiag, wait_clean

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)")

N = 3
OPTS = ["--probe-start-timeout", "20", *LAB_MAX_RTT]  # the product's default --jobs: the bound under test


@pytest.fixture(scope="module", params=["submariner", "netmaker"])
def lab(request, tmp_path_factory):
    yield from make_lab(tmp_path_factory, request.param, clusters=N)


def names(lab) -> list[str]:
    return [a for c in lab.cluster_names for a in ("--cluster", f"{c}={lab.kubeconfig(c)}")]


@pytest.fixture(scope="module")
def healthy(lab, tmp_path_factory):
    return run_mcdiag(["all", *names(lab), *OPTS], tmp_path_factory.mktemp(f"healthy-{lab.provider}"))


def test_the_lab_is_a_full_mesh(lab):
    st = lab.status()
    assert st["running"] and st["clusters"] == N and lab.cluster_names == ["cluster", "cluster1", "cluster2"]
    for name, h in st["handshakes"].items():
        assert len(h["peers"]) == N - 1 and all(age is not None for age in h["peers"].values()), (name, h)


def test_every_target_is_reported_and_passes(lab, healthy):
    from mcdiag.run.registry import resolve

    bad = {k: (s, healthy.result(k)["message"]) for k, s in healthy.verdicts().items() if s in ("fail", "error", "warn")}
    assert healthy.code == 0 and not bad, bad
    clusters = lab.cluster_names
    expected = set()
    for check in resolve().checks:
        sep, targets = {"cluster": ("", [(c,) for c in clusters]),
                        "pair": ("<->", list(itertools.combinations(clusters, 2))),
                        "ordered-pair": ("->", list(itertools.permutations(clusters, 2)))}[check.scope.value]
        expected |= {f"{check.id}[{sep.join(t)}]" for t in targets}
    assert set(healthy.verdicts()) == expected
    for r in healthy.report["results"]:
        if r["check"] in ACTIVE and r["status"] != "pass":  # only the other provider's checks
            assert r["status"] == "skip" and f"uses {lab.provider}" in r["message"], r
    ordered = [k for k in healthy.verdicts() if k.split("[")[0] in ACTIVE and "->" in k]
    assert len(ordered) == 6 * N * (N - 1) and all(healthy.verdicts()[k] == "pass" for k in ordered)
    check_echo_run(healthy, lab, list(itertools.permutations(clusters, 2)))
    objects, processes = wait_clean(lab)
    assert objects == {} and processes == []


def test_a_fault_on_one_cluster_fails_only_the_pairs_that_reach_it(lab, healthy, tmp_path):
    """cluster2's nginx stops: HTTP to it fails from both other clusters; every other verdict stays."""
    expected = dict(healthy.verdicts())
    fails = {f"service-reachability[{a}->cluster2]" for a in ("cluster", "cluster1")}
    expected.update({k: "fail" for k in fails})
    lab.break_("stop-service", cluster="cluster2")
    try:
        run = run_mcdiag(["all", *names(lab), *OPTS], tmp_path)
    finally:
        lab.heal()
    got = run.verdicts()
    assert got == expected, {k: (got.get(k), expected.get(k)) for k in set(got) | set(expected) if got.get(k) != expected.get(k)}
    for k in fails:
        assert "nginx-test/nginx" in run.result(k)["message"] and run.result(k)["hint"], run.result(k)
    objects, processes = wait_clean(lab)
    assert objects == {} and processes == []
