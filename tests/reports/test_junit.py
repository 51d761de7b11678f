"""JUnit from the CLI and from the pytest plugin: a run with all five statuses validates against the
Jenkins/Ant schema and round-trips through junitparser with the right counts; --fail-on warn fails the testcase.
"""

from __future__ import annotations

import junitparser
import pytest
import xmlschema

from tests.conftest import SHARED
from tests.reports.scenario import five_status_clusters

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def schema():
    path = SHARED / "schemas" / "junit-10.xsd"
    if not path.exists():
        pytest.skip("../shared/schemas/junit-10.xsd not present")
    return xmlschema.XMLSchema(path)


def _cases(path):
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = [xml] if isinstance(xml, junitparser.TestSuite) else list(xml)
    return suites, [case for suite in suites for case in suite]


def _kind(case) -> str:
    kinds = {type(r).__name__ for r in case.result}
    return "failure" if "Failure" in kinds else "error" if "Error" in kinds else "skipped" if "Skipped" in kinds else "passed"


@pytest.mark.parametrize("fail_on", ["fail", "warn"])
def test_cli_junit_all_five_statuses(emulate, mcdiag, schema, fail_on):
    clusters = five_status_clusters(emulate)
    run = mcdiag("all", "--passive", *clusters.args(), "--fail-on", fail_on)
    summary = run.json["summary"]
    assert all(summary[s] > 0 for s in ("pass", "warn", "fail", "skip", "error")), summary
    junit = run.report_dir / "mcdiag-junit.xml"
    schema.validate(str(junit))
    suites, cases = _cases(junit)
    statuses = {f"{r['check']}[{'<->'.join(r['clusters']) if r['scope'] == 'pair' else '->'.join(r['clusters'])}]": r["status"]
                for r in run.json["results"]}
    assert {c.name for c in cases} == set(statuses)
    assert all(c.classname == "mcdiag." + c.name.split("[")[0] for c in cases)
    warn_as = "failure" if fail_on == "warn" else "passed"
    expected = {"pass": "passed", "warn": warn_as, "fail": "failure", "error": "error", "skip": "skipped"}
    for case in cases:
        assert _kind(case) == expected[statuses[case.name]], case.name
    failures = summary["fail"] + (summary["warn"] if fail_on == "warn" else 0)
    assert sum(s.failures for s in suites) == failures
    assert sum(s.errors for s in suites) == summary["error"]
    assert sum(s.skipped for s in suites) == summary["skip"]
    assert sum(s.tests for s in suites) == len(statuses)
    # Warnings are visible: system-out says WARNING, the suite has a warning property, and (--fail-on warn) a failure.
    warned = [c for c in cases if statuses[c.name] == "warn"]
    assert all(c.system_out.startswith("WARNING: ") for c in warned)
    props = {p.name: p.value for s in suites for p in s.properties()}
    assert all(f"warning:{c.name}" in props for c in warned)
    if fail_on == "warn":
        assert all(r.type == "warn" and r.message.startswith("WARNING: ") for c in warned for r in c.result)
    dependents = [n for n, r in zip(statuses, run.json["results"], strict=True) if r["cause"]]
    assert dependents and all(props[f"cause:{n}"] for n in dependents)
    assert run.code == 1


@pytest.mark.parametrize("fail_on", ["fail", "warn"])
def test_plugin_junit_all_five_statuses(emulate, mcdiag, pytester, schema, fail_on):
    clusters = five_status_clusters(emulate)
    cli = mcdiag("all", "--passive", *clusters.args())
    statuses = cli.verdicts()
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    junit = pytester.path / "junit.xml"
    args = [f"--mcdiag-cluster={n}={p}" for n, p in clusters.kubeconfigs.items()]
    result = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", *args, "--mcdiag-passive",
                                           f"--mcdiag-fail-on={fail_on}", f"--junitxml={junit}", "-n", "2")
    schema.validate(str(junit))
    suites, cases = _cases(junit)
    assert {c.name for c in cases} == set(statuses)
    assert all(c.classname == "mcdiag." + c.name.split("[")[0] for c in cases)
    warn_as = "failure" if fail_on == "warn" else "passed"
    expected = {"pass": "passed", "warn": warn_as, "fail": "failure", "error": "failure", "skip": "skipped"}
    for case in cases:
        assert _kind(case) == expected[statuses[case.name]], case.name
    count = {s: list(statuses.values()).count(s) for s in ("pass", "warn", "fail", "error", "skip")}
    assert sum(s.failures for s in suites) == count["fail"] + count["error"] + (count["warn"] if fail_on == "warn" else 0)
    assert sum(s.skipped for s in suites) == count["skip"]
    props = {p.name: p.value for s in suites for p in s.properties()}
    assert all(props[f"status:{n}"] == st for n, st in statuses.items())
    warned = [c for c in cases if statuses[c.name] == "warn"]
    assert warned and all(f"warning:{c.name}" in props for c in warned)
    if fail_on == "fail":
        assert all("WARNING: " in (c.system_out or "") for c in warned)
    assert result.ret == 1


def test_plugin_ini_keys_and_fail_on_warn(emulate, pytester):
    from tests.test_core import DISJOINT

    clusters = emulate(DISJOINT)  # passive: passes and warnings, nothing fails
    lines = "\n    ".join(f"{n}={p}" for n, p in clusters.kubeconfigs.items())
    ini = f"[pytest]\naddopts = -p no:cacheprovider\nmcdiag_cluster =\n    {lines}\nmcdiag_passive = true\n"
    pytester.makeini(ini)
    relaxed = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", "-q")
    assert relaxed.ret == 0
    outcomes = relaxed.parseoutcomes()
    assert outcomes["passed"] > 0 and "failed" not in outcomes
    pytester.makeini(ini + "mcdiag_fail_on = warn\n")
    strict = pytester.runpytest_subprocess("-p", "mcdiag.pytest_plugin", "-q")
    assert strict.ret == 1 and strict.parseoutcomes()["failed"] > 0
    strict.stdout.fnmatch_lines(["*WARN cni-support[[]east[]]: *"])
