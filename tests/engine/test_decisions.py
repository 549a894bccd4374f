"""The engine's decisions with an in-memory fake driver: refuse, restore, adopt, replace in
order, hold, stop between writes, prune within limits, wait on what AWS is still doing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.aws.tags import ID_KEY, MANAGED_BY_KEY, STACK_KEY, ownership_tags
from controller.engine.holds import RollbackHolds
from controller.engine.reconcile import apply, plan
from controller.engine.shutdown import Shutdown
from controller.model import Readiness, RolledBack
from controller.render.text import text
from tests.engine.fake import Cloud, FakeDriver, gateway, kind_of, stack


@pytest.fixture
def cloud() -> Cloud:
    return Cloud()


@pytest.fixture
def kinds(cloud: Cloud) -> dict[str, FakeDriver]:
    """A network-ish kind found by tags, a parent kind, a data kind and a service kind."""
    return {
        "net.Vpc": kind_of(cloud, "net.Vpc", identity="tags", immutable=frozenset({"zone"}),
                           order="create_first"),
        "net.Subnet": kind_of(cloud, "net.Subnet", identity="tags", references=("net.Vpc",),
                              immutable=frozenset({"zone"}), order="create_first"),
        "app.Queue": kind_of(cloud, "app.Queue", holds_data=True,
                             immutable=frozenset({"zone"})),
        "app.Service": kind_of(cloud, "app.Service", references=("net.Subnet", "app.Queue"),
                               immutable=frozenset({"zone"})),
    }


DOCS = """
kind: net.Vpc
name: vpc
spec: {size: 16, zone: a}
---
kind: net.Subnet
name: sub
spec: {size: 24, zone: a, parent: "${ref:net.Vpc/vpc.id}"}
---
kind: app.Queue
name: jobs
spec: {size: 60}
---
kind: app.Service
name: api
spec: {size: 2, parent: "${ref:net.Subnet/sub.id}"}
"""


def run(tmp_path: Path, kinds: dict[str, FakeDriver], docs: str = DOCS, **options: Any) -> Any:
    prune_opts = {k: options.pop(k) for k in ("prune", "limit") if k in options}
    return plan(stack(tmp_path, kinds, docs, **prune_opts), gateway(), **options)


def actions(p: Any) -> dict[str, str]:
    return {c.id: c.action for c in p.changes.changes if c.action != "no-op"}


def test_create_then_nothing_to_do(tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    first = run(tmp_path, kinds)
    assert set(actions(first).values()) == {"create"}
    assert not apply(first).failed
    again = run(tmp_path, kinds)
    assert actions(again) == {} and not again.changes.warnings


def test_a_same_named_resource_without_tags_is_adopted_in_the_open(
        tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    theirs = cloud.add("app.Queue", "jobs", {"size": 30}, {"team": "other"})
    p = run(tmp_path, kinds)
    change = next(c for c in p.changes.changes if c.id == "app.Queue/jobs")
    assert change.action == "adopt" and "exists in AWS without this stack's ownership" \
        in (change.reason or "")
    assert [f.path for f in change.fields] == ["spec.size"]
    assert not apply(p).failed
    assert theirs.tags[STACK_KEY] == "test" and theirs.tags[ID_KEY] == "app.Queue/jobs"
    assert theirs.tags["team"] == "other" and theirs.fields["size"] == 60
    assert len(cloud.of("app.Queue")) == 1  # taken over, not duplicated
    assert "app.Queue/jobs" not in actions(run(tmp_path, kinds))


def test_another_stacks_resource_is_refused_naming_both_stacks(
        tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    cloud.add("app.Queue", "jobs", {"size": 60}, ownership_tags("billing", "app.Queue/jobs"))
    p = run(tmp_path, kinds)
    change = next(c for c in p.changes.changes if c.id == "app.Queue/jobs")
    assert change.refused and "belongs to stack 'billing'" in (change.reason or "")
    assert "not to 'test'" in (change.reason or "")
    apply(p)
    assert cloud.writes == []


def test_adopt_by_id_for_a_kind_found_by_tags(tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    made_by_terraform = cloud.add("net.Vpc", "main", {"size": 16, "zone": "a"}, {"Name": "x"})
    docs = DOCS.replace("name: vpc\n", f"name: vpc\nadopt: {made_by_terraform.id}\n")
    p = run(tmp_path, kinds, docs)
    assert actions(p)["net.Vpc/vpc"] == "adopt"
    assert not apply(p).failed
    assert len(cloud.of("net.Vpc")) == 1 and made_by_terraform.tags[ID_KEY] == "net.Vpc/vpc"
    assert actions(run(tmp_path, kinds, docs)) == {}  # `adopt:` is inert once tagged


def test_adopting_what_only_a_replace_could_align_is_refused(
        tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    cloud.add("app.Service", "api", {"size": 2, "zone": "b"})
    docs = DOCS.replace("spec: {size: 2,", "spec: {size: 2, zone: a,")
    change = next(c for c in run(tmp_path, kinds, docs).changes.changes
                  if c.id == "app.Service/api")
    assert change.refused and "never deleted" in (change.reason or "")


def test_a_data_kind_is_never_replaced(tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    assert not apply(run(tmp_path, kinds)).failed
    p = run(tmp_path, kinds, DOCS.replace("{size: 60}", "{size: 60, zone: b}"))
    change = next(c for c in p.changes.changes if c.id == "app.Queue/jobs")
    assert change.action == "replace" and change.refused
    assert "would destroy its data" in (change.reason or "")


def test_what_a_data_kind_would_lose_is_named(tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    """The driver says what is at risk: in the refused replace and the kept orphan."""
    def at_risk(self: Any, live: Any) -> str:
        return f"the queue {live.attrs['id']} and its {live.fields.get('size')} messages"

    kinds["app.Queue"].at_risk = at_risk.__get__(kinds["app.Queue"])
    assert not apply(run(tmp_path, kinds)).failed
    p = run(tmp_path, kinds, DOCS.replace("{size: 60}", "{size: 60, zone: b}"))
    change = next(c for c in p.changes.changes if c.id == "app.Queue/jobs")
    assert change.refused and "would destroy the queue " in (change.reason or "")
    assert "and its 60 messages (zone cannot change in place)" in (change.reason or "")
    _orphans(cloud)
    p = run(tmp_path, kinds, prune=True)
    (kept,) = [w for w in p.changes.warnings if w.id == "app.Queue/old-jobs"]
    assert "kept: it holds data (the queue " in kept.message


def test_create_first_replace_moves_dependents_before_the_old_one_goes(
        tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    assert not apply(run(tmp_path, kinds)).failed
    (old,) = cloud.of("net.Subnet")
    cloud.writes.clear()
    p = run(tmp_path, kinds, DOCS.replace("{size: 24, zone: a,", "{size: 24, zone: b,"))
    assert actions(p) == {"net.Subnet/sub": "replace", "app.Service/api": "update"}
    subnet = next(c for c in p.changes.changes if c.id == "net.Subnet/sub")
    assert "the new one is created, dependents move to it" in (subnet.reason or "")
    assert not apply(p).failed
    assert [w[0] for w in cloud.writes] == ["retag", "create", "update", "delete"]
    assert cloud.writes[-1][1].endswith(old.id)
    (new,) = cloud.of("net.Subnet")
    assert cloud.of("app.Service")[0].fields["parent"] == new.id
    assert actions(run(tmp_path, kinds, DOCS.replace("{size: 24, zone: a,",
                                                     "{size: 24, zone: b,"))) == {}


def test_delete_first_replace_for_a_unique_name(tmp_path: Path, kinds: Any,
                                                cloud: Cloud) -> None:
    assert not apply(run(tmp_path, kinds)).failed
    cloud.writes.clear()
    p = run(tmp_path, kinds, DOCS.replace("{size: 2,", "{size: 2, zone: b,"))
    assert "the old one is deleted first" in (p.changes.changes[-1].reason or "")
    assert not apply(p).failed
    assert [w[0] for w in cloud.writes] == ["delete", "create"]


def test_deleted_out_of_band_is_created_again(tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    assert not apply(run(tmp_path, kinds)).failed
    (queue,) = cloud.of("app.Queue")
    del cloud.items[queue.id]
    assert actions(run(tmp_path, kinds)) == {"app.Queue/jobs": "create"}


def test_a_shutdown_between_writes_leaves_the_rest_for_the_next_run(
        tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    stop = Shutdown()
    p = run(tmp_path, kinds)
    original = kinds["net.Vpc"].create

    def create_then_stop(desired: Any, ctx: Any) -> Any:
        stop.request()
        return original(desired, ctx)

    kinds["net.Vpc"].create = create_then_stop
    result = {c.id: c for c in apply(p, stop=stop).changes}
    # Wave one: the queue, then the VPC (whose write the shutdown let finish).
    assert result["net.Vpc/vpc"].result == "success"
    for later in ("net.Subnet/sub", "app.Service/api"):
        assert result[later].result == "skipped"
        assert "shutting down" in (result[later].reason or "")


# --- prune ---------------------------------------------------------------------------------


def _orphans(cloud: Cloud) -> None:
    cloud.add("app.Service", "old-worker", {"size": 1}, ownership_tags("test",
                                                                      "app.Service/old-worker"))
    cloud.add("net.Subnet", "old-sub", {"size": 24}, ownership_tags("test", "net.Subnet/old-sub"))
    cloud.add("app.Queue", "old-jobs", {"size": 60}, ownership_tags("test", "app.Queue/old-jobs"))
    cloud.add("app.Queue", "theirs", {"size": 60}, ownership_tags("billing", "app.Queue/theirs"))


def test_orphans_are_shown_and_kept_without_prune(tmp_path: Path, kinds: Any,
                                                  cloud: Cloud) -> None:
    _orphans(cloud)
    p = run(tmp_path, kinds)
    assert "delete" not in actions(p).values()
    warned = {w.id: w.message for w in p.changes.warnings}
    assert set(warned) == {"app.Service/old-worker", "net.Subnet/old-sub", "app.Queue/old-jobs"}
    assert "prune: true" in warned["net.Subnet/old-sub"]
    assert "holds data" in warned["app.Queue/old-jobs"]


def test_prune_deletes_dependents_first_and_never_data(tmp_path: Path, kinds: Any,
                                                       cloud: Cloud) -> None:
    assert not apply(run(tmp_path, kinds)).failed
    _orphans(cloud)
    cloud.writes.clear()
    p = run(tmp_path, kinds, prune=True)
    assert {k: v for k, v in actions(p).items()} == {"app.Service/old-worker": "delete",
                                                     "net.Subnet/old-sub": "delete"}
    assert not apply(p).failed
    assert [w[1].split()[0] for w in cloud.writes] == ["app.Service/old-worker",
                                                       "net.Subnet/old-sub"]
    assert {i.name for i in cloud.of("app.Queue")} == {"jobs", "old-jobs", "theirs"}


def test_prune_past_the_limit_deletes_none_unless_allowed(tmp_path: Path, kinds: Any,
                                                          cloud: Cloud) -> None:
    assert not apply(run(tmp_path, kinds)).failed
    _orphans(cloud)
    cloud.writes.clear()
    p = run(tmp_path, kinds, prune=True, limit=1)
    deletes = [c for c in p.changes.changes if c.action == "delete"]
    assert deletes and all(c.held for c in deletes)
    assert any("over the limit of 1" in w.message for w in p.changes.warnings)
    apply(p)
    assert cloud.writes == []
    assert not apply(run(tmp_path, kinds, prune=True, limit=1, allow_prune=2)).failed
    assert len(cloud.writes) == 2


def test_a_tip_that_failed_to_load_never_prunes(tmp_path: Path, kinds: Any,
                                                cloud: Cloud) -> None:
    _orphans(cloud)
    # The daemon plans the revision in force with prune=False while the tip is invalid.
    p = plan(stack(tmp_path, kinds, DOCS, prune=True), gateway(), prune=False)
    assert "delete" not in actions(p).values()


# --- readiness -----------------------------------------------------------------------------


def test_a_dependent_waits_for_what_aws_is_still_creating(tmp_path: Path, kinds: Any,
                                                          cloud: Cloud) -> None:
    creating = Readiness("progressing", "creating")
    original = kinds["net.Subnet"].create

    def create_slowly(desired: Any, ctx: Any) -> Any:
        live = original(desired, ctx)
        cloud.items[live.attrs["id"]].readiness = creating
        live.attrs["id"] = None  # AWS tells the id only once it is available
        return live

    kinds["net.Subnet"].create = create_slowly
    result = apply(run(tmp_path, kinds))
    service = next(c for c in result.changes if c.id == "app.Service/api")
    subnet = next(c for c in result.changes if c.id == "net.Subnet/sub")
    assert subnet.result == "success" and subnet.progress == "progressing: creating"
    assert service.result == "held"
    assert service.reason == "held: waits for net.Subnet/sub: creating"


def test_what_aws_rolled_back_is_held_until_git_changes(tmp_path: Path, kinds: Any,
                                                        cloud: Cloud) -> None:
    assert not apply(run(tmp_path, kinds)).failed
    (service,) = cloud.of("app.Service")
    service.readiness = Readiness("failed", "rolled back", "rolled_back",
                                  RolledBack("revision 2", "circuit breaker", frozenset({"d2"})))
    service.fields["size"] = 1  # AWS runs the old state again
    holds = RollbackHolds()
    held = run(tmp_path, kinds, hold=holds.hold_rule)
    change = next(c for c in held.changes.changes if c.id == "app.Service/api")
    assert change.held and "revision 2 was rolled back by AWS" in (change.reason or "")
    service.readiness = Readiness()  # AWS forgets; the hold is remembered
    assert next(c for c in run(tmp_path, kinds, hold=holds.hold_rule).changes.changes
                if c.id == "app.Service/api").held
    released = run(tmp_path, kinds, DOCS.replace("{size: 2,", "{size: 3,"),
                   hold=holds.hold_rule)
    assert not next(c for c in released.changes.changes if c.id == "app.Service/api").held
    assert MANAGED_BY_KEY in service.tags


# --- apply --wait: until AWS is done, in the kind's words ----------------------------------

WAITS = [
    ("ready", [Readiness("progressing", "rollout IN_PROGRESS"), Readiness()], "ready"),
    ("failed", [Readiness("failed", "tasks failed to start")], "failed"),
    ("rolled back", [Readiness("progressing", "x"),
                     Readiness("failed", "rolled back", "rolled_back",
                               RolledBack("api:2", "circuit breaker", frozenset({"d2"})))],
     "rolled_back"),
    ("never done", [Readiness("progressing", "creating")], "timeout"),
]


@pytest.mark.parametrize(("name", "script", "state"), WAITS, ids=[w[0] for w in WAITS])
def test_wait_follows_progress_until_done(tmp_path: Path, kinds: Any, cloud: Cloud,
                                          name: str, script: list[Readiness],
                                          state: str) -> None:
    from controller.engine.waiting import progressing, wait_for_ready

    p = run(tmp_path, kinds)
    assert not apply(p).failed
    (service,) = cloud.of("app.Service")
    service.readiness = script[0]
    p.nodes["app.Service/api"].readiness = script[0]
    now, lines = [0.0], []

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if len(script) > 1:
            script.pop(0)
        service.readiness = script[0]

    waiting = progressing(p)
    if script[0].state == "failed":
        waiting = ["app.Service/api"]
    outcome = wait_for_ready(p, waiting, timeout=30, poll_seconds=10, progress=lines.append,
                             sleep=sleep, clock=lambda: now[0])["app.Service/api"]
    assert outcome.state == state and outcome.ok == (state == "ready")
    assert now[0] <= 30 and lines[-1].startswith("app.Service/api: ")


def test_rollout_gauge_one_state_at_a_time_and_gone_with_the_resource() -> None:
    from prometheus_client import REGISTRY

    from controller.engine.holds import set_rollout_gauge

    def gauge(service: str, state: str) -> float | None:
        return REGISTRY.get_sample_value("gitops_ecs_rollout_state",
                                         {"stack": "g", "service": service, "state": state})

    set_rollout_gauge("g", {"api": "in_progress", "web": "completed"}, ["api", "web"])
    assert [gauge("api", s) for s in ("in_progress", "completed", "failed",
                                      "rolled_back")] == [1, 0, 0, 0]
    set_rollout_gauge("g", {}, ["api"])  # api unreadable this run: keeps its series
    assert gauge("api", "in_progress") == 1 and gauge("web", "completed") is None


def test_a_field_another_resource_manages_is_used_at_create_and_never_drift(
        tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    """An autoscaler owns a service's task count: git's count is the first one only."""
    kinds = {**kinds, "app.Scaler": kind_of(cloud, "app.Scaler", references=("app.Service",),
                                           takes_over={"app.Service": ("size",)})}
    docs = DOCS + '---\nkind: app.Scaler\nname: api\nspec: {parent: "${ref:app.Service/api.id}"}\n'
    assert not apply(run(tmp_path, kinds, docs)).failed
    (service,) = cloud.of("app.Service")
    assert service.fields["size"] == 2  # created with git's value
    service.fields["size"] = 7  # the autoscaler scaled out
    p = run(tmp_path, kinds, docs)
    assert actions(p) == {}
    change = next(c for c in p.changes.changes if c.id == "app.Service/api")
    assert change.note == "size 7 managed by app.Scaler/api (git's value is used at create)"
    shown = text(p.changes)
    assert "No changes." in shown  # one line of explanation, not a change
    assert ("Note: app.Service/api: size 7 managed by app.Scaler/api (git's value is used at "
            "create)") in shown.splitlines()
    service.fields["parent"] = "elsewhere"  # a real drift of the same resource is corrected
    p = run(tmp_path, kinds, docs)
    assert actions(p) == {"app.Service/api": "update"}
    assert [f.path for f in next(c for c in p.changes.changes
                                 if c.id == "app.Service/api").fields] == ["spec.parent"]
    assert not apply(p).failed
    assert service.fields["size"] == 7  # the update left the autoscaler's count alone


def test_what_aws_refuses_to_use_before_it_is_ready_is_waited_for(
        tmp_path: Path, kinds: Any, cloud: Cloud) -> None:
    """A listener on a certificate still validating: held with the certificate's words,
    made once the certificate is ready, read again at apply time."""
    kinds = {**kinds, "app.Cert": kind_of(cloud, "app.Cert", ready_before_use=True),
             "app.Listener": kind_of(cloud, "app.Listener", references=("app.Cert",))}
    docs = ('kind: app.Cert\nname: cert\nspec: {size: 1}\n---\n'
            'kind: app.Listener\nname: https\nspec: {parent: "${ref:app.Cert/cert.id}"}\n')
    validating = Readiness("progressing", "create CNAME _x -> _y")
    original = kinds["app.Cert"].create

    def request(desired: Any, ctx: Any) -> Any:
        live = original(desired, ctx)
        cloud.items[live.attrs["id"]].readiness = validating
        return live

    kinds["app.Cert"].create = request
    result = apply(run(tmp_path, kinds, docs))
    listener = next(c for c in result.changes if c.id == "app.Listener/https")
    assert listener.result == "held"
    assert listener.reason == "held: waits for app.Cert/cert: create CNAME _x -> _y"
    assert cloud.of("app.Listener") == []
    (cert,) = cloud.of("app.Cert")
    cert.readiness = Readiness()  # issued
    assert not apply(run(tmp_path, kinds, docs)).failed
    assert len(cloud.of("app.Listener")) == 1
