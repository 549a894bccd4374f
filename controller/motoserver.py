"""The moto server, with the AWS behaviour it lacks and the stack relies on filled in.

Run as `python -m controller.motoserver [moto.server arguments]` (the emulator does) or, as
a single file, `python motoserver.py ...` in the stock moto image (docker/compose.yaml
mounts it): it imports nothing of the controller, only moto, so it runs wherever moto
does. Each gap is the behaviour AWS documents, never a shortcut for a driver: a driver
that works here works against AWS.

moto 5.2.5, Application Auto Scaling (measured in `tests/emulator/test_motoserver.py`):
- TagResource, UntagResource and ListTagsForResource answer HTTP 500 (not implemented),
  and the `Tags` of RegisterScalableTarget are dropped. AWS keeps tags given at
  registration (a later RegisterScalableTarget of the same target leaves them), and the
  three calls act on a target's ARN; an unknown ARN is ResourceNotFoundException.
- DeregisterScalableTarget leaves the target's scaling policies behind; AWS deletes them
  with it.

moto 5.2.5, RDS: a backup window and a maintenance window that only touch (03:00-04:00
and sun:04:00-sun:05:00, the architecture document's values) are refused as
overlapping; AWS accepts them (windows must not overlap; one may start when the other
ends). Windows that really overlap are still refused, with moto's message. And
Performance Insights is dropped on create and modify: AWS answers
PerformanceInsightsEnabled (with a retention of 7 days and the aws/rds key) once asked.
An instance made again within the minute its namesake was deleted fails on the name of
its first automated snapshot (`rds:<id>-<minute>`), which the deleted one's retained
backups hold: AWS keeps retained backups apart, so the new instance is made.
ModifyDBSubnetGroup removes the group it changes (it is popped and never put back); AWS
changes it in place.

moto 5.2.5, CloudFront (measured in `tests/emulator/test_motoserver_cloudfront.py`):
- An origin's S3OriginConfig, OriginAccessControlId and ResponseCompletionTimeout are
  dropped on create and update: GetDistribution, GetDistributionConfig and
  ListDistributions answer the origin without them. AWS keeps them as written and
  answers OriginAccessControlId "" for an origin without one. An id that names no origin
  access control of the account is InvalidOriginAccessControl, and an origin with both a
  control and an origin access identity IllegalOriginAccessConfiguration.
- A cache behaviour with a cache policy is answered with legacy ForwardedValues and
  Min/Default/MaxTTL that were never sent; AWS answers them only without a policy, and
  refuses both at once (InvalidArgument). A behaviour without Compress reads true; AWS's
  default is false.
- A viewer certificate from ACM reads CloudFrontDefaultCertificate true and
  CertificateSource cloudfront; AWS answers false, `acm` and the ARN as Certificate.
- A distribution's ETag never changes and any non-empty IfMatch is accepted; AWS answers
  a new ETag for each update, refuses a stale IfMatch on update and delete
  (PreconditionFailed), and an update deploys again (InProgress, as after a create).
  Deleting an enabled distribution succeeds; AWS refuses (DistributionNotDisabled).
- Origin access controls: a second of the same name is made (AWS:
  OriginAccessControlAlreadyExists), the ETag never changes and IfMatch is ignored (AWS:
  PreconditionFailed), and one a distribution's origin names is deleted (AWS:
  OriginAccessControlInUse).

moto 5.2.5, ElastiCache (measured in `tests/emulator/test_motoserver_elasticache.py`): a
replication group (cluster mode disabled) gets one member whatever NumCacheClusters says,
DescribeCacheClusters lists no member of any group, and its shard has no ReaderEndpoint.
AWS makes NumCacheClusters members (or ReplicasPerNodeGroup + 1), `<group>-001` the
primary and `-002`... its replicas spread over the subnet group's zones, listed in
MemberClusters, in NodeGroupMembers with their roles, and by DescribeCacheClusters with
the group's id, node type, engine, engine version (`7.1` runs as `7.1.0`), subnet group,
security groups, parameter group and encryption settings. IncreaseReplicaCount and
DecreaseReplicaCount (HTTP 500 in moto) set the replica count (NewReplicaCount,
ApplyImmediately only; ReplicasToRemove chooses which go; automatic failover keeps at
least one, and ModifyReplicationGroup refuses to turn it on without one, or Multi-AZ on
without it: InvalidParameterCombination). ModifyReplicationGroup drops EngineVersion,
SecurityGroupIds, SnapshotWindow, PreferredMaintenanceWindow, CacheParameterGroupName,
the transit encryption settings and AuthToken (ROTATE or SET: AuthTokenEnabled and its
date; only with encryption in transit); AWS writes them, and any write to a group that is
not `available` is InvalidReplicationGroupState. A group made without a mode of
encryption in transit reads TransitEncryptionMode `required`, as AWS's does; one naming a
subnet group that does not exist is CacheSubnetGroupNotFoundFault. A deleted group stays
`deleting` forever in moto (its name never free, its final snapshot never made); AWS
keeps it `deleting` for minutes, then it is gone (ReplicationGroupNotFoundFault). Here
the final snapshot is made at once, and the group reads `deleting` in exactly one
describe (by id or in the listing) after the delete, then it is gone with its members and
tags: a test sees both states without sleeping. ModifyCacheSubnetGroup and
DeleteCacheSubnetGroup answer HTTP 500 in moto: AWS changes the description and subnets
in place (same ARN and tags), deletes a group no cache uses (CacheSubnetGroupInUse while
a group, even one being deleted, uses it) and answers CacheSubnetGroupNotFoundFault for
an absent one. A subnet's zone is answered as `{"Name": ...}` (moto answers `{}`).

moto 5.2.5, client tokens (every service): a request repeated with the client token of
one that succeeded (ClientToken, ClientRequestToken, CreatorRequestId: the member
botocore's model marks as the idempotency token, which botocore fills when the caller
does not) is done again: CreateRouteTable makes a second table, CreateSecret answers
ResourceExistsException, CreateNatGateway finds its address taken. AWS answers the first
request's result and does nothing (the token is how a retry after a lost answer stays
one resource). Here the first successful answer is kept per account, region, operation
and token, and answered again.

Two per-request costs of moto's server are also computed once (`cache_lookups`): which
services it has (a directory listing of moto's package, under a lock every request
waits for) and which actions a service's response class has (`inspect.getmembers`).
Together about a sixth of the server's time; neither can change while it runs.
`--no-request-log` drops werkzeug's line per request (for a caller that discards it).
With GITOPS_MOTO_MANAGED_POLICIES (comma-separated names) and
MOTO_IAM_LOAD_MANAGED_POLICIES=true, only those AWS managed policies exist: moto builds all
1,582 for each of IAM's partitions at every reset (a third of a second, paid by every test
that resets the server); a name left out reads as AWS answers an unknown ARN
(NoSuchEntity).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

GAPS = ("application-autoscaling tags", "deregistering deletes the target's policies",
        "elasticache member clusters and replica counts", "elasticache subnet-group changes")


def _tags_of(backend: Any) -> Any:
    """The backend's tag store, made on first use (a `moto-api/reset` makes new backends,
    and so forgets the tags with the targets)."""
    from moto.utilities.tagging_service import TaggingService

    store = backend.__dict__.get("_gap_tags")
    if store is None:
        store = backend.__dict__["_gap_tags"] = TaggingService()
    return store


def _target_arns(backend: Any) -> set[str]:
    return {t.arn for by_id in backend.targets.values() for t in by_id.values()}


def _not_found(arn: str) -> tuple[int, dict[str, str], str]:
    body = {"__type": "ResourceNotFoundException",
            "message": f"No scalable target found for ARN {arn}"}
    return 400, {"status": "400"}, json.dumps(body)


def fill_application_autoscaling() -> None:
    """Tags on scalable targets, and policies deleted with their target (AWS's behaviour)."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as R

    register, deregister = R.register_scalable_target, R.deregister_scalable_target

    def register_scalable_target(self: Any) -> Any:
        backend = self.applicationautoscaling_backend
        before = _target_arns(backend)
        answer = register(self)
        arn = json.loads(answer)["ScalableTargetARN"]
        tags = self._get_param("Tags") or {}
        if arn not in before and tags:  # tags are written at creation only
            _tags_of(backend).tag_resource(arn, [{"Key": k, "Value": v}
                                                 for k, v in tags.items()])
        return answer

    def deregister_scalable_target(self: Any) -> Any:
        backend = self.applicationautoscaling_backend
        triple = (self._get_param("ServiceNamespace"), self._get_param("ResourceId"),
                  self._get_param("ScalableDimension"))
        gone = [t.arn for by_id in backend.targets.values() for t in by_id.values()
                if (t.service_namespace, t.resource_id, t.scalable_dimension) == triple]
        answer = deregister(self)  # an unknown target raises here: nothing deleted
        for policy in list(backend.policies.values()):
            if (policy.service_namespace, policy.resource_id,
                    policy.scalable_dimension) == triple:  # with its CloudWatch alarms
                backend.delete_scaling_policy(policy.policy_name, *triple)
        for arn in gone:
            _tags_of(backend).delete_all_tags_for_resource(arn)
        return answer

    def tag_resource(self: Any) -> Any:
        backend, arn = self.applicationautoscaling_backend, self._get_param("ResourceARN")
        if arn not in _target_arns(backend):
            return _not_found(arn)
        tags = self._get_param("Tags") or {}
        _tags_of(backend).tag_resource(arn, [{"Key": k, "Value": v} for k, v in tags.items()])
        return "{}"

    def untag_resource(self: Any) -> Any:
        backend, arn = self.applicationautoscaling_backend, self._get_param("ResourceARN")
        if arn not in _target_arns(backend):
            return _not_found(arn)
        _tags_of(backend).untag_resource_using_names(arn, self._get_param("TagKeys") or [])
        return "{}"

    def list_tags_for_resource(self: Any) -> Any:
        backend, arn = self.applicationautoscaling_backend, self._get_param("ResourceARN")
        if arn not in _target_arns(backend):
            return _not_found(arn)
        return json.dumps({"Tags": _tags_of(backend).get_tag_dict_for_resource(arn)})

    for name, method in (("register_scalable_target", register_scalable_target),
                         ("deregister_scalable_target", deregister_scalable_target),
                         ("tag_resource", tag_resource), ("untag_resource", untag_resource),
                         ("list_tags_for_resource", list_tags_for_resource)):
        setattr(R, name, method)


def _inside(window: str) -> str:
    """An HH:MM-HH:MM window one minute shorter at each end: touching becomes apart,
    overlapping stays overlapping."""
    def shift(clock: str, minutes: int) -> str:
        hours, mins = (int(part) for part in clock.split(":"))
        total = (hours * 60 + mins + minutes) % (24 * 60)
        return f"{total // 60:02d}:{total % 60:02d}"
    start, end = window.split("-")
    return f"{shift(start, 1)}-{shift(end, -1)}"


def fill_rds_windows() -> None:
    """Touching backup and maintenance windows are accepted, as AWS accepts them."""
    from moto.rds import models

    strict = models.valid_preferred_maintenance_window

    def valid(maintenance_window: Any, backup_window: Any) -> str | None:
        message = strict(maintenance_window, backup_window)
        if message is None or "must not overlap" not in message or not backup_window:
            return message
        try:
            inside = _inside(backup_window)
        except ValueError:
            return message
        return strict(maintenance_window, inside)  # None when they only touched

    models.valid_preferred_maintenance_window = valid


def fill_rds_performance_insights() -> None:
    """EnablePerformanceInsights on create and modify shows in DescribeDBInstances."""
    from moto.rds.models import RDSBackend

    create, modify = RDSBackend.create_db_instance, RDSBackend.modify_db_instance

    def insights(database: Any, db_kwargs: dict[str, Any]) -> None:
        enabled = db_kwargs.get("enable_performance_insights")
        if enabled is None and not hasattr(database, "performance_insights_enabled"):
            enabled = False
        if enabled is None:
            return
        database.performance_insights_enabled = bool(enabled)
        database.performance_insights_retention_period = (
            int(db_kwargs.get("performance_insights_retention_period") or 7)
            if enabled else None)
        database.performance_insights_kms_key_id = (
            db_kwargs.get("performance_insights_kms_key_id")
            or f"arn:aws:kms:{database.region}:{database.account_id}:key/aws-rds"
            if enabled else None)

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        database = create(self, db_kwargs)
        insights(database, db_kwargs)
        return database

    def modify_db_instance(self: Any, db_instance_identifier: str,
                           db_kwargs: dict[str, Any]) -> Any:
        database = modify(self, db_instance_identifier, db_kwargs)
        insights(database, db_kwargs)
        return database

    RDSBackend.create_db_instance = create_db_instance  # type: ignore[method-assign]
    RDSBackend.modify_db_instance = modify_db_instance  # type: ignore[method-assign]

    auto_snapshot = RDSBackend.create_auto_snapshot

    def create_auto_snapshot(self: Any, db_instance_identifier: str,
                             db_snapshot_identifier: str) -> Any:
        if db_snapshot_identifier in self.database_snapshots:  # a retained backup's name
            return self.database_snapshots[db_snapshot_identifier]
        return auto_snapshot(self, db_instance_identifier, db_snapshot_identifier)

    RDSBackend.create_auto_snapshot = create_auto_snapshot  # type: ignore[method-assign]

    modify_group = RDSBackend.modify_db_subnet_group

    def modify_db_subnet_group(self: Any, subnet_name: str, description: str,
                               subnets: Any) -> Any:
        group = modify_group(self, subnet_name, description, subnets)
        self.subnet_groups[subnet_name] = group  # changed in place, still there
        return group

    RDSBackend.modify_db_subnet_group = modify_db_subnet_group  # type: ignore[method-assign]


def _cloudfront_error(code: str, message: str) -> Exception:
    """A CloudFront error as AWS answers it (moto takes the HTTP status from the model)."""
    from moto.cloudfront.exceptions import CloudFrontException

    return CloudFrontException(code, message)


def _precondition_failed() -> Exception:
    return _cloudfront_error("PreconditionFailed", "The precondition given in one or more "
                             "of the request-header fields evaluated to false.")


def _origins_of(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list((config.get("Origins") or {}).get("Items") or [])


def _check_access_controls(backend: Any, config: dict[str, Any]) -> None:
    """What AWS refuses of an origin's access: an unknown control, a control with an
    origin access identity."""
    for origin in _origins_of(config):
        control = origin.get("OriginAccessControlId")
        if not control:
            continue
        if control not in backend.origin_access_controls:
            raise _cloudfront_error("InvalidOriginAccessControl",
                                    "The origin access control is not valid.")
        if (origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity"):
            raise _cloudfront_error("IllegalOriginAccessConfiguration", "An origin cannot "
                                    "contain both an origin access control (OAC) and an "
                                    "origin access identity (OAI).")


def fill_cloudfront_origins() -> None:
    """An origin answers the S3OriginConfig, OriginAccessControlId and
    ResponseCompletionTimeout it was given; an origin's access AWS refuses is refused."""
    from moto.cloudfront.models import CloudFrontBackend, Origin

    init = Origin.__init__

    def __init__(self: Any, origin: dict[str, Any]) -> None:
        init(self, origin)
        s3 = origin.get("S3OriginConfig")
        self.s3_origin_config = (None if s3 is None else
                                 {**s3, "OriginAccessIdentity": s3.get("OriginAccessIdentity")
                                  or ""})
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
        self.response_completion_timeout = origin.get("ResponseCompletionTimeout")

    Origin.__init__ = __init__  # type: ignore[method-assign]

    create, update = (CloudFrontBackend.create_distribution_with_tags,
                      CloudFrontBackend.update_distribution)

    def create_distribution_with_tags(self: Any, distribution_config: dict[str, Any],
                                      tags: list[dict[str, str]]) -> Any:
        _check_access_controls(self, distribution_config)
        return create(self, distribution_config, tags)

    def update_distribution(self: Any, dist_config: dict[str, Any], _id: str,
                            if_match: Any) -> Any:
        if _id in self.distributions and if_match and dist_config:
            _check_access_controls(self, dist_config)
        return update(self, dist_config, _id, if_match)

    CloudFrontBackend.create_distribution_with_tags = (  # type: ignore[method-assign]
        create_distribution_with_tags)
    CloudFrontBackend.update_distribution = update_distribution  # type: ignore[method-assign]


LEGACY_CACHE = ("ForwardedValues", "MinTTL", "DefaultTTL", "MaxTTL")


def _as_aws_answers(behaviour: Any, config: dict[str, Any]) -> None:
    """A behaviour's answer: Compress as sent (false if not), no legacy cache settings
    beside a cache policy, no policy id that was never set."""
    behaviour.compress = bool(config.get("Compress", False))
    if config.get("CachePolicyId"):
        behaviour.forwarded_values = behaviour.min_ttl = None
        behaviour.default_ttl = behaviour.max_ttl = None
    for name in ("origin_request_policy_id", "response_headers_policy_id"):
        if not getattr(behaviour, name, None):
            setattr(behaviour, name, None)


def fill_cloudfront_behaviours() -> None:
    """A behaviour with a cache policy has no legacy cache settings (and AWS refuses
    both); Compress is false unless sent."""
    from moto.cloudfront.models import CacheBehaviour, DefaultCacheBehaviour

    init, path_init = DefaultCacheBehaviour.__init__, CacheBehaviour.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        if config.get("CachePolicyId") and [key for key in LEGACY_CACHE if key in config]:
            raise _cloudfront_error("InvalidArgument", "The parameter ForwardedValues "
                                    "cannot be used when a cache policy is associated to "
                                    "the cache behavior.")
        init(self, config)
        _as_aws_answers(self, config)

    def path_behaviour_init(self: Any, config: dict[str, Any]) -> None:
        path_init(self, config)  # resets the policy ids after the default's __init__
        _as_aws_answers(self, config)

    DefaultCacheBehaviour.__init__ = __init__  # type: ignore[method-assign]
    CacheBehaviour.__init__ = path_behaviour_init  # type: ignore[method-assign]


def fill_cloudfront_certificates() -> None:
    """An ACM (or IAM) certificate answers as the distribution's certificate, not
    CloudFront's default one."""
    from moto.cloudfront.models import ViewerCertificate

    init = ViewerCertificate.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        init(self, config)
        own = config.get("ACMCertificateArn") or config.get("IAMCertificateId")
        self.cloud_front_default_certificate = bool(
            config.get("CloudFrontDefaultCertificate", not own))
        self.certificate_source = ("acm" if config.get("ACMCertificateArn") else
                                   "iam" if config.get("IAMCertificateId") else "cloudfront")
        self.certificate = own or None
        self.acm_certificate_arn = config.get("ACMCertificateArn") or None
        self.iam_certificate_id = config.get("IAMCertificateId") or None

    ViewerCertificate.__init__ = __init__  # type: ignore[method-assign]


def fill_cloudfront_versions() -> None:
    """ETags change with each update, a stale IfMatch is refused, an update deploys
    again, and only a disabled distribution is deleted."""
    from moto.cloudfront.exceptions import InvalidIfMatchVersion, NoSuchDistribution
    from moto.cloudfront.models import CloudFrontBackend, random_id

    update, delete = CloudFrontBackend.update_distribution, CloudFrontBackend.delete_distribution

    def current(backend: Any, dist_id: str, if_match: Any) -> Any:
        """The distribution IfMatch names the current version of, or AWS's error."""
        dist = backend.distributions.get(dist_id)
        if dist is None:
            raise NoSuchDistribution
        if not if_match:
            raise InvalidIfMatchVersion
        if if_match != dist.etag:
            raise _precondition_failed()
        return dist

    def update_distribution(self: Any, dist_config: dict[str, Any], _id: str,
                            if_match: Any) -> Any:
        dist = current(self, _id, if_match)
        update(self, dist_config, _id, if_match)
        dist.etag = random_id()
        dist.status, dist._tick = "InProgress", 0  # deployed again (read: Deployed)
        return dist, dist.location, dist.etag

    def delete_distribution(self: Any, distribution_id: str, if_match: Any) -> None:
        dist = current(self, distribution_id, if_match)
        if dist.distribution_config.Enabled:
            raise _cloudfront_error("DistributionNotDisabled", "The distribution you are "
                                    "trying to delete has not been disabled.")
        delete(self, distribution_id, if_match)

    CloudFrontBackend.update_distribution = update_distribution  # type: ignore[method-assign]
    CloudFrontBackend.delete_distribution = delete_distribution  # type: ignore[method-assign]


def fill_cloudfront_access_controls() -> None:
    """Origin access controls: unique names, ETags and IfMatch, no delete while in use."""
    from moto.cloudfront.models import CloudFrontBackend, random_id
    from moto.cloudfront.responses import CloudFrontResponse as R

    create, update = (CloudFrontBackend.create_origin_access_control,
                      CloudFrontBackend.update_origin_access_control)
    respond_update, respond_delete = R.update_origin_access_control, R.delete_origin_access_control

    def refuse_taken(backend: Any, name: Any, control_id: str | None) -> None:
        if any(c.name == name and c.id != control_id
               for c in backend.origin_access_controls.values()):
            raise _cloudfront_error("OriginAccessControlAlreadyExists", "An origin access "
                                    "control with the specified parameters already exists.")

    def create_origin_access_control(self: Any, config_dict: dict[str, str]) -> Any:
        refuse_taken(self, config_dict.get("Name"), None)
        return create(self, config_dict)

    def update_origin_access_control(self: Any, control_id: str,
                                     config: dict[str, str]) -> Any:
        self.get_origin_access_control(control_id)  # NoSuchOriginAccessControl first
        if "Name" in config:
            refuse_taken(self, config["Name"], control_id)
        control = update(self, control_id, config)
        control.etag = random_id()
        return control

    def matched(response: Any) -> None:
        """IfMatch must name the control's current version."""
        from moto.cloudfront.exceptions import InvalidIfMatchVersion

        control = response.backend.get_origin_access_control(response._get_param("Id"))
        if_match = response._get_param("IfMatch")
        if not if_match:
            raise InvalidIfMatchVersion
        if if_match != control.etag:
            raise _precondition_failed()

    def update_response(self: Any) -> Any:
        matched(self)
        return respond_update(self)

    def delete_response(self: Any) -> Any:
        matched(self)
        control_id = self._get_param("Id")
        if any(getattr(origin, "origin_access_control_id", "") == control_id
               for dist in self.backend.distributions.values()
               for origin in dist.distribution_config.Origins["Items"]):
            raise _cloudfront_error("OriginAccessControlInUse", "Cannot delete the origin "
                                    "access control because it's in use by one or more "
                                    "distributions.")
        return respond_delete(self)

    CloudFrontBackend.create_origin_access_control = (  # type: ignore[method-assign]
        create_origin_access_control)
    CloudFrontBackend.update_origin_access_control = (  # type: ignore[method-assign]
        update_origin_access_control)
    R.update_origin_access_control = update_response  # type: ignore[method-assign]
    R.delete_origin_access_control = delete_response  # type: ignore[method-assign]
# ElastiCache ------------------------------------------------------------------------------

# What AWS runs for a version asked as major.minor (or 6.x), and for none: the newest.
_ENGINE_VERSIONS = {"6.x": "6.2.6", "6.2": "6.2.6", "7.0": "7.0.7", "7.1": "7.1.0",
                    "7.2": "7.2.6", "8.0": "8.0.1", "8.1": "8.1.0"}
_NEWEST = {"redis": "7.1.0", "valkey": "8.0.1"}


def _engine_version(engine: str, asked: str | None) -> str:
    """The version AWS reports for the one asked (`7.1` runs as `7.1.0`)."""
    if not asked:
        return _NEWEST.get(engine, _NEWEST["redis"])
    if asked in _ENGINE_VERSIONS:
        return _ENGINE_VERSIONS[asked]
    return f"{asked}.0" if asked.count(".") == 1 else asked


def _parameter_group(engine: str, version: str) -> str:
    """The default parameter group AWS gives a group of that engine and version."""
    major = version.split(".")[0]
    return f"default.{engine}{major}{'.x' if engine == 'redis' and major == '6' else ''}"


class _Member:
    """A member cache cluster of a replication group, as DescribeCacheClusters lists it.
    Everything but its id and zone is its group's (AWS keeps them equal on every member),
    so a ModifyReplicationGroup shows on the members at once."""

    def __init__(self, group: Any, cluster_id: str, zone: str) -> None:
        from datetime import UTC, datetime

        self.group, self.cache_cluster_id = group, cluster_id
        self.preferred_availability_zone = zone
        self.cache_cluster_create_time = datetime.now(UTC)
        self.arn = group.arn.rsplit(":replicationgroup:", 1)[0] + f":cluster:{cluster_id}"
        self.num_cache_nodes = 1
        self.pending_modified_values: dict[str, Any] = {}
        self.cache_security_groups: list[Any] = []
        self.log_delivery_configurations: list[Any] = []
        self.replication_group_log_delivery_enabled = False

    def __getattr__(self, name: str) -> Any:
        """The group's own setting of that name (engine, node type, encryption, auth...)."""
        if name in _MEMBER_FROM_GROUP:
            return getattr(self.group, name, None)
        raise AttributeError(name)

    @property
    def replication_group_id(self) -> str:
        return str(self.group.replication_group_id)

    @property
    def cache_cluster_status(self) -> str:
        return "deleting" if self.group.status == "deleting" else "available"

    @property
    def security_groups(self) -> list[dict[str, str]]:
        return [{"SecurityGroupId": sg, "Status": "active"}
                for sg in self.group.security_group_ids or []]

    @property
    def cache_parameter_group(self) -> dict[str, Any]:
        return {"CacheParameterGroupName": self.group.cache_parameter_group_name,
                "ParameterApplyStatus": "in-sync", "CacheNodeIdsToReboot": []}


_MEMBER_FROM_GROUP = frozenset({
    "cache_node_type", "engine", "engine_version", "preferred_maintenance_window",
    "cache_subnet_group_name", "auto_minor_version_upgrade", "snapshot_retention_limit",
    "snapshot_window", "auth_token_enabled", "auth_token_last_modified_date",
    "transit_encryption_enabled", "transit_encryption_mode", "at_rest_encryption_enabled",
    "network_type", "ip_discovery"})


def _ec_fault(code: str, message: str) -> Exception:
    """An ElastiCache error answer, as AWS spells it (code and HTTP status from the model)."""
    from moto.elasticache.exceptions import ElastiCacheException

    return ElastiCacheException(code, message)


def _live_group(backend: Any, group_id: str) -> Any:
    """The group a write acts on: absent is ReplicationGroupNotFoundFault, one being
    deleted is InvalidReplicationGroupState (AWS takes writes of an available group)."""
    from moto.elasticache.exceptions import ReplicationGroupNotFound

    group = backend.replication_groups.get(group_id)
    if group is None:
        raise ReplicationGroupNotFound(group_id)
    if group.status != "available":
        raise _ec_fault("InvalidReplicationGroupState",
                        f"Replication group {group_id} is not in available state.")
    return group


def _subnet_zones(backend: Any, group: Any) -> list[str]:
    """The zones of the group's subnet group, in order (where new replicas go)."""
    subnet_group = backend.cache_subnet_groups.get(group.cache_subnet_group_name or "")
    zones = [(s.get("subnet_availability_zone") or {}).get("Name") for s in
             (subnet_group.subnets if subnet_group else [])]
    return sorted({str(z) for z in zones if z}) or ["us-east-1a", "us-east-1b"]


def _arrange_members(backend: Any, group: Any, count: int,
                     remove: frozenset[str] = frozenset()) -> None:
    """`count` member clusters, `<group>-001` (the primary) first: replicas named in
    `remove`, then the last ones, go; new ones take the lowest free numbers. The group's
    MemberClusters, its shard's NodeGroupMembers and DescribeCacheClusters agree."""
    shard = group.node_groups[0]
    members = [m for m in shard["node_group_members"] if m["cache_cluster_id"] not in remove]
    while len(members) > count:
        members.remove(next(m for m in reversed(members) if m.get("current_role") != "primary"))
    domain = str(shard["primary_endpoint_address"]).removeprefix("master.")
    zones, number = _subnet_zones(backend, group), 1
    while len(members) < count:
        taken = {m["cache_cluster_id"] for m in members}
        while f"{group.replication_group_id}-{number:03d}" in taken:
            number += 1
        cluster_id = f"{group.replication_group_id}-{number:03d}"
        members.append({
            "cache_cluster_id": cluster_id, "cache_node_id": "0001",
            "read_endpoint": {"address": f"{cluster_id}.{domain}", "port": group.port},
            "preferred_availability_zone": min(zones, key=lambda z: sum(  # the emptiest
                m.get("preferred_availability_zone") == z for m in members)),
            "current_role": "replica" if members else "primary"})
    shard["node_group_members"] = members
    _set_member_clusters(backend, group, [m["cache_cluster_id"] for m in members],
                         {m["cache_cluster_id"]: m.get("preferred_availability_zone")
                          for m in members})


def _set_member_clusters(backend: Any, group: Any, ids: list[str],
                         zones: dict[str, Any]) -> None:
    """MemberClusters, and each member as a cache cluster of the account."""
    for gone in set(group.member_clusters) - set(ids):
        backend.cache_clusters.pop(gone, None)
    for cluster_id in ids:
        if cluster_id not in backend.cache_clusters:
            backend.cache_clusters[cluster_id] = _Member(
                group, cluster_id, str(zones.get(cluster_id) or "us-east-1a"))
    group.member_clusters = list(ids)
    group.snapshotting_cluster_id = (ids[1] if len(ids) > 1 else ids[0]) \
        if group.snapshot_retention_limit and ids else None


def _settle_created_group(backend: Any, group: Any, params: dict[str, Any]) -> None:
    """What AWS reports for a new group that moto leaves out or gets wrong."""
    group.engine_version = _engine_version(group.engine, params.get("EngineVersion"))
    group.cache_parameter_group_name = (params.get("CacheParameterGroupName")
                                        or _parameter_group(group.engine, group.engine_version))
    group.preferred_maintenance_window = (params.get("PreferredMaintenanceWindow")
                                          or "sun:07:00-sun:08:00")
    group.snapshot_window = params.get("SnapshotWindow") or "05:00-06:00"
    group.auto_minor_version_upgrade = params.get("AutoMinorVersionUpgrade") in (
        None, True, "true")
    if group.transit_encryption_enabled and not group.transit_encryption_mode:
        group.transit_encryption_mode = "required"
    if group.cluster_mode == "enabled":
        _set_member_clusters(backend, group, list(group.member_clusters), {
            m["cache_cluster_id"]: m.get("preferred_availability_zone")
            for shard in group.node_groups for m in shard["node_group_members"]})
        return
    shard = group.node_groups[0]
    shard["reader_endpoint"] = {"address": shard["reader_endpoint_address"],
                                "port": group.port}
    if not params.get("PreferredCacheClusterAZs"):  # AWS spreads them over the subnets' zones
        zones = _subnet_zones(backend, group)
        for n, member in enumerate(shard["node_group_members"]):
            member["preferred_availability_zone"] = zones[n % len(zones)]
    count = params.get("NumCacheClusters")
    if count is None:
        count = int(params.get("ReplicasPerNodeGroup") or 0) + 1
    _arrange_members(backend, group, int(count))


def _new_replica_count(group: Any, params: dict[str, Any], grow: bool) -> int:
    """IncreaseReplicaCount's or DecreaseReplicaCount's NewReplicaCount, where AWS takes
    it: applied immediately, one shard, the way the call's name says, 0 (Multi-AZ: 1) to 5."""
    if params.get("ApplyImmediately") not in (True, "true"):
        raise _ec_fault("InvalidParameterValue",
                        "ApplyImmediately=False is not currently supported.")
    if params.get("NewReplicaCount") is None or group.cluster_mode == "enabled":
        raise _ec_fault("InvalidParameterValue", "NewReplicaCount is required (one shard).")
    replicas, wanted = len(group.member_clusters) - 1, int(params["NewReplicaCount"])
    if (wanted <= replicas) if grow else (wanted >= replicas):
        raise _ec_fault("InvalidParameterValue", f"The new replica count {wanted} must be "
                        f"{'greater' if grow else 'smaller'} than the current {replicas}.")
    lowest = 1 if "enabled" in (group.multi_az, group.automatic_failover) else 0
    if not lowest <= wanted <= 5:
        raise _ec_fault("InvalidParameterValue", f"This replication group has {lowest} to 5 "
                        "replicas (automatic failover and Multi-AZ need one).")
    return wanted


def fill_elasticache_members() -> None:
    """A replication group's member clusters, made, listed and counted as AWS does."""
    from moto.core.responses import ActionResult
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound
    from moto.elasticache.responses import ElastiCacheResponse as R

    create = R.create_replication_group

    def create_replication_group(self: Any) -> Any:
        backend, params = self.elasticache_backend, self._get_params()
        subnet_group = params.get("CacheSubnetGroupName")
        if subnet_group and subnet_group not in backend.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(subnet_group)
        answer = create(self)
        _settle_created_group(backend, backend.replication_groups[
            params["ReplicationGroupId"]], params)
        return answer

    def scale(self: Any, grow: bool) -> Any:
        backend, params = self.elasticache_backend, self._get_params()
        group = _live_group(backend, params.get("ReplicationGroupId") or "")
        wanted = _new_replica_count(group, params, grow)
        _arrange_members(backend, group, wanted + 1,
                         frozenset(params.get("ReplicasToRemove") or []))
        return ActionResult({"ReplicationGroup": group})

    def increase_replica_count(self: Any) -> Any:
        return scale(self, grow=True)

    def decrease_replica_count(self: Any) -> Any:
        return scale(self, grow=False)

    R.create_replication_group = create_replication_group  # type: ignore[method-assign]
    R.increase_replica_count = increase_replica_count  # type: ignore[attr-defined]
    R.decrease_replica_count = decrease_replica_count  # type: ignore[attr-defined]


def _modify_group_settings(group: Any, params: dict[str, Any]) -> None:
    """The settings moto's ModifyReplicationGroup drops, written as AWS writes them."""
    from datetime import UTC, datetime

    if params.get("EngineVersion"):
        group.engine_version = _engine_version(group.engine, params["EngineVersion"])
    for param, attr in (("SecurityGroupIds", "security_group_ids"),
                        ("SnapshotWindow", "snapshot_window"),
                        ("PreferredMaintenanceWindow", "preferred_maintenance_window"),
                        ("CacheParameterGroupName", "cache_parameter_group_name"),
                        ("TransitEncryptionMode", "transit_encryption_mode")):
        if params.get(param) is not None:
            setattr(group, attr, params[param])
    for param, attr in (("TransitEncryptionEnabled", "transit_encryption_enabled"),
                        ("AutoMinorVersionUpgrade", "auto_minor_version_upgrade")):
        if params.get(param) is not None:
            setattr(group, attr, params[param] in (True, "true"))
    if params.get("AuthToken"):
        strategy = params.get("AuthTokenUpdateStrategy") or "ROTATE"
        group.auth_token_enabled = strategy != "DELETE"
        group.auth_token_last_modified_date = datetime.now(UTC)


def _failover_needs_a_replica(group: Any, params: dict[str, Any]) -> None:
    """AWS refuses automatic failover to a group with no replica, and Multi-AZ to one
    without automatic failover (InvalidParameterCombination)."""
    def after(param: str, now: str) -> bool:
        value = params.get(param)
        return now == "enabled" if value is None else value in (True, "true")

    failover = after("AutomaticFailoverEnabled", group.automatic_failover)
    if failover and len(group.member_clusters) < 2:
        raise _ec_fault("InvalidParameterCombination",
                        "Automatic failover needs at least one replica.")
    if after("MultiAZEnabled", group.multi_az) and not failover:
        raise _ec_fault("InvalidParameterCombination",
                        "Multi-AZ needs automatic failover enabled.")


def fill_elasticache_modify() -> None:
    """ModifyReplicationGroup writes every setting it is given, and only to a group AWS
    would take it for (an available one)."""
    from moto.elasticache.responses import ElastiCacheResponse as R

    modify = R.modify_replication_group

    def modify_replication_group(self: Any) -> Any:
        params = self._get_params()
        group = _live_group(self.elasticache_backend, params.get("ReplicationGroupId") or "")
        if params.get("AuthToken") and not (
                group.transit_encryption_enabled or params.get("TransitEncryptionEnabled")):
            raise _ec_fault("InvalidParameterValue", "The AUTH token is only supported when "
                            "encryption-in-transit is enabled.")
        _failover_needs_a_replica(group, params)
        answer = modify(self)
        _modify_group_settings(group, params)
        return answer

    R.modify_replication_group = modify_replication_group  # type: ignore[method-assign]


def _forget_group(backend: Any, group: Any) -> None:
    """A deleted group, its member clusters and its tags, gone as AWS ends the delete."""
    backend.replication_groups.pop(group.replication_group_id, None)
    for cluster_id in group.member_clusters:
        backend.cache_clusters.pop(cluster_id, None)
    backend.tagging_service.delete_all_tags_for_resource(group.arn)


def fill_elasticache_deletes() -> None:
    """A deleted replication group reads `deleting` once, then is gone; its final
    snapshot is kept."""
    from moto.core.responses import ActionResult
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse as R

    def delete_replication_group(self: Any) -> Any:
        backend, params = self.elasticache_backend, self._get_params()
        group = _live_group(backend, params.get("ReplicationGroupId") or "")
        final = params.get("FinalSnapshotIdentifier")
        if final:  # SnapshotAlreadyExistsFault before anything is deleted
            backend.create_snapshot(snapshot_name=final,
                                    replication_group_id=group.replication_group_id,
                                    cache_cluster_id=None, kms_key_id=None, tags=None)
        group.status = "deleting"
        return ActionResult({"ReplicationGroup": group})

    describe = ElastiCacheBackend.describe_replication_groups

    def describe_replication_groups(self: Any,
                                    replication_group_id: str | None = None) -> Any:
        found = describe(self, replication_group_id)
        for group in found:
            if group.status == "deleting":  # answered this once: the delete has ended
                _forget_group(self, group)
        return found

    R.delete_replication_group = delete_replication_group  # type: ignore[method-assign]
    ElastiCacheBackend.describe_replication_groups = (  # type: ignore[method-assign]
        describe_replication_groups)


def fill_elasticache_subnet_groups() -> None:
    """ModifyCacheSubnetGroup changes a group in place; DeleteCacheSubnetGroup deletes
    one no cache uses."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound
    from moto.elasticache.models import CacheSubnetGroup
    from moto.elasticache.responses import ElastiCacheResponse as R

    made = CacheSubnetGroup.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        for subnet in self.subnets:  # moto keeps the bare name: the answer lost it
            zone = subnet.get("subnet_availability_zone")
            if isinstance(zone, str):
                subnet["subnet_availability_zone"] = {"Name": zone}

    CacheSubnetGroup.__init__ = __init__  # type: ignore[method-assign]

    def existing(backend: Any, name: str) -> Any:
        if name not in backend.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(name)
        return backend.cache_subnet_groups[name]

    def modify_cache_subnet_group(self: Any) -> Any:
        backend, params = self.elasticache_backend, self._get_params()
        old = existing(backend, params.get("CacheSubnetGroupName") or "")
        new = CacheSubnetGroup(  # checks the subnets (one VPC) as a create does
            account_id=backend.account_id, region_name=backend.region_name,
            cache_subnet_group_name=old.cache_subnet_group_name,
            cache_subnet_group_description=(params.get("CacheSubnetGroupDescription")
                                            or old.cache_subnet_group_description),
            subnet_ids=params.get("SubnetIds") or old.subnet_ids, tags=old.tags)
        backend.cache_subnet_groups[old.cache_subnet_group_name] = new  # same name, ARN, tags
        return ActionResult({"CacheSubnetGroup": new})

    def delete_cache_subnet_group(self: Any) -> Any:
        backend = self.elasticache_backend
        group = existing(backend, self._get_param("CacheSubnetGroupName") or "")
        name = group.cache_subnet_group_name
        users = [*backend.replication_groups.values(), *backend.cache_clusters.values()]
        if any(getattr(u, "cache_subnet_group_name", None) == name for u in users):
            raise _ec_fault("CacheSubnetGroupInUse",
                            f"Cache subnet group {name} is currently in use by a cache cluster.")
        del backend.cache_subnet_groups[name]
        backend.tagging_service.delete_all_tags_for_resource(group.arn)
        return EmptyResult()

    R.modify_cache_subnet_group = modify_cache_subnet_group  # type: ignore[attr-defined]
    R.delete_cache_subnet_group = delete_cache_subnet_group  # type: ignore[attr-defined]


def _token_member(models: Any, service: str, action: str) -> str | None:
    """The input member AWS reads as the operation's client token (ClientToken,
    ClientRequestToken, CreatorRequestId...), from botocore's model, or None."""
    from botocore.exceptions import DataNotFoundError
    from botocore.model import OperationNotFoundError

    try:
        shape = models.get_service_model(service).operation_model(action).input_shape
    except (DataNotFoundError, OperationNotFoundError):  # not botocore's: no token
        return None
    if shape is None:
        return None
    return next((name for name, member in shape.members.items()
                 if member.metadata.get("idempotencyToken")), None)


def fill_client_tokens() -> None:
    """A request repeated with the client token of one that succeeded answers what the
    first answered, and does nothing again (see the top)."""
    import functools
    import threading

    import botocore.session
    from moto.core import responses

    models = botocore.session.get_session()
    member = functools.cache(functools.partial(_token_member, models))
    answers: dict[tuple[str, ...], Any] = {}
    lock = threading.Lock()
    original = responses.BaseResponse.call_action

    def call_action(self: Any) -> Any:
        name = member(self.boto3_service_name, self._get_action())
        token = self._get_param(name) if name else None
        if not token:
            return original(self)
        key = (self.current_account, self.region, self.boto3_service_name,
               self._get_action(), str(token))
        with lock:
            if key in answers:
                return answers[key]
        answer = original(self)
        if isinstance(answer, tuple) and int(answer[0]) < 300:
            with lock:
                answers[key] = answer
        return answer

    responses.BaseResponse.call_action = call_action  # type: ignore[method-assign]


def load_named_managed_policies() -> None:
    """Only the AWS managed policies GITOPS_MOTO_MANAGED_POLICIES names (see the top)."""
    names = os.environ.get("GITOPS_MOTO_MANAGED_POLICIES")
    if not names:
        return
    from moto.iam import models

    wanted = {name.strip() for name in names.split(",")}
    data = {name: policy for name, policy in json.loads(models.aws_managed_policies_data).items()
            if name in wanted}

    def init_aws_policies(self: Any) -> list[Any]:
        if not models.load_iam_aws_managed_policies():
            return []
        return [models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name,
                                                  policy) for name, policy in data.items()]

    models.IAMBackend._init_aws_policies = init_aws_policies  # type: ignore[method-assign]


def cache_lookups() -> None:
    """Compute once what moto's server recomputes for every request (see the top)."""
    import functools

    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    uncached = responses.method_names_from_class

    @functools.cache
    def method_names(clazz: object) -> tuple[str, ...]:
        return tuple(uncached(clazz))

    responses.method_names_from_class = method_names  # type: ignore[assignment]


def main(argv: list[str]) -> None:
    """moto.server's own command line, after the gaps are filled."""
    import logging

    from moto.server import main as moto_main

    if "--no-request-log" in argv:
        argv = [a for a in argv if a != "--no-request-log"]
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    fill_application_autoscaling()
    fill_rds_windows()
    fill_rds_performance_insights()
    fill_cloudfront_origins()
    fill_cloudfront_behaviours()
    fill_cloudfront_certificates()
    fill_cloudfront_versions()
    fill_cloudfront_access_controls()
    fill_elasticache_members()
    fill_elasticache_modify()
    fill_elasticache_deletes()
    fill_elasticache_subnet_groups()
    fill_client_tokens()
    load_named_managed_policies()
    cache_lookups()
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
