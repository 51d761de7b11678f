"""DNS: Corefiles and their server blocks, what CoreDNS loads, and the DNS services that answer."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts.objects import config_map, qualname
from mcdiag.facts.submariner import submariner_cr
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

DNS_READS = (R.CONFIGMAPS_KUBE_SYSTEM, R.SERVICES, R.SUBMARINERS)
#: What :func:`cluster_dns` reads.
CLUSTER_DNS_READS = (R.SERVICES,)


@dataclass
class ServerBlock:
    """One server block of a Corefile: its zones (``clusterset.local:53``), plugin lines and forward targets."""

    zones: list[str]
    lines: list[str]
    forwards: list[str]
    source: str = ""

    def serves(self, zone: str) -> bool:
        """Whether the block answers for ``zone`` on port 53 (``zone``, ``zone:53``, ``dns://zone:53``)."""
        want = zone.rstrip(".").lower()
        for key in self.zones:
            key = key.lower().split("://", 1)[-1]
            name, _, port = key.partition(":")
            if name.rstrip(".") == want and port in ("", "53"):
                return True
        return False


def corefile_blocks(text: str, source: str = "") -> list[ServerBlock]:
    """Parse a Corefile into its top-level server blocks (comments stripped, nested blocks kept as lines)."""
    blocks: list[ServerBlock] = []
    depth = 0
    zones: list[str] = []
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if depth == 0:
            if "{" not in line:
                # A key list continued on the next line ends with a comma; anything else here
                # (``import /etc/coredns/custom/*.server``) is not a server block.
                pending = f"{pending} {line}".strip() if line.endswith(",") else ""
                continue
            pending = f"{pending} {line}".strip()
            head, _, rest = pending.partition("{")
            zones = [z for z in head.replace(",", " ").split() if z]
            lines, pending, depth = [], "", 1
            line = rest.strip()
            if not line:
                continue
        opens, closes = line.count("{"), line.count("}")
        if depth + opens - closes <= 0:
            inner = line.rsplit("}", 1)[0].strip()
            if inner:
                lines.append(inner)
            blocks.append(ServerBlock(zones, lines, _forwards(lines), source))
            depth = 0
            continue
        depth += opens - closes
        lines.append(line)
    return blocks


def _forwards(lines: list[str]) -> list[str]:
    targets: list[str] = []
    for line in lines:
        words = line.replace("{", " ").split()
        if words[:1] == ["forward"] and len(words) >= 3:
            for word in words[2:]:
                if word == "}":
                    break
                targets.append(word.split("://", 1)[-1])
    return targets


def _strip_port(target: str) -> str:
    if target.startswith("["):
        return target[1:].split("]", 1)[0]
    return target.rsplit(":", 1)[0] if target.count(":") == 1 else target


def forward_ips(block: ServerBlock) -> list[str]:
    """Return the IP addresses a block forwards to (ports stripped; names and files left out)."""
    out = []
    for target in block.forwards:
        host = _strip_port(target)
        try:
            out.append(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    return out


def coredns_blocks(view: ClusterView) -> tuple[list[ServerBlock], list[str]]:
    """Every server block CoreDNS loads, and the ConfigMaps read (``kube-system`` only).

    ``kube-system/coredns`` ``Corefile``, k3s's ``kube-system/coredns-custom`` ``*.server`` entries, and the
    ConfigMap named by the Submariner CR's ``coreDNSCustomConfig`` when it lives in ``kube-system``.
    """
    sources: list[tuple[dict[str, Any], list[str]]] = []
    cm = config_map(view, "coredns")
    if cm:
        sources.append((cm, ["Corefile"]))
    custom = config_map(view, "coredns-custom")
    if custom:
        sources.append((custom, sorted(k for k in (custom.get("data") or {}) if k.endswith(".server"))))
    try:
        cr = submariner_cr(view)
    except ResourceUnavailable:
        cr = None
    extra = ((cr or {}).get("spec") or {}).get("coreDNSCustomConfig") or {}
    if extra.get("configMapName") and (extra.get("namespace") or "kube-system") == "kube-system":
        named = config_map(view, extra["configMapName"])
        if named and named is not cm and named is not custom:
            sources.append((named, sorted(named.get("data") or {})))
    blocks: list[ServerBlock] = []
    read: list[str] = []
    for obj, keys in sources:
        read.append(qualname(obj))
        for key in keys:
            text = (obj.get("data") or {}).get(key)
            if text:
                blocks.extend(corefile_blocks(str(text), f"ConfigMap {qualname(obj)} ({key})"))
    return blocks, read


def cluster_dns(view: ClusterView) -> tuple[str, int] | None:
    """The cluster DNS service (``kube-system/kube-dns``, else one labelled ``k8s-app=kube-dns``): (ClusterIP, UDP port)."""
    svc = view.find(R.SERVICES, "kube-dns", "kube-system")
    if svc is None:
        found = sorted(view.select(R.SERVICES, "kube-system", **{"k8s-app": "kube-dns"}), key=qualname)
        svc = found[0] if found else None
    if svc is None:
        return None
    ip = (svc.get("spec") or {}).get("clusterIP")
    if not ip or ip == "None":
        return None
    ports = (svc.get("spec") or {}).get("ports") or []
    udp = [p for p in ports if (p.get("protocol") or "TCP") == "UDP"]
    port = next((p.get("port") for p in udp if p.get("name") == "dns"), None) or next((p.get("port") for p in udp), None) or 53
    return str(ip), int(port)
