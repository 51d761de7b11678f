"""Cause first: dependents name their likely cause (JSON ``cause``), the terminal collapses repeats and ends with a recap."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from mcdiag.model import Result, RunReport, Scope, Status
from mcdiag.reports import render_terminal
from mcdiag.run.causes import assign_causes
from mcdiag.run.registry import resolve
from tests.reports.scenario import blocked_tunnel_report, five_status_clusters
from tests.test_core import OVERLAP

ROOT = "tunnel-firewall[east->west]"


def test_blocked_tunnel_every_dependent_names_the_tunnel_as_its_cause():
    report = blocked_tunnel_report()
    data = json.loads(json.dumps(report.to_dict()))
    by = {f"{r['check']}[{'->'.join(r['clusters']) if r['scope'] == 'ordered-pair' else '<->'.join(r['clusters'])}]": r
          for r in data["results"]}
    assert by[ROOT]["status"] == "fail" and by[ROOT]["cause"] is None
    for dependent in ("pod-connectivity[east->west]", "latency[east->west]", "path-mtu[east->west]",
                      "service-reachability[east->west]", "gateway-connections[east]", "gateway-connections[west]"):
        assert by[dependent]["status"] == "fail", dependent
        assert by[dependent]["cause"] == ROOT, dependent  # the root, not the middle link (pod-connectivity)
    # What works is not blamed on anything; the other direction passes or only warns.
    assert by["tunnel-firewall[west->east]"]["status"] == "pass" and by["tunnel-firewall[west->east]"]["cause"] is None
    assert by["latency[west->east]"]["status"] == "warn" and by["latency[west->east]"]["cause"] is None
    assert by["vxlan-firewall[east]"]["status"] == "error" and by["vxlan-firewall[east]"]["cause"] is None


def test_blocked_tunnel_terminal_names_the_likely_cause_before_its_dependents():
    text = render_terminal(blocked_tunnel_report(), verbose=False)
    recap = text[text.index("Needs attention"):]
    lines = recap.splitlines()
    cause = next(i for i, ln in enumerate(lines) if f"likely cause {ROOT}" in ln)
    dependents = next(i for i, ln in enumerate(lines) if "6 dependent failures" in ln)
    assert cause < dependents and "UDP/4500" in lines[cause]
    assert "pod-connectivity[east->west]" in lines[dependents] and "gateway-connections[east]" in lines[dependents]
    assert lines.index(next(ln for ln in lines if ln.strip().startswith("✗"))) == cause  # the first problem listed
    assert "hint: Allow UDP/4500" in lines[cause + 1]
    # In the body, each dependent says where it comes from and does not repeat a hint of its own.
    body = text[: text.index("Needs attention")].splitlines()
    i = next(i for i, ln in enumerate(body) if "✗ pod-connectivity:" in ln)
    assert body[i + 1].strip() == f"likely cause: {ROOT}" and "hint:" not in body[i + 2]
    assert text.splitlines()[-1].startswith("FAILED: ")


def test_unreachable_cluster_prints_one_line_for_its_skipped_checks(emulate, mcdiag):
    clusters = emulate(OVERLAP)
    clusters["west"].stop()
    for quiet in ([], ["-q"]):
        run = mcdiag("all", "--passive", *clusters.args(), *quiet)
        assert run.code == 1 and run.status("api-access", "west") == "error"
        skipped = [r for r in run.json["results"] if r["status"] == "skip" and "west" in r["clusters"]
                   and "unreachable" in r["message"]]
        assert len(skipped) > 10 and all(r["cause"] == "api-access[west]" for r in skipped)
        mentions = [ln for ln in run.out.splitlines() if "unreachable" in ln and "skipped" in ln]
        assert len(mentions) == 1, run.out
        assert f"{len(skipped)} checks skipped: likely cause api-access[west]" in mentions[0]
        assert not [ln for ln in run.out.splitlines() if "SKIP: cluster west unreachable" in ln]


def test_one_403_is_one_error_line_and_one_recap_entry(emulate, mcdiag):
    clusters = five_status_clusters(emulate)
    run = mcdiag("all", "--passive", *clusters.args())
    errors = [r for r in run.json["results"] if r["status"] == "error" and "403" in r["message"] and not r["cause"]]
    assert len(errors) >= 2
    lines = [ln for ln in run.out.splitlines() if "403 Forbidden" in ln]
    collapsed = [ln for ln in lines if f"{len(errors)} checks ERROR" in ln]
    assert len(collapsed) == 1 and all(e["check"] in collapsed[0] for e in errors)
    recap = run.out[run.out.index("Needs attention"):]
    assert len([ln for ln in recap.splitlines() if "403 Forbidden" in ln]) == 1
    assert run.out.count("hint: Grant the kubeconfig's user permission to list pods") == 2  # body line + recap


def test_interrupted_run_is_one_line_not_one_per_check():
    results = [Result(f"check-{i}", "t", Scope.CLUSTER, (c,), Status.ERROR, "interrupted", docs="https://x.test/docs")
               for i in range(7) for c in ("east", "west")]
    report = RunReport(datetime.now(UTC), 1.0, [{"name": "east"}, {"name": "west"}],
                       assign_causes(results, resolve().checks), interrupted=True)
    text = render_terminal(report)
    body, recap = text.split("Needs attention")
    assert len([ln for ln in body.splitlines() if "interrupted" in ln]) == 1  # not 14
    assert len([ln for ln in recap.splitlines() if ": ERROR: interrupted" in ln]) == 1
    assert "14 checks ERROR: interrupted" in body and text.count("docs: https://x.test/docs") == 2
    assert text.splitlines()[-1].endswith("(interrupted)")


def test_warnings_fail_the_run_with_fail_on_warn(emulate, mcdiag):
    from tests.test_core import DISJOINT

    clusters = emulate(DISJOINT)
    plain = mcdiag("all", "--passive", *clusters.args())
    assert plain.json["summary"]["warn"] > 0 and plain.json["summary"]["fail"] == 0 and plain.json["summary"]["error"] == 0
    assert plain.code == 0
    strict = mcdiag("all", "--passive", *clusters.args(), "--fail-on", "warn")
    assert strict.code == 1 and "warnings fail this run" in strict.out.splitlines()[-1]
    assert strict.json["options"]["fail_on"] == "warn"
    recap = strict.out[strict.out.index("Needs attention"):]
    assert "⚠" in recap


def test_verbose_shows_the_evidence_redacted(emulate, mcdiag):
    clusters = emulate(OVERLAP)
    run = mcdiag("run", "api-access", "cidr-overlap", *clusters.args(), "--verbose")
    lines = run.out.splitlines()
    i = next(i for i, ln in enumerate(lines) if "✗ cidr-overlap:" in ln)
    evidence = lines[lines.index("      evidence:", i):]
    assert evidence and any("10.42.0.0/16" in ln for ln in evidence[:30])
    plain = mcdiag("run", "api-access", "cidr-overlap", *clusters.args())
    assert "evidence:" not in plain.out
    assert clusters["east"].token not in run.out + run.err
