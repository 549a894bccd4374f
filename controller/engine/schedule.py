"""Running a job per resource in dependency order, independent ones at once.

Why not wave by wave: a wave waits for its slowest member, so one slow create (an
ECS service, a database) would hold every unrelated resource of the next wave. Here
a resource starts as soon as everything it depends on has ended, at most
`parallelism` at a time (Terraform's `-parallelism` is 10 too: AWS throttles
bursts of writes per account, and the retries absorb what is left). Among the
resources ready at once the plan's order comes first, so one worker runs them in
exactly the plan's order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

DEFAULT_PARALLELISM = 10
MAX_PARALLELISM = 100  # past this, AWS's write throttling is all that grows


def in_dependency_order(order: list[str], depends_on: Mapping[str, Collection[str]],
                        job: Callable[[str], None], parallelism: int) -> None:
    """Run `job(id)` for each id of `order` (a topological order) once each of its
    `depends_on` within `order` has returned. A job's exception is raised after the
    jobs in flight end, and no job starts after it."""
    position = {rid: i for i, rid in enumerate(order)}
    waiting = {rid: {d for d in depends_on.get(rid, ()) if d in position} for rid in order}
    dependents: dict[str, list[str]] = {rid: [] for rid in order}
    for rid, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(rid)
    ready = [(position[rid], rid) for rid, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    if parallelism <= 1:
        _one_at_a_time(ready, waiting, dependents, position, job)
        return
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool:
        running: dict[Future[None], str] = {}
        failed: BaseException | None = None
        while (ready and failed is None) or running:
            while ready and failed is None and len(running) < parallelism:
                rid = heapq.heappop(ready)[1]
                running[pool.submit(job, rid)] = rid
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                rid = running.pop(future)
                if future.exception() is not None:
                    failed = failed or future.exception()
                _release(rid, waiting, dependents, position, ready)
        if failed is not None:
            raise failed


def _one_at_a_time(ready: list[tuple[int, str]], waiting: dict[str, set[str]],
                   dependents: dict[str, list[str]], position: dict[str, int],
                   job: Callable[[str], None]) -> None:
    while ready:
        rid = heapq.heappop(ready)[1]
        job(rid)
        _release(rid, waiting, dependents, position, ready)


def _release(rid: str, waiting: dict[str, set[str]], dependents: dict[str, list[str]],
             position: dict[str, int], ready: list[tuple[int, str]]) -> None:
    for dependent in dependents[rid]:
        waiting[dependent].discard(rid)
        if not waiting[dependent]:
            heapq.heappush(ready, (position[dependent], dependent))
