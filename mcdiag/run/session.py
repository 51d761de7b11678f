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
4. the prefetch: what the selected checks declared they read, concurrently;
5. the checks, concurrently, each under its timeout (probe pods through the
   probe executor when active checks are selected);
6. cleanup of every probe object, whatever happened; its problems become notes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcdiag.errors import UsageError
from mcdiag.facts.cluster import PROVIDER_READS, detect_provider
from mcdiag.facts.netmaker import READ_FACTS
from mcdiag.facts.networks import CIDR_READS, CNI_READS, cidrs_of, detect_cni
from mcdiag.facts.submariner import submariner_cluster_id
from mcdiag.gather.kubeconfig import load_cluster
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, Outcome, Result, RunReport, Status
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
        self.interrupted = False

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
            resolve_names(self.views)
        if not self.checks:
            raise UsageError(self._empty_selection())
        self.runner = Runner(
            self.views,
            self.options.check_options([v.name for v in self.views]),
            jobs=self.options.jobs,
            check_timeout=self.options.check_timeout,
            progress=self.observer.result,
            probes=self._executor(),
            on_start=self.observer.started,
        )
        return self.views

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
        wanted = reads_of(self.checks)
        reachable = [v for v in self.views if not v.unreachable]
        if not reachable:
            return
        self.observer.note(f"reading {len(wanted)} resource lists from {', '.join(v.name for v in reachable)}")
        with ThreadPoolExecutor(max_workers=len(reachable)) as pool:
            list(pool.map(lambda v: v.prefetch(wanted), reachable))

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
            return self._gated[key]
        by_name = {v.name: v for v in self.views}
        return self.runner.run_task(Task(check, tuple(by_name[n] for n in clusters)))

    def run(self, views: Sequence[ClusterView] | None = None) -> RunReport:
        """The whole run (steps 2 to 6); the report holds every planned result, interrupted or not."""
        started, t0 = datetime.now(UTC), _now()
        results: list[Result] = []
        try:
            self.load(views=views)
            tasks = plan(self.checks, self.views)
            self.observer.planned(len(tasks))
            self.observer.note(f"checking {len(self.views)} cluster(s): {len(self.checks)} check(s)")
            try:
                self._gate_and_prefetch()
                pending = [t for t in tasks if (t.check.id, t.clusters) not in self._gated]
                done = [] if self.runner.interrupted else self.runner.run_tasks(pending)
            except KeyboardInterrupt:
                self.runner._interrupted = True
                done = []
            self.interrupted = self.runner.interrupted
            finished = {(r.check, r.clusters): r for r in list(self._gated.values()) + done}
            results = [
                finished.get((t.check.id, t.clusters)) or result_of(t, Outcome(Status.ERROR, "interrupted"), 0.0)
                for t in tasks
            ]
            results = assign_causes(results, self.registry.checks)
        finally:
            self.notes.extend(self.close())
        return RunReport(
            started=started,
            duration_s=_now() - t0,
            clusters=self.cluster_infos(),
            results=results,
            interrupted=self.interrupted,
            notes=list(self.notes),
            fail_on_warn=self.options.fail_on == "warn",
            options=shown_options(self.options),
        )

    # -- 6. cleanup -----------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Delete every probe object this run created; returns what could not be deleted (never raises)."""
        if self.executor is None:
            return []
        self.observer.note("deleting probe pods and objects of this run")
        problems = self.executor.cleanup()
        if not problems:
            return []
        return [f"cleanup: {p}" for p in problems] + [
            f"probe objects were left behind: run `mcdiag cleanup --run-id {self.executor.run_id}` with the same cluster options"
        ]

    # -- what reports show --------------------------------------------------------------------
    def cluster_info(self, view: ClusterView) -> dict[str, Any]:
        """The facts about a cluster that reports show (each best effort, worked out once)."""
        if view.name not in self._infos:
            self._infos[view.name] = cluster_info(view, self.runner.options if self.runner else {})
        return self._infos[view.name]

    def cluster_infos(self) -> list[dict[str, Any]]:
        """:meth:`cluster_info` of every cluster, in order."""
        return [self.cluster_info(v) for v in self.views]


def _now() -> float:
    return time.monotonic()


def resolve_names(views: Sequence[ClusterView]) -> None:
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
        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            ids = list(pool.map(discovered, pending))
        for view, cid in zip(pending, ids, strict=True):
            view.name = cid or view.spec.resolved_context or view.spec.context or "cluster"
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


def reads_of(checks: Iterable[type[Check]]) -> set:
    """Every resource the given checks (and the facts reports show) read."""
    out = set(PROVIDER_READS) | set(CIDR_READS) | set(CNI_READS)
    for check in checks:
        out.update(check.reads)
    return out


def cluster_info(view: ClusterView, options: dict[str, Any]) -> dict[str, Any]:
    """The facts about a cluster that reports show (each best effort)."""

    def safe(fn: Callable[[], Any], default: Any = None) -> Any:
        if view.unreachable:
            return default
        try:
            return fn()
        except Exception:
            return default

    cidrs = safe(lambda: cidrs_of(view, options))
    version = safe(view.version_info) or {}
    return {
        "name": view.name,
        "context": view.spec.resolved_context or view.spec.context,
        "server": view.spec.server,
        "provider": safe(lambda: view.fact(detect_provider)),
        "cni": safe(lambda: view.fact(detect_cni)),
        "k8s_version": version.get("gitVersion"),
        "pod_cidrs": cidrs.pod if cidrs else [],
        "service_cidrs": cidrs.service if cidrs else [],
        "reachable": view.unreachable is None,
    }
