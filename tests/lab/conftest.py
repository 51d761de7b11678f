"""Fixtures and probe helpers for the lab tests.

Lab tests that build a lab (root, network namespaces) hold an exclusive file
lock for their whole module, so under ``pytest -n`` two modules never build the
lab's (fixed) namespaces at the same time. Probe helpers are in lab_helpers.py.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

LOCK = Path("/tmp/mcdiag-lab-tests.lock")


@functools.lru_cache(maxsize=1)
def netns_problem() -> str | None:
    """Return why the lab cannot be built here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for b in ("ip", "nft", "dnsmasq", "wireguard-go", "wg"):
        if shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return f"{b} not installed"
    name = f"mcdiag-t-chk-{uuid.uuid4().hex[:6]}"
    try:
        proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            return f"ip netns unusable: {proc.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
    if not Path("/dev/net/tun").exists():
        return "no /dev/net/tun (wireguard-go needs it)"
    return None


@pytest.fixture(scope="module")
def lab_lock():
    """Skip without root/netns; otherwise hold the lab-tests lock for the module."""
    problem = netns_problem()
    if problem:
        pytest.skip(problem)
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            from mcdiag.lab.topology import scheme_namespaces

            present = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
            busy = [n for n in scheme_namespaces() if n in present]
            if busy:
                pytest.skip(f"a lab is already running on this host ({', '.join(busy)}); `mcdiag lab down` it")
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
