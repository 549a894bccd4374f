"""Apply writes independent resources at once (default 10, as Terraform), in dependency
order, with the same isolation of failures and the same output as one at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from controller.engine.reconcile import apply, plan
from controller.engine.shutdown import Shutdown
from controller.model import Desired, Observed
from controller.render.text import text
from controller.resources.base import RunContext
from tests.engine.fake import Cloud, FakeDriver, gateway, stack


class Concurrency:
    """How many creates were in flight at once, and when each started and ended."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.events: list[tuple[str, str]] = []
        self.fail: set[str] = set()
        self.on_create: Any = None


def slow_kind(cloud: Cloud, kind: str, seen: Concurrency) -> FakeDriver:
    class Slow(FakeDriver):
        def create(self, desired: Desired, ctx: RunContext) -> Observed:
            with seen.lock:
                seen.now += 1
                seen.most = max(seen.most, seen.now)
                seen.events.append(("start", desired.id))
            try:
                if seen.on_create is not None:
                    seen.on_create(desired)
                time.sleep(0.03)
                if desired.name in seen.fail:
                    raise RuntimeError(f"AWS refused {desired.name}")
                return super().create(desired, ctx)
            finally:
                with seen.lock:
                    seen.now -= 1
                    seen.events.append(("end", desired.id))

    Slow.kind, Slow.cloud = kind, cloud
    return Slow()


def docs(queues: int) -> str:
    """`queues` independent queues, and a service on the first one."""
    parts = [f"kind: app.Queue\nname: q{i:02d}\nspec: {{size: {i}}}\n" for i in range(queues)]
    parts.append("kind: app.Service\nname: api\n"
                 'spec: {size: 2, parent: "${ref:app.Queue/q00.id}"}\n')
    return "---\n".join(parts)


def kinds(cloud: Cloud, seen: Concurrency) -> dict[str, FakeDriver]:
    return {"app.Queue": slow_kind(cloud, "app.Queue", seen),
            "app.Service": slow_kind(cloud, "app.Service", seen)}


def test_independent_creates_run_ten_at_a_time_in_dependency_order(tmp_path: Path) -> None:
    cloud, seen = Cloud(), Concurrency()
    registry = kinds(cloud, seen)
    cs = apply(plan(stack(tmp_path, registry, docs(25)), gateway()))
    assert not cs.failed and len(cloud.items) == 26
    assert seen.most == 10
    assert seen.events.index(("end", "app.Queue/q00")) < seen.events.index(
        ("start", "app.Service/api"))
    again = plan(stack(tmp_path, registry, docs(25)), gateway())
    assert not again.changes.has_changes


def test_the_output_is_the_plans_order_whatever_order_the_writes_ended(tmp_path: Path) -> None:
    outputs = []
    for parallelism in (1, 10):
        cloud, seen = Cloud(), Concurrency()
        registry = kinds(cloud, seen)
        cs = apply(plan(stack(tmp_path, registry, docs(12)), gateway()),
                   parallelism=parallelism)
        outputs.append(text(cs, color=False).replace(f"{cs.duration_seconds:.1f}", "T"))
    assert [c.id for c in cs.changes] == ["app.Queue/q00", *[f"app.Queue/q{i:02d}" for i in
                                                              range(1, 12)], "app.Service/api"]
    assert _without_times(outputs[0]) == _without_times(outputs[1])


def test_a_failure_skips_its_dependents_only(tmp_path: Path) -> None:
    cloud, seen = Cloud(), Concurrency()
    seen.fail = {"q00", "q05"}
    cs = apply(plan(stack(tmp_path, kinds(cloud, seen), docs(12)), gateway()))
    results = {c.id: c.result for c in cs.changes}
    assert results["app.Queue/q00"] == "error" and results["app.Queue/q05"] == "error"
    assert results["app.Service/api"] == "skipped"
    assert [rid for rid, r in results.items() if r == "success"] == [
        f"app.Queue/q{i:02d}" for i in range(1, 12) if i != 5]
    assert "AWS refused q05" in (cs.changes[5].error or "")


def test_a_shutdown_lets_the_writes_in_flight_end_and_starts_no_other(tmp_path: Path) -> None:
    cloud, seen = Cloud(), Concurrency()
    stop = Shutdown()

    def stop_at_the_fifth(desired: Desired) -> None:
        if desired.name == "q04":
            stop.request()

    seen.on_create = stop_at_the_fifth
    cs = apply(plan(stack(tmp_path, kinds(cloud, seen), docs(25)), gateway()), stop=stop,
               parallelism=10)
    results = [c.result for c in cs.changes]
    written = results.count("success")
    assert 5 <= written <= 10  # the five started, and those already in flight with them
    assert results.count("skipped") == 26 - written
    assert len(cloud.items) == written and stop.wait_for_writes(0) == []


def _without_times(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if " s" not in line
                     and "second" not in line)
