"""The daemon's back-off of a write that keeps failing, with the fake driver: tried at
once after one failure, then after 30 s, 60 s... (at most 15 minutes), held in the plan
with the reason; at once when git changes it; forgotten once it succeeds. The rest of
the stack is written as usual."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.engine.backoff import WriteBackoff
from controller.engine.reconcile import apply, plan
from controller.model import Desired, Observed
from controller.resources.base import RunContext
from tests.engine.fake import Cloud, FakeDriver, gateway, kind_of, stack

DOCS = """
kind: app.Queue
name: jobs
spec: {size: %d}
---
kind: app.Topic
name: alarms
spec: {size: 1}
"""


class Refused(FakeDriver):
    """A kind whose creates AWS refuses while `refusing` (a quota, a 500 that stays)."""

    refusing = True

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        if type(self).refusing:
            self.cloud.writes.append(("refused", desired.id))
            raise RuntimeError("LimitExceeded: too many queues")
        return super().create(desired, ctx)


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    cloud = Cloud()
    queue = type("FakeQueue", (Refused,), {"kind": "app.Queue", "cloud": cloud})()
    kinds = {"app.Queue": queue, "app.Topic": kind_of(cloud, "app.Topic")}
    now = [0.0]
    backoff = WriteBackoff(clock=lambda: now[0])

    def run(size: int = 60) -> Any:
        planned = plan(stack(tmp_path, kinds, DOCS % size), gateway(), hold=backoff.hold_rule)
        changes = apply(planned)
        backoff.record(changes, planned.nodes)
        return next(c for c in changes.changes if c.id == "app.Queue/jobs")

    return cloud, queue, now, run


def test_a_failing_write_is_tried_less_often_and_says_when(setup: Any) -> None:
    cloud, _, now, run = setup
    assert run().result == "error"  # first failure: tried again on the next run
    assert run().result == "error"  # second in a row: now it waits 30 s
    now[0] += 10
    held = run()
    assert held.result == "held" and held.held
    assert held.reason == ("held: its write failed 2 times in a row (last: RuntimeError: "
                           "LimitExceeded: too many queues); tried again in 20 s, at once if "
                           "git changes it, or by `gitops apply`")
    now[0] += 21
    assert run().result == "error"  # third: 60 s
    now[0] += 59
    assert run().result == "held"
    assert [w for w in cloud.writes if w[0] == "refused"] == [("refused", "app.Queue/jobs")] * 3
    assert ("create", next(w[1] for w in cloud.writes if "app.Topic" in w[1])) in cloud.writes


def test_a_change_in_git_is_tried_at_once_and_success_is_forgotten(setup: Any) -> None:
    _, queue, _now, run = setup
    run()
    run()
    assert run().result == "held"
    type(queue).refusing = False
    assert run(size=61).result == "success", "git changed it: tried at once"
    assert run(size=61).action == "no-op"


def test_the_wait_doubles_up_to_fifteen_minutes(setup: Any) -> None:
    _, _, now, run = setup
    waits = []
    run()
    for _ in range(8):
        assert run().result == "error"
        held = run()
        waits.append(int(held.reason.split("tried again in ")[1].split(" s")[0]))
        now[0] += waits[-1] + 1
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]
