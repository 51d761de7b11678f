"""Fault matrix, API answers: a fault proxy in front of cluster west mangles what its API server says.

east is healthy and direct. Every case runs ``mcdiag all --passive`` on both with a
request timeout of 2s, and must end with the affected results named, the rest
intact, every report written and valid, within its bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.faults import proxy as P
from tests.faults.harness import Case, Expect, execute, judge

NODES = r"^/api/v1/nodes$"
PODS = r"^/api/v1/pods$"  # pods of every namespace: the existence tests of CNI agents (one pod each, selected)
DAEMONSETS = r"^/apis/apps/v1/daemonsets$"  # every DaemonSet, whole: a list read to its end
CONFIGMAPS = r"^/api/v1/namespaces/kube-system/configmaps$"  # two in every cluster: paging happens
REQUEST_TIMEOUT = "2"
SHORT = "west: its API server's answer to list nodes"


def case(id: str, fault: str, rules: Callable[[P.FaultProxy], None], expect: Expect, *, args: tuple[str, ...] = (),
         bound: float = 45.0, env: dict[str, str] | None = None) -> Case:
    return Case(id, fault, expect, setup=lambda proxy: (rules(proxy), list(args))[1], bound=bound, env=env or {})


def access_error(pattern: str, code: int = 1, **more: tuple[str, str]) -> Expect:
    """api-access[west] is an error matching ``pattern``; west's other checks skip; east passes."""
    return Expect(code, {"api-access[west]": ("error", pattern), "k8s-version[west]": ("skip", "west unreachable"),
                         "api-access[east]": ("pass", "answers"), **more})


def _bad_name(data: dict) -> None:
    data["items"][0]["metadata"]["name"] = 5


def _string_status(data: dict) -> None:
    data["items"][0]["status"] = "Ready"


def _number_annotation(data: dict) -> None:
    data["items"][0]["metadata"]["annotations"] = {"node.alpha.kubernetes.io/ttl": 0}


CASES = [
    case("list-as-json-array", "list nodes answered with a bare JSON array instead of a NodeList",
         lambda p: p.add(NODES, P.as_array()), access_error(r"JSON array")),
    case("list-pods-as-json-array", "list pods answered with a bare JSON array (nodes fine)",
         lambda p: p.add(PODS, P.as_array()),
         Expect(1, {"api-access[west]": ("pass", "answers"), "*[west]": ("error", r"list metadata of one of the pods .*: .*JSON array")})),
    case("endless-continue", "list daemonsets: every page carries a fresh continue token, forever",
         lambda p: p.add(DAEMONSETS, P.endless_pages()),
         Expect(1, {"*[west]": ("error", r"list daemonsets.apps: still not finished after 1000 pages")}), bound=120),
    case("same-continue", "list daemonsets: every page carries the same continue token",
         lambda p: p.add(DAEMONSETS, P.endless_pages(same=True)),
         Expect(1, {"*[west]": ("error", r"same continue token twice")})),
    case("trickle-nodes", "list nodes: headers at once, then the body one byte per 0.4s (each read within the timeout)",
         lambda p: p.add(NODES, P.trickle()), access_error(r"did not arrive in full within 2s")),
    case("trickle-version", "/version trickles in one byte per 0.4s",
         lambda p: p.add(r"^/version$", P.trickle()), access_error(r"did not arrive in full within 2s")),
    case("deep-nesting", "list nodes answered with 100,000 nested arrays",
         lambda p: p.add(NODES, P.deep()), access_error(r"nested too deeply")),
    case("discovery-groups-string", "/apis answers groups as a string",
         lambda p: p.add(r"^/apis$", P.raw(json.dumps({"kind": "APIGroupList", "groups": "everything"}))),
         Expect(1, {"*[west]": ("error", r"API discovery \(/apis\): groups is a JSON string where a list belongs")})),
    case("discovery-versions-string", "/apis answers each group's versions as a string",
         lambda p: p.add(r"^/apis$", P.raw(json.dumps({"groups": [{"name": "apps", "versions": "v1"}]}))),
         Expect(1, {"*[west]": ("error", r"groups\[\]\.versions is a JSON string")})),
    case("discovery-api-number", "/api answers versions as a number",
         lambda p: p.add(r"^/api$", P.raw(json.dumps({"versions": 1}))),
         Expect(1, {"*[west]": ("error", r"API discovery \(/api\): versions is a JSON number")})),
    case("retry-after-429-once", "list nodes answered once with 429 Too Many Requests, Retry-After: 1",
         lambda p: p.add(NODES, P.status(429, {"Retry-After": "1"}), times=1),
         Expect(0, {"api-access[west]": ("pass", "answers"), "cidr-overlap[east<->west]": ("pass", "no overlap")})),
    case("429-always", "list nodes always answered with 429, Retry-After: 1",
         lambda p: p.add(NODES, P.status(429, {"Retry-After": "1"})),
         access_error(r"429 Too Many Requests.*after 4 attempts")),
    case("429-retry-after-too-long", "list nodes answered with 429 and Retry-After: 3600",
         lambda p: p.add(NODES, P.status(429, {"Retry-After": "3600"})),
         access_error(r"429 Too Many Requests.*Retry-After 3600s")),
    case("503-once-on-version", "/version answered once with 503 Service Unavailable",
         lambda p: p.add(r"^/version$", P.status(503), times=1),
         Expect(0, {"api-access[west]": ("pass", "answers")})),
    case("503-always", "/version always answered with 503",
         lambda p: p.add(r"^/version$", P.status(503)), access_error(r"503 Service Unavailable")),
    case("410-on-continue-once", "list kube-system's ConfigMaps paged one per page; the first continue token has expired (410)",
         lambda p: p.add(CONFIGMAPS, P.paginate(1, expire=1)), Expect((0, 1), {"api-access[west]": ("pass", "answers")},
                                                                 never=("internal error", r"410 Gone", r"expired"))),
    case("410-on-every-continue", "list kube-system's ConfigMaps paged; every continue token has expired (410)",
         lambda p: p.add(CONFIGMAPS, P.paginate(1, expire=-1)),
         Expect(1, {"*[west]": ("error", r"list configmaps in namespace kube-system: the continue token expired twice")})),
    case("paged-one-per-page", "lists paged one object per page by the proxy's own continue tokens",
         lambda p: (p.add(NODES, P.paginate(1)), p.add(CONFIGMAPS, P.paginate(1))),
         Expect(0, {"api-access[west]": ("pass", "nodes are listable \\(node1"),
                    "cluster-cidrs[west]": ("pass", "from kubeadm-config")})),
    case("reset-once", "list nodes: the connection is reset once",
         lambda p: p.add(NODES, P.reset(), times=1), Expect(0, {"api-access[west]": ("pass", "answers")})),
    case("reset-always", "list nodes: the connection is reset every time",
         lambda p: p.add(NODES, P.reset()), access_error(r"closed before the answer was complete.*after 4 attempts")),
    case("hang-nodes", "list nodes: the API server accepts and never answers",
         lambda p: p.add(NODES, P.hang()), access_error(r"did not answer within 2s")),
    case("hang-version", "/version never answers",
         lambda p: p.add(r"^/version$", P.hang()), access_error(r"did not answer within 2s")),
    case("slow-headers", "list nodes answered after 5s (request timeout 2s)",
         lambda p: p.add(NODES, P.delayed(5)), access_error(r"did not answer within 2s")),
    case("not-json", "list nodes answered 200 with an HTML page",
         lambda p: p.add(NODES, P.raw("<html><body>Login</body></html>", content_type="text/html")),
         access_error(r"not JSON")),
    case("html-500", "list nodes answered 500 with an HTML page",
         lambda p: p.add(NODES, P.raw("<html>oops</html>", code=500, content_type="text/html")),
         access_error(r"500 Internal Server Error")),
    case("truncated-body", "list nodes: the body stops short of its Content-Length and the connection closes",
         lambda p: p.add(NODES, P.truncate()), access_error(r"closed before the answer was complete")),
    case("bad-gzip", "list nodes answered with Content-Encoding: gzip and a body that is not gzip",
         lambda p: p.add(NODES, lambda req, fwd, h: P.Answer(200, b"not gzip at all", {"Content-Encoding": "gzip"})),
         access_error(r"could not be decoded \(a broken Content-Encoding\)")),
    case("redirect", "list nodes answered 302 to a login page",
         lambda p: p.add(NODES, P.raw("", code=302)), access_error(r"redirects elsewhere")),
    case("items-not-objects", "list nodes: items are numbers and strings",
         lambda p: p.add(NODES, P.raw(json.dumps({"kind": "NodeList", "items": [1, "x"]}))),
         access_error(r"items\[0\] is a JSON number")),
    case("list-without-items", "list nodes answered with an empty object",
         lambda p: p.add(NODES, P.raw("{}")), access_error(r"has no items")),
    case("empty-body", "list nodes answered 200 with no body",
         lambda p: p.add(NODES, P.raw("")), access_error(r"has no items")),
    case("version-array", "/version answers a JSON array",
         lambda p: p.add(r"^/version$", P.raw("[1, 2]")), access_error(r"GET /version: .*JSON array")),
    case("version-wrong-types", "/version answers gitVersion as a number",
         lambda p: p.add(r"^/version$", P.raw(json.dumps({"major": "1", "minor": "29", "gitVersion": 129}))),
         access_error(r"gitVersion is a JSON number")),
    case("node-name-number", "a node's metadata.name is a number",
         lambda p: p.add(NODES, P.mutate(_bad_name)), access_error(r"metadata\.name is a number")),
    case("node-status-string", "a node's status is a string",
         lambda p: p.add(NODES, P.mutate(_string_status)), access_error(r"Node node1: status is the string 'Ready'")),
    case("annotation-number", "a node's annotation value is a number",
         lambda p: p.add(NODES, P.mutate(_number_annotation)), access_error(r"annotations\['node.alpha.kubernetes.io/ttl'\] is a number")),
    case("lone-surrogate", "a node's name holds a lone surrogate (\\ud800)",
         lambda p: p.add(NODES, P.replace_text('"name": "node1"', '"name": "node1\\ud800"')),
         Expect((0, 1), {"api-access[west]": ("pass", "answers")})),
    case("lone-surrogate-ascii-terminal", "a lone surrogate in a node name, and a terminal that only encodes ASCII",
         lambda p: p.add(NODES, P.replace_text('"name": "node1"', '"name": "node1\\ud800"')),
         Expect((0, 1), {"api-access[west]": ("pass", "answers")}), env={"PYTHONIOENCODING": "ascii"}),
    case("forbidden-pods", "list pods answered 403 Forbidden",
         lambda p: p.add(PODS, P.status(403, message='pods is forbidden: User "x" cannot list resource "pods"')),
         Expect(1, {"*[west]": ("error", r"list metadata of one of the pods .*: 403 Forbidden")})),
    case("unauthorized-after-version", "everything but /version answered 401 (a token revoked)",
         lambda p: p.add(r"^/api", P.status(401)), access_error(r"401 Unauthorized")),
]


@pytest.mark.parametrize("c", CASES, ids=str)
def test_api_fault(c: Case, healthy, proxied, workdir):
    _, kcs = healthy
    proxy, west = proxied
    extra = c.setup(proxy)
    argv = ["all", "--passive", "--cluster", f"east={kcs['east']}", "--cluster", f"west={west}",
            "--request-timeout", REQUEST_TIMEOUT, *extra]
    run = execute(argv, workdir, bound=c.bound, env=c.env)
    obs = judge(c.id, "API answers", c.fault, c.expect, [run], bound=c.bound, secrets=(proxy.upstream.token,))
    assert obs.ok, obs.problems
