"""The runner: targets, and parallel execution of (check, target) tasks with timeouts.

Checks run concurrently, each under its own timeout. The bound (:class:`Slots`): a
check holds one slot on each cluster it looks at (a pair's check on both), at most
``--jobs`` slots per cluster are held at once, and at most ``--jobs`` x N/2 checks
run in all (N clusters). So two clusters run as they always did (at most ``--jobs``
at once), and with more clusters the checks of disjoint pairs run side by side
while each cluster's API server and gateway see no more probes at once than with
two: 4 clusters run up to 2 x ``--jobs`` checks at once, 8 clusters 4 x. Whatever a
check raises becomes an ``error`` result with the reason; a
:class:`~mcdiag.errors.ResourceUnavailable` becomes ``skip`` when the resource
is simply not installed, ``error`` otherwise. A check about an unreachable
cluster (one whose fatal check, ``api-access``, did not pass) is ``skip``.
The order of a run (gate, prefetch, checks) is :class:`~mcdiag.run.session.Session`'s.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from queue import Empty, Queue
from types import MappingProxyType
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts.cluster import detect_provider
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, CheckContext, Outcome, Result, Scope, Status, sorted_tags, target_label
from mcdiag.run.options import DEFAULT_CHECK_TIMEOUT, DEFAULT_JOBS


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
        docs=(outcome.docs or check.docs) if outcome.status in (Status.FAIL, Status.WARN, Status.ERROR) else None,
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
                provider = view.fact(detect_provider)
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
        return _provider_docs(task, outcome)
    except ResourceUnavailable as exc:
        return _unavailable_outcome(exc)
    except Exception as exc:  # a check never raises out of the runner
        return Outcome(Status.ERROR, f"internal error in check: {exc.__class__.__name__}: {exc}")


def _provider_docs(task: Task, outcome: Outcome) -> Outcome:
    """Give the outcome the check's docs link for its clusters' provider (Netmaker results link Netmaker docs)."""
    if outcome.docs or not task.check.provider_docs:
        return outcome
    providers = []
    for view in task.views:
        try:
            providers.append(view.fact(detect_provider))
        except Exception:  # noqa: BLE001 - the check's own docs link then
            continue
    docs = task.check.docs_for(*providers)
    return dataclasses.replace(outcome, docs=docs) if docs != task.check.docs else outcome


def _run_with_timeout(fn: Callable[[], Outcome], timeout: float) -> tuple[Outcome, bool]:
    """Run ``fn`` in a daemon thread; on timeout return an error outcome and leave the thread behind."""
    box: Queue[Outcome] = Queue(maxsize=1)
    thread = threading.Thread(target=lambda: box.put(fn()), daemon=True, name="mcdiag-check")
    thread.start()
    try:
        return box.get(timeout=timeout), False
    except Empty:
        return Outcome(Status.ERROR, f"timed out after {timeout:g}s"), True


class Slots:
    """The runner's bound on concurrency: ``per_cluster`` slots on each cluster, ``total`` tasks in all.

    A task takes one slot on each of its clusters, all at once or none (no task holds some
    while waiting for others, so tasks never wait on each other in a circle).
    """

    def __init__(self, per_cluster: int, total: int):
        self.per_cluster = max(1, per_cluster)
        self.total = max(1, total)
        self.held: dict[str, int] = {}
        self.running = 0
        self.cond = threading.Condition()

    @classmethod
    def for_clusters(cls, jobs: int, clusters: int) -> Slots:
        """``jobs`` per cluster, ``jobs`` x N/2 in all (``jobs`` for one or two clusters)."""
        return cls(jobs, max(jobs, jobs * clusters // 2))

    def admits(self, clusters: Sequence[str]) -> bool:
        """Whether a task on ``clusters`` may start now (call with ``cond`` held)."""
        return self.running < self.total and all(self.held.get(c, 0) < self.per_cluster for c in set(clusters))

    def take(self, clusters: Sequence[str]) -> None:
        """Take the slots (call with ``cond`` held, after :meth:`admits`)."""
        self.running += 1
        for c in set(clusters):
            self.held[c] = self.held.get(c, 0) + 1

    def give(self, clusters: Sequence[str]) -> None:
        """Give the slots back and wake the dispatcher."""
        with self.cond:
            self.running -= 1
            for c in set(clusters):
                self.held[c] -= 1
            self.cond.notify_all()


class Runner:
    """Runs tasks over views; ``progress`` is called with each result as it arrives."""

    def __init__(
        self,
        views: Sequence[ClusterView],
        options: dict[str, Any] | None = None,
        *,
        jobs: int = DEFAULT_JOBS,
        check_timeout: float | None = None,
        progress: Callable[[Result], None] | None = None,
        probes: Any = None,
        on_start: Callable[[str], None] | None = None,
        stop: Callable[[], str | None] | None = None,
    ):
        self.views = tuple(views)
        #: Says why the run must stop now (an interrupt, the run's time limit), or None; polled while waiting.
        self.stop = stop
        self.options = dict(options or {})
        self.jobs = max(1, jobs)
        self.check_timeout = check_timeout
        self.progress = progress
        self.probes = probes
        #: Called with ``CHECK-ID[target]`` as a task starts (the CLI's live display shows what runs).
        self.on_start = on_start
        self._interrupted = False

    def _timeout(self, check: type[Check]) -> float:
        return self.check_timeout or check.timeout or DEFAULT_CHECK_TIMEOUT

    def run_task(self, task: Task) -> Result:
        """One task, bounded by its timeout."""
        start = time.monotonic()
        if self.on_start:
            self.on_start(f"{task.check.id}[{target_label(task.clusters, task.check.scope)}]")
        outcome, _ = _run_with_timeout(
            lambda: evaluate(task, self.views, self.options, self.probes), self._timeout(task.check)
        )
        return result_of(task, outcome, time.monotonic() - start)

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C (or SIGTERM) stopped a batch of tasks."""
        return self._interrupted

    def run_tasks(self, tasks: Sequence[Task]) -> list[Result]:
        """Run ``tasks`` concurrently (bounded by :class:`Slots`); results in the order given.

        Tasks start in the order given, except that one whose clusters have no free slot lets the
        next ones that fit go first. On Ctrl-C, or once ``stop`` gives a reason, the unfinished
        tasks become ``error`` results with reason ``interrupted`` (or that reason) and this
        returns at once.
        """
        results: list[Result | None] = [None] * len(tasks)
        slots = Slots.for_clusters(self.jobs, len(self.views))
        lock = threading.Lock()
        finished = threading.Event()
        remaining = [len(tasks)]

        def work(i: int, task: Task) -> None:
            try:
                results[i] = self.run_task(task)
                if self.progress and not self._interrupted:
                    self.progress(results[i])
            finally:
                slots.give(task.clusters)
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        finished.set()

        if not tasks:
            return []
        reason = "interrupted"
        try:
            pending = list(enumerate(tasks))
            while pending:
                with slots.cond:
                    pick = next((k for k, (_, t) in enumerate(pending) if slots.admits(t.clusters)), None)
                    if pick is None:
                        slots.cond.wait(0.1)
                    else:
                        slots.take(pending[pick][1].clusters)
                if self._stopped():
                    if pick is not None:
                        slots.give(pending[pick][1].clusters)
                    raise _Stop
                if pick is not None:
                    i, task = pending.pop(pick)
                    threading.Thread(target=work, args=(i, task), daemon=True, name="mcdiag-task").start()
            while not finished.wait(0.1):
                if self._stopped():
                    raise _Stop
        except KeyboardInterrupt:
            self._interrupted = True
        except _Stop:
            self._interrupted = True
            reason = self._stopped() or reason
        return [
            r if r is not None else result_of(t, Outcome(Status.ERROR, reason), 0.0)
            for r, t in zip(list(results), tasks, strict=True)
        ]

    def _stopped(self) -> str | None:
        return self.stop() if self.stop is not None else None


class _Stop(Exception):
    """The run must stop (interrupt or time limit): stop waiting for tasks."""
