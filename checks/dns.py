"""Cluster DNS for cross-cluster names: coredns-forwarding, nodelocaldns."""

from __future__ import annotations

from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import cluster, dns, netmaker, objects, submariner
from mcdiag.facts.objects import labels, meta, qualname
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, CheckContext, Findings, Outcome, reads

#: Preflight Submariner checks also run before Submariner is installed (provider ``none``).
SUBMARINER_OR_NONE = frozenset({"submariner", "none"})


NODELOCAL_NAMES = ("nodelocaldns", "node-local-dns")


class CorednsForwarding(Check):
    """CoreDNS forwards clusterset.local to Lighthouse (Submariner), or each peer Netmaker network's zone (Netmaker)."""

    id = "coredns-forwarding"
    depends = ("submariner-deployment",)
    title = "CoreDNS forwarding for cross-cluster names"
    tags = frozenset({"passive", "inter-cluster"})
    reads = reads(dns.DNS_READS, netmaker.NETMAKER_READS, cluster.PROVIDER_READS, submariner.SUBMARINER_SETTINGS_READS)
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        provider = view.fact(cluster.detect_provider)
        if provider == "none":
            return self.skip("no Submariner or Netmaker here: nothing to forward")
        blocks, read = view.fact(dns.coredns_blocks)
        where = " and ".join(f"ConfigMap {r}" for r in read) or "ConfigMap kube-system/coredns"
        details: dict[str, Any] = {"configmaps": read, "zones": [z for b in blocks for z in b.zones]}
        if not read:
            return self.warn(
                "no CoreDNS ConfigMap kube-system/coredns found: cannot verify cross-cluster DNS forwarding",
                hint="If the cluster DNS is configured elsewhere (e.g. the OpenShift DNS operator), check that it forwards the cross-cluster zone.",
                **details,
            )
        if provider == "netmaker":
            return self._netmaker(ctx, view, blocks, where, details)
        settings = view.fact(submariner.submariner_settings)
        if not settings.service_discovery:
            return self.skip("Submariner service discovery (Lighthouse) is off")
        custom_ns = settings.coredns_custom.get("namespace") or "kube-system"
        if settings.coredns_custom.get("configMapName") and custom_ns != "kube-system":
            name = f"{custom_ns}/{settings.coredns_custom['configMapName']}"
            return self.warn(
                f"CoreDNS is configured through ConfigMap {name} (Submariner CR coreDNSCustomConfig), outside kube-system: not verified",
                hint=f"Check that ConfigMap {name} has a clusterset.local:53 block forwarding to Service "
                f"{settings.namespace}/{submariner.LIGHTHOUSE_DNS_SERVICE}.",
                **details,
            )
        svc = f"{settings.namespace}/{submariner.LIGHTHOUSE_DNS_SERVICE}"
        lighthouse = view.fact(submariner.lighthouse_dns_ip)
        details["lighthouse_dns"] = lighthouse
        if lighthouse is None:
            return self.fail(
                f"Service {svc} not found: the Lighthouse DNS server has no ClusterIP to forward to",
                hint=f"Check that service discovery is deployed (Deployment {svc}) and read the operator logs.",
                **details,
            )
        hint = (
            f"Add `clusterset.local:53 {{ forward . {lighthouse} }}` to the Corefile in {where} "
            "(the Submariner operator normally maintains it: check its logs), then restart the CoreDNS pods."
        )
        block = next((b for b in blocks if b.serves("clusterset.local")), None)
        if block is None:
            return self.fail(f"{where} has no clusterset.local:53 block: names under clusterset.local will not resolve", hint=hint, **details)
        ips = dns.forward_ips(block)
        details["forwards"] = ips
        if lighthouse not in ips:
            return self.fail(
                f"{block.source} forwards clusterset.local to {', '.join(ips) or 'nothing'}, not to {svc} ({lighthouse})",
                hint=hint,
                **details,
            )
        return self.passed(f"{block.source} forwards clusterset.local to {svc} ({lighthouse})", **details)

    def _netmaker(self, ctx: CheckContext, view: ClusterView, blocks: list[dns.ServerBlock], where: str, details: dict[str, Any]) -> Outcome:
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
                "no peer Netmaker network found (no other Netmaker cluster given, no netclient-gateway Deployment here)",
                hint="Give every cluster of the Netmaker mesh (--cluster NAME=KUBECONFIG) so peer network names can be checked.",
                **details,
            )
        found = Findings()
        for network in peers:
            block = next((b for b in blocks if b.serves(network)), None)
            hint = (
                f"Add a `{network}:53 {{ forward . NETMAKER_SERVER_IP }}` block (with errors and cache 30) to the Corefile in {where} "
                "(kubectl -n kube-system edit cm coredns), then restart the CoreDNS pods."
            )
            if block is None:
                found.fail(f"{where} has no {network}:53 block for peer network {network}", hint)
            elif not dns.forward_ips(block):
                found.fail(f"{block.source} has a {network}:53 block that forwards to no IP address ({', '.join(block.forwards) or 'no forward'})", hint)
        return found.outcome(self, f"{where} forwards peer network zone(s) {', '.join(peers)}", **details)


class NodeLocalDns(Check):
    """NodeLocal DNSCache is absent, or forwards clusterset.local to the Lighthouse DNS service."""

    id = "nodelocaldns"
    title = "NodeLocal DNSCache and clusterset.local"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER_OR_NONE
    reads = reads((R.DAEMONSETS,), dns.DNS_READS, submariner.SUBMARINER_SETTINGS_READS)
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        daemonsets = [
            d
            for d in view.list(R.DAEMONSETS)
            if meta(d).get("name") in NODELOCAL_NAMES or labels(d).get("k8s-app") in NODELOCAL_NAMES
        ]
        cm = next((c for c in (objects.config_map(view, n) for n in NODELOCAL_NAMES) if c), None)
        if not daemonsets and cm is None:
            return self.passed("NodeLocal DNSCache is not deployed")
        where = f"ConfigMap {qualname(cm)}" if cm else "NodeLocal DNSCache"
        settings = view.fact(submariner.submariner_settings)
        lighthouse = view.fact(submariner.lighthouse_dns_ip)
        svc = f"{settings.namespace}/{submariner.LIGHTHOUSE_DNS_SERVICE}"
        block_hint = (
            f"Add a `clusterset.local:53 {{ forward . {lighthouse or '<ClusterIP of ' + svc + '>'} }}` block (with bind 169.254.25.10) to "
            f"{where} (kubectl -n kube-system edit cm {meta(cm).get('name') if cm else 'nodelocaldns'}) and restart its pods, "
            "or disable NodeLocal DNSCache."
        )
        details: dict[str, Any] = {"daemonsets": [qualname(d) for d in daemonsets], "configmap": qualname(cm) if cm else None, "lighthouse_dns": lighthouse}
        if cm is None:
            return self.fail(f"NodeLocal DNSCache runs ({', '.join(details['daemonsets'])}) but its ConfigMap is not in kube-system", hint=block_hint, **details)
        if view.fact(cluster.detect_provider) == "none" or not settings.service_discovery:
            why = "Submariner is not installed yet" if view.fact(cluster.detect_provider) == "none" else "service discovery is off"
            if view.fact(cluster.detect_provider) == "none":
                return self.warn(f"NodeLocal DNSCache is deployed ({where}); {why}: add a clusterset.local block once Lighthouse runs", hint=block_hint, **details)
            return self.passed(f"NodeLocal DNSCache is deployed ({where}); {why}, so clusterset.local is not needed", **details)
        blocks = dns.corefile_blocks(str((cm.get("data") or {}).get("Corefile") or ""), where)
        block = next((b for b in blocks if b.serves("clusterset.local")), None)
        if block is None:
            return self.fail(f"{where} has no clusterset.local:53 block: names under clusterset.local will not resolve", hint=block_hint, **details)
        ips = dns.forward_ips(block)
        details["forwards"] = ips
        if lighthouse is None:
            return self.fail(f"{where} forwards clusterset.local to {', '.join(ips) or 'nothing'}, but Service {svc} does not exist", hint=f"Check that Deployment {svc} is deployed (service discovery enabled).", **details)
        if lighthouse not in ips:
            return self.fail(f"{where} forwards clusterset.local to {', '.join(ips) or 'nothing'}, not to the Lighthouse DNS service {svc} ({lighthouse})", hint=block_hint, **details)
        return self.passed(f"NodeLocal DNSCache forwards clusterset.local to the Lighthouse DNS service {svc} ({lighthouse})", **details)
