"""Shared test fixtures: emulated clusters over real HTTPS, and running mcdiag in-process."""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcdiag.lab.crds import KNOWN, minimal_crd
from mcdiag.lab.emulator import ApiEmulator

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MCDIAG_SHARED", ROOT.parent / "shared"))
FIXTURES = ROOT / "mcdiag" / "lab" / "fixtures"
#: Verdict maps (``check[target]: status``) that must not change by accident: see tests/test_golden.py.
GOLDEN: dict[str, dict[str, str]] = json.loads((ROOT / "tests" / "golden" / "verdicts.json").read_text())


def real_crds() -> list[dict[str, Any]]:
    """Submariner's real CRDs from ../shared/crds, plus minimal ones for the kinds not there."""
    found = []
    if (SHARED / "crds").is_dir():
        for path in sorted((SHARED / "crds").glob("*.yaml")):
            found.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    have = {d["metadata"]["name"] for d in found}
    found.extend(minimal_crd(*k) for k in KNOWN if f"{k[2]}.{k[0]}" not in have)
    return found


def load_yaml_dir(path: Path) -> list[dict[str, Any]]:
    """Every object of every YAML file under ``path`` (sorted)."""
    objs: list[dict[str, Any]] = []
    for file in sorted(path.rglob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            if doc:
                objs.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return objs


@dataclass
class Emulated:
    """Running emulated clusters by name, with their kubeconfigs."""

    emulators: dict[str, ApiEmulator]
    kubeconfigs: dict[str, Path]

    def __getitem__(self, name: str) -> ApiEmulator:
        return self.emulators[name]

    def args(self, *names: str) -> list[str]:
        """``--cluster NAME=KUBECONFIG`` for each (all by default)."""
        out: list[str] = []
        for name in names or list(self.emulators):
            out += ["--cluster", f"{name}={self.kubeconfigs[name]}"]
        return out

    def kube_args(self, local: str, remote: str) -> list[str]:
        """``--kubeconfig A --remote-kubeconfig B`` (names then come from the clusters)."""
        return ["--kubeconfig", str(self.kubeconfigs[local]), "--remote-kubeconfig", str(self.kubeconfigs[remote])]


@pytest.fixture
def emulate(tmp_path):
    """Factory: ``emulate({"east": objects, "west": objects}, **kwargs)`` -> :class:`Emulated`; all stopped at teardown."""
    started: list[ApiEmulator] = []

    def factory(clusters: dict[str, list[dict[str, Any]]], **kwargs: Any) -> Emulated:
        emus, kcs = {}, {}
        for name, objects in clusters.items():
            emu = ApiEmulator(objects=objects, name=name, **kwargs).start()
            started.append(emu)
            emus[name] = emu
            kcs[name] = emu.kubeconfig(tmp_path / f"{name}.kubeconfig", context=f"{name}-ctx")
        return Emulated(emus, kcs)

    yield factory
    for emu in started:
        emu.stop()


@dataclass
class Run:
    """The outcome of one in-process ``mcdiag`` invocation."""

    code: int
    out: str
    err: str
    report_dir: Path

    @property
    def json(self) -> dict[str, Any]:
        return json.loads((self.report_dir / "mcdiag.json").read_text())

    def status(self, check: str, target: str) -> str:
        """The status of ``check`` about ``target`` (``east``, ``east->west``, ``east<->west``)."""
        for r in self.json["results"]:
            label = {"cluster": r["clusters"][0], "pair": "<->".join(r["clusters"]), "ordered-pair": "->".join(r["clusters"])}[r["scope"]]
            if r["check"] == check and label == target:
                return r["status"]
        raise KeyError(f"no result {check}[{target}]")

    def result(self, check: str, target: str) -> dict[str, Any]:
        for r in self.json["results"]:
            label = {"cluster": r["clusters"][0], "pair": "<->".join(r["clusters"]), "ordered-pair": "->".join(r["clusters"])}[r["scope"]]
            if r["check"] == check and label == target:
                return r
        raise KeyError(f"no result {check}[{target}]")

    def verdicts(self) -> dict[str, str]:
        """``{"check[target]": status}`` for every result."""
        out = {}
        for r in self.json["results"]:
            label = {"cluster": r["clusters"][0], "pair": "<->".join(r["clusters"]), "ordered-pair": "->".join(r["clusters"])}[r["scope"]]
            out[f"{r['check']}[{label}]"] = r["status"]
        return out


@pytest.fixture
def mcdiag(tmp_path, capsys, monkeypatch):
    """Run ``mcdiag ARGS`` in-process; reports go to a fresh directory. Returns :class:`Run`."""
    from mcdiag.cli import main

    monkeypatch.setenv("NO_COLOR", "1")
    counter = [0]

    def run(*args: str) -> Run:
        counter[0] += 1
        report_dir = tmp_path / f"reports-{counter[0]}"
        argv = list(args)
        if argv and argv[0] in ("all", "run") and "--report-dir" not in argv:
            argv += ["--report-dir", str(report_dir)]
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err, report_dir)

    return run


def query_key(record: Any) -> str | None:
    """The query a recorded request asked: path, selectors, limit and metadata-only; ``None`` for a continue page.

    Two queries can share a path (``/api/v1/pods`` with two label selectors): count these, not paths.
    """
    if "continue" in record.query:
        return None
    parts = [record.path] + [f"{k}={record.query[k]}" for k in ("labelSelector", "fieldSelector", "limit") if k in record.query]
    if "PartialObjectMetadata" in (record.accept or ""):
        parts.append("meta")
    if "as=Table" in (record.accept or ""):
        parts.append("table")
    return ";".join(parts)


#: The Calico API server (an aggregated API, not a CRD) that the Submariner fixtures' clusters serve.
CALICO_API = [{"group": "projectcalico.org", "version": "v3", "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]}]
#: The shipped healthy fixture pairs: directory, cluster names, emulator options.
PAIRS = {
    "netmaker": ("netmaker", ("dc1", "cloud"), {"version": "v1.28.5+k3s1"}),
    "submariner": ("submariner", ("cluster", "cluster1"), {"extra_groups": CALICO_API}),
}


@functools.cache
def _crds() -> tuple:
    return tuple(real_crds())


@functools.cache
def fixture_objects(directory: str, cluster: str) -> tuple:
    """The CRDs plus one fixture cluster's objects (parsed once per process; copy before changing)."""
    return _crds() + tuple(load_yaml_dir(FIXTURES / directory / cluster))


def pair_objects(pair: str) -> dict[str, list[dict[str, Any]]]:
    """Fresh copies of a shipped fixture pair's objects, by cluster name."""
    directory, names, _ = PAIRS[pair]
    if not all((FIXTURES / directory / n).is_dir() for n in names):
        pytest.skip(f"fixture pair {directory} not present")
    return {n: copy.deepcopy(list(fixture_objects(directory, n))) for n in names}


#: Kinds whose plural is not ``kind.lower() + "s"``.
_IRREGULAR_PLURALS = {"ServiceDiscovery": "servicediscoveries", "Endpoints": "endpoints", "GlobalIngressIP": "globalingressips"}


class FakeSource:
    """Serves plain objects to a ClusterView without an API server (unit tests of facts and check logic)."""

    def __init__(self, objects: list[dict[str, Any]], extra_served: tuple[str, ...] = ()):
        self.objects = objects
        self.extra_served = set(extra_served)

    def version(self) -> dict[str, Any]:
        return {"major": "1", "minor": "29", "gitVersion": "v1.29.3"}

    def served_group_versions(self) -> set[str]:
        return {o["apiVersion"] for o in self.objects} | {"v1", "apps/v1"} | self.extra_served

    def list(self, res: Any) -> list[dict[str, Any]]:
        out = []
        for o in self.objects:
            plural = _IRREGULAR_PLURALS.get(o["kind"]) or o["kind"].lower() + "s"
            if o["apiVersion"] == res.group_version and plural == res.plural:
                if res.namespace is None or o["metadata"].get("namespace") == res.namespace:
                    out.append(o)
        return out


def fake_view(name: str, *objects: dict[str, Any], served: tuple[str, ...] = ()) -> Any:
    """A :class:`~mcdiag.gather.view.ClusterView` of ``objects`` named ``name``."""
    from mcdiag.gather.kubeconfig import ClusterSpec
    from mcdiag.gather.view import ClusterView

    return ClusterView(ClusterSpec(None, name=name, explicit_name=True), FakeSource(list(objects), served))


# ---------------------------------------------------------------------------------------------
# In-memory runs: the emulator's object store read directly (same served APIs, no HTTP)
# ---------------------------------------------------------------------------------------------
class StoreSource:
    """Serves an emulator's :class:`~mcdiag.lab.emulator.store.ObjectStore` to a view in-process.

    Discovery and what is served follow the emulator (built-in kinds, CRDs loaded, extra groups),
    so a check sees what it would see over HTTPS, minus the transport.
    """

    live = False

    def __init__(self, objects: list[dict[str, Any]], version: str = "v1.29.3", extra_groups: Any = (), name: str = "memory"):
        from mcdiag.lab.emulator.server import _version_info
        from mcdiag.lab.emulator.store import ObjectStore

        self._version = _version_info(version, None)
        minor = int("".join(ch for ch in str(self._version["minor"]) if ch.isdigit()))
        self.store = ObjectStore(name, minor, extra_groups or ())  # the name seeds UIDs: one per cluster
        for obj in objects:
            self.store.put(obj)
        self.forbidden: set[str] = set()

    def version(self) -> dict[str, Any]:
        return dict(self._version)

    def served_group_versions(self) -> set[str]:
        reg = self.store.registry()
        return {f"{g}/{v}" if g else v for g, versions in reg.group_versions.items() for v in versions}

    def list(self, res: Any) -> list[dict[str, Any]]:
        from mcdiag.errors import ResourceUnavailable

        if res.plural in self.forbidden:
            raise ResourceUnavailable("forbidden", f"list {res.display}: 403 Forbidden", status=403)
        rt = self.store.registry().lookup(res.group, res.version, res.plural)
        if rt is None:
            raise ResourceUnavailable("not-served", f"list {res.display}: 404 Not Found", status=404)
        items = copy.deepcopy(self.store.list(rt.group, rt.kind, res.namespace))
        for item in items:
            item["apiVersion"], item["kind"] = res.group_version, rt.kind
        return items


@dataclass
class MemoryRun:
    """The report of an in-memory run, read like :class:`Run`."""

    code: int
    json: dict[str, Any]

    status = Run.status
    result = Run.result
    verdicts = Run.verdicts


@pytest.fixture
def memory():
    """Run mcdiag in memory: ``memory({"east": objects, ...}, "run", "cni-support", "--provider", "none")``.

    The argv is parsed as the command line parses it; each cluster is a :class:`StoreSource` view.
    Keyword ``source_options`` (per cluster or for all) go to :class:`StoreSource` (``version``, ``extra_groups``).
    """
    from mcdiag.cli.main import build_parser
    from mcdiag.gather.kubeconfig import ClusterSpec
    from mcdiag.gather.view import ClusterView
    from mcdiag.run.options import Options
    from mcdiag.run.session import Session

    def run(clusters: dict[str, list[dict[str, Any]]], *argv: str, forbid: dict[str, set[str]] | None = None,
            **source_options: Any) -> MemoryRun:
        args = build_parser().parse_args(list(argv or ("all",)))
        options = Options.from_values(args)
        views = []
        for name, objects in clusters.items():
            per = source_options.get(name) if isinstance(source_options.get(name), dict) else source_options
            source = StoreSource(objects, name=name, **{k: v for k, v in per.items() if k in ("version", "extra_groups")})
            source.forbidden = set((forbid or {}).get(name, ()))
            spec = ClusterSpec(None, name=name, explicit_name=True, server=f"memory://{name}", resolved_context=f"{name}-ctx")
            views.append(ClusterView(spec, source, provider_override=options.provider))
        report = Session(options).run(views=views)
        return MemoryRun(report.exit_code, json.loads(json.dumps(report.to_dict())))

    return run
