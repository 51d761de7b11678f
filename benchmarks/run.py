"""mcdiag's cost against big emulated clusters; prints tables and writes docs/performance.md.

    python -m benchmarks [--sizes 0,10000,50000,150000] [--runs 3] [--mem-cap-gb 8] [--no-doc]

For each size (pods per cluster; nodes = pods/30), two emulated clusters (the shipped
Submariner fixture pair plus generated nodes, Deployments and pods of real shape and
size) run as their own processes, and ``mcdiag all --passive`` runs against them as a
child process: its wall time, CPU (user + system) and peak RSS come from ``wait4``,
the requests and bytes each cluster served from the emulators' request logs. In the
same run, the floor: ``benchmarks/bare.py``, a bare HTTPS client fetching exactly the
requests mcdiag made (pages followed, JSON decoded and dropped). Then the requests a
run makes as the selection grows (one check, one tag, all passive checks), and
start-up times (``mcdiag --help``, ``mcdiag list``, a passive run on two empty
clusters). Medians of ``--runs`` runs; the load average is printed beside each figure,
because the machine may be shared. Every mcdiag child runs under an address-space cap
(``--mem-cap-gb``): a run that hits it is reported as such, not as a figure.

Figures only: nothing here asserts. The lab benchmarks (active suite per fault,
``--jobs``, 2/3/4/8 clusters) are in :mod:`benchmarks.lab`: ``python -m benchmarks.lab``, or ``--lab`` here.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
FIXTURES = ROOT / "mcdiag" / "lab" / "fixtures" / "submariner"
CALICO = [{"group": "projectcalico.org", "version": "v3", "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}]
#: The fixture pair: cluster name, the pod CIDR its generated nodes take their blocks from, node addresses.
CLUSTERS = (("cluster", "100.80.0.0/12", "172.20.0.0/16"), ("cluster1", "100.144.0.0/12", "172.21.0.0/16"))
SELECTIONS = (
    ("one check: run k8s-version", ["run", "k8s-version"]),
    ("one tag: all --passive --tag preflight", ["all", "--passive", "--tag", "preflight"]),
    ("all passive: all --passive", ["all", "--passive"]),
)
RUN_TIMEOUT = 1800.0
#: A DaemonSet with one pod per node in a namespace a check reads: Submariner's route agent
#: (submariner-deployment judges every pod of submariner-operator, the route agent's from their Table rows).
#: The fixture holds the DaemonSet.
ROUTE_AGENT = "submariner-operator/submariner-routeagent=quay.io/submariner/submariner-route-agent:0.17.1"


def mcdiag_cmd() -> list[str]:
    """The installed entry point next to this Python (as users start it), else the module."""
    entry = Path(PY).with_name("mcdiag")
    return [str(entry)] if entry.exists() else [PY, "-c", "import sys; from mcdiag.cli import main; sys.exit(main())"]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def mem_available_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


# ---------------------------------------------------------------------------------------------
# Children measured with wait4
# ---------------------------------------------------------------------------------------------
@dataclass
class Measured:
    wall: float
    cpu: float
    rss_mb: float
    code: int
    load: str
    capped: bool = False
    timed_out: bool = False
    stdout: str = ""
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return not (self.capped or self.timed_out) and self.code in (0, 1)


def measure(cmd: list[str], *, cap_gb: float | None = None, timeout: float = RUN_TIMEOUT, env: dict | None = None) -> Measured:
    """Run ``cmd``; its wall time, CPU and peak RSS (``wait4``), under an address-space cap."""

    def limit() -> None:
        if cap_gb:
            cap = int(cap_gb * 1024**3)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    load = loadavg()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, preexec_fn=limit, env={**os.environ, "NO_COLOR": "1", **(env or {})})
        timed_out = False
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                timed_out = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    capped = "MemoryError" in stderr or (cap_gb is not None and code < 0 and not timed_out)
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code, load, capped, timed_out, stdout,
                    "\n".join(stderr.strip().splitlines()[-3:]))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Emulated clusters, each its own process, with a request log
# ---------------------------------------------------------------------------------------------
class Cluster:
    """One emulator process: fixture objects + generated ones; its request log is read by position."""

    def __init__(self, name: str, fixture: Path | None, pods: int, pod_cidr: str, node_cidr: str, tmp: Path,
                 agents: tuple[str, ...] = ()):
        from mcdiag.lab.crds import crds_for
        from mcdiag.lab.emulator import load_objects

        self.name = name
        self.kubeconfig = tmp / f"{name}.kubeconfig"
        self.log = tmp / f"{name}.requests.jsonl"
        self.log.write_text("")
        ready = tmp / f"{name}.ready"
        cmd = [PY, "-m", "mcdiag.lab.emulator", "--name", name, "--kubeconfig", str(self.kubeconfig),
               "--ready-file", str(ready), "--request-log", str(self.log)]
        if fixture is not None:
            objects = tmp / f"{name}.objects.json"
            objects.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": load_objects(fixture) + crds_for()}, default=str))
            groups = tmp / "extra-groups.json"
            groups.write_text(json.dumps(CALICO))
            cmd += ["--objects", str(objects), "--extra-groups", str(groups)]
        if pods:
            cmd += ["--generate-pods", str(pods), "--generate-nodes", str(max(1, pods // 30)), "--pod-cidr", pod_cidr,
                    "--node-cidr", node_cidr]
            for agent in agents:
                cmd += ["--generate-agent", agent]
        start = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(tmp / f"{name}.stderr").open("w"))
        deadline = start + 600
        while not ready.exists():
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"emulator {name} did not start: {(tmp / f'{name}.stderr').read_text()[-500:]}")
            time.sleep(0.05)
        self.startup = time.perf_counter() - start
        kc = yaml.safe_load(self.kubeconfig.read_text())
        self.server = kc["clusters"][0]["cluster"]["server"]
        self.ca = base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        self.token = kc["users"][0]["user"]["token"]

    def mark(self) -> int:
        return len(self.log.read_text().splitlines())

    def since(self, mark: int) -> list[dict[str, Any]]:
        time.sleep(0.05)  # the last line of a request answered just now
        return [json.loads(line) for line in self.log.read_text().splitlines()[mark:] if line.strip()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_pair(pods: int, tmp: Path, *, empty: bool = False, agents: tuple[str, ...] = ()) -> list[Cluster]:
    clusters: list[Cluster] = []
    try:
        for name, pod_cidr, node_cidr in CLUSTERS:
            fixture = None if empty else FIXTURES / name
            clusters.append(Cluster(name, fixture, 0 if empty else pods, pod_cidr, node_cidr, tmp, agents))
    except Exception:
        for c in clusters:
            c.stop()
        raise
    return clusters


def cluster_args(clusters: list[Cluster]) -> list[str]:
    return [a for c in clusters for a in ("--cluster", f"{c.name}={c.kubeconfig}")]


def served(records: list[dict[str, Any]]) -> tuple[int, int]:
    return len(records), sum(int(r.get("size") or 0) for r in records)


def bare_requests(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests of mcdiag as the bare client replays them: each first page, and how many pages mcdiag read.

    Continue tokens are the server's: the bare client follows as many as mcdiag did, no more.
    """
    def same(r: dict[str, Any]) -> tuple:
        query = {k: v for k, v in (r.get("query") or {}).items() if k != "continue"}
        return r["path"], tuple(sorted(query.items())), r.get("accept")

    pages: dict[tuple, int] = {}
    for r in records:
        if r["method"] == "GET":
            pages[same(r)] = pages.get(same(r), 0) + 1
    return [{"path": r["path"], "query": r.get("query") or {}, "accept": r.get("accept"), "pages": pages[same(r)]}
            for r in records if r["method"] == "GET" and "continue" not in (r.get("query") or {})]


def record_key(record: dict[str, Any]) -> str | None:
    """The query a logged request asked (path, selectors, limit, metadata only); None for a continue page."""
    query = record.get("query") or {}
    if "continue" in query:
        return None
    parts = [record["path"]] + [f"{k}={query[k]}" for k in ("labelSelector", "fieldSelector", "limit") if k in query]
    accept = record.get("accept") or ""
    return ";".join(parts + (["meta"] if "PartialObjectMetadata" in accept else []) + (["table"] if "as=Table" in accept else []))


def expected_keys(argv: list[str]) -> set[str]:
    """The requests a selection should make of a cluster whose CRDs are all served: /version, discovery, and
    the queries its checks and the gate read ahead (the reports read nothing for themselves).
    """
    from mcdiag.gather.api import PAGE_SIZE, TABLE_PAGE_SIZE
    from mcdiag.run.registry import resolve
    from mcdiag.run.session import prefetch_reads

    registry = resolve(include_plugins=False)
    ids = argv[1:] if argv[0] == "run" else [c.id for c in registry.checks]
    checks = [registry.get(i) for i in ids] + [c for c in registry.checks if c.fatal]
    keys = {"/version", "/api", "/apis"}
    for q in prefetch_reads(checks):
        params = {**q.params(), "limit": str(q.limit or (TABLE_PAGE_SIZE if q.table else PAGE_SIZE))}
        parts = [q.path()] + [f"{k}={params[k]}" for k in ("labelSelector", "fieldSelector", "limit") if k in params]
        keys.add(";".join(parts + (["meta"] if q.metadata_only else []) + (["table"] if q.table else [])))
    return keys


# ---------------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------------
@dataclass
class SizeRow:
    pods: int
    nodes: int
    emulator_start: float
    agents: tuple[str, ...] = ()
    runs: list[Measured] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)  # per cluster, last good run
    bytes: list[int] = field(default_factory=list)
    list_pages: list[int] = field(default_factory=list)
    bare: list[Measured] = field(default_factory=list)
    bare_requests: list[int] = field(default_factory=list)


def run_size(pods: int, runs: int, cap_gb: float, tmp: Path, agents: tuple[str, ...] = ()) -> SizeRow:
    out = tmp / f"size-{pods}{'-agents' if agents else ''}"
    out.mkdir()
    clusters = start_pair(pods, out, agents=agents)
    try:
        row = SizeRow(pods, max(1, pods // 30) if pods else 0, max(c.startup for c in clusters), agents)
        last_good: list[list[dict[str, Any]]] | None = None
        for i in range(runs):
            marks = [c.mark() for c in clusters]
            m = measure([*mcdiag_cmd(), "all", "--passive", *cluster_args(clusters), "--report-dir", str(out / f"r{i}")],
                        cap_gb=cap_gb)
            report = out / f"r{i}" / "mcdiag.json"
            if report.exists() and "MemoryError" in report.read_text(errors="replace"):
                m.capped = True  # the cap turned into error results rather than a crash
            row.runs.append(m)
            records = [c.since(k) for c, k in zip(clusters, marks, strict=True)]
            print(f"  {pods:>7} pods: mcdiag run {i + 1}: {fmt_run(m)}  requests "
                  f"{'+'.join(str(len(r)) for r in records)}  load {m.load}", flush=True)
            if m.ok:
                last_good = records
            elif m.capped or m.timed_out:
                break  # the next run would hit the same wall
        if last_good is not None:
            for recs in last_good:
                n, b = served(recs)
                row.requests.append(n)
                row.bytes.append(b)
                row.list_pages.append(sum(1 for r in recs if "limit" in (r.get("query") or {})))
            plan = {"clusters": [
                {"server": c.server, "ca": c.ca, "token": c.token, "requests": bare_requests(recs)}
                for c, recs in zip(clusters, last_good, strict=True)]}
            plan_file = out / "bare-plan.json"
            plan_file.write_text(json.dumps(plan))
            for i in range(runs):
                m = measure([PY, str(ROOT / "benchmarks" / "bare.py"), str(plan_file)], cap_gb=cap_gb)
                row.bare.append(m)
                if m.ok and m.stdout.strip():
                    row.bare_requests = [c["requests"] for c in json.loads(m.stdout.strip().splitlines()[-1])]
                print(f"  {pods:>7} pods: bare client run {i + 1}: {fmt_run(m)}  load {m.load}", flush=True)
        return row
    finally:
        for c in clusters:
            c.stop()


def run_selections(pods: int, cap_gb: float, tmp: Path) -> list[tuple[str, Measured, list[int], list[int], list[list[str]]]]:
    out = tmp / f"selection-{pods}"
    out.mkdir()
    clusters = start_pair(pods, out)
    rows = []
    try:
        for label, argv in SELECTIONS:
            marks = [c.mark() for c in clusters]
            m = measure([*mcdiag_cmd(), *argv, *cluster_args(clusters), "--report-dir", str(out / label.split(":")[0].replace(" ", "-"))],
                        cap_gb=cap_gb)
            records = [c.since(k) for c, k in zip(clusters, marks, strict=True)]
            reqs = [len(r) for r in records]
            pages = [sum(1 for x in r if "limit" in (x.get("query") or {})) for r in records]
            keys = [sorted(k for k in map(record_key, r) if k) for r in records]
            rows.append((label, m, reqs, pages, keys))
            print(f"  selection {label}: {fmt_run(m)}  requests {'+'.join(map(str, reqs))}", flush=True)
    finally:
        for c in clusters:
            c.stop()
    return rows


def run_profile(pods: int, cap_gb: float, tmp: Path, agents: tuple[str, ...] = ()) -> list[str]:
    """Where a run's time goes, every thread sampled by py-spy (the [bench] extra); Markdown lines."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(PY).with_name("py-spy"))
    if not Path(spy).exists():
        return ["Not profiled: py-spy is not installed (`pip install 'mcdiag[bench]'`)."]
    out = tmp / f"profile-{pods}{'-agents' if agents else ''}"
    out.mkdir()
    clusters = start_pair(pods, out, agents=agents)
    raw = out / "profile.txt"
    try:
        m = measure([spy, "record", "--threads", "--rate", "200", "--format", "raw", "-o", str(raw), "--",
                     *mcdiag_cmd(), "all", "--passive", *cluster_args(clusters), "--report-dir", str(out / "r")], cap_gb=cap_gb)
    finally:
        for c in clusters:
            c.stop()
    if not raw.exists():
        return [f"Not profiled: py-spy failed ({m.stderr_tail or m.code})."]
    return profile_summary(raw.read_text(), pods, " with a route agent pod on every node" if agents else "")


def _frame_name(frame: str) -> str:
    # py-spy raw frames: "function (path/to/module.py:line)"
    name, _, where = frame.partition(" (")
    path = where.split(":")[0]
    for marker in ("/mcdiag/", "/checks/", "site-packages/", "python3.11/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def profile_summary(text: str, pods: int, shape: str = "", n: int = 12) -> list[str]:
    """Self and inclusive time per function, and busy time per thread kind, from py-spy's collapsed stacks."""
    total = 0
    busy = 0
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    threads: dict[str, int] = {}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        k = int(count)
        frames = stack.split(";")
        total += k
        frames = [f for f in frames if " (" in f and not f.startswith(("thread (", "process ", '"thread', '"process'))]
        if not frames:
            continue
        leaf = _frame_name(frames[-1])
        if any(w in leaf for w in ("wait (threading", "acquire", "select (", "poll (", "_wait_for_tstate_lock", "sleep (",
                                   "_worker (concurrent/futures")):
            continue  # waits py-spy saw as running
        busy += k
        kind = "main" if "_bootstrap" not in frames[0] else "worker"
        threads[kind] = threads.get(kind, 0) + k
        own[leaf] = own.get(leaf, 0) + k
        for f in {_frame_name(f) for f in frames}:
            incl[f] = incl.get(f, 0) + k
    if not busy:
        return ["No busy samples."]
    lines = [f"Profile of one `mcdiag all --passive` at {pods:,} pods per cluster{shape} (py-spy, every thread, "
             f"{busy} samples of running threads at 200 Hz):", "",
             "| function (self time) | share of busy samples |", "|---|---|"]
    lines += [f"| `{f}` | {k / busy:.0%} |" for f, k in sorted(own.items(), key=lambda kv: -kv[1])[:n]]
    lines += ["", "| function (with what it calls) | share of busy samples |", "|---|---|"]
    plumbing = ("threading.py", "concurrent/futures", "<module>", "main (mcdiag/cli")
    shown = [(f, k) for f, k in sorted(incl.items(), key=lambda kv: -kv[1]) if not any(p in f for p in plumbing)]
    lines += [f"| `{f}` | {k / busy:.0%} |" for f, k in shown[:n]]
    return lines


def run_startup(runs: int, tmp: Path) -> dict[str, list[Measured]]:
    out: dict[str, list[Measured]] = {}
    for label, argv in (("mcdiag --help", ["--help"]), ("mcdiag list", ["list"])):
        out[label] = [measure([*mcdiag_cmd(), *argv]) for _ in range(max(runs, 5))]
    d = tmp / "empty"
    d.mkdir()
    clusters = start_pair(0, d, empty=True)
    try:
        out["mcdiag all --passive, two empty clusters"] = [
            measure([*mcdiag_cmd(), "all", "--passive", *cluster_args(clusters), "--report-dir", str(d / f"r{i}")])
            for i in range(runs)
        ]
    finally:
        for c in clusters:
            c.stop()
    imports = subprocess.run([*mcdiag_cmd(), "--help"], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    out["_imports"] = imports.stderr  # type: ignore[assignment]
    return out


def run_redaction(runs: int) -> tuple[list[str], tuple[float, float] | None]:
    """``scripts/bench_redact.py`` on 10,000 pods of real shape: (its output, (parse s, redact-in-place s))."""
    import re

    proc = subprocess.run([PY, str(ROOT / "scripts" / "bench_redact.py"), "--pods", "10000", "--runs", str(max(runs, 3))],
                          capture_output=True, text=True, timeout=900)
    parse = re.search(r"json\.loads\s+([\d.]+)s", proc.stdout)
    in_place = re.search(r"redact in place \(views\)\s+([\d.]+)s", proc.stdout)
    figures = (float(parse.group(1)), float(in_place.group(1))) if parse and in_place else None
    return proc.stdout.rstrip().splitlines() or [proc.stderr.strip()[-300:]], figures


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------
def fmt_run(m: Measured) -> str:
    if m.capped:
        return f"hit the {m.rss_mb / 1024:.1f} GB peak / address-space cap after {m.wall:.1f} s (exit {m.code})"
    if m.timed_out:
        return f"timed out after {m.wall:.0f} s"
    return f"{m.wall:6.2f} s wall  {m.cpu:6.2f} s CPU  {m.rss_mb:7.1f} MB peak RSS  exit {m.code}"


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def size_table(rows: list[SizeRow], cap_gb: float) -> list[str]:
    out = [
        "| pods/cluster (nodes) | mcdiag wall | mcdiag CPU | peak RSS | requests/cluster (list pages) | read/cluster "
        "| bare client wall | bare client CPU | bare RSS | mcdiag wall / bare | load (1/5/15 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        good = [m for m in r.runs if m.ok]
        bare = [m for m in r.bare if m.ok]
        label = f"{r.pods:,} ({r.nodes:,})" + (" + a route agent pod per node" if r.agents else "")
        loads = ", ".join(sorted({m.load for m in r.runs}))
        if not good:
            why = fmt_run(r.runs[-1]) if r.runs else "not run"
            out.append(f"| {label} | {why} (cap {cap_gb:g} GB) | | | | | | | | | {loads} |")
            continue
        rss = [m.rss_mb for m in good]
        reqs = " / ".join(f"{n} ({p})" for n, p in zip(r.requests, r.list_pages, strict=True))
        read = " / ".join(mb(b) for b in r.bytes)
        wall, bwall = median([m.wall for m in good]), median([m.wall for m in bare])
        out.append(
            f"| {label} | {wall:.2f} s | {median([m.cpu for m in good]):.2f} s | {median(rss):.0f} MB "
            f"({min(rss):.0f}–{max(rss):.0f}) | {reqs} | {read} | {bwall:.2f} s | {median([m.cpu for m in bare]):.2f} s "
            f"| {median([m.rss_mb for m in bare]):.0f} MB | {wall / bwall:.1f}x | {loads} |"
        )
    return out


def selection_table(pods: int, rows: list[tuple[str, Measured, list[int], list[int]]]) -> list[str]:
    out = [f"Requests per cluster as the selection grows ({pods:,} pods per cluster; list pages in brackets):", "",
           "| selection | requests/cluster (list pages) | wall | CPU | peak RSS | load |", "|---|---|---|---|---|---|"]
    for label, m, reqs, pages, _keys in rows:
        r = " / ".join(f"{n} ({p})" for n, p in zip(reqs, pages, strict=True))
        out.append(f"| `{label.split(': ', 1)[1]}` | {r} | {m.wall:.2f} s | {m.cpu:.2f} s | {m.rss_mb:.0f} MB | {m.load} |")
    for label, _m, _reqs, _pages, keys in rows:
        if "k8s-version" in label and keys:
            out += ["", f"The requests `{label.split(': ', 1)[1]}` made of cluster `cluster` (path; selectors, limit, "
                    "`meta` for metadata only):", ""]
            out += [f"- `{k}`" for k in keys[0]]
    return out


def startup_table(startup: dict[str, list[Measured]]) -> list[str]:
    out = ["| command | wall (median) | CPU | peak RSS | load |", "|---|---|---|---|---|"]
    for label, ms in startup.items():
        if label.startswith("_"):
            continue
        out.append(f"| `{label}` | {median([m.wall for m in ms]):.2f} s | {median([m.cpu for m in ms]):.2f} s "
                   f"| {median([m.rss_mb for m in ms]):.0f} MB | {ms[0].load} |")
    return out


def top_imports(text: str, n: int = 8) -> list[str]:
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            cumulative = int(parts[1])
        except ValueError:
            continue
        name = parts[2].rstrip()
        if len(name) - len(name.lstrip()) == 1:  # top-level imports only
            rows.append((cumulative, name.strip()))
    rows.sort(reverse=True)
    return [f"{name} {us / 1000:.0f} ms" for us, name in rows[:n]]


def targets_table(rows: list[SizeRow], selections, startup: dict[str, list[Measured]]) -> list[str]:
    """Issue 12's targets against the largest size that ran, with by how much each is missed."""
    out = ["| target | measured | |", "|---|---|---|"]

    def line(what: str, got: float, limit: float, unit: str, fmt: str = "{:.1f}", why: str = "") -> None:
        verdict = "met" if got <= limit else f"missed: {got / limit:.2f}x the limit{why}"
        out.append(f"| {what} (at most {fmt.format(limit)}{unit}) | {fmt.format(got)}{unit} | {verdict} |")

    done = [r for r in rows if any(m.ok for m in r.runs) and not r.agents]
    empty = startup.get("mcdiag all --passive, two empty clusters") or []
    if done:
        r = max(done, key=lambda r: r.pods)
        good = [m for m in r.runs if m.ok]
        wall = median([m.wall for m in good])
        out.append(f"| largest size that ran | {r.pods:,} pods, {r.nodes:,} nodes per cluster | target sizes: 150,000 and 5,000 |")
        line("requests per cluster", max(r.requests), 40, "", "{:.0f}")
        line("read per cluster", max(r.bytes) / 1e6, 5, " MB")
        line("peak RSS", median([m.rss_mb for m in good]), 200, " MB", "{:.0f}")
        bare = [m.wall for m in r.bare if m.ok]
        if bare:
            line("wall time / bare fetch of the same requests", wall / median(bare), 1.5, "x",
                 why=": a fixed cost, the same at every size (see \"Against the bare fetch\" below)")
        if empty:
            line("wall time / run on two empty clusters", wall / median([m.wall for m in empty]), 2, "x")
    for r in (r for r in rows if r.agents and any(m.ok for m in r.runs)):
        good = [m for m in r.runs if m.ok]
        shape = f"the same with a route agent pod on each of the {r.nodes:,} nodes"
        why = ": submariner-deployment reads a row per route agent pod (see below)"
        line(f"{shape}: requests per cluster", max(r.requests), 40, "", "{:.0f}", why)
        line(f"{shape}: read per cluster", max(r.bytes) / 1e6, 5, " MB", why=why)
        line(f"{shape}: peak RSS", median([m.rss_mb for m in good]), 200, " MB", "{:.0f}", why)
        bare = [m.wall for m in r.bare if m.ok]
        if bare:
            line(f"{shape}: wall time / bare fetch", median([m.wall for m in good]) / median(bare), 1.5, "x")
        if empty:
            line(f"{shape}: wall time / run on two empty clusters", median([m.wall for m in good]) / median([m.wall for m in empty]),
                 2, "x", why=why)
    missing = [r.pods for r in rows if not any(m.ok for m in r.runs)]
    if missing:
        out.append(f"| sizes that did not finish | {', '.join(f'{p:,}' for p in missing)} pods | see the first table |")
    for label, _run, reqs, _pages, keys in selections:
        if "k8s-version" in label:
            want = expected_keys(label.split(": ", 1)[1].split())
            extra = sorted({k for ks in keys for k in ks} - want)
            missed = sorted(want - {k for ks in keys for k in ks})
            verdict = "met" if not extra else f"missed: also {', '.join(f'`{k}`' for k in extra)}"
            out.append(f"| `mcdiag run k8s-version`: only its own and the gate's requests (`/version`, discovery, one node, "
                       f"the provider's and service discovery's objects) | {max(reqs)} requests per cluster, "
                       f"{len(want) - len(missed)} of the {len(want)} expected and {len(extra)} more | {verdict} |")
    redaction = startup.get("_redaction")
    if redaction:
        parse, in_place = redaction
        line("redaction's CPU / parsing's (10,000 pods of real shape)", in_place / parse, 1.0, "x", "{:.2f}")
    helps = startup.get("mcdiag --help") or []
    if helps:
        line("`mcdiag --help`", median([m.wall for m in helps]), 0.3, " s", "{:.2f}")
    return out


def machine() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return (f"{os.cpu_count()} CPUs, {mem_available_gb():.0f} GB available, "
            f"Python {platform.python_version()}, commit {commit or '?'}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")


# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,10000,50000,150000", help="pods per cluster, comma-separated")
    parser.add_argument("--agent-sizes", default="150000",
                        help="sizes also run with a Submariner route agent pod on every node (comma-separated; '' for none)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (medians)")
    parser.add_argument("--selection-size", type=int, default=10000, help="pods per cluster for the selection series")
    parser.add_argument("--mem-cap-gb", type=float, default=8.0, help="address-space cap of every mcdiag child")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md", help="Markdown file to write")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    parser.add_argument("--skip", action="append", default=[], choices=("sizes", "selection", "startup", "redaction"),
                        help="leave a part out (repeatable)")
    parser.add_argument("--profile", default="150000,150000+agents",
                        help="the profiled runs, comma-separated: pods per cluster, '+agents' for a route agent pod on "
                             "every node ('' for none; needs py-spy, the [bench] extra)")
    parser.add_argument("--lab", action="store_true", help="also the lab benchmarks (root; see benchmarks/lab.py)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory(prefix="mcdiag-bench-") as d:
        tmp = Path(d)
        startup = run_startup(args.runs, tmp) if "startup" not in args.skip else {}
        rows = []
        if "sizes" not in args.skip:
            for pods in sizes:
                rows.append(run_size(pods, args.runs, args.mem_cap_gb, tmp))
            for pods in (int(s) for s in args.agent_sizes.split(",") if s.strip()):
                rows.append(run_size(pods, args.runs, args.mem_cap_gb, tmp, agents=(ROUTE_AGENT,)))
        redaction_lines: list[str] = []
        if "redaction" not in args.skip:
            redaction_lines, figures = run_redaction(args.runs)
            if figures:
                startup["_redaction"] = figures  # type: ignore[assignment]
        selections = run_selections(args.selection_size, args.mem_cap_gb, tmp) if "selection" not in args.skip else []
        profile: list[str] = []
        for spec in (p.strip() for p in args.profile.split(",") if p.strip()):
            size, _, extra = spec.partition("+")
            profile += [*run_profile(int(size), args.mem_cap_gb, tmp, (ROUTE_AGENT,) if extra == "agents" else ()), ""]
        from benchmarks import lab

        # The lab section is benchmarks/lab.py's (python -m benchmarks.lab): kept as it is unless --lab.
        lab_lines = lab.run_all(args.runs, tmp) if args.lab else lab.kept_section(args.doc)
    lines = render(rows, selections, args.selection_size, startup, args.mem_cap_gb, lab_lines)
    at = lines.index("### The lab")
    if redaction_lines:
        lines[at:at] = ["### Redaction against parsing", "", "`scripts/bench_redact.py --pods 10000` (what a view does "
                        "with each object it parsed, against parsing it):", "", "```", *redaction_lines, "```", ""]
        at = lines.index("### The lab")
    if profile:
        lines[at:at] = ["### Where the time goes", "", *profile, ""]
    print("\n".join(lines))
    if not args.no_doc:
        args.doc.write_text(DOC_HEAD + "\n".join(lines) + "\n" + DOC_TAIL)
        print(f"written: {args.doc}")
    return 0


def render(rows, selections, selection_size, startup, cap_gb, lab_lines) -> list[str]:
    lines = ["## Results", "", f"Measured on {machine()}.", ""]
    if rows:
        lines += ["### `mcdiag all --passive` against two clusters of growing size", "",
                  "Per-cluster figures are `cluster / cluster1`. The bare client fetched exactly the requests mcdiag made.", "",
                  *size_table(rows, cap_gb), ""]
    if selections:
        lines += ["### Requests as the selection grows", "", *selection_table(selection_size, selections), ""]
    if startup:
        lines += ["### Start-up", "", *startup_table(startup), ""]
        if startup.get("_imports"):
            lines += [f"Largest top-level imports of `mcdiag --help` (`-X importtime`): {', '.join(top_imports(startup['_imports']))}.", ""]
    if rows or startup:
        lines += ["### Targets", "", *targets_table(rows, selections, startup), ""]
    lines += ["### The lab", ""]
    lines += lab_lines or ["Not run in this run (`python -m benchmarks.lab`, or `--lab`, as root)."]
    return lines


DOC_HEAD = """# Performance

What mcdiag costs, measured by `python -m benchmarks` (which wrote this file). Figures, not
tests: no test asserts on time. Re-run it after a change that touches gathering, the view,
the emulator or start-up, and commit the new file with the change.

    python -m benchmarks                      # sizes 0, 10k, 50k, 150k pods per cluster, 3 runs each
    python -m benchmarks --sizes 0,10000 --runs 1 --no-doc     # a quick look

How it measures: two emulated clusters (the Submariner fixture pair plus generated nodes,
Deployments, ReplicaSets and pods of real shape and size: managed fields, conditions, two
containers, about 6 kB of JSON per pod and 5 kB per node; one kube-proxy pod per node), each
emulator its own process with a request log; mcdiag a child process (wall time, CPU =
user + system, peak RSS from `wait4`), under an address-space cap so that a run cannot take
the machine down; the floor, a bare HTTPS client (`benchmarks/bare.py`, urllib3 + json)
fetching exactly the requests mcdiag made (the same queries, as many pages), with the same
concurrency. The machine may be shared: the load average stands beside each figure, and
figures are medians. The largest size runs a second time with a Submariner route agent pod
on every node (`--agent-sizes`), the shape of a real Submariner cluster, whose pods one check
reads (see "What mcdiag reads, and what grows with the cluster" below).

Targets (issue 12): at 150,000 pods and 5,000 nodes per cluster, at most 40 requests and 5 MB
read per cluster, peak RSS at most 200 MB, wall time at most 1.5x the bare fetch and at most 2x
a run on two empty clusters; `mcdiag run k8s-version` makes only the requests it and the gate
need; `mcdiag --help` under 0.3 s; 4 lab clusters in at most 2x the time of 2.

"""

DOC_TAIL = """
## What mcdiag reads, and what grows with the cluster

Every check and fact declares its reads as queries (`reads`, sent before the checks start, and
`reads_if_needed`, sent only when the check finds it needs them; `mcdiag explain ID` lists both,
and `tests/test_declared_reads.py` fails on any query a check asks without declaring it). A run
sends the `reads` of the checks it runs (those of a provider's checks only to that provider's
clusters), each distinct query once per cluster, and serves narrower queries out of broader
ones it holds. The reports' cluster facts (provider, CNI, CIDRs) are worked out from what the
checks read, never read for themselves: `mcdiag run k8s-version` shows the provider and the
version, and leaves the CNI and the CIDRs out. Objects lose `metadata.managedFields` as they
are parsed (no check judges who wrote a field; it is often a third of an object). Where what
`kubectl get` prints is what decides, a query asks for the `Table` form of the list: one row of
kubectl's columns per object instead of the object.

What the reads are, by what they grow with:

| grows with | queries | who reads it |
|---|---|---|
| nothing (one object, or an existence test) | one node (`limit=1`); one pod per CNI agent label (`app=ovnkube-node`, `name=weave-net`, `app=kindnet`: metadata, `limit=1`); namespaces, ConfigMaps, the Lighthouse Service and OpenShift objects by name | api-access (nodes listable), CNI detection (flannel's node annotations, k3s's node args on that node), provider detection, broker-clusters, cluster-cidrs (kubeadm-config), kube-proxy-mode |
| what is installed, not the nodes | every DaemonSet (whole); kube-system's ConfigMaps, Services and Deployments; the control plane's pods (`component in (kube-apiserver,kube-controller-manager)` in kube-system); Submariner's DaemonSets, Deployments and custom resources; nodes labelled `submariner.io/gateway=true` or `gateway=true` (whole) | DNS, kube-proxy, CNI, Submariner and Netmaker checks, gateway-nodes |
| the nodes (a pod per node), as rows | the route agent's pods (`app=submariner-routeagent` in Submariner's namespace) in the `Table` form: kubectl's READY, STATUS, RESTARTS and NODE, about 100 bytes a pod, 2,000 rows a page; the namespace's other pods (`app!=submariner-routeagent`: gateway, operator, Lighthouse, metrics proxy, Globalnet) whole | submariner-deployment |
| the nodes, Netmaker clusters only | every node (whole) and netmak8s's pods (`app in (netclient,netclient-gateway,servicex)`) | netclient-deployment |
| the nodes, only as a last resort | every node (whole) | cluster-cidrs, when no other source names the pod CIDR; the active checks' second node, when none of the first 20 non-gateway nodes is Ready |
| the exported services | each exported Service by name; every Service's name (metadata) for Netmaker's servicex | service-exports, globalnet, the active service checks |

### The trade-off: a DaemonSet pod per node

`submariner-deployment` judges every pod of Submariner's namespace: a DaemonSet's status can say
every pod is ready while one is not (`tests/golden`: *daemonset-status-stale*; also a container
in CrashLoopBackOff while the pod's phase is Running, restarts, evicted pods left behind). No
server-side selector finds a not-Ready pod (field selectors know `status.phase`, which a
crash-looping pod keeps at Running), and trusting the DaemonSet's counts would lose that verdict.
So the check reads every pod of the namespace, but the route agent's one pod per node in the
`Table` form, as `kubectl get pods` reads them (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`,
`includeObject=None`): kube-apiserver prints each pod's row with kubectl's printer, and the check
judges the cells that decide and names them in its messages: READY (ready of all containers),
STATUS (the reason kubectl shows: CrashLoopBackOff, ImagePullBackOff, Init:..., Terminating,
Evicted, Pending), RESTARTS (a warning from 5 on, as for whole pods) and NODE. A row is about
100 bytes where the pod is about 5 kB, so rows come 2,000 a page: 3 requests at 5,000 nodes
where whole pods took 10 pages of 500. The other pods of the namespace (gateway, operator,
Lighthouse, metrics proxy, Globalnet: a handful whatever the nodes) are read whole
(`app!=submariner-routeagent`). The route agents' rows remain the one read of a Submariner
cluster that grows with the nodes: the "route agent pod per node" rows above show its cost at
5,000 nodes. A server that refuses the `Table` form (406) or answers whole objects is read
whole, and mcdiag prints the rows itself (`mcdiag/gather/table.py`, kubectl's rules); it does
the same where it already holds the pods whole (a broader query, a snapshot, the in-memory
tests), while a table query never answers one for whole objects. The emulator serves tables
with its own printer (`mcdiag/lab/emulator/printers.py`), and a test holds the two printers to
the same cells. The other per-node DaemonSets are not read: kube-proxy's (kube-proxy-mode reads
its DaemonSet and ConfigMap), Calico's (calico-prereqs reads IP pools). Netmaker's netclient
pods are read on Netmaker clusters only, by label. Not built: judging the route agents by their
RouteAgent objects (`routeagent-connections` reads those already) and reading pods only where a
DaemonSet's counts and its RouteAgents disagree, which would make the read flat in the nodes.

### Against the bare fetch: a fixed cost, not a per-object one

mcdiag's wall time is about 0.45 s at every size above, nearly all of it its own CPU, against
about 0.2 s for the bare client fetching the same requests: the ratio misses its 1.5x at 150,000
pods because the fetch there is as small as at 0 pods, and what is left is mcdiag's start-up. A
py-spy profile (`--idle`, 500 Hz; the profiler slows the run by about a third) of a run on two
empty clusters, main thread:

| part of the run | main thread |
|---|---|
| the checks' reads, in rounds: discovery and the gate (`/version`, one node), then the prefetch of every declared query, then what a check finds it needs | 0.23 s |
| imports at start (the CLI, the run, the report writers) | 0.21 s |
| finding the checks (entry points, importing the check modules) | 0.07 s |
| starting the check threads and waiting for them | 0.05 s |
| loading the two kubeconfigs | 0.04 s |

The bare client imports urllib3 and sends every request at once. Two costs are gone since the
first measurements: loading the kubeconfigs took 0.31 s while mcdiag used the kubernetes
client's loader (its package imports every API class and model; mcdiag now reads kubeconfigs
itself, `tests/test_kubeconfig_loader.py`), and every answer of the emulator waited about 40 ms
for a delayed ACK (Nagle; kube-apiserver, like any Go server, sets TCP_NODELAY, and now so does
the emulator) and, at 150,000 pods, a request now and then paid for a full pass of the garbage
collector over the stored objects (about 1.5 s; the emulator freezes them out of it now).

### Narrower than before, and what that changes

- `api-access` lists one node: its message says "nodes are listable", no longer how many.
- `gateway-nodes` reads the nodes labelled as gateways and judges the `gateway.submariner.io/*`
  keys on those only (Submariner reads them on the gateway it runs on, nowhere else).
- `cluster-cidrs` compares one node's pod CIDR slice with the CIDR found (a stale source shows
  on every node); every node's slice is read only when nothing else names the pod CIDR.
- CNI detection tests for one pod of each known agent and looks for flannel's annotations on
  one node.
- `broker-clusters` knows a broker CRD is installed when the API serves its kind (no CRD object,
  which is large, and no cluster-wide permission on CRDs is read).
- A query whose broader query failed for any reason but a 403 (unreachable, malformed,
  endless paging) takes that failure instead of being sent again; after a 403 it is sent (a
  Role in one namespace may allow it).
- The emulator serves label selectors with an equality requirement from a label index, as
  kube-apiserver serves them from its cache: a cluster-wide existence test no longer scans
  150,000 pods in Python (which would have been the emulator's cost, counted in mcdiag's wall).
"""

if __name__ == "__main__":
    sys.exit(main())
