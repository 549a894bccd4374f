"""What to do with one resource, from what git wants and what AWS has: pure decisions.

create (or restore), adopt, update, replace (create- or delete-first), no-op, or
refuse; and for a resource git no longer declares, delete or keep. No AWS call
here: `observe` (and `inventory`) read everything these need, the live tags
included, so a plan and its tests decide the same way.
"""

from __future__ import annotations

from controller.aws.tags import ID_KEY, STACK_KEY
from controller.engine.changeset import Change
from controller.engine.diff import FieldChange, diff_fields, top_level_fields
from controller.engine.observe import Node
from controller.model import Observed

RESTORE = "restore: deleted out of band, still recoverable"


def decide(node: Node, stack: str) -> Change:
    """Turn one observed node into a Change."""
    doc, driver, desired = node.doc, node.driver, node.desired
    if node.error is not None or desired is None:
        return Change(doc.kind, doc.name, "error", error=node.error)
    if node.live is None or node.live.deleted:
        fields = [FieldChange(f"spec.{k}", None, v) for k, v in desired.spec.items()]
        return Change(doc.kind, doc.name, "create", fields,
                      reason=RESTORE if node.live is not None else None,
                      note=driver.plan_note("create", desired, None, list(desired.spec)),
                      after=node.written)
    live = node.live
    managed = sorted({f for f in top_level_fields(diff_fields(desired.spec, live.fields))
                      if f in node.managed})
    fields = drift(node, live)
    top = top_level_fields(fields)
    change = Change(doc.kind, doc.name, "no-op", fields,
                    before={k: live.fields.get(k) for k in top},
                    after={k: desired.spec.get(k) for k in top})
    if managed:
        change.note = "; ".join(f"{name} {live.fields.get(name)!r} managed by "
                                f"{node.managed[name]} (git's value is used at create)"
                                for name in managed)
    foreign = _foreign(node, live, stack)
    if foreign is not None:
        change.action, change.refused, change.reason = "adopt", True, foreign
        return change
    immutable = [f for f in top if f in driver.immutable]
    if _unowned(live):
        return _adopt(node, change, immutable)
    if not fields:
        return change
    change.action = "replace" if immutable else "update"
    change.note = driver.plan_note(change.action, desired, live, top) or change.note
    if immutable:
        _replace(node, change, immutable)
    return change


def drift(node: Node, live: Observed) -> list[FieldChange]:
    """Where `live` differs from git, leaving out fields another resource of the stack
    manages (`Driver.takes_over`): those are git's at create only."""
    assert node.desired is not None
    fields = diff_fields(node.desired.spec, live.fields)
    return [f for f in fields if top_level_fields([f])[0] not in node.managed]


def _unowned(live: Observed) -> bool:
    """No ownership tags at all: made by hand or by another tool."""
    return STACK_KEY not in (live.tags or {})


def _foreign(node: Node, live: Observed, stack: str) -> str | None:
    """Why the live resource belongs to someone else (never taken over), or None."""
    tags = live.tags or {}
    owner = tags.get(STACK_KEY)
    if owner is None:
        return None
    if owner != stack:
        return (f"refused: {node.id} in AWS belongs to stack {owner!r} (its gitops:stack tag), "
                f"not to {stack!r}: it is never taken over. Rename one of them, or remove it "
                f"from stack {owner!r} first")
    if tags.get(ID_KEY) != node.id:
        return (f"refused: {node.id} in AWS is this stack's {tags.get(ID_KEY)!r} (its gitops:id "
                "tag): two resources of the stack cannot share one")
    return None


def _adopt(node: Node, change: Change, immutable: list[str]) -> Change:
    """A same-named resource (or `adopt: <id>`) without ownership tags: taken over in the
    open, tagged and then corrected; never when that would need a replace."""
    what = f"adopt: {node.id} exists in AWS without this stack's ownership tags"
    if node.doc.adopt:
        what = f"adopt: {node.doc.adopt}, named by `adopt:`, becomes {node.id}"
    change.action = "adopt"
    change.reason = f"{what}; apply tags it, then corrects its fields"
    if immutable:
        change.refused = True
        fields = ", ".join(immutable)
        verb = "differs" if len(immutable) == 1 else "differ"
        change.reason = (f"refused: {what}, and its {fields} {verb} from git's, which only a "
                         "replace could change: a resource this stack did not create is never "
                         "deleted. Align git with it, or remove it by hand")
    return change


def _replace(node: Node, change: Change, immutable: list[str]) -> None:
    """Refused for data kinds (unless unprotected); else in the order AWS allows."""
    assert node.desired is not None and node.live is not None
    cause = f"{', '.join(immutable)} cannot change in place"
    protect = node.doc.policy.protect
    if protect if protect is not None else node.driver.holds_data:
        change.refused = True
        lost = node.driver.at_risk(node.live) if node.live is not None else None
        change.reason = (f"refused: replacing {node.doc.kind} would destroy "
                         f"{lost or 'its data'} ({cause}); set policy.protect: false to "
                         "allow it")
        return
    node.replace_order = node.driver.replace_order(node.desired, node.live)
    if node.replace_order == "create_first":
        change.reason = (f"replace ({cause}): the new one is created, dependents move to it, "
                         "then the old one is deleted")
    else:
        change.reason = (f"replace ({cause}): the old one is deleted first (its name is "
                         "unique), then the new one created")
