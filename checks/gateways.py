"""Gateway nodes: gateway-nodes (the labels and annotations Submariner and Netmaker read)."""

from __future__ import annotations

import ipaddress
from types import MappingProxyType
from typing import Any

from mcdiag.facts import cluster, netmaker, submariner
from mcdiag.facts.objects import annotations, labels, meta, node_ready
from mcdiag.model import Check, CheckContext, Findings, Outcome, reads

GATEWAY_KEYS = ("udp-port", "natt-discovery-port", "public-ip", "preferred-server")


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
    """Submariner: a Ready node labelled submariner.io/gateway=true with valid gateway.submariner.io/* keys; Netmaker: a gateway=true node.

    Only the nodes labelled as gateways are read (and their ``gateway.submariner.io/*`` keys
    judged): Submariner reads those keys on the gateway it runs on, nowhere else.
    """

    id = "gateway-nodes"
    title = "Gateway node labels and annotations"
    tags = frozenset({"preflight", "passive"})
    reads = reads((submariner.GATEWAY_NODES,), cluster.PROVIDER_READS)
    reads_if_needed = (netmaker.GATEWAY_NODES,)
    docs = "https://submariner.io/operations/nat-traversal/"
    provider_docs = MappingProxyType({"netmaker": netmaker.NETMAK8S_DOCS})

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        provider = view.fact(cluster.detect_provider)
        if provider == "none":
            return self.skip("no Submariner or Netmaker here (pass --provider submariner|netmaker to check gateway labels before installing)")
        if provider == "netmaker":
            return self._netmaker(sorted(view.list(netmaker.GATEWAY_NODES), key=lambda n: str(meta(n).get("name"))))
        nodes = sorted(view.list(submariner.GATEWAY_NODES), key=lambda n: str(meta(n).get("name")))
        found = Findings()
        gateways = [n for n in nodes if labels(n).get("submariner.io/gateway") == "true"]
        ready = [meta(n).get("name") for n in gateways if node_ready(n)]
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
        ready = [meta(n).get("name") for n in gateways if node_ready(n)]
        hint = "Label the node that runs the Netmaker egress gateway: kubectl label node NODE gateway=true."
        if not gateways:
            return self.fail("no node is labelled gateway=true (Netmaker's netclient-gateway is pinned to it)", hint=hint)
        if not ready:
            return self.fail(f"no gateway=true node is Ready ({', '.join(str(meta(n).get('name')) for n in gateways)})", hint=hint)
        return self.passed(f"gateway node(s) {', '.join(map(str, ready))} Ready and labelled gateway=true", gateway_nodes=ready)
