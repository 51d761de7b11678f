"""One run, assembled in one place: :class:`Session`.

Every front door asks a session for its run: ``mcdiag all/run``
(:meth:`Session.run`), ``mcdiag gather`` (the same, then a snapshot of what the
views read) and the pytest plugin (:meth:`Session.start` once per process, then
:meth:`Session.run_task` per test item). The steps, in order:

1. options are validated and checks selected (unknown ids and empty selections
   are usage errors);
2. clusters are loaded (kubeconfigs, or a snapshot) and named, before anything
   runs, so every later step keys on the final names;
3. the gate: fatal checks (``api-access``) run on every cluster; an unreachable
   cluster's other checks are ``skip``;
4. the prefetch: what the selected checks declared they read, concurrently (the reads of checks
   that apply to one provider only on the clusters of that provider);
5. the checks, concurrently, each under its timeout (probe pods through the
   probe executor when active checks are selected);
6. cleanup of every probe object, whatever happened; its problems become notes.

Every stage is bounded: the whole run by ``--timeout``, each request by the
request timeout, each check by its own. An interrupt (Ctrl-C, SIGTERM, even
while kubeconfigs load) stops the stages within a second or two, cancels the
requests in flight, and the report still holds every planned result (the
unfinished ones ``error`` with reason ``interrupted``). Whatever leaves a session
(results, the report, progress) has passed through :func:`~mcdiag.gather.redact.scrub`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcdiag.errors import ResourceUnavailable, UsageError
from mcdiag.facts.cluster import PROVIDER_READS, detect_provider
from mcdiag.facts.netmaker import READ_FACTS
from mcdiag.facts.networks import CIDR_READS, CNI_READS, cidrs_of, detect_cni
from mcdiag.facts.submariner import submariner_cluster_id
from mcdiag.gather.kubeconfig import kill_exec_plugins, load_cluster
from mcdiag.gather.redact import scrub
from mcdiag.gather.resources import NAMESPACES, Resource
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, Outcome, Result, RunReport, Scope, Status
from mcdiag.run.causes import assign_causes
from mcdiag.run.options import Options
from mcdiag.run.registry import Registry, resolve
from mcdiag.run.runner import Runner, Task, plan, result_of


class Observer:
    """What a session tells its front door while it works (the CLI shows progress; pytest shows nothing)."""

    def note(self, text: str) -> None:
        """A stage of the run (loading, reading lists, probe pods, cleanup)."""

    def planned(self, total: int) -> None:
        """How many results the run will produce."""

    def result(self, result: Result) -> None:
        """One result arrived."""

    def started(self, label: str) -> None:
        """A check began on a target (``CHECK-ID[target]``)."""


class Session:
    """Builds and runs one diagnosis of the clusters ``options`` name."""

    def __init__(self, options: Options, *, registry: Registry | None = None, observer: Observer | None = None):
        options.validate()
        self.options = options
        self.registry = registry or resolve()
        self.observer = observer or Observer()
        self.checks = select_checks(self.registry, options.ids, options.tags, options.passive)
        self.gates = [c for c in self.registry.checks if c.fatal]
        self.views: list[ClusterView] = []
        self.notes: list[str] = []
        self.executor: Any = None
        self.runner: Runner | None = None
        self._gated: dict[tuple[str, tuple[str, ...]], Result] = {}
        self._infos: dict[str, dict[str, Any]] = {}
        self._infos_final: set[str] = set()
        self.interrupted = False
        #: Why the run stopped early ("interrupted", or the time limit), or None.
        self.stopped: str | None = None
        self.deadline: float | None = None
        #: Pairs of views that are one API server: frozenset of names -> why.
        self.same: dict[frozenset[str], str] = {}
        self._cleaned = False
        self._cancelled = False

    # -- 2. clusters --------------------------------------------------------------------------
    def load(self, names: Sequence[str] | None = None, views: Sequence[ClusterView] | None = None) -> list[ClusterView]:
        """Load the clusters and name them; ``names`` (from a pytest-xdist controller) skips the naming reads.

        ``views`` (already named, e.g. in-memory views in tests) replaces loading.
        """
        if views is not None:
            self.views = list(views)
            for view in self.views:
                view.read_facts = view.read_facts or READ_FACTS
        elif self.options.from_snapshot:
            from mcdiag.gather.snapshot import load_snapshot_views

            self.views = load_snapshot_views(Path(self.options.from_snapshot), self.options)
            dropped = [c.id for c in self.checks if "passive" not in c.tags]
            self.checks = [c for c in self.checks if "passive" in c.tags]
            self.notes.append(f"offline run from the snapshot {self.options.from_snapshot}: passive checks only")
            if dropped and self.options.ids:
                self.notes.append(f"not run (active checks need live clusters): {', '.join(dropped)}")
        else:
            specs = self.options.specs()
            if names is not None:
                for spec, name in zip(specs, names, strict=True):
                    spec.name, spec.explicit_name = name, True
            self.views = [
                ClusterView(spec, load_cluster(spec, self.options.request_timeout), provider_override=self.options.provider,
                            read_facts=READ_FACTS)
                for spec in specs
            ]
            self._arm_deadline()
            resolve_names(self.views, stop=self.stop_reason)
            self.notes += [f"cluster {v.name}: the API server's certificate is not verified (insecure-skip-tls-verify "
                           "in the kubeconfig)" for v in self.views if v.spec.extra.get("insecure")]
        if not self.checks:
            raise UsageError(self._empty_selection())
        self._arm_deadline()
        self.runner = Runner(
            self.views,
            self.options.check_options([v.name for v in self.views]),
            jobs=self.options.jobs,
            check_timeout=self.options.check_timeout,
            progress=lambda r: self.observer.result(scrub(r)),
            probes=self._executor(),
            on_start=self.observer.started,
            stop=self.stop_reason,
        )
        return self.views

    # -- bounds: the run's time limit and interrupts ---------------------------------------------
    def _arm_deadline(self) -> None:
        """Start the run's clock (``--timeout``) and hand the deadline to every live source."""
        timeout = getattr(self.options, "timeout", None)
        if self.deadline is None and timeout:
            self.deadline = time.monotonic() + timeout
        for view in self.views:
            if getattr(view.source, "live", False):
                view.source.deadline = self.deadline

    def stop_reason(self) -> str | None:
        """Why the run must stop now (interrupted, time limit reached), or None; the first time, it acts on it."""
        if self.stopped is None and self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped = f"not finished: the run's time limit of {self.options.timeout:g}s (--timeout) was reached"
        if self.stopped is not None and not self._cancelled:
            self._cancelled = True
            self.observer.note(f"stopping ({self.stopped}); the reports will say what did not finish")
            self._cancel_sources()
        return self.stopped

    def interrupt(self, reason: str = "interrupted") -> None:
        """Ask the run to stop: it does within a fraction of a second (no new request, waits return).

        Safe in a signal handler: it only sets attributes; the run's waits act on them.
        """
        if self.stopped is None:
            self.stopped = reason
        self.interrupted = True

    def _cancel_sources(self) -> None:
        for view in self.views:
            view.stop_reading("the run stopped first" if self.stopped == "interrupted" else "the run's time limit came first")
            event = getattr(view.source, "cancelled", None)
            if event is not None:
                event.set()
        kill_exec_plugins()

    def _executor(self) -> Any:
        if self.options.from_snapshot or not any("active" in c.tags for c in self.checks):
            return None
        from mcdiag.active.executor import ProbeExecutor

        self.executor = ProbeExecutor(
            {v.name: v.source for v in self.views},
            image=self.options.image,
            image_repository=self.options.image_repository,
            namespace=self.options.probe_namespace,
            start_timeout=self.options.probe_start_timeout,
        )
        return self.executor

    def _empty_selection(self) -> str:
        asked = [f"id(s) {', '.join(self.options.ids)}"] if self.options.ids else []
        asked += [f"tag(s) {', '.join(self.options.tags)}"] if self.options.tags else []
        asked += ["--passive"] if self.options.passive else []
        asked += ["a snapshot (passive checks only)"] if self.options.from_snapshot else []
        return f"no check selected by {' and '.join(asked) or 'the options'} (see `mcdiag list`)"

    # -- 3. and 4. the gate and the prefetch --------------------------------------------------
    def gate(self) -> list[Result]:
        """Run the fatal checks on every cluster; those that do not pass mark their cluster unreachable."""
        assert self.runner is not None, "load() first"
        tasks = plan(self.gates, self.views)
        results = self.runner.run_tasks(tasks)
        for task, result in zip(tasks, results, strict=True):
            if result.status.is_problem:
                view = task.views[0]
                view.unreachable = view.unreachable or result.message
            self._gated[(task.check.id, task.clusters)] = result
        return results

    def prefetch(self) -> None:
        """Read what the selected checks declared, from every reachable cluster, concurrently."""
        reachable = [v for v in self.views if not v.unreachable]
        if not reachable:
            return
        wanted = prefetch_reads(self.checks)
        self.observer.note(f"reading up to {len(wanted)} queries from {', '.join(v.name for v in reachable)}")
        run_until_stopped([lambda v=v: prefetch_view(v, self.checks) for v in reachable], self.stop_reason, "prefetch")
        if any(c.scope is not Scope.CLUSTER for c in self.checks):  # only pair checks are about two servers
            self.same = same_servers(self.views)

    def start(self, names: Sequence[str] | None = None) -> None:
        """Steps 2 to 4: load and name the clusters, gate them, read what the checks need."""
        self.load(names)
        self._gate_and_prefetch()

    def _gate_and_prefetch(self) -> None:
        if self.executor is not None:
            self.observer.note(
                f"probe pods: namespace {self.executor.namespace}, image {self.executor.image}, run id {self.executor.run_id}"
            )
        self.gate()
        if not self.runner.interrupted:
            self.prefetch()

    # -- 5. the checks --------------------------------------------------------------------------
    def run_task(self, check: type[Check], clusters: Sequence[str]) -> Result:
        """One check about one target (a pytest item); a gate check's result is the gate's."""
        assert self.runner is not None, "start() first"
        key = (check.id, tuple(clusters))
        if key in self._gated:
            return scrub(self._gated[key])
        by_name = {v.name: v for v in self.views}
        task = Task(check, tuple(by_name[n] for n in clusters))
        same, _ = self._same_server_results([task])
        return scrub(same[0] if same else self.runner.run_task(task))

    def run(self, views: Sequence[ClusterView] | None = None) -> RunReport:
        """The whole run (steps 2 to 6); the report holds every planned result, interrupted or not."""
        started, t0 = datetime.now(UTC), _now()
        results: list[Result] = []
        tasks: list[Task] = []
        try:
            try:
                self.load(views=views)
                tasks = plan(self.checks, self.views)
                self.observer.planned(len(tasks))
                self.observer.note(f"checking {len(self.views)} cluster(s): {len(self.checks)} check(s)")
                self._gate_and_prefetch()
                pending = [t for t in tasks if (t.check.id, t.clusters) not in self._gated]
                same, pending = self._same_server_results(pending)
                done = same + ([] if self.stop_reason() else self.runner.run_tasks(pending))
            except KeyboardInterrupt:
                self.interrupt()
                done = []
            if self.runner is not None and self.runner.interrupted:
                self.interrupt()
            self.stop_reason()
            self.interrupted = self.interrupted or self.stopped is not None
            reason = self.stopped or "interrupted"
            finished = {(r.check, r.clusters): r for r in list(self._gated.values()) + done}
            results = [
                finished.get((t.check.id, t.clusters)) or result_of(t, Outcome(Status.ERROR, reason), 0.0) for t in tasks
            ]
            if self.stopped and not tasks:
                self.notes.append(f"{reason} before any check was planned (while loading the clusters)")
            elif self.stopped:
                unfinished = sum(1 for t in tasks if (t.check.id, t.clusters) not in finished)
                self.notes.append(f"{reason}: {unfinished} of {len(tasks)} result(s) did not finish")
            results = assign_causes(results, self.registry.checks)
        except KeyboardInterrupt:  # a second interrupt while assembling: keep what there is
            self.interrupt()
            self.stop_reason()
        finally:
            try:
                self.notes.extend(self.close())
            except KeyboardInterrupt:
                self.notes.append("cleanup was interrupted: probe objects may be left behind"
                                  + (f"; run `mcdiag cleanup --run-id {self.executor.run_id}`" if self.executor else ""))
        try:
            infos = self.cluster_infos()
        except KeyboardInterrupt:
            infos = [{"name": v.name, "server": v.spec.server} for v in self.views]
        self.notes.extend(self.same.values())
        return scrub(RunReport(
            started=started,
            duration_s=_now() - t0,
            clusters=infos,
            results=results,
            interrupted=self.interrupted,
            notes=list(dict.fromkeys(self.notes)),
            fail_on_warn=self.options.fail_on == "warn",
            options=shown_options(self.options),
        ))

    def _same_server_results(self, tasks: list[Task]) -> tuple[list[Result], list[Task]]:
        """Pair tasks between two names of one API server: the first says so (error), the rest skip."""
        if not self.same:
            return [], tasks
        out, rest, said = [], [], set()
        for task in tasks:
            key = frozenset(task.clusters)
            why = self.same.get(key) if len(task.clusters) > 1 else None
            if why is None:
                rest.append(task)
                continue
            if key in said:
                outcome = Outcome(Status.SKIP, f"{' and '.join(sorted(key))} are one API server (see the error above)")
            else:
                said.add(key)
                outcome = Outcome(Status.ERROR, why, hint="Give two different clusters: each kubeconfig/context must point "
                                  "at its own API server.")
            result = result_of(task, outcome, 0.0)
            self.observer.result(scrub(result))
            out.append(result)
        return out, rest

    # -- 6. cleanup -----------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Delete every probe object this run created; returns what could not be deleted (never raises)."""
        if self.executor is None or self._cleaned:
            return []
        self._cleaned = True
        self.observer.note("deleting probe pods and objects of this run")
        self._allow_cleanup()
        problems = scrub(self.executor.cleanup())
        if not problems:
            return []
        return [f"cleanup: {p}" for p in problems] + [
            f"probe objects were left behind: run `mcdiag cleanup --run-id {self.executor.run_id}` with the same cluster options"
        ]

    def _allow_cleanup(self) -> None:
        """Let cleanup requests through after an interrupt or the time limit, within a short budget of their own."""
        budget = CLEANUP_BUDGET if self.stopped else max(CLEANUP_BUDGET, 3 * self.options.request_timeout)
        for view in self.views:
            source = view.source
            if getattr(source, "live", False):
                source.cancelled.clear()
                source.deadline = time.monotonic() + budget

    # -- what reports show --------------------------------------------------------------------
    def cluster_info(self, view: ClusterView) -> dict[str, Any]:
        """The facts about a cluster that reports show (each best effort, from what the run read).

        Worked out once every fact could be (before that, again at each call: a pytest run reads more
        as its items run).
        """
        if view.name not in self._infos_final:
            self._infos[view.name] = scrub(cluster_info(view, self.runner.options if self.runner else {}))
            if view.unreachable or all(view.holds(r) for r in (*PROVIDER_READS, *CNI_READS, *CIDR_READS)):
                self._infos_final.add(view.name)
        return self._infos[view.name]

    def cluster_infos(self) -> list[dict[str, Any]]:
        """:meth:`cluster_info` of every cluster, in order."""
        return [self.cluster_info(v) for v in self.views]


#: Seconds cleanup may take after an interrupt or the time limit (what is left becomes a note).
CLEANUP_BUDGET = 2.0


def _now() -> float:
    return time.monotonic()


def run_until_stopped(jobs: Sequence[Callable[[], Any]], stop: Callable[[], str | None], name: str) -> bool:
    """Run ``jobs`` in daemon threads; return once all finished (True) or ``stop()`` says why not (False).

    Daemon threads never keep the process alive: a request that hangs is left behind, bounded by its own timeout.
    """
    threads = [threading.Thread(target=_quietly(job), daemon=True, name=f"mcdiag-{name}") for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            if stop():
                return False
            t.join(0.1)
    return True


def _quietly(job: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:
            pass  # every job contains its own failures (views cache them)

    return run


#: The kube-system namespace (metadata): its UID tells two names of one API server apart.
KUBE_SYSTEM_NAMESPACE = NAMESPACES.named("kube-system").metadata()
#: What a session reads itself when pair checks are selected (besides the checks' reads).
SAME_SERVER_READS = (KUBE_SYSTEM_NAMESPACE,)


def same_servers(views: Sequence[ClusterView]) -> dict[frozenset[str], str]:
    """Pairs of views that are one API server: same server URL and CA, or the same kube-system namespace UID."""
    out: dict[frozenset[str], str] = {}

    def uid(view: ClusterView) -> str | None:
        if view.unreachable:
            return None
        try:
            for ns in view.list(KUBE_SYSTEM_NAMESPACE):
                meta = ns.get("metadata") or {}
                if meta.get("name") == "kube-system" and meta.get("uid"):
                    return str(meta["uid"])
        except Exception:
            return None
        return None

    for i, a in enumerate(views):
        for b in views[i + 1:]:
            ida, idb = a.spec.extra.get("identity"), b.spec.extra.get("identity")
            if ida and ida == idb:
                why = f"same server URL and CA ({a.spec.server})"
            else:
                ua = uid(a)
                if ua is None or ua != uid(b):
                    continue
                why = f"same kube-system namespace UID {ua}"
            out[frozenset((a.name, b.name))] = (
                f"{a.name} and {b.name} are the same API server ({why}): the checks between them are not run"
            )
    return out


def resolve_names(views: Sequence[ClusterView], stop: Callable[[], str | None] = lambda: None) -> None:
    """Give every view a unique name: ``--cluster`` name, else Submariner cluster id, else context (de-duplicated).

    Discovery asks each cluster's ``/version`` and then its Submariner CR, concurrently; both are
    bounded by the request timeout and cached by the view, so an unreachable cluster costs one
    timeout for the whole run (``api-access`` reuses the cached failure).
    """

    def discovered(view: ClusterView) -> str | None:
        try:
            view.version_info()
            return submariner_cluster_id(view)
        except Exception:
            return None

    pending = [v for v in views if not v.spec.explicit_name]
    if pending:
        ids: dict[int, str | None] = {}

        def job(i: int, view: ClusterView) -> Callable[[], None]:
            return lambda: ids.__setitem__(i, discovered(view))

        run_until_stopped([job(i, v) for i, v in enumerate(pending)], stop, "names")
        for i, view in enumerate(pending):
            view.name = ids.get(i) or view.spec.resolved_context or view.spec.context or "cluster"
    taken: set[str] = {v.name for v in views if v.spec.explicit_name}
    for view in views:
        if view.spec.explicit_name:
            continue
        base, n = view.name, 2
        while view.name in taken:
            view.name = f"{base}-{n}"
            n += 1
        taken.add(view.name)
    for view in views:
        view.spec.name = view.name


def shown_options(options: Options) -> dict[str, Any]:
    """The options a report shows: what changes what ran and how it was judged (no paths, no credentials)."""
    shown: dict[str, Any] = {"passive": options.passive, "fail_on": options.fail_on}
    for name in ("provider", "ids", "tags", "pod_cidr", "service_cidr", "netmaker_subnet", "service", "image",
                 "image_repository", "from_snapshot", "check_timeout"):
        value = getattr(options, name, None)
        if value not in (None, [], ""):
            shown[name] = value
    shown["max_rtt"] = options.max_rtt
    shown["in_cluster"] = getattr(options, "in_cluster", False)
    return shown


def cluster_names(options: Options) -> list[str]:
    """The names a run gives the clusters ``options`` name (what a pytest-xdist controller hands its workers)."""
    views = [ClusterView(spec, load_cluster(spec, options.request_timeout)) for spec in options.specs()]
    resolve_names(views)
    return [v.name for v in views]


def select_checks(
    registry: Registry, ids: Iterable[str] = (), tags: Iterable[str] = (), passive: bool = False
) -> list[type[Check]]:
    """The checks a run asked for; unknown ids are a usage error."""
    ids, tags = list(ids), list(tags)
    unknown = [i for i in ids if registry.get(i) is None]
    if unknown:
        import difflib

        close = [m for u in unknown for m in difflib.get_close_matches(u, registry.ids(), n=1, cutoff=0.6)]
        guess = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown check id(s): {', '.join(unknown)}{guess} (see `mcdiag list`)")
    chosen = [registry.get(i) for i in dict.fromkeys(ids)] if ids else list(registry.checks)
    if tags:
        chosen = [c for c in chosen if set(tags) & set(c.tags)]
    if passive:
        chosen = [c for c in chosen if "passive" in c.tags]
    return [c for c in chosen if c is not None]


def reads_of(checks: Iterable[type[Check]]) -> set[Resource]:
    """Every query the given checks declare (read ahead or when needed), and what the session reads for them.

    Nothing else: the cluster facts reports show are worked out from what the checks read
    (:func:`cluster_info`), never read for themselves.
    """
    checks = list(checks)
    out: set[Resource] = set()
    for check in checks:
        out.update(check.reads)
        out.update(check.reads_if_needed)
    if any(c.scope is not Scope.CLUSTER for c in checks):
        out.update(SAME_SERVER_READS)
    return out


def prefetch_reads(checks: Iterable[type[Check]]) -> set[Resource]:
    """What the run may read ahead for these checks: their ``reads`` (never ``reads_if_needed``)."""
    checks = list(checks)
    out: set[Resource] = set()
    for check in checks:
        out.update(check.reads)
    if any(c.providers for c in checks):
        out.update(PROVIDER_READS)
    return out


def prefetch_view(view: ClusterView, checks: Sequence[type[Check]]) -> None:
    """Read ahead, from one cluster, what the checks that apply to it declared (each query once).

    Checks for every provider first, with what tells the provider; then, once the provider is
    known, the reads of the checks that apply to it alone (all of them when it cannot be told).
    A query that such a check may read more broadly waits for the second step, so that one
    request serves both.
    """
    anywhere = prefetch_reads([c for c in checks if not c.providers])
    some = [c for c in checks if c.providers]
    if not some:
        view.prefetch(anywhere)
        return
    later = prefetch_reads(some) - set(PROVIDER_READS)
    first = anywhere | set(PROVIDER_READS)
    deferred = {q for q in first - set(PROVIDER_READS) if any(p != q and p.covers(q) for p in later)}
    view.prefetch(first - deferred)
    try:
        provider: str | None = view.fact(detect_provider)
    except ResourceUnavailable:
        provider = None  # cannot tell: read what every check would
    wanted = set(deferred)
    for check in some:
        if provider is None or provider in check.providers:
            wanted.update(check.reads)
    view.prefetch(wanted)


def cluster_info(view: ClusterView, options: dict[str, Any]) -> dict[str, Any]:
    """The facts about a cluster that reports show (each best effort)."""

    def safe(fn: Callable[[], Any], default: Any = None) -> Any:
        if view.unreachable:
            return default
        try:
            return fn()
        except Exception:
            return default

    def known(reads: Iterable[Resource], fn: Callable[[], Any]) -> Any:
        """``fn()`` when the run read what it needs, else None: a report never reads for itself."""
        return safe(fn) if all(view.holds(r) for r in reads) else None

    cidrs = known(CIDR_READS, lambda: cidrs_of(view, options))
    version = safe(view.version_info) or {}
    provider = (safe(lambda: view.fact(detect_provider)) if view.provider_override
                else known(PROVIDER_READS, lambda: view.fact(detect_provider)))
    return {
        "name": view.name,
        "context": view.spec.resolved_context or view.spec.context,
        "server": view.spec.server,
        "provider": provider,
        "cni": known(CNI_READS, lambda: view.fact(detect_cni)),
        "k8s_version": version.get("gitVersion"),
        "pod_cidrs": cidrs.pod if cidrs else [],
        "service_cidrs": cidrs.service if cidrs else [],
        "reachable": view.unreachable is None,
    }
