"""The runner's bound on concurrency: --jobs slots per cluster, a pair's check holding one on each of its clusters."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from mcdiag.model import Check, Outcome, Scope, Status
from mcdiag.run.runner import Runner, Slots, plan


def test_bound_per_number_of_clusters():
    assert (Slots.for_clusters(8, 2).per_cluster, Slots.for_clusters(8, 2).total) == (8, 8)  # as before: --jobs
    assert Slots.for_clusters(8, 1).total == 8
    assert Slots.for_clusters(8, 3).total == 12
    assert Slots.for_clusters(8, 4).total == 16
    assert Slots.for_clusters(8, 8).total == 32
    assert Slots.for_clusters(1, 2).total == 1 and Slots.for_clusters(1, 4).total == 2


def test_slots_are_taken_on_every_cluster_at_once():
    s = Slots(2, 3)
    with s.cond:
        assert s.admits(["a", "b"])
        s.take(["a", "b"])
        s.take(["a", "c"])
        assert not s.admits(["a", "d"])  # a holds 2
        assert s.admits(["b", "c"])
        s.take(["b", "c"])
        assert not s.admits(["d"])  # 3 in all
    s.give(["a", "b"])
    with s.cond:
        assert s.admits(["a", "d"]) and s.held == {"a": 1, "b": 1, "c": 2}


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.running = 0
        self.most_running = 0


def _check(rec: Recorder) -> type[Check]:
    class Busy(Check):
        id = "busy"
        title = "busy"
        scope = Scope.ORDERED_PAIR
        providers = None

        def run(self, ctx):
            names = [v.name for v in ctx.views]
            with rec.lock:
                rec.running += 1
                rec.most_running = max(rec.most_running, rec.running)
                for n in names:
                    rec.now[n] = rec.now.get(n, 0) + 1
                    rec.most[n] = max(rec.most.get(n, 0), rec.now[n])
            time.sleep(0.05)
            with rec.lock:
                rec.running -= 1
                for n in names:
                    rec.now[n] -= 1
            return Outcome(Status.PASS, "done")

    return Busy


def _views(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(name=f"c{i}", unreachable=None) for i in range(n)]


def test_ordered_pairs_of_four_clusters_run_side_by_side_within_the_bound():
    rec = Recorder()
    views = _views(4)
    tasks = plan([_check(rec)], views)
    assert len(tasks) == 12
    results = Runner(views, jobs=2).run_tasks(tasks)
    assert [r.status for r in results] == [Status.PASS] * 12
    assert [r.clusters for r in results] == [t.clusters for t in tasks]  # in the order given
    assert max(rec.most.values()) <= 2 and rec.most_running <= 4
    assert rec.most_running >= 2  # disjoint pairs did run side by side


def test_jobs_one_with_two_clusters_is_one_at_a_time():
    rec = Recorder()
    views = _views(2)
    results = Runner(views, jobs=1).run_tasks(plan([_check(rec)], views))
    assert len(results) == 2 and rec.most_running == 1
