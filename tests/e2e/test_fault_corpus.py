"""The fault corpus: every AWS operation an apply of desired/prod from empty and the plans
after it call, each failing its first call with one fault: AWS's throttling, a 500, a
read timeout, a connection reset, an access-denied. botocore retries what AWS's
guidance says is retryable (and never a create AWS cannot recognise as a repeat); what
is not healed is reported on its resource and retried by the next run, which converges
with nothing made twice, nothing deleted, and every failed call in
gitops_aws_api_errors_total under its code.

Each fault is an apply of the whole stack from empty and the runs after it: `slow`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import botocore.session
import pytest
from botocore.retries.standard import ExponentialBackoff
from prometheus_client import REGISTRY as METRICS

from controller.aws.operations import repeat_makes_another
from controller.engine import recent
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.conftest import AwsEnv
from tests.faults import FAULTS, FirstCallFault, Unhealing
from tests.inventory import identities
from tests.stacks import DECLARED, DESIRED

# A write that fails skips its dependents to the next run, and a resource's later calls
# fail in turn on later runs (the bucket's dozen settings): one step per run at worst.
RUNS = 30
# Faults botocore retries (standard mode): the first call fails, the second answers.
RETRIED = {"throttling", "500", "timeout", "reset"}


def unretried(faults: FirstCallFault) -> set[str]:
    """The creates botocore must not resend after a 500, a timeout or a reset."""
    if faults.fault == "throttling":
        return set()
    session = botocore.session.get_session()
    models: dict[str, Any] = {}  # a service's model is parsed once (EC2's is megabytes)
    unretried: set[str] = set()
    for service, op, _ in faults.faulted:
        name = SERVICE_NAMES.get(service, service)
        model = models.setdefault(name, session.get_service_model(name))
        if repeat_makes_another(model.operation_model(op)):
            unretried.add(op)
    return unretried


# botocore's event names (service ids) that differ from its service names
SERVICE_NAMES = {"elastic-load-balancing-v2": "elbv2", "route-53": "route53",
                 "application-auto-scaling": "application-autoscaling",
                 "cloudwatch-logs": "logs", "secrets-manager": "secretsmanager",
                 "resource-groups-tagging-api": "resourcegroupstaggingapi"}


def errors_metric() -> Counter[tuple[str, str, str]]:
    counted: Counter[tuple[str, str, str]] = Counter()
    for family in METRICS.collect():
        if family.name == "gitops_aws_api_errors":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    counted[(labels["service"], labels["operation"], labels["code"])] += int(
                        sample.value)
    return counted


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_every_operation_failing_once_loses_nothing(prod_aws: AwsEnv, fault: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore's jittered back-off (up to 1 s before the first retry) is kept but
    # shortened: 144 operations each retried once would otherwise sleep a minute.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    # These faults are answered before AWS: nothing was made, and the wait for a create
    # AWS might not list yet (tests/engine/test_recent_creates.py) would only add minutes.
    monkeypatch.setattr(recent, "WINDOW_SECONDS", 0.0)
    stack = load_stack(DESIRED / "prod", REGISTRY)
    faults = FirstCallFault(fault)
    before = errors_metric()
    reported: dict[str, str] = {}
    for runs in range(1, RUNS + 1):
        try:
            run = apply(plan(stack, prod_aws.gateway(faults.hooks())))
        except Exception as err:
            assert runs == 1 and "account" in str(err).lower(), err
            continue
        reported.update({c.id: c.error or "" for c in run.changes if c.result == "error"})
        if not run.failed and not run.has_changes:
            break
    final = plan(stack, prod_aws.gateway()).changes
    assert not final.has_changes, [(c.id, c.action, c.reason) for c in final.changes
                                   if c.action != "no-op"]
    assert final.summary()["no-op"] == DECLARED["prod"]
    twice = {rid: n for rid, n in identities(prod_aws).items() if n > 1}
    assert not twice, f"made twice under {fault}: {twice}"
    operations = {(s, o) for s, o, _ in faults.faulted}
    print(f"\n{fault}: {len(operations)} operations faulted once, {len(reported)} resources "
          f"reported an error, converged after {runs} runs")
    assert len(operations) >= 100, len(operations)
    if fault == "denied":
        # never retried: each is reported on its resource, in AWS's words
        assert reported and all("AccessDenied" in e or "UnauthorizedOperation" in e
                                for e in reported.values()), reported
    else:
        # retried: only the creates botocore must not resend are left to the next run
        assert all("the next run looks for it" in e or "Throttl" in e
                   for e in reported.values()), reported
    # every call that ended in the fault is counted under its code; one healed by a
    # retry is not a failed call
    counted = {(op, code) for _, op, code in errors_metric() - before}
    injected = {(op, code) for _, op, code in faults.faulted}
    if fault == "denied":
        assert injected <= counted, sorted(injected - counted)
    else:
        left = unretried(faults)
        unhealed = {(op, code) for op, code in injected if op in left}
        assert counted & injected == unhealed, sorted((counted & injected) ^ unhealed)


@pytest.mark.parametrize("operation", ["DescribeLogGroups", "PutRetentionPolicy"])
def test_a_500_that_never_heals_is_bounded_and_reported_on_its_resources_alone(
        applied_prod: AwsEnv, operation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore tries each call AWS_MAX_ATTEMPTS times (5) and the run moves on: the log
    groups report the error, every other resource is planned as usual, nothing is
    written in their place, and the fault gone, the next run corrects them."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    stack = load_stack(DESIRED / "prod", REGISTRY)
    logs = applied_prod.client("logs")
    logs.put_retention_policy(logGroupName="/ecs/iq-theory-api", retentionInDays=1)
    fault = Unhealing(operation)
    run = apply(plan(stack, applied_prod.gateway([("before-send.*.*", fault)])))
    groups = [c for c in run.changes if c.kind == "logs.LogGroup"]
    broken = [c for c in groups if c.result == "error" or c.action == "error"]
    assert broken and all(f"{operation}: InternalError" in (c.error or c.reason or "")
                          for c in broken), [(c.id, c.error, c.reason) for c in broken]
    others = [c for c in run.changes if c.kind != "logs.LogGroup"]
    assert all(c.action == "no-op" for c in others), [c.id for c in others
                                                      if c.action != "no-op"]
    assert fault.sent == 5 * (len(broken) if operation == "PutRetentionPolicy" else 1)
    healed = apply(plan(stack, applied_prod.gateway()))
    assert not healed.failed
    assert retention(logs) == 30
    assert not plan(stack, applied_prod.gateway()).changes.has_changes


def retention(logs: Any) -> int:
    group = logs.describe_log_groups(logGroupNamePrefix="/ecs/iq-theory-api")["logGroups"][0]
    return int(group["retentionInDays"])
