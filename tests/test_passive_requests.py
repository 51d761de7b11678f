"""A passive run only reads: no write request, and each query is sent once per cluster."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from tests.conftest import FIXTURES, PAIRS, fixture_objects, query_key

CALICO_API = [{"group": "projectcalico.org", "version": "v3", "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}]
#: fixture pair -> (directory under mcdiag/lab/fixtures, cluster names, emulator options)


@pytest.fixture(scope="module", autouse=True)
def _load_fixtures():
    """Parse the fixture YAML once per module, outside the tests' own time."""
    for directory, names, _ in PAIRS.values():
        for name in names:
            if (FIXTURES / directory / name).is_dir():
                fixture_objects(directory, name)


def start_pair(emulate, pair: str):
    directory, names, options = PAIRS[pair]
    if not all((FIXTURES / directory / n).is_dir() for n in names):
        pytest.skip(f"fixture pair {directory} not present")
    return emulate({n: copy.deepcopy(list(fixture_objects(directory, n))) for n in names}, **options)


def repeated_queries(emu) -> dict[str, int]:
    """Queries (path, selectors, limit, metadata only) sent more than once, not counting pagination's continue requests.

    Two queries can share a path (``/api/v1/pods`` with two label selectors): they are counted apart.
    """
    counts = Counter(query_key(r) for r in emu.requests if query_key(r))
    return {key: n for key, n in counts.items() if n > 1}


@pytest.mark.parametrize("page_size", [None, 2], ids=["one-page", "paginated"])
@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_passive_run_reads_each_list_once_and_writes_nothing(emulate, mcdiag, monkeypatch, pair, page_size):
    if page_size:
        monkeypatch.setattr("mcdiag.gather.api.PAGE_SIZE", page_size)
    clusters = start_pair(emulate, pair)
    run = mcdiag("all", "--passive", *clusters.args())
    assert run.code in (0, 1) and run.json["results"]
    assert {"passive"} <= {t for r in run.json["results"] for t in r["tags"]}
    for name, emu in clusters.emulators.items():
        assert emu.writes() == [], name
        assert all(r.method == "GET" for r in emu.requests), name
        assert repeated_queries(emu) == {}, name
        keys = {query_key(r) for r in emu.requests} - {None}
        assert {"/api/v1/nodes;limit=1", "/apis/apps/v1/daemonsets;limit=" + str(page_size or 500)} <= keys
        # every pod list is narrowed (selected or in one namespace), never all pods of the cluster
        assert [k for k in keys if k.startswith("/api/v1/pods;")] and not any(k.startswith("/api/v1/pods;limit=") for k in keys)
        if page_size:
            assert any("continue" in r.query for r in emu.requests), "pagination was not exercised"


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_gather_reads_each_list_once_and_writes_nothing(emulate, mcdiag, tmp_path, pair):
    clusters = start_pair(emulate, pair)
    run = mcdiag("gather", *clusters.args(), "-o", str(tmp_path / "snap"))
    assert run.code == 0, run.err
    for name, emu in clusters.emulators.items():
        assert emu.writes() == [], name
        assert repeated_queries(emu) == {}, name


def test_healthy_netmaker_pair_passes_or_skips_with_reasons(emulate, mcdiag):
    clusters = start_pair(emulate, "netmaker")
    run = mcdiag("all", "--passive", *clusters.args())
    results = run.json["results"]
    assert run.code == 0
    assert {r["status"] for r in results} <= {"pass", "skip"}, [(r["check"], r["status"], r["message"]) for r in results
                                                               if r["status"] not in ("pass", "skip")]
    assert all(r["message"] for r in results if r["status"] == "skip")
    for check in ("cni-support", "netclient-deployment", "cluster-cidrs", "api-access"):
        assert run.status(check, "dc1") == run.status(check, "cloud") == "pass"
    assert {c["provider"] for c in run.json["clusters"]} == {"netmaker"}
    assert {c["cni"] for c in run.json["clusters"]} == {"flannel"}


def test_transient_answers_are_retried_with_gets_only(emulate, mcdiag):
    """One 503 on /version and one on list nodes: retried (GET only), and the run passes as if nothing happened."""
    clusters = start_pair(emulate, "netmaker")
    emu = clusters.emulators["dc1"]
    emu.fail(r"^/version$", 503, times=1)
    emu.fail(r"^/api/v1/nodes$", 503, times=1)
    run = mcdiag("all", "--passive", *clusters.args())
    assert run.code == 0, [(r["check"], r["message"]) for r in run.json["results"] if r["status"] == "error"]
    assert run.status("api-access", "dc1") == "pass"
    assert all(r.method == "GET" for r in emu.requests)
    assert [r.status for r in emu.requests if r.path == "/version"][:2] == [503, 200]


def test_expired_continue_token_relists_once(emulate, mcdiag, monkeypatch):
    """A 410 on a continue token (an etcd compaction while paging): the list is read again from the start, once."""
    monkeypatch.setattr("mcdiag.gather.api.PAGE_SIZE", 2)
    clusters = start_pair(emulate, "netmaker")
    emu = clusters.emulators["dc1"]
    original = emu._handle
    state = {"done": False}

    def expire_first_continue(req):
        if req.path == "/api/v1/pods" and "continue" in req.query and not state["done"]:
            state["done"] = req.query.get("labelSelector")
            emu.expire_continue_tokens()
        return original(req)

    monkeypatch.setattr(emu, "_handle", expire_first_continue)
    run = mcdiag("all", "--passive", *clusters.args())
    assert state["done"], "no pod list was paginated"
    pods = [r for r in emu.requests if r.path == "/api/v1/pods" and r.query.get("labelSelector") == state["done"]]
    assert 410 in [r.status for r in pods]
    assert len([r for r in pods if "continue" not in r.query]) == 2  # the first page, then the relist
    assert run.status("api-access", "dc1") == "pass" and run.json["summary"]["error"] == 0
