"""Issue 2 acceptance: the core over real HTTPS against emulated clusters, through the real client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import SHARED, query_key


def kubeadm_cluster(pod: str, svc: str, nodes: int = 1, version_nodes: str = "v1.29.3") -> list[dict]:
    """A minimal kubeadm cluster: nodes with podCIDR slices and the kubeadm-config ConfigMap."""
    objs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
            "data": {"ClusterConfiguration": f"apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nnetworking:\n  dnsDomain: cluster.local\n  podSubnet: {pod}\n  serviceSubnet: {svc}\n"},
        }
    ]
    for i in range(nodes):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"node{i + 1}", "labels": {"kubernetes.io/hostname": f"node{i + 1}"}},
                "spec": {},
                "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": version_nodes}},
            }
        )
    return objs


OVERLAP = {"east": kubeadm_cluster("10.42.0.0/16", "10.43.0.0/16"), "west": kubeadm_cluster("10.42.0.0/16", "10.45.0.0/16")}
DISJOINT = {"east": kubeadm_cluster("10.42.0.0/16", "10.43.0.0/16"), "west": kubeadm_cluster("10.44.0.0/16", "10.45.0.0/16")}


CORE = ("api-access", "k8s-version", "cluster-cidrs", "cidr-overlap")


def test_overlap_fails_and_all_reports_agree(emulate, mcdiag):
    clusters = emulate(OVERLAP)
    run = mcdiag("run", *CORE, *clusters.args())
    assert run.code == 1
    line = next(ln for ln in run.out.splitlines() if "cidr-overlap" in ln)
    assert "✗" in line and "10.42.0.0/16" in line and "east" in line and "west" in line
    report = run.json
    overlap = run.result("cidr-overlap", "east<->west")
    assert overlap["status"] == "fail" and "10.42.0.0/16" in overlap["message"]
    assert overlap["hint"]
    assert report["summary"] == {"pass": 6, "warn": 0, "fail": 1, "skip": 0, "error": 0}
    assert [c["name"] for c in report["clusters"]] == ["east", "west"]
    assert report["clusters"][0]["pod_cidrs"] == ["10.42.0.0/16"]

    # JUnit: same verdicts, testcase names CHECK-ID[target], failure element for the fail.
    root = ET.parse(run.report_dir / "mcdiag-junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == set(run.verdicts())
    for name, status in run.verdicts().items():
        kinds = {child.tag for child in cases[name]} - {"system-out", "system-err"}
        assert kinds == {"pass": set(), "warn": set(), "fail": {"failure"}, "error": {"error"}, "skip": {"skipped"}}[status], name
    assert root.get("failures") == "1" and root.get("tests") == "7"

    # HTML: self-contained, names the failing check and its hint.
    html = (run.report_dir / "mcdiag.html").read_text()
    assert "cidr-overlap" in html and "10.42.0.0/16" in html and "FAIL" in html
    # Self-contained: the status filter is inline script (issue 11); nothing is fetched (no src/href to load).
    import re

    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html)
    assert "http://" not in html.replace("http://www.w3.org", "")


def test_junit_validates_against_schema(emulate, mcdiag):
    import xmlschema
    xsd = SHARED / "schemas" / "junit-10.xsd"
    if not xsd.exists():
        pytest.skip("../shared/schemas/junit-10.xsd not beside the checkout")
    clusters = emulate(OVERLAP)
    run = mcdiag("all", *clusters.args())
    assert run.code == 1
    xmlschema.XMLSchema(str(xsd)).validate(str(run.report_dir / "mcdiag-junit.xml"))


def test_disjoint_clusters_exit_zero(emulate, mcdiag):
    clusters = emulate(DISJOINT)
    run = mcdiag("run", *CORE, *clusters.kube_args("east", "west"))
    assert run.code == 0, run.out
    assert run.status("cidr-overlap", "east-ctx<->west-ctx") == "pass"
    assert run.json["summary"]["fail"] == 0


def test_context_names_are_deduplicated(emulate, mcdiag, tmp_path):
    clusters = emulate(DISJOINT)
    # Both kubeconfigs name their context alike, as two kubeadm clusters called "kubernetes" do.
    for name in ("east", "west"):
        path = clusters.kubeconfigs[name]
        path.write_text(path.read_text().replace(f"{name}-ctx", "kubernetes-admin@kubernetes"))
    run = mcdiag("all", *clusters.kube_args("east", "west"))
    assert [c["name"] for c in run.json["clusters"]] == ["kubernetes-admin@kubernetes", "kubernetes-admin@kubernetes-2"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["all", "--kubeconfig", "/nonexistent/kubeconfig"], "file not found"),
        (["all", "--kubeconfig", "{bad}"], "not valid YAML"),
        (["all", "--kubeconfig", "{notkc}"], "not a kubeconfig"),
        (["all", "--kubeconfig", "{good}", "--context", "nope"], "context 'nope' not found"),
        (["run", "no-such-check", "--kubeconfig", "{good}"], "unknown check id(s): no-such-check"),
        (["all", "--bogus-option"], "unrecognized arguments"),
        (["all", "--cluster", "justaname"], "--cluster expects NAME=PATH[:CONTEXT]"),
        (["all", "--kubeconfig", "{good}", "--pod-cidr", "east=10.0.0.0/33"], "not a CIDR"),
    ],
)
def test_usage_errors_exit_2_one_line(emulate, tmp_path, args, fragment):
    clusters = emulate({"east": kubeadm_cluster("10.42.0.0/16", "10.43.0.0/16")})
    (tmp_path / "bad").write_text("apiVersion: v1\nclusters: [\n")
    (tmp_path / "notkc").write_text("- just\n- a list\n")
    paths = {"{bad}": str(tmp_path / "bad"), "{notkc}": str(tmp_path / "notkc"), "{good}": str(clusters.kubeconfigs["east"])}
    argv = [paths.get(a, a) for a in args]
    proc = subprocess.run([sys.executable, "-m", "mcdiag", *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def _refusing_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connections are refused
    return port


@pytest.mark.parametrize("fault", ["refused", "hang"])
def test_unreachable_api_is_an_error_not_a_crash(emulate, mcdiag, fault):
    clusters = emulate(DISJOINT)
    if fault == "refused":
        kc = clusters.kubeconfigs["west"]
        kc.write_text(kc.read_text().replace(clusters["west"].url, f"https://127.0.0.1:{_refusing_port()}"))
    else:
        clusters["west"].hang = True
    start = time.monotonic()
    run = mcdiag("all", *clusters.args(), "--request-timeout", "2")
    elapsed = time.monotonic() - start
    assert elapsed < 30  # bounded by the request timeout, not the socket's default
    assert run.code == 1
    access = run.result("api-access", "west")
    assert access["status"] == "error"
    assert ("refused" in access["message"]) if fault == "refused" else ("did not answer within 2s" in access["message"])
    assert run.status("k8s-version", "west") == "skip"
    assert run.status("cluster-cidrs", "west") == "skip"
    assert "west unreachable" in run.result("cidr-overlap", "east<->west")["message"]
    assert run.status("api-access", "east") == "pass"
    for name in ("mcdiag.json", "mcdiag-junit.xml", "mcdiag.html"):
        assert (run.report_dir / name).stat().st_size > 0


def test_forbidden_names_the_missing_permission(emulate, mcdiag):
    clusters = emulate(DISJOINT)
    clusters["west"].forbid("list", "nodes")
    run = mcdiag("all", *clusters.args())
    access = run.result("api-access", "west")
    assert access["status"] == "error"
    assert "403" in access["message"] and "nodes" in access["message"]
    assert "list nodes" in access["hint"]


def test_unauthorized_says_credentials(emulate, mcdiag):
    clusters = emulate(DISJOINT)
    kc = clusters.kubeconfigs["west"]
    kc.write_text(kc.read_text().replace(clusters["west"].token, "wrong-token"))
    run = mcdiag("all", *clusters.args())
    access = run.result("api-access", "west")
    assert access["status"] == "error" and "401" in access["message"]
    assert "wrong-token" not in json.dumps(run.json) and "wrong-token" not in run.out + run.err


def test_token_never_in_output(emulate, mcdiag):
    clusters = emulate(OVERLAP)
    run = mcdiag("all", *clusters.args())
    for name in ("east", "west"):
        token = clusters[name].token
        assert token not in run.out + run.err
        for path in run.report_dir.iterdir():
            assert token not in path.read_text()


def test_passive_run_and_one_list_per_kind(emulate, mcdiag):
    clusters = emulate(DISJOINT)
    run = mcdiag("all", *clusters.args(), "--passive")
    assert run.json["summary"]["error"] == 0
    for name in ("east", "west"):
        emu = clusters[name]
        assert emu.writes() == []
        gets = [query_key(r) for r in emu.requests if r.method == "GET" and query_key(r)]
        assert len(gets) == len(set(gets)), gets


def test_pagination_follows_continue(emulate, mcdiag, monkeypatch):
    from mcdiag.gather import api as cluster_access

    monkeypatch.setattr(cluster_access, "PAGE_SIZE", 2)
    clusters = emulate({"east": kubeadm_cluster("10.42.0.0/16", "10.43.0.0/16", nodes=5), "west": DISJOINT["west"]})
    run = mcdiag("run", "api-access", *clusters.args())
    assert "nodes are listable" in run.result("api-access", "east")["message"]
    # api-access asks for one node: one request, whatever the page size and the number of nodes
    (sample,) = [r for r in clusters["east"].requests if r.path == "/api/v1/nodes"]
    assert sample.query.get("limit") == "1" and "continue" not in sample.query
    # a whole list follows the continue tokens, page by page
    from mcdiag.gather import resources as R
    from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster

    clusters["east"].clear_requests()
    source = load_cluster(ClusterSpec(str(clusters.kubeconfigs["east"]), name="east", explicit_name=True), 10.0)
    assert len(source.list(R.NODES)) == 5
    node_lists = [r for r in clusters["east"].requests if r.path == "/api/v1/nodes"]
    assert len(node_lists) == 3 and all(r.query.get("limit") == "2" for r in node_lists)


def test_list_shows_checks():
    proc = subprocess.run([sys.executable, "-m", "mcdiag", "list", "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    ids = [c["id"] for c in json.loads(proc.stdout)]
    assert ids[:2] == ["api-access", "k8s-version"] and "cidr-overlap" in ids


def test_redaction_of_objects():
    from mcdiag.gather.redact import REDACTED, redact

    cr = {
        "kind": "Submariner",
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"spec":{"ceIPSecPSK":"p"}}'}},
        "spec": {"brokerK8sApiServerToken": "t0k", "ceIPSecPSK": "psk", "brokerK8sCA": "ca", "clusterID": "c"},
    }
    out = redact(cr)
    assert out["spec"]["brokerK8sApiServerToken"] == REDACTED and out["spec"]["ceIPSecPSK"] == REDACTED
    assert out["spec"]["clusterID"] == "c"
    assert out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == REDACTED
    secret = redact({"kind": "Secret", "data": {"token": "dG9r", "ca.crt": "Y2E="}})
    assert set(secret["data"].values()) == {REDACTED}
    ds = {
        "kind": "DaemonSet",
        "spec": {"template": {"spec": {"containers": [{
            "env": [{"name": "TOKEN", "value": "s1"}, {"name": "NETWORK", "value": "dc1-k3s"}],
            "command": ["netclient", "join", "-t", "s2", "--psk=s3"],
            "args": ["sh", "-c", "netclient join -t s4 -n dc1-k3s"],
        }]}}},
    }
    text = str(redact(ds))
    assert not any(f"s{i}" in text.replace("dc1-k3s", "") for i in range(1, 5)) and "dc1-k3s" in text
    assert cr["spec"]["ceIPSecPSK"] == "psk"  # the original is not modified


def test_malformed_objects_are_results_not_crashes(emulate, mcdiag):
    """Objects with nulls and wrong types where fields should be: no check may die with an internal error."""
    from tests.conftest import pair_objects

    objs = pair_objects("submariner")
    for cluster in objs.values():
        for obj in cluster:
            kind = obj.get("kind")
            if kind == "Node":
                obj["metadata"]["labels"] = None
                obj["status"] = {"conditions": None, "addresses": "not-a-list"}
            elif kind == "ConfigMap" and obj["metadata"]["name"] == "kubeadm-config":
                obj["data"]["ClusterConfiguration"] = "networking: [unclosed"
            elif kind == "ConfigMap" and obj["metadata"]["name"] == "coredns":
                obj["data"] = None
            elif kind in ("DaemonSet", "Deployment"):
                obj["status"] = None
            elif kind == "Gateway":
                obj["status"] = {"connections": [None, "x", {"status": None}]}
            elif kind == "Endpoint":
                obj["spec"]["subnets"] = None
    clusters = emulate(objs, extra_groups=[
        {"group": "projectcalico.org", "version": "v3", "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}
    ])
    run = mcdiag("all", "--passive", *clusters.args())
    crashes = [r for r in run.json["results"] if "internal error" in r["message"]]
    assert crashes == []
    assert run.code == 1  # the damage is diagnosed, not ignored


# ---------------------------------------------------------------------------------------------
# Issue 10: redaction by value and shape, the libraries' logging, the terminal
# ---------------------------------------------------------------------------------------------
SHAPES = [
    ("https://admin:S3CRET-a@127.0.0.1:6443/api", "S3CRET-a"),
    ("SUBMARINER_BROKER_URL=https://admin:S3CRET-b@broker:6443", "S3CRET-b"),
    ("--broker-url=https://u:S3CRET-c@h", "S3CRET-c"),
    ("joined with token=S3CRET-d yesterday", "S3CRET-d"),
    ("netclient join -t S3CRET-e -n net", "S3CRET-e"),
    ("masterkey: S3CRET-f", "S3CRET-f"),
    ("Authorization: Bearer S3CRET-g-long", "S3CRET-g-long"),
    ("exec: process returned 1 ... --token S3CRET-h", "S3CRET-h"),
    ('["agent","--token","S3CRET-i","--node-ip","10.0.0.3"]', "S3CRET-i"),
    ("BROKER_PASS=S3CRET-j", "S3CRET-j"),
    ("postgres://user:S3CRET-k@db:5432/x", "S3CRET-k"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.S3CRETlSIG", "S3CRETlSIG"),
]


@pytest.mark.parametrize(("text", "secret"), SHAPES, ids=[s for _, s in SHAPES])
def test_redaction_by_shape(text, secret):
    from mcdiag.gather.redact import redact_text

    out = redact_text(text)
    assert secret not in out and "<redacted>" in out


def test_redaction_keeps_what_is_not_secret():
    from mcdiag.gather.redact import redact_text

    for text in ("iptables -t nat -A POSTROUTING", "docker-pullable://nginx@sha256:abc", "passive: 3 pass, 0 fail",
                 "--use-service-account-credentials=true", "https://10.0.0.1:6443", "forward . 10.96.0.10"):
        assert redact_text(text) == text


def test_netmaker_token_network_survives_for_facts():
    """A fact can learn a Netmaker token's network before redaction; the key never leaves."""
    import base64

    from mcdiag.gather.redact import netmaker_token_fields, redact

    token = base64.b64encode(json.dumps({"network": "dc1-k3s", "key": "S3CRET-nm", "apiconnstring": "x:443"}).encode()).decode()
    assert netmaker_token_fields(token) == {"network": "dc1-k3s", "apiconnstring": "x:443"}
    env = redact({"env": [{"name": "TOKEN", "value": token}, {"name": "JOIN", "value": f"netclient join -t {token}"}]})
    assert token not in json.dumps(env) and "S3CRET-nm" not in json.dumps(env)


def test_library_logging_is_captured_and_redacted(emulate, mcdiag):
    """A client library's own `logging.error(...)` with a credential in it: printed once, redacted, never raw."""
    import logging

    from mcdiag.gather.redact import capture_library_logging

    clusters = emulate(DISJOINT)
    run = mcdiag("run", "api-access", *clusters.args())  # main() routes every logger through the redaction
    handler = capture_library_logging()
    logging.getLogger("kubernetes.config").error("exec: process returned 1. --token S3CRET-from-a-library")
    logging.getLogger("urllib3.connectionpool").warning("Retrying with Authorization: Bearer S3CRET-bearer-log")
    assert all("S3CRET" not in line for line in handler.records)
    assert any("--token <redacted>" in line for line in handler.records)
    assert "S3CRET" not in run.out + run.err


def test_reports_are_written_before_the_terminal_that_cannot_print(emulate, tmp_path):
    """An ASCII-only terminal and a lone surrogate in the data: files first, then a terminal report that replaces."""
    clusters = emulate({"east": kubeadm_cluster("10.42.0.0/16", "10.43.0.0/16")})
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "mcdiag", "all", "--passive", *clusters.args(), "--report-dir",
                           str(tmp_path / "r")], capture_output=True, env=env, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 0 and b"api-access" in proc.stdout
    assert json.loads((tmp_path / "r" / "mcdiag.json").read_text())["results"]


def test_pods_are_redacted_where_a_pod_can_hold_a_secret():
    """Pods take a fast path (only their fields that can hold a secret): each such field, planted."""
    from mcdiag.gather.redact import redact_in_place

    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "x", "example.com/api-token": "S3CRET-label"},
                     "annotations": {"note": "token=S3CRET-ann", "example.com/privkey": "S3CRET-key"}},
        "spec": {
            "initContainers": [{"name": "i", "command": ["sh", "-c", "login --password S3CRET-init"]}],
            "containers": [{
                "name": "c", "image": "x",
                "args": ["--broker-url=https://u:S3CRET-arg@broker", "-t", "S3CRET-flag"],
                "env": [{"name": "DB_PASSWORD", "value": "S3CRET-env"}, {"name": "URL", "value": "https://a:S3CRET-url@h"}],
                "readinessProbe": {"httpGet": {"path": "/", "port": 80,
                                               "httpHeaders": [{"name": "Authorization", "value": "Bearer S3CRET-probe"}]}},
                "lifecycle": {"preStop": {"exec": {"command": ["curl", "-u", "x", "https://u:S3CRET-hook@h"]}}},
            }],
            "volumes": [{"name": "v", "csi": {"driver": "d", "volumeAttributes": {"storageAccountKey": "S3CRET-csi"}}},
                        {"name": "f", "flexVolume": {"driver": "d", "options": {"password": "S3CRET-flex"}}}],
        },
        "status": {
            "message": "evicted: password=S3CRET-status",
            "conditions": [{"type": "Ready", "status": "False", "message": "probe failed for https://u:S3CRET-cond@h"}],
            "containerStatuses": [{"name": "c", "lastState": {"terminated": {
                "exitCode": 1, "message": "panic: cannot reach postgres://app:S3CRET-term@db/x"}}}],
        },
    }
    text = json.dumps(redact_in_place(pod))
    assert "S3CRET" not in text, [w for w in text.split('"') if "S3CRET" in w]
    assert pod["spec"]["containers"][0]["image"] == "x" and pod["metadata"]["labels"]["app"] == "x"
