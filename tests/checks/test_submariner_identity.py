"""cluster-id, submariner-versions and cable-driver on the healthy Submariner pair and one mutation each."""

from __future__ import annotations

import pytest
from mcdiag.checks.submariner import cluster_id_problem

from mcdiag.facts.submariner import image_version
from tests.conftest import CALICO_API, pair_objects

CHECKS = ("cluster-id", "submariner-versions", "cable-driver")


def find(objs: list[dict], kind: str, name: str | None = None, **where) -> dict:
    for o in objs:
        if o["kind"] == kind and (name is None or o["metadata"]["name"] == name):
            if all((o.get("spec") or {}).get(k) == v for k, v in where.items()):
                return o
    raise KeyError((kind, name, where))


def run(memory, objs, *checks: str, **kw):
    return memory(objs, "run", *(checks or CHECKS), extra_groups=CALICO_API, **kw)


def test_healthy_pair_passes(memory):
    r = run(memory, pair_objects("submariner"))
    assert r.verdicts() == {"cluster-id[cluster]": "pass", "cluster-id[cluster1]": "pass", "submariner-versions[cluster]": "pass",
                            "submariner-versions[cluster1]": "pass", "cable-driver[cluster<->cluster1]": "pass"}
    assert "'cluster1'" in r.result("cluster-id", "cluster1")["message"]
    assert "0.20.0" in r.result("submariner-versions", "cluster")["message"]
    assert r.result("cable-driver", "cluster<->cluster1")["message"] == "both use cable driver libreswan"
    assert "inter-cluster" in r.result("cable-driver", "cluster<->cluster1")["tags"]


@pytest.mark.parametrize(("cid", "why"), [("cluster.east", "dots"), ("Cluster1", "upper-case"), ("east_1", "other than"),
                                          ("-east", "starts or ends"), ("e" * 64, "at most 63")])
def test_invalid_cluster_ids_fail(memory, cid, why):
    objs = pair_objects("submariner")
    cr = find(objs["cluster1"], "Submariner")
    cr["spec"]["clusterID"] = cid
    cr.setdefault("status", {})["clusterID"] = cid
    r = run(memory, objs, "cluster-id")
    assert r.verdicts() == {"cluster-id[cluster]": "pass", "cluster-id[cluster1]": "fail"}
    result = r.result("cluster-id", "cluster1")
    assert why in result["message"] and repr(cid) in result["message"] and "--clusterid" in result["hint"], result
    assert result["docs"].startswith("https://submariner.io/")


def test_duplicate_cluster_ids_fail_on_both(memory):
    objs = pair_objects("submariner")
    for name in ("cluster", "cluster1"):
        cr = find(objs[name], "Submariner")
        cr["spec"]["clusterID"] = "east"
        cr.setdefault("status", {})["clusterID"] = "east"
    r = run(memory, objs, "cluster-id")
    assert r.verdicts() == {"cluster-id[cluster]": "fail", "cluster-id[cluster1]": "fail"}
    assert "also the cluster ID of cluster1" in r.result("cluster-id", "cluster")["message"]


def test_version_skew_across_clusters_warns_on_both(memory):
    objs = pair_objects("submariner")
    for o in objs["cluster1"]:
        if o["kind"] in ("DaemonSet", "Deployment") and o["metadata"]["name"].startswith("submariner-"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                c["image"] = c["image"].replace("0.20.0", "0.19.2")
    r = run(memory, objs, "submariner-versions")
    assert r.verdicts() == {"submariner-versions[cluster]": "warn", "submariner-versions[cluster1]": "warn"}
    msg = r.result("submariner-versions", "cluster")["message"]
    assert "cluster runs Submariner 0.20.0" in msg and "cluster1 runs 0.19.2" in msg, msg
    assert r.code == 0


def test_version_skew_within_a_cluster_warns(memory):
    objs = pair_objects("submariner")
    gw = find(objs["cluster"], "DaemonSet", "submariner-gateway")
    gw["spec"]["template"]["spec"]["containers"][0]["image"] = gw["spec"]["template"]["spec"]["containers"][0]["image"].replace(
        "0.20.0", "0.20.1")
    r = run(memory, objs, "submariner-versions")
    assert r.result("submariner-versions", "cluster")["status"] == "warn"
    assert "0.20.1: submariner-gateway" in r.result("submariner-versions", "cluster")["message"]
    assert r.result("submariner-versions", "cluster1")["status"] == "warn"  # and cluster1 sees cluster's mix


def test_libreswan_and_wireguard_never_connect(memory):
    objs = pair_objects("submariner")
    for name in ("cluster", "cluster1"):  # cluster1's gateway registered itself with wireguard, in both clusters' copies
        for ep in (o for o in objs[name] if o["kind"] == "Endpoint" and o["spec"].get("cluster_id") == "cluster1"):
            ep["spec"]["backend"] = "wireguard"
    r = run(memory, objs, "cable-driver")
    assert r.verdicts() == {"cable-driver[cluster<->cluster1]": "fail"}
    result = r.result("cable-driver", "cluster<->cluster1")
    assert "cluster uses cable driver libreswan" in result["message"] and "cluster1 uses wireguard" in result["message"]
    assert "--cable-driver" in result["hint"]


def test_cable_driver_from_the_cr_when_no_endpoint(memory):
    objs = pair_objects("submariner")
    objs["cluster1"] = [o for o in objs["cluster1"] if o["kind"] != "Endpoint"]
    find(objs["cluster1"], "Submariner")["spec"]["cableDriver"] = "vxlan"
    r = run(memory, objs, "cable-driver")
    result = r.result("cable-driver", "cluster<->cluster1")
    assert result["status"] == "fail" and "cableDriver of Submariner CR" in result["message"], result


def test_helpers():
    assert cluster_id_problem("cluster1") is None and cluster_id_problem("a-b-1") is None
    assert image_version("quay.io/submariner/submariner-gateway:0.20.0") == "0.20.0"
    assert image_version("repo:5000/x/lighthouse-agent:v0.19.2") == "0.19.2"
    assert image_version("repo:5000/x/lighthouse-agent") is None
    assert image_version("quay.io/x@sha256:abc") is None and image_version("x:latest") is None
    assert image_version("x:devel-abc@sha256:1") == "devel-abc"


def test_every_pair_check_is_inter_cluster():
    from mcdiag.model import Scope
    from mcdiag.run.registry import resolve

    pairs = [c for c in resolve(include_plugins=False).checks if c.scope is not Scope.CLUSTER]
    assert {"cidr-overlap", "cable-driver", "dns-clusterset"} <= {c.id for c in pairs}
    assert [c.id for c in pairs if "inter-cluster" not in c.tags] == []


pytest_plugins = ["pytester"]


def test_pytest_inter_cluster_marker_fails_cidr_overlap(emulate, pytester):
    """``pytest -m inter-cluster`` on two clusters whose CIDRs overlap runs cidr-overlap, and it FAILS."""
    from tests.test_core import OVERLAP

    clusters = emulate(OVERLAP)
    args = [f"--mcdiag-cluster={n}={p}" for n, p in clusters.kubeconfigs.items()]
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    result = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", *args, "-m", "inter-cluster", "--mcdiag-passive", "-rA")
    result.stdout.fnmatch_lines(["*FAIL cidr-overlap[[]east<->west[]]: * overlaps *"])
    result.stdout.fnmatch_lines(["FAILED *cidr-overlap[[]east<->west[]]*"])
    assert result.ret == 1
