"""Tests that share nothing: the probe tests' own rules, checked on their source (issue 10, failure 14).

Under ``-n 2`` on a busy machine, tests that share kernel state fail each other:
a fixed port on the root namespace's loopback, a VXLAN device (which owns a UDP
socket in the namespace it is created in) made in the root namespace and moved,
a namespace name without a random part. These rules keep tests/probes apart from
each other, from other workers and from whatever else runs on the host.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)


def _calls(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, callee text, string constants among the arguments) of every call in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            out.append((node.lineno, ast.unparse(node.func), args))
    return out


def test_no_fixed_port_on_the_root_namespace_loopback():
    """Loopback ports come from the kernel (bind to port 0), never a literal: other tests and programs use them too."""
    bad = []
    for path in SOURCES:
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "(no traffic)" in line:  # an argument a probe rejects before sending anything
                continue
            if re.search(r"127\.\d+\.\d+\.\d+:\d{2,5}\b", line) or re.search(r"http_serve\(\s*\d{2,5}\b", line):
                bad.append(f"{path.name}:{lineno}: {line.strip()}")
    assert not bad, "fixed loopback ports:\n" + "\n".join(bad)


def test_vxlan_devices_are_created_inside_their_namespace():
    """`ip link add ... type vxlan` runs in the test's namespace (ns.run / ip netns exec), never in the root one."""
    bad = []
    for path in SOURCES:
        for lineno, func, args in _calls(path):
            if args[:3] == ["ip", "link", "add"] and "vxlan" in args:
                if not func.endswith(".run") or func.startswith(("subprocess", "self.lab")):
                    bad.append(f"{path.name}:{lineno}: {func}({', '.join(args)})")
            if "vxlan" in args and "netns" in args and "set" in args:
                bad.append(f"{path.name}:{lineno}: a VXLAN device moved between namespaces")
    assert not bad, "\n".join(bad)


def test_namespace_and_device_names_are_unique_per_test():
    """The lab's names carry the worker and a random tag; devices are named from the tag."""
    conftest = (HERE / "conftest.py").read_text()
    assert 'f"mcdiag-t-{role}-{self.worker}{self.tag}"' in conftest
    assert "uuid.uuid4()" in conftest and "PYTEST_XDIST_WORKER" in conftest
    for path in SOURCES:
        for lineno, _func, args in _calls(path):
            if args[:3] == ["ip", "netns", "add"] and not any("{" in a for a in args):
                assert "uuid" in path.read_text(), f"{path.name}:{lineno}: a fixed namespace name"


def test_listeners_that_expect_data_wait_generously():
    """A listener returns at its first match, so a long timeout costs nothing when the datagram comes; a short
    one fails when a busy machine takes seconds to start the sender (the flake CI saw under load).
    """
    udp = (HERE / "test_udp.py").read_text()
    receive = float(re.search(r'^RECEIVE = "(\d+(?:\.\d+)?)"', udp, re.M).group(1))
    assert receive >= 20
    assert 'timeout=RECEIVE' in udp
