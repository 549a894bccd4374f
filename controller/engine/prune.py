"""Resources this stack created that git no longer declares: found, shown, and deleted
only when the stack says so.

The inventory is what carries the stack's ownership tags, read per kind (each
driver's `inventory`). An orphan is always in the plan: a `delete` when
`prune: true` will delete it, a warning when it is kept (prune off, a kind that
holds data, a limit passed, a tip that failed to load). Deletes run after every
other write, dependents first (the registry's deletion order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller.aws.errors import AWS_ERRORS, describe_error
from controller.engine.changeset import Change, Warning
from controller.model import Observed
from controller.resources.base import Driver, RunContext


@dataclass
class Orphan:
    """One owned resource git no longer declares."""

    kind: str
    name: str
    live: Observed
    driver: Driver

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class PruneRules:
    """What this run may prune: `enabled` (stack.yaml's `prune`, and never from a tip that
    failed to load), at most `limit` (`pruneLimit`, or `--allow-prune N` for one apply)."""

    enabled: bool
    limit: int


def find_orphans(drivers: Mapping[str, Driver], ctx: RunContext, declared: set[str],
                 warnings: list[Warning]) -> list[Orphan]:
    """Every owned resource of every kind that is not declared; a kind whose inventory
    cannot be read is a warning (its orphans are not known this run)."""
    found: list[Orphan] = []
    for kind in sorted(drivers):
        driver = drivers[kind]
        try:
            owned = driver.inventory(ctx)
        except AWS_ERRORS as err:
            warnings.append(Warning(kind, f"cannot list this stack's {kind} resources, so "
                                          f"orphans of the kind are not known: "
                                          f"{describe_error(err)}"))
            continue
        for resource_id, live in sorted(owned.items()):
            owned_kind, _, name = resource_id.partition("/")
            if resource_id not in declared and owned_kind == kind and name:
                found.append(Orphan(kind, name, live, driver))
    return found


def deletion_order(drivers: Mapping[str, Driver]) -> list[str]:
    """Kinds so that each comes before every kind it may reference (its `references`):
    a service before its task definition, subnets and groups before their VPC."""
    order: list[str] = []

    def visit(kind: str, path: tuple[str, ...]) -> None:
        if kind in order or kind in path:
            return
        for referrer in sorted(k for k, d in drivers.items() if kind in d.references):
            visit(referrer, (*path, kind))
        order.append(kind)

    for kind in sorted(drivers):
        visit(kind, ())
    return order


def decide_orphans(orphans: list[Orphan], rules: PruneRules,
                   warnings: list[Warning]) -> list[Change]:
    """Deletes for what may be pruned, warnings for the rest, nothing past the limit."""
    deletable: list[Orphan] = []
    for orphan in orphans:
        if orphan.driver.holds_data:
            lost = orphan.driver.at_risk(orphan.live)
            held = f"it holds data ({lost})" if lost else "it holds data"
            warnings.append(Warning(orphan.id, f"no longer in git, kept: {held}, so it is "
                                               "never pruned; delete it by hand if that is "
                                               "meant"))
        elif not rules.enabled:
            warnings.append(Warning(orphan.id, "no longer in git, kept: `prune: true` in "
                                               "stack.yaml would delete it"))
        else:
            deletable.append(orphan)
    changes = [Change(o.kind, o.name, "delete", reason="prune: no longer in git",
                      before=dict(o.live.fields) or None) for o in deletable]
    if len(deletable) > rules.limit:
        why = (f"held: {len(deletable)} resources to prune, over the limit of {rules.limit} "
               f"(pruneLimit): none is deleted; `gitops apply --allow-prune {len(deletable)}` "
               "lifts the limit for one apply")
        for change in changes:
            change.held, change.reason = True, why
        warnings.append(Warning("prune", why))
    return changes
