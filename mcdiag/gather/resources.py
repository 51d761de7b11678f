"""The resource lists checks declare in ``reads``: one :class:`Resource` is one list request.

A resource is a group/version/plural, optionally limited to one namespace. The
view lists each at most once per cluster and run; snapshots store exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    """A list of objects of one kind (optionally in one namespace)."""

    group: str
    version: str
    plural: str
    namespace: str | None = None
    #: Served by a CRD (or an aggregated API): when its group/version is not served, checks skip.
    custom: bool = False

    @property
    def group_version(self) -> str:
        """``v1`` for the core group, else ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """A stable name: ``apps/v1/daemonsets@kube-system`` (also the snapshot file name)."""
        base = f"{self.group_version}/{self.plural}"
        return f"{base}@{self.namespace}" if self.namespace else base

    @property
    def display(self) -> str:
        """``daemonsets.apps in kube-system`` for messages."""
        name = f"{self.plural}.{self.group}" if self.group else self.plural
        return f"{name} in namespace {self.namespace}" if self.namespace else name

    def path(self) -> str:
        """The list URL path."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespace:
            return f"{prefix}/namespaces/{self.namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def rbac(self, verb: str = "list") -> str:
        """The permission a 403 means is missing, as ``kubectl auth can-i`` spells it."""
        res = f"{self.plural}.{self.group}" if self.group else self.plural
        where = f" -n {self.namespace}" if self.namespace else " --all-namespaces"
        return f"{verb} {res}{where}"


def core(plural: str, namespace: str | None = None) -> Resource:
    """A core/v1 resource."""
    return Resource("", "v1", plural, namespace)


def apps(plural: str, namespace: str | None = None) -> Resource:
    """An apps/v1 resource."""
    return Resource("apps", "v1", plural, namespace)


def crd(group: str, version: str, plural: str, namespace: str | None = None) -> Resource:
    """A custom resource (served only when its CRD is installed)."""
    return Resource(group, version, plural, namespace, custom=True)


NODES = core("nodes")
PODS = core("pods")
SERVICES = core("services")
NAMESPACES = core("namespaces")
CONFIGMAPS_KUBE_SYSTEM = core("configmaps", "kube-system")
DAEMONSETS = apps("daemonsets")
DEPLOYMENTS = apps("deployments")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SERVICECIDRS = crd("networking.k8s.io", "v1", "servicecidrs")

SUBMARINERS = crd("submariner.io", "v1alpha1", "submariners")
SERVICEDISCOVERIES = crd("submariner.io", "v1alpha1", "servicediscoveries")
SUBMARINER_CLUSTERS = crd("submariner.io", "v1", "clusters")
SUBMARINER_ENDPOINTS = crd("submariner.io", "v1", "endpoints")
SUBMARINER_GATEWAYS = crd("submariner.io", "v1", "gateways")
SUBMARINER_ROUTEAGENTS = crd("submariner.io", "v1", "routeagents")
CLUSTER_GLOBAL_EGRESS_IPS = crd("submariner.io", "v1", "clusterglobalegressips")
GLOBAL_INGRESS_IPS = crd("submariner.io", "v1", "globalingressips")
SERVICE_EXPORTS = crd("multicluster.x-k8s.io", "v1alpha1", "serviceexports")
SERVICE_IMPORTS = crd("multicluster.x-k8s.io", "v1alpha1", "serviceimports")
OPENSHIFT_NETWORKS = crd("config.openshift.io", "v1", "networks")
CALICO_IPPOOLS = crd("projectcalico.org", "v3", "ippools")
CALICO_CRD_IPPOOLS = crd("crd.projectcalico.org", "v1", "ippools")
