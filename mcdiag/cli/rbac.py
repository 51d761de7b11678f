"""``mcdiag rbac``: the ClusterRole (and Roles) mcdiag needs, worked out from what the checks read.

Passive: ``list`` on every query the passive checks declare (read ahead or when
needed), cluster-wide, or in the namespace a query reads (a Role there, unless the
ClusterRole grants it anyway), plus the discovery URLs. Active adds what probe pods need: create, get, list and delete on
namespaces, pods, deployments, services and ServiceExports, and ``get`` on pod
logs. The rules come from the checks' own ``reads``, so a new check updates them.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

import yaml

from mcdiag.run.options import DEFAULT_PROBE_NAMESPACE

#: What probe pods need (active checks and ``mcdiag cleanup``): (apiGroup, resource) -> verbs.
ACTIVE_RULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "namespaces"): ("create", "get", "list", "delete"),
    ("", "pods"): ("create", "get", "list", "delete"),
    ("", "pods/log"): ("get",),
    ("", "services"): ("create", "get", "list", "delete"),
    ("apps", "deployments"): ("create", "get", "list", "delete"),
    ("multicluster.x-k8s.io", "serviceexports"): ("create", "get", "list", "delete"),
}
#: Discovery and version, which every run reads.
NON_RESOURCE_URLS = ("/version", "/api", "/api/*", "/apis", "/apis/*")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``rbac`` sub-command."""
    p = sub.add_parser(
        "rbac",
        help="print the ClusterRole (and Roles) mcdiag needs",
        description="Print, as YAML, the least-privilege ClusterRole and Roles for the kubeconfig user mcdiag runs as: "
        "--passive for `mcdiag all --passive` and `mcdiag gather`, --active (the default) for `mcdiag all`.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--passive", action="store_true", help="only what passive checks read")
    mode.add_argument("--active", action="store_true", help="also what probe pods need (default)")
    p.add_argument("--name", default=None, help="name of the roles (default mcdiag-passive or mcdiag-active)")
    p.set_defaults(func=cmd_rbac)


def cmd_rbac(args: argparse.Namespace) -> int:
    """Print the roles."""
    active = not args.passive
    name = args.name or ("mcdiag-active" if active else "mcdiag-passive")
    print(yaml.safe_dump_all(rbac_objects(active=active, name=name), sort_keys=False), end="")
    return 0


def required_rules(active: bool = True) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(ClusterRole rules, {namespace: Role rules}) for a passive or an active run."""
    from mcdiag.run.registry import resolve
    from mcdiag.run.session import reads_of

    checks = [c for c in resolve().checks if active or "passive" in c.tags]
    cluster: dict[tuple[str, str], set[str]] = defaultdict(set)
    namespaced: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    for res in reads_of(checks):
        if res.namespace:
            namespaced[res.namespace][(res.group, res.plural)].add("list")
        else:
            cluster[(res.group, res.plural)].add("list")
    if active:
        for key, verbs in ACTIVE_RULES.items():
            cluster[key].update(verbs)
    for ns_rules in namespaced.values():  # what the ClusterRole grants everywhere needs no Role
        for key in list(ns_rules):
            ns_rules[key] -= cluster.get(key, set())
            if not ns_rules[key]:
                del ns_rules[key]
    namespaced = {ns: r for ns, r in namespaced.items() if r}
    rules = _rules(cluster)
    rules.append({"nonResourceURLs": list(NON_RESOURCE_URLS), "verbs": ["get"]})
    roles = {ns: _rules(r) for ns, r in sorted(namespaced.items())}
    return rules, roles


def _rules(wanted: dict[tuple[str, str], set[str]]) -> list[dict[str, Any]]:
    by_group_verbs: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (group, resource), verbs in sorted(wanted.items()):
        by_group_verbs[(group, tuple(sorted(verbs)))].append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in sorted(by_group_verbs.items())
    ]


def rbac_objects(active: bool = True, name: str = "mcdiag") -> list[dict[str, Any]]:
    """The ClusterRole, then one Role per namespace read, as Kubernetes objects."""
    rules, roles = required_rules(active)
    labels = {"app.kubernetes.io/name": "mcdiag", "app.kubernetes.io/component": "active" if active else "passive"}
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels, "annotations": {
                "mcdiag.io/description": ("what `mcdiag all` needs (probe pods in the namespace "
                                          f"{DEFAULT_PROBE_NAMESPACE} by default)") if active
                else "what `mcdiag all --passive` and `mcdiag gather` read"}},
            "rules": rules,
        }
    ]
    for namespace, ns_rules in roles.items():
        out.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "rules": ns_rules,
        })
    return out
