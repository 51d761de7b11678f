"""Tests of the Kubernetes API emulator, driven through the real ``kubernetes`` client."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kubernetes
import pytest
import urllib3
import yaml
from kubernetes.client import ApiException

from mcdiag.lab.emulator import (
    ApiEmulator,
    load_objects,
    parse_field_selector,
    parse_label_selector,
    refused_url,
)
from mcdiag.lab.emulator.selectors import SelectorError

DATA = Path(__file__).parent / "data"
CRDS = Path("/work/shared/crds")
REPO = Path(__file__).resolve().parents[2]


def pod(
    name: str,
    namespace: str = "default",
    labels: dict | None = None,
    node: str = "east-worker",
    phase: str = "Running",
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": phase},
    }


def client(emu: ApiEmulator, tmp_path: Path, *, token: str | None = None, retries: bool = True, **kw):
    """Build an ApiClient from a kubeconfig the emulator wrote, like mcdiag users do."""
    path = emu.kubeconfig(tmp_path / f"{emu.name}-{os.urandom(3).hex()}.kubeconfig", token=token, **kw)
    if retries:
        return kubernetes.config.new_client_from_config(config_file=str(path))
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), client_configuration=cfg)
    cfg.retries = False
    return kubernetes.client.ApiClient(cfg)


def raw(
    api,
    method: str,
    path: str,
    query: dict | None = None,
    body=None,
    headers: dict | None = None,
    timeout=None,
):
    """Call the API through ``ApiClient.call_api``; returns (status, decoded body)."""
    req = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=list((query or {}).items()),
        header_params={"Accept": "application/json", **(headers or {})},
        body=body,
        auth_settings=["BearerToken"],
    )
    resp = api.call_api(*req, _request_timeout=timeout)
    data = resp.read()
    ctype = resp.getheader("Content-Type") or ""
    return resp.status, (json.loads(data) if ctype.startswith("application/json") else data.decode())


def submariner_crds() -> list[dict]:
    if not CRDS.is_dir() or not list(CRDS.glob("*.yaml")):
        pytest.skip("Submariner CRDs not available in /work/shared/crds")
    return [
        o for o in load_objects(*sorted(CRDS.glob("*.yaml"))) if o.get("kind") == "CustomResourceDefinition"
    ]


@pytest.fixture
def emu():
    objs = (
        load_objects(DATA)
        + [pod(f"web-{i}", labels={"app": "web", "tier": "front" if i % 2 else "back"}) for i in range(7)]
        + [
            pod("coredns-1", "kube-system", {"k8s-app": "kube-dns"}, node="east-control-plane"),
            pod("pending-1", "kube-system", {"k8s-app": "other"}, node="", phase="Pending"),
        ]
    )
    with ApiEmulator(objects=objs, name="east") as e:
        yield e


@pytest.fixture
def api(emu, tmp_path):
    with client(emu, tmp_path) as c:
        yield c


# ---------------------------------------------------------------------------
# loading


def test_load_objects_file_dir_and_lists(tmp_path):
    objs = load_objects(DATA)
    kinds = [o["kind"] for o in objs]
    # cluster.yaml first (sorted), then more/list.yaml with both lists flattened
    assert kinds[:2] == ["Namespace", "Namespace"]
    assert kinds[-3:] == ["ConfigMap", "EndpointSlice", "Secret"]
    secret = objs[-1]
    assert secret["apiVersion"] == "v1" and secret["metadata"]["name"] == "broker-token"
    single = load_objects(DATA / "more" / "list.yaml")
    assert [o["kind"] for o in single] == ["ConfigMap", "EndpointSlice", "Secret"]
    (tmp_path / "a.yml").write_text("---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "ignored.txt").write_text("not yaml: [")
    assert [o["metadata"]["name"] for o in load_objects(tmp_path)] == ["x"]
    with pytest.raises(FileNotFoundError):
        load_objects(tmp_path / "missing.yaml")


# ---------------------------------------------------------------------------
# version, discovery, health


def test_version_and_health(emu, api):
    info = kubernetes.client.VersionApi(api).get_code()
    assert (info.major, info.minor, info.git_version) == ("1", "29", "v1.29.3")
    cfg = emu.kubeconfig_dict()
    assert cfg["current-context"] == "east-ctx" and cfg["users"][0]["name"] == "east-admin"
    assert cfg["clusters"][0] == {
        "name": "east",
        "cluster": {
            "server": emu.url,
            "certificate-authority-data": base64.b64encode(emu.certificate_authority_pem).decode(),
        },
    }
    for path in ("/healthz", "/readyz", "/livez"):
        assert raw(api, "GET", path) == (200, "ok")


@pytest.mark.parametrize(
    ("version", "override", "minor"),
    [("v1.29.3+k3s1", None, "29"), ("v1.18.9-eks-d1db3c", {"minor": "18+"}, "18+")],
)
def test_version_variants(tmp_path, version, override, minor):
    with ApiEmulator(version=version, version_info=override) as e, client(e, tmp_path) as c:
        info = kubernetes.client.VersionApi(c).get_code()
        assert (info.git_version, info.minor) == (version, minor)


def test_core_discovery(emu, api):
    status, body = raw(api, "GET", "/api")
    assert status == 200 and body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    resources = kubernetes.client.CoreV1Api(api).get_api_resources()
    by_name = {r.name: r for r in resources.resources}
    assert {
        "namespaces",
        "nodes",
        "pods",
        "services",
        "endpoints",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "events",
        "pods/log",
    } <= set(by_name)
    assert by_name["pods"].namespaced and by_name["pods"].kind == "Pod" and "list" in by_name["pods"].verbs
    assert not by_name["nodes"].namespaced
    groups = {g.name: g for g in kubernetes.client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "networking.k8s.io", "apiextensions.k8s.io", "discovery.k8s.io"} <= set(groups)
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    apps = kubernetes.client.AppsV1Api(api).get_api_resources()
    assert {"deployments", "daemonsets", "replicasets", "statefulsets"} <= {r.name for r in apps.resources}
    status, body = raw(api, "GET", "/apis/networking.k8s.io")
    assert status == 200 and body["kind"] == "APIGroup" and body["preferredVersion"]["version"] == "v1"


def test_crd_group_served_only_after_crd_loaded(emu, api):
    crds = submariner_crds()
    custom = kubernetes.client.CustomObjectsApi(api)
    groups = {g["name"] for g in raw(api, "GET", "/apis")[1]["groups"]}
    assert "submariner.io" not in groups and "config.openshift.io" not in groups
    # The Broker from the fixtures is stored but not served without its CRD.
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object("submariner.io", "v1alpha1", "submariner-k8s-broker", "brokers")
    assert err.value.status == 404
    body = json.loads(err.value.body)
    assert (
        body["reason"] == "NotFound" and body["message"] == "the server could not find the requested resource"
    )
    assert raw(api, "GET", "/apis/submariner.io/v1alpha1")[0] == 404

    emu.add_all(crds)
    groups = {g["name"]: g for g in raw(api, "GET", "/apis")[1]["groups"]}
    assert {"submariner.io", "multicluster.x-k8s.io"} <= set(groups)
    assert groups["submariner.io"]["preferredVersion"]["groupVersion"] == "submariner.io/v1alpha1"
    status, rl = raw(api, "GET", "/apis/submariner.io/v1alpha1")
    names = {r["name"]: r for r in rl["resources"]}
    assert status == 200 and names["brokers"]["kind"] == "Broker" and names["brokers"]["namespaced"]
    brokers = custom.list_namespaced_custom_object(
        "submariner.io", "v1alpha1", "submariner-k8s-broker", "brokers"
    )
    assert brokers["kind"] == "BrokerList"
    assert [b["metadata"]["name"] for b in brokers["items"]] == ["submariner-broker"]
    assert brokers["items"][0]["apiVersion"] == "submariner.io/v1alpha1"
    # CRDs are listed through apiextensions like on a real cluster.
    ext = kubernetes.client.ApiextensionsV1Api(api).list_custom_resource_definition()
    assert "brokers.submariner.io" in {c.metadata.name for c in ext.items}


def test_crd_created_and_deleted_through_the_api(emu, api):
    crd = next(c for c in submariner_crds() if c["metadata"]["name"] == "brokers.submariner.io")
    ext = kubernetes.client.ApiextensionsV1Api(api)
    custom = kubernetes.client.CustomObjectsApi(api)
    created = ext.create_custom_resource_definition(crd)
    assert created.metadata.uid
    assert custom.get_namespaced_custom_object(
        "submariner.io", "v1alpha1", "submariner-k8s-broker", "brokers", "submariner-broker"
    )["spec"]
    ext.delete_custom_resource_definition("brokers.submariner.io")
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("submariner.io", "v1alpha1", "brokers")
    assert err.value.status == 404
    assert emu.objects("Broker") == []  # the CRD's objects went with it


def test_extra_groups_served_without_crd(tmp_path):
    extra = [
        {
            "group": "projectcalico.org",
            "version": "v3",
            "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}],
        }
    ]
    pool = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPool",
        "metadata": {"name": "default-ipv4-ippool"},
        "spec": {"cidr": "10.244.0.0/16", "vxlanMode": "Always"},
    }
    with ApiEmulator(objects=[pool], extra_groups=extra) as e, client(e, tmp_path) as c:
        groups = {g["name"] for g in raw(c, "GET", "/apis")[1]["groups"]}
        assert "projectcalico.org" in groups
        pools = kubernetes.client.CustomObjectsApi(c).list_cluster_custom_object(
            "projectcalico.org", "v3", "ippools"
        )
        assert pools["kind"] == "IPPoolList" and pools["items"][0]["spec"]["cidr"] == "10.244.0.0/16"


@pytest.mark.parametrize(
    ("version", "served"),
    [("v1.29.3", set()), ("v1.31.0", {"v1beta1"}), ("v1.33.1", {"v1", "v1beta1"})],
)
def test_servicecidrs_follow_the_kubernetes_version(tmp_path, version, served):
    cidr = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": "kubernetes"},
        "spec": {"cidrs": ["10.96.0.0/12"]},
    }
    with ApiEmulator(objects=[cidr], version=version) as e, client(e, tmp_path) as c:
        for v in ("v1", "v1beta1"):
            status, body = raw(c, "GET", f"/apis/networking.k8s.io/{v}/servicecidrs")
            if v in served:
                assert status == 200 and body["items"][0]["spec"]["cidrs"] == ["10.96.0.0/12"]
                assert body["items"][0]["apiVersion"] == f"networking.k8s.io/{v}"
            else:
                assert status == 404


# ---------------------------------------------------------------------------
# lists and selectors


def names(pod_list) -> list[str]:
    return [p.metadata.name for p in pod_list.items]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=front", ["web-1", "web-3", "web-5"]),
        ("tier==back", ["web-0", "web-2", "web-4", "web-6"]),
        ("tier!=front", ["web-0", "web-2", "web-4", "web-6"]),
        ("tier in (front,middle)", ["web-1", "web-3", "web-5"]),
        ("tier notin (front)", ["web-0", "web-2", "web-4", "web-6"]),
        ("app", [f"web-{i}" for i in range(7)]),
        ("!app", []),
        ("app=web,tier=front", ["web-1", "web-3", "web-5"]),
        ("app=web, tier notin (back,front)", []),
    ],
)
def test_label_selectors(api, selector, expected):
    assert (
        names(kubernetes.client.CoreV1Api(api).list_namespaced_pod("default", label_selector=selector))
        == expected
    )


def test_label_selectors_cluster_wide(api):
    core = kubernetes.client.CoreV1Api(api)
    assert names(core.list_pod_for_all_namespaces(label_selector="k8s-app")) == ["coredns-1", "pending-1"]
    assert names(core.list_pod_for_all_namespaces(label_selector="!app,k8s-app!=other")) == ["coredns-1"]
    nodes = core.list_node(label_selector="submariner.io/gateway=true")
    assert [n.metadata.name for n in nodes.items] == ["east-control-plane"]


@pytest.mark.parametrize("selector", ["tier in front", "a b", "=x", "tier=(x)", "in (a)", "a=b c"])
def test_invalid_label_selector_is_400(api, selector):
    with pytest.raises(ApiException) as err:
        kubernetes.client.CoreV1Api(api).list_namespaced_pod("default", label_selector=selector)
    assert err.value.status == 400
    assert json.loads(err.value.body)["reason"] == "BadRequest"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-3", ["web-3"]),
        ("metadata.name==web-3", ["web-3"]),
        ("metadata.namespace=kube-system", ["coredns-1", "pending-1"]),
        ("spec.nodeName=east-control-plane", ["coredns-1"]),
        ("spec.nodeName=", ["pending-1"]),
        ("status.phase=Pending", ["pending-1"]),
        ("status.phase!=Running", ["pending-1"]),
        ("metadata.namespace=kube-system,status.phase=Running", ["coredns-1"]),
        ("metadata.labels.tier=front", ["web-1", "web-3", "web-5"]),
    ],
)
def test_field_selectors(api, selector, expected):
    core = kubernetes.client.CoreV1Api(api)
    assert names(core.list_pod_for_all_namespaces(field_selector=selector)) == expected


def test_invalid_field_selector_is_400(api):
    with pytest.raises(ApiException) as err:
        kubernetes.client.CoreV1Api(api).list_pod_for_all_namespaces(field_selector="metadata.name")
    assert err.value.status == 400


def test_list_shape_and_defaults(emu, api):
    status, body = raw(api, "GET", "/api/v1/namespaces/default/pods")
    assert status == 200
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert int(body["metadata"]["resourceVersion"]) >= 1 and "continue" not in body["metadata"]
    for item in body["items"]:
        assert item["kind"] == "Pod" and item["apiVersion"] == "v1"
        meta = item["metadata"]
        assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z")
    # sorted by (namespace, name) across namespaces
    all_pods = raw(api, "GET", "/api/v1/pods")[1]["items"]
    keys = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in all_pods]
    assert keys == sorted(keys) and keys[0][0] == "default"
    ds = kubernetes.client.AppsV1Api(api).list_daemon_set_for_all_namespaces()
    assert ds.items[0].metadata.name == "submariner-gateway" and ds.items[0].status.number_ready == 1


def test_pagination(emu, api):
    core = kubernetes.client.CoreV1Api(api)
    seen, pages, token = [], [], None
    while True:
        page = core.list_namespaced_pod("default", limit=3, _continue=token)
        pages.append(len(page.items))
        seen.extend(names(page))
        token = page.metadata._continue
        if not token:
            assert page.metadata.remaining_item_count is None
            break
        assert page.metadata.remaining_item_count == 7 - sum(pages)
    assert pages == [3, 3, 1]
    assert seen == [f"web-{i}" for i in range(7)] and len(set(seen)) == 7
    # paging composes with selectors
    first = core.list_namespaced_pod("default", limit=2, label_selector="tier=back")
    second = core.list_namespaced_pod(
        "default", limit=2, label_selector="tier=back", _continue=first.metadata._continue
    )
    assert names(first) + names(second) == ["web-0", "web-2", "web-4", "web-6"]
    assert second.metadata._continue is None
    # the continue token is opaque base64 JSON carrying the list's resourceVersion
    decoded = json.loads(base64.urlsafe_b64decode(first.metadata._continue + "=="))
    assert str(decoded["rv"]) == first.metadata.resource_version
    # limit larger than the list: one page
    assert core.list_namespaced_pod("default", limit=100).metadata._continue is None


def test_bad_and_expired_continue_tokens(emu, api):
    core = kubernetes.client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("default", limit=3, _continue="not-a-token!")
    assert err.value.status == 400 and json.loads(err.value.body)["reason"] == "BadRequest"
    token = core.list_namespaced_pod("default", limit=3).metadata._continue
    emu.expire_continue_tokens()
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("default", limit=3, _continue=token)
    assert err.value.status == 410 and json.loads(err.value.body)["reason"] == "Expired"
    fresh = core.list_namespaced_pod("default", limit=3)  # a new list pages normally again
    rest = core.list_namespaced_pod("default", limit=10, _continue=fresh.metadata._continue)
    assert len(fresh.items) + len(rest.items) == 7


def test_watch_is_refused(api):
    status, body = raw(api, "GET", "/api/v1/pods", {"watch": "true"})
    assert status == 405 and body["reason"] == "MethodNotAllowed"


# ---------------------------------------------------------------------------
# get and errors


def test_get_and_not_found(api):
    core = kubernetes.client.CoreV1Api(api)
    p = core.read_namespaced_pod("web-3", "default")
    assert p.metadata.labels == {"app": "web", "tier": "front"} and p.spec.node_name == "east-worker"
    assert core.read_node("east-worker").status.addresses[0].address == "172.18.0.3"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", "default")
    assert err.value.status == 404
    assert json.loads(err.value.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }
    with pytest.raises(ApiException) as err:
        kubernetes.client.AppsV1Api(api).read_namespaced_deployment("nope", "default")
    body = json.loads(err.value.body)
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    assert raw(api, "GET", "/api/v1/frobnicators")[0] == 404
    assert raw(api, "GET", "/apis/no.such.group/v1/things")[0] == 404


def test_forbidden(emu, api, tmp_path):
    core = kubernetes.client.CoreV1Api(api)
    emu.forbid("list", "pods")
    with pytest.raises(ApiException) as err:
        core.list_pod_for_all_namespaces()
    assert err.value.status == 403
    body = json.loads(err.value.body)
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:default:mcdiag" cannot list resource "pods" '
        'in API group "" at the cluster scope'
    )
    assert body["details"] == {"kind": "pods"}
    assert core.read_namespaced_pod("web-1", "default").metadata.name == "web-1"  # get still allowed

    emu.forbid("get", "daemonsets", group="apps", namespace="submariner-operator")
    with pytest.raises(ApiException) as err:
        kubernetes.client.AppsV1Api(api).read_namespaced_daemon_set(
            "submariner-gateway", "submariner-operator"
        )
    assert json.loads(err.value.body)["message"] == (
        'daemonsets.apps "submariner-gateway" is forbidden: User "system:serviceaccount:default:mcdiag" '
        'cannot get resource "daemonsets" in API group "apps" in the namespace "submariner-operator"'
    )
    # rules can name a user: another token still reads everything
    emu.reset_faults()
    emu.forbid("list", "pods", user=emu.username)
    other = emu.add_user("system:serviceaccount:default:viewer")
    with client(emu, tmp_path, token=other) as c:
        assert len(kubernetes.client.CoreV1Api(c).list_pod_for_all_namespaces().items) == 9
    emu.forbid("*", "*", group="*", user="system:serviceaccount:default:viewer")
    with client(emu, tmp_path, token=other) as c, pytest.raises(ApiException) as err:
        kubernetes.client.CoreV1Api(c).list_namespaced_config_map("default")
    assert 'in the namespace "default"' in json.loads(err.value.body)["message"]
    # self subject access reviews reflect the rules
    review = kubernetes.client.AuthorizationV1Api(api).create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}}
    )
    assert review.status.allowed is False
    review = kubernetes.client.AuthorizationV1Api(api).create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "list", "resource": "nodes"}}}
    )
    assert review.status.allowed is True
    emu.reset_faults()
    assert len(core.list_pod_for_all_namespaces().items) == 9


def test_unauthorized(emu, tmp_path):
    with client(emu, tmp_path, token="wrong-token") as c:
        with pytest.raises(ApiException) as err:
            kubernetes.client.CoreV1Api(c).list_namespace()
        assert err.value.status == 401
        assert json.loads(err.value.body) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
        with pytest.raises(ApiException) as err:
            kubernetes.client.VersionApi(c).get_code()
        assert err.value.status == 401
    # No credentials at all: discovery is refused, /version and health are public.
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(emu.certificate_authority_pem)
    pool = urllib3.PoolManager(ca_certs=str(ca_file))
    assert pool.request("GET", emu.url + "/api/v1/pods").status == 401
    assert json.loads(pool.request("GET", emu.url + "/version").data)["gitVersion"] == "v1.29.3"
    assert pool.request("GET", emu.url + "/healthz").data == b"ok"
    assert [r.status for r in emu.requests][-5:] == [401, 401, 401, 200, 200]


def test_fail_injection(emu, api):
    core = kubernetes.client.CoreV1Api(api)
    emu.fail(r"^/api/v1/nodes", status=500, message="etcdserver: request timed out")
    with pytest.raises(ApiException) as err:
        core.list_node()
    assert err.value.status == 500
    body = json.loads(err.value.body)
    assert (body["reason"], body["message"], body["code"]) == (
        "InternalError",
        "etcdserver: request timed out",
        500,
    )
    assert len(core.list_namespaced_pod("default").items) == 7  # other paths unaffected
    emu.fail(r"/pods$", status=503, times=1)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("default")
    assert err.value.status == 503 and json.loads(err.value.body)["reason"] == "ServiceUnavailable"
    assert len(core.list_namespaced_pod("default").items) == 7  # times=1: only once


def test_request_log(emu, api):
    emu.clear_requests()
    core = kubernetes.client.CoreV1Api(api)
    core.list_namespaced_pod("default", label_selector="app=web", limit=2)
    with pytest.raises(ApiException):
        core.read_namespaced_pod("missing", "default")
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    reqs = emu.requests
    assert [(r.method, r.path, r.status) for r in reqs] == [
        ("GET", "/api/v1/namespaces/default/pods", 200),
        ("GET", "/api/v1/namespaces/default/pods/missing", 404),
        ("POST", "/api/v1/namespaces/default/configmaps", 201),
    ]
    assert reqs[0].query == {"labelSelector": "app=web", "limit": "2"}
    assert reqs[0].user_agent.startswith("OpenAPI-Generator/")
    assert reqs[0].user == emu.username
    assert [r.method for r in emu.writes()] == ["POST"]
    assert emu.writes()[0].body["data"] == {"a": "1"}
    emu.clear_requests()
    assert emu.requests == []


# ---------------------------------------------------------------------------
# network failure modes


def test_hang_gives_client_read_timeout(emu, tmp_path):
    with client(emu, tmp_path, retries=False) as c:
        core = kubernetes.client.CoreV1Api(c)
        assert core.list_namespace(_request_timeout=5).items  # connection works first
        emu.hang = True
        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.HTTPError) as err:
            core.list_namespace(_request_timeout=1)
        assert time.monotonic() - started < 5
        assert "timed out" in str(err.value).lower()
        assert emu.requests[-1].status == 0 and emu.requests[-1].path == "/api/v1/namespaces"
        emu.hang = False
        assert core.list_namespace(_request_timeout=5).items


def test_refused_endpoint(tmp_path):
    url = refused_url()
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
    }
    path = tmp_path / "gone.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    with kubernetes.config.new_client_from_config(config_file=str(path)) as c:
        c.configuration.retries = False
        with pytest.raises(urllib3.exceptions.HTTPError) as err:
            kubernetes.client.CoreV1Api(c).list_namespace(_request_timeout=2)
    assert "refused" in str(err.value).lower()


def test_stopped_emulator_refuses(tmp_path):
    e = ApiEmulator(name="short").start()
    with client(e, tmp_path, retries=False) as c:
        assert kubernetes.client.VersionApi(c).get_code().git_version
        e.stop()
        with pytest.raises(urllib3.exceptions.HTTPError):
            kubernetes.client.VersionApi(c).get_code(_request_timeout=2)


# ---------------------------------------------------------------------------
# writes and hooks


def test_create_get_delete(emu, api):
    core = kubernetes.client.CoreV1Api(api)
    created_hook, deleted_hook = [], []
    emu.on_create(lambda o: created_hook.append(o["metadata"]["name"]))
    emu.on_delete(lambda o: deleted_hook.append(o["metadata"]["name"]))

    made = core.create_namespaced_pod("default", pod("new-pod", labels={"app": "new"}))
    assert made.metadata.uid and made.metadata.resource_version and made.metadata.namespace == "default"
    assert created_hook == ["new-pod"]
    assert emu.get_object("v1", "Pod", "new-pod")["spec"]["nodeName"] == "east-worker"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", pod("new-pod"))
    assert err.value.status == 409
    assert json.loads(err.value.body)["reason"] == "AlreadyExists"

    gen = core.create_namespaced_config_map("default", {"metadata": {"generateName": "probe-"}})
    assert gen.metadata.name.startswith("probe-") and len(gen.metadata.name) == len("probe-") + 5

    ns = core.create_namespace({"metadata": {"name": "scratch"}})
    assert ns.metadata.name == "scratch"
    core.create_namespaced_pod("scratch", pod("a", "scratch", {"x": "1"}))
    core.create_namespaced_pod("scratch", pod("b", "scratch", {"x": "2"}))
    core.create_namespaced_pod("scratch", pod("c", "scratch", {"x": "2"}))

    status, body = raw(api, "DELETE", "/api/v1/namespaces/scratch/pods", {"labelSelector": "x=2"})
    assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["b", "c"]
    assert names(core.list_namespaced_pod("scratch")) == ["a"]

    deleted = core.delete_namespaced_pod("new-pod", "default")
    assert deleted.metadata.name == "new-pod"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("new-pod", "default")
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_pod("new-pod", "default")
    assert err.value.status == 404
    status = core.delete_namespaced_config_map(gen.metadata.name, "default")
    assert (status if isinstance(status, dict) else status.to_dict())["status"] == "Success"

    core.delete_namespace("scratch")  # takes its objects with it
    assert emu.objects("pods", namespace="scratch") == []
    assert emu.get_object("v1", "Namespace", "scratch") is None
    assert sorted(deleted_hook) == sorted(["b", "c", "new-pod", gen.metadata.name, "a", "scratch"])
    assert [r.method for r in emu.writes()].count("DELETE") == 5
    emu.delete_object("v1", "pods", "web-0", "default")
    assert "web-0" not in names(core.list_namespaced_pod("default"))


def test_replace_patch_and_status(emu, api):
    core = kubernetes.client.CoreV1Api(api)
    apps = kubernetes.client.AppsV1Api(api)
    cm = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cfg", "labels": {"a": "1"}}, "data": {"k": "v"}}
    )
    # strategic merge (the client's default for dict bodies) is treated as a merge patch
    patched = core.patch_namespaced_config_map(
        "cfg", "default", {"metadata": {"labels": {"b": "2"}}, "data": {"k": None}}
    )
    assert patched.metadata.labels == {"a": "1", "b": "2"} and not patched.data
    assert int(patched.metadata.resource_version) > int(cm.metadata.resource_version)
    # JSON patch
    status, body = raw(
        api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg",
        body=[{"op": "add", "path": "/data", "value": {"j": "p"}}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 200 and body["data"] == {"j": "p"}
    status, body = raw(
        api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg",
        body=[{"op": "test", "path": "/data/j", "value": "other"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 422 and body["reason"] == "Invalid"
    status, body = raw(
        api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg",
        body={"data": {}},
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert status == 415
    # PUT with a stale resourceVersion conflicts; with the current one it replaces
    stale = dict(core.read_namespaced_config_map("cfg", "default").to_dict())
    current = core.read_namespaced_config_map("cfg", "default")
    current.data = {"replaced": "yes"}
    replaced = core.replace_namespaced_config_map("cfg", "default", current)
    assert replaced.data == {"replaced": "yes"} and replaced.metadata.uid == cm.metadata.uid
    stale_body = {
        "metadata": {"name": "cfg", "resourceVersion": stale["metadata"]["resource_version"]},
        "data": {},
    }
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cfg", "default", stale_body)
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "Conflict"
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("absent", "default", {"data": {}})
    assert err.value.status == 404

    # status from outside (a lab kubelet) shows through the API
    updates = []
    emu.on_update(lambda o: updates.append(o["metadata"]["name"]))
    emu.update_status(
        "apps/v1",
        "daemonsets",
        "submariner-gateway",
        "submariner-operator",
        {"numberReady": 0, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberMisscheduled": 0},
    )
    ds = apps.read_namespaced_daemon_set("submariner-gateway", "submariner-operator")
    assert ds.status.number_ready == 0 and updates == ["submariner-gateway"]
    # a main-resource update keeps status (status is a subresource), the status endpoint changes it
    ds_dict = apps.read_namespaced_daemon_set("submariner-gateway", "submariner-operator").to_dict()
    patched = apps.patch_namespaced_daemon_set(
        "submariner-gateway",
        "submariner-operator",
        {"status": {"numberReady": 5}, "metadata": {"labels": {"z": "1"}}},
    )
    assert patched.status.number_ready == 0 and patched.metadata.labels["z"] == "1"
    patched = apps.patch_namespaced_daemon_set_status(
        "submariner-gateway", "submariner-operator", {"status": {"numberReady": 1}}
    )
    assert patched.status.number_ready == 1
    assert patched.metadata.generation == ds_dict["metadata"].get("generation")


def test_deployment_and_scale(api):
    apps = kubernetes.client.AppsV1Api(api)
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    made = apps.create_namespaced_deployment("default", dep)
    assert made.metadata.generation == 1
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 2 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 4}})
    after = apps.read_namespaced_deployment("web", "default")
    assert after.spec.replicas == 4 and after.metadata.generation == 2


def test_pod_log(emu, api):
    core = kubernetes.client.CoreV1Api(api)
    emu.set_pod_log("default", "web-1", "line 1\nline 2\nline 3\n")
    assert core.read_namespaced_pod_log("web-1", "default") == "line 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log("web-1", "default", tail_lines=1) == "line 3\n"
    assert core.read_namespaced_pod_log("web-2", "default") == ""
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("absent", "default")
    assert err.value.status == 404


# ---------------------------------------------------------------------------
# several emulators, TLS, kubeconfig


def test_two_emulators_at_once(tmp_path):
    east_objs = [pod("east-pod")]
    west_objs = [pod("west-pod"), pod("west-pod-2")]
    with (
        ApiEmulator(objects=east_objs, name="east") as east,
        ApiEmulator(objects=west_objs, name="west", version="v1.30.1") as west,
    ):
        assert east.url != west.url
        kc = tmp_path / "both.kubeconfig"
        east.kubeconfig(kc, context="east-ctx", user="east-admin")
        west.kubeconfig(kc, context="west-ctx", user="west-admin", merge=True)
        cfg = yaml.safe_load(kc.read_text())
        assert cfg["current-context"] == "east-ctx"
        assert {c["name"] for c in cfg["contexts"]} == {"east-ctx", "west-ctx"}
        assert "insecure-skip-tls-verify" not in kc.read_text()
        e = kubernetes.config.new_client_from_config(config_file=str(kc), context="east-ctx")
        w = kubernetes.config.new_client_from_config(config_file=str(kc), context="west-ctx")
        with e, w:
            assert names(kubernetes.client.CoreV1Api(e).list_namespaced_pod("default")) == ["east-pod"]
            assert names(kubernetes.client.CoreV1Api(w).list_namespaced_pod("default")) == [
                "west-pod",
                "west-pod-2",
            ]
            assert kubernetes.client.VersionApi(w).get_code().minor == "30"
        assert len(east.requests) == 1 and len(west.requests) == 2
        # east's token means nothing to west
        (tmp_path / "cross.kubeconfig").write_text(yaml.safe_dump(west.kubeconfig_dict(token=east.token)))
        with kubernetes.config.new_client_from_config(config_file=str(tmp_path / "cross.kubeconfig")) as x:
            with pytest.raises(ApiException) as err:
                kubernetes.client.CoreV1Api(x).list_namespace()
            assert err.value.status == 401
        # TLS is verified for real: east's CA does not vouch for west's certificate
        bad = west.kubeconfig_dict()
        bad["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
            east.certificate_authority_pem
        ).decode()
        (tmp_path / "bad-ca.kubeconfig").write_text(yaml.safe_dump(bad))
        with kubernetes.config.new_client_from_config(config_file=str(tmp_path / "bad-ca.kubeconfig")) as x:
            x.configuration.retries = False
            with pytest.raises((ApiException, urllib3.exceptions.HTTPError)) as err:
                kubernetes.client.CoreV1Api(x).list_namespace()
            assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


def test_dynamic_client_discovers_resources(emu, api):
    crds = submariner_crds()
    emu.add_all(crds)
    dyn = kubernetes.dynamic.DynamicClient(api)
    pods = dyn.resources.get(api_version="v1", kind="Pod").get(
        namespace="default", label_selector="tier=front"
    )
    assert [p.metadata.name for p in pods.items] == ["web-1", "web-3", "web-5"]
    brokers = dyn.resources.get(api_version="submariner.io/v1alpha1", kind="Broker").get()
    assert [b.metadata.name for b in brokers.items] == ["submariner-broker"]


def test_ipv6_loopback(tmp_path):
    try:
        e = ApiEmulator(host="::1", name="v6").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    with e, client(e, tmp_path) as c:
        assert e.url.startswith("https://[::1]:")
        assert kubernetes.client.VersionApi(c).get_code().major == "1"


def test_certificate_covers_extra_san_ips():
    e = ApiEmulator(san_ips=["127.0.0.2", "10.99.0.1"])
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(e._cert.cert_chain_pems[0].bytes())
    ips = {
        str(ip)
        for ip in cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.IPAddress)
    }
    assert {"127.0.0.1", "::1", "127.0.0.2", "10.99.0.1"} <= ips


def test_objects_and_add(emu):
    assert [o["metadata"]["name"] for o in emu.objects("Node")] == ["east-control-plane", "east-worker"]
    assert emu.objects("nodes") == emu.objects("Node")
    stored = emu.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert stored["metadata"]["namespace"] == "default" and stored["metadata"]["uid"]
    assert emu.get_object("v1", "configmaps", "x", "default")["metadata"]["name"] == "x"
    assert emu.get_object("v1", "ConfigMap", "absent") is None
    with pytest.raises(KeyError):
        emu.update_status("v1", "Pod", "absent", "default", {"phase": "Failed"})


# ---------------------------------------------------------------------------
# the standalone process


def test_standalone_process(tmp_path):
    kc, ready = tmp_path / "east.kubeconfig", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcdiag.lab.emulator",
            "--objects",
            str(DATA / "cluster.yaml"),
            "--objects",
            str(DATA / "more"),
            "--name",
            "east",
            "--kubeconfig",
            str(kc),
            "--context",
            "east-ctx",
            "--version",
            "v1.31.2",
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "emulator did not become ready"
            time.sleep(0.05)
        url = ready.read_text().strip()
        with kubernetes.config.new_client_from_config(config_file=str(kc), context="east-ctx") as c:
            assert kubernetes.client.VersionApi(c).get_code().git_version == "v1.31.2"
            cms = kubernetes.client.CoreV1Api(c).list_config_map_for_all_namespaces()
            assert [cm.metadata.name for cm in cms.items] == ["submariner-config"]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == f"serving east at {url}"


# ---------------------------------------------------------------------------
# selector parsing details


def test_json_patch_units():
    from mcdiag.lab.emulator.store import JsonPatchError, json_patch

    doc = {"a": {"b": [1, 2]}, "c/d": 1}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "replace", "path": "/c~1d", "value": 2},
            {"op": "copy", "from": "/a/b", "path": "/copy"},
            {"op": "move", "from": "/a/b/3", "path": "/moved"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/moved", "value": 3},
        ],
    )
    assert out == {"a": {"b": [1, 2]}, "c/d": 2, "copy": [0, 1, 2, 3], "moved": 3}
    assert doc == {"a": {"b": [1, 2]}, "c/d": 1}  # input untouched
    for bad in (
        [{"op": "test", "path": "/c~1d", "value": 5}],
        [{"op": "remove", "path": "/nope"}],
        [{"op": "replace", "path": "/x", "value": 1}],
        [{"op": "add", "path": "/a/b/7", "value": 1}],
        [{"op": "frob", "path": "/a"}],
        {"op": "add"},
    ):
        with pytest.raises(JsonPatchError):
            json_patch(doc, bad)


def test_selector_parsing_units():
    sel = parse_label_selector("a=1, b!=2 ,c in (x, y),d notin (z),e,!f,g>3,h<4")
    assert [r.operator for r in sel.requirements] == ["=", "!=", "in", "notin", "exists", "!", "gt", "lt"]
    assert sel.matches({"a": "1", "c": "y", "e": "", "g": "10", "h": "1"})
    assert not sel.matches({"a": "1", "c": "y", "e": "", "g": "10", "h": "1", "f": "x"})
    assert parse_label_selector("example.com/role=gw").matches({"example.com/role": "gw"})
    assert parse_label_selector("a=").matches({"a": ""}) and not parse_label_selector("a=").matches({})
    assert not parse_label_selector("") and parse_label_selector("").matches({})
    for bad in ("a in ()", "a=b=c", "x>y", "-a=b", "a=b,", "a=" + "x" * 64):
        with pytest.raises(SelectorError):
            parse_label_selector(bad)
    fs = parse_field_selector(r"metadata.name=a\,b,spec.x!=1")
    assert fs.matches({"metadata": {"name": "a,b"}, "spec": {"x": 2}})
    assert not fs.matches({"metadata": {"name": "a,b"}, "spec": {"x": 1}})
    assert parse_field_selector("spec.unschedulable=true").matches({"spec": {"unschedulable": True}})
    for bad in ("name", "=x", r"a=b\q"):
        with pytest.raises(SelectorError):
            parse_field_selector(bad)
