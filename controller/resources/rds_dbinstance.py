"""rds.DBInstance: one RDS database instance, its master password kept by RDS itself.

The password never passes through git: `manageMasterUserPassword` is always on, RDS
generates the password into a Secrets Manager secret it owns, and the driver only
reads that secret's ARN (`masterUserSecretArn`, for an ECS container secret), never
its value.

What AWS does on its own is not drift: an automatic minor engine upgrade (15.4 to
15.7) or storage autoscaling (20 to 25 GiB) make the live value newer or larger than
git's, and RDS can neither downgrade an engine nor shrink storage, so git's version
and size are floors. A change RDS has queued for the maintenance window
(PendingModifiedValues) reads as its queued value, so an apply is not asked again on
every run; the plan says when a change lands (`plan_note`), and readiness names what
is still queued.

Reads: one paged DescribeDBInstances lists the account's instances once per run
(tags included in each TagList), shared by observe and inventory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import ID_KEY, STACK_KEY, user_tags
from controller.model import Desired, NameRule, Observed, Readiness, SpecModel, Tags, is_unknown
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread
from controller.resources.rds_common import (
    RDS_ABSENT,
    describe_all,
    rds_tag_list,
    tags_of,
    write_tags,
)
from controller.resources.shapes import KmsKey
from controller.resources.tagged import by_id

# AWS: 1-63 letters, digits or hyphens, a letter first, no "--", no trailing hyphen;
# stored in lower case.
DB_INSTANCE_NAME = NameRule(r"(?i)(?=.{1,63}$)[a-z](?:-?[a-z0-9])*",
                            "1-63 letters, digits and hyphens, a letter first, no '--' and "
                            "no hyphen last")
BACKUP_WINDOW = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
MAINTENANCE_WINDOW = (r"^(?i:mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
                      r"(?i:mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$")

# Status words, in RDS's spelling: `available` is ready; these are failures that waiting
# does not heal; every other word (creating, modifying, backing-up, rebooting,
# upgrading, renaming, ...) is AWS at work.
FAILED_STATUSES = frozenset({
    "failed", "storage-full", "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable", "restore-error",
    "insufficient-capacity", "stopped",
})
USABLE_STATUSES = frozenset({"available", "storage-optimization"})

# spec field -> (DescribeDBInstances / CreateDBInstance key, ModifyDBInstance key or None
# when AWS cannot change it in place). Fields read from nested shapes are in `_read`.
PARAMS: dict[str, tuple[str, str | None]] = {
    "engine": ("Engine", None),
    "engineVersion": ("EngineVersion", "EngineVersion"),
    "dbInstanceClass": ("DBInstanceClass", "DBInstanceClass"),
    "allocatedStorage": ("AllocatedStorage", "AllocatedStorage"),
    "maxAllocatedStorage": ("MaxAllocatedStorage", "MaxAllocatedStorage"),
    "storageType": ("StorageType", "StorageType"),
    "storageEncrypted": ("StorageEncrypted", None),
    "kmsKeyId": ("KmsKeyId", None),
    "dbName": ("DBName", None),
    "masterUsername": ("MasterUsername", None),
    "multiAZ": ("MultiAZ", "MultiAZ"),
    "port": ("Port", "DBPortNumber"),
    "backupRetentionPeriod": ("BackupRetentionPeriod", "BackupRetentionPeriod"),
    "preferredBackupWindow": ("PreferredBackupWindow", "PreferredBackupWindow"),
    "preferredMaintenanceWindow": ("PreferredMaintenanceWindow", "PreferredMaintenanceWindow"),
    "deletionProtection": ("DeletionProtection", "DeletionProtection"),
    "enablePerformanceInsights": ("EnablePerformanceInsights", "EnablePerformanceInsights"),
    "publiclyAccessible": ("PubliclyAccessible", "PubliclyAccessible"),
    "autoMinorVersionUpgrade": ("AutoMinorVersionUpgrade", "AutoMinorVersionUpgrade"),
    "copyTagsToSnapshot": ("CopyTagsToSnapshot", "CopyTagsToSnapshot"),
    "dbSubnetGroupName": ("DBSubnetGroupName", "DBSubnetGroupName"),
    "dbParameterGroupName": ("DBParameterGroupName", "DBParameterGroupName"),
    "vpcSecurityGroupIds": ("VpcSecurityGroupIds", "VpcSecurityGroupIds"),
    "manageMasterUserPassword": ("ManageMasterUserPassword", "ManageMasterUserPassword"),
}
# Request options, not properties AWS reports: echoed from git, so never drift.
OPTIONS = ("applyImmediately", "finalDBSnapshotIdentifier", "skipFinalSnapshot")
# PendingModifiedValues key -> spec field: what RDS has queued, read as the live value.
PENDING = {"DBInstanceClass": "dbInstanceClass", "AllocatedStorage": "allocatedStorage",
           "EngineVersion": "engineVersion", "MultiAZ": "multiAZ",
           "StorageType": "storageType", "DBSubnetGroupName": "dbSubnetGroupName",
           "BackupRetentionPeriod": "backupRetentionPeriod", "Port": "port"}
# Changes RDS holds for the maintenance window unless ApplyImmediately (AWS's "Settings
# for DB instances" table); backupRetentionPeriod only between 0 and non-zero.
DEFERRED = ("dbInstanceClass", "allocatedStorage", "storageType", "engineVersion", "multiAZ",
            "dbSubnetGroupName")
OUTAGE = frozenset({"dbInstanceClass", "engineVersion", "dbSubnetGroupName", "storageType"})
ENGINE_NAMES = {"postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}


class DBInstanceSpec(SpecModel):
    """The instance is named by the resource's `name` (its DBInstanceIdentifier)."""

    engine: str = Field(description="e.g. postgres (immutable)")
    engineVersion: str | None = Field(
        default=None, description="'15' follows AWS's minor upgrades; '15.4' is the version "
        "created, and a newer minor of 15 that AWS upgraded to is not drift (no downgrade)")
    dbInstanceClass: str = Field(description="e.g. db.t3.micro; deferred to the maintenance "
                                             "window unless applyImmediately")
    allocatedStorage: int = Field(ge=5, le=65536, description="GiB; a floor: RDS never "
                                  "shrinks storage, and storage autoscaling grows it")
    maxAllocatedStorage: int | None = Field(default=None, ge=5, le=65536,
                                            description="storage autoscaling's ceiling, GiB")
    storageType: str | None = Field(default=None, description="gp2, gp3, io1, io2...")
    storageEncrypted: bool | None = Field(default=None, description="(immutable)")
    kmsKeyId: KmsKey | None = Field(default=None, description="KMS key id or ARN for the "
                                    "storage (immutable); an alias cannot be compared with "
                                    "the key ARN RDS reports")
    dbName: str | None = Field(default=None, description="database created with the "
                                                         "instance (immutable)")
    masterUsername: str = Field(min_length=1, max_length=63, description="(immutable)")
    manageMasterUserPassword: Literal[True] = Field(
        default=True, description="always: RDS keeps the password in Secrets Manager")
    multiAZ: bool | None = None
    port: int | None = Field(default=None, ge=1150, le=65535,
                             description="a change restarts the instance at once")
    backupRetentionPeriod: int | None = Field(default=None, ge=0, le=35, description="days")
    preferredBackupWindow: str | None = Field(default=None, pattern=BACKUP_WINDOW,
                                              description="hh24:mi-hh24:mi, UTC")
    preferredMaintenanceWindow: str | None = Field(default=None, pattern=MAINTENANCE_WINDOW,
                                                   description="ddd:hh24:mi-ddd:hh24:mi, UTC")
    deletionProtection: bool | None = None
    enablePerformanceInsights: bool | None = None
    publiclyAccessible: bool | None = None
    autoMinorVersionUpgrade: bool | None = None
    copyTagsToSnapshot: bool | None = None
    dbSubnetGroupName: str | None = Field(
        default=None, description="usually ${ref:rds.DBSubnetGroup/NAME.name}")
    dbParameterGroupName: str | None = Field(
        default=None, description="a new group takes effect at the next reboot")
    vpcSecurityGroupIds: list[str] | None = Field(default=None, description="a set")
    applyImmediately: bool = Field(
        default=False, description="apply deferrable changes now (with their downtime) "
        "rather than in the maintenance window; a request option, never drift")
    finalDBSnapshotIdentifier: str | None = Field(
        default=None, description="snapshot taken when the instance is deleted (default "
        "NAME-final-TIMESTAMP)")
    skipFinalSnapshot: bool = Field(default=False, description="delete with no snapshot")
    tags: Tags | None = None


def _load(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every instance of the account by its (lower-case) identifier, tags included."""
    instances = describe_all(ctx, "describe_db_instances", "DBInstances")
    return {i["DBInstanceIdentifier"]: i for i in instances}


INSTANCES: Listing[dict[str, Any]] = Listing("rds.instances", _load)


class StillDeleting(Exception):
    """The name is held by an instance RDS is still deleting."""


class DBInstanceDriver(Driver):
    kind = "rds.DBInstance"
    name_rule = DB_INSTANCE_NAME
    spec_model = DBInstanceSpec
    attributes = ("arn", "name", "endpointAddress", "port", "masterUserSecretArn")
    immutable = frozenset({"engine", "dbName", "masterUsername", "storageEncrypted", "kmsKeyId"})
    holds_data = True
    references = ("rds.DBSubnetGroup", "rds.DBParameterGroup", "ec2.SecurityGroup")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        out["manageMasterUserPassword"] = True  # the one way: the password is never in git
        for key in ("engine", "dbSubnetGroupName", "dbParameterGroupName",
                    "preferredMaintenanceWindow"):  # RDS stores these in lower case
            if isinstance(out.get(key), str) and not is_unknown(out[key]):
                out[key] = out[key].lower()
        if isinstance(out.get("vpcSecurityGroupIds"), list):
            out["vpcSecurityGroupIds"] = sorted(set(out["vpcSecurityGroupIds"]), key=str)
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        INSTANCES.all(ctx)  # one listing serves every instance of the run

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        item = INSTANCES.get(ctx, desired.name.lower())
        return None if item is None else _observed(item, desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        spec = desired.spec
        args: dict[str, Any] = {"DBInstanceIdentifier": desired.name,
                                "Tags": rds_tag_list(desired.tags())}
        for field, (param, _) in PARAMS.items():
            if spec.get(field) is not None:
                args[param] = spec[field]
        try:
            ctx.client("rds").create_db_instance(**args)
        except errors.ClientError as err:
            # A retried create whose first answer was lost finds its own instance.
            if error_code(err) != "DBInstanceAlreadyExists":
                raise
            INSTANCES.forget(ctx)
            mine = INSTANCES.get(ctx, desired.name.lower())
            if mine is None or not _owned_by(mine, desired):
                raise
            if mine.get("DBInstanceStatus") == "deleting":
                raise StillDeleting(f"{desired.id}: the old instance is still deleting; RDS "
                                    "frees its name when it is gone: apply again then") from err
        INSTANCES.forget(ctx)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        reverts = _reverts(desired, live, changed)
        if reverts:
            # AWS withdraws a queued change only through an immediate modify back to the
            # current value: nothing changes, so nothing restarts.
            ctx.client("rds").modify_db_instance(
                DBInstanceIdentifier=live.attrs["name"], ApplyImmediately=True,
                **_modify_args(desired, live, reverts))
        args = _modify_args(desired, live, [f for f in changed if f not in reverts])
        if args:
            ctx.client("rds").modify_db_instance(
                DBInstanceIdentifier=live.attrs["name"],
                ApplyImmediately=bool(desired.spec.get("applyImmediately", False)), **args)
        if "tags" in changed:
            write_tags(ctx, live.attrs["arn"], desired, live.tags or {})
        INSTANCES.forget(ctx)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """With a final snapshot unless git said skip (an orphan, git's word gone, gets one
        named NAME-final-TIMESTAMP), keeping the automated backups for their retention.
        Deletion protection makes AWS refuse: that refusal is the protection working."""
        if live.attrs.get("status") == "deleting":
            return
        name = live.attrs["name"]
        args: dict[str, Any] = {"DBInstanceIdentifier": name, "DeleteAutomatedBackups": False}
        if live.attrs.get("skipFinalSnapshot"):
            args["SkipFinalSnapshot"] = True
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            args["FinalDBSnapshotIdentifier"] = (live.attrs.get("finalDBSnapshotIdentifier")
                                                 or f"{name}-final-{stamp}")
        try:
            absent_ok(ctx.client("rds").delete_db_instance, absent=RDS_ABSENT, **args)
        except errors.ClientError as err:
            # "already being deleted": a delete another run (or a person) started
            if error_code(err) != "InvalidDBInstanceState":
                raise
            INSTANCES.forget(ctx)
            again = INSTANCES.get(ctx, name)
            if again is not None and again.get("DBInstanceStatus") != "deleting":
                raise
        INSTANCES.forget(ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The run's one listing: each item carries its tags. An instance already deleting
        is not the stack's to delete again."""
        found = (Observed(fields={}, attrs=_attrs(i), tags=tags_of(i) or {})
                 for i in INSTANCES.all(ctx).values()
                 if i.get("DBInstanceStatus") != "deleting")
        return by_id(found, ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """RDS's status word: `available` is ready (saying what waits for the maintenance
        window or a reboot), a failure word is failed, any other is AWS at work. Never
        `ready_before_use`: the rest of the stack does not wait for a database."""
        status = str(live.attrs.get("status") or "")
        if status in FAILED_STATUSES or status.startswith("incompatible-"):
            return Readiness("failed", f"DB instance {status}")
        if status and status not in USABLE_STATUSES:
            return Readiness("progressing", f"DB instance {status}")
        waits = []
        if live.attrs.get("pending"):
            queued = ", ".join(f"{k} {v}" for k, v in sorted(live.attrs["pending"].items()))
            window = live.attrs.get("preferredMaintenanceWindow") or "the maintenance window"
            waits.append(f"queued for {window}: {queued}")
        if live.attrs.get("parameterApplyStatus") == "pending-reboot":
            waits.append("parameter group pending-reboot: its settings apply at the next "
                         "reboot")
        if status == "storage-optimization":
            waits.append("storage-optimization (usable meanwhile)")
        return Readiness("ready", "; ".join(waits))

    def at_risk(self, live: Observed) -> str | None:
        attrs = live.attrs
        engine = ENGINE_NAMES.get(str(attrs.get("engine")), str(attrs.get("engine") or "?"))
        days = attrs.get("backupRetentionPeriod") or 0
        backups = f"{days} days of automated backups" if days else "no automated backups"
        what = " ".join(str(p) for p in (engine, attrs.get("engineVersion")) if p)
        return f"the database {attrs['name']} ({what}, {attrs.get('allocatedStorage')} GiB, " \
               f"{backups})"

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        if action == "create":
            return ("RDS creates it over several minutes (creating, then backing-up); what "
                    "needs its endpoint waits, the rest goes on. RDS generates the master "
                    "password into Secrets Manager")
        if live is None:
            return None
        if action == "replace":
            if live.attrs.get("deletionProtection"):
                return ("deletion protection is on: AWS refuses the delete a replace starts "
                        "with; set deletionProtection: false in git and apply first")
            return None
        return _update_note(desired, live, changed) if action == "update" else None


def _reverts(desired: Desired, live: Observed, changed: list[str]) -> list[str]:
    """The changed fields where git undoes a queued change: it wants the current value."""
    queued, current = live.attrs.get("pending") or {}, live.attrs.get("current") or {}
    out = []
    for field in changed:
        want, have = desired.spec.get(field), current.get(field)
        if field not in queued or want is None:
            continue
        if want == have or (field == "engineVersion" and isinstance(have, str)
                            and engine_version_matches(str(want), have)):
            out.append(field)
    return out


def _deferred(desired: Desired, live: Observed, changed: list[str]) -> list[str]:
    """The changed fields RDS holds for the maintenance window unless ApplyImmediately."""
    reverts = _reverts(desired, live, changed)
    out = [f for f in changed if f in DEFERRED and f not in reverts]
    if "backupRetentionPeriod" in changed:
        old, new = live.fields.get("backupRetentionPeriod"), desired.spec.get(
            "backupRetentionPeriod")
        if (old == 0) != (new == 0):  # turning backups on or off restarts the instance
            out.append("backupRetentionPeriod")
    return out


def _update_note(desired: Desired, live: Observed, changed: list[str]) -> str | None:
    notes = []
    reverts = _reverts(desired, live, changed)
    if reverts:
        notes.append(f"{', '.join(reverts)}: withdraws the change queued for the maintenance "
                     "window (back to the current value, at once)")
    deferred = _deferred(desired, live, changed)
    if deferred and desired.spec.get("applyImmediately"):
        outage = [f for f in deferred if f in OUTAGE or f == "backupRetentionPeriod"]
        notes.append(f"{', '.join(deferred)} applies now (applyImmediately)"
                     + (f": {', '.join(outage)} makes the instance unavailable for minutes"
                        if outage else ""))
    elif deferred:
        window = (desired.spec.get("preferredMaintenanceWindow")
                  or live.attrs.get("preferredMaintenanceWindow") or "of the instance")
        notes.append(f"{', '.join(deferred)} applies in the maintenance window {window} "
                     "(applyImmediately: false)")
    if "port" in changed:
        notes.append("port: the instance restarts now (a port change is never deferred)")
    if "dbParameterGroupName" in changed:
        notes.append("dbParameterGroupName: the new group's settings take effect at the next "
                     "reboot, which the controller does not make")
    if "engineVersion" in changed and _major_upgrade(desired, live):
        notes.append(f"engine major version upgrade {live.attrs.get('engineVersion')} to "
                     f"{desired.spec.get('engineVersion')}: it cannot be undone")
    return "; ".join(notes) or None


def _major_upgrade(desired: Desired, live: Observed) -> bool:
    want = _version(str(desired.spec.get("engineVersion") or ""))
    have = _version(str(live.attrs.get("engineVersion") or ""))
    return bool(want and have) and want[:_major_len(have)] != have[:_major_len(have)]


def _major_len(version: tuple[Any, ...]) -> int:
    """Components naming the major version: PostgreSQL 15.4 -> 1; MySQL 8.0.35, 9.6.x -> 2."""
    return 1 if len(version) <= 2 and isinstance(version[0], int) and version[0] >= 10 else 2


def _modify_args(desired: Desired, live: Observed, changed: list[str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for field in changed:
        param = PARAMS.get(field, ("", None))[1]
        if param is not None and desired.spec.get(field) is not None:
            args[param] = desired.spec[field]
    if "EngineVersion" in args and _major_upgrade(desired, live):
        args["AllowMajorVersionUpgrade"] = True  # git names the new major version
    return args


def _version(text: str) -> tuple[Any, ...]:
    """'15.4' -> (15, 4): numeric parts compare as numbers, others as text."""
    return tuple(int(p) if p.isdigit() else p for p in text.split(".")) if text else ()


def engine_version_matches(want: str, have: str) -> bool:
    """Git's version names the live one: its prefix ('15' is any 15.x), or an older minor
    of the same major (AWS's automatic minor upgrade; RDS cannot go back)."""
    w, h = _version(want), _version(have)
    if not h:
        return not w
    if h[:len(w)] == w:
        return True
    major = _major_len(h)
    if len(w) <= major or w[:major] != h[:major]:
        return False
    try:
        return h > w
    except TypeError:  # a part numeric on one side and text on the other
        return False


def _owned_by(item: dict[str, Any], desired: Desired) -> bool:
    tags = tags_of(item) or {}
    return tags.get(STACK_KEY) == desired.stack and tags.get(ID_KEY) == desired.id


def _pending(item: dict[str, Any]) -> dict[str, Any]:
    """What RDS has queued (PendingModifiedValues), by spec field."""
    queued = item.get("PendingModifiedValues") or {}
    return {PENDING[k]: v for k, v in queued.items() if k in PENDING}


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    endpoint = item.get("Endpoint") or {}
    groups = item.get("DBParameterGroups") or [{}]
    return {
        "name": item["DBInstanceIdentifier"], "arn": item["DBInstanceArn"],
        "status": item.get("DBInstanceStatus"),
        "endpointAddress": endpoint.get("Address"), "port": endpoint.get("Port"),
        "masterUserSecretArn": (item.get("MasterUserSecret") or {}).get("SecretArn"),
        "engine": item.get("Engine"), "engineVersion": item.get("EngineVersion"),
        "allocatedStorage": item.get("AllocatedStorage"),
        "backupRetentionPeriod": item.get("BackupRetentionPeriod"),
        "deletionProtection": bool(item.get("DeletionProtection")),
        "preferredMaintenanceWindow": item.get("PreferredMaintenanceWindow"),
        "parameterApplyStatus": groups[0].get("ParameterApplyStatus"),
        "pending": _pending(item),
        "current": {field: value for field, value in _current(item).items()
                    if field in _pending(item)},
    }


def _current(item: dict[str, Any]) -> dict[str, Any]:
    """The values in force, before anything queued (PENDING's fields, by spec name)."""
    return {field: ((item.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
                    if key == "DBSubnetGroupName" else
                    (item.get("Endpoint") or {}).get("Port") if key == "Port" else item.get(key))
            for key, field in PENDING.items()}


def read_fields(item: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The described instance as a spec, for the fields `spec` declares. Pure.

    Queued changes read as their queued value (so an apply is not asked again), unless
    git asks for them now (applyImmediately on an available instance: the plan shows
    them, and the update's ApplyImmediately takes the whole queue along)."""
    endpoint = item.get("Endpoint") or {}
    live: dict[str, Any] = {
        **{field: item.get(key) for field, (key, _) in PARAMS.items()},
        "port": endpoint.get("Port") or item.get("DbInstancePort"),
        "enablePerformanceInsights": bool(item.get("PerformanceInsightsEnabled", False)),
        "dbSubnetGroupName": (item.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        "dbParameterGroupName": next((g.get("DBParameterGroupName") for g in
                                      item.get("DBParameterGroups") or []), None),
        "vpcSecurityGroupIds": sorted(g["VpcSecurityGroupId"] for g in
                                      item.get("VpcSecurityGroups") or []
                                      if g.get("Status") != "removing"),
        "manageMasterUserPassword": bool(item.get("MasterUserSecret")),
        "preferredMaintenanceWindow": str(item.get("PreferredMaintenanceWindow") or "").lower(),
        "tags": user_tags(tags_of(item) or {}),
    }
    if not (spec.get("applyImmediately") and item.get("DBInstanceStatus") == "available"):
        live.update(_pending(item))
    want_version, have_version = spec.get("engineVersion"), live.get("engineVersion")
    if isinstance(want_version, str) and isinstance(have_version, str) \
            and engine_version_matches(want_version, have_version):
        live["engineVersion"] = want_version
    want_size, have_size = spec.get("allocatedStorage"), live.get("allocatedStorage")
    if isinstance(want_size, int) and isinstance(have_size, int) and have_size >= want_size:
        live["allocatedStorage"] = want_size  # grown by storage autoscaling: not drift
    want_key, have_key = spec.get("kmsKeyId"), live.get("kmsKeyId")
    if isinstance(want_key, str) and isinstance(have_key, str) \
            and have_key.endswith(f"key/{want_key}"):
        live["kmsKeyId"] = want_key  # a key id names the ARN RDS reports
    for option in OPTIONS:
        if option in spec:
            live[option] = spec[option]
    return {k: v for k, v in live.items() if k in spec}


def _observed(item: dict[str, Any], desired: Desired) -> Observed:
    attrs = _attrs(item)
    attrs["skipFinalSnapshot"] = bool(desired.spec.get("skipFinalSnapshot", False))
    attrs["finalDBSnapshotIdentifier"] = desired.spec.get("finalDBSnapshotIdentifier")
    return Observed(fields=read_fields(item, desired.spec), attrs=attrs,
                    tags=tags_of(item) or {})
