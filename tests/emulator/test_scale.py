"""The emulator at scale: paged lists from a sorted index, metadata-only lists, generated big clusters."""

from __future__ import annotations

import ipaddress
import json

import kubernetes
import pytest
from kubernetes.client import ApiException

from mcdiag.lab.emulator import ApiEmulator
from mcdiag.lab.emulator.generate import generate_cluster
from tests.emulator.test_emulator import client, pod, raw

PARTIAL = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


@pytest.fixture
def emu():
    objs = [pod(f"p-{i:03d}", f"ns-{i % 3}", {"app": "web" if i % 2 else "db"}) for i in range(30)]
    with ApiEmulator(objects=objs, name="east") as e:
        yield e


@pytest.fixture
def api(emu, tmp_path):
    with client(emu, tmp_path) as c:
        yield c


def all_pages(api, path: str, query: dict | None = None, headers: dict | None = None, limit: int = 4) -> list[dict]:
    pages, token = [], None
    while True:
        q = {**(query or {}), "limit": str(limit), **({"continue": token} if token else {})}
        status, body = raw(api, "GET", path, q, headers=headers)
        assert status == 200, body
        pages.append(body)
        token = body["metadata"].get("continue")
        if not token:
            return pages


def keys(items: list[dict]) -> list[tuple[str, str]]:
    return [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items]


def test_pages_cover_the_list_once_in_order_with_remaining_counts(api):
    pages = all_pages(api, "/api/v1/pods", limit=7)
    items = [i for p in pages for i in p["items"]]
    assert keys(items) == sorted(keys(items)) and len(set(keys(items))) == 30
    assert [len(p["items"]) for p in pages] == [7, 7, 7, 7, 2]
    assert [p["metadata"].get("remainingItemCount") for p in pages] == [23, 16, 9, 2, None]
    # in one namespace: the namespace's range of the index only
    ns = [i for p in all_pages(api, "/api/v1/namespaces/ns-1/pods", limit=3) for i in p["items"]]
    assert keys(ns) == sorted(("ns-1", f"p-{i:03d}") for i in range(1, 30, 3))


def test_selected_pages_leave_out_the_remaining_count_as_kube_apiserver_does(api):
    pages = all_pages(api, "/api/v1/pods", {"labelSelector": "app=web"}, limit=4)
    items = [i for p in pages for i in p["items"]]
    assert len(items) == 15 and all(i["metadata"]["labels"]["app"] == "web" for i in items)
    assert all("remainingItemCount" not in p["metadata"] for p in pages)
    assert "continue" not in pages[-1]["metadata"]


def test_a_continue_token_resumes_at_its_position_across_writes(emu, api):
    status, first = raw(api, "GET", "/api/v1/pods", {"limit": "5"})
    last = keys(first["items"])[-1]
    # objects before the position change, one after it goes, one after it comes
    emu.delete_object("v1", "Pod", "p-000", "ns-0")
    emu.delete_object("v1", "Pod", "p-027", "ns-0")
    emu.add(pod("p-999", "ns-2"))
    token = first["metadata"]["continue"]
    rest = []
    while token:
        _, page = raw(api, "GET", "/api/v1/pods", {"limit": "5", "continue": token})
        rest.extend(page["items"])
        token = page["metadata"].get("continue")
    got = keys(rest)
    assert got and got[0] > last and got == sorted(got)
    assert ("ns-0", "p-027") not in got and ("ns-2", "p-999") in got


def test_expired_token_is_410_still(emu, api):
    _, first = raw(api, "GET", "/api/v1/pods", {"limit": "5"})
    emu.expire_continue_tokens()
    with pytest.raises(ApiException) as err:
        kubernetes.client.CoreV1Api(api).list_pod_for_all_namespaces(limit=5, _continue=first["metadata"]["continue"])
    assert err.value.status == 410 and json.loads(err.value.body)["reason"] == "Expired"


def test_metadata_only_lists_are_partial_object_metadata(emu, api):
    pages = all_pages(api, "/api/v1/namespaces/ns-2/pods", {"labelSelector": "app=db"}, headers={"Accept": PARTIAL}, limit=2)
    for page in pages:
        assert page["kind"] == "PartialObjectMetadataList" and page["apiVersion"] == "meta.k8s.io/v1"
        assert page["metadata"]["resourceVersion"]
    items = [i for p in pages for i in p["items"]]
    want = sorted(("ns-2", f"p-{i:03d}") for i in range(30) if i % 3 == 2 and i % 2 == 0)
    assert keys(items) == want
    for item in items:
        assert item["kind"] == "PartialObjectMetadata" and item["apiVersion"] == "meta.k8s.io/v1"
        assert set(item) == {"kind", "apiVersion", "metadata"}
        stored = emu.get_object("v1", "Pod", item["metadata"]["name"], "ns-2")
        assert item["metadata"] == stored["metadata"]
    # a client that falls back to whole objects gets partial ones from a server that has them
    _, body = raw(api, "GET", "/api/v1/nodes", headers={"Accept": f"{PARTIAL},application/json"})
    assert body["kind"] == "PartialObjectMetadataList"
    # one object, metadata only
    _, one = raw(api, "GET", "/api/v1/namespaces/ns-0/pods/p-003",
                 headers={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"})
    assert one["kind"] == "PartialObjectMetadata" and one["metadata"]["name"] == "p-003" and "spec" not in one


def test_unservable_accept_is_406_and_fallbacks_are_honoured(emu, api):
    status, body = raw(api, "GET", "/api/v1/pods", headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v2"})
    assert status == 406 and body["reason"] == "NotAcceptable"
    # the single-object form is not a list
    status, _ = raw(api, "GET", "/api/v1/pods", headers={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"})
    assert status == 406
    _, body = raw(api, "GET", "/api/v1/pods", headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v2,application/json"})
    assert body["kind"] == "PodList" and body["items"][0]["spec"]["containers"]
    # the Table form of v1 is served, as kube-apiserver serves it; an emulator told to refuse it answers 406
    _, body = raw(api, "GET", "/api/v1/pods", headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"})
    assert body["kind"] == "Table" and body["rows"] and body["columnDefinitions"][0]["name"] == "Name"
    emu.tables = "refuse"
    try:
        status, body = raw(api, "GET", "/api/v1/pods", headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1,application/json"})
        assert status == 406 and body["reason"] == "NotAcceptable"
    finally:
        emu.tables = "serve"


def test_request_log_has_accept_header_and_response_size(emu, api):
    seen = []
    emu.on_request(seen.append)
    _, body = raw(api, "GET", "/api/v1/pods", headers={"Accept": PARTIAL})
    rec = emu.requests[-1]
    assert rec.accept == PARTIAL and seen == [rec]
    assert rec.size == len(json.dumps(body, separators=(",", ":")).encode())


def test_generated_cluster_has_real_shapes_and_serves_through_the_client(tmp_path):
    objs = list(generate_cluster(nodes=7, pods=200, name="big", pods_per_deployment=9, deployments_per_namespace=5))
    kinds = {}
    for o in objs:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    assert kinds["Node"] == 7 and kinds["Pod"] == 200 and kinds["DaemonSet"] == 1
    assert kinds["Deployment"] == kinds["ReplicaSet"] == 22 and kinds["Namespace"] == 5
    assert list(generate_cluster(nodes=7, pods=200, name="big", pods_per_deployment=9, deployments_per_namespace=5)) == objs
    pods = [o for o in objs if o["kind"] == "Pod"]
    app = next(p for p in pods if p["metadata"]["namespace"] != "kube-system")
    assert len(app["spec"]["containers"]) == 2 and len(app["status"]["containerStatuses"]) == 2
    assert {m["manager"] for m in app["metadata"]["managedFields"]} == {"kube-controller-manager", "kubelet"}
    assert {c["type"] for c in app["status"]["conditions"]} >= {"Ready", "ContainersReady", "PodScheduled"}
    assert 4000 < len(json.dumps(app, separators=(",", ":"))) < 9000  # the size of a real deployment pod
    assert len({(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods}) == 200
    assert len({p["status"]["podIP"] for p in pods if p["metadata"]["namespace"] != "kube-system"}) == 193
    nodes = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Node"}
    for p in pods:  # every pod IP lies in its node's pod CIDR
        node = nodes[p["spec"]["nodeName"]]
        if p["metadata"]["namespace"] != "kube-system":
            assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    with ApiEmulator(name="big") as emu:
        assert emu.add_generated(objs) == len(objs)
        with client(emu, tmp_path) as api:
            core = kubernetes.client.CoreV1Api(api)
            listed = core.list_pod_for_all_namespaces(limit=50)
            assert len(listed.items) == 50 and listed.metadata.remaining_item_count == 150
            proxies = core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-proxy")
            assert len(proxies.items) == 7 and {p.spec.node_name for p in proxies.items} == set(nodes)
            assert len(core.list_node().items) == 7
            assert len(kubernetes.client.AppsV1Api(api).list_deployment_for_all_namespaces().items) == 22
            # writes on generated objects leave the others (which share nested parts) alone
            victim = app["metadata"]
            emu.update_status("v1", "Pod", victim["name"], victim["namespace"], {"phase": "Failed"})
            sibling = next(p for p in pods if p["metadata"]["labels"] == victim["labels"] and p is not app)
            got = core.read_namespaced_pod(sibling["metadata"]["name"], sibling["metadata"]["namespace"])
            assert got.status.phase == "Running" and got.status.conditions


def test_label_queries_follow_relabelled_and_deleted_objects(emu, api):
    """Equality selectors are served from a label index: it follows every write."""
    web = lambda ns=None: keys([i for p in all_pages(api, f"/api/v1/namespaces/{ns}/pods" if ns else "/api/v1/pods",  # noqa: E731
                                                        {"labelSelector": "app in (web,cache)"}, limit=2) for i in p["items"]])
    before = web()
    assert len(before) == 15 and before == sorted(before)
    emu.store.put(pod("p-001", "ns-1", {"app": "db"}))            # relabelled away
    emu.store.put(pod("p-000", "ns-0", {"app": "cache"}))         # relabelled in
    emu.store.put(pod("p-900", "ns-2", {"app": "web"}))           # new
    emu.store.remove("", "Pod", "ns-0", "p-003")                  # deleted
    after = web()
    assert ("ns-1", "p-001") not in after and ("ns-0", "p-003") not in after
    assert {("ns-0", "p-000"), ("ns-2", "p-900")} <= set(after) and len(after) == 15 and after == sorted(after)
    assert web("ns-2") == sorted(k for k in after if k[0] == "ns-2")
    status, body = raw(api, "GET", "/api/v1/pods", {"labelSelector": "app=web,app!=web", "limit": "5"})
    assert status == 200 and body["items"] == []  # the index narrows; every requirement still judges
