"""The executor's additions: shared target pods, concurrent runs sharing the probe namespace, the listener grace."""

from __future__ import annotations

import os
import time

import pytest

from mcdiag.active.executor import MANAGED_BY, PodSpec, ProbeExecutor
from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster
from mcdiag.lab.kubelet import HostRuntime, Kubelet
from tests.active.conftest import node

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="probe pods sniff: needs root")


@pytest.fixture
def cluster(emulate):
    emu = emulate({"east": [node("east-gw", "127.0.0.2"), node("east-w1", "127.0.0.2")]})
    kubelet = Kubelet(emu["east"], {"east-gw": HostRuntime("127.0.0.2"), "east-w1": HostRuntime("127.0.0.2")},
                      argv=lambda c: __import__("tests.active.conftest", fromlist=["x"])._pod_argv("127.0.0.2")(c))
    source = load_cluster(ClusterSpec(str(emu.kubeconfigs["east"])), 10.0)
    yield emu["east"], source
    kubelet.stop()


def managed(emu) -> list[str]:
    return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in emu.objects()
                  if (o["metadata"].get("labels") or {}).get(MANAGED_BY) == "mcdiag")


def test_target_is_made_once_and_shared(cluster):
    emu, source = cluster
    ex = ProbeExecutor({"east": source}, start_timeout=10)
    try:
        a = ex.target("east", "east-gw")
        b = ex.target("east", "east-w1")  # the first caller's node wins
        assert a == b and a.ip == "127.0.0.2" and not a.problem
        assert [k for k in managed(emu) if k.startswith("Pod/")] == [f"Pod/{a.pod}"]
        pod = emu.get_object("v1", "pods", a.pod, "mcdiag-probes")
        assert pod["spec"]["activeDeadlineSeconds"] > 0 and pod["spec"]["hostNetwork"] is False
    finally:
        assert ex.cleanup() == []
    assert managed(emu) == []


def test_a_run_ending_leaves_the_namespace_to_a_run_still_going(cluster):
    emu, source = cluster
    first, second = ProbeExecutor({"east": source}, start_timeout=10), ProbeExecutor({"east": source}, start_timeout=10)
    try:
        assert not first.target("east", "east-gw").problem
        t = second.target("east", "east-w1", port=8081)  # both share this host: another port
        assert not t.problem
        first.cleanup()
        assert f"Pod/{t.pod}" in managed(emu) and "Namespace/mcdiag-probes" in managed(emu)
    finally:
        second.cleanup()
    assert managed(emu) == []


def test_listener_gets_a_short_grace_after_the_sender(cluster):
    _, source = cluster
    ex = ProbeExecutor({"east": source}, start_timeout=10)
    try:
        listen = PodSpec("east-gw", ["mcdiag", "probe", "udp-listen", "--port", "4800", "--marker", "never-sent", "--timeout", "60"],
                         "listen", True, 60)
        send = PodSpec("east-w1", ["mcdiag", "probe", "udp-send", "--to", "127.0.0.2:4800", "--marker", "something-else"], "send", True)
        t0 = time.monotonic()
        received, sent = ex.pair_within(("east", listen), ("east", send), grace=2.0)
        assert time.monotonic() - t0 < 20
        assert sent is not None and sent.ok
        assert received.data is not None and not received.ok and "within 2s after the sender" in received.data["reason"]
    finally:
        ex.cleanup()
