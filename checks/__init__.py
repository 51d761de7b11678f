"""Built-in mcdiag checks. Each module holds a few small :class:`mcdiag.model.Check` classes.

Module names do not match pytest's ``test_*.py`` pattern on purpose: pytest
collects checks through mcdiag's plugin, never as test modules.
"""

#: The catalogue order of CHECKS.md; ``mcdiag list`` and reports follow it.
CATALOGUE = (
    "api-access",
    "k8s-version",
    "cni-support",
    "calico-prereqs",
    "kube-proxy-mode",
    "nodelocaldns",
    "cluster-cidrs",
    "cidr-overlap",
    "gateway-nodes",
    "submariner-deployment",
    "submariner-endpoints",
    "broker-clusters",
    "gateway-connections",
    "routeagent-connections",
    "globalnet",
    "service-exports",
    "service-imports",
    "coredns-forwarding",
    "netclient-deployment",
    "vxlan-firewall",
    "tunnel-firewall",
    "wireguard-handshake",
    "pod-connectivity",
    "dns-clusterset",
    "service-reachability",
    "path-mtu",
    "latency",
)
