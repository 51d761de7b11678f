"""Cluster DNS for cross-cluster names: coredns-forwarding, nodelocaldns."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import cluster, dns, netmaker, submariner
from mcdiag.facts.objects import qualname
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, CheckContext, Findings, Outcome, reads

#: Preflight Submariner checks also run before Submariner is installed (provider ``none``).
SUBMARINER_OR_NONE = frozenset({"submariner", "none"})



class CorednsForwarding(Check):
    """The cluster DNS pods load a forward of clusterset.local to Lighthouse (Submariner), or of each peer Netmaker network (Netmaker).

    Judged on what the DNS pods load: the ConfigMap and key mounted as their Corefile and what it
    imports (k3s coredns-custom), RKE2's ConfigMap, or OpenShift's DNS operator; a block in a key or
    ConfigMap the pods never load does not count, and the message says so.
    """

    id = "coredns-forwarding"
    depends = ("submariner-deployment",)
    title = "CoreDNS forwarding for cross-cluster names"
    tags = frozenset({"passive", "inter-cluster"})
    reads = reads(dns.DNS_READS, cluster.PROVIDER_READS, submariner.SUBMARINER_SETTINGS_READS, submariner.LIGHTHOUSE_READS)
    #: Netmaker's workloads only on Netmaker clusters (their networks are the zones to forward).
    reads_if_needed = (*dns.DNS_READS_IF_NEEDED, *netmaker.NETMAKER_READS)
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"
    provider_docs = MappingProxyType({"netmaker": netmaker.NETMAKER_K8S_DOCS})

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        provider = view.fact(cluster.detect_provider)
        if provider == "none":
            return self.skip("no Submariner or Netmaker here: nothing to forward")
        config = view.fact(dns.cluster_dns_config)
        details: dict[str, Any] = config.summary()
        if config.problem and not config.blocks:
            return self.warn(
                f"cannot verify cross-cluster DNS forwarding: {config.problem}",
                hint="Check that the configuration the cluster DNS pods load forwards the cross-cluster zone "
                f"({'clusterset.local' if provider == 'submariner' else 'each peer Netmaker network'}).",
                **details,
            )
        if not config.read and not config.operator:
            return self.warn(
                "no CoreDNS ConfigMap found in kube-system: cannot verify cross-cluster DNS forwarding",
                hint="If the cluster DNS is configured elsewhere, check that it forwards the cross-cluster zone.",
                **details,
            )
        if provider == "netmaker":
            return self._netmaker(ctx, view, config, details)
        return self._submariner(view, config, details)

    @staticmethod
    def _edit(config: dns.DnsConfig) -> str:
        if config.operator:
            return "oc edit dns.operator/default"
        ns, _, name = config.where.removeprefix("ConfigMap ").partition("/")
        if name.startswith("rke2-coredns"):
            return f"on RKE2 through a HelmChartConfig for rke2-coredns, as kubectl -n {ns} edit cm {name} is undone by the chart"
        return f"kubectl -n {ns} edit cm {name}"

    @staticmethod
    def _stray(config: dns.DnsConfig, zone: str) -> str:
        stray = config.unloaded_serving(zone)
        if not stray:
            return ""
        return (f"; the {zone}:53 block in {stray[0].source} does not count: {config.server} never loads it"
                + (f" ({config.how})" if config.how else ""))

    def _submariner(self, view: ClusterView, config: dns.DnsConfig, details: dict[str, Any]) -> Outcome:
        settings = view.fact(submariner.submariner_settings)
        if not settings.service_discovery:
            return self.skip("Submariner service discovery (Lighthouse) is off")
        svc = f"{settings.namespace}/{submariner.LIGHTHOUSE_DNS_SERVICE}"
        lighthouse = view.fact(submariner.lighthouse_dns_ip)
        details["lighthouse_dns"] = lighthouse
        if lighthouse is None:
            return self.fail(
                f"Service {svc} not found: the Lighthouse DNS server has no ClusterIP to forward to",
                hint=f"Check that service discovery is deployed (Deployment {svc}) and read the operator logs.",
                **details,
            )
        if config.operator:
            hint = (f"Add a server to the DNS operator (oc edit dns.operator/default): spec.servers: - name: lighthouse, "
                    f"zones: [clusterset.local], forwardPlugin: {{upstreams: [{lighthouse}]}} (the Submariner operator "
                    "normally does this: check its logs).")
        else:
            hint = (f"Add `clusterset.local:53 {{ forward . {lighthouse} }}` to the Corefile in {config.where} "
                    f"({self._edit(config)}; the Submariner operator normally maintains it: check its logs), then restart the CoreDNS pods.")
        custom = self._custom_config_note(settings, config)
        block = config.serving("clusterset.local")
        if block is None:
            why = self._stray(config, "clusterset.local") or (f" ({config.problem})" if config.problem else "")
            return self.fail(f"{config.where} has no clusterset.local:53 block: names under clusterset.local will not resolve{why}{custom}",
                             hint=hint, **details)
        ips = dns.forward_ips(block)
        details["forwards"] = ips
        if lighthouse not in ips:
            return self.fail(
                f"{block.source} forwards clusterset.local to {', '.join(ips) or 'nothing'}, not to {svc} ({lighthouse}){custom}",
                hint=hint,
                **details,
            )
        if custom:
            name = f"{settings.coredns_custom.get('namespace') or 'kube-system'}/{settings.coredns_custom.get('configMapName')}"
            return self.warn(
                f"{block.source} forwards clusterset.local to {svc} ({lighthouse}){custom}",
                hint=f"Point the Submariner CR's coreDNSCustomConfig at the ConfigMap the DNS pods load ({config.where}), or "
                f"mount {name} into them, so the operator's clusterset.local:53 block keeps being loaded.",
                **details,
            )
        return self.passed(f"{block.source} forwards clusterset.local to {svc} ({lighthouse}) ({config.server})", **details)

    @staticmethod
    def _custom_config_note(settings: Any, config: dns.DnsConfig) -> str:
        """The Submariner CR's coreDNSCustomConfig names a ConfigMap the DNS pods do not load (or one mcdiag cannot read)."""
        name = settings.coredns_custom.get("configMapName")
        if not name:
            return ""
        ns = settings.coredns_custom.get("namespace") or "kube-system"
        qual = f"{ns}/{name}"
        if any(src.startswith(f"ConfigMap {qual} (") for src in config.loaded):
            return ""
        if ns != "kube-system":
            return (f"; the Submariner CR's coreDNSCustomConfig names ConfigMap {qual}, outside kube-system: not verified "
                    "(the operator writes its block there)")
        return f"; the Submariner CR's coreDNSCustomConfig names ConfigMap {qual}, which {config.server} does not load"

    def _netmaker(self, ctx: CheckContext, view: ClusterView, config: dns.DnsConfig, details: dict[str, Any]) -> Outcome:
        own = view.fact(netmaker.cluster_networks)
        peers: list[str] = []
        for peer in ctx.peers(view):
            if peer.unreachable:
                continue
            try:
                if peer.fact(cluster.detect_provider) != "netmaker":
                    continue
                networks = peer.fact(netmaker.cluster_networks)
            except ResourceUnavailable:
                continue
            peers.extend(n for n in networks if n not in peers)
        peers.extend(n for n in view.fact(netmaker.gateway_networks) if n not in peers)
        peers = [p for p in peers if p not in own]
        details.update(network=own[0] if own else None, peer_networks=peers)
        if not peers:
            return self.warn(
                "no peer Netmaker network found (no other Netmaker cluster given, no netclient-gateway Deployment here, "
                "or their network is neither in NETWORK, -n nor a readable access token)",
                hint="Give every cluster of the Netmaker mesh (--cluster NAME=KUBECONFIG) so peer network names can be checked.",
                **details,
            )
        found = Findings()
        for network in peers:
            block = config.serving(network)
            if config.operator:
                hint = (f"Add a server to the DNS operator (oc edit dns.operator/default): zones: [{network}], "
                        "forwardPlugin: {upstreams: [NETMAKER_SERVER_IP]}.")
            else:
                hint = (f"Add a `{network}:53 {{ forward . NETMAKER_SERVER_IP }}` block (with errors and cache 30) to the Corefile "
                        f"in {config.where} ({self._edit(config)}), then restart the CoreDNS pods.")
            if block is None:
                found.fail(f"{config.where} has no {network}:53 block for peer network {network}{self._stray(config, network)}", hint)
            elif not dns.forward_ips(block):
                found.fail(f"{block.source} has a {network}:53 block that forwards to no IP address ({', '.join(block.forwards) or 'no forward'})", hint)
        return found.outcome(self, f"{config.where} forwards peer network zone(s) {', '.join(peers)} ({config.server})", **details)


class NodeLocalDns(Check):
    """NodeLocal DNSCache is absent, or the configuration it loads forwards clusterset.local to the Lighthouse DNS service."""

    id = "nodelocaldns"
    title = "NodeLocal DNSCache and clusterset.local"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER_OR_NONE
    reads = reads((R.DAEMONSETS,), dns.DNS_READS, submariner.SUBMARINER_SETTINGS_READS, submariner.LIGHTHOUSE_READS,
                  cluster.PROVIDER_READS)
    reads_if_needed = dns.DNS_READS_IF_NEEDED
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        config = view.fact(dns.nodelocal_dns_config)
        if config is None:
            return self.passed("NodeLocal DNSCache is not deployed")
        daemonsets = [qualname(d) for d in dns.nodelocal_workloads(view)]
        where = config.where
        settings = view.fact(submariner.submariner_settings)
        lighthouse = view.fact(submariner.lighthouse_dns_ip)
        svc = f"{settings.namespace}/{submariner.LIGHTHOUSE_DNS_SERVICE}"
        cm_name = where.rsplit("/", 1)[-1] if where.startswith("ConfigMap ") else "nodelocaldns"
        block_hint = (
            f"Add a `clusterset.local:53 {{ forward . {lighthouse or '<ClusterIP of ' + svc + '>'} }}` block (with bind 169.254.25.10) to "
            f"{where} (kubectl -n kube-system edit cm {cm_name}) and restart its pods, "
            "or disable NodeLocal DNSCache."
        )
        details: dict[str, Any] = {"daemonsets": daemonsets, "configmap": where.removeprefix("ConfigMap ") if config.read else None,
                                   "lighthouse_dns": lighthouse, **config.summary()}
        if not config.read and not config.blocks:
            why = config.problem or "its ConfigMap is not in kube-system"
            return self.fail(f"NodeLocal DNSCache runs ({', '.join(daemonsets)}) but {why}", hint=block_hint, **details)
        provider = view.fact(cluster.detect_provider)
        if provider == "none" or not settings.service_discovery:
            if provider == "none":
                return self.warn(f"NodeLocal DNSCache is deployed ({where}); Submariner is not installed yet: add a clusterset.local "
                                 "block once Lighthouse runs", hint=block_hint, **details)
            return self.passed(f"NodeLocal DNSCache is deployed ({where}); service discovery is off, so clusterset.local is not needed",
                               **details)
        block = config.serving("clusterset.local")
        if block is None:
            stray = config.unloaded_serving("clusterset.local")
            why = (f"; the block in {stray[0].source} does not count: NodeLocal DNSCache never loads it ({config.how})" if stray
                   else (f" ({config.problem})" if config.problem else ""))
            return self.fail(f"{where} has no clusterset.local:53 block: names under clusterset.local will not resolve{why}",
                             hint=block_hint, **details)
        ips = dns.forward_ips(block)
        details["forwards"] = ips
        if lighthouse is None:
            return self.fail(f"{where} forwards clusterset.local to {', '.join(ips) or 'nothing'}, but Service {svc} does not exist",
                             hint=f"Check that Deployment {svc} is deployed (service discovery enabled).", **details)
        if lighthouse not in ips:
            return self.fail(f"{where} forwards clusterset.local to {', '.join(ips) or 'nothing'}, not to the Lighthouse DNS service "
                             f"{svc} ({lighthouse})", hint=block_hint, **details)
        return self.passed(f"NodeLocal DNSCache forwards clusterset.local to the Lighthouse DNS service {svc} ({lighthouse})", **details)
