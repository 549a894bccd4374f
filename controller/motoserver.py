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

GAPS = ("application-autoscaling tags", "deregistering deletes the target's policies")


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
    load_named_managed_policies()
    cache_lookups()
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
