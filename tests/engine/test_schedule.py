"""Dependency order with independent jobs at once (engine/schedule.py), in milliseconds."""

from __future__ import annotations

import threading
import time

import pytest

from controller.engine.schedule import in_dependency_order


class Recorder:
    """Each job's start and end, and how many ran at once at most."""

    def __init__(self, slow: dict[str, float] | None = None, fail: str | None = None) -> None:
        self.slow, self.fail = slow or {}, fail
        self.started: list[str] = []
        self.ended: list[str] = []
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, rid: str) -> None:
        with self._lock:
            self.started.append(rid)
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.slow.get(rid, 0.01))
        with self._lock:
            self.running -= 1
            self.ended.append(rid)
        if rid == self.fail:
            raise RuntimeError(f"{rid} failed")


def test_a_job_starts_only_after_everything_it_depends_on_ended() -> None:
    order = ["vpc", "subnet-a", "subnet-b", "sg", "service"]
    deps = {"subnet-a": {"vpc"}, "subnet-b": {"vpc"}, "sg": {"vpc"},
            "service": {"subnet-a", "subnet-b", "sg"}}
    jobs = Recorder()
    in_dependency_order(order, deps, jobs, parallelism=10)
    for rid, needs in deps.items():
        assert all(jobs.ended.index(n) < jobs.started.index(rid) for n in needs), rid
    assert jobs.most == 3  # the two subnets and the group at once


def test_at_most_parallelism_jobs_run_at_once() -> None:
    order = [f"queue-{i:02d}" for i in range(25)]
    jobs = Recorder()
    in_dependency_order(order, {}, jobs, parallelism=10)
    assert jobs.most == 10 and sorted(jobs.ended) == order


def test_one_at_a_time_runs_exactly_the_plans_order() -> None:
    order = ["vpc", "queue", "subnet", "service"]
    deps = {"subnet": {"vpc"}, "service": {"subnet", "queue"}}
    jobs = Recorder()
    in_dependency_order(order, deps, jobs, parallelism=1)
    assert jobs.started == order and jobs.most == 1


def test_a_slow_job_holds_only_what_depends_on_it() -> None:
    """Not wave by wave: the database's 0.5 s create does not hold the queue's consumer."""
    order = ["db", "queue", "api", "worker"]
    deps = {"api": {"db"}, "worker": {"queue"}}
    jobs = Recorder(slow={"db": 0.5})
    in_dependency_order(order, deps, jobs, parallelism=10)
    assert jobs.ended.index("worker") < jobs.ended.index("db")
    assert jobs.started.index("api") > jobs.ended.index("db")


def test_a_jobs_exception_stops_new_jobs_and_is_raised_after_those_in_flight() -> None:
    order = ["a", "b", "c", "d"]
    deps = {"c": {"a"}, "d": {"c"}}
    jobs = Recorder(slow={"b": 0.2}, fail="a")
    with pytest.raises(RuntimeError, match="a failed"):
        in_dependency_order(order, deps, jobs, parallelism=4)
    assert "b" in jobs.ended  # in flight: finished, never cut
    assert "c" not in jobs.started and "d" not in jobs.started


def test_dependencies_outside_the_order_are_ignored() -> None:
    jobs = Recorder()
    in_dependency_order(["api"], {"api": {"not-in-this-apply"}}, jobs, parallelism=2)
    assert jobs.ended == ["api"]


def test_a_read_a_concurrent_write_made_stale_is_not_kept() -> None:
    """Two resources written at once: one's listing starts before the other's create and
    ends after it; the second's re-read must not get that listing (it lacks it)."""
    from controller.resources.base import RunContext

    ctx = RunContext(None, "test")  # type: ignore[arg-type]
    listed: list[str] = ["a"]
    in_flight, written = threading.Event(), threading.Event()

    def slow_listing() -> list[str]:
        snapshot = list(listed)
        in_flight.set()
        written.wait(2)
        return snapshot

    first = threading.Thread(target=lambda: ctx.cached("listing", slow_listing))
    first.start()
    in_flight.wait(2)
    listed.append("b")  # the other resource's create...
    ctx.forget("listing")  # ...and its forget, while the first listing is in flight
    written.set()
    first.join()
    assert ctx.cached("listing", lambda: list(listed)) == ["a", "b"]


def test_a_batched_read_a_concurrent_write_made_stale_still_answers_its_own_caller() -> None:
    """Two listeners of one load balancer created at once (resources/batch.py ByNames):
    the listing that began before the second create must not answer the second's read."""
    from controller.resources.base import RunContext
    from controller.resources.batch import ByNames

    ctx = RunContext(None, "test")  # type: ignore[arg-type]
    listeners: list[str] = ["http"]
    in_flight, written = threading.Event(), threading.Event()

    def fetch(_: RunContext, names: list[str]) -> dict[str, list[str]]:
        snapshot = list(listeners)
        if not in_flight.is_set():
            in_flight.set()
            written.wait(2)
        return dict.fromkeys(names, snapshot)

    by_parent: ByNames[list[str]] = ByNames("test.listeners", fetch, 1)
    first: list[list[str] | None] = []
    reader = threading.Thread(target=lambda: first.append(by_parent.get(ctx, "alb")))
    reader.start()
    in_flight.wait(2)
    listeners.append("https")  # the second create...
    by_parent.forget(ctx, "alb")  # ...and its forget, while the first read is in flight
    written.set()
    reader.join()
    assert first == [["http"]]  # the first caller's own create is in what it read
    assert by_parent.get(ctx, "alb") == ["http", "https"]
