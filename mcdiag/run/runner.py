"""The runner: targets, and parallel execution of (check, target) tasks with timeouts.

Checks run concurrently (``--jobs``), each under its own timeout. Whatever a
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
from mcdiag.run.options import DEFAULT_CHECK_TIMEOUT


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
        """Run ``tasks`` concurrently (at most ``jobs`` at once); results in the order given.

        On Ctrl-C, or once ``stop`` gives a reason, the unfinished tasks become ``error`` results
        with reason ``interrupted`` (or that reason) and this returns at once.
        """
        results: list[Result | None] = [None] * len(tasks)
        sem = threading.Semaphore(self.jobs)
        lock = threading.Lock()
        finished = threading.Event()
        remaining = [len(tasks)]

        def work(i: int, task: Task) -> None:
            try:
                results[i] = self.run_task(task)
                if self.progress and not self._interrupted:
                    self.progress(results[i])
            finally:
                sem.release()
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        finished.set()

        if not tasks:
            return []
        reason = "interrupted"
        try:
            for i, task in enumerate(tasks):
                while not sem.acquire(timeout=0.1):
                    if self._stopped():
                        raise _Stop
                if self._stopped():
                    sem.release()
                    raise _Stop
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
