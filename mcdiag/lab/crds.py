"""Minimal CustomResourceDefinition objects for the custom resources mcdiag reads.

The API emulator serves a custom resource only once its CRD is loaded, as a
real API server does. Tests load the real CRDs from ``../shared/crds`` where
they lie (and validate fixtures against their schemas); the lab and the demo
fixtures, which must work anywhere, use these minimal ones.
"""

from __future__ import annotations

from typing import Any

#: (group, version, plural, kind, namespaced)
KNOWN = (
    ("submariner.io", "v1alpha1", "submariners", "Submariner", True),
    ("submariner.io", "v1alpha1", "servicediscoveries", "ServiceDiscovery", True),
    ("submariner.io", "v1alpha1", "brokers", "Broker", True),
    ("submariner.io", "v1", "clusters", "Cluster", True),
    ("submariner.io", "v1", "endpoints", "Endpoint", True),
    ("submariner.io", "v1", "gateways", "Gateway", True),
    ("submariner.io", "v1", "routeagents", "RouteAgent", True),
    ("submariner.io", "v1", "clusterglobalegressips", "ClusterGlobalEgressIP", False),
    ("submariner.io", "v1", "globalingressips", "GlobalIngressIP", True),
    ("multicluster.x-k8s.io", "v1alpha1", "serviceexports", "ServiceExport", True),
    ("multicluster.x-k8s.io", "v1alpha1", "serviceimports", "ServiceImport", True),
    ("crd.projectcalico.org", "v1", "ippools", "IPPool", False),
    ("config.openshift.io", "v1", "networks", "Network", False),
)


def minimal_crd(group: str, version: str, plural: str, kind: str, namespaced: bool = True) -> dict[str, Any]:
    """A valid apiextensions.k8s.io/v1 CRD that accepts any object of the kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    "subresources": {"status": {}},
                }
            ],
        },
    }


def crds_for(groups: set[str] | None = None) -> list[dict[str, Any]]:
    """Minimal CRDs of every known custom resource (or only those in ``groups``)."""
    return [minimal_crd(*entry) for entry in KNOWN if groups is None or entry[0] in groups]
