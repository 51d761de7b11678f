"""Probe helpers for the lab tests: run ``python -m mcdiag.probes`` inside lab namespaces."""

from __future__ import annotations

import concurrent.futures
import json
import os
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def probe_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# ------------------------------------------------------------------ probes

def probe(ns: str, *args: str, timeout: float = 30) -> tuple[int, dict[str, Any]]:
    """Run ``python -m mcdiag.probes ARGS`` inside namespace ``ns``: (exit code, JSON result)."""
    cp = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "mcdiag.probes", *args],
                        capture_output=True, text=True, timeout=timeout, env=probe_env())
    lines = [ln for ln in cp.stdout.splitlines() if ln.strip()]
    res = json.loads(lines[-1]) if lines else {"ok": False, "reason": cp.stderr.strip()}
    return cp.returncode, res


def dfping(ns: str, dst: str, size: int) -> bool:
    cp = subprocess.run(["ip", "netns", "exec", ns, sys.executable, str(HERE / "dfping.py"), dst, str(size)],
                        capture_output=True, text=True, timeout=20)
    return cp.returncode == 0


def udp_arrives(src_ns: str, dst_ns: str, dst_ip: str, port: int, iface: str, vxlan: bool = False,
                timeout: float = 3.0, tries: int = 2) -> bool:
    """Send marked datagrams from ``src_ns`` to ``dst_ip:port``; True when a sniffer in ``dst_ns`` saw them.

    The probe process can be slow to start on a loaded machine; when it never
    announced itself it is started again (``tries``) before giving up loudly.
    """
    marker = f"mcdiag-lab-{uuid.uuid4().hex[:8]}"
    listener = subprocess.Popen(
        ["ip", "netns", "exec", dst_ns, sys.executable, "-m", "mcdiag.probes", "udp-listen", "--port", str(port),
         "--marker", marker, "--iface", iface, "--method", "sniff", "--timeout", str(timeout), "--linger", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=probe_env())
    try:
        deadline = time.monotonic() + 30
        buf = ""
        while time.monotonic() < deadline and '"listening"' not in buf:
            if select.select([listener.stderr], [], [], 0.2)[0]:
                line = listener.stderr.readline()
                if not line:
                    break
                buf += line
        if '"listening"' not in buf:
            out, err = listener.communicate(timeout=30)
            if tries > 1:
                return udp_arrives(src_ns, dst_ns, dst_ip, port, iface, vxlan, timeout, tries - 1)
            raise AssertionError(f"udp-listen in {dst_ns} never listened: {buf + err!r} {out!r}")
        send = ["udp-send", "--to", f"{dst_ip}:{port}", "--marker", marker, "--count", "3", "--interval", "0.1"]
        if vxlan:
            send += ["--vxlan-vni", "100"]
        probe(src_ns, *send)
        out, _ = listener.communicate(timeout=timeout + 10)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.communicate()
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return bool(lines) and bool(json.loads(lines[-1]).get("ok"))


def path_matrix(lab, only: set[str] | None = None) -> dict[str, bool]:
    """Probe every lab path in parallel; name -> works.

    ``A``/``B`` are the first and second cluster. Names: ``ping X.node->Y.node``
    (pod IPs), ``vxlan X`` (UDP/4800 worker->gateway seen on the gateway),
    ``dns X->Y`` (from X's worker via X's kube-dns, Y's exported name must
    answer Y's nginx IP), ``http X->Y`` / ``http X.gw->Y`` (GET Y's nginx service
    IP from X's worker / gateway), ``bigping X->Y`` (1300-byte DF echo between
    workers), ``intra X`` (worker -> own gateway pod IP).
    """
    a, b = lab.cluster_names
    names = {a: "A", b: "B"}
    jobs: dict[str, Any] = {}
    for x, y in ((a, b), (b, a)):
        X, Y = names[x], names[y]
        cx, cy = lab.cluster(x), lab.cluster(y)
        jobs[f"ping {X}.w1->{Y}.w1"] = lambda cx=cx, cy=cy: probe(
            cx.worker.netns, "ping", cy.worker.pod_ip, "--count", "2", "--timeout", "2")[0] == 0
        jobs[f"ping {X}.gw->{Y}.gw"] = lambda cx=cx, cy=cy: probe(
            cx.gateway.netns, "ping", cy.gateway.pod_ip, "--count", "2", "--timeout", "2")[0] == 0
        jobs[f"intra {X}"] = lambda cx=cx: probe(
            cx.worker.netns, "ping", cx.gateway.pod_ip, "--count", "2", "--timeout", "2")[0] == 0
        jobs[f"vxlan {X}"] = lambda cx=cx: udp_arrives(cx.worker.netns, cx.gateway.netns, cx.gateway.lan_ip,
                                                      cx.vxlan_port, cx.gateway.lan_iface, vxlan=True)

        def dns(cx=cx, cy=cy) -> bool:
            rc, res = probe(cx.worker.netns, "dns", cy.exported_name(), "--server", cx.dns_ip, "--timeout", "2")
            return rc == 0 and res.get("answers") == [cy.nginx_ip]

        jobs[f"dns {X}->{Y}"] = dns
        url = f"http://{cy.nginx_ip}:{cy.nginx_port}/"
        jobs[f"http {X}->{Y}"] = lambda cx=cx, url=url: probe(cx.worker.netns, "http", url, "--timeout", "3")[0] == 0
        jobs[f"http {X}.gw->{Y}"] = lambda cx=cx, url=url: probe(
            cx.gateway.netns, "http", url, "--timeout", "3")[0] == 0
        jobs[f"bigping {X}->{Y}"] = lambda cx=cx, cy=cy: dfping(cx.worker.netns, cy.worker.pod_ip, 1300)
    if only is not None:
        jobs = {k: v for k, v in jobs.items() if k in only}
    out: dict[str, bool] = {}
    # Sniffers first, on their own: scapy starts slowly when the CPUs are busy.
    for batch in ([k for k in jobs if k.startswith("vxlan")], [k for k in jobs if not k.startswith("vxlan")]):
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
            futs = {k: ex.submit(jobs[k]) for k in batch}
            out.update({k: f.result() for k, f in futs.items()})
    return dict(sorted(out.items()))


def wait_matrix(lab, expect: dict[str, bool], timeout: float = 30) -> dict[str, bool]:
    """Re-probe until the matrix equals ``expect`` (WireGuard needs a few seconds after a heal) or time runs out."""
    deadline = time.monotonic() + timeout
    got = path_matrix(lab)
    while got != expect and time.monotonic() < deadline:
        time.sleep(1)
        got = path_matrix(lab, only={k for k in expect if got.get(k) != expect[k]}) | {
            k: v for k, v in got.items() if v == expect.get(k)}
    return got
