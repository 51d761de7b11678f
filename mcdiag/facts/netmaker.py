"""Netmaker: the network a cluster's nodes join, and the networks its gateways join (the peers').

These are the only source of Netmaker network names for every check and probe:
a netclient workload's network is its ``NETWORK`` env, else its ``-n NET``
argument.
"""

from __future__ import annotations

from typing import Any

from mcdiag.facts.objects import container_args, env_value, flag_value, qualname
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

NETMAKER_READS = (R.DAEMONSETS, R.DEPLOYMENTS)
NETCLIENT = "netclient"
NETCLIENT_GATEWAY = "netclient-gateway"


def workload_network(workload: dict[str, Any]) -> str | None:
    """The Netmaker network a netclient DaemonSet or Deployment joins, or ``None`` when it does not say."""
    network = env_value(workload, "NETWORK")
    if network:
        return network
    words = container_args(workload)
    for flag in ("-n", "--network", "--net"):
        value = flag_value(words, flag)
        if value and "$" not in value and not value.startswith("-"):
            return value.rstrip(";")
    return None


def _networks(workloads: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for workload in sorted(workloads, key=qualname):
        network = workload_network(workload)
        if network and network not in found:
            found.append(network)
    return found


def cluster_networks(view: ClusterView) -> list[str]:
    """The networks this cluster's nodes join: those of its DaemonSets ``app=netclient`` (first is the main one)."""
    return _networks(view.select(R.DAEMONSETS, app=NETCLIENT))


def gateway_networks(view: ClusterView) -> list[str]:
    """The networks this cluster's gateways join (Deployments ``app=netclient-gateway``): the OTHER clusters' networks."""
    return _networks(view.select(R.DEPLOYMENTS, app=NETCLIENT_GATEWAY))
