"""One reconcile run as a straight pipeline: fetch, load, plan, apply, export.

Each step has its own failure reason; the bookkeeping (metrics, the summary log
line) sits in one place at the end. The reconciler keeps the revision in force
across runs: an invalid tip or an unreachable remote never replaces it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import structlog

from controller import metrics
from controller.aws.errors import AWS_ERRORS, describe_error
from controller.aws.gateway import AwsGateway, WriteGuard
from controller.daemon.settings import Settings
from controller.engine.backoff import WriteBackoff
from controller.engine.changeset import Change, ChangeSet
from controller.engine.guard import GuardError
from controller.engine.holds import RollbackHolds
from controller.engine.lease import Lease, LeaseKeeper, open_lease
from controller.engine.observe import Node
from controller.engine.reconcile import Plan, apply, plan
from controller.engine.shutdown import Shutdown
from controller.engine.writer import StackLocked, one_writer
from controller.resources.registry import REGISTRY
from controller.source.git import GitSource, SourceError
from controller.source.revision import last_good_revision, load_revision
from controller.spec.issues import ValidationFailed
from controller.spec.stack import Stack

log = structlog.get_logger("controller.daemon")

RunResult = Literal["success", "error", "invalid"]
LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@dataclass
class RunReport:
    """What one run did, for logs, tests and the demo."""

    result: RunResult
    revision: str | None
    changes: ChangeSet | None = None
    problems: list[str] = field(default_factory=list)


def report_policy_hold(change: Change, node: Node, nodes: Mapping[str, Node]) -> str | None:
    """`policy.drift: report`: the daemon never writes the resource; a person's apply does."""
    if node.doc.policy.drift == "report":
        return "held: policy.drift is report: only a person's `gitops apply` writes it"
    return None


class Reconciler:
    """Runs reconcile passes for one stack; keeps the last good revision in force."""

    def __init__(self, settings: Settings, stop: Shutdown | None = None) -> None:
        self.settings = settings
        self.stop = stop or Shutdown()
        self.source = GitSource(settings.repo, settings.ref, token=settings.git_token,
                                timeout=settings.git_timeout_seconds,
                                cache_dir=settings.cache_dir)
        self.holds = RollbackHolds()
        self.backoff = WriteBackoff()
        # enforce or detect; read at the start of each run (the demo switches it live)
        self.mode = settings.mode
        self.last_report: RunReport | None = None
        self.in_force: Stack | None = None
        self.last_success: float | None = None
        self._drift: dict[tuple[str, str, str], int] = {}
        self._known_name: str | None = None
        self._revision_series: tuple[str, str] | None = None
        self._keeper: LeaseKeeper | None = None
        # called when this replica takes the lease between runs (the daemon runs at once)
        self.on_lease_taken: Callable[[], None] | None = None

    # -- the pipeline -------------------------------------------------------------

    def run_once(self) -> RunReport:
        """One run; whatever goes wrong in it is counted as `error` and logged, never raised."""
        started = time.monotonic()
        problems: list[str] = []
        try:
            return self._run(started, problems)
        except Exception as err:
            # A bug or an unforeseen error: the loop goes on with the revision in force.
            log.error("reconcile run failed", exc_info=err)
            problems.append(f"unexpected {type(err).__name__}: {err}")
            self._finish(self.in_force, "error", started, None, problems, reconciled=False)
            self.last_report = RunReport("error", self.in_force.revision if self.in_force
                                         else None, None, problems)
            return self.last_report

    def _run(self, started: float, problems: list[str]) -> RunReport:
        invalid = False
        tip = self._fetch(problems)
        # The stack's name (stack.yaml's, as on /metrics) once any revision told it.
        if self._known_name:
            structlog.contextvars.bind_contextvars(stack=self._known_name)
        structlog.contextvars.bind_contextvars(revision=tip)
        if self.stop.requested:  # a shutdown ended the fetch: start nothing new
            log.info("run interrupted by a shutdown")
            return RunReport("error", None, None, ["interrupted by a shutdown"])
        if tip is not None:
            invalid = not self._load_tip(tip, problems)
        stack = self.in_force
        if stack is None:
            result: RunResult = "invalid" if invalid else "error"
            self._finish(None, result, started, None, problems, reconciled=False)
            return RunReport(result, None, None, problems)
        structlog.contextvars.bind_contextvars(stack=stack.name, revision=stack.revision)
        # A tip that failed to load never prunes: the revision in force is an older one.
        changes = self._reconcile(stack, problems, prune=not invalid)
        failed = changes is None or bool(changes.failed)
        result = "invalid" if invalid else ("error" if failed or problems else "success")
        self._finish(stack, result, started, changes, problems, reconciled=not failed)
        self.last_report = RunReport(result, stack.revision, changes, problems)
        return self.last_report

    def _fetch(self, problems: list[str]) -> str | None:
        try:
            return self.source.fetch()
        except SourceError as err:
            problems.append(f"fetch failed: {err}")
            log.error("fetch failed, keeping the revision in force", error=str(err),
                      in_force=self.in_force.revision if self.in_force else None)
            return None

    def _load_tip(self, tip: str, problems: list[str]) -> bool:
        """Put a valid tip in force; on an invalid one keep (or find) the last good."""
        if self.in_force is not None and self.in_force.revision == tip:
            self._set_valid(self.in_force.name, True)
            return True
        try:
            stack = load_revision(self.source, tip, self.settings.path, REGISTRY)
        except ValidationFailed as err:
            self._known_name = self._known_name or err.stack
            issues = [str(i) for i in err.issues]
            problems.extend(issues)
            log.error("invalid desired state: nothing from this revision is applied",
                      revision=tip, errors=issues[:20], error_count=len(issues))
            if self.in_force is None:
                found = last_good_revision(self.source, tip, self.settings.path, REGISTRY)
                if found is not None:
                    self.in_force = found[1]
                    log.warning("using the newest valid revision", revision=found[0])
            if self.in_force is not None:
                self._known_name = self.in_force.name
            self._set_valid(self._stack_label(), False)
            return False
        if self.in_force is None or self.in_force.revision != tip:
            log.info("revision in force", revision=tip,
                     previous=self.in_force.revision if self.in_force else None)
        self.in_force = stack
        self._known_name = stack.name
        self._set_valid(stack.name, True)
        return True

    def _reconcile(self, stack: Stack, problems: list[str], *,
                   prune: bool) -> ChangeSet | None:
        """Plan, and in enforce mode write, under the stack's write lock (the plan is made
        once any other writer on this machine is done). While another writer (a CLI
        apply) holds it, this run only plans; the next run writes."""
        if self.mode != "enforce":
            return self._plan_and_write(stack, problems, prune=prune, write=False)
        try:
            with one_writer(stack.name, stack.config.account, "the daemon (gitops run)"):
                lease = self._stack_lease(stack)
                if lease is None:
                    return self._plan_and_write(stack, problems, prune=prune, write=True)
                if self._holds(lease):
                    return self._plan_and_write(stack, problems, prune=prune, write=True,
                                                guard=lease.check)
                log.info("another replica holds the stack's lease: this run only plans",
                         holder=lease.describe_holder())
                return self._plan_and_write(stack, problems, prune=prune, write=False)
        except StackLocked as err:
            log.warning("another writer holds the stack: this run only plans",
                        holder=err.holder)
            return self._plan_and_write(stack, problems, prune=prune, write=False)

    def _stack_lease(self, stack: Stack) -> Lease | None:
        """With GITOPS_LEASE_TABLE: this replica's lease on the stack, kept (renewed, or
        contended for) by a thread from the first run on; None without a table."""
        table = self.settings.lease_table
        if table is None:
            return None
        if self._keeper is None or self._keeper.lease.key != f"{stack.config.account}-{stack.name}":
            self.close()
            lease = open_lease(table, stack.name, stack.config.account, stack.config.region,
                               "the daemon (gitops run)", self.settings.lease_seconds)
            self._keeper = LeaseKeeper(lease, contend=True, on_taken=self.on_lease_taken)
            self._keeper.start()
        return self._keeper.lease

    @staticmethod
    def _holds(lease: Lease) -> bool:
        try:
            return lease.take()
        except AWS_ERRORS as err:
            log.warning("could not take the stack's lease: this run only plans",
                        error=describe_error(err))
            return False

    def close(self) -> None:
        """Give the lease up (a successor takes over at once, not after its expiry)."""
        if self._keeper is not None:
            self._keeper.stop(release=True)
            self._keeper = None

    def _plan_and_write(self, stack: Stack, problems: list[str], *, prune: bool,
                        write: bool, guard: WriteGuard | None = None) -> ChangeSet | None:
        def hold(change: Change, node: Node, nodes: Mapping[str, Node]) -> str | None:
            return (report_policy_hold(change, node, nodes)
                    or self.holds.hold_rule(change, node, nodes)
                    or self.backoff.hold_rule(change, node, nodes))

        try:
            gateway = AwsGateway(stack.config.region)
            gateway.write_guard = guard
            planned = plan(stack, gateway, hold=hold, prune=prune)
        except GuardError as err:
            problems.append(str(err))
            log.error("account guard", error=str(err))
            return None
        if write and planned.changes.has_changes and not planned.changes.refused:
            changes = apply(planned, stop=self.stop, parallelism=self.settings.parallelism)
            self.backoff.record(changes, planned.nodes)
        else:
            changes = planned.changes
        self.holds.export(planned)
        self._export_orphans(planned, changes)
        for change in changes.changes:
            # Writes are logged by the engine as they happen (applied, apply failed,
            # skipped); what was not written is logged here, once.
            if change.pending and change.result in (None, "held"):
                log.info("change", kind=change.kind, name=change.name, action=change.action,
                         fields=[f.path for f in change.fields], note=change.note,
                         result=change.result or "planned", reason=change.reason)
        return changes

    # -- bookkeeping --------------------------------------------------------------

    def _stack_label(self) -> str:
        """The `stack` label: stack.yaml's name once a revision told it; before that (no
        revision ever read) the stack's path, the only name there is."""
        return self._known_name or self.settings.path

    def _set_valid(self, stack: str, valid: bool) -> None:
        metrics.DESIRED_STATE_VALID.labels(stack=stack).set(1 if valid else 0)

    def _finish(self, stack: Stack | None, result: RunResult, started: float,
                changes: ChangeSet | None, problems: list[str], *, reconciled: bool) -> None:
        name = stack.name if stack else self._stack_label()
        duration = time.monotonic() - started
        metrics.RECONCILE_TOTAL.labels(stack=name, result=result).inc()
        metrics.RECONCILE_DURATION.labels(stack=name).observe(duration)
        if stack is not None and reconciled:
            self.last_success = time.time()
            metrics.LAST_SUCCESS.labels(stack=name).set(self.last_success)
        if stack is not None:
            self._export_revision(stack)
        if stack is not None and changes is not None:
            self._export_drift(stack, changes)
        summary = changes.summary() if changes else {}
        level = {"success": "info", "invalid": "warning"}.get(result, "error")
        log.log(LEVELS[level], "reconcile finished", result=result,
                duration_seconds=round(duration, 3),
                api_calls=changes.api_calls if changes else 0, mode=self.mode,
                problems=len(problems), **{k: v for k, v in summary.items() if v})
        structlog.contextvars.unbind_contextvars("stack", "revision")

    def _export_orphans(self, planned: Plan, changes: ChangeSet) -> None:
        """gitops_orphaned_resources: per kind, the owned resources git no longer declares
        that are still there after this run."""
        pruned = {c.id for c in changes.changes if c.action == "delete" and c.result == "success"}
        counts = dict.fromkeys(planned.drivers, 0)
        for orphan_id, orphan in planned.orphans.items():
            if orphan_id not in pruned:
                counts[orphan.kind] += 1
        for kind, count in counts.items():
            metrics.ORPHANED.labels(stack=planned.stack.name, kind=kind).set(count)

    def _export_revision(self, stack: Stack) -> None:
        series = (stack.name, stack.revision or "")
        if self._revision_series and self._revision_series != series:
            metrics.REVISION_INFO.remove(*self._revision_series)
        metrics.REVISION_INFO.labels(*series).set(1)
        self._revision_series = series

    def _export_drift(self, stack: Stack, changes: ChangeSet) -> None:
        """One series per resource: 1 drifted, 0 in sync; unreadable ones keep their value."""
        current: dict[tuple[str, str, str], int] = {}
        for change in changes.changes:
            key = (stack.name, change.kind, change.name)
            if change.action == "error":
                if key in self._drift:
                    current[key] = self._drift[key]
                continue
            current[key] = int(change.pending and change.result != "success")
            metrics.RESOURCE_DRIFTED.labels(*key).set(current[key])
        for gone in self._drift.keys() - current.keys():
            metrics.RESOURCE_DRIFTED.remove(*gone)
        self._drift = current
        metrics.STACK_DRIFTED.labels(stack=stack.name).set(sum(current.values()))
