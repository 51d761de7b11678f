"""End-to-end fixtures: a real lab (network namespaces, WireGuard, lab API servers whose pods really run).

A lab's namespace names are fixed, so e2e modules hold the same exclusive lock as the lab tests
(``/tmp/mcdiag-lab-tests.lock``) for their whole module: under ``pytest -n`` no two modules
build a lab at once. Only root can build a lab; without root these tests skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LOCK = Path("/tmp/mcdiag-lab-tests.lock")
ACTIVE = ["vxlan-firewall", "tunnel-firewall", "wireguard-handshake", "pod-connectivity", "dns-clusterset",
          "service-reachability", "path-mtu", "latency"]
DATA_PATH = ("pod-connectivity", "dns-clusterset", "service-reachability", "path-mtu", "latency")
FWD, REV = "cluster->cluster1", "cluster1->cluster"

#: What each lab fault (injected into ``cluster``) must fail, as measured, with either provider; everything
#: else keeps its baseline verdict. (Submariner's vxlan-firewall adds itself to block-vxlan.)
FAULTS = {
    # cluster's worker reaches the gateway (and so cluster1) through VXLAN UDP/4800 (vx-submariner), so blocking
    # UDP/4800 to cluster's gateway cuts cluster's worker -> cluster1 (pod-connectivity probes from a gateway and
    # a non-gateway node). The reverse direction's target sits on cluster's gateway: no VXLAN.
    "block-vxlan": {f"pod-connectivity[{FWD}]"},
    # UDP/51821 towards cluster's gateway is dropped: cluster1 -> cluster's tunnel port fails (Submariner's 4490
    # still passes), and with the WireGuard tunnel down every cross-cluster round trip fails both ways.
    "block-tunnel": {f"tunnel-firewall[{REV}]"} | {f"{c}[{d}]" for c in DATA_PATH for d in (FWD, REV)},
    # cluster's DNS loses its forward of the peer's zone: only cluster's lookups of cluster1's names break;
    # service-reachability[cluster->cluster1] then judges by IP, which answers.
    "break-dns": {f"dns-clusterset[{FWD}]"},
    # cluster's nginx stops: only HTTP to it (from cluster1) fails; DNS still answers.
    "stop-service": {f"service-reachability[{REV}]"},
    # MTU 1280 on the WAN link to cluster's gateway with ICMP frag-needed dropped: big packets vanish both ways.
    "mtu-blackhole": {f"path-mtu[{FWD}]", f"path-mtu[{REV}]"},
    # cluster drops its replies into the tunnel: flows cluster1 starts towards cluster die; cluster's own pass.
    "drop-return": {f"{c}[{REV}]" for c in DATA_PATH},
    # cluster's CoreDNS ConfigMap loses the cross-cluster block and CoreDNS reloads it: the passive check sees
    # it in the object, the lookups of cluster1's names from cluster fail (judged by IP, HTTP still answers).
    "coredns-no-forward": {"coredns-forwarding[cluster]", f"dns-clusterset[{FWD}]"},
}
#: Faults of API objects that only the Submariner lab (kubeadm + Calico, as the guide) has.
SUBMARINER_FAULTS = {
    "kube-proxy-ipvs": {"kube-proxy-mode[cluster]"},
    "calico-ipip": {"calico-prereqs[cluster]"},
}

#: Options of e2e runs in the default mode (no --service: B's exported services and mcdiag's echo control).
#: The lab's RTT is the load of the machine it shares (userspace WireGuard, every cluster on the same cores), not
#: a property under test: --max-rtt is raised so that a busy machine cannot turn latency into a warning (the
#: warning itself is tested in tests/active). Loss still fails latency.
LAB_MAX_RTT = ["--max-rtt", "5000"]
ECHO_OPTS = ["--probe-start-timeout", "20", "--jobs", "24", *LAB_MAX_RTT]
#: Options of runs that name the lab's nginx as the service (lab faults like stop-service act on it).
RUN_OPTS = ["--service", "nginx-test/nginx", *ECHO_OPTS]
#: Where each run's duration goes (one JSON line per run), for the closing table of the session (one lab
#: session per host, like the lab itself: the controller empties it when the session starts).
TIMINGS = Path(os.environ.get("MCDIAG_E2E_TIMINGS") or "/tmp/mcdiag-e2e-timings.jsonl")


def pytest_sessionstart(session):
    """Start the closing table afresh (the controller, or the only process)."""
    if not hasattr(session.config, "workerinput"):
        with contextlib.suppress(OSError):
            TIMINGS.unlink()


def record_timing(provider: str, fault: str, run: Outcome, failed: list[str]) -> None:
    """Keep how long a default-mode run took (the report's own duration) and what failed, for the closing table."""
    with open(TIMINGS, "a") as f:
        f.write(json.dumps({"provider": provider, "fault": fault, "seconds": run.report.get("duration_s"),
                            "failed": sorted(failed)}) + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest's hook signature
    """The default-mode fault table: what failed, seconds, ratio to the healthy run (measured, never asserted)."""
    if hasattr(config, "workerinput") or not TIMINGS.exists():
        return
    rows = [json.loads(line) for line in TIMINGS.read_text().splitlines() if line.strip()]
    if not rows:
        return
    tr = terminalreporter
    tr.section("mcdiag lab: default-mode runs (no --service)")
    healthy = {r["provider"]: r["seconds"] for r in rows if r["fault"] == "healthy"}
    for r in rows:
        base = healthy.get(r["provider"])
        ratio = f"{r['seconds'] / base:.2f}x" if base and r["seconds"] else "-"
        tr.write_line(f"{r['provider']:<11} {r['fault']:<19} {r['seconds'] or 0:6.1f}s {ratio:>6}  "
                      f"{', '.join(r['failed']) or 'all pass'}")
    TIMINGS.unlink()


@dataclass
class Outcome:
    """One ``mcdiag`` invocation: exit code, the JSON report, stdout/stderr and the report directory."""

    code: int
    report: dict[str, Any]
    out: str
    err: str
    report_dir: Path
    seconds: float

    def verdicts(self) -> dict[str, str]:
        """``{"check[target]": status}``."""
        return {label(r): r["status"] for r in self.report.get("results", [])}

    def result(self, name: str) -> dict[str, Any]:
        return next(r for r in self.report["results"] if label(r) == name)


def label(r: dict[str, Any]) -> str:
    sep = {"cluster": "", "pair": "<->", "ordered-pair": "->"}[r["scope"]]
    return f"{r['check']}[{sep.join(r['clusters']) if sep else r['clusters'][0]}]"


def run_mcdiag(args: list[str], report_dir: Path) -> Outcome:
    """``mcdiag ARGS`` in-process (reports into ``report_dir``)."""
    from mcdiag.cli import main

    out, err = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--report-dir", str(report_dir)])
    seconds = time.monotonic() - t0
    path = report_dir / "mcdiag.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    return Outcome(code, report, out.getvalue(), err.getvalue(), report_dir, seconds)


def cluster_args(lab: Any) -> list[str]:
    names = lab.cluster_names
    return ["--kubeconfig", str(lab.kubeconfig(names[0])), "--remote-kubeconfig", str(lab.kubeconfig(names[1]))]


def managed_objects(lab: Any) -> dict[str, list[str]]:
    """Objects labelled ``app.kubernetes.io/managed-by=mcdiag`` in each lab cluster (none after a clean run)."""
    from mcdiag.active.executor import CLEANUP_KINDS, MANAGED_BY
    from mcdiag.errors import ResourceUnavailable
    from mcdiag.gather.kubeconfig import ClusterSpec, load_cluster

    out = {}
    for name in lab.cluster_names:
        source = load_cluster(ClusterSpec(str(lab.kubeconfig(name))), 10.0)
        found = []
        for prefix, plural, _ in CLEANUP_KINDS:
            try:
                items = source.get(f"{prefix}/{plural}", {"labelSelector": f"{MANAGED_BY}=mcdiag"}).get("items") or []
            except ResourceUnavailable:
                continue
            found += [f"{plural}/{(i.get('metadata') or {}).get('name')}" for i in items]
        if found:
            out[name] = found
    return out


def probe_processes() -> list[str]:
    """Probe processes (``mcdiag.probes``) running inside lab namespaces (other tests' probes on this host do not count)."""
    proc = subprocess.run(["pgrep", "-af", "mcdiag.probes"], capture_output=True, text=True)
    found = []
    for line in proc.stdout.splitlines():
        pid = line.split()[0]
        ident = subprocess.run(["ip", "netns", "identify", pid], capture_output=True, text=True).stdout.strip()
        if ident.startswith("mcdiag-"):
            found.append(f"{line} (netns {ident})")
    return found


def service_plumbing(lab: Any) -> list[str]:
    """What the lab's controllers hold for Services made through the API: DNAT rules and DNS names.

    (Each line of the ``mcdiag_kube_proxy_dyn`` nft table that DNATs, each line of the dnsmasq
    ``--addn-hosts`` files.) Empty when no such Service exists.
    """
    from mcdiag.lab.controllers import DYN_TABLE, hosts_file

    out = []
    for name in lab.cluster_names:
        ns = lab.cluster(name).gateway.netns
        rules = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "ip", DYN_TABLE],
                               capture_output=True, text=True).stdout
        out += [f"{name}: nft {line.strip()}" for line in rules.splitlines() if "dnat" in line]
        for role in ("coredns", "exports"):
            f = hosts_file(lab.rundir, name, role)
            out += [f"{name}: {f.name}: {line}" for line in (f.read_text().splitlines() if f.exists() else [])]
    return out


def wait_clean(lab: Any, timeout: float = 15.0) -> tuple[dict[str, list[str]], list[str]]:
    """Wait (bounded) until the lab holds no mcdiag object, no probe process and no echo service plumbing.

    Returns what is left: (objects per cluster, probe processes and leftover DNAT rules / DNS names).
    """
    end = time.monotonic() + timeout
    while True:
        objs, procs = managed_objects(lab), probe_processes() + service_plumbing(lab)
        if (not objs and not procs) or time.monotonic() > end:
            return objs, procs
        time.sleep(0.5)


@contextlib.contextmanager
def lab_lock() -> Iterator[None]:
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def make_lab(tmp_path_factory: pytest.TempPathFactory, provider: str, clusters: int = 2) -> Iterator[Any]:
    """Module-scoped lab of ``provider`` with ``clusters`` clusters: up (under the lab lock), yielded, always down."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (network namespaces)")
    from mcdiag.lab import Lab
    from mcdiag.lab.topology import scheme_namespaces

    with lab_lock():
        present = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
        busy = [n for n in scheme_namespaces() if n in present]
        if busy:
            pytest.skip(f"a lab is already running on this host ({', '.join(busy)}): `mcdiag lab down` it first")
        lab = Lab(tmp_path_factory.mktemp(f"lab-{provider}-{clusters}"), provider, clusters=clusters)
        t0 = time.monotonic()
        try:
            lab.up()
            lab.up_seconds = time.monotonic() - t0
            yield lab
        finally:
            lab.down()


def wait_tunnel(lab: Any, timeout: float = 40.0) -> None:
    """Wait until each gateway pings every peer's gateway pod IP (WireGuard re-handshakes after a tunnel fault)."""
    import sys

    end = time.monotonic() + timeout
    pending = [(name, peer.name) for name in lab.cluster_names for peer in lab.peers(name)]
    while pending and time.monotonic() < end:
        for name, peer in list(pending):
            cp = lab.exec(f"{name}-gw", [sys.executable, "-m", "mcdiag.probes", "ping", lab.pod_ip(peer, "gateway"),
                                         "--count", "2", "--timeout", "2"])
            if cp.returncode == 0:
                pending.remove((name, peer))
        if pending:
            time.sleep(1)
    assert not pending, f"the tunnel did not come back within {timeout:g}s for {pending}"



def echo_entry(result: dict[str, Any]) -> dict[str, Any]:
    """The echo control's entry in a service check's details."""
    return next(s for s in result["details"]["services"] if s["source"] == "echo control")


def check_echo_run(run: Outcome, lab: Any, directions: list[tuple[str, str]]) -> None:
    """``dns-clusterset`` and ``service-reachability`` passed through mcdiag's temporary echo service (the control).

    The name is the echo's, the answer is the ClusterIP the lab's controllers allocated (upper half of
    the peer's service CIDR, where no lab Service lives) and HTTP got a 200 from it by name and by IP;
    the peer's exported nginx was probed too.
    """
    import ipaddress

    assert run.code == 0, (run.err[-2000:], {k: s for k, s in run.verdicts().items() if s != "pass"})
    for a, b in directions:
        net = ipaddress.ip_network(lab.cluster(b).service_cidr)
        upper = ipaddress.ip_network(f"{net.network_address + net.num_addresses // 2}/{net.prefixlen + 1}")
        result = run.result(f"dns-clusterset[{a}->{b}]")
        dns = echo_entry(result)
        assert result["status"] == "pass" and dns["status"] == "pass", result
        assert ".mcdiag-probes." in dns["name"] and "mcdiag-echo-" in dns["name"], dns
        assert dns["answers"] == dns["expected"], dns
        assert all(ipaddress.ip_address(ip) in upper for ip in dns["answers"]), dns
        assert dns["owner"]["rcode_class"] == "answer", dns  # decided against the zone's owner
        assert "nginx-test/nginx" in [s["service"] for s in result["details"]["services"]], result
        result = run.result(f"service-reachability[{a}->{b}]")
        http = echo_entry(result)
        assert result["status"] == "pass" and http["status"] == "pass", result
        assert http["by_name"]["status"] == http["by_ip"]["status"] == 200, http
        assert http["by_ip"]["url"].startswith(f"http://{dns['answers'][0]}:"), http


def run_fault(lab: Any, baseline: Outcome, fault: str, fails: set[str], args: list[str], report_dir: Path) -> Outcome:
    """Break ``fault`` in lab cluster ``cluster``, run ``mcdiag all`` in the default mode, heal; assert the verdicts.

    Exactly ``fails`` turn ``fail`` (each with a hint); every other check keeps its baseline verdict, and
    nothing is ``error``. The run's duration goes to the closing table.
    """
    expected = baseline.verdicts()
    expected.update({k: "fail" for k in fails})
    lab.break_(fault, cluster="cluster")
    try:
        run = run_mcdiag(["all", *args, *ECHO_OPTS], report_dir)
    finally:
        lab.heal()
    got = run.verdicts()
    record_timing(lab.provider, fault, run, [k for k, v in got.items() if v == "fail"])
    assert got == expected, {k: (got.get(k), expected.get(k), run.result(k)["message"] if k in got else None)
                             for k in set(got) | set(expected) if got.get(k) != expected.get(k)}
    assert "error" not in got.values()
    for name in fails:
        assert run.result(name)["hint"], name
    return run
