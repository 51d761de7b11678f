"""Least privilege: the passive suite runs with exactly the role `mcdiag rbac --passive` prints, and nothing breaks.

The emulator enforces the printed ClusterRole and Roles (everything else is 403,
as RBAC would answer), so a check that reads something its ``reads`` do not
declare, or a role that forgets a resource, shows up here as an ``error``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import pytest

from mcdiag.cli.rbac import rbac_objects
from tests.conftest import PAIRS, pair_objects


def authorizer(objects: list[dict[str, Any]], seen: list[tuple]) -> Callable[..., bool]:
    """RBAC's rule: allowed if a ClusterRole rule, or a Role rule of that namespace, matches verb, group, resource."""
    grants: list[tuple[str | None, dict[str, Any]]] = []
    for obj in objects:
        scope = obj["metadata"].get("namespace") if obj["kind"] == "Role" else None
        grants.extend((scope, rule) for rule in obj["rules"] if "resources" in rule)

    def allowed(user: str | None, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        ok = any(
            (scope is None or scope == namespace)
            and verb in rule["verbs"]
            and group in rule["apiGroups"]
            and any(fnmatch.fnmatchcase(resource, r) for r in rule["resources"])
            for scope, rule in grants
        )
        seen.append((verb, group, resource, namespace, ok))
        return ok

    return allowed


def _run(emulate, mcdiag, pair: str, objects: list[dict[str, Any]]):
    _, names, options = PAIRS[pair]
    clusters = emulate(pair_objects(pair), **options)
    seen: list[tuple] = []
    for emu in clusters.emulators.values():
        emu.authorize = authorizer(objects, seen)
    return mcdiag("all", "--passive", *clusters.args(*names)), seen


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_passive_suite_needs_nothing_more_than_its_role(emulate, mcdiag, pair):
    role = rbac_objects(active=False)
    run, seen = _run(emulate, mcdiag, pair, role)
    errors = [(r["check"], r["clusters"], r["message"]) for r in run.json["results"] if r["status"] == "error"]
    assert errors == []
    assert seen and all(ok for *_, ok in seen), [s for s in seen if not s[-1]]
    assert {"list"} == {verb for verb, *_ in seen}  # passive: reads only


def test_a_role_missing_one_rule_is_caught(emulate, mcdiag):
    """The enforcement is real: drop `list nodes` from the role and api-access says so."""
    role = rbac_objects(active=False)
    for rule in role[0]["rules"]:
        if "nodes" in rule.get("resources", []):
            rule["resources"] = [r for r in rule["resources"] if r != "nodes"]
    run, seen = _run(emulate, mcdiag, "submariner", role)
    access = run.result("api-access", "cluster")
    assert access["status"] == "error" and "403" in access["message"] and "nodes" in access["message"]
    assert any(not ok for *_, ok in seen)


def test_active_role_adds_only_probe_objects():
    passive = {(g, r) for rule in rbac_objects(active=False)[0]["rules"] for g in rule.get("apiGroups", [])
               for r in rule.get("resources", [])}
    active = {(g, r, v) for rule in rbac_objects(active=True)[0]["rules"] for g in rule.get("apiGroups", [])
              for r in rule.get("resources", []) for v in rule["verbs"]}
    writes = {(g, r) for g, r, v in active if v in ("create", "delete")}
    assert writes == {("", "namespaces"), ("", "pods"), ("", "services"), ("apps", "deployments"),
                      ("multicluster.x-k8s.io", "serviceexports")}
    assert passive <= {(g, r) for g, r, _ in active}
    assert ("", "secrets") not in {(g, r) for g, r, _ in active}  # mcdiag never reads Secrets
