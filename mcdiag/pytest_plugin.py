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
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mcdiag.errors import UsageError
from mcdiag.model import KNOWN_TAGS, Check, Result, Scope, Status, target_label
from mcdiag.registry import resolve
from mcdiag.runner import Runner, Task, cluster_info, plan
from mcdiag.session import (
    DEFAULT_REQUEST_TIMEOUT,
    PROVIDERS,
    Options,
    gate_checks,
    load_views,
    reads_of,
    resolve_names,
)
from mcdiag.view import ClusterView

NAMES_KEY = "mcdiag_cluster_names"
_state_key = pytest.StashKey["_State"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options in a ``mcdiag`` group."""
    g = parser.getgroup("mcdiag", "mcdiag: inter-cluster network checks as tests")
    g.addoption("--kubeconfig", help="kubeconfig of the local cluster")
    g.addoption("--context", help="context in --kubeconfig")
    g.addoption("--remote-kubeconfig", help="kubeconfig of the remote cluster")
    g.addoption("--remote-context", help="context in --remote-kubeconfig")
    g.addoption("--mcdiag-cluster", action="append", default=[], metavar="NAME=PATH[:CONTEXT]", help="a named cluster (repeat)")
    g.addoption("--mcdiag-provider", choices=PROVIDERS, help="override provider detection")
    g.addoption("--mcdiag-passive", action="store_true", help="only passive checks (API reads only)")
    g.addoption("--mcdiag-request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT, help="seconds per API request")
    g.addoption("--mcdiag-check-timeout", type=float, default=None, help="seconds per check")
    g.addoption("--pod-cidr", action="append", default=[], metavar="[CLUSTER=]CIDR", help="pod CIDR override")
    g.addoption("--service-cidr", action="append", default=[], metavar="[CLUSTER=]CIDR", help="service CIDR override")
    g.addoption("--netmaker-subnet", action="append", default=[], metavar="CIDR", help="Netmaker network subnet")
    g.addoption("--mcdiag-report-dir", default=None, help="also write mcdiag's JSON/JUnit/HTML reports here")
    g.addoption("--mcdiag-service", metavar="NS/NAME", help="exported service to probe (default: a temporary echo service)")
    g.addoption("--mcdiag-max-rtt", type=float, default=100.0, metavar="MS", help="latency warns above this RTT")
    g.addoption("--mcdiag-image", help="probe pod image (default: mcdiag's probe image)")
    g.addoption("--mcdiag-image-repository", metavar="REPO", help="registry mirror for the probe image")
    g.addoption("--mcdiag-probe-namespace", default="mcdiag-probes", metavar="NS", help="namespace for probe pods")
    g.addoption("--mcdiag-probe-start-timeout", type=float, default=60.0, metavar="S", help="seconds a probe pod may take to start")


def _options(config: pytest.Config) -> Options:
    get = config.getoption
    return Options(
        kubeconfig=get("kubeconfig"),
        context=get("context"),
        remote_kubeconfig=get("remote_kubeconfig"),
        remote_context=get("remote_context"),
        cluster=list(get("mcdiag_cluster") or []),
        provider=get("mcdiag_provider"),
        passive=bool(get("mcdiag_passive")),
        request_timeout=get("mcdiag_request_timeout"),
        pod_cidr=list(get("pod_cidr") or []),
        service_cidr=list(get("service_cidr") or []),
        netmaker_subnet=list(get("netmaker_subnet") or []),
        max_rtt=get("mcdiag_max_rtt"),
        service=get("mcdiag_service"),
        image=get("mcdiag_image"),
        image_repository=get("mcdiag_image_repository"),
    )


def _enabled(config: pytest.Config) -> bool:
    get = config.getoption
    return bool(get("kubeconfig") or get("remote_kubeconfig") or get("mcdiag_cluster") or get("context"))


@dataclass
class _State:
    """Per-process state: views are loaded once per worker; each gate runs once per cluster."""

    options: Options
    names: list[str]
    checks: list[type[Check]]
    gates: list[type[Check]]
    views: list[ClusterView] | None = None
    runner: Runner | None = None
    gated: dict[int, Any] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    usage_error: str | None = None
    #: The probe executor of this process (controller or xdist worker), when active checks are collected.
    executor: Any = None
    probe_namespace: str = "mcdiag-probes"
    probe_start_timeout: float = 60.0
    #: What this process learnt about each cluster (reports show it), worked out once per cluster.
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cluster_info(self, view: ClusterView) -> dict[str, Any]:
        with self.lock:
            if view.name not in self.infos:
                self.infos[view.name] = cluster_info(view, self.runner.options if self.runner else {})
            return self.infos[view.name]

    def setup(self) -> tuple[list[ClusterView], Runner]:
        with self.lock:
            if self.views is None:
                specs = self.options.specs()
                for spec, name in zip(specs, self.names, strict=True):
                    spec.name, spec.explicit_name = name, True
                self.views = load_views(specs, self.options)
                if any("active" in c.tags for c in self.checks):
                    from mcdiag.active.executor import ProbeExecutor

                    self.executor = ProbeExecutor(
                        {v.name: v.source for v in self.views},
                        image=self.options.image,
                        image_repository=self.options.image_repository,
                        namespace=self.probe_namespace,
                        start_timeout=self.probe_start_timeout,
                    )
                self.runner = Runner(self.views, self.options.check_options(self.names), probes=self.executor)
                self.runner.gate(self.gates)  # marks unreachable clusters; results re-used by the api-access items
                wanted = reads_of(self.checks)
                for view in self.views:
                    if not view.unreachable:
                        view.prefetch(wanted)
            return self.views, self.runner


def _resolve_names(options: Options) -> list[str]:
    """Names as ``mcdiag all`` gives them (one bounded read per cluster for the Submariner id)."""
    specs = options.specs()
    views = load_views(specs, options)
    resolve_names(views)
    return [v.name for v in views]


def pytest_configure(config: pytest.Config) -> None:
    """Register the tag markers; resolve cluster names once (controller), or take them from the controller."""
    config.addinivalue_line("markers", "mcdiag: an mcdiag check item")
    _RESULTS.clear()  # one session's results (pytester may run several sessions in one process)
    _CLUSTERS.clear()
    for tag in KNOWN_TAGS:
        config.addinivalue_line("markers", f"{tag}: mcdiag checks tagged {tag}")
    if not _enabled(config):
        return
    options = _options(config)
    reg = resolve()
    state = _State(options, [], [], gate_checks(reg))
    state.probe_namespace = config.getoption("mcdiag_probe_namespace")
    state.probe_start_timeout = config.getoption("mcdiag_probe_start_timeout")
    try:
        options.validate()
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and NAMES_KEY in workerinput:
            state.names = list(workerinput[NAMES_KEY])
        else:
            state.names = _resolve_names(options)
        state.checks = [c for c in reg.checks if not options.passive or "passive" in c.tags]
    except UsageError as exc:
        raise pytest.UsageError(f"mcdiag: {exc}") from None
    config.stash[_state_key] = state


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
        self.user_properties.append(("check", check.id))
        self.user_properties.append(("clusters", ",".join(clusters)))

    def runtest(self) -> None:
        """Run the check through the shared runner; map its status onto pytest outcomes."""
        state: _State = self.config.stash[_state_key]
        views, runner = state.setup()
        by_name = {v.name: v for v in views}
        task = Task(self.check, tuple(by_name[n] for n in self.clusters))
        result = runner.run_task(task)  # api-access re-reads nothing: the view cached its answers
        self.mcdiag_result = result
        self.mcdiag_clusters = [state.cluster_info(by_name[n]) for n in self.clusters]
        self.user_properties.append(("status", result.status.value))
        self.user_properties.append(("message", result.message))
        if result.hint:
            self.user_properties.append(("hint", result.hint))
        self.user_properties.append(("scope", result.scope.value))
        self.user_properties.append(("duration_s", f"{result.duration_s:.4f}"))
        if result.status is Status.SKIP:
            pytest.skip(result.message)
        if result.status is Status.WARN:
            self.add_report_section("call", "mcdiag warning", f"{result.message}\nhint: {result.hint}")
        if result.status.is_problem:
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


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Controller side: keep each check item's result, and what it knew of its clusters, for the report files."""
    data = getattr(report, "mcdiag_result", None)
    if report.when == "call" and isinstance(data, dict):
        _RESULTS.append(Result.from_dict(data))
        for info in getattr(report, "mcdiag_clusters", None) or []:
            _CLUSTERS.setdefault(info["name"], info)


_RESULTS: list[Result] = []
_CLUSTERS: dict[str, dict[str, Any]] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write mcdiag's own report files, from the controller only."""
    config = session.config
    state = config.stash.get(_state_key, None)
    if state is not None and state.executor is not None:  # every process deletes the probe objects it made
        import sys

        for problem in state.executor.cleanup():
            print(f"mcdiag: cleanup: {problem} (run `mcdiag cleanup --run-id {state.executor.run_id}`)", file=sys.stderr)
    target = config.getoption("mcdiag_report_dir", None)
    if not target or hasattr(config, "workerinput") or _state_key not in config.stash:
        return
    from datetime import UTC, datetime

    from mcdiag.reports import write_reports
    from mcdiag.runner import RunReport

    reg = resolve()
    results = list(_RESULTS)
    state: _State = config.stash[_state_key]
    order = {c.id: i for i, c in enumerate(reg.checks)}
    position = {n: i for i, n in enumerate(state.names)}
    results.sort(key=lambda r: (order.get(r.check, len(order)), [position.get(c, 0) for c in r.clusters]))
    clusters = [_CLUSTERS.get(n, {"name": n}) for n in state.names]
    report = RunReport(datetime.now(UTC), 0.0, clusters, results)
    write_reports(report, report_dir=Path(target))
    (Path(target) / "pytest-results.json").write_text(json.dumps([r.to_dict() for r in results], indent=2))
