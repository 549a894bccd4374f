"""The loaded stack: stack.yaml's settings and the resource documents it gathers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from controller.model import Kinds, Policy


class StackConfig(BaseModel):
    """stack.yaml: which stack, where it may write, what it includes, its values."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="the stack's name")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="the AWS region")
    account: str = Field(pattern=r"^\d{12}$", description="the only AWS account it may touch")
    includes: list[str] = Field(default_factory=list, description="folders relative to this one")
    values: dict[str, Any] = Field(default_factory=dict, description="${values.x} substitutions")
    prune: bool = Field(default=False, description="delete resources this stack created that "
                                                   "git no longer declares (never data kinds)")
    pruneLimit: int = Field(default=5, ge=0, description="the most one run may prune; past it "
                                                         "none is deleted")
    checkImages: bool = Field(default=True, description="hold a task definition whose image "
                                                        "the account's ECR does not hold")


@dataclass
class ResourceDoc:
    """One resource as written: spec validated, values substituted, refs still text."""

    kind: str
    name: str
    spec: dict[str, Any]
    policy: Policy
    file: str
    line: int
    # targets (`Kind/name`) this resource's refs point at
    depends_on: set[str] = field(default_factory=set)
    # `adopt: vpc-0abc123`: take over this existing resource (tag-identified kinds)
    adopt: str | None = None
    # `dependsOn: [Kind/name]`: made after these, though no ref says so (AWS refuses a NAT
    # gateway before the VPC's internet gateway)
    after: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Stack:
    """A validated stack, ready for the engine."""

    config: StackConfig
    resources: list[ResourceDoc]
    revision: str | None = None
    source: str = ""
    # the kinds (the driver registry) the stack was validated against, for the engine
    kinds: Kinds = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def by_id(self) -> dict[str, ResourceDoc]:
        return {r.id: r for r in self.resources}
