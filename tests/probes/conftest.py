"""Fixtures for probe tests: throw-away network namespaces and probe subprocesses.

Every namespace is named ``mcdiag-t-<role>-<worker><tag>`` (the pytest-xdist worker and a random
tag: unique across workers and runs) and has no route out: only veth links between the test's own
namespaces, created directly inside them. Devices that own sockets (VXLAN) are created inside their
namespace by the test, never in the root namespace and moved. Everything started here (namespaces,
processes) is torn down in fixture finalizers, also on failure.
"""

from __future__ import annotations

import functools
import json
import os
import select
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def probe_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@functools.lru_cache(maxsize=1)
def netns_problem() -> str | None:
    """Return why network-namespace tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "iproute2 (ip) not installed"
    name = f"mcdiag-t-chk-{uuid.uuid4().hex[:6]}"
    try:
        proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            return f"ip netns unusable: {proc.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
    return None


def parse_json_stdout(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line on stdout, got: {stdout!r}"
    return json.loads(lines[0])


class Netns:
    def __init__(self, lab: Lab, name: str):
        self.lab = lab
        self.name = name

    def cmd(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} in {self.name} failed: {proc.stderr.strip()}")
        return proc

    def spawn(self, *args: str, **kwargs: Any) -> subprocess.Popen:
        return self.lab.spawn(self.cmd(*args), **kwargs)

    def probe(self, *args: str, timeout: float = 40) -> tuple[int, dict[str, Any] | None, str]:
        """Run ``python -m mcdiag.probes ARGS`` in this namespace: (rc, result, stderr)."""
        proc = subprocess.run(self.cmd(sys.executable, "-m", "mcdiag.probes", *args), capture_output=True,
                              text=True, timeout=timeout, env=probe_env())
        result = parse_json_stdout(proc.stdout) if proc.stdout.strip() else None
        return proc.returncode, result, proc.stderr

    def probe_background(self, *args: str) -> subprocess.Popen:
        return self.spawn(sys.executable, "-m", "mcdiag.probes", *args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=probe_env())


class Lab:
    """Namespaces, links and processes of one test; ``close`` removes them all."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:5]
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
        self.namespaces: list[Netns] = []
        self.procs: list[subprocess.Popen] = []
        self._links = 0

    def ns(self, role: str) -> Netns:
        name = f"mcdiag-t-{role}-{self.worker}{self.tag}"
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)
        ns = Netns(self, name)
        self.namespaces.append(ns)
        ns.run("ip", "link", "set", "lo", "up")
        return ns

    def link(self, a: Netns, a_cidr: str, b: Netns, b_cidr: str, mtu: int | None = None) -> tuple[str, str]:
        """Create a veth pair directly inside namespaces a and b; return the two interface names."""
        self._links += 1
        a_if, b_if = f"mt{self.tag}{self._links}a", f"mt{self.tag}{self._links}b"
        subprocess.run(["ip", "link", "add", a_if, "netns", a.name, "type", "veth", "peer", "name", b_if,
                        "netns", b.name], check=True, capture_output=True, timeout=10)
        for ns, ifname, cidr in ((a, a_if, a_cidr), (b, b_if, b_cidr)):
            ns.run("ip", "addr", "add", cidr, "dev", ifname)
            if mtu:
                ns.run("ip", "link", "set", ifname, "mtu", str(mtu))
            ns.run("ip", "link", "set", ifname, "up")
        return a_if, b_if

    def spawn(self, argv: list[str], **kwargs: Any) -> subprocess.Popen:
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(argv, **kwargs)
        self.procs.append(proc)
        return proc

    def line3(self, rb_mtu: int | None = None) -> tuple[Netns, Netns, Netns]:
        """Build a—r—b: a 10.250.1.1/30 — r (forwarding) — b 10.250.2.2/30; no default routes."""
        a, r, b = self.ns("a"), self.ns("r"), self.ns("b")
        self.link(a, "10.250.1.1/30", r, "10.250.1.2/30")
        self.link(r, "10.250.2.1/30", b, "10.250.2.2/30", mtu=rb_mtu)
        r.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        a.run("ip", "route", "add", "10.250.2.0/30", "via", "10.250.1.2")
        b.run("ip", "route", "add", "10.250.1.0/30", "via", "10.250.2.1")
        return a, r, b

    @staticmethod
    def wait_for_event(proc: subprocess.Popen, event: str, timeout: float = 15) -> dict[str, Any]:
        """Read the stderr of ``proc`` until a JSON line with ``"event": event``."""
        deadline = time.monotonic() + timeout
        fd = proc.stderr.fileno()
        buf = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                for line in buf.split(b"\n")[:-1]:
                    if line.startswith(b"{"):
                        data = json.loads(line)
                        if data.get("event") == event:
                            return data
            elif proc.poll() is not None:
                break
        raise AssertionError(f"no {event} event from {proc.args}; stderr so far: {buf!r}")

    @staticmethod
    def finish_background(proc: subprocess.Popen, timeout: float = 20) -> tuple[int, dict[str, Any]]:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, parse_json_stdout(out)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(3)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=10)


@pytest.fixture
def lab():
    problem = netns_problem()
    if problem:
        pytest.skip(problem)
    the_lab = Lab()
    try:
        yield the_lab
    finally:
        the_lab.close()


def _run_probe_here(*args: str, timeout: float = 40) -> tuple[int, dict[str, Any] | None, str]:
    proc = subprocess.run([sys.executable, "-m", "mcdiag.probes", *args], capture_output=True, text=True,
                          timeout=timeout, env=probe_env())
    result = parse_json_stdout(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, result, proc.stderr


@pytest.fixture
def run_probe():
    """Run ``python -m mcdiag.probes ARGS`` in the current namespace: (rc, result, stderr)."""
    return _run_probe_here
