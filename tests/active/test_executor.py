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
#: This file's own loopback address: test_active_checks.py's clusters use 127.0.0.2 and .3, and under xdist the two
#: files run side by side, so the same address would make their target pods fight over port 8080.
HOST = "127.0.0.12"


@pytest.fixture
def cluster(emulate):
    emu = emulate({"east": [node("east-gw", HOST), node("east-w1", HOST)]})
    kubelet = Kubelet(emu["east"], {"east-gw": HostRuntime(HOST), "east-w1": HostRuntime(HOST)},
                      argv=lambda c: __import__("tests.active.conftest", fromlist=["x"])._pod_argv(HOST)(c))
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
        assert a == b and a.ip == HOST and not a.problem
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
        send = PodSpec("east-w1", ["mcdiag", "probe", "udp-send", "--to", f"{HOST}:4800", "--marker", "something-else"], "send", True)
        t0 = time.monotonic()
        received, sent = ex.pair_within(("east", listen), ("east", send), grace=2.0)
        assert time.monotonic() - t0 < 20
        assert sent is not None and sent.ok
        assert received.data is not None and not received.ok and "within 2s after the sender" in received.data["reason"]
    finally:
        ex.cleanup()


class _HeldSpawner:
    """A fork server stand-in that starts a real process only once the test lets it (after the pod was deleted)."""

    def __init__(self):
        import threading

        self.go, self.asked, self.procs = threading.Event(), threading.Event(), []

    def spawn(self, argv, netns, env, log):
        import subprocess

        self.asked.set()
        self.go.wait(10)
        with open(log, "wb") as out:
            proc = subprocess.Popen(["sleep", "30"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc


def test_a_pod_deleted_while_its_process_starts_does_not_leave_the_process(emulate, tmp_path):
    """The delete finds no process to kill yet (it is being started); the kubelet kills it once it has it.

    Seen as a probe process that outlived an interrupted run's cleanup in the lab.
    """
    emu = emulate({"east": [node("east-gw", HOST)]})["east"]
    spawner = _HeldSpawner()
    kubelet = Kubelet(emu, {"east-gw": HostRuntime(HOST)}, spawner=spawner, state_dir=tmp_path)
    try:
        emu.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "held", "namespace": "default"},
                 "spec": {"nodeName": "east-gw", "hostNetwork": True,
                          "containers": [{"name": "probe", "image": "ghcr.io/mcdiag/mcdiag-probe:0", "command": ["mcdiag", "probe", "tcp", "127.0.0.1:1"]}]}})
        assert spawner.asked.wait(10), "the kubelet never started the pod's process"
        emu.delete_object("v1", "pods", "held", "default")
        spawner.go.set()
        [proc] = _wait_for(spawner.procs)
        assert proc.wait(10) is not None and proc.returncode == -9  # killed, not left to run its 30 s
    finally:
        spawner.go.set()
        kubelet.stop()
        for p in spawner.procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)


def _wait_for(procs: list, timeout: float = 10.0) -> list:
    end = time.monotonic() + timeout
    while not procs and time.monotonic() < end:
        time.sleep(0.01)
    return procs
