"""The lab topology is pure data: names, addresses and CIDRs that fit together."""

from __future__ import annotations

import ipaddress

import pytest

from mcdiag.lab.topology import (
    MAX_CLUSTERS,
    POD_HOSTS,
    PROVIDERS,
    build_topology,
    pod_netns_re,
    scheme_namespaces,
)


@pytest.fixture(params=PROVIDERS)
def topo(request):
    return build_topology(request.param)


def test_deterministic(topo):
    assert build_topology(topo.provider) == topo
    assert topo.to_dict() == build_topology(topo.provider).to_dict()


def test_guide_cidrs_and_names(topo):
    a, b = topo.clusters
    assert (a.name, b.name) == ("cluster", "cluster1")
    assert (a.pod_cidr, a.service_cidr, b.pod_cidr, b.service_cidr) == (
        "10.42.0.0/16", "10.43.0.0/16", "10.44.0.0/16", "10.45.0.0/16")
    assert a.nginx_ip == "10.43.45.229" and b.nginx_ip == "10.45.45.229"
    assert a.dns_ip == "10.43.0.10" and b.dns_ip == "10.45.0.10"
    if topo.provider == "netmaker":
        assert (a.network, a.network_subnet, b.network, b.network_subnet) == (
            "dc1-k3s", "10.65.24.0/24", "cloud-k3s", "10.36.50.0/24")
        assert a.exported_name() == "nginx.nginx-test.dc1-k3s"
    else:
        assert a.network is None and a.exported_name() == "nginx.nginx-test.svc.clusterset.local"


def test_namespaces_prefixed_and_unique(topo):
    ns = topo.namespaces
    assert len(ns) == len(set(ns)) == 7
    assert all(n.startswith("mcdiag-") for n in ns)
    assert set(ns) <= set(scheme_namespaces())
    assert topo.node("mcdiag-cluster-gw").name == "cluster-gw"


def test_interface_names_fit(topo):
    for c in topo.clusters:
        names = [c.vxlan_iface, c.wg_iface]
        for n in c.nodes:
            names += [n.lan_iface, n.lan_port] + ([n.wan_iface, n.wan_port] if n.is_gateway else [])
        assert all(0 < len(x) <= 15 for x in names), names
    assert len({c.wg_iface for c in topo.clusters}) == 2  # wireguard-go sockets are host-wide


def test_addresses_fit_their_cidrs(topo):
    nets = []
    for c in topo.clusters:
        pod, svc, lan = (ipaddress.ip_network(x) for x in (c.pod_cidr, c.service_cidr, c.lan_cidr))
        nets += [pod, svc]
        for n in c.nodes:
            sl = ipaddress.ip_network(n.pod_cidr)
            assert sl.subnet_of(pod) and ipaddress.ip_address(n.pod_ip) in sl
            assert ipaddress.ip_address(n.lan_ip) in lan
            assert n.vxlan_ip.startswith("240.") and n.vxlan_ip.split(".")[1:] == n.lan_ip.split(".")[1:]
            if n.is_gateway:
                assert ipaddress.ip_address(n.public_ip) in ipaddress.ip_network("198.18.0.0/15")
                assert ipaddress.ip_address(n.wan_router_ip) in ipaddress.ip_network(c.wan_cidr)
        for _name, _ns, ip, _port in c.services():
            assert ipaddress.ip_address(ip) in svc
        for ip in (c.coredns_pod_ip, c.lighthouse_pod_ip, c.exports_dns_ip, c.nginx_pod_ip):
            # the service "pods" run on the gateway, below the addresses the lab kubelet hands out
            assert ipaddress.ip_address(ip) in ipaddress.ip_network(c.gateway.pod_cidr)
            assert int(ip.split(".")[3]) < min(POD_HOSTS)
        for n in c.nodes:
            assert n.pod_address(min(POD_HOSTS)) == n.pod_ip.rsplit(".", 1)[0] + f".{min(POD_HOSTS)}"
            assert pod_netns_re().match(n.pod_netns(100)) and not pod_netns_re().match(n.netns)
        if c.network_subnet:
            nets.append(ipaddress.ip_network(c.network_subnet))
            assert ipaddress.ip_address(c.wg_ip) in nets[-1]
    for i, x in enumerate(nets):
        for y in nets[i + 1:]:
            assert not x.overlaps(y), (x, y)
    assert topo.clusters[0].lan_cidr != topo.clusters[1].lan_cidr


def test_roles_and_peer(topo):
    a, b = topo.clusters
    assert topo.peer("cluster") is b and topo.peer("cluster1") is a
    assert a.gateway.is_gateway and not a.worker.is_gateway
    assert topo.cluster() is a
    with pytest.raises(KeyError):
        topo.cluster("nope")


def test_unknown_provider():
    with pytest.raises(ValueError, match="unknown provider"):
        build_topology("calico")


@pytest.mark.parametrize("n", [3, 4, MAX_CLUSTERS])
def test_n_clusters_fit_together(topo, n):
    """``--clusters N``: the first two are the guides' clusters; every name, CIDR and device is distinct."""
    big = build_topology(topo.provider, n)
    assert len(big.clusters) == n and big.clusters[:2] == topo.clusters
    assert big.cluster_names == ["cluster", "cluster1", *(f"cluster{i}" for i in range(2, n))]
    assert len(big.namespaces) == len(set(big.namespaces)) == 1 + 3 * n
    assert set(big.namespaces) <= set(scheme_namespaces())
    nets = []
    for c in big.clusters:
        nets += [ipaddress.ip_network(x) for x in (c.pod_cidr, c.service_cidr, c.lan_cidr, c.wan_cidr)]
        if c.network_subnet:
            nets.append(ipaddress.ip_network(c.network_subnet))
        for n_ in c.nodes:
            assert pod_netns_re().match(n_.pod_netns(100))
            for name in (c.wg_iface, c.vxlan_iface, n_.lan_port, n_.wan_port or "x"):
                assert 0 < len(name) <= 15, name
        assert [p.name for p in big.peers(c.name)] == [x.name for x in big.clusters if x is not c]
    for i, x in enumerate(nets):
        for y in nets[i + 1:]:
            assert not x.overlaps(y), (x, y)
    for attr in ("wg_iface", "name", "dns_ip", "nginx_ip"):
        assert len({getattr(c, attr) for c in big.clusters}) == n, attr
    assert len({c.gateway.public_ip for c in big.clusters}) == n
    if topo.provider == "netmaker":
        assert len({c.network for c in big.clusters}) == n
    with pytest.raises(ValueError, match="peers"):
        big.peer("cluster")


@pytest.mark.parametrize("n", [0, 1, MAX_CLUSTERS + 1, "3", True])
def test_cluster_count_is_checked(n):
    with pytest.raises(ValueError, match="clusters"):
        build_topology("submariner", n)
