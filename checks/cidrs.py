"""Pod and service CIDRs: cluster-cidrs (where they come from), cidr-overlap (whether two clusters' ranges collide)."""

from __future__ import annotations

import ipaddress
from types import MappingProxyType
from typing import Any

from mcdiag.facts import cluster, netmaker, networks, submariner
from mcdiag.model import Check, CheckContext, Outcome, Scope, reads

SUBMARINER_GLOBALNET_DOCS = "https://submariner.io/getting-started/architecture/globalnet/"


class ClusterCidrs(Check):
    """Discovers the pod and service CIDRs and says where they came from."""

    id = "cluster-cidrs"
    title = "Pod and service CIDRs"
    tags = frozenset({"preflight", "passive"})
    reads = reads(networks.CIDR_READS, cluster.PROVIDER_READS)
    reads_if_needed = networks.CIDR_READS_IF_NEEDED
    hint = "Pass --pod-cidr/--service-cidr CLUSTER=CIDR, or make the CIDRs discoverable (kubeadm-config, Submariner CR)."
    docs = "https://submariner.io/operations/deployment/subctl/#join-flags-general"
    provider_docs = MappingProxyType({"netmaker": netmaker.NETMAKER_K8S_DOCS})

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        cidrs = networks.cidrs_of(view, dict(ctx.options))
        details: dict[str, Any] = {
            "pod_cidrs": cidrs.pod,
            "pod_source": cidrs.pod_source,
            "service_cidrs": cidrs.service,
            "service_source": cidrs.service_source,
            "sources": cidrs.sources,
            "unreadable": cidrs.unreadable,
        }
        missing = [k for k, v in (("pod", cidrs.pod), ("service", cidrs.service)) if not v]
        if missing:
            why = f" (could not read: {'; '.join(cidrs.unreadable)})" if cidrs.unreadable else ""
            return self.warn(f"cannot discover the {' and '.join(missing)} CIDR(s) of {view.name}{why}", **details)
        _, bad = networks.parse_networks(cidrs.pod + cidrs.service)
        if bad:
            return self.warn(
                f"unparseable CIDR(s) {', '.join(bad)} in {cidrs.pod_source or cidrs.service_source}",
                hint="Correct the CIDR values at their source (or override them with --pod-cidr/--service-cidr).",
                **details,
            )
        stale = _slices_outside(cidrs)
        if stale:
            return self.warn(
                f"node pod CIDR slice(s) {', '.join(stale)} lie outside the pod CIDR {', '.join(cidrs.pod)} "
                f"from {cidrs.pod_source}: that source is stale or wrong",
                hint="Correct the pod CIDR at its source (e.g. the Submariner CR's clusterCIDR) to the range nodes really use.",
                **details,
            )
        families = sorted({n.version for n in networks.parse_networks(cidrs.pod + cidrs.service)[0]})
        stack = {(4,): "IPv4", (6,): "IPv6", (4, 6): "dual-stack"}[tuple(families)]
        return self.passed(
            f"pods {', '.join(cidrs.pod)} (from {cidrs.pod_source}); services {', '.join(cidrs.service)} "
            f"(from {cidrs.service_source}); {stack}",
            stack=stack,
            **details,
        )


def _slices_outside(cidrs: networks.Cidrs) -> list[str]:
    pods, _ = networks.parse_networks(cidrs.pod)
    for source in cidrs.sources:
        if source["source"].startswith("node spec.podCIDRs") and source["source"] != cidrs.pod_source:
            slices, _ = networks.parse_networks(source["pod"])
            return [str(s) for s in slices if not any(s.version == p.version and s.subnet_of(p) for p in pods)]
    return []


def _overlaps(left: list[tuple[str, str, str]], right: list[tuple[str, str, str]]) -> list[str]:
    """Pairs of (what, cidr, cluster) that overlap, as sentences."""
    found = []
    for lw, lc, lcl in left:
        for rw, rc, rcl in right:
            try:
                a, b = ipaddress.ip_network(lc, strict=False), ipaddress.ip_network(rc, strict=False)
            except ValueError:
                continue
            if a.version == b.version and a.overlaps(b):
                found.append(f"{lw} {lc} of cluster {lcl} overlaps {rw} {rc} of cluster {rcl}")
    return found


class CidrOverlap(Check):
    """No pod or service CIDR of one cluster overlaps one of the other (Globalnet and Netmaker rules)."""

    id = "cidr-overlap"
    depends = ("cluster-cidrs",)
    title = "CIDR overlap between clusters"
    scope = Scope.PAIR
    tags = frozenset({"preflight", "passive", "inter-cluster"})
    reads = reads(networks.CIDR_READS, cluster.PROVIDER_READS)
    reads_if_needed = networks.CIDR_READS_IF_NEEDED
    hint = "Re-create one cluster with non-overlapping pod/service CIDRs, or deploy Submariner with Globalnet."
    docs = SUBMARINER_GLOBALNET_DOCS
    provider_docs = MappingProxyType({"netmaker": netmaker.NETMAKER_DOCS})

    def run(self, ctx: CheckContext) -> Outcome:
        a, b = ctx.a, ctx.b
        ca, cb = networks.cidrs_of(a, dict(ctx.options)), networks.cidrs_of(b, dict(ctx.options))
        unknown = [v.name for v, c in ((a, ca), (b, cb)) if not (c.pod or c.service)]
        if unknown:
            return self.warn(
                f"cannot compare: the CIDRs of {', '.join(unknown)} are unknown",
                hint="Pass --pod-cidr/--service-cidr CLUSTER=CIDR so the overlap can be checked.",
            )

        def ranges(view, c) -> list[tuple[str, str, str]]:
            return [("pod CIDR", x, view.name) for x in c.pod] + [("service CIDR", x, view.name) for x in c.service]

        ra, rb = ranges(a, ca), ranges(b, cb)
        details: dict[str, Any] = {a.name: {"pod": ca.pod, "service": ca.service}, b.name: {"pod": cb.pod, "service": cb.service}}
        ga, gb = a.fact(submariner.global_cidrs), b.fact(submariner.global_cidrs)
        problems: list[str] = []
        if ga or gb:
            details["globalnet"] = {a.name: ga, b.name: gb}
            gla = [("global CIDR", x, a.name) for x in ga]
            glb = [("global CIDR", x, b.name) for x in gb]
            problems += _overlaps(gla, glb) + _overlaps(gla, ra + rb) + _overlaps(glb, ra + rb)
            if problems:
                return self.fail(
                    "; ".join(problems),
                    hint="Give each cluster a distinct Globalnet CIDR (subctl join --globalnet-cidr) outside every pod/service CIDR.",
                    overlaps=problems,
                    **details,
                )
            if not (ga and gb):
                missing = a.name if not ga else b.name
                return self.warn(
                    f"Globalnet is on in one cluster but {missing} has no global CIDR",
                    hint="Join every cluster of a Globalnet clusterset with a global CIDR.",
                    **details,
                )
            return self.passed(f"Globalnet is on; global CIDRs {', '.join(ga)} ({a.name}) and {', '.join(gb)} ({b.name}) are distinct", **details)

        problems = _overlaps(ra, rb)
        subnets = ctx.option("netmaker_subnets") or []
        if subnets:
            nm = [("Netmaker network subnet", s, "netmaker") for s in subnets]
            details["netmaker_subnets"] = list(subnets)
            problems += [p.replace(" of cluster netmaker", "") for p in _overlaps(nm, ra + rb)]
        if problems:
            return self.fail("; ".join(problems), overlaps=problems, **details)
        return self.passed(
            f"no overlap between {a.name} ({', '.join(x for _, x, _ in ra)}) and {b.name} ({', '.join(x for _, x, _ in rb)})",
            **details,
        )
