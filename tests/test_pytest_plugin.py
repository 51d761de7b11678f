"""The pytest path: check items from the plugin give the same verdicts as ``mcdiag all``, also under xdist."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.test_core import OVERLAP, kubeadm_cluster

pytest_plugins = ["pytester"]

OUTCOME = {"pass": "passed", "warn": "passed", "fail": "failed", "error": "failed", "skip": "skipped"}


def _pytest_verdicts(junit_path) -> dict[str, str]:
    """``{test name: (pytest outcome, mcdiag status, clusters)}``; the properties live on the testsuite (schema)."""
    root = ET.parse(junit_path).getroot()
    suite = root.find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties").iter("property")}
    out = {}
    for case in root.iter("testcase"):
        assert case.find("properties") is None  # the Jenkins/Ant schema allows none on a testcase
        kinds = {c.tag for c in case} - {"system-out", "system-err"}
        outcome = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        name = case.get("name")
        assert case.get("classname") == "mcdiag." + name.split("[", 1)[0]
        out[name] = (outcome, props.get(f"status:{name}"), props.get(f"clusters:{name}"))
    return out


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_same_verdicts_as_cli(emulate, mcdiag, pytester, xdist):
    clusters = emulate({**OVERLAP, "north": kubeadm_cluster("10.50.0.0/16", "10.51.0.0/16")})
    cli = mcdiag("all", *clusters.args())
    expected = cli.verdicts()
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    args = [f"--mcdiag-cluster={name}={path}" for name, path in clusters.kubeconfigs.items()]
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", *args, f"--junitxml={junit}", *xdist, "-rA")
    got = _pytest_verdicts(junit)
    assert set(got) == set(expected)
    for name, status in expected.items():
        outcome, prop_status, _ = got[name]
        assert prop_status == status, name
        assert outcome == OUTCOME[status], name
    assert got["cidr-overlap[east<->west]"][2] == "east,west"
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAIL cidr-overlap[[]east<->west[]]: pod CIDR 10.42.0.0/16 of cluster east overlaps*"])


def test_marker_selection_inter_cluster(emulate, pytester):
    clusters = emulate(OVERLAP)
    args = [f"--mcdiag-cluster={n}={p}" for n, p in clusters.kubeconfigs.items()]
    result = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", *args, "-m", "preflight and not passive", "--co", "-q")
    result.stdout.fnmatch_lines(["*no tests collected*"])
    result = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", *args, "-m", "preflight", "--co", "-q")
    result.stdout.fnmatch_lines(["mcdiag::api-access[[]east[]]", "mcdiag::cidr-overlap[[]east<->west[]]"])


def test_plugin_inert_without_clusters(pytester):
    pytester.makepyfile("def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin")
    result.assert_outcomes(passed=1)


def test_kubeconfig_options_name_clusters_like_cli(emulate, mcdiag, pytester):
    clusters = emulate(OVERLAP)
    cli = mcdiag("run", "cidr-overlap", *clusters.kube_args("east", "west"))
    result = pytester.runpytest_subprocess(
        "-p", "mcdiag.pytest_plugin",
        "--kubeconfig", str(clusters.kubeconfigs["east"]),
        "--remote-kubeconfig", str(clusters.kubeconfigs["west"]),
        "-k", "cidr-overlap", "-q",
    )
    assert list(cli.verdicts()) == ["cidr-overlap[east-ctx<->west-ctx]"]
    result.stdout.fnmatch_lines(["*FAIL cidr-overlap[[]east-ctx<->west-ctx[]]*"])


def test_report_files_from_controller_under_xdist(emulate, mcdiag, pytester):
    import json

    clusters = emulate(OVERLAP)
    cli = mcdiag("all", *clusters.args())
    expected = cli.verdicts()
    out = pytester.path / "mcdiag-reports"
    args = [f"--mcdiag-cluster={n}={p}" for n, p in clusters.kubeconfigs.items()]
    pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", *args, "-n", "2", f"--mcdiag-report-dir={out}")
    report = json.loads((out / "mcdiag.json").read_text())
    got = {}
    for r in report["results"]:
        sep = {"cluster": "", "pair": "<->", "ordered-pair": "->"}[r["scope"]]
        got[f"{r['check']}[{sep.join(r['clusters'])}]"] = r["status"]
    assert got == expected
    # Not only the verdicts: every field (details, hint, docs, tags) crossed from the workers intact.
    def strip(results):
        return [{k: v for k, v in r.items() if k != "duration_s"} for r in results]

    assert strip(report["results"]) == strip(cli.json["results"])
    assert report["clusters"] == cli.json["clusters"]  # provider, CNI, version, CIDRs, server: as the workers saw them
    overlap = next(r for r in report["results"] if r["check"] == "cidr-overlap")
    assert overlap["details"] and overlap["tags"] and overlap["hint"]
    assert (out / "mcdiag-junit.xml").exists() and (out / "mcdiag.html").exists()
