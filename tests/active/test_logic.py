"""Node and tunnel choices, and every verdict branch of the active checks, with canned probe results.

The views are fed plain objects (no API server); ``FakeProbes`` stands in for the executor and
answers each probe pod from a function of (cluster, node, argv), so each branch (NXDOMAIN vs
timeout vs NOERROR-empty, a PMTU black hole, a stale WireGuard peer...) is one small test.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcdiag.checks import firewalls as FW
from mcdiag.checks import paths as P
from mcdiag.checks import services as S

from mcdiag.active import targets as T
from mcdiag.active.executor import EchoService, PodResult, PodSpec, Target
from mcdiag.facts import dns
from mcdiag.gather.view import ClusterView
from mcdiag.model import CheckContext, Status
from tests.conftest import fake_view

SM = "submariner-operator"


def view(name: str, *objects: dict) -> ClusterView:
    return fake_view(name, *objects)


def obj(api: str, kind: str, name: str, namespace: str | None = None, **body: Any) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    meta.update(body.pop("metadata", {}))
    return {"apiVersion": api, "kind": kind, "metadata": meta, **body}


def node(name: str, ip: str, labels: dict | None = None, ready: bool = True, annotations: dict | None = None,
         external: str | None = None) -> dict:
    addrs = [{"type": "InternalIP", "address": ip}] + ([{"type": "ExternalIP", "address": external}] if external else [])
    return obj("v1", "Node", name, metadata={"labels": labels or {}, "annotations": annotations or {}},
               status={"addresses": addrs, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]})


def ep_spec(cid: str, private: str, public: str, nat: bool = True, config: dict | None = None) -> dict:
    return {"cluster_id": cid, "private_ip": private, "public_ip": public, "nat_enabled": nat, "hostname": f"{cid}-gw",
            "backend_config": config if config is not None else {"udp-port": "4500", "natt-discovery-port": "4490"}}


def submariner(name: str, peer: str, *, gw_labels: dict | None = None, gw_annotations: dict | None = None,
               config: dict | None = None, using_ip: str | None = "203.0.113.2", nat: bool = True, nodes: int = 2,
               gw_ready: bool = True, active: bool = True, extra: tuple = ()) -> ClusterView:
    mine = {"east": ("10.0.0.1", "198.51.100.1"), "west": ("10.1.0.1", "203.0.113.2")}
    objs = [
        obj("submariner.io/v1alpha1", "Submariner", "submariner", SM, spec={"clusterID": name, "natEnabled": nat}),
        node(f"{name}-gw", mine[name][0], {"submariner.io/gateway": "true", **(gw_labels or {})}, gw_ready, gw_annotations),
        *[node(f"{name}-w{i}", f"10.9.{i}.1") for i in range(1, nodes)],
        obj("submariner.io/v1", "Endpoint", f"{name}-ep", SM, spec=ep_spec(name, *mine[name], nat, config)),
        obj("submariner.io/v1", "Endpoint", f"{peer}-ep", SM, spec=ep_spec(peer, *mine[peer], nat)),
        obj("v1", "Service", "kube-dns", "kube-system", spec={"clusterIP": "10.96.0.10", "ports": [
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]}),
        obj("v1", "Service", "nginx", "nginx-test", spec={"clusterIP": {"east": "10.96.1.1", "west": "10.97.1.1"}[name],
                                                          "ports": [{"port": 8080, "protocol": "TCP"}]}),
        *extra,
    ]
    if active:
        conn = {"status": "connected", "endpoint": ep_spec(peer, *mine[peer])}
        if using_ip:
            conn["usingIP"] = using_ip
        objs.append(obj("submariner.io/v1", "Gateway", f"{name}-gw", SM,
                        status={"haStatus": "active", "localEndpoint": {"hostname": f"{name}-gw"}, "connections": [conn]}))
    return view(name, *objs)


def netmaker(name: str, *, external: str | None = None, annotations: dict | None = None, port: str | None = "51830",
             network: str = "net") -> ClusterView:
    env = [{"name": "NETCLIENT_PORT", "value": port}] if port else []
    return view(
        name,
        node(f"{name}-gw", "192.168.1.1", {"gateway": "true"}, annotations=annotations, external=external),
        node(f"{name}-w1", "192.168.1.2"),
        obj("apps/v1", "DaemonSet", "netclient", "default", metadata={"labels": {"app": "netclient"}},
            spec={"template": {"spec": {"containers": [{"name": "n", "env": [{"name": "NETWORK", "value": network}]}]}}}),
        obj("apps/v1", "Deployment", "netclient-gateway", "default", metadata={"labels": {"app": "netclient-gateway"}},
            spec={"template": {"spec": {"containers": [{"name": "n", "env": env}]}}}),
        obj("v1", "Service", "nginx", "nginx-test", spec={"clusterIP": "10.45.0.5", "ports": [{"port": 8080}]}),
    )


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------
def test_gateway_is_the_active_gateway_and_other_node_is_ready_non_gateway():
    v = submariner("east", "west", nodes=3)
    gw = T.gateway_node(v)
    assert gw.name == "east-gw" and gw.ip == "10.0.0.1" and "haStatus active" in gw.reason
    assert T.other_node(v, gw).name == "east-w1"


def test_no_gateway_reasons():
    assert "no active Submariner gateway" in T.gateway_node(submariner("east", "west", active=False)).reason
    assert "not Ready" in T.gateway_node(submariner("east", "west", gw_ready=False)).reason
    assert T.other_node(submariner("east", "west", nodes=1), T.gateway_node(submariner("east", "west", nodes=1))).node is None


def test_submariner_tunnel_ports_label_then_annotation_then_endpoint_then_default():
    a = submariner("east", "west")
    b = submariner("west", "east", gw_labels={"gateway.submariner.io/udp-port": "4501"},
                   gw_annotations={"gateway.submariner.io/natt-discovery-port": "4491"})
    t = T.submariner_tunnel(a, b, T.gateway_node(b))
    assert [(p.port, p.source.split()[1]) for p in t.ports] == [(4501, "label"), (4491, "annotation")]
    b = submariner("west", "east", config={"udp-port": "51821"})
    t = T.submariner_tunnel(a, b, T.gateway_node(b))
    assert [(p.port, p.source) for p in t.ports] == [(51821, "Endpoint submariner-operator/west-ep backend_config udp-port"),
                                                     (4490, "default")]


def test_submariner_tunnel_ip_using_ip_then_public_with_nat_then_private():
    b = submariner("west", "east")
    t = T.submariner_tunnel(submariner("east", "west", using_ip="203.0.113.99"), b, T.gateway_node(b))
    assert t.ip == "203.0.113.99" and "usingIP" in t.ip_source
    t = T.submariner_tunnel(submariner("east", "west", using_ip=None), b, T.gateway_node(b))
    assert t.ip == "203.0.113.2" and "NAT on" in t.ip_source
    b = submariner("west", "east", nat=False)
    t = T.submariner_tunnel(submariner("east", "west", using_ip=None, nat=False), b, T.gateway_node(b))
    assert t.ip == "10.1.0.1" and "private_ip" in t.ip_source


def test_netmaker_tunnel_external_then_annotation_then_internal_and_port():
    for b, ip in (
        (netmaker("west", external="203.0.113.7", annotations={"flannel.alpha.coreos.com/public-ip": "1.1.1.1"}), "203.0.113.7"),
        (netmaker("west", annotations={"flannel.alpha.coreos.com/public-ip": "198.51.100.4"}), "198.51.100.4"),
        (netmaker("west"), "192.168.1.1"),
    ):
        t = T.netmaker_tunnel(b, T.gateway_node(b))
        assert t.ip == ip and [p.port for p in t.ports] == [51830]
    b = netmaker("west", port=None)
    assert [(p.port, p.source) for p in T.netmaker_tunnel(b, T.gateway_node(b)).ports] == [(51821, "default")]


def test_names_and_cluster_dns():
    assert T.exported_name(submariner("east", "west"), submariner("west", "east"), "ns", "svc")[0] == "svc.ns.svc.clusterset.local"
    assert T.exported_name(netmaker("east"), netmaker("west", network="cloud-k3s"), "ns", "svc")[0] == "svc.ns.cloud-k3s"
    assert dns.cluster_dns(submariner("east", "west")) == ("10.96.0.10", 53)


# ---------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------
class FakeProbes:
    """Answers probe pods from ``answer(cluster, node, argv) -> dict | str`` (a str is a pod problem)."""

    start_timeout = 5.0

    def __init__(self, answer, target_problem: str = "", echo: EchoService | None = None):
        self.answer = answer
        self.target_problem = target_problem
        self.echo = echo
        self.calls: list[tuple[str, str, list[str]]] = []

    def run(self, cluster: str, spec: PodSpec) -> PodResult:
        argv = spec.argv[2:]
        if argv[0] == "dns" and "--then" in argv:
            return self.staged_dns(cluster, spec.node, argv)
        self.calls.append((cluster, spec.node, argv))
        data = self.answer(cluster, spec.node, argv)
        if isinstance(data, str):
            return PodResult(cluster, spec.node, "p", "Pending", None, "", data)
        data.setdefault("reason", "")
        return PodResult(cluster, spec.node, "p", "Succeeded", data)

    def staged_dns(self, cluster: str, node: str, argv: list[str]) -> PodResult:
        """``dns NAME --server OWNER --then IP``, as the probe stages it: the second question (a call of its own) only
        when the first server does not deny the name; its answer in ``then``.
        """
        i = argv.index("--then")  # the checks put the --then options last
        first, then = argv[:i], dict(zip(argv[i::2], argv[i + 1::2], strict=True))
        then_ip, then_port = then["--then"], then.get("--then-port", "53")
        res = self.run(cluster, PodSpec(node=node, argv=["mcdiag", "probe", *first]))
        if res.data is None:
            return res
        data = dict(res.data)
        # ``late``: the first server was silent past --then-after (the second was asked alongside), then denied the name.
        if data.get("rcode_class") in ("nxdomain", "nodata") and not data.pop("late", False):
            data["then"] = None
        else:
            second = list(first)
            second[second.index("--server") + 1], second[second.index("--port") + 1] = then_ip, then_port
            then = self.run(cluster, PodSpec(node=node, argv=["mcdiag", "probe", *second]))
            if then.data is None:
                return then
            data["then"] = dict(then.data)
        return PodResult(cluster, node, "p", "Succeeded", data)

    def run_all(self, jobs):
        return [self.run(c, s) for c, s in jobs]

    def pair(self, listener, sender):
        sent = self.run(*sender)
        received = self.run(*listener)
        return received, (None if received.data is not None and received.data.get("never_listened") else sent)

    def pair_all(self, pairs, grace=5.0):
        return [self.pair(*p) for p in pairs]

    def target(self, cluster: str, node: str, port: int = 8080) -> Target:
        return Target(cluster, node, "t", None if self.target_problem else "10.97.9.9", port, self.target_problem)

    def echo_service(self, cluster: str, export: bool = True, port: int = 8080) -> EchoService:
        return self.echo or EchoService(cluster, "mcdiag-probes", "echo", "10.97.5.5", port)

    namespace = "mcdiag-probes"

    def shared(self, key, produce, wait):
        return produce()

    def get_object(self, cluster: str, path: str):
        return None


def evaluate(check, views, probes, **options):
    ctx = CheckContext(tuple(views), tuple(views), {"max_rtt": 100.0, **options}, probes)
    return check().run(ctx)


def pair_views():
    return submariner("east", "west"), submariner("west", "east")


def ok(**kw):
    return {"ok": True, **kw}


def bad(reason: str, **kw):
    return {"ok": False, "reason": reason, **kw}


def test_skip_without_executor_and_error_when_pod_never_starts():
    out = evaluate(P.Latency, pair_views(), None)
    assert out.status is Status.SKIP and "passive" in out.message
    out = evaluate(P.Latency, pair_views(), FakeProbes(lambda c, n, a: "probe pod x never started within 5s (ErrImagePull: not found)"))
    assert out.status is Status.ERROR and "ErrImagePull" in out.message
    out = evaluate(P.PathMtu, pair_views(), FakeProbes(lambda c, n, a: ok(), target_problem="never started (ErrImagePull)"))
    assert out.status is Status.ERROR and "ErrImagePull" in out.message


def test_vxlan_firewall_fail_skip_error():
    east = submariner("east", "west")

    def lost(c, n, argv):
        return bad("no datagram") if argv[0] == "udp-listen" else ok()

    out = evaluate(FW.VxlanFirewall, [east], FakeProbes(lost))
    assert out.status is Status.FAIL and "allow udp/4800 between nodes" in out.hint.lower()
    assert "east-w1" in out.message and "east-gw" in out.message
    probes = FakeProbes(lambda c, n, a: ok())
    evaluate(FW.VxlanFirewall, [east], probes)
    listen, send = [c[2] for c in probes.calls if c[2][0] == "udp-listen"][0], [c[2] for c in probes.calls if c[2][0] == "udp-send"][0]
    assert listen[:3] == ["udp-listen", "--port", "4800"] and send[:3] == ["udp-send", "--to", "10.0.0.1:4800"]
    assert send[send.index("--vxlan-vni") + 1] == "100" and send[send.index("--count") + 1] == "3"
    assert evaluate(FW.VxlanFirewall, [submariner("east", "west", nodes=1)], probes).status is Status.SKIP
    out = evaluate(FW.VxlanFirewall, [east], FakeProbes(lambda c, n, a: {"ok": False, "never_listened": True, "reason": "cannot sniff"}))
    assert out.status is Status.ERROR and "cannot sniff" in out.message


def test_tunnel_firewall_fail_names_port_and_node():
    a, b = submariner("east", "west"), submariner("west", "east", config={"udp-port": "4500", "natt-discovery-port": "4490"})

    def drop_4500(c, n, argv):
        if argv[0] == "udp-listen" and argv[2] == "4500":
            return bad("nothing")
        return ok(src_ip="198.51.100.1", src_port=1234)

    out = evaluate(FW.TunnelFirewall, [a, b], FakeProbes(drop_4500))
    assert out.status is Status.FAIL
    assert "UDP/4500" in out.message and "west-gw" in out.message and "UDP/4490" not in out.message
    assert "UDP/4500" in out.hint and "west-gw" in out.hint
    assert [p["received"] for p in out.details["ports"]] == [False, True]
    out = evaluate(FW.TunnelFirewall, [a, b], FakeProbes(lambda c, n, argv: ok(src_ip="x", src_port=1)))
    assert out.status is Status.PASS and out.details["to_ip"] == "203.0.113.2"


def test_wireguard_handshake_verdicts():
    v = netmaker("east")
    stale = bad("1 of 1 peer(s) without a handshake in the last 180s", interfaces=[{"name": "netmaker"}],
                peers=[{"interface": "netmaker", "age_s": 400, "fresh": False}])
    out = evaluate(FW.WireguardHandshake, [v], FakeProbes(lambda c, n, a: stale))
    assert out.status is Status.FAIL and "180s" in out.message and out.hint
    out = evaluate(FW.WireguardHandshake, [v], FakeProbes(lambda c, n, a: bad("wg not found: install wireguard-tools")))
    assert out.status is Status.ERROR
    out = evaluate(FW.WireguardHandshake, [v], FakeProbes(lambda c, n, a: bad("no WireGuard interface found")))
    assert out.status is Status.FAIL
    fresh = ok(interfaces=[{"name": "netmaker"}], peers=[{"age_s": 12, "fresh": True}])
    assert evaluate(FW.WireguardHandshake, [v], FakeProbes(lambda c, n, a: fresh)).status is Status.PASS


def test_pod_connectivity_per_source_node():
    def only_worker_fails(c, node, argv):
        return bad("no answer to TCP SYN", outcome="timeout") if node == "east-w1" else ok(outcome="connected", connect_s=0.001)

    out = evaluate(P.PodConnectivity, pair_views(), FakeProbes(only_worker_fails))
    assert out.status is Status.FAIL and "east-w1" in out.message and "VXLAN" in out.hint
    assert out.details["from"]["east-gw"]["ok"] is True and out.details["from"]["east-w1"]["ok"] is False
    out = evaluate(P.PodConnectivity, pair_views(), FakeProbes(lambda c, n, a: ok(outcome="connected", connect_s=0.002)))
    assert out.status is Status.PASS and set(out.details["from"]) == {"east-gw", "east-w1"}


NGINX = "nginx.nginx-test.svc.clusterset.local"
ECHO = "echo.mcdiag-probes.svc.clusterset.local"
WEST_NGINX, WEST_ECHO = "10.97.1.1", "10.97.5.5"
LIGHTHOUSE = obj("v1", "Service", "submariner-lighthouse-coredns", SM,
                 spec={"clusterIP": "10.96.3.3", "ports": [{"name": "udp", "port": 53, "protocol": "UDP"}]})


def lighthouse_views():
    return submariner("east", "west", extra=(LIGHTHOUSE,)), submariner("west", "east")


def dns_answer(cluster_dns: dict, owner: dict | None = None, http: dict | None = None):
    """Answers keyed by name: what east's cluster DNS (10.96.0.10) and its Lighthouse DNS (10.96.3.3) say."""
    truth = {NGINX: WEST_NGINX, ECHO: WEST_ECHO}

    def answer(c, n, argv):
        if argv[0] == "http":
            return dict(http or ok(outcome="response", status=200))
        name, server = argv[1], argv[argv.index("--server") + 1] if "--server" in argv else None
        said = (owner or {}) if server == "10.96.3.3" else cluster_dns
        mode = said.get(name, "answer")
        if isinstance(mode, dict):
            return dict(mode)
        if mode == "answer":
            return ok(rcode_class="answer", answers=[truth[name]], server=server)
        return bad(mode, rcode_class=mode, rcode=mode.upper(), server=server)

    return answer


@pytest.mark.parametrize("cls,word", [("nxdomain", "NXDOMAIN"), ("timeout", "timeout"), ("nodata", "NOERROR, empty answer"),
                                      ({"ok": True, "rcode_class": "answer", "answers": ["10.99.9.9"]}, "not to west's")])
def test_dns_clusterset_four_failures_four_hints(cls, word):
    out = evaluate(S.DnsClusterset, pair_views(), FakeProbes(dns_answer({NGINX: cls})), service=["nginx-test/nginx"])
    assert out.status is Status.FAIL and word in out.message and NGINX in out.message
    assert ECHO not in out.message.split("; the echo control")[0]  # the echo control resolved
    assert "the echo control mcdiag-probes/echo resolves" in out.message
    assert out.hint and "nginx-test/nginx itself" in out.hint


def test_dns_hints_differ():
    hints = set()
    for cls in ("nxdomain", "timeout", "nodata", {"ok": True, "rcode_class": "answer", "answers": ["1.2.3.4"]}):
        out = evaluate(S.DnsClusterset, pair_views(), FakeProbes(dns_answer({NGINX: cls, ECHO: cls})), service=["nginx-test/nginx"])
        assert out.status is Status.FAIL and "echo control" not in (out.hint or "")
        hints.add(out.hint)
    assert len(hints) == 4


def test_dns_clusterset_pass_and_query():
    probes = FakeProbes(dns_answer({}))
    out = evaluate(S.DnsClusterset, pair_views(), probes, service=["nginx-test/nginx"])
    assert out.status is Status.PASS, out.message
    assert NGINX in out.message and ECHO in out.message and "(echo control)" in out.message
    calls = [c for c in probes.calls if c[2][:2] == ["dns", NGINX]]
    assert len(calls) == 1 and calls[0][1] == "east-gw"
    assert calls[0][2][-4:] == ["--server", "10.96.0.10", "--port", "53"]
    assert out.details["name"] == NGINX and out.details["service"] == "nginx-test/nginx" and not out.details["temporary_service"]
    assert [s["service"] for s in out.details["services"]] == ["mcdiag-probes/echo", "nginx-test/nginx"]


def test_dns_clusterset_local_preference_asks_for_the_cluster_specific_name():
    def answer(c, n, argv):
        if argv[1] == ECHO:
            return ok(rcode_class="answer", answers=[WEST_ECHO])
        return ok(rcode_class="answer", answers=["10.97.1.1" if argv[1].startswith("west.") else "10.96.1.1"])

    probes = FakeProbes(answer)
    out = evaluate(S.DnsClusterset, pair_views(), probes, service=["nginx-test/nginx"])
    assert out.status is Status.PASS and out.details["name"] == "west.nginx.nginx-test.svc.clusterset.local"


def test_dns_service_missing_or_temporary():
    out = evaluate(S.DnsClusterset, pair_views(), FakeProbes(dns_answer({})), service=["nope/nope"])
    assert out.status is Status.FAIL and "Service nope/nope does not exist in west" in out.message
    echo = EchoService("west", "mcdiag-probes", "echo", None, 8080, "the temporary echo service never became available within 5s")
    out = evaluate(S.DnsClusterset, pair_views(), FakeProbes(dns_answer({}), echo=echo))
    assert out.status is Status.ERROR and "never became available" in out.message
    # with a user service to probe, the missing control is a note, not the verdict
    out = evaluate(S.DnsClusterset, pair_views(), FakeProbes(dns_answer({}), echo=echo), service=["nginx-test/nginx"])
    assert out.status is Status.PASS and "not probed" in out.message and "never became available" in out.message


def test_owner_answers_and_cluster_dns_does_not_names_the_hop():
    for cls, word in (("nxdomain", "NXDOMAIN"), ("timeout", "timeout"), ("nodata", "empty answer")):
        probes = FakeProbes(dns_answer({NGINX: cls, ECHO: cls}, owner={}))
        out = evaluate(S.DnsClusterset, lighthouse_views(), probes, service=["nginx-test/nginx"])
        assert out.status is Status.FAIL and word in out.message, out.message
        assert "east's Lighthouse DNS submariner-operator/submariner-lighthouse-coredns (10.96.3.3) answers" in out.message
        assert "broken hop is east's cluster DNS" in out.message and "coredns-forwarding" in out.hint
        assert out.details["services"][1]["owner"]["rcode_class"] == "answer"
        # decided at once: each name asked once of each server, no waiting for the echo
        assert len([c for c in probes.calls if c[2][:2] == ["dns", ECHO]]) == 2


def test_owner_down_and_owner_unaware():
    out = evaluate(S.DnsClusterset, lighthouse_views(), FakeProbes(dns_answer({NGINX: "timeout", ECHO: "timeout"},
                                                                            owner={NGINX: "timeout", ECHO: "timeout"})),
                   service=["nginx-test/nginx"])
    assert out.status is Status.FAIL and "broken hop is the zone's owner" in out.message and "lighthouse-coredns" in out.hint
    out = evaluate(S.DnsClusterset, lighthouse_views(), FakeProbes(dns_answer({NGINX: "nxdomain"}, owner={NGINX: "nxdomain"})),
                   service=["nginx-test/nginx"])
    assert out.status is Status.FAIL and "holds no ServiceImport of nginx-test/nginx from west" in out.message
    assert "ServiceImport" in out.hint and "nginx-test/nginx itself" in out.hint
    imp = obj("multicluster.x-k8s.io/v1alpha1", "ServiceImport", "nginx", "nginx-test", status={"clusters": [{"cluster": "west"}]})
    a = submariner("east", "west", extra=(LIGHTHOUSE, imp))
    out = evaluate(S.DnsClusterset, [a, submariner("west", "east")],
                   FakeProbes(dns_answer({NGINX: "nxdomain"}, owner={NGINX: "nxdomain"})), service=["nginx-test/nginx"])
    assert out.status is Status.FAIL and "although east holds its ServiceImport" in out.message


def echo_script(rule):
    """An answer function for the echo control's name: ``rule(server, n)`` (n: how often that server was asked for it,
    this question included) gives a reply, or None for the healthy one; the servers asked, in order, are returned too.
    """
    asked: list[str] = []

    def answer(c, n, argv):
        if argv[1] == ECHO:
            server = argv[argv.index("--server") + 1]
            asked.append(server)
            reply = rule(server, asked.count(server))
            if reply is not None:
                return reply
        return dns_answer({})(c, n, argv)

    return answer, asked


def test_echo_waits_only_while_the_owner_does_not_know_it(monkeypatch):
    monkeypatch.setattr(S, "DNS_RETRY", 0.0)
    # the owner does not know the new name yet, twice
    answer, asked = echo_script(lambda server, n: bad("nx", rcode_class="nxdomain") if server == "10.96.3.3" and n <= 2 else None)

    out = evaluate(S.DnsClusterset, lighthouse_views(), FakeProbes(answer), service=["nginx-test/nginx"])
    assert out.status is Status.PASS
    # the owner alone until it knows the name, then A's cluster DNS once (no NXDOMAIN cached there before)
    assert asked == ["10.96.3.3", "10.96.3.3", "10.96.3.3", "10.96.0.10"]
    echo = next(s for s in out.details["services"] if s["source"] == "echo control")
    assert echo["waited_s"] >= 0 and echo["owner"]["rcode_class"] == "answer"


def test_a_denial_cached_while_the_owner_was_slow_is_waited_out(monkeypatch):
    """The owner was slow, so east's cluster DNS was asked alongside it, and then the owner denied the new name (it did
    not know it yet): that denial may sit in east's CoreDNS cache. Once the owner knows the name, east's cluster DNS is
    asked again until it resolves (bounded by the negative cache's life), not taken for a broken hop at once.
    """
    monkeypatch.setattr(S, "DNS_RETRY", 0.0)

    def rule(server, n):
        if server == "10.96.3.3" and n == 1:
            return bad("nx", rcode_class="nxdomain", late=True)
        if server == "10.96.0.10" and n <= 2:  # the cached denial
            return bad("nx", rcode_class="nxdomain")
        return None

    answer, asked = echo_script(rule)

    out = evaluate(S.DnsClusterset, lighthouse_views(), FakeProbes(answer), service=["nginx-test/nginx"])
    assert out.status is Status.PASS, out.message
    assert asked == ["10.96.3.3", "10.96.0.10", "10.96.3.3", "10.96.0.10", "10.96.0.10"]


def test_without_a_slow_owner_a_cluster_dns_denial_is_the_broken_hop_at_once(monkeypatch):
    """The same denial when east's cluster DNS was never asked before the owner knew the name: decided at once."""
    monkeypatch.setattr(S, "DNS_RETRY", 0.0)
    answer, asked = echo_script(lambda server, n: bad("nx", rcode_class="nxdomain") if server == "10.96.0.10" else None)

    out = evaluate(S.DnsClusterset, lighthouse_views(), FakeProbes(answer), service=["nginx-test/nginx"])
    assert out.status is Status.FAIL and "broken hop is east's cluster DNS" in out.message
    assert asked == ["10.96.3.3", "10.96.0.10"]


def test_a_name_that_reaches_the_owner_between_two_questions_is_asked_again():
    calls = {"n": 0}

    def answer(c, n, argv):
        if argv[1] == NGINX and argv[argv.index("--server") + 1] == "10.96.0.10":
            calls["n"] += 1
            if calls["n"] == 1:  # the first question came a moment too early
                return bad("nx", rcode_class="nxdomain")
        return dns_answer({})(c, n, argv)

    out = evaluate(S.DnsClusterset, lighthouse_views(), FakeProbes(answer), service=["nginx-test/nginx"])
    assert out.status is Status.PASS and calls["n"] == 2


def test_exported_services_are_probed_by_default_up_to_max():
    exports = tuple(obj("multicluster.x-k8s.io/v1alpha1", "ServiceExport", n, "apps") for n in ("b", "a", "c"))
    services = tuple(obj("v1", "Service", n, "apps", spec={"clusterIP": f"10.97.2.{i}", "ports": [{"port": 80}]})
                     for i, n in enumerate(("a", "b", "c"), start=1))
    b = submariner("west", "east", extra=exports + services)
    truth = {f"{n}.apps.svc.clusterset.local": f"10.97.2.{i}" for i, n in enumerate(("a", "b", "c"), start=1)}

    def answer(c, n, argv):
        if argv[1] in truth:
            return ok(rcode_class="answer", answers=[truth[argv[1]]])
        return dns_answer({})(c, n, argv)

    out = evaluate(S.DnsClusterset, [submariner("east", "west"), b], FakeProbes(answer), max_services=2)
    assert out.status is Status.PASS
    assert [s["service"] for s in out.details["services"]] == ["mcdiag-probes/echo", "apps/a", "apps/b"]
    assert "1 more exported service(s) of west not probed (--max-services 2)" in out.message


def test_service_reachability_by_ip_only_when_name_fails():
    probes = FakeProbes(dns_answer({NGINX: "nxdomain", ECHO: "nxdomain"}))
    out = evaluate(S.ServiceReachability, pair_views(), probes, service=["nginx-test/nginx"])
    assert out.status is Status.PASS and "judged by IP only" in out.message and "dns-clusterset" in out.message
    assert sorted(c[2][1] for c in probes.calls if c[2][0] == "http") == ["http://10.97.1.1:8080/", "http://10.97.5.5:8080/"]


def test_service_reachability_refused_and_by_name():
    def refused(c, n, argv):
        if argv[0] == "http" and "10.97.1.1" in argv[1]:
            return bad("connection refused", outcome="refused")
        return dns_answer({})(c, n, argv)

    out = evaluate(S.ServiceReachability, pair_views(), FakeProbes(refused), service=["nginx-test/nginx"])
    assert out.status is Status.FAIL and "refused" in out.message and "Nothing listens" in out.hint
    assert "nginx-test/nginx" in out.message and "the echo control mcdiag-probes/echo answered (HTTP 200)" in out.message
    assert "nginx-test/nginx itself" in out.hint

    out = evaluate(S.ServiceReachability, pair_views(), FakeProbes(dns_answer({})), service=["nginx-test/nginx"])
    assert out.status is Status.PASS and "by name" in out.message

    def down(c, n, argv):  # the control fails too: the network, not the service
        if argv[0] == "http":
            return bad("no TCP connection", outcome="timeout")
        return dns_answer({})(c, n, argv)

    out = evaluate(S.ServiceReachability, pair_views(), FakeProbes(down), service=["nginx-test/nginx"])
    assert out.status is Status.FAIL and "echo control" in out.message and "itself" not in (out.hint or "")


def test_non_http_service_that_accepts_counts_as_answering():
    out = evaluate(S.ServiceReachability, pair_views(),
                   FakeProbes(dns_answer({}, http=bad("RemoteDisconnected", outcome="error", connect_s=0.001))),
                   service=["nginx-test/nginx"])
    assert out.status is Status.PASS and "not HTTP" in out.message


def test_path_mtu_blackhole_and_no_reply():
    hole = bad("packets larger than 1252 bytes vanish", mtu=1252, blackhole=True, icmp_frag_needed=True, next_hop_mtu=1420)
    out = evaluate(P.PathMtu, pair_views(), FakeProbes(lambda c, n, a: hole))
    assert out.status is Status.FAIL and "1252" in out.message
    assert "clamp tcp mss" in out.hint.lower() and "1252" in out.hint and out.details["mtu"] == 1252
    out = evaluate(P.PathMtu, pair_views(), FakeProbes(lambda c, n, a: bad("no ICMP echo reply", mtu=None)))
    assert out.status is Status.FAIL and "no ICMP echo reply" in out.message
    out = evaluate(P.PathMtu, pair_views(), FakeProbes(lambda c, n, a: ok(mtu=1420, blackhole=False, icmp_frag_needed=True,
                                                                           next_hop_mtu=1420)))
    assert out.status is Status.PASS and "1420" in out.message


def test_latency_warns_above_max_rtt_and_fails_on_loss():
    stats = ok(min_ms=150.0, avg_ms=160.0, max_ms=170.0, loss_pct=0.0)
    out = evaluate(P.Latency, pair_views(), FakeProbes(lambda c, n, a: dict(stats)))
    assert out.status is Status.WARN and "160.0" in out.message and out.hint
    out = evaluate(P.Latency, pair_views(), FakeProbes(lambda c, n, a: dict(stats)), max_rtt=200.0)
    assert out.status is Status.PASS and out.details["avg_ms"] == 160.0
    out = evaluate(P.Latency, pair_views(), FakeProbes(lambda c, n, a: bad("100.0% lost", loss_pct=100.0)))
    assert out.status is Status.FAIL


def test_listener_that_cannot_capture_is_an_error_with_its_reason():
    tries = []

    def broken(c, n, argv):
        if argv[0] == "udp-listen":
            tries.append(1)
            return {"ok": False, "never_listened": True,
                    "reason": "cannot sniff: cannot open a packet socket (Operation not permitted)"}
        return ok()

    out = evaluate(FW.VxlanFirewall, [submariner("east", "west")], FakeProbes(broken))
    assert out.status is Status.ERROR and "cannot open a packet socket (Operation not permitted)" in out.message, out
    assert "never started listening" in out.message and len(tries) == 1


def test_provider_mismatch_skips_tunnel():
    out = evaluate(FW.TunnelFirewall, [submariner("east", "west"), netmaker("west")], FakeProbes(lambda c, n, a: ok()))
    assert out.status is Status.SKIP
