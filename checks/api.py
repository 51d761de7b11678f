"""The Kubernetes API and version: api-access, k8s-version."""

from __future__ import annotations

from types import MappingProxyType

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import cluster, netmaker, submariner
from mcdiag.facts.objects import meta
from mcdiag.gather import resources as R
from mcdiag.model import Check, CheckContext, Outcome

SUBMARINER_MIN = (1, 19)


SUBMARINER_MIN_SERVICE_DISCOVERY = (1, 21)


class ApiAccess(Check):
    """The kubeconfig loads, the API server answers, the credentials are accepted and nodes are listable."""

    id = "api-access"
    title = "Kubernetes API access"
    tags = frozenset({"preflight", "passive"})
    #: One node: a list request proves that nodes are listable without reading every node.
    reads = (cluster.NODE_SAMPLE,)
    fatal = True
    hint = "Check the kubeconfig's server URL, credentials and network path to the API server."
    docs = "https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        server = view.spec.server
        try:
            info = view.version_info()
        except ResourceUnavailable as exc:
            return self.error(exc.message, hint=exc.hint or self.hint, server=server, failure=exc.kind)
        try:
            nodes = view.list(cluster.NODE_SAMPLE)
        except ResourceUnavailable as exc:
            hint = exc.hint
            if exc.kind == "forbidden":
                hint = "The credentials are accepted but may not list nodes: grant `list nodes` (cluster scope)."
            return self.error(f"the API answers but nodes are not listable: {exc.message}", hint=hint, server=server)
        first = str(meta(nodes[0]).get("name")) if nodes else None
        return self.passed(
            f"API server {server} answers (Kubernetes {info.get('gitVersion', '?')}); nodes are listable"
            + (f" ({first}, ...)" if first else " (none yet)"),
            server=server,
            git_version=info.get("gitVersion"),
            first_node=first,
        )


class K8sVersion(Check):
    """The Kubernetes version is one Submariner supports (>= 1.19; >= 1.21 with service discovery)."""

    id = "k8s-version"
    title = "Kubernetes version"
    tags = frozenset({"preflight", "passive", "submariner"})
    reads = cluster.PROVIDER_READS + (R.SERVICEDISCOVERIES,)
    hint = "Upgrade the cluster to a Kubernetes version Submariner supports."
    docs = "https://submariner.io/getting-started/#prerequisites"
    provider_docs = MappingProxyType({"netmaker": netmaker.NETMAKER_K8S_DOCS})

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        info = view.version_info()
        git = info.get("gitVersion", "?")
        parsed = cluster.parse_version(info)
        if parsed is None:
            return self.warn(f"cannot parse the Kubernetes version {git!r}", hint="Check /version of the API server.", version=git)
        provider = view.fact(cluster.detect_provider)
        if provider == "netmaker":
            return self.passed(f"Kubernetes {git} (Netmaker has no minimum version; information only)", version=git)
        discovery = provider == "submariner" and view.fact(submariner.service_discovery_enabled)
        minimum = SUBMARINER_MIN_SERVICE_DISCOVERY if discovery else SUBMARINER_MIN
        need = f"{minimum[0]}.{minimum[1]}"
        why = " with service discovery" if discovery else ""
        details = {"version": git, "minimum": need, "provider": provider, "service_discovery": discovery}
        if parsed >= minimum:
            return self.passed(f"Kubernetes {git} is supported by Submariner (needs >= {need}{why})", **details)
        message = f"Kubernetes {git} is older than {need}, the minimum Submariner needs{why}"
        if provider == "none":
            return self.warn(message + " (Submariner is not installed yet)", **details)
        return self.fail(message, hint=f"Upgrade the cluster to Kubernetes {need} or newer before using Submariner.", **details)
