"""An in-memory cloud and a fake driver: the engine's decisions tested in milliseconds.

The fake driver keeps the real contract (observe, create, update, delete, inventory,
find, readiness, retag, replace order) over a dictionary, records every write in
order, and can be told what AWS would say (a resource still creating, a rollback).
The account guard is answered by a botocore hook: no server, no network.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from botocore.awsrequest import AWSResponse

from controller.aws.gateway import AwsGateway
from controller.aws.tags import ID_KEY, STACK_KEY, user_tags
from controller.model import READY, Desired, Observed, Readiness, Tags
from controller.resources.base import Driver, ReplaceOrder, RunContext, SpecModel
from controller.spec.loader import load_stack
from controller.spec.stack import Stack

ACCOUNT = "123456789012"


class FakeSpec(SpecModel):
    size: int | None = None
    zone: str | None = None
    parent: str | None = None
    tags: Tags | None = None


@dataclass
class Item:
    id: str
    kind: str
    name: str
    fields: dict[str, Any]
    tags: dict[str, str]
    readiness: Readiness = READY


@dataclass
class Cloud:
    """What the fake AWS holds, and every write made to it, in order."""

    items: dict[str, Item] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)
    ids: Iterable[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, kind: str, name: str, fields: dict[str, Any] | None = None,
            tags: dict[str, str] | None = None) -> Item:
        item = Item(f"{kind.split('.')[1].lower()}-{next(iter(self.ids))}", kind, name,
                    dict(fields or {}), dict(tags or {}))
        self.items[item.id] = item
        return item

    def of(self, kind: str) -> list[Item]:
        return [i for i in self.items.values() if i.kind == kind]


class FakeDriver(Driver):
    """One fake kind; class attributes set per test through `kind_of`."""

    spec_model = FakeSpec
    attributes = ("id", "name")
    cloud: ClassVar[Cloud]
    order: ClassVar[ReplaceOrder] = "delete_first"

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        for item in self.cloud.of(self.kind):
            if self.identity == "name" and item.name == desired.name:
                return _observed(item)
            if self.identity == "tags" and item.tags.get(ID_KEY) == desired.id \
                    and item.tags.get(STACK_KEY) == ctx.stack:
                return _observed(item)
        return None

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        if self.identity == "name" and any(i.name == desired.name for i in
                                           self.cloud.of(self.kind)):
            raise RuntimeError(f"{desired.name} exists: a unique name")
        item = self.cloud.add(self.kind, desired.name, _fields(desired), desired.tags())
        self.cloud.writes.append(("create", f"{desired.id} {item.id}"))
        return _observed(item)

    def update(self, desired: Desired, live: Observed, changed: list[str],
               ctx: RunContext) -> Observed:
        item = self.cloud.items[live.attrs["id"]]
        for key in changed:
            if key == "tags":
                kept = {} if "tags" in desired.spec else user_tags(item.tags)
                item.tags = {**kept, **desired.tags()}
            elif key in desired.spec:
                item.fields[key] = desired.spec[key]
        self.cloud.writes.append(("update", f"{desired.id} {','.join(changed)}"))
        return _observed(item)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        self.cloud.items.pop(live.attrs["id"], None)
        self.cloud.writes.append(("delete", f"{live.attrs['kind']}/{live.attrs['name']} "
                                            f"{live.attrs['id']}"))

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        return {i.tags[ID_KEY]: _observed(i) for i in self.cloud.of(self.kind)
                if i.tags.get(STACK_KEY) == ctx.stack and ID_KEY in i.tags}

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        item = self.cloud.items.get(aws_id)
        return _observed(item) if item is not None and item.kind == self.kind else None

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        found = [i for i in self.cloud.of(self.kind) if i.name == live.attrs["name"]]
        return found[-1].readiness if found else READY

    def retag(self, live: Observed, tags: dict[str, str], ctx: RunContext) -> None:
        self.cloud.items[live.attrs["id"]].tags.update(tags)
        self.cloud.writes.append(("retag", f"{live.attrs['id']} {tags}"))

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        return self.order


def _fields(desired: Desired) -> dict[str, Any]:
    return {k: v for k, v in desired.spec.items() if k != "tags"}


def _observed(item: Item) -> Observed:
    fields = {**item.fields, "tags": user_tags(item.tags)}
    return Observed(fields=fields, attrs={"id": item.id, "name": item.name, "kind": item.kind},
                    tags=dict(item.tags))


def kind_of(cloud: Cloud, kind: str, **declared: Any) -> FakeDriver:
    """A fake driver class for `kind`, declared as a real one would be."""
    attrs = {"kind": kind, "cloud": cloud, **declared}
    cls = type(f"Fake{kind.replace('.', '')}", (FakeDriver,), attrs)
    return cls()  # type: ignore[no-any-return]


def gateway() -> AwsGateway:
    """An AWS gateway whose only call, the account guard's, is answered in-process."""

    def caller(**_: Any) -> tuple[Any, dict[str, Any]]:
        return AWSResponse("", 200, {}, None), {"Account": ACCOUNT, "Arn": "x", "UserId": "x"}

    return AwsGateway("us-east-1", hooks=[("before-call.sts.GetCallerIdentity", caller)])


def stack(tmp_path: Path, registry: dict[str, FakeDriver], docs: str, *, prune: bool = False,
          limit: int = 5) -> Stack:
    folder = tmp_path / "stack"
    folder.mkdir(exist_ok=True)
    (folder / "stack.yaml").write_text(
        f'name: test\nregion: us-east-1\naccount: "{ACCOUNT}"\nprune: {str(prune).lower()}\n'
        f"pruneLimit: {limit}\n")
    (folder / "resources.yaml").write_text(docs)
    return load_stack(folder, registry)
