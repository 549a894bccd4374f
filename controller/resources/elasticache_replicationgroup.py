"""elasticache.ReplicationGroup: a Redis (or Valkey) primary with its replicas.

What AWS reports where: the group's describe holds its own settings (node type,
failover, Multi-AZ, encryption, snapshots, endpoints); the network settings (subnet
group, security groups) and the engine version are its member clusters', so a run
lists the account's replication groups and, once one exists, its cache clusters:
two listings of 100 a page, whatever the number of groups. Tags are one
ListTagsForResource per group's ARN.

The auth token. A value the controller read could leak into a plan or a log, so it
never reads one (no GetSecretValue). It writes one instead: `authTokenSecret` names a
Secrets Manager secret (an ARN or a name, e.g. secretsmanager.Secret's `arn`, declared
without `generate`); at create, and when git names another secret (a rotation), the
driver asks Secrets Manager for a random token, puts it in that secret, and passes it
to ElastiCache in the same method, never binding it anywhere else. Which secret holds
the live token is recorded in a controller tag on the group (`gitops:auth-token-secret`),
so naming another secret in git shows in the plan and rotates the token (AWS's ROTATE:
the old token keeps working until a SET). The API's tasks get the token from that
secret as an ECS `secrets` entry. A token changed by hand out of band cannot be seen.

Writes are asynchronous in AWS (status `modifying`): observe reads pending values
where AWS reports them, so a write just made does not read as drift; readiness is
the group's status. A group being deleted is gone for the plan (AWS frees its name
once the delete ends).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import as_key_value_list, user_tags
from controller.model import Desired, FieldError, Observed, Readiness, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread
from controller.resources.elasticache_common import (
    ABSENT,
    REPLICATION_GROUP_NAME,
    forget_tags,
    name_of,
    pages,
    read_tags,
    write_tags,
)
from controller.resources.tagged import by_id, stack_arns

# The controller's record of which secret holds the group's live auth token.
TOKEN_SECRET_KEY = "gitops:auth-token-secret"
# AWS's token rules: 16-128 printable characters without / " @ %. Letters and digits only
# also keep it safe in a URL.
_TOKEN = {"PasswordLength": 64, "ExcludePunctuation": True}
# Statuses of a group AWS is still working on, and the one it gave up on.
PROGRESSING = frozenset({"creating", "modifying", "snapshotting"})
FAILED = frozenset({"create-failed"})
ENGINES = {"redis": "Redis", "valkey": "Valkey"}

# spec field -> ModifyReplicationGroup parameter (in-place changes, one call)
_MODIFY = {
    "replicationGroupDescription": "ReplicationGroupDescription",
    "engine": "Engine",
    "engineVersion": "EngineVersion",
    "cacheNodeType": "CacheNodeType",
    "automaticFailoverEnabled": "AutomaticFailoverEnabled",
    "multiAZEnabled": "MultiAZEnabled",
    "securityGroupIds": "SecurityGroupIds",
    "transitEncryptionEnabled": "TransitEncryptionEnabled",
    "transitEncryptionMode": "TransitEncryptionMode",
    "snapshotRetentionLimit": "SnapshotRetentionLimit",
    "snapshotWindow": "SnapshotWindow",
}
# spec field -> CreateReplicationGroup parameter (besides the ones above)
_CREATE = {
    **_MODIFY,
    "numCacheClusters": "NumCacheClusters",
    "atRestEncryptionEnabled": "AtRestEncryptionEnabled",
    "cacheSubnetGroupName": "CacheSubnetGroupName",
    "port": "Port",
}


class StillDeleting(Exception):
    """The name is held by a group AWS is deleting: a later run creates the new one."""


class StillModifying(Exception):
    """AWS is still applying an earlier write to the group: what is left is written by the
    next run (AWS refuses it until then). Retryable, not a failure of the spec."""


class ReplicationGroupSpec(SpecModel):
    """One shard (cluster mode disabled): a primary and `numCacheClusters - 1` replicas.
    The group is named by the resource's `name` (lower case: AWS lowers it)."""

    replicationGroupDescription: str = Field(min_length=1, description="required by AWS")
    engine: Literal["redis", "valkey"] | None = Field(
        default=None, description="AWS's default redis; redis -> valkey is an in-place upgrade")
    engineVersion: str | None = Field(
        default=None, description="e.g. 7.1 (matches the 7.1.x AWS runs); upgrades in place")
    cacheNodeType: str = Field(description="e.g. cache.t3.micro; scales in place")
    numCacheClusters: int | None = Field(
        default=None, ge=1, le=6, description="nodes: the primary plus its replicas")
    automaticFailoverEnabled: bool | None = Field(
        default=None, description="a replica takes over from a failed primary (needs 2+ nodes)")
    multiAZEnabled: bool | None = Field(
        default=None, description="nodes in different zones (needs automatic failover)")
    atRestEncryptionEnabled: bool | None = Field(default=None, description="(immutable)")
    transitEncryptionEnabled: bool | None = Field(
        default=None, description="TLS to the nodes (rediss://); needed by an auth token")
    transitEncryptionMode: Literal["preferred", "required"] | None = Field(
        default=None, description="turning TLS on in place goes through preferred first")
    authTokenSecret: str | None = Field(
        default=None, description="ARN or name of the secret the driver writes the auth "
                                  "token to (never reads it); another secret rotates it")
    cacheSubnetGroupName: str | None = Field(
        default=None, description="${ref:elasticache.CacheSubnetGroup/NAME.name} (immutable)")
    securityGroupIds: list[str] | None = Field(default=None, description="compared as a set")
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="AWS's default 6379 (immutable)")
    snapshotRetentionLimit: int | None = Field(
        default=None, ge=0, le=35, description="days of automatic snapshots; 0 turns them off")
    snapshotWindow: str | None = Field(
        default=None, pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="UTC, e.g. 03:00-04:00")
    tags: Tags | None = None

    @model_validator(mode="after")
    def _what_aws_refuses(self) -> ReplicationGroupSpec:
        if self.authTokenSecret is not None and self.transitEncryptionEnabled is not True:
            raise FieldError(("transitEncryptionEnabled",),
                             "an auth token needs transitEncryptionEnabled: true")
        if self.automaticFailoverEnabled and (self.numCacheClusters or 1) < 2:
            raise FieldError(("numCacheClusters",),
                             "automatic failover needs a replica: numCacheClusters of 2 or more")
        if self.multiAZEnabled and not self.automaticFailoverEnabled:
            raise FieldError(("automaticFailoverEnabled",),
                             "Multi-AZ needs automaticFailoverEnabled: true")
        return self


def _groups(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every replication group of the account, by id (AWS has no narrower read)."""
    return {g["ReplicationGroupId"]: g for g in pages(
        ctx, "describe_replication_groups", "ReplicationGroups")}


def _clusters(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every cache cluster of the account, by id: a group's members hold its network
    settings and engine version."""
    return {c["CacheClusterId"]: c for c in pages(
        ctx, "describe_cache_clusters", "CacheClusters")}


GROUPS: Listing[dict[str, Any]] = Listing("elasticache.replicationgroups", _groups)
CLUSTERS: Listing[dict[str, Any]] = Listing("elasticache.cacheclusters", _clusters)


class ReplicationGroupDriver(Driver):
    kind = "elasticache.ReplicationGroup"
    name_rule = REPLICATION_GROUP_NAME
    spec_model = ReplicationGroupSpec
    attributes = ("arn", "name", "primaryEndpointAddress", "readerEndpointAddress", "port")
    immutable = frozenset({"atRestEncryptionEnabled", "cacheSubnetGroupName", "port"})
    holds_data = True
    references = ("elasticache.CacheSubnetGroup", "ec2.SecurityGroup", "secretsmanager.Secret")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if isinstance(out.get("securityGroupIds"), list):
            out["securityGroupIds"] = sorted(set(out["securityGroupIds"]), key=str)
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        GROUPS.all(ctx)  # one listing for every group; the clusters' only if one exists

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = GROUPS.get(ctx, desired.name)
        if group is None or group.get("Status") == "deleting":
            return None
        return _observed(group, desired, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        # Read afresh: a token is written to the secret only for a group about to be made,
        # never over the token of one that exists.
        fresh = _fresh(ctx, desired.name)
        if fresh is not None and fresh.get("Status") == "deleting":
            raise StillDeleting(f"{desired.id}: AWS is still deleting a replication group of "
                                "this name; a later run creates it once AWS frees the name")
        if fresh is None:
            spec = desired.spec
            args: dict[str, Any] = {p: spec[f] for f, p in _CREATE.items()
                                    if spec.get(f) is not None}
            tags = desired.tags()
            if spec.get("authTokenSecret"):
                tags[TOKEN_SECRET_KEY] = spec["authTokenSecret"]
                args["AuthToken"] = _new_token(ctx, spec["authTokenSecret"])
            ctx.client("elasticache").create_replication_group(
                ReplicationGroupId=desired.name, Tags=as_key_value_list(tags), **args)
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """The settings (one ModifyReplicationGroup), the replica count and the token are
        each their own AWS call, and AWS takes the next only once the group is available
        again (InvalidReplicationGroupState): what is left is StillModifying, written by
        the next run. A growing group gets its replicas before the settings (automatic
        failover and Multi-AZ need a replica), a shrinking one loses them after (failover
        and Multi-AZ off first)."""
        done: list[str] = []
        for what, call in _steps(desired, live, changed, ctx):
            try:
                call()
            except errors.ClientError as err:
                if done and error_code(err) == "InvalidReplicationGroupState":
                    raise StillModifying(
                        f"{desired.id}: AWS is still applying the {done[-1]} change "
                        f"({', '.join(done)} written); the rest is written by the next "
                        "run") from err
                raise
            done.append(what)
        secret = desired.spec.get("authTokenSecret")
        if "tags" in changed or ("authTokenSecret" in changed and secret):
            extra = {TOKEN_SECRET_KEY: secret} if secret else {}
            write_tags(ctx, live.attrs["arn"], desired, live.tags or {}, extra)
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """With a final snapshot (its automatic ones go with the group), where the node
        type can make one. A group already deleting counts as gone."""
        name, ec = live.attrs["name"], ctx.client("elasticache")
        final = f"{name}-final-{datetime.now(UTC):%Y%m%d%H%M%S}"
        try:
            try:
                absent_ok(ec.delete_replication_group, ReplicationGroupId=name,
                          FinalSnapshotIdentifier=final, absent=ABSENT)
            except errors.ClientError as err:
                if error_code(err) != "SnapshotFeatureNotSupportedFault":
                    raise
                absent_ok(ec.delete_replication_group, ReplicationGroupId=name, absent=ABSENT)
        except errors.ClientError as err:
            fresh = _fresh(ctx, name)
            if error_code(err) != "InvalidReplicationGroupState" or (
                    fresh is not None and fresh.get("Status") != "deleting"):
                raise
        finally:
            GROUPS.forget(ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the candidates; the run's one listing confirms them
        (a deleting group is gone already), and each one's tags are read by its ARN."""
        found = []
        for arn in stack_arns(ctx, "elasticache", "replicationgroup:"):
            group = GROUPS.get(ctx, name_of(arn))
            if group is not None and group.get("Status") != "deleting":
                found.append(Observed(fields={}, attrs=_attrs(group),
                                      tags=read_tags(ctx, group["ARN"])))
        return by_id(found, ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        status = str(live.attrs.get("status") or "")
        if status in PROGRESSING:
            return Readiness("progressing", f"replication group {status}")
        if status in FAILED:
            return Readiness("failed", f"replication group {status}")
        return Readiness()

    def at_risk(self, live: Observed) -> str | None:
        attrs = live.attrs
        engine = ENGINES.get(str(attrs.get("engine")), str(attrs.get("engine") or "Redis"))
        size = ", ".join(str(p) for p in (attrs.get("cacheNodeType"),
                                          _count(attrs.get("nodes"), "node")) if p)
        days = attrs.get("snapshotRetentionLimit") or 0
        kept = f" and its {_count(days, 'day')} of automatic snapshots" if days else ""
        return (f"the {engine} replication group {attrs.get('name')}"
                f"{f' ({size})' if size else ''}: every key in it{kept}")

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        secret = desired.spec.get("authTokenSecret")
        if secret and (action == "create" or "authTokenSecret" in changed):
            return (f"a new random auth token is written to the secret {secret} (never read "
                    "back) and given to the group" + ("" if action == "create" else
                                                      "; the old token works until a SET"))
        return None

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        GROUPS.forget(ctx)
        CLUSTERS.forget(ctx)
        live = GROUPS.get(ctx, desired.name)
        if live is not None:
            forget_tags(ctx, live["ARN"])
        return reread(self, desired, ctx)


def _steps(desired: Desired, live: Observed, changed: list[str],
           ctx: RunContext) -> list[tuple[str, Callable[[], Any]]]:
    """The AWS calls an update makes, in the order AWS takes them (see `update`)."""
    ec, name, spec = ctx.client("elasticache"), desired.name, desired.spec
    steps: list[tuple[str, Callable[[], Any]]] = []
    args = {_MODIFY[f]: spec[f] for f in changed if f in _MODIFY and spec.get(f) is not None}
    if args:
        steps.append(("settings", lambda: ec.modify_replication_group(
            ReplicationGroupId=name, ApplyImmediately=True, **args)))
    wanted = spec.get("numCacheClusters")
    if "numCacheClusters" in changed and wanted is not None:
        grow = wanted > int(live.fields.get("numCacheClusters") or 0)
        scale = ec.increase_replica_count if grow else ec.decrease_replica_count
        step = ("replica count", lambda: scale(
            ReplicationGroupId=name, NewReplicaCount=wanted - 1, ApplyImmediately=True))
        steps.insert(0 if grow else len(steps), step)
    secret = spec.get("authTokenSecret")
    if "authTokenSecret" in changed and secret:
        steps.append(("auth token", lambda: ec.modify_replication_group(
            ReplicationGroupId=name, AuthToken=_new_token(ctx, secret),
            AuthTokenUpdateStrategy="ROTATE", ApplyImmediately=True)))
    return steps


def _fresh(ctx: RunContext, name: str) -> dict[str, Any] | None:
    """The group as AWS has it now (not the plan's read), or None."""
    answer = absent_ok(ctx.client("elasticache").describe_replication_groups,
                       ReplicationGroupId=name, absent=ABSENT)
    groups = (answer or {}).get("ReplicationGroups") or []
    return groups[0] if groups else None


def _new_token(ctx: RunContext, secret: str) -> str:
    """A random token, put in `secret` first (so what the group accepts is always in the
    secret), and returned only to the ElastiCache call that sets it."""
    sm = ctx.client("secretsmanager")
    token = str(sm.get_random_password(**_TOKEN)["RandomPassword"])
    sm.put_secret_value(SecretId=secret, SecretString=token)
    return token


def _count(n: Any, unit: str) -> str:
    return "" if n is None else f"{n} {unit}{'' if n == 1 else 's'}"


def _endpoint(group: dict[str, Any], which: str = "PrimaryEndpoint") -> dict[str, Any]:
    """The group's endpoint once AWS has made it (none while creating)."""
    if which == "PrimaryEndpoint" and group.get("ConfigurationEndpoint"):
        return dict(group["ConfigurationEndpoint"])  # cluster mode enabled
    shards = group.get("NodeGroups") or [{}]
    return dict(shards[0].get(which) or {})


def _attrs(group: dict[str, Any]) -> dict[str, Any]:
    primary = _endpoint(group)
    return {
        "arn": group["ARN"], "name": group["ReplicationGroupId"],
        "primaryEndpointAddress": primary.get("Address"),
        "readerEndpointAddress": _endpoint(group, "ReaderEndpoint").get("Address"),
        "port": primary.get("Port"),
        "status": group.get("Status"), "engine": group.get("Engine") or "redis",
        "cacheNodeType": group.get("CacheNodeType"),
        "nodes": len(group.get("MemberClusters") or []),
        "snapshotRetentionLimit": group.get("SnapshotRetentionLimit"),
    }


def _same_version(want: str, have: str) -> bool:
    """`7.1` (or AWS's old `6.x`) names the version AWS runs, `7.1.0`."""
    stem = want.removesuffix(".x")
    return have == want or have.startswith(stem + ".")


def _observed(group: dict[str, Any], desired: Desired, ctx: RunContext) -> Observed:
    tags = read_tags(ctx, group["ARN"], desired)
    pending = group.get("PendingModifiedValues") or {}
    failover = pending.get("AutomaticFailoverStatus") or group.get("AutomaticFailover")
    fields: dict[str, Any] = {
        "replicationGroupDescription": group.get("Description", ""),
        "engine": group.get("Engine") or "redis",
        "cacheNodeType": group.get("CacheNodeType"),
        "numCacheClusters": len(group.get("MemberClusters") or []),
        "automaticFailoverEnabled": failover in ("enabled", "enabling"),
        "multiAZEnabled": group.get("MultiAZ") == "enabled",
        "atRestEncryptionEnabled": bool(group.get("AtRestEncryptionEnabled")),
        "transitEncryptionEnabled": bool(pending.get(
            "TransitEncryptionEnabled", group.get("TransitEncryptionEnabled"))),
        "transitEncryptionMode": pending.get("TransitEncryptionMode",
                                             group.get("TransitEncryptionMode")),
        # Which secret holds the live token: the controller's tag, while AWS has one.
        "authTokenSecret": tags.get(TOKEN_SECRET_KEY) if group.get("AuthTokenEnabled") else None,
        "snapshotRetentionLimit": group.get("SnapshotRetentionLimit", 0),
        "snapshotWindow": group.get("SnapshotWindow"),
    }
    port = _endpoint(group).get("Port")
    if port is not None:
        fields["port"] = port
    elif "port" in desired.spec:
        fields["port"] = desired.spec["port"]  # AWS tells the port with the endpoint, later
    fields.update(_member_fields(group, desired, ctx))
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(group), tags=tags)


def _member_fields(group: dict[str, Any], desired: Desired, ctx: RunContext) -> dict[str, Any]:
    """What the group's describe does not say, read from its first member cluster (all
    members share it); nothing when no member is listed (the field then reads missing)."""
    members = CLUSTERS.all(ctx)
    member = next((members[m] for m in group.get("MemberClusters") or [] if m in members), None)
    if member is None:
        return {}
    pending = member.get("PendingModifiedValues") or {}
    out: dict[str, Any] = {
        "cacheSubnetGroupName": member.get("CacheSubnetGroupName"),
        "securityGroupIds": sorted(g["SecurityGroupId"] for g in member.get("SecurityGroups")
                                   or []),
    }
    if pending.get("CacheNodeType"):  # scaling: what AWS is moving to counts as written
        out["cacheNodeType"] = pending["CacheNodeType"]
    version = str(pending.get("EngineVersion") or member.get("EngineVersion") or "")
    want = desired.spec.get("engineVersion")
    out["engineVersion"] = want if isinstance(want, str) and _same_version(want, version) \
        else version
    return out
