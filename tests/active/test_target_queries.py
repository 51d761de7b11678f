"""What the active checks read to choose their nodes and services: narrow queries, each declared.

In memory (plain objects, every query recorded) with canned probe results: the gateway and
non-gateway nodes come from label queries and a sample of the first non-gateway nodes, never
from a list of every node; a node outside those is read by its name; every query an active
check asks is covered by its ``reads`` or ``reads_if_needed``.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcdiag.checks import firewalls as FW
from mcdiag.checks import paths as P
from mcdiag.checks import services as SV

from mcdiag.active import targets as T
from mcdiag.facts import netmaker as N
from mcdiag.facts import submariner as SUB
from mcdiag.gather import resources as R
from mcdiag.gather.kubeconfig import ClusterSpec
from mcdiag.gather.view import ClusterView
from mcdiag.model import Status
from tests.active.test_logic import FakeProbes, evaluate, node, obj, ok
from tests.active.test_logic import netmaker as netmaker_view
from tests.active.test_logic import submariner as submariner_view
from tests.conftest import FakeSource

ACTIVE = (P.PodConnectivity, P.PathMtu, P.Latency, FW.VxlanFirewall, FW.TunnelFirewall, FW.WireguardHandshake,
          SV.DnsClusterset, SV.ServiceReachability)


class Recording(FakeSource):
    """Plain objects served like the API would (the view narrows them), every query recorded."""

    def __init__(self, objects: list[dict[str, Any]]):
        super().__init__(objects)
        self.asked: list[R.Resource] = []

    def list(self, res: Any) -> list[dict[str, Any]]:
        self.asked.append(res)
        return super().list(res)


def recorded(view: ClusterView) -> ClusterView:
    """The same objects behind a recording source."""
    return ClusterView(ClusterSpec(None, name=view.name, explicit_name=True), Recording(view.source.objects))


def answer(cluster: str, node: str, argv: list[str]) -> dict[str, Any]:
    """Every probe succeeds (tunnels, ping, MTU, DNS, HTTP, WireGuard)."""
    if argv[:1] == ["dns"]:
        return ok(rcode="NOERROR", rcode_class="answer", answers=["10.97.5.5", "10.97.1.1", "10.96.1.1"])
    if argv[:1] == ["wg"]:
        return ok(peers=[{"endpoint": "x", "latest_handshake_age": 5}])
    return ok(rtt_ms=1.0, mtu=1400, received=True, status=200, loss=0.0)


def assert_declared(check: type, views: list[ClusterView]) -> None:
    declared = {*check.reads, *check.reads_if_needed}
    for view in views:
        asked = view.source.asked
        assert asked, (check.id, view.name)
        stray = sorted({q.key for q in asked if not any(d == q or d.covers(q) for d in declared)})
        assert stray == [], (check.id, view.name)
        assert R.PODS not in asked and R.DEPLOYMENTS not in asked and R.SERVICES not in asked, (check.id, view.name)


@pytest.mark.parametrize("check", ACTIVE, ids=lambda c: c.id)
@pytest.mark.parametrize("provider", ["submariner", "netmaker"])
def test_active_checks_read_only_declared_narrow_queries(check, provider):
    if provider == "submariner":
        views = [recorded(submariner_view("east", "west", nodes=3)), recorded(submariner_view("west", "east", nodes=3))]
    else:
        views = [recorded(netmaker_view("east")), recorded(netmaker_view("west", network="cloud-k3s"))]
    scope_views = views[:1] if check.scope.value == "cluster" else views
    out = evaluate(check, scope_views, FakeProbes(answer), service=["nginx-test/nginx"])
    assert out.status is not Status.ERROR or "probe" in out.message, out.message
    assert_declared(check, scope_views)
    for view in scope_views:  # never every node of the cluster: the sample of non-gateway nodes was enough
        assert R.NODES not in view.source.asked and T.NON_GATEWAY_NODES not in view.source.asked, view.name


def many_nodes(ready_from: int | None, count: int = 30) -> ClusterView:
    """A Submariner cluster with ``count`` workers ``east-w01``...; those from ``ready_from`` on are Ready."""
    base = submariner_view("east", "west", nodes=1)
    workers = [node(f"east-w{i:02d}", f"10.9.{i}.1", ready=ready_from is not None and i >= ready_from) for i in range(1, count + 1)]
    return ClusterView(ClusterSpec(None, name="east", explicit_name=True), Recording(base.source.objects + workers))


def test_other_node_is_the_first_ready_non_gateway_node_from_a_sample():
    v = many_nodes(ready_from=3)
    gw = T.gateway_node(v)
    choice = T.other_node(v, gw)
    assert choice.name == "east-w03" and choice.reason == "a Ready non-gateway node"
    assert T.NON_GATEWAY_NODES.first(T.NON_GATEWAY_SAMPLE) in v.source.asked
    assert R.NODES not in v.source.asked and T.NON_GATEWAY_NODES not in v.source.asked


def test_other_node_reads_every_non_gateway_node_only_when_the_sample_has_no_ready_one():
    v = many_nodes(ready_from=T.NON_GATEWAY_SAMPLE + 5)
    choice = T.other_node(v, T.gateway_node(v))
    assert choice.name == f"east-w{T.NON_GATEWAY_SAMPLE + 5:02d}"
    assert T.NON_GATEWAY_NODES in v.source.asked and R.NODES not in v.source.asked


def test_other_node_falls_back_to_another_gateway_then_to_none():
    v = many_nodes(ready_from=None, count=3)  # no worker Ready, a second Ready gateway
    objs = v.source.objects + [node("east-gw2", "10.0.0.2", {"submariner.io/gateway": "true"})]
    v = ClusterView(ClusterSpec(None, name="east", explicit_name=True), Recording(objs))
    choice = T.other_node(v, T.gateway_node(v))
    assert choice.name == "east-gw2" and "every other node is a gateway" in choice.reason
    v = many_nodes(ready_from=None, count=3)
    assert T.other_node(v, T.gateway_node(v)).node is None


def test_active_gateway_on_an_unlabelled_node_is_read_by_name():
    v = submariner_view("east", "west", gw_labels={"submariner.io/gateway": "false"})
    v = recorded(v)
    gw = T.gateway_node(v)
    assert gw.name == "east-gw" and "not labelled submariner.io/gateway=true" in gw.reason
    assert R.NODES.named("east-gw") in v.source.asked and R.NODES not in v.source.asked


def test_netmaker_gateway_prefers_the_node_running_netclient_gateway():
    pod = obj("v1", "Pod", "netclient-gateway-x", "default", metadata={"labels": {"app": "netclient-gateway"}},
              spec={"nodeName": "east-gw2"}, status={"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
    base = netmaker_view("east")
    objs = base.source.objects + [node("east-gw2", "192.168.1.3", {"gateway": "true"}), pod]
    v = ClusterView(ClusterSpec(None, name="east", explicit_name=True), Recording(objs))
    gw = T.gateway_node(v)
    assert gw.name == "east-gw2" and "runs netclient-gateway" in gw.reason
    assert set(v.source.asked) <= {*T.NODE_READS, *N.NETMAKER_READS}
    assert N.NETCLIENT_GATEWAY_PODS in v.source.asked and N.GATEWAY_NODES in v.source.asked


def test_servicex_exports_are_read_by_name_and_services_by_their_names():
    servicex = obj("apps/v1", "Deployment", "servicex", "default", metadata={"labels": {"app": "servicex"}})
    extra = [obj("v1", "Service", f"svc{i}", "apps", spec={"clusterIP": f"10.45.1.{i}", "ports": [{"port": 80}]}) for i in range(4)]
    base = netmaker_view("west", network="cloud-k3s")
    v = ClusterView(ClusterSpec(None, name="west", explicit_name=True), Recording(base.source.objects + [servicex, *extra]))
    found, how, total = T.exported_services(v, 2)
    assert how == "servicex" and total == 5 and found == [("apps", "svc0"), ("apps", "svc1")]
    target = T.service_target(v, "apps", "svc1", how)
    assert target.ips == ["10.45.1.1"] and target.port == 80
    assert R.SERVICES.metadata() in v.source.asked and R.SERVICES.within("apps").named("svc1") in v.source.asked
    assert R.SERVICES not in v.source.asked
    assert {*N.SERVICEX_DEPLOYMENTS} & set(v.source.asked)


def test_submariner_lighthouse_service_by_name():
    lighthouse = obj("v1", "Service", SUB.LIGHTHOUSE_DNS_SERVICE, "submariner-operator",
                     spec={"clusterIP": "10.96.9.9", "ports": [{"port": 53, "protocol": "UDP"}]})
    a = recorded(submariner_view("east", "west", extra=(lighthouse,)))
    owner = T.zone_owner(a, submariner_view("west", "east"))
    assert owner.ip == "10.96.9.9" and owner.port == 53
    assert SUB.LIGHTHOUSE_SERVICE in a.source.asked and R.SERVICES not in a.source.asked
