#!/usr/bin/env python3
"""Benchmark: `mcdiag all --passive` against two emulated clusters of growing size, and `mcdiag all` on the lab.

Prints, per size, the wall time of the run, the number of API requests each
cluster served, and the pages listed. With ``--lab`` (root), it builds the
two-cluster lab and times full runs (active checks: probe pods, the temporary
echo service), with the slowest checks. Figures only: nothing here asserts.

    python scripts/bench.py [--sizes 100,1000,5000]
    python scripts/bench.py --lab [--provider netmaker] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcdiag.cli import main  # noqa: E402
from mcdiag.lab.crds import crds_for  # noqa: E402
from mcdiag.lab.emulator import ApiEmulator, load_objects  # noqa: E402

CALICO = [{"group": "projectcalico.org", "version": "v3", "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}]


def grow(objects: list[dict], pods: int) -> list[dict]:
    """The fixture cluster plus ``pods`` extra application pods spread over extra nodes."""
    out = list(objects)
    nodes = max(1, pods // 50)
    for i in range(nodes):
        out.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"bench-node-{i}", "labels": {}},
                    "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    template = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "bench", "labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": {"phase": "Running"}}
    for i in range(pods):
        pod = copy.deepcopy(template)
        pod["metadata"]["name"] = f"bench-{i}"
        pod["spec"]["nodeName"] = f"bench-node-{i % nodes}"
        out.append(pod)
    return out


def run(size: int, tmp: Path) -> None:
    emus = []
    args = []
    for name in ("cluster", "cluster1"):
        objs = grow(load_objects(ROOT / "mcdiag" / "fixtures" / "submariner" / name) + crds_for(), size)
        emu = ApiEmulator(objects=objs, name=name, extra_groups=CALICO).start()
        emus.append(emu)
        args += ["--cluster", f"{name}={emu.kubeconfig(tmp / f'{name}-{size}.kubeconfig')}"]
    try:
        start = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(["all", "--passive", *args, "--report-dir", str(tmp / f"r{size}")])
        elapsed = time.monotonic() - start
        reqs = [len(e.requests) for e in emus]
        pages = sum(1 for e in emus for r in e.requests if r.path == "/api/v1/pods")
        print(f"{size:>7} pods/cluster  {elapsed:7.2f} s  exit {code}  requests {reqs[0]}+{reqs[1]}  pod-list pages {pages}")
    finally:
        for e in emus:
            e.stop()


def run_lab(provider: str, runs: int, tmp: Path) -> None:
    from mcdiag.lab import Lab

    lab = Lab(tmp / "lab", provider)
    start = time.monotonic()
    lab.up()
    print(f"lab up ({provider}): {time.monotonic() - start:.2f} s")
    try:
        args = [a for c in lab.cluster_names for a in ("--cluster", f"{c}={lab.kubeconfig(c)}")]
        for i in range(runs):
            out = tmp / f"lab-r{i}"
            start = time.monotonic()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = main(["all", *args, "--report-dir", str(out)])
            elapsed = time.monotonic() - start
            results = json.loads((out / "mcdiag.json").read_text())["results"]
            counts: dict[str, int] = {}
            for r in results:
                counts[r["status"]] = counts.get(r["status"], 0) + 1
            slow = sorted(results, key=lambda r: -r["duration_s"])[:3]
            print(f"run {i + 1}: {elapsed:6.2f} s  exit {code}  " + " ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                  + "  slowest: " + ", ".join(f"{r['check']}[{'->'.join(r['clusters'])}] {r['duration_s']:.1f}s"
                                              for r in slow))
    finally:
        start = time.monotonic()
        lab.down()
        print(f"lab down: {time.monotonic() - start:.2f} s")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000,5000", help="comma-separated extra pods per cluster")
    parser.add_argument("--lab", action="store_true", help="time full `mcdiag all` runs on the lab instead (root)")
    parser.add_argument("--provider", default="submariner", choices=("submariner", "netmaker"), help="lab provider")
    parser.add_argument("--runs", type=int, default=3, help="lab runs")
    args = parser.parse_args()
    os.environ.setdefault("NO_COLOR", "1")
    with tempfile.TemporaryDirectory() as d:
        if args.lab:
            run_lab(args.provider, args.runs, Path(d))
            return
        for size in (int(s) for s in args.sizes.split(",")):
            run(size, Path(d))


if __name__ == "__main__":
    cli()
