"""The lab kubelet's fork server: probe pods forked from a process that imported the probes (root for namespaces)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from mcdiag.lab.zygote import ForkServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the fork server enters network namespaces: root")


@pytest.fixture
def forks(tmp_path):
    server = ForkServer(tmp_path / "zygote.sock", log=tmp_path / "zygote.log")
    yield server
    server.stop()
    assert not server.alive()


@pytest.fixture
def pod_netns():
    """A network namespace with only lo and one TEST-NET address on it, and its /etc/netns resolv.conf."""
    name = f"mcdiag-t-zyg-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    etc = Path("/etc/netns") / name
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", name, "addr", "add", "192.0.2.55/32", "dev", "lo"], check=True)
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("nameserver 192.0.2.55\n")
        yield name
    finally:
        shutil.rmtree(etc, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", name], check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(forks, tmp_path):
    """A ``serve`` probe on a free loopback port, once it listens."""
    log = tmp_path / "serve.log"
    proc = forks.spawn(["serve", "--port", str(_free_port()), "--bind", "127.0.0.1", "--duration", "60"], None, {}, log)
    end = time.monotonic() + 20
    while "listening" not in (log.read_text() if log.exists() else "") and time.monotonic() < end:
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    return proc


def _result(log: Path) -> dict:
    return next(json.loads(line) for line in reversed(log.read_text().splitlines()) if line.startswith("{"))


def test_probe_runs_in_the_pods_namespace_with_its_resolv_conf(forks, pod_netns, tmp_path):
    log = tmp_path / "tcp.log"
    proc = forks.spawn(["tcp", "192.0.2.55:9", "--timeout", "2"], pod_netns, {"PATH": os.environ["PATH"]}, log)
    assert proc.wait(30) == 1  # refused: the address is the namespace's own (outside it there is no route)
    res = _result(log)
    assert res["probe"] == "tcp" and res["outcome"] == "refused", res
    log = tmp_path / "dns.log"
    proc = forks.spawn(["dns", "name.invalid", "--timeout", "1"], pod_netns, {}, log)
    assert proc.wait(30) == 1
    assert _result(log)["server"] == "192.0.2.55"  # from the pod's /etc/resolv.conf, bound over the host's


def test_killed_probe_and_exit_codes(forks, tmp_path):
    proc = _serve(forks, tmp_path)
    assert proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)  # what the kubelet does to a deleted pod: its own process group
    assert proc.wait(10) == -signal.SIGKILL
    proc = forks.spawn(["no-such-probe"], None, {}, tmp_path / "usage.log")
    assert proc.wait(10) == 2


def test_a_pod_that_cannot_be_set_up_is_refused(forks, tmp_path):
    with pytest.raises(OSError, match="setns|No such file"):
        forks.spawn(["tcp", "127.0.0.1:9"], f"mcdiag-t-absent-{uuid.uuid4().hex[:8]}", {}, tmp_path / "x.log")
    proc = forks.spawn(["tcp", "127.0.0.1:9", "--timeout", "1"], None, {}, tmp_path / "after.log")
    assert proc.wait(30) == 1  # the server goes on


def test_child_shows_the_probes_command_line(forks, tmp_path):
    """``ps``/``pgrep`` and the lab's hygiene checks see a forked probe as ``python -m mcdiag.probes ARGS``."""
    from mcdiag.lab.netns import cmdline

    proc = _serve(forks, tmp_path)
    try:
        args = cmdline(proc.pid)
        assert args[1:4] == ["-m", "mcdiag.probes", "serve"] and args[-4:] == ["--bind", "127.0.0.1", "--duration", "60"]
        found = subprocess.run(["pgrep", "-f", "mcdiag.probes serve"], capture_output=True, text=True).stdout.split()
        assert str(proc.pid) in found
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
