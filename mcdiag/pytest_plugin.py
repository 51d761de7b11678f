"""pytest integration: every check x cluster (or pair) becomes one test item.

``pytest -m inter-cluster --kubeconfig A --remote-kubeconfig B`` collects the
checks tagged ``inter-cluster`` (tags are markers; ``-m`` selects by them) and
runs each through the same runner as ``mcdiag all``. Without cluster options
the plugin collects nothing and stays out of the way.

Under pytest-xdist every worker collects on its own, so collection is built
from the options and the registry only (sorted, deterministic). Cluster names
that need an API read (the Submariner cluster id) are resolved once by the
controller and handed to workers through ``workerinput``. Report files are
written by the controller only.

In pytest's JUnit (``--junitxml``) each item's classname is ``mcdiag.CHECK-ID`` (as in the
CLI's JUnit), a warning leads the testcase's ``system-out`` with ``WARNING:``, and what the
CLI's JUnit keeps as properties (status, clusters, warning, likely cause) are properties of
the testsuite, where the Jenkins/Ant schema allows them (never of a testcase). Kubeconfig paths
given as ``--kubeconfig PATH`` do not move pytest's rootdir, so item ids stay ``mcdiag::...``.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mcdiag.errors import UsageError
from mcdiag.model import KNOWN_TAGS, Check, Result, RunReport, Scope, Status, target_label
from mcdiag.run.options import FLAGS, Flag, Options
from mcdiag.run.runner import plan
from mcdiag.run.session import Session, cluster_names

NAMES_KEY = "mcdiag_cluster_names"
_state_key = pytest.StashKey["_State"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options in a ``mcdiag`` group, spelled ``--mcdiag-*`` and settable as ``mcdiag_*`` ini keys."""
    g = parser.getgroup("mcdiag", "mcdiag: inter-cluster network checks as tests")
    for f in FLAGS:
        if not f.in_pytest:
            continue
        kwargs: dict[str, Any] = {"dest": _dest(f), "help": f"{f.help} (ini: {_dest(f)})"}
        if f.kind is bool:
            kwargs["action"] = "store_true"
            kwargs["default"] = None
        elif f.kind is list:
            kwargs.update(action="append", default=None)
        else:
            kwargs.update(type=f.kind, default=None)
        if f.metavar:
            kwargs["metavar"] = f.metavar
        if f.choices:
            kwargs["choices"] = f.choices
        g.addoption(f.pytest_flag, *f.pytest_aliases, **kwargs)
        parser.addini(_dest(f), f.help, type="linelist" if f.kind is list else "string", default=None)
    g.addoption("--mcdiag-report-dir", dest="mcdiag_report_dir", default=None, help="also write mcdiag's JSON/JUnit/HTML reports here")
    parser.addini("mcdiag_report_dir", "also write mcdiag's reports here", default=None)


def _dest(f: Flag) -> str:
    return "mcdiag_" + f.dest


def _options(config: pytest.Config) -> Options:
    """The run's :class:`Options`: command-line flags first, then ini keys, then the defaults."""
    values: dict[str, Any] = {}
    for f in FLAGS:
        if not f.in_pytest:
            continue
        value = config.getoption(_dest(f))
        if value is None:
            value = _ini(config, f)
        if value is not None:
            values[f.dest] = value
    return Options(**values)


def _ini(config: pytest.Config, f: Flag) -> Any:
    raw = config.getini(_dest(f))
    if raw in (None, "", []):
        return None
    if f.kind is list:
        return list(raw)
    if f.kind is bool:
        return str(raw).strip().lower() in ("1", "true", "yes", "on")
    try:
        return f.kind(raw)
    except ValueError:
        raise pytest.UsageError(f"mcdiag: ini key {_dest(f)} = {raw!r} is not a {f.kind.__name__}") from None


def _enabled(options: Options) -> bool:
    return options.gives_clusters


@dataclass
class _State:
    """Per-process state: one :class:`Session`, started on first use (each worker loads the clusters once)."""

    options: Options
    names: list[str]
    checks: list[type[Check]]
    session: Session
    started: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Session:
        with self.lock:
            if not self.started:
                self.started = True
                self.session.start(self.names)
            return self.session


def pytest_configure(config: pytest.Config) -> None:
    """Register the tag markers; resolve cluster names once (controller), or take them from the controller."""
    config.addinivalue_line("markers", "mcdiag: an mcdiag check item")
    _CONFIG[:] = [config]
    _RESULTS.clear()  # one session's results (pytester may run several sessions in one process)
    _CLUSTERS.clear()
    for tag in KNOWN_TAGS:
        config.addinivalue_line("markers", f"{tag}: mcdiag checks tagged {tag}")
    options = _options(config)
    if not _enabled(options):
        return
    try:
        session = Session(options)
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and NAMES_KEY in workerinput:
            names = list(workerinput[NAMES_KEY])
        else:
            names = cluster_names(options)
    except UsageError as exc:
        raise pytest.UsageError(f"mcdiag: {exc}") from None
    config.stash[_state_key] = _State(options, names, list(session.checks), session)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Xdist controller: hand the resolved names to each worker."""
    state = node.config.stash.get(_state_key, None)
    if state is not None:
        node.workerinput[NAMES_KEY] = list(state.names)


class _PlaceholderView:
    """Enough of a view to plan targets at collection time (names only, no cluster access)."""

    def __init__(self, name: str):
        self.name = name


class CheckCollector(pytest.Collector):
    """Collects one :class:`CheckItem` per check and target."""

    def collect(self) -> list[CheckItem]:
        state: _State = self.config.stash[_state_key]
        placeholders = [_PlaceholderView(n) for n in state.names]
        items = []
        for task in plan(state.checks, placeholders):  # type: ignore[arg-type]
            names = tuple(v.name for v in task.views)
            label = target_label(names, task.check.scope)
            item = CheckItem.from_parent(self, name=f"{task.check.id}[{label}]", check=task.check, clusters=names)
            items.append(item)
        return items


class CheckFailure(Exception):
    """A check's ``fail`` or ``error``, shown in the domain's words."""

    def __init__(self, result: Result):
        super().__init__(result.message)
        self.result = result


class CheckItem(pytest.Item):
    """One check about one cluster or pair."""

    def __init__(self, *, check: type[Check], clusters: tuple[str, ...], **kwargs: Any):
        super().__init__(**kwargs)
        self.check = check
        self.clusters = clusters
        self.add_marker("mcdiag")
        for tag in sorted(check.tags):
            self.add_marker(tag)
        if "active" in check.tags and check.scope is not Scope.CLUSTER:
            self.add_marker(pytest.mark.xdist_group(name="mcdiag-" + "-".join(sorted(clusters))))

    def runtest(self) -> None:
        """Run the check through the shared runner; map its status onto pytest outcomes."""
        state: _State = self.config.stash[_state_key]
        session = state.start()
        result = session.run_task(self.check, self.clusters)  # a gate check's result is the gate's
        self.mcdiag_result = result
        by_name = {v.name: v for v in session.views}
        self.mcdiag_clusters = [session.cluster_info(by_name[n]) for n in self.clusters]
        if result.status is Status.SKIP:
            pytest.skip(result.message)
        if result.status is Status.WARN:
            self.add_report_section("call", "mcdiag warning", f"{result.message}\nhint: {result.hint}")
        if result.status.is_problem or (result.status is Status.WARN and state.options.fail_on == "warn"):
            raise CheckFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """``FAIL cidr-overlap[east<->west]: message`` plus the hint, instead of a traceback."""
        if isinstance(excinfo.value, CheckFailure):
            r = excinfo.value.result
            lines = [f"{r.status.value.upper()} {r.test_name}: {r.message}"]
            if r.hint:
                lines.append(f"hint: {r.hint}")
            if r.docs:
                lines.append(f"docs: {r.docs}")
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path | str, int | None, str]:
        """Where the check lives and what it is about."""
        import inspect

        try:
            path = inspect.getsourcefile(self.check) or "mcdiag"
        except TypeError:
            path = "mcdiag"
        return path, None, f"{self.check.id}[{target_label(self.clusters, self.check.scope)}]"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the check items before ``-m``/``-k`` deselection runs."""
    if _state_key not in config.stash:
        return
    collector = CheckCollector.from_parent(session, name="mcdiag", nodeid="mcdiag")
    items.extend(session.genitems(collector))  # fires the collect reports, so counts and xdist see the items


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the whole result (details, docs, tags) to the call report; xdist ships it to the controller."""
    outcome = yield
    result = getattr(item, "mcdiag_result", None)
    if call.when == "call" and isinstance(result, Result):
        report = outcome.get_result()
        report.mcdiag_result = result.to_dict()
        report.mcdiag_clusters = getattr(item, "mcdiag_clusters", [])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Controller side: keep each check item's result for the report files, and shape its JUnit testcase."""
    data = getattr(report, "mcdiag_result", None)
    if report.when == "call" and isinstance(data, dict):
        result = Result.from_dict(data)
        _RESULTS.append(result)
        for info in getattr(report, "mcdiag_clusters", None) or []:
            _CLUSTERS.setdefault(info["name"], info)
        _junit_testcase(report, result)


def _junit_testcase(report: pytest.TestReport, result: Result) -> None:
    """Classname ``mcdiag.CHECK-ID``, a visible warning, and the item's properties on the testsuite."""
    config = _CONFIG[0] if _CONFIG else None
    if config is None:
        return
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    reporter = xml.node_reporter(report)
    reporter.add_attribute("classname", f"mcdiag.{result.check}")
    name = result.test_name
    xml.add_global_property(f"status:{name}", result.status.value)
    xml.add_global_property(f"clusters:{name}", ",".join(result.clusters))
    if result.cause:
        xml.add_global_property(f"cause:{name}", result.cause)
    if result.status is Status.WARN:
        import xml.etree.ElementTree as ET

        xml.add_global_property(f"warning:{name}", result.message)
        out = ET.Element("system-out")
        out.text = f"WARNING: {result.message}" + (f"\nhint: {result.hint}" if result.hint else "")
        reporter.append(out)


_RESULTS: list[Result] = []
_CLUSTERS: dict[str, dict[str, Any]] = {}
#: The config of this process's session (the JUnit hook needs it; the hook itself is not given it).
_CONFIG: list[pytest.Config] = []


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Keep pytest's rootdir where it would be without mcdiag's option values.

    pytest picks its rootdir before plugins add their options, so the value of
    ``--kubeconfig /elsewhere/a.kubeconfig`` looks like a test path to it and moves the rootdir
    (item ids became ``../mcdiag::...``). Once the options are known, decide again.
    """
    try:
        _restore_rootdir(early_config, parser, args)
    except Exception:  # a pytest without these internals: the ids are only less pretty
        return


def _restore_rootdir(config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    from _pytest.config.findpaths import determine_setup

    ns = parser.parse_known_args(list(args), namespace=copy.copy(config.option))
    if getattr(ns, "rootdir", None) or getattr(ns, "inifilename", None):
        return
    rootpath, inipath, inicfg, *_ = determine_setup(
        inifile=None, override_ini=ns.override_ini, args=ns.file_or_dir, rootdir_cmd_arg=None,
        invocation_dir=config.invocation_params.dir,
    )
    if rootpath == config.rootpath:
        return
    cutdir_was_root = config.known_args_namespace.confcutdir == str(config.inipath.parent if config.inipath else config.rootpath)
    config._rootpath, config._inipath, config._inicfg = rootpath, inipath, inicfg  # type: ignore[attr-defined]
    parser.extra_info["rootdir"] = str(rootpath)
    parser.extra_info["inifile"] = str(inipath)
    if cutdir_was_root:
        config.known_args_namespace.confcutdir = str(inipath.parent if inipath else rootpath)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write mcdiag's own report files, from the controller only."""
    config = session.config
    state = config.stash.get(_state_key, None)
    if state is not None and state.started:  # every process deletes the probe objects it made
        import sys

        for note in state.session.close():
            print(f"mcdiag: {note}", file=sys.stderr)
    target = config.getoption("mcdiag_report_dir", None) or config.getini("mcdiag_report_dir")
    if not target or hasattr(config, "workerinput") or _state_key not in config.stash:
        return
    from datetime import UTC, datetime

    from mcdiag.reports import write_reports
    from mcdiag.run.causes import assign_causes
    from mcdiag.run.session import shown_options

    results = list(_RESULTS)
    state = config.stash[_state_key]
    order = {c.id: i for i, c in enumerate(state.session.registry.checks)}
    position = {n: i for i, n in enumerate(state.names)}
    results.sort(key=lambda r: (order.get(r.check, len(order)), [position.get(c, 0) for c in r.clusters]))
    clusters = [_CLUSTERS.get(n, {"name": n}) for n in state.names]
    results = assign_causes(results, state.session.registry.checks)
    report = RunReport(datetime.now(UTC), 0.0, clusters, results, fail_on_warn=state.options.fail_on == "warn",
                       options=shown_options(state.options))
    write_reports(report, report_dir=Path(target))
    (Path(target) / "pytest-results.json").write_text(json.dumps([r.to_dict() for r in results], indent=2))
