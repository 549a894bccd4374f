"""One way to batch a kind's reads: by names, or by one listing; one failure rule.

A plan's AWS calls should grow with the number of kinds, not of resources, so a
kind reads its resources together: by names in chunks (`describe_services` takes
ten), or by one listing (everything the stack's tags select, or the account's).
Both are kept in the run's context. The failure rule is the same for both: a
failed read is remembered and raised, with AWS's own error, to every resource
that read would have answered, and it is not asked again in the same run (a
throttled API is not hammered once per resource).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from controller.aws import errors
from controller.resources.base import RunContext

T = TypeVar("T")

Fetch = Callable[[RunContext, list[str]], dict[str, T]]
Load = Callable[[RunContext], dict[str, T]]


@dataclass(frozen=True)
class _Failed:
    error: Exception


_FAILED_BEFORE = "\0failed"
_NOT_READ = object()  # no AWS name: the key marking a run's failed read of a kind


@dataclass(frozen=True)
class ByNames(Generic[T]):
    """Items read by name, `chunk` names per call: `fetch(ctx, names)` answers the ones
    that exist (absent names are left out). `scope` keeps apart names that are not
    unique across the account (services of different clusters)."""

    namespace: str
    fetch: Fetch[T]
    chunk: int

    def prime(self, ctx: RunContext, names: Iterable[str], scope: str = "") -> dict[str, Any]:
        """Read every name not read yet in this run, `chunk` at a time. One thread at a time
        per kind and scope: two resources observed at once must not both ask an API the
        other one just found failing (or read the same name twice). Returns what it read:
        an answer a concurrent write made stale is not kept, but it still answers the
        caller, whose own write came before the read."""
        with ctx.cached(self._key("\0lock", scope), threading.Lock):
            return self._prime(ctx, names, scope)

    def _prime(self, ctx: RunContext, names: Iterable[str], scope: str) -> dict[str, Any]:
        with ctx.lock:
            todo = sorted({n for n in names if self._key(n, scope) not in ctx.cache})
        read: dict[str, Any] = {}
        for start in range(0, len(todo), self.chunk):
            part = todo[start:start + self.chunk]
            forgotten = {name: ctx.forgotten(self._key(name, scope))
                         for name in [*part, _FAILED_BEFORE]}
            # Once a read of this kind failed in the run, later names (the inventory's)
            # get the same failure: a throttled API is not asked again.
            failed = ctx.cache.get(self._key(_FAILED_BEFORE, scope))
            try:
                if isinstance(failed, _Failed):
                    raise failed.error
                found: dict[str, Any] = self.fetch(ctx, part)
                answers: dict[str, Any] = {name: found.get(name) for name in part}
            except errors.AWS_ERRORS as err:
                answers = dict.fromkeys([*part, _FAILED_BEFORE], _Failed(err))
            for name, answer in answers.items():
                ctx.keep(self._key(name, scope), answer, forgotten.get(name, 0))
            read.update(answers)
        return read

    def get(self, ctx: RunContext, name: str, scope: str = "") -> T | None:
        """The item, None if absent; a failed read raises its error (read alone if no
        batch asked for it)."""
        key = self._key(name, scope)
        with ctx.lock:
            answer = ctx.cache.get(key, _NOT_READ)
        if answer is _NOT_READ:
            read = self.prime(ctx, [name], scope)
            with ctx.lock:
                answer = ctx.cache.get(key, read.get(name, _NOT_READ))
            if answer is _NOT_READ:  # forgotten again, after another thread's read
                answer = self.prime(ctx, [name], scope).get(name)
        if isinstance(answer, _Failed):
            raise answer.error
        return answer

    def forget(self, ctx: RunContext, name: str, scope: str = "") -> None:
        """After a write: the next `get` reads this name afresh (AWS answered the write,
        so a failed read before it no longer stands for the kind)."""
        ctx.forget(self._key(name, scope))
        ctx.forget(self._key(_FAILED_BEFORE, scope))

    def _key(self, name: str, scope: str) -> tuple[str, str, str]:
        return (self.namespace, scope, name)


@dataclass(frozen=True)
class Listing(Generic[T]):
    """Items from one listing per run (and scope), by key: everything the stack's tags
    select, or all of the account's where AWS has no narrower read."""

    namespace: str
    load: Callable[[RunContext, str], dict[str, T]]

    def all(self, ctx: RunContext, scope: str = "") -> dict[str, T]:
        return ctx.cached((self.namespace, scope), lambda: self.load(ctx, scope))

    def get(self, ctx: RunContext, key: str, scope: str = "") -> T | None:
        return self.all(ctx, scope).get(key)

    def loaded(self, ctx: RunContext, scope: str = "") -> bool:
        """Whether this run has read the listing (or failed to): a driver may then answer
        from it rather than read one item alone."""
        with ctx.lock:
            return (self.namespace, scope) in ctx.cache

    def forget(self, ctx: RunContext, scope: str = "") -> None:
        ctx.forget((self.namespace, scope))
