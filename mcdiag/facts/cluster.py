"""What a cluster is as a whole: the provider that joins it to others, and its Kubernetes version."""

from __future__ import annotations

import re
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts.netmaker import NETCLIENT_DAEMONSETS
from mcdiag.facts.submariner import SUBMARINER_NS, submariner_cr
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

#: One node, the first in the API's order (by name): enough to show that nodes are listable, and a
#: sample of what every node of a cluster carries (k3s's node args and version, flannel's annotations,
#: a pod CIDR slice). One request of one object, whatever the number of nodes.
NODE_SAMPLE = R.NODES.first(1)
#: The Submariner operator's namespace, by name, metadata only: whether it exists.
SUBMARINER_NAMESPACE = R.NAMESPACES.named(SUBMARINER_NS).metadata()
PROVIDER_READS = (R.SUBMARINERS, NETCLIENT_DAEMONSETS, SUBMARINER_NAMESPACE)


def detect_provider(view: ClusterView) -> str:
    """``submariner`` (Submariner CR or operator namespace), ``netmaker`` (DaemonSet ``app=netclient``) or ``none``."""
    if view.provider_override:
        return view.provider_override
    if submariner_cr(view) is not None:
        return "submariner"
    daemonsets_error: ResourceUnavailable | None = None
    try:
        if view.list(NETCLIENT_DAEMONSETS):
            return "netmaker"
    except ResourceUnavailable as exc:
        daemonsets_error = exc
    try:
        if view.list(SUBMARINER_NAMESPACE):
            return "submariner"
    except ResourceUnavailable:
        pass
    if daemonsets_error is not None:
        raise daemonsets_error  # netmaker or none cannot be told apart: an error with the reason, not a guess
    return "none"


def parse_version(info: dict[str, Any]) -> tuple[int, int] | None:
    """(major, minor) from ``/version``; strips ``+`` from the minor (``"18+"``), falls back to gitVersion."""
    try:
        return int(str(info.get("major", "")).rstrip("+")), int(str(info.get("minor", "")).rstrip("+"))
    except ValueError:
        m = re.match(r"v?(\d+)\.(\d+)", str(info.get("gitVersion", "")))
        return (int(m.group(1)), int(m.group(2))) if m else None
