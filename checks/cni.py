"""The CNI plugin, and whether the cluster's provider works with it."""

from __future__ import annotations

from mcdiag import facts
from mcdiag.model import Check, CheckContext, Outcome

#: CNIs Submariner supports (subctl wrongly fails flannel; it is supported).
SUBMARINER_SUPPORTED = frozenset(
    {"calico", "flannel", "canal", "weave-net", "openshift-sdn", "ovn-kubernetes", "kindnet"}
)
SUBMARINER_CNI_DOCS = "https://submariner.io/getting-started/#prerequisites"


class CniSupport(Check):
    """The CNI is detected and is one the cluster's provider works with.

    Submariner (detected or ``--provider submariner``): calico, flannel (also
    k3s's built-in flannel), canal, weave-net, openshift-sdn, ovn-kubernetes
    and kindnet pass; ``generic`` (nothing known found) warns, any other CNI
    (e.g. cilium) fails. Netmaker routes between nodes over WireGuard below
    the CNI, so it works with any CNI: pass, naming the CNI. Provider ``none``
    (plain routed, or nothing installed yet): the Submariner table is applied
    as a preflight, but an unsupported CNI only warns, since Submariner is
    not (yet) in use; this mirrors ``k8s-version``.
    """

    id = "cni-support"
    title = "CNI plugin support"
    tags = frozenset({"preflight", "passive"})
    reads = facts.CNI_READS + facts.PROVIDER_READS
    hint = "Use a CNI Submariner supports (Calico, Flannel, Canal, Weave, OVN-Kubernetes, OpenShift SDN, kindnet)."
    docs = SUBMARINER_CNI_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        cni = view.fact(facts.detect_cni)
        provider = view.fact(facts.detect_provider)
        details = {"cni": cni, "provider": provider}
        if provider == "netmaker":
            return self.passed(f"CNI {cni}; Netmaker routes below the CNI over WireGuard and works with any CNI", **details)
        if cni in SUBMARINER_SUPPORTED:
            note = " (subctl diagnose wrongly reports flannel as unsupported)" if cni == "flannel" else ""
            return self.passed(f"CNI {cni} is supported by Submariner{note}", **details)
        if cni == "generic":
            return self.warn(
                "no known CNI found (generic): Submariner may or may not work with it",
                hint="Check that the CNI routes traffic from the gateway node to pods (test with pod-connectivity), "
                "or use a CNI Submariner supports.",
                **details,
            )
        message = f"CNI {cni} is not supported by Submariner"
        if provider == "none":
            return self.warn(
                message + " (Submariner is not installed; this matters only if you plan to install it)",
                hint=f"Before installing Submariner, switch to a supported CNI; with {cni}, connect the clusters "
                "another way (e.g. Netmaker or the CNI's own multi-cluster mode).",
                **details,
            )
        own = "Cilium ClusterMesh" if cni == "cilium" else f"{cni}'s own multi-cluster mode"
        return self.fail(
            message,
            hint=f"Switch to a CNI Submariner supports, or connect the clusters with {own} instead of Submariner.",
            **details,
        )
