"""What every driver does the same way: re-read after a write, delete whatever is left,
keep tags equal to git's.

One copy each, so a fix (a not-found code, the ownership tags) reaches every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from controller.aws import errors
from controller.aws.errors import error_code, is_not_found
from controller.aws.tags import user_tags
from controller.model import Desired, Observed
from controller.resources.base import Driver, RunContext
from controller.resources.base import Vanished as Vanished  # drivers raise it from here


def reread(driver: Driver, desired: Desired, ctx: RunContext) -> Observed:
    """Observe after a write (the caller has dropped the stale cached reads)."""
    observed = driver.observe(desired, ctx)
    if observed is None:
        raise Vanished(f"{desired.id} cannot be read back right after it was written")
    return observed


def absent_ok(call: Callable[..., Any], *args: Any, absent: Iterable[str] = (),
              **kwargs: Any) -> Any:
    """`call(...)`, or None when AWS says what it acts on is not there (a delete of what is
    already gone, a policy never set): the service's not-found codes plus `absent`."""
    try:
        return call(*args, **kwargs)
    except errors.ClientError as err:
        if is_not_found(err) or error_code(err) in set(absent):
            return None
        raise


def sync_tags(desired: Desired, live_tags: dict[str, str],
              write: Callable[[dict[str, str]], Any],
              remove: Callable[[list[str]], Any], *, keep: Iterable[str] = ()) -> None:
    """Make the tags what git says: the spec's `tags` plus the ownership tags.

    User tags git no longer declares are removed when the spec manages tags; a spec
    without `tags` leaves the user's tags alone (adoption writes only ownership tags).
    `keep` names tags never removed (EC2's `Name`, which the console shows).
    """
    if "tags" in desired.spec:
        stale = sorted(set(user_tags(live_tags)) - set(desired.spec["tags"] or {}) - set(keep))
        if stale:
            remove(stale)
    write(desired.tags())
