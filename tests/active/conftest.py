"""Fast active-check tests: emulated clusters whose pods run as processes on this host (loopback only).

Each cluster gets its own loopback address (east 127.0.0.2, west 127.0.0.3): its nodes, pods,
gateway, services and DNS all live there, so probes never leave this host. A tiny DNS server
(dnspython) answers the clusterset names; its behaviour is set per test.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mcdiag.active.executor import MANAGED_BY
from mcdiag.lab.kubelet import HostRuntime, Kubelet, default_argv
from tests.conftest import real_crds

IPS = {"east": "127.0.0.2", "west": "127.0.0.3"}
NETWORKS = {"east": "dc1-k3s", "west": "cloud-k3s"}
SM_NS = "submariner-operator"


def _free_udp_port(ip: str) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _free_tcp_port(ip: str) -> int:
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------------------------
# Objects
# ---------------------------------------------------------------------------------------------
def ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def node(name: str, ip: str, labels: dict[str, str] | None = None, ready: bool = True, **extra: Any) -> dict[str, Any]:
    addresses = [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}, **extra},
        "status": {"addresses": addresses, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def service(name: str, namespace: str, ip: str, ports: list[dict[str, Any]], labels: dict | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"clusterIP": ip, "clusterIPs": [ip], "ports": ports},
    }


def endpoint_spec(cluster: str, ip: str, udp_port: int = 4500) -> dict[str, Any]:
    return {
        "cluster_id": cluster, "cable_name": f"submariner-cable-{cluster}", "hostname": f"{cluster}-gw",
        "private_ip": ip, "public_ip": ip, "nat_enabled": True, "backend": "libreswan",
        "subnets": [], "backend_config": {"udp-port": str(udp_port), "natt-discovery-port": "4490"},
    }


@dataclass
class Pair:
    """Two emulated clusters with their kubelets and the knobs tests turn."""

    emulated: Any
    kubelets: dict[str, Kubelet]
    dns: dict[str, DnsServer]
    nginx: dict[str, HttpServer]
    #: The DNS that owns the peer's zone for each cluster (Lighthouse DNS / the Netmaker DNS its Corefile forwards to).
    owner: dict[str, DnsServer]
    names: tuple[str, ...] = ("east", "west")

    def args(self) -> list[str]:
        return self.emulated.args(*self.names)

    def leftovers(self) -> dict[str, list[str]]:
        """Objects labelled managed-by=mcdiag still in each emulator."""
        out = {}
        for name in self.names:
            objs = self.emulated[name].objects()
            out[name] = sorted(
                f"{o['kind']}/{o['metadata']['name']}" for o in objs if (o["metadata"].get("labels") or {}).get(MANAGED_BY) == "mcdiag"
            )
        return {k: v for k, v in out.items() if v}

    def running(self) -> list[str]:
        return [p for k in self.kubelets.values() for p in k.running()]


def submariner_objects(name: str, peer: str, dns_port: int, nginx_port: int, nodes: int = 2,
                       lighthouse_port: int | None = None) -> list[dict[str, Any]]:
    ip, peer_ip = IPS[name], IPS[peer]
    objs: list[dict[str, Any]] = [*real_crds(), ns("kube-system"), ns(SM_NS), ns("nginx-test")]
    objs.append(node(f"{name}-gw", ip, {"submariner.io/gateway": "true"}))
    for i in range(1, nodes):
        objs.append(node(f"{name}-w{i}", ip))
    objs.append({
        "apiVersion": "submariner.io/v1alpha1", "kind": "Submariner",
        "metadata": {"name": "submariner", "namespace": SM_NS},
        "spec": {"clusterID": name, "natEnabled": True, "serviceDiscoveryEnabled": True},
        "status": {"clusterID": name, "natEnabled": True},
    })
    for cid, cip in ((name, ip), (peer, peer_ip)):
        objs.append({"apiVersion": "submariner.io/v1", "kind": "Endpoint",
                     "metadata": {"name": f"{cid}-cable", "namespace": SM_NS}, "spec": endpoint_spec(cid, cip)})
    objs.append({
        "apiVersion": "submariner.io/v1", "kind": "Gateway", "metadata": {"name": f"{name}-gw", "namespace": SM_NS},
        "status": {"haStatus": "active", "localEndpoint": endpoint_spec(name, ip),
                   "connections": [{"status": "connected", "endpoint": endpoint_spec(peer, peer_ip), "usingIP": peer_ip}]},
    })
    objs.append(service("kube-dns", "kube-system", ip, [{"name": "dns", "port": dns_port, "protocol": "UDP"}],
                        {"k8s-app": "kube-dns"}))
    objs.append(service("nginx", "nginx-test", ip, [{"port": nginx_port, "protocol": "TCP"}]))
    if lighthouse_port:
        objs.append(service("submariner-lighthouse-coredns", SM_NS, ip, [{"name": "udp", "port": lighthouse_port, "protocol": "UDP"}],
                            {"app": "submariner-lighthouse-coredns"}))
    return objs


def netmaker_objects(name: str, peer: str, dns_port: int, nginx_port: int, owner: tuple[str, int] | None = None) -> list[dict[str, Any]]:
    ip = IPS[name]
    objs: list[dict[str, Any]] = [ns("kube-system"), ns("nginx-test")]
    objs.append(node(f"{name}-gw", ip, {"gateway": "true"}))
    objs.append(node(f"{name}-w1", ip))
    objs.append({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "netclient", "namespace": "default", "labels": {"app": "netclient"}},
        "spec": {"selector": {"matchLabels": {"app": "netclient"}}, "template": {"metadata": {"labels": {"app": "netclient"}}, "spec": {
            "containers": [{"name": "netclient", "image": "gravitl/netclient:v0.7.6.1",
                            "env": [{"name": "NETWORK", "value": NETWORKS[name]}]}]}}},
    })
    objs.append({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "netclient-gateway", "namespace": "default", "labels": {"app": "netclient-gateway"}},
        "spec": {"selector": {"matchLabels": {"app": "netclient-gateway"}}, "template": {
            "metadata": {"labels": {"app": "netclient-gateway"}},
            "spec": {"containers": [{"name": "netclient", "image": "gravitl/netclient:v0.9.3",
                                     "env": [{"name": "NETCLIENT_PORT", "value": "51821"}]}]}}},
    })
    objs.append(service("kube-dns", "kube-system", ip, [{"name": "dns", "port": dns_port, "protocol": "UDP"}],
                        {"k8s-app": "kube-dns"}))
    objs.append(service("nginx", "nginx-test", ip, [{"port": nginx_port, "protocol": "TCP"}]))
    if owner:  # the guide's Corefile block for the peer's network, forwarding to the Netmaker DNS
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
                     "data": {"Corefile": f".:53 {{\n    forward . /etc/resolv.conf\n}}\n{NETWORKS[peer]}:53 {{\n    errors\n"
                                          f"    cache 30\n    forward . {owner[0]}:{owner[1]}\n}}\n"}})
    return objs


# ---------------------------------------------------------------------------------------------
# A DNS server on loopback
# ---------------------------------------------------------------------------------------------
class DnsServer:
    """Answers A queries from ``records``; ``mode`` (per name) can be nxdomain, nodata, silent or an IP override."""

    def __init__(self, ip: str, port: int):
        import dns.message  # noqa: F401 - fail early when dnspython is missing

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.records: dict[str, str] = {}
        self.mode: dict[str, str] = {}
        self.queries: list[str] = []
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rrset

        while not self.stopped:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            name = q.question[0].name.to_text().rstrip(".")
            self.queries.append(name)
            mode = self.mode.get(name, "")
            if mode == "silent":
                continue
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            if mode == "nxdomain" or (name not in self.records and mode != "nodata" and not mode[:1].isdigit()):
                r.set_rcode(dns.rcode.NXDOMAIN)
            elif mode != "nodata":
                ip = mode if mode[:1].isdigit() else self.records[name]
                r.answer.append(dns.rrset.from_text(name + ".", 5, "IN", "A", ip))
            self.sock.sendto(r.to_wire(), addr)

    def stop(self) -> None:
        self.stopped = True
        self.sock.close()


def _pod_argv(ip: str) -> Callable[[list[str]], list[str]]:
    """Pods of one cluster share this host: servers bind the cluster's loopback address, listeners sniff lo only.

    (Sniffing every interface fails on hosts with an interface that is down, and only lo matters here.)
    """

    def argv(command: list[str]) -> list[str]:
        out = default_argv(command)
        if "serve" in command and "--bind" not in command:
            out += ["--bind", ip]
        if "udp-listen" in command and "--iface" not in command:
            out += ["--iface", "lo"]
        return out

    return argv


class HttpServer:
    """The stand-in for nginx behind ``nginx-test/nginx`` (stop it to break the service)."""

    def __init__(self, ip: str, port: int):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Hello(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = b"hello"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((ip, port), Hello)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.up = True

    def stop(self) -> None:
        if self.up:
            self.server.shutdown()
            self.server.server_close()
            self.up = False


@pytest.fixture
def pair(emulate):
    """Factory: ``pair(provider="submariner", nodes=2)`` -> :class:`Pair`, torn down after the test."""
    made: list[Pair] = []

    def factory(provider: str = "submariner", nodes: int = 2, env: dict[str, str] | None = None, owners: bool = False) -> Pair:
        nginx_port = _free_tcp_port(IPS["west"])
        dns, owner, nginx, clusters = {}, {}, {}, {}
        for name, peer in (("east", "west"), ("west", "east")):
            dns_port = _free_udp_port(IPS[name])
            dns[name] = DnsServer(IPS[name], dns_port)
            nginx[name] = HttpServer(IPS[name], nginx_port)
            if owners:
                owner_port = _free_udp_port(IPS[name])
                owner[name] = DnsServer(IPS[name], owner_port)
            if provider == "submariner":
                clusters[name] = submariner_objects(name, peer, dns_port, nginx_port, nodes,
                                                    lighthouse_port=owner[name].sock.getsockname()[1] if owners else None)
                record = "nginx.nginx-test.svc.clusterset.local"
            else:
                clusters[name] = netmaker_objects(name, peer, dns_port, nginx_port,
                                                  owner=owner[name].sock.getsockname() if owners else None)
                record = f"nginx.nginx-test.{NETWORKS[peer]}"
            dns[name].records[record] = IPS[peer]
            if owners:
                owner[name].records[record] = IPS[peer]
        emulated = emulate(clusters)
        kubelets = {}
        for name in clusters:
            nodes_rt = {o["metadata"]["name"]: HostRuntime(IPS[name]) for o in clusters[name] if o["kind"] == "Node"}
            kubelets[name] = Kubelet(emulated[name], nodes_rt, argv=_pod_argv(IPS[name]), env=env)
        p = Pair(emulated, kubelets, dns, nginx, owner)
        made.append(p)
        return p

    yield factory
    for p in made:
        for k in p.kubelets.values():
            k.stop()
        for d in [*p.dns.values(), *p.owner.values()]:
            d.stop()
        for h in p.nginx.values():
            h.stop()
