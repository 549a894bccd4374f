"""ecs.Cluster: an ECS cluster, its Container Insights setting and tags.

All clusters a run reads are described together (100 names per call, tags
included), and the stack's own are found through the tagging index, then
confirmed by that same describe: a deleted cluster lingers as INACTIVE.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.model import Desired, Observed, Readiness, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames
from controller.resources.common import absent_ok, reread
from controller.resources.ecs_api import (
    ECS_NAME,
    ecs_tag_list,
    last_part,
    live_tags,
    live_user_tags,
    write_tags,
)
from controller.resources.tagged import by_id, stack_arns

DESCRIBE_LIMIT = 100  # describe_clusters takes at most 100 names
# Cluster statuses that are not yet (or no longer) a usable cluster, in ECS's words.
SETTLING = frozenset({"PROVISIONING", "DEPROVISIONING"})


class ClusterSpec(SpecModel):
    """The cluster is named by the resource's `name`."""

    containerInsights: Literal["enabled", "disabled", "enhanced"] | None = Field(
        default=None, description="CloudWatch Container Insights; AWS's default is disabled"
    )
    tags: Tags | None = None


def _describe(ctx: RunContext, names: list[str]) -> dict[str, dict[str, Any]]:
    """Live clusters by name: a deleted cluster lingers as INACTIVE and counts as absent."""
    answer = ctx.client("ecs").describe_clusters(clusters=names, include=["SETTINGS", "TAGS"])
    return {c["clusterName"]: c for c in answer["clusters"] if c.get("status") != "INACTIVE"}


CLUSTERS: ByNames[dict[str, Any]] = ByNames("ecs.clusters", _describe, DESCRIBE_LIMIT)


class ClusterDriver(Driver):
    kind = "ecs.Cluster"
    name_rule = ECS_NAME
    spec_model = ClusterSpec
    attributes = ("arn", "name")

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One describe_clusters for every cluster of the stack.
        CLUSTERS.prime(ctx, [d.name for d in desired])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        cluster = CLUSTERS.get(ctx, desired.name)
        return None if cluster is None else _observed(cluster, desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        # create_cluster on an existing name replaces it in moto (and AWS answers with the
        # existing one): read afresh first, so a create never clobbers a live cluster.
        existing = _describe(ctx, [desired.name]).get(desired.name)
        if existing is not None:
            return _observed(existing, desired)
        args: dict[str, Any] = {"clusterName": desired.name, "tags": ecs_tag_list(desired.tags())}
        if desired.spec.get("containerInsights") is not None:
            args["settings"] = _settings(desired.spec["containerInsights"])
        ctx.client("ecs").create_cluster(**args)
        CLUSTERS.forget(ctx, desired.name)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        if "containerInsights" in changed and desired.spec.get("containerInsights") is not None:
            # update_cluster(settings=...) rather than update_cluster_settings: same effect
            # in AWS, and the only one of the two the emulator implements.
            ctx.client("ecs").update_cluster(
                cluster=desired.name, settings=_settings(desired.spec["containerInsights"])
            )
        if "tags" in changed:
            write_tags(ctx, live.attrs["arn"], desired, live)
        CLUSTERS.forget(ctx, desired.name)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        absent_ok(ctx.client("ecs").delete_cluster, cluster=live.attrs["arn"])
        CLUSTERS.forget(ctx, live.attrs["name"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the candidates (one call shared by every kind); one
        describe per 100 of them, the same the observes of this run read, confirms them."""
        names = [last_part(arn) for arn in stack_arns(ctx, "ecs", "cluster/")]
        CLUSTERS.prime(ctx, names)
        found = (CLUSTERS.get(ctx, name) for name in names)
        return by_id((_found(c) for c in found if c is not None), ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """A cluster with capacity providers is PROVISIONING for a while, or FAILED."""
        status = live.attrs.get("status")
        if status in SETTLING:
            return Readiness("progressing", f"cluster {status}")
        if status == "FAILED":
            return Readiness("failed", "cluster FAILED")
        return Readiness()


def _settings(container_insights: str) -> list[dict[str, str]]:
    return [{"name": "containerInsights", "value": container_insights}]


def _found(cluster: dict[str, Any]) -> Observed:
    """A described cluster as the inventory lists it: no desired state to shape fields by."""
    return Observed(fields={}, attrs=_attrs(cluster), tags=live_tags(cluster))


def _attrs(cluster: dict[str, Any]) -> dict[str, Any]:
    return {"arn": cluster["clusterArn"], "name": cluster["clusterName"],
            "status": cluster.get("status")}


def _observed(cluster: dict[str, Any], desired: Desired) -> Observed:
    settings = {s["name"]: s["value"] for s in cluster.get("settings") or []}
    # AWS reports the setting once it has been touched; an untouched cluster is "disabled".
    fields: dict[str, Any] = {"containerInsights": settings.get("containerInsights", "disabled")}
    if "tags" in desired.spec:
        fields["tags"] = live_user_tags(cluster)
    return Observed(fields=fields, attrs=_attrs(cluster), tags=live_tags(cluster))
