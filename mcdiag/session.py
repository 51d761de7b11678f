"""What the CLI and the pytest plugin share: cluster specs, views, names, check selection, run options."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mcdiag import facts
from mcdiag.clusters import ClusterSpec, load_cluster, parse_cluster_option
from mcdiag.errors import UsageError
from mcdiag.model import Check
from mcdiag.registry import Registry
from mcdiag.view import ClusterView

DEFAULT_REQUEST_TIMEOUT = 10.0
PROVIDERS = ("submariner", "netmaker", "none")


@dataclass
class Options:
    """Everything a run is told, in one place (the CLI and pytest options fill it)."""

    kubeconfig: str | None = None
    context: str | None = None
    remote_kubeconfig: str | None = None
    remote_context: str | None = None
    cluster: list[str] = field(default_factory=list)
    provider: str | None = None
    passive: bool = False
    tags: list[str] = field(default_factory=list)
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    pod_cidr: list[str] = field(default_factory=list)
    service_cidr: list[str] = field(default_factory=list)
    netmaker_subnet: list[str] = field(default_factory=list)
    max_rtt: float = 100.0
    service: str | None = None
    image: str | None = None
    image_repository: str | None = None
    from_snapshot: str | None = None

    def specs(self) -> list[ClusterSpec]:
        """The clusters to diagnose, in order: ``--kubeconfig/--context``, ``--remote-*``, then ``--cluster``."""
        specs: list[ClusterSpec] = []
        if self.kubeconfig or self.context or not (self.cluster or self.remote_kubeconfig or self.remote_context):
            specs.append(ClusterSpec(self.kubeconfig, self.context))
        if self.remote_kubeconfig or self.remote_context:
            specs.append(ClusterSpec(self.remote_kubeconfig or self.kubeconfig, self.remote_context))
        specs.extend(parse_cluster_option(v) for v in self.cluster)
        names = [s.name for s in specs if s.name]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise UsageError(f"--cluster names must be unique; {', '.join(dupes)} given more than once")
        return specs

    def check_options(self, cluster_names: Sequence[str]) -> dict[str, Any]:
        """The options checks read through ``ctx.option``."""
        return {
            "pod_cidrs": _per_cluster(self.pod_cidr, "--pod-cidr", cluster_names),
            "service_cidrs": _per_cluster(self.service_cidr, "--service-cidr", cluster_names),
            "netmaker_subnets": [c for v in self.netmaker_subnet for c in facts.split_cidrs(v)],
            "max_rtt": self.max_rtt,
            "service": self.service,
            "image": self.image,
            "image_repository": self.image_repository,
            "passive": self.passive,
        }

    def validate(self) -> None:
        """Reject option values that cannot work (exit 2)."""
        if self.provider and self.provider not in PROVIDERS:
            raise UsageError(f"--provider must be one of {', '.join(PROVIDERS)}, not {self.provider!r}")
        if self.request_timeout <= 0:
            raise UsageError("--request-timeout must be positive")
        for value in self.pod_cidr + self.service_cidr + self.netmaker_subnet:
            cidrs = facts.split_cidrs(value.split("=", 1)[1] if "=" in value else value)
            _, bad = facts.parse_networks(cidrs)
            if bad or not cidrs:
                raise UsageError(f"not a CIDR: {value!r} (expected [CLUSTER=]CIDR[,CIDR...])")
        if self.service and not re.fullmatch(r"[a-z0-9-]+/[a-z0-9-]+", self.service):
            raise UsageError(f"--service expects NAMESPACE/NAME, got {self.service!r}")


def _per_cluster(values: list[str], flag: str, names: Sequence[str]) -> dict[str, list[str]]:
    """``[CLUSTER=]CIDR[,CIDR]`` values -> {cluster: [cidrs]}; without CLUSTER the first cluster is meant."""
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, cidrs = value.partition("=")
        if not sep:
            name, cidrs = (names[0] if names else ""), value
        if names and name not in names:
            raise UsageError(f"{flag} {value!r}: no cluster called {name!r} (clusters: {', '.join(names)})")
        out.setdefault(name, []).extend(facts.split_cidrs(cidrs))
    return out


def load_views(specs: Sequence[ClusterSpec], options: Options) -> list[ClusterView]:
    """Load every kubeconfig (UsageError on bad input) and make a view per cluster."""
    views = []
    for spec in specs:
        source = load_cluster(spec, options.request_timeout)
        views.append(ClusterView(spec, source, provider_override=options.provider))
    return views


def resolve_names(views: Sequence[ClusterView], discover: bool = True) -> None:
    """Give every view a unique name: ``--cluster`` name, else Submariner cluster id, else context (de-duplicated).

    Discovery reads each reachable cluster's Submariner CR (concurrently, bounded by the request timeout).
    """

    def discovered(view: ClusterView) -> str | None:
        if not discover or view.unreachable:
            return None
        try:
            return facts.submariner_cluster_id(view)
        except Exception:
            return None

    pending = [v for v in views if not v.spec.explicit_name]
    if pending:
        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            ids = list(pool.map(discovered, pending))
        for view, cid in zip(pending, ids, strict=True):
            view.name = cid or view.spec.resolved_context or view.spec.context or "cluster"
    taken: set[str] = {v.name for v in views if v.spec.explicit_name}
    for view in views:
        if view.spec.explicit_name:
            continue
        base, n = view.name, 2
        while view.name in taken:
            view.name = f"{base}-{n}"
            n += 1
        taken.add(view.name)
    for view in views:
        view.spec.name = view.name


def select_checks(
    registry: Registry, ids: Iterable[str] = (), tags: Iterable[str] = (), passive: bool = False
) -> list[type[Check]]:
    """The checks a run asked for; unknown ids are a usage error."""
    ids, tags = list(ids), list(tags)
    unknown = [i for i in ids if registry.get(i) is None]
    if unknown:
        raise UsageError(f"unknown check id(s): {', '.join(unknown)} (see `mcdiag list`)")
    chosen = [registry.get(i) for i in dict.fromkeys(ids)] if ids else list(registry.checks)
    if tags:
        chosen = [c for c in chosen if set(tags) & set(c.tags)]
    if passive:
        chosen = [c for c in chosen if "passive" in c.tags]
    return [c for c in chosen if c is not None]


def gate_checks(registry: Registry) -> list[type[Check]]:
    """The fatal checks (``api-access``), which gate every run whether selected or not."""
    return [c for c in registry.checks if c.fatal]


def reads_of(checks: Iterable[type[Check]]) -> set:
    """Every resource the given checks (and the facts reports show) read."""
    out = set(facts.PROVIDER_READS) | set(facts.CIDR_READS) | set(facts.CNI_READS)
    for check in checks:
        out.update(check.reads)
    return out
