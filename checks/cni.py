"""The CNI and kube-proxy, as Submariner needs them: cni-support, calico-prereqs, kube-proxy-mode."""

from __future__ import annotations

import ipaddress
from types import MappingProxyType
from typing import Any

from mcdiag.facts import cluster, netmaker, networks, submariner
from mcdiag.facts.objects import meta
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, CheckContext, Findings, Outcome, reads

#: CNIs Submariner supports (subctl wrongly fails flannel; it is supported).
SUBMARINER_SUPPORTED = frozenset(
    {"calico", "flannel", "canal", "weave-net", "openshift-sdn", "ovn-kubernetes", "kindnet"}
)


SUBMARINER_CNI_DOCS = "https://submariner.io/getting-started/#prerequisites"


#: Preflight Submariner checks also run before Submariner is installed (provider ``none``).
SUBMARINER_OR_NONE = frozenset({"submariner", "none"})


CALICO_DOCS = "https://submariner.io/operations/deployment/calico/"


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
    reads = reads(networks.CNI_READS, cluster.PROVIDER_READS)
    reads_if_needed = networks.CNI_READS_IF_NEEDED
    hint = "Use a CNI Submariner supports (Calico, Flannel, Canal, Weave, OVN-Kubernetes, OpenShift SDN, kindnet)."
    docs = SUBMARINER_CNI_DOCS
    provider_docs = MappingProxyType({"netmaker": netmaker.NETMAKER_K8S_DOCS})

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        cni = view.fact(networks.detect_cni)
        provider = view.fact(cluster.detect_provider)
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


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return None


class CalicoPrereqs(Check):
    """Calico: API server installed, VXLAN (not IPIP) IPPool, remote-subnet IPPools disabled without NAT."""

    id = "calico-prereqs"
    depends = ("cni-support",)
    title = "Calico prerequisites for Submariner"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER_OR_NONE
    reads = reads(
        networks.CNI_READS,
        (R.CALICO_IPPOOLS, R.SUBMARINER_ENDPOINTS),
        submariner.SUBMARINER_SETTINGS_READS,
        cluster.PROVIDER_READS,
    )
    #: The legacy IPPools only when the Calico API server is missing (to say so in the message).
    reads_if_needed = (R.CALICO_CRD_IPPOOLS, *networks.CNI_READS_IF_NEEDED)
    docs = CALICO_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        cni = view.fact(networks.detect_cni)
        if cni != "calico":
            return self.skip(f"CNI is {cni}, not Calico")
        return self.before_install(self._judge(view), view.fact(cluster.detect_provider))

    def _judge(self, view: ClusterView) -> Outcome:
        pools = view.optional(R.CALICO_IPPOOLS)
        if pools is None:
            legacy = view.optional(R.CALICO_CRD_IPPOOLS)
            extra = " (only crd.projectcalico.org/v1 IPPools exist, which Submariner cannot use)" if legacy is not None else ""
            return self.fail(
                f"the Calico API server is missing: ippools.projectcalico.org/v3 is not served{extra}",
                hint="Install the Calico API server (with the Tigera operator: create an APIServer named default, "
                "operator.tigera.io/v1) so that `kubectl get ippools.projectcalico.org` works; "
                "see https://docs.tigera.io/calico/latest/operations/install-apiserver",
            )
        found = Findings()
        remote: list[tuple[str, str]] = []  # (subnet, cluster id)
        local_id = submariner.cluster_id_of(view)
        ns = submariner.submariner_namespace(view)
        for ep in view.optional(R.SUBMARINER_ENDPOINTS) or []:
            spec = ep.get("spec") or {}
            if meta(ep).get("namespace") == ns and spec.get("cluster_id") != local_id:
                remote.extend((str(s), str(spec.get("cluster_id"))) for s in spec.get("subnets") or [])
        remote_nets = [n for n in (_network(s) for s, _ in remote) if n is not None]
        by_cidr = {}
        for pool in pools:
            net = _network((pool.get("spec") or {}).get("cidr"))
            if net is not None:
                by_cidr.setdefault(net, pool)
        local = [
            p
            for p in pools
            if not (p.get("spec") or {}).get("disabled") and _network((p.get("spec") or {}).get("cidr")) not in remote_nets
        ]
        vxlan_hint = (
            "Switch the pool to VXLAN: in the Tigera Installation set spec.calicoNetwork.ipPools[].encapsulation: VXLAN "
            "(or kubectl patch ippool NAME --type merge -p '{\"spec\":{\"ipipMode\":\"Never\",\"vxlanMode\":\"Always\"}}')."
        )
        if not local:
            found.fail("no enabled Calico IPPool for the cluster's pods", "Create the cluster's pod IPPool with vxlanMode: Always.")
        for pool in local:
            spec = pool.get("spec") or {}
            ipip, vxlan = spec.get("ipipMode") or "Never", spec.get("vxlanMode") or "Never"
            name = f"IPPool {meta(pool).get('name')} ({spec.get('cidr')})"
            if ipip != "Never":
                found.fail(f"{name} uses IPIP (ipipMode {ipip}) instead of VXLAN", vxlan_hint)
            elif vxlan == "Never":
                found.fail(f"{name} has no VXLAN encapsulation (vxlanMode Never)", vxlan_hint)
            elif vxlan != "Always":
                found.warn(f"{name} uses vxlanMode {vxlan}; Submariner is validated with vxlanMode Always", vxlan_hint)
        pool_hint = (
            "For each remote pod and service CIDR create a projectcalico.org/v3 IPPool with that cidr and "
            "disabled: true, natOutgoing: false, disableBGPExport: true (kubectl apply; see the Submariner Calico guide)."
        )
        for subnet, cid in remote:
            pool = by_cidr.get(_network(subnet))
            if pool is None:
                found.fail(f"no IPPool for subnet {subnet} of remote cluster {cid}", pool_hint)
                continue
            spec = pool.get("spec") or {}
            name = f"IPPool {meta(pool).get('name')} ({subnet}, cluster {cid})"
            if spec.get("disabled") is not True:
                found.fail(f"{name} is not disabled: true, so Calico may assign its addresses to local pods", pool_hint)
            if spec.get("natOutgoing"):
                found.fail(f"{name} has natOutgoing: true, so traffic to {cid} is masqueraded", pool_hint)
            if spec.get("disableBGPExport") is not True:
                found.warn(f"{name} lacks disableBGPExport: true", pool_hint)
        ok = "Calico API server serves projectcalico.org/v3; " + ", ".join(
            f"IPPool {meta(p).get('name')} uses VXLAN" for p in local
        )
        ok += f"; remote subnets {', '.join(s for s, _ in remote)} have disabled IPPools" if remote else "; no remote cluster joined yet"
        return found.outcome(
            self,
            ok,
            pools={str(meta(p).get("name")): {k: (p.get("spec") or {}).get(k) for k in ("cidr", "ipipMode", "vxlanMode", "natOutgoing", "disabled", "disableBGPExport")} for p in pools},
            remote_subnets=[s for s, _ in remote],
        )


class KubeProxyMode(Check):
    """kube-proxy runs in iptables mode (ipvs is not supported by Submariner)."""

    id = "kube-proxy-mode"
    title = "kube-proxy mode"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER_OR_NONE
    reads = reads(networks.KUBE_PROXY_READS, cluster.PROVIDER_READS)
    reads_if_needed = networks.KUBE_PROXY_READS_IF_NEEDED
    docs = "https://submariner.io/getting-started/#prerequisites"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        kp = view.fact(networks.kube_proxy_mode)
        details = {"mode": kp.mode, "source": kp.source, "replacement": kp.replacement}
        if kp.replacement:
            return self.passed(f"no kube-proxy: {kp.replacement} handles services (note: supported by Submariner)", **details)
        if kp.mode == "iptables":
            return self.passed(f"kube-proxy mode iptables (from {kp.source})", **details)
        if kp.mode is None:
            return self.warn(
                f"cannot determine kube-proxy's mode ({kp.source})",
                hint="Check that kube-proxy (or what replaces it) runs in iptables mode: Submariner does not support ipvs.",
                **details,
            )
        if kp.source.startswith("ConfigMap"):
            hint = (
                "Set mode: iptables in ConfigMap kube-system/kube-proxy (config.conf), restart the kube-proxy pods, "
                "and clear IPVS state on each node (kube-proxy --cleanup; ipvsadm --clear)."
            )
        elif kp.source.startswith("DaemonSet"):
            hint = "Change --proxy-mode to iptables in DaemonSet kube-system/kube-proxy and clear IPVS state on each node (ipvsadm --clear)."
        else:
            hint = "Remove --kube-proxy-arg=proxy-mode=... from the k3s server/agent arguments (config.yaml or unit file) and restart k3s."
        if kp.mode == "ipvs":
            out = self.fail(f"kube-proxy runs in ipvs mode (from {kp.source}): Submariner does not support ipvs", hint=hint, **details)
        else:
            out = self.warn(f"kube-proxy mode {kp.mode} (from {kp.source}) is not validated with Submariner; iptables is", hint=hint, **details)
        return self.before_install(out, view.fact(cluster.detect_provider))
