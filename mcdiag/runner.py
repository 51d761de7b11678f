"""The runner: targets, gating, parallel execution with timeouts, and the run report.

Checks run concurrently (``--jobs``), each under its own timeout. Whatever a
check raises becomes an ``error`` result with the reason; a
:class:`~mcdiag.errors.ResourceUnavailable` becomes ``skip`` when the resource
is simply not installed, ``error`` otherwise. A fatal check (``api-access``)
runs first on every cluster; when it does not pass, that cluster's other
checks are ``skip`` rather than a cascade of errors.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Empty, Queue
from types import MappingProxyType
from typing import Any

from mcdiag import __version__, facts
from mcdiag.errors import ResourceUnavailable
from mcdiag.model import Check, CheckContext, Outcome, Result, Scope, Status, sorted_tags
from mcdiag.view import ClusterView

DEFAULT_CHECK_TIMEOUT = 60.0


@dataclass(frozen=True)
class Task:
    """One check about one target."""

    check: type[Check]
    views: tuple[ClusterView, ...]

    @property
    def clusters(self) -> tuple[str, ...]:
        """The target's cluster names, in direction order."""
        return tuple(v.name for v in self.views)


def targets(check: type[Check], views: Sequence[ClusterView]) -> list[tuple[ClusterView, ...]]:
    """The targets of ``check``: every cluster, every unordered pair, or every ordered pair (given order)."""
    if check.scope is Scope.CLUSTER:
        return [(v,) for v in views]
    if check.scope is Scope.PAIR:
        return list(itertools.combinations(views, 2))
    return list(itertools.permutations(views, 2))


def plan(checks: Iterable[type[Check]], views: Sequence[ClusterView]) -> list[Task]:
    """Every (check, target) of a run, in a deterministic order."""
    return [Task(check, t) for check in checks for t in targets(check, views)]


def result_of(task: Task, outcome: Outcome, duration: float) -> Result:
    """Stamp an outcome with the check's identity and the target."""
    check = task.check
    hint = outcome.hint
    if outcome.status in (Status.FAIL, Status.WARN) and not hint:
        hint = check.hint or None
    return Result(
        check=check.id,
        title=check.title,
        scope=check.scope,
        clusters=task.clusters,
        status=outcome.status,
        message=outcome.message,
        hint=hint,
        docs=check.docs if outcome.status in (Status.FAIL, Status.WARN, Status.ERROR) else None,
        tags=sorted_tags(check.tags),
        duration_s=duration,
        details=MappingProxyType(dict(outcome.details)),
    )


def _unavailable_outcome(exc: ResourceUnavailable) -> Outcome:
    if exc.kind == "not-served":
        return Outcome(Status.SKIP, f"not installed: {exc.message}")
    return Outcome(Status.ERROR, exc.message, exc.hint)


def precondition(task: Task) -> Outcome | None:
    """Why a task should not run at all (unreachable cluster, other provider), or ``None``."""
    for view in task.views:
        if view.unreachable and not task.check.fatal:
            return Outcome(Status.SKIP, f"cluster {view.name} unreachable: {view.unreachable}")
    if task.check.providers:
        for view in task.views:
            try:
                provider = view.fact(facts.detect_provider)
            except ResourceUnavailable as exc:
                return _unavailable_outcome(exc)
            if provider not in task.check.providers:
                wanted = "/".join(sorted(task.check.providers))
                return Outcome(
                    Status.SKIP,
                    f"applies to {wanted} clusters; {view.name} uses {provider}",
                    details={"not_applicable": provider},
                )
    return None


def evaluate(task: Task, all_views: tuple[ClusterView, ...], options: dict[str, Any], probes: Any = None) -> Outcome:
    """Run one task in the current thread: preconditions, then ``check.run``; never raises."""
    try:
        pre = precondition(task)
        if pre is not None:
            return pre
        outcome = task.check().run(CheckContext(task.views, all_views, MappingProxyType(options), probes))
        if not isinstance(outcome, Outcome):
            return Outcome(Status.ERROR, f"check returned {type(outcome).__name__}, not an Outcome")
        return outcome
    except ResourceUnavailable as exc:
        return _unavailable_outcome(exc)
    except Exception as exc:  # a check never raises out of the runner
        return Outcome(Status.ERROR, f"internal error in check: {exc.__class__.__name__}: {exc}")


def _run_with_timeout(fn: Callable[[], Outcome], timeout: float) -> tuple[Outcome, bool]:
    """Run ``fn`` in a daemon thread; on timeout return an error outcome and leave the thread behind."""
    box: Queue[Outcome] = Queue(maxsize=1)
    thread = threading.Thread(target=lambda: box.put(fn()), daemon=True, name="mcdiag-check")
    thread.start()
    try:
        return box.get(timeout=timeout), False
    except Empty:
        return Outcome(Status.ERROR, f"timed out after {timeout:g}s"), True


@dataclass
class RunReport:
    """Everything a writer needs: cluster facts, results and the summary."""

    started: datetime
    duration_s: float
    clusters: list[dict[str, Any]]
    results: list[Result]
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        """Count of results per status (every status present, zero or not)."""
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 with no fail and no error, else 1."""
        return 1 if any(r.status.is_problem for r in self.results) else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (CHECKS.md)."""
        return {
            "tool": "mcdiag",
            "version": __version__,
            "started": self.started.isoformat(timespec="seconds"),
            "duration_s": round(self.duration_s, 3),
            "interrupted": self.interrupted,
            "clusters": self.clusters,
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary,
            "notes": self.notes,
        }


def cluster_info(view: ClusterView, options: dict[str, Any]) -> dict[str, Any]:
    """The facts about a cluster that reports show (each best effort)."""

    def safe(fn: Callable[[], Any], default: Any = None) -> Any:
        if view.unreachable:
            return default
        try:
            return fn()
        except Exception:
            return default

    cidrs = safe(lambda: facts.cidrs_of(view, options))
    version = safe(view.version_info) or {}
    return {
        "name": view.name,
        "context": view.spec.resolved_context or view.spec.context,
        "server": view.spec.server,
        "provider": safe(lambda: view.fact(facts.detect_provider)),
        "cni": safe(lambda: view.fact(facts.detect_cni)),
        "k8s_version": version.get("gitVersion"),
        "pod_cidrs": cidrs.pod if cidrs else [],
        "service_cidrs": cidrs.service if cidrs else [],
        "reachable": view.unreachable is None,
    }


class Runner:
    """Runs tasks over views; ``progress`` is called with each result as it arrives."""

    def __init__(
        self,
        views: Sequence[ClusterView],
        options: dict[str, Any] | None = None,
        *,
        jobs: int = 8,
        check_timeout: float | None = None,
        progress: Callable[[Result], None] | None = None,
        probes: Any = None,
    ):
        self.views = tuple(views)
        self.options = dict(options or {})
        self.jobs = max(1, jobs)
        self.check_timeout = check_timeout
        self.progress = progress
        self.probes = probes
        self._interrupted = False

    def _timeout(self, check: type[Check]) -> float:
        return self.check_timeout or check.timeout or DEFAULT_CHECK_TIMEOUT

    def run_task(self, task: Task) -> Result:
        """One task, bounded by its timeout."""
        start = time.monotonic()
        outcome, _ = _run_with_timeout(
            lambda: evaluate(task, self.views, self.options, self.probes), self._timeout(task.check)
        )
        return result_of(task, outcome, time.monotonic() - start)

    def gate(self, gate_checks: Sequence[type[Check]]) -> dict[tuple[str, tuple[int, ...]], tuple[Outcome, float]]:
        """Run fatal checks on every cluster (concurrently); mark clusters that fail them unreachable.

        Outcomes are keyed by check id and view identity, so views may be renamed afterwards.
        """
        tasks = plan(gate_checks, self.views)
        done = self._run_many(tasks)
        out = {}
        for task, result in zip(tasks, done, strict=True):
            if result.status in (Status.ERROR, Status.FAIL):
                view = task.views[0]
                view.unreachable = view.unreachable or result.message
            outcome = Outcome(result.status, result.message, result.hint, dict(result.details))
            out[(task.check.id, tuple(id(v) for v in task.views))] = (outcome, result.duration_s)
        return out

    def _run_many(self, tasks: list[Task]) -> list[Result]:
        results: list[Result | None] = [None] * len(tasks)
        sem = threading.Semaphore(self.jobs)
        lock = threading.Lock()
        finished = threading.Event()
        remaining = [len(tasks)]

        def work(i: int, task: Task) -> None:
            try:
                results[i] = self.run_task(task)
                if self.progress:
                    self.progress(results[i])
            finally:
                sem.release()
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        finished.set()

        if not tasks:
            return []
        try:
            for i, task in enumerate(tasks):
                sem.acquire()
                threading.Thread(target=work, args=(i, task), daemon=True, name="mcdiag-task").start()
            while not finished.wait(0.2):
                pass
        except KeyboardInterrupt:
            self._interrupted = True
        return [
            r if r is not None else result_of(t, Outcome(Status.ERROR, "interrupted"), 0.0)
            for r, t in zip(results, tasks, strict=True)
        ]

    def run(
        self,
        checks: Sequence[type[Check]],
        gate_checks: Sequence[type[Check]] = (),
        after_gate: Callable[[], None] | None = None,
    ) -> RunReport:
        """Gate every cluster, call ``after_gate`` (naming, prefetch), then run ``checks`` on every target.

        Results come back in plan order: catalogue order of checks, then target order.
        """
        started = datetime.now(UTC)
        t0 = time.monotonic()
        self._interrupted = False
        gated = self.gate(gate_checks) if gate_checks else {}
        if after_gate and not self._interrupted:
            try:
                after_gate()
            except KeyboardInterrupt:
                self._interrupted = True
        results: list[Result] = []
        pending: list[Task] = []
        for task in plan(checks, self.views):
            key = (task.check.id, tuple(id(v) for v in task.views))
            if key in gated:
                outcome, duration = gated[key]
                results.append(result_of(task, outcome, duration))
            else:
                pending.append(task)
        if not self._interrupted:
            results.extend(self._run_many(pending))
        else:
            results.extend(result_of(t, Outcome(Status.ERROR, "interrupted"), 0.0) for t in pending)
        order = {c.id: i for i, c in enumerate(checks)}
        view_order = {v.name: i for i, v in enumerate(self.views)}
        results.sort(key=lambda r: (order.get(r.check, 0), [view_order.get(c, 0) for c in r.clusters]))
        return RunReport(
            started=started,
            duration_s=time.monotonic() - t0,
            clusters=[cluster_info(v, self.options) for v in self.views],
            results=results,
            interrupted=self._interrupted,
        )
