"""Declared reads as queries: canonical forms, serving a query from a broader one, one request per query."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mcdiag.errors import ResourceUnavailable
from mcdiag.gather import resources as R
from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster
from mcdiag.gather.resources import Resource, broadest, parse_labels
from mcdiag.gather.snapshot import SnapshotSource, load_snapshot_views, save_snapshot
from mcdiag.gather.view import ClusterView

PODS, NODES = R.PODS, R.NODES
DNS = PODS.where(labels="k8s-app=kube-dns")
KUBE_SYSTEM = PODS.within("kube-system")
DNS_IN_KS = DNS.within("kube-system")
META = PODS.metadata()
GATEWAYS = NODES.where(labels="submariner.io/gateway=true").metadata()
ON_NODE = PODS.where(fields="spec.nodeName=n1")
ON_NODE_META = ON_NODE.metadata()


def pod(name: str, ns: str, labels: dict[str, str], node: str = "n1", phase: str = "Running") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}, "status": {"phase": phase}}


def node(name: str, gateway: bool) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, **({"submariner.io/gateway": "true"} if gateway else {})}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": "10.0.0.0/24"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


OBJECTS = [
    pod("coredns-a", "kube-system", {"k8s-app": "kube-dns"}),
    pod("coredns-b", "kube-system", {"k8s-app": "kube-dns"}, node="n2"),
    pod("proxy-a", "kube-system", {"k8s-app": "kube-proxy"}),
    pod("dns-elsewhere", "team", {"k8s-app": "kube-dns"}, node="n2", phase="Pending"),
    pod("web", "team", {"app": "web"}),
    node("n1", True),
    node("n2", False),
]


def expected(query: Resource) -> list[tuple[str | None, str]]:
    """(namespace, name) of what the query should answer, judged independently of Resource.matches."""
    out = []
    for o in OBJECTS:
        if o["kind"] != {"pods": "Pod", "nodes": "Node"}[query.plural]:
            continue
        meta, labels = o["metadata"], o["metadata"].get("labels") or {}
        if query.namespace and meta.get("namespace") != query.namespace:
            continue
        if query == DNS or query == DNS_IN_KS:
            if labels.get("k8s-app") != "kube-dns":
                continue
        if query == GATEWAYS and labels.get("submariner.io/gateway") != "true":
            continue
        if query in (ON_NODE, ON_NODE_META) and o["spec"]["nodeName"] != "n1":
            continue
        out.append((meta.get("namespace"), meta["name"]))
    return sorted(out)


def names(items: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return sorted((i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items)


class CountingSource:
    """A source that answers queries itself (selectors, metadata only) and counts what it was asked."""

    live = False

    def __init__(self, objects: list[dict[str, Any]], fail: dict[str, str] | None = None):
        self.objects = objects
        self.asked: list[str] = []
        self.fail = fail or {}

    def version(self) -> dict[str, Any]:
        return {"major": "1", "minor": "29", "gitVersion": "v1.29.3"}

    def served_group_versions(self) -> set[str]:
        return {"v1", "apps/v1"}

    def list(self, res: Resource) -> list[dict[str, Any]]:
        self.asked.append(res.key)
        if res.key in self.fail:
            raise ResourceUnavailable(self.fail[res.key], f"list {res.display}: refused", status=403)
        kind = {"pods": "Pod", "nodes": "Node"}[res.plural]
        return [res.shape(copy.deepcopy(o)) for o in self.objects if o["kind"] == kind and res.matches(o)]


def view_of(source: Any, name: str = "east") -> ClusterView:
    return ClusterView(ClusterSpec(None, name=name, explicit_name=True), source)


# -- the queries themselves --------------------------------------------------------------------
def test_plain_resources_keep_their_keys_and_paths():
    assert PODS.key == "v1/pods" and R.CONFIGMAPS_KUBE_SYSTEM.key == "v1/configmaps@kube-system"
    assert Resource("apps", "v1", "daemonsets", None, False) == R.DAEMONSETS
    assert not PODS.narrowed and PODS.params() == {} and PODS.accept == "application/json"


def test_equal_queries_are_one_query_whatever_the_spelling():
    a = PODS.where(labels="tier in (b, a),app=x,!legacy")
    b = PODS.where(labels={"app": "x"}).where(labels="!legacy, tier in (a,b)")
    assert a == b and hash(a) == hash(b) and a.key == b.key
    assert a.labels == "app=x,!legacy,tier in (a,b)"
    assert PODS.where(fields="status.phase==Running,spec.nodeName=n1").fields == "spec.nodeName=n1,status.phase=Running"
    assert DNS_IN_KS.key == "v1/pods@kube-system;l=k8s-app=kube-dns"
    assert GATEWAYS.key == "v1/nodes;l=submariner.io/gateway=true;meta"
    assert GATEWAYS.params() == {"labelSelector": "submariner.io/gateway=true"}
    assert GATEWAYS.accept.startswith("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
    assert "metadata of nodes" in GATEWAYS.display and "submariner.io/gateway=true" in GATEWAYS.display


@pytest.mark.parametrize("bad", ["a=b=c", "a in b", "(x)", "a>1"])
def test_malformed_selectors_are_refused(bad):
    with pytest.raises(ValueError):
        parse_labels(bad)


def test_set_based_and_existence_requirements_match_as_kubernetes_does():
    obj = {"metadata": {"labels": {"app": "web", "tier": "front"}}}
    assert PODS.where(labels="app in (web,db)").matches(obj)
    assert not PODS.where(labels="app notin (web)").matches(obj)
    assert PODS.where(labels="tier,!legacy").matches(obj)
    assert not PODS.where(labels="legacy").matches(obj)
    assert PODS.where(labels="other!=x").matches(obj)  # absent key: != holds
    assert PODS.where(fields="spec.nodeName=").matches(obj)  # absent field compares as ""


@pytest.mark.parametrize(
    ("wide", "narrow", "covers"),
    [
        (PODS, KUBE_SYSTEM, True),
        (PODS, DNS, True),
        (PODS, DNS_IN_KS, True),
        (KUBE_SYSTEM, DNS_IN_KS, True),
        (DNS, DNS_IN_KS, True),
        (PODS, META, True),
        (META, META.where(labels="app=web"), True),
        (META, META.where(fields="metadata.name=web"), True),
        (META, META.where(fields="spec.nodeName=n1"), False),  # metadata cannot judge a spec field
        (PODS, ON_NODE.metadata(), True),
        (KUBE_SYSTEM, PODS, False),
        (DNS, PODS, False),
        (META, PODS, False),
        (KUBE_SYSTEM, PODS.within("team"), False),
        (DNS, PODS.where(labels="k8s-app=other"), False),
        (PODS, NODES, False),
        (PODS, R.core("pods").within("x"), True),
    ],
)
def test_covers(wide, narrow, covers):
    assert wide.covers(narrow) is covers


def test_broadest_splits_what_goes_to_the_api():
    roots, served = broadest({PODS, KUBE_SYSTEM, DNS, DNS_IN_KS, META, GATEWAYS, NODES.within(None)})
    assert roots == sorted([NODES, PODS], key=lambda r: r.key)
    assert set(served) == {KUBE_SYSTEM, DNS, DNS_IN_KS, META, GATEWAYS}
    roots, served = broadest({KUBE_SYSTEM, DNS_IN_KS, GATEWAYS, DNS})
    assert set(roots) == {KUBE_SYSTEM, GATEWAYS, DNS} and served == [DNS_IN_KS]


# -- the view ----------------------------------------------------------------------------------
ALL = [PODS, KUBE_SYSTEM, DNS, DNS_IN_KS, META, ON_NODE, NODES, GATEWAYS]


def test_prefetch_sends_only_the_broadest_queries_and_serves_the_rest_from_them():
    source = CountingSource(OBJECTS)
    view = view_of(source)
    view.prefetch(ALL)
    assert sorted(source.asked) == ["v1/nodes", "v1/pods"]
    for q in ALL:
        assert names(view.list(q)) == expected(q), q.key
    assert sorted(source.asked) == ["v1/nodes", "v1/pods"]  # nothing more asked afterwards
    meta = view.list(GATEWAYS)
    assert [set(i) for i in meta] == [{"apiVersion", "kind", "metadata"}]
    assert meta[0]["kind"] == "PartialObjectMetadata" and meta[0]["apiVersion"] == "meta.k8s.io/v1"
    # served items are the broad list's own objects, not copies
    assert view.list(DNS_IN_KS)[0] is next(i for i in view.list(PODS) if i["metadata"]["name"] == "coredns-a")
    assert set(view.recorded()["lists"]) == {q.key for q in ALL}


def test_narrow_queries_alone_each_go_to_the_api_once():
    source = CountingSource(OBJECTS)
    view = view_of(source)
    wanted = [DNS_IN_KS, GATEWAYS, ON_NODE]
    view.prefetch(wanted)
    view.prefetch(wanted)
    for q in wanted:
        assert names(view.list(q)) == expected(q)
        view.list(q)
    assert sorted(source.asked) == sorted(q.key for q in wanted)
    # a broader query asked later goes to the API; narrower ones asked after it are cut from it
    view.list(PODS)
    assert names(view.list(KUBE_SYSTEM)) == expected(KUBE_SYSTEM)
    assert sorted(source.asked) == sorted([*(q.key for q in wanted), PODS.key])


def test_a_failed_broad_query_does_not_answer_the_narrow_ones():
    source = CountingSource(OBJECTS, fail={"v1/pods": "forbidden"})
    view = view_of(source)
    view.prefetch([PODS, DNS_IN_KS])
    with pytest.raises(ResourceUnavailable) as err:
        view.list(PODS)
    assert err.value.kind == "forbidden" and "list pods --all-namespaces" in err.value.hint
    assert names(view.list(DNS_IN_KS)) == expected(DNS_IN_KS)  # RBAC in one namespace is enough
    assert source.asked == ["v1/pods", DNS_IN_KS.key]


def test_a_source_that_ignores_selectors_is_narrowed_by_the_view():
    class Unselective(CountingSource):
        def list(self, res):
            self.asked.append(res.key)
            kind = {"pods": "Pod", "nodes": "Node"}[res.plural]
            return [copy.deepcopy(o) for o in self.objects if o["kind"] == kind]

    view = view_of(Unselective(OBJECTS))
    assert names(view.list(DNS_IN_KS)) == expected(DNS_IN_KS)
    assert {i["kind"] for i in view.list(GATEWAYS)} == {"PartialObjectMetadata"}


def test_snapshots_replay_every_query(tmp_path):
    view = view_of(CountingSource(OBJECTS))
    view.prefetch(ALL)
    save_snapshot(tmp_path / "snap", [view])
    (replayed,) = load_snapshot_views(tmp_path / "snap", type("O", (), {"provider": None})())
    assert isinstance(replayed.source, SnapshotSource)
    for q in ALL:
        assert names(replayed.list(q)) == expected(q), q.key
        assert replayed.list(q) == view.list(q)


# -- over HTTPS, through the emulator ----------------------------------------------------------
def test_queries_over_https_are_one_request_each_with_selectors_and_the_metadata_accept_header(emulate):
    clusters = emulate({"east": copy.deepcopy(OBJECTS)})
    emu = clusters["east"]
    spec = ClusterSpec(str(clusters.kubeconfigs["east"]), name="east", explicit_name=True)
    view = view_of(load_cluster(spec, 10.0))
    emu.clear_requests()
    view.prefetch(ALL)
    lists = [r for r in emu.requests if r.path in ("/api/v1/pods", "/api/v1/nodes")]
    assert sorted(r.path for r in lists) == ["/api/v1/nodes", "/api/v1/pods"]
    assert all(set(r.query) == {"limit"} and r.accept == "application/json" for r in lists)
    for q in ALL:
        assert names(view.list(q)) == expected(q), q.key

    fresh = view_of(load_cluster(spec, 10.0))
    emu.clear_requests()
    narrow = [DNS_IN_KS, GATEWAYS, ON_NODE]
    fresh.prefetch(narrow)
    by_path = {r.path: r for r in emu.requests}
    assert len(emu.requests) == 3, [(r.path, r.query) for r in emu.requests]
    # metadata only, selected on a spec field: cut from ON_NODE when held; else the server judges
    # the field and the view keeps its answer
    emu.clear_requests()
    assert names(fresh.list(ON_NODE_META)) == expected(ON_NODE_META) != []
    assert emu.requests == []
    alone = view_of(load_cluster(spec, 10.0))
    assert names(alone.list(ON_NODE_META)) == expected(ON_NODE_META)
    (req,) = emu.requests
    assert req.accept.startswith("application/json;as=PartialObjectMetadataList") and req.query["fieldSelector"] == "spec.nodeName=n1"
    ks = by_path["/api/v1/namespaces/kube-system/pods"]
    assert ks.query["labelSelector"] == "k8s-app=kube-dns" and ks.accept == "application/json"
    gw = by_path["/api/v1/nodes"]
    assert gw.query["labelSelector"] == "submariner.io/gateway=true"
    assert gw.accept.startswith("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
    assert by_path["/api/v1/pods"].query["fieldSelector"] == "spec.nodeName=n1"
    for q in narrow:
        assert names(fresh.list(q)) == expected(q), q.key
    (gateway,) = fresh.list(GATEWAYS)
    assert gateway["kind"] == "PartialObjectMetadata" and "spec" not in gateway  # the server sent metadata only


# -- first(n): existence tests and samples -------------------------------------------------------
FIRST = NODES.first(1)
FIRST_DNS = DNS.metadata().first(1)


@pytest.mark.parametrize(
    ("wide", "narrow", "covers"),
    [
        (NODES, FIRST, True),
        (PODS, FIRST_DNS, True),
        (DNS, FIRST_DNS, True),
        (NODES.first(5), FIRST, True),
        (FIRST, NODES, False),
        (FIRST, NODES.first(2), False),
        (PODS.first(5), DNS.first(1), False),  # the first 5 pods need not hold the first kube-dns pod
        (FIRST_DNS, DNS.first(1), False),  # metadata cannot answer whole objects
    ],
)
def test_covers_limited(wide, narrow, covers):
    assert wide.covers(narrow) is covers


def test_keys_name_every_part_of_a_query_and_read_back():
    for q in (PODS, FIRST, FIRST_DNS, DNS_IN_KS, GATEWAYS, ON_NODE_META, R.CONFIGMAPS_KUBE_SYSTEM.named("x"), R.SUBMARINERS):
        assert R.from_key(q.key) == q, q.key
    assert FIRST_DNS.key == "v1/pods;l=k8s-app=kube-dns;meta;n=1" and "one of the pods" in FIRST_DNS.display
    with pytest.raises(ValueError):
        R.from_key("v1/pods;x=1")
    with pytest.raises(ValueError):
        PODS.first(0)


def test_limited_queries_are_cut_from_a_full_answer_or_sent_as_one_page():
    source = CountingSource(OBJECTS)
    view = view_of(source)
    view.prefetch([NODES, FIRST, FIRST_DNS, PODS])
    assert sorted(source.asked) == ["v1/nodes", "v1/pods"]
    assert names(view.list(FIRST)) == [(None, "n1")] and len(view.list(FIRST_DNS)) == 1
    alone = view_of(CountingSource(OBJECTS))
    assert len(alone.list(FIRST_DNS)) == 1 and alone.source.asked == [FIRST_DNS.key]


def test_a_broad_query_that_failed_answers_the_narrow_ones_with_its_failure():
    """Unreachable, malformed, endless paging: a narrower query would meet it too, and is not sent."""
    source = CountingSource(OBJECTS, fail={"v1/pods": "error"})
    view = view_of(source)
    view.prefetch([PODS, DNS_IN_KS, FIRST_DNS])
    for q in (DNS_IN_KS, FIRST_DNS):
        with pytest.raises(ResourceUnavailable) as err:
            view.list(q)
        assert err.value.kind == "error" and "refused" in err.value.message
    assert source.asked == ["v1/pods"]
    assert view.holds(DNS_IN_KS) and not view.holds(NODES)


def test_limited_query_over_https_is_one_page_whatever_follows(emulate):
    many = [pod(f"dns-{i}", "kube-system", {"k8s-app": "kube-dns"}) for i in range(5)]
    clusters = emulate({"east": copy.deepcopy(OBJECTS) + many})
    emu = clusters["east"]
    view = view_of(load_cluster(ClusterSpec(str(clusters.kubeconfigs["east"]), name="east", explicit_name=True), 10.0))
    emu.clear_requests()
    assert len(view.list(FIRST_DNS)) == 1
    (req,) = emu.requests
    assert req.query["limit"] == "1" and req.query["labelSelector"] == "k8s-app=kube-dns" and "continue" not in req.query


def test_snapshot_files_of_two_queries_never_collide(tmp_path):
    from mcdiag.gather.snapshot import _list_file

    a, b = PODS.where(labels="a=b"), PODS.where(labels="a!=b")
    assert a.key != b.key and _list_file(a.key) != _list_file(b.key)
    view = view_of(CountingSource(OBJECTS))
    view.prefetch([a, b])
    save_snapshot(tmp_path / "snap", [view])
    (replayed,) = load_snapshot_views(tmp_path / "snap", type("O", (), {"provider": None})())
    assert replayed.list(a) == view.list(a) and replayed.list(b) == view.list(b)
