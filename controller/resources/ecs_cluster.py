"""ecs.Cluster: an ECS cluster, its Container Insights setting and tags."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.aws.errors import is_not_found
from controller.resources.base import (
    Desired,
    Driver,
    Observed,
    RunContext,
    SpecModel,
    Tags,
)
from controller.resources.ecs_api import (
    ECS_NAME,
    ecs_tag_list,
    forget_name,
    live_tags,
    live_user_tags,
    lookup_name,
    prefetch_names,
    sync_tags,
)

CACHE_KEY = ("ecs.clusters",)
DESCRIBE_LIMIT = 100  # describe_clusters takes at most 100 names


class ClusterSpec(SpecModel):
    """The cluster is named by the resource's `name`."""

    containerInsights: Literal["enabled", "disabled", "enhanced"] | None = Field(
        default=None, description="CloudWatch Container Insights; AWS's default is disabled"
    )
    tags: Tags | None = None


class ClusterDriver(Driver):
    kind = "ecs.Cluster"
    name_rule = ECS_NAME
    spec_model = ClusterSpec
    attributes = ("arn", "name")

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One describe_clusters for every cluster of the stack.
        names = [d.name for d in desired]
        prefetch_names(ctx, CACHE_KEY, names, lambda n: _describe(ctx, n), DESCRIBE_LIMIT)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        cluster = lookup_name(ctx, CACHE_KEY, desired.name, lambda n: _describe(ctx, n),
                              DESCRIBE_LIMIT)
        return None if cluster is None else _observed(cluster, desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        # create_cluster on an existing name replaces it in moto (and AWS answers with the
        # existing one): read first, so a create never clobbers a live cluster.
        existing = _describe(ctx, [desired.name]).get(desired.name)
        if existing is not None:
            return _observed(existing, desired)
        args: dict[str, Any] = {"clusterName": desired.name, "tags": ecs_tag_list(desired.tags())}
        if desired.spec.get("containerInsights") is not None:
            args["settings"] = _settings(desired.spec["containerInsights"])
        ctx.client("ecs").create_cluster(**args)
        return self._reread(desired, ctx)

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
            sync_tags(ctx, live.attrs["arn"], live.fields.get("tags", {}), desired)
        return self._reread(desired, ctx)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        try:
            ctx.client("ecs").delete_cluster(cluster=desired.name)
        except Exception as err:
            if not is_not_found(err):
                raise
        forget_name(ctx, CACHE_KEY, desired.name)

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        forget_name(ctx, CACHE_KEY, desired.name)
        observed = self.observe(desired, ctx)
        assert observed is not None, f"{desired.id} vanished right after it was written"
        return observed


def _settings(container_insights: str) -> list[dict[str, str]]:
    return [{"name": "containerInsights", "value": container_insights}]


def _describe(ctx: RunContext, names: list[str]) -> dict[str, dict[str, Any]]:
    """ACTIVE clusters by name: a deleted cluster lingers as INACTIVE and counts as absent."""
    answer = ctx.client("ecs").describe_clusters(clusters=names, include=["SETTINGS", "TAGS"])
    return {c["clusterName"]: c for c in answer["clusters"] if c.get("status") != "INACTIVE"}


def _observed(cluster: dict[str, Any], desired: Desired) -> Observed:
    settings = {s["name"]: s["value"] for s in cluster.get("settings") or []}
    # AWS reports the setting once it has been touched; an untouched cluster is "disabled".
    fields: dict[str, Any] = {"containerInsights": settings.get("containerInsights", "disabled")}
    if "tags" in desired.spec:
        fields["tags"] = live_user_tags(cluster)
    return Observed(fields=fields, attrs={"arn": cluster["clusterArn"],
                                          "name": cluster["clusterName"]},
                    tags=live_tags(cluster))
