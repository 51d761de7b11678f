"""Data-plane prerequisites: Calico IPPools, kube-proxy mode, NodeLocal DNS, gateway nodes, CoreDNS forwarding."""

from __future__ import annotations

import ipaddress
from typing import Any

from checks.submariner import Findings, reads
from mcdiag import facts
from mcdiag import resources as R
from mcdiag.errors import ResourceUnavailable
from mcdiag.facts import annotations, labels, meta, qualname
from mcdiag.model import Check, CheckContext, Outcome, Status
from mcdiag.view import ClusterView

#: Preflight Submariner checks also run before Submariner is installed (provider ``none``).
SUBMARINER_OR_NONE = frozenset({"submariner", "none"})
NOT_INSTALLED = " (Submariner is not installed yet)"
CALICO_DOCS = "https://submariner.io/operations/deployment/calico/"


def _provider(view: ClusterView) -> str:
    return view.fact(facts.detect_provider)


def _preflight(check: Check, view: ClusterView, outcome: Outcome) -> Outcome:
    """Before Submariner is installed a failed prerequisite is a warning: it must be fixed before installing."""
    if outcome.status is Status.FAIL and _provider(view) == "none":
        return check.warn(outcome.message + NOT_INSTALLED, hint=outcome.hint, **dict(outcome.details))
    return outcome


# ---------------------------------------------------------------------------------------------
# Calico
# ---------------------------------------------------------------------------------------------
def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return None


class CalicoPrereqs(Check):
    """Calico: API server installed, VXLAN (not IPIP) IPPool, remote-subnet IPPools disabled without NAT."""

    id = "calico-prereqs"
    title = "Calico prerequisites for Submariner"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER_OR_NONE
    reads = reads(
        facts.CNI_READS,
        (R.CALICO_IPPOOLS, R.CALICO_CRD_IPPOOLS, R.SUBMARINER_ENDPOINTS),
        facts.SUBMARINER_SETTINGS_READS,
    )
    docs = CALICO_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        cni = view.fact(facts.detect_cni)
        if cni != "calico":
            return self.skip(f"CNI is {cni}, not Calico")
        return _preflight(self, view, self._judge(view))

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
        local_id = facts.cluster_id_of(view)
        ns = facts.submariner_namespace(view)
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


# ---------------------------------------------------------------------------------------------
# kube-proxy
# ---------------------------------------------------------------------------------------------
class KubeProxyMode(Check):
    """kube-proxy runs in iptables mode (ipvs is not supported by Submariner)."""

    id = "kube-proxy-mode"
    title = "kube-proxy mode"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER_OR_NONE
    reads = reads(facts.KUBE_PROXY_READS, facts.PROVIDER_READS)
    docs = "https://submariner.io/getting-started/#prerequisites"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        kp = view.fact(facts.kube_proxy_mode)
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
        return _preflight(self, view, out)


# ---------------------------------------------------------------------------------------------
# NodeLocal DNSCache
# ---------------------------------------------------------------------------------------------
NODELOCAL_NAMES = ("nodelocaldns", "node-local-dns")


class NodeLocalDns(Check):
    """NodeLocal DNSCache is absent, or forwards clusterset.local to the Lighthouse DNS service."""

    id = "nodelocaldns"
    title = "NodeLocal DNSCache and clusterset.local"
    tags = frozenset({"preflight", "passive", "submariner"})
    providers = SUBMARINER_OR_NONE
    reads = reads((R.DAEMONSETS,), facts.DNS_READS, facts.SUBMARINER_SETTINGS_READS)
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        daemonsets = [
            d
            for d in view.list(R.DAEMONSETS)
            if meta(d).get("name") in NODELOCAL_NAMES or labels(d).get("k8s-app") in NODELOCAL_NAMES
        ]
        cm = next((c for c in (facts.config_map(view, n) for n in NODELOCAL_NAMES) if c), None)
        if not daemonsets and cm is None:
            return self.passed("NodeLocal DNSCache is not deployed")
        where = f"ConfigMap {qualname(cm)}" if cm else "NodeLocal DNSCache"
        settings = view.fact(facts.submariner_settings)
        lighthouse = view.fact(facts.lighthouse_dns_ip)
        svc = f"{settings.namespace}/{facts.LIGHTHOUSE_DNS_SERVICE}"
        block_hint = (
            f"Add a `clusterset.local:53 {{ forward . {lighthouse or '<ClusterIP of ' + svc + '>'} }}` block (with bind 169.254.25.10) to "
            f"{where} (kubectl -n kube-system edit cm {meta(cm).get('name') if cm else 'nodelocaldns'}) and restart its pods, "
            "or disable NodeLocal DNSCache."
        )
        details: dict[str, Any] = {"daemonsets": [qualname(d) for d in daemonsets], "configmap": qualname(cm) if cm else None, "lighthouse_dns": lighthouse}
        if cm is None:
            return self.fail(f"NodeLocal DNSCache runs ({', '.join(details['daemonsets'])}) but its ConfigMap is not in kube-system", hint=block_hint, **details)
        if _provider(view) == "none" or not settings.service_discovery:
            why = "Submariner is not installed yet" if _provider(view) == "none" else "service discovery is off"
            if _provider(view) == "none":
                return self.warn(f"NodeLocal DNSCache is deployed ({where}); {why}: add a clusterset.local block once Lighthouse runs", hint=block_hint, **details)
            return self.passed(f"NodeLocal DNSCache is deployed ({where}); {why}, so clusterset.local is not needed", **details)
        blocks = facts.corefile_blocks(str((cm.get("data") or {}).get("Corefile") or ""), where)
        block = next((b for b in blocks if b.serves("clusterset.local")), None)
        if block is None:
            return self.fail(f"{where} has no clusterset.local:53 block: names under clusterset.local will not resolve", hint=block_hint, **details)
        ips = facts.forward_ips(block)
        details["forwards"] = ips
        if lighthouse is None:
            return self.fail(f"{where} forwards clusterset.local to {', '.join(ips) or 'nothing'}, but Service {svc} does not exist", hint=f"Check that Deployment {svc} is deployed (service discovery enabled).", **details)
        if lighthouse not in ips:
            return self.fail(f"{where} forwards clusterset.local to {', '.join(ips) or 'nothing'}, not to the Lighthouse DNS service {svc} ({lighthouse})", hint=block_hint, **details)
        return self.passed(f"NodeLocal DNSCache forwards clusterset.local to the Lighthouse DNS service {svc} ({lighthouse})", **details)


# ---------------------------------------------------------------------------------------------
# Gateway nodes
# ---------------------------------------------------------------------------------------------
GATEWAY_KEYS = ("udp-port", "natt-discovery-port", "public-ip", "preferred-server")


def _ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (node.get("status") or {}).get("conditions") or [])


def public_ip_problem(value: str) -> str | None:
    """Why a ``gateway.submariner.io/public-ip`` value is malformed (``ipv4:ADDR``, ``lb:SVC``, ``api:HOST``, ``dns:NAME``, comma-separated), or ``None``."""
    entries = [e.strip() for e in str(value).split(",")]
    if not any(entries):
        return "it is empty"
    for entry in entries:
        kind, sep, rest = entry.partition(":")
        if not sep or not rest:
            return f"{entry!r} is not TYPE:VALUE (ipv4:ADDR, lb:SVC, api:HOST, dns:NAME)"
        if kind == "ipv4":
            try:
                ipaddress.IPv4Address(rest)
            except ValueError:
                return f"{entry!r} is not an IPv4 address"
        elif kind not in ("lb", "api", "dns"):
            return f"{entry!r} has unknown type {kind!r} (ipv4, lb, api or dns)"
    return None


class GatewayNodes(Check):
    """Submariner: a Ready node labelled submariner.io/gateway=true with valid gateway.submariner.io/* keys; Netmaker: a gateway=true node."""

    id = "gateway-nodes"
    title = "Gateway node labels and annotations"
    tags = frozenset({"preflight", "passive"})
    reads = reads((R.NODES,), facts.PROVIDER_READS)
    docs = "https://submariner.io/operations/nat-traversal/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        provider = _provider(view)
        if provider == "none":
            return self.skip("no Submariner or Netmaker here (pass --provider submariner|netmaker to check gateway labels before installing)")
        nodes = sorted(view.list(R.NODES), key=lambda n: str(meta(n).get("name")))
        if provider == "netmaker":
            return self._netmaker(nodes)
        found = Findings()
        gateways = [n for n in nodes if labels(n).get("submariner.io/gateway") == "true"]
        ready = [meta(n).get("name") for n in gateways if _ready(n)]
        label_hint = "Label a node as gateway: kubectl label node NODE submariner.io/gateway=true."
        if not gateways:
            found.fail("no node is labelled submariner.io/gateway=true", label_hint)
        elif not ready:
            found.fail(f"no gateway node is Ready ({', '.join(str(meta(n).get('name')) for n in gateways)})", "Bring a gateway node back to Ready, or " + label_hint[0].lower() + label_hint[1:])
        keys: dict[str, dict[str, str]] = {}
        for node in nodes:
            name = meta(node).get("name")
            for where, mapping in (("label", labels(node)), ("annotation", annotations(node))):
                for key, value in mapping.items():
                    if not key.startswith("gateway.submariner.io/"):
                        continue
                    short = key.split("/", 1)[1]
                    keys.setdefault(str(name), {})[key] = value
                    fix = f"kubectl annotate node {name} {key}- and set a valid value"
                    if short not in GATEWAY_KEYS:
                        found.fail(
                            f"node {name} {where} {key} is not a key Submariner reads ({', '.join(GATEWAY_KEYS)})",
                            f"Remove or rename it (kubectl {'label' if where == 'label' else 'annotate'} node {name} {key}-).",
                        )
                    elif short == "public-ip":
                        why = public_ip_problem(value)
                        if why:
                            found.fail(
                                f"node {name} {key}={value!r} is malformed: {why}",
                                f"Set it as ipv4:ADDR (or lb:SVC, api:HOST, dns:NAME): kubectl annotate --overwrite node {name} {key}=ipv4:PUBLIC_IP.",
                            )
                    elif short in ("udp-port", "natt-discovery-port"):
                        if not (value.isdigit() and 0 < int(value) < 65536):
                            found.fail(f"node {name} {key}={value!r} is not a port number", fix + " (1-65535).")
                    elif str(value).lower() not in ("true", "false"):
                        found.fail(f"node {name} {key}={value!r} is not true or false", fix + " (true or false).")
        return found.outcome(
            self,
            f"gateway node(s) {', '.join(map(str, ready))} Ready and labelled submariner.io/gateway=true",
            gateway_nodes=[meta(n).get("name") for n in gateways],
            ready=ready,
            gateway_keys=keys,
        )

    def _netmaker(self, nodes: list[dict[str, Any]]) -> Outcome:
        gateways = [n for n in nodes if labels(n).get("gateway") == "true"]
        ready = [meta(n).get("name") for n in gateways if _ready(n)]
        hint = "Label the node that runs the Netmaker egress gateway: kubectl label node NODE gateway=true."
        if not gateways:
            return self.fail("no node is labelled gateway=true (Netmaker's netclient-gateway is pinned to it)", hint=hint)
        if not ready:
            return self.fail(f"no gateway=true node is Ready ({', '.join(str(meta(n).get('name')) for n in gateways)})", hint=hint)
        return self.passed(f"gateway node(s) {', '.join(map(str, ready))} Ready and labelled gateway=true", gateway_nodes=ready)


# ---------------------------------------------------------------------------------------------
# CoreDNS forwarding
# ---------------------------------------------------------------------------------------------
class CorednsForwarding(Check):
    """CoreDNS forwards clusterset.local to Lighthouse (Submariner), or each peer Netmaker network's zone (Netmaker)."""

    id = "coredns-forwarding"
    title = "CoreDNS forwarding for cross-cluster names"
    tags = frozenset({"passive", "inter-cluster"})
    reads = reads(facts.DNS_READS, facts.NETMAKER_READS, facts.PROVIDER_READS, facts.SUBMARINER_SETTINGS_READS)
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        provider = _provider(view)
        if provider == "none":
            return self.skip("no Submariner or Netmaker here: nothing to forward")
        blocks, read = view.fact(facts.coredns_blocks)
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
        settings = view.fact(facts.submariner_settings)
        if not settings.service_discovery:
            return self.skip("Submariner service discovery (Lighthouse) is off")
        custom_ns = settings.coredns_custom.get("namespace") or "kube-system"
        if settings.coredns_custom.get("configMapName") and custom_ns != "kube-system":
            name = f"{custom_ns}/{settings.coredns_custom['configMapName']}"
            return self.warn(
                f"CoreDNS is configured through ConfigMap {name} (Submariner CR coreDNSCustomConfig), outside kube-system: not verified",
                hint=f"Check that ConfigMap {name} has a clusterset.local:53 block forwarding to Service "
                f"{settings.namespace}/{facts.LIGHTHOUSE_DNS_SERVICE}.",
                **details,
            )
        svc = f"{settings.namespace}/{facts.LIGHTHOUSE_DNS_SERVICE}"
        lighthouse = view.fact(facts.lighthouse_dns_ip)
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
        ips = facts.forward_ips(block)
        details["forwards"] = ips
        if lighthouse not in ips:
            return self.fail(
                f"{block.source} forwards clusterset.local to {', '.join(ips) or 'nothing'}, not to {svc} ({lighthouse})",
                hint=hint,
                **details,
            )
        return self.passed(f"{block.source} forwards clusterset.local to {svc} ({lighthouse})", **details)

    def _netmaker(self, ctx: CheckContext, view: ClusterView, blocks: list[facts.ServerBlock], where: str, details: dict[str, Any]) -> Outcome:
        own = view.fact(facts.netclient_network)
        peers: list[str] = []
        for peer in ctx.peers(view):
            if peer.unreachable:
                continue
            try:
                if peer.fact(facts.detect_provider) != "netmaker":
                    continue
                network = peer.fact(facts.netclient_network)
            except ResourceUnavailable:
                continue
            if network and network not in peers:
                peers.append(network)
        for network in view.fact(facts.netclient_gateway_networks):
            if network not in peers:
                peers.append(network)
        peers = [p for p in peers if p != own]
        details.update(network=own, peer_networks=peers)
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
            elif not facts.forward_ips(block):
                found.fail(f"{block.source} has a {network}:53 block that forwards to no IP address ({', '.join(block.forwards) or 'no forward'})", hint)
        return found.outcome(self, f"{where} forwards peer network zone(s) {', '.join(peers)}", **details)
