"""`gitops apply --wait`: follow what AWS is still doing until it is done.

After an apply, every resource the driver calls progressing (an ECS rollout, a
database creating, a certificate validating) is read again, one batched read
per kind and poll, until the driver calls it ready, failed (rolled back
included), or the time is up. Kind-agnostic: the words are the drivers'.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.aws.errors import AWS_ERRORS, describe_error
from controller.engine.observe import Node
from controller.engine.reconcile import Plan
from controller.resources.base import RunContext

POLL_SECONDS = 10.0


@dataclass(frozen=True)
class Outcome:
    resource: str
    state: str  # ready | failed | rolled_back | timeout
    message: str

    @property
    def ok(self) -> bool:
        return self.state == "ready"


def progressing(p: Plan) -> list[str]:
    """The resources not ready after the apply: what `--wait` follows."""
    return [rid for rid, node in p.nodes.items()
            if node.readiness is not None and not node.readiness.ready
            and node.readiness.state == "progressing"]


def wait_for_ready(p: Plan, resource_ids: list[str], *, timeout: float,
                   poll_seconds: float = POLL_SECONDS,
                   progress: Callable[[str], None] | None = None,
                   sleep: Callable[[float], None] = time.sleep,
                   clock: Callable[[], float] = time.monotonic) -> dict[str, Outcome]:
    """Poll until each resource is ready, failed, or `timeout` seconds passed."""
    say = progress or (lambda _: None)
    deadline = clock() + timeout
    waiting = {rid: p.nodes[rid] for rid in resource_ids}
    outcomes: dict[str, Outcome] = {}
    while waiting:
        ctx = RunContext(p.ctx.aws, p.stack.name)
        _prefetch(list(waiting.values()), ctx)
        for rid, node in list(waiting.items()):
            outcome, note = _judge(node, ctx)
            left = deadline - clock()
            if outcome is None and left <= 0:
                outcome = Outcome(rid, "timeout", f"timed out after {timeout:g} s: {note}")
            if outcome is None:
                say(f"{rid}: {note} ({left:.0f} s left)")
                continue
            outcomes[rid] = outcome
            del waiting[rid]
            say(f"{rid}: {outcome.message}")
        if waiting:
            sleep(max(0.0, min(poll_seconds, deadline - clock())))
    return {rid: outcomes[rid] for rid in resource_ids}


def _prefetch(nodes: list[Node], ctx: RunContext) -> None:
    by_kind: dict[str, list[Node]] = {}
    for node in nodes:
        by_kind.setdefault(node.doc.kind, []).append(node)
    for group in by_kind.values():
        with contextlib.suppress(*AWS_ERRORS):  # each read below reports the error
            group[0].driver.prefetch([n.desired for n in group if n.desired is not None], ctx)


def _judge(node: Node, ctx: RunContext) -> tuple[Outcome | None, str]:
    """A finished outcome, or None and what AWS is doing now."""
    assert node.desired is not None
    try:
        live = node.driver.observe(node.desired, ctx)
    except AWS_ERRORS as err:
        return None, f"unreadable ({describe_error(err)})"
    if live is None:
        return None, "not found yet"
    readiness = node.driver.readiness(node.desired, live)
    node.readiness = readiness
    if readiness.rolled_back is not None:
        rolled = readiness.rolled_back
        return Outcome(node.id, "rolled_back", f"{rolled.what} was rolled back by AWS "
                                               f"({rolled.reason})"), ""
    if readiness.state == "failed":
        return Outcome(node.id, "failed", f"failed: {readiness.reason}"), ""
    if readiness.ready:
        done = f"ready: {readiness.reason}" if readiness.reason else "ready"
        return Outcome(node.id, "ready", done), ""
    return None, readiness.reason or "progressing"
