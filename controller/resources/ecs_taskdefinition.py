"""ecs.TaskDefinition: a task-definition family, managed as its latest ACTIVE revision.

Revisions are immutable in ECS, so an update registers a new revision of the
family (the `arn` attribute changes, and services referring to it follow);
a change of tags only is written on the current revision instead, because a
new revision would roll every service for nothing.

ECS has no batch describe of task definitions: one call per family, read once per run
(observe and inventory share it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import STACK_KEY
from controller.model import Desired, FieldError, Observed, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames
from controller.resources.common import reread
from controller.resources.ecr_images import ecr_images, not_in_ecr
from controller.resources.ecs_api import (
    ECS_NAME,
    ecs_tag_list,
    last_part,
    live_tags,
    live_user_tags,
    revision_name,
    write_tags,
)
from controller.resources.ecs_containers import (
    ContainerDefinition,
    StrictModel,
    canonical_containers,
)
from controller.resources.shapes import RoleArn
from controller.resources.tagged import by_id, stack_arns

NetworkMode = Literal["awsvpc", "bridge", "host", "none"]
Compatibility = Literal["FARGATE", "EC2", "EXTERNAL"]
DEFAULT_NETWORK_MODE: NetworkMode = "awsvpc"
DEFAULT_COMPATIBILITIES: list[Compatibility] = ["FARGATE"]
# Task-level fields read back from a revision (containers and tags are handled apart).
TASK_FIELDS = ("cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn",
               "taskRoleArn", "runtimePlatform")
# Fargate's task sizes: cpu units -> the memory (MiB) it runs them with; AWS refuses others.
FARGATE_MEMORY: dict[int, range | tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}


class RuntimePlatform(StrictModel):
    cpuArchitecture: Literal["X86_64", "ARM64"] | None = None
    operatingSystemFamily: str | None = Field(default=None, description="e.g. LINUX")


class TaskDefinitionSpec(SpecModel):
    """The family is the resource's `name`. cpu/memory are strings as ECS keeps them
    ("256", "512"); integers are accepted and written as strings."""

    model_config = ConfigDict(hide_input_in_errors=True)

    cpu: str | None = Field(default=None, description='task CPU units, e.g. "256"')
    memory: str | None = Field(default=None, description='task memory MiB, e.g. "512"')
    networkMode: NetworkMode = Field(
        default=DEFAULT_NETWORK_MODE, description="default awsvpc (Fargate needs it)")
    requiresCompatibilities: list[Compatibility] = Field(
        default_factory=lambda: list(DEFAULT_COMPATIBILITIES), description="default [FARGATE]")
    executionRoleArn: RoleArn | None = None
    taskRoleArn: RoleArn | None = None
    runtimePlatform: RuntimePlatform | None = None
    containerDefinitions: list[ContainerDefinition] = Field(min_length=1)
    tags: Tags | None = None

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _unique_container_names(self) -> TaskDefinitionSpec:
        names = [c.name for c in self.containerDefinitions]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise FieldError(("containerDefinitions", i, "name"),
                                 f"container names must be unique: {name} is also container "
                                 f"{names.index(name)}")
        return self

    @model_validator(mode="after")
    def _fargate_size(self) -> TaskDefinitionSpec:
        if "FARGATE" in self.requiresCompatibilities:
            check_fargate_size(self.cpu, self.memory)
        return self


def check_fargate_size(cpu: str | None, memory: str | None) -> None:
    """Raise FieldError unless Fargate runs `cpu` with `memory`: AWS refuses the
    registration otherwise. Checked only when both are plain numbers ("1 vCPU" and
    refs are left to AWS)."""
    if not (cpu and memory and cpu.isdigit() and memory.isdigit()):
        return
    allowed = FARGATE_MEMORY.get(int(cpu))
    if allowed is None:
        raise FieldError(("cpu",), f"Fargate takes cpu {_sizes(tuple(FARGATE_MEMORY))}, "
                                   f"not {cpu}")
    if int(memory) not in allowed:
        raise FieldError(("memory",), f"Fargate runs cpu {cpu} with memory "
                                      f"{_sizes(allowed)} (MiB), not {memory}")


def _sizes(allowed: range | tuple[int, ...]) -> str:
    """Sizes as AWS's table reads: "1024 to 4096 in steps of 1024", "512, 1024 or 2048"."""
    if isinstance(allowed, range):
        return f"{allowed.start} to {allowed[-1]} in steps of {allowed.step}"
    return ", ".join(map(str, allowed[:-1])) + f" or {allowed[-1]}"


class TaskDefinitionDriver(Driver):
    kind = "ecs.TaskDefinition"
    name_rule = ECS_NAME  # the family
    spec_model = TaskDefinitionSpec
    attributes = ("arn", "family")
    changed_by_update = frozenset({"arn"})
    # roles, image repositories, secrets (valueFrom), log groups (awslogs-group) and queue
    # URLs (environment) of its containers
    references = ("iam.Role", "ecr.Repository", "secretsmanager.Secret", "logs.LogGroup",
                  "sqs.Queue", "rds.DBInstance", "s3.Bucket", "elasticache.ReplicationGroup",
                  "cloudfront.Distribution")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        # The model's defaults are dropped by exclude_unset; they are this kind's opinion
        # (AWS's own default is bridge/EC2), so they are declared and compared.
        out.setdefault("networkMode", DEFAULT_NETWORK_MODE)
        out.setdefault("requiresCompatibilities", list(DEFAULT_COMPATIBILITIES))
        for key in ("cpu", "memory"):
            if isinstance(out.get(key), int) and not isinstance(out[key], bool):
                out[key] = str(out[key])
        if isinstance(out["requiresCompatibilities"], list):
            out["requiresCompatibilities"] = sorted(out["requiresCompatibilities"])
        if isinstance(out.get("containerDefinitions"), list):
            out["containerDefinitions"] = canonical_containers(
                out["containerDefinitions"], out.get("networkMode"))
        return out

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        if action == "create":
            return "first revision"
        if action == "update" and set(changed) <= {"tags"}:
            return "tags only: the revision stays"
        if action == "update" and live is not None:
            return f"new revision after {revision_name(live.attrs['arn'])}"
        return None

    def missing(self, desired: Desired, live: Observed | None,
                ctx: RunContext) -> str | None:
        """An image of the account's ECR that its repository does not hold: no new revision
        that cannot start (stack.yaml's `checkImages: false` turns the check off). A
        family's first revision is not checked: a stack's first apply makes the
        repositories in the same run, so they cannot hold the images yet."""
        if not ctx.check_images or live is None:
            return None
        names = [str(c.get("image")) for c in desired.spec.get("containerDefinitions") or []
                 if isinstance(c, dict) and isinstance(c.get("image"), str)]
        absent = not_in_ecr(ecr_images(names, ctx.aws.account, ctx.aws.region), ctx)
        if not absent:
            return None
        images = ", ".join(f"image {image}" for image in absent)
        return (f"{images} {'is' if len(absent) == 1 else 'are'} not in ECR: push "
                f"{'it' if len(absent) == 1 else 'them'} (or fix the tag); nothing rolls "
                "until then")

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        answer = FAMILIES.get(ctx, desired.name)
        if answer is None:
            return None
        live = _observed(answer, desired)
        if STACK_KEY not in (live.tags or {}):
            live.tags = _family_owner_tags(ctx, desired.name) or live.tags
        return live

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        # Registering is naturally idempotent: at worst an identical extra revision.
        return self._register(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        if set(changed) <= {"tags"}:
            write_tags(ctx, live.attrs["arn"], desired, live)
            FAMILIES.forget(ctx, desired.name)
            return reread(self, desired, ctx)
        return self._register(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Deregister every ACTIVE revision of the family: none left is what gone means."""
        family, ecs = live.attrs["family"], ctx.client("ecs")
        for arn in _active_revisions(ctx, family):
            ecs.deregister_task_definition(taskDefinition=arn)
        FAMILIES.forget(ctx, family)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the families (one call shared by every kind, listing
        deregistered revisions too); each family's newest ACTIVE revision, the read observe
        makes, confirms it and carries the tags that count."""
        families = sorted({_family(arn) for arn in stack_arns(ctx, "ecs", "task-definition/")})
        found = (FAMILIES.get(ctx, family) for family in families)
        return by_id((_found(answer) for answer in found if answer is not None), ctx)

    def _register(self, desired: Desired, ctx: RunContext) -> Observed:
        """Register the full desired spec as a new revision, tagged with the ownership tags."""
        body = {k: v for k, v in desired.spec.items() if k != "tags"}
        tags = ecs_tag_list(desired.tags())
        answer = ctx.client("ecs").register_task_definition(family=desired.name, tags=tags,
                                                            **body)
        FAMILIES.forget(ctx, desired.name)
        # AWS answers with the revision's tags, the emulator without: they are the ones sent.
        return _observed({"tags": tags, **answer}, desired)


def _family(arn: str) -> str:
    """The family of a revision ARN (`.../task-definition/<family>:<revision>`)."""
    return last_part(arn).rsplit(":", 1)[0]


def _family_owner_tags(ctx: RunContext, family: str) -> dict[str, str] | None:
    """The ownership tags of the family's newest revision the stack tagged: a revision
    registered by hand into our family (untagged) is drift to correct, not a stranger's
    resource to adopt. Read from the run's shared tagging-index listing."""
    ours = stack_arns(ctx, "ecs", f"task-definition/{family}:")
    if not ours:
        return None
    newest = max(ours, key=lambda arn: int(arn.rsplit(":", 1)[-1]))
    return ours[newest]


def _newest(ctx: RunContext, families: list[str]) -> dict[str, dict[str, Any]]:
    """ByNames' fetch: the newest ACTIVE revision of each family that has one."""
    found = {family: _latest_active(ctx, family) for family in families}
    return {family: answer for family, answer in found.items() if answer is not None}


# One describe per family (there is no batch describe), once per run.
FAMILIES: ByNames[dict[str, Any]] = ByNames("ecs.taskdefinitions", _newest, 1)


def _latest_active(ctx: RunContext, family: str) -> dict[str, Any] | None:
    """describe_task_definition of the family's newest ACTIVE revision, or None."""
    ecs = ctx.client("ecs")
    try:
        answer: dict[str, Any] = ecs.describe_task_definition(taskDefinition=family,
                                                              include=["TAGS"])
    except errors.ClientError as err:
        # ECS has no not-found code here: a family without revisions is a ClientException.
        if error_code(err) == "ClientException":
            return None
        raise
    if answer["taskDefinition"].get("status") == "ACTIVE":
        return answer
    # AWS answers the newest ACTIVE revision; the emulator the newest of any status.
    active = _active_revisions(ctx, family)
    if not active:
        return None
    latest: dict[str, Any] = ecs.describe_task_definition(taskDefinition=active[-1],
                                                          include=["TAGS"])
    return latest


def _active_revisions(ctx: RunContext, family: str) -> list[str]:
    """ARNs of the family's ACTIVE revisions, oldest first (familyPrefix is only a prefix)."""
    pages = ctx.client("ecs").get_paginator("list_task_definitions").paginate(
        familyPrefix=family, status="ACTIVE", sort="ASC")
    arns = [arn for page in pages for arn in page["taskDefinitionArns"]]
    mine = [arn for arn in arns if _family(arn) == family]
    return sorted(mine, key=lambda arn: int(arn.rsplit(":", 1)[-1]))


def _attrs(td: dict[str, Any]) -> dict[str, Any]:
    return {"arn": td["taskDefinitionArn"], "family": td["family"], "revision": td["revision"]}


def _found(answer: dict[str, Any]) -> Observed:
    """A described revision as the inventory lists it: no desired state to shape fields by."""
    return Observed(fields={}, attrs=_attrs(answer["taskDefinition"]), tags=live_tags(answer))


def _observed(answer: dict[str, Any], desired: Desired) -> Observed:
    """A described (or just registered) revision in the spec's canonical form."""
    td = answer["taskDefinition"]
    fields: dict[str, Any] = {k: td[k] for k in TASK_FIELDS if k in td}
    if "requiresCompatibilities" in fields:
        fields["requiresCompatibilities"] = sorted(fields["requiresCompatibilities"])
    fields["containerDefinitions"] = canonical_containers(
        td.get("containerDefinitions") or [], td.get("networkMode"))
    if "tags" in desired.spec:
        fields["tags"] = live_user_tags(answer)
    return Observed(fields=fields, attrs=_attrs(td), tags=live_tags(answer))
