"""Every registered kind through the same cases, against one applied desired/prod.

Per kind (its table in cases.py): the applied stack plans no change and the kind's
inventory is exactly what git declares; each drift of its table is seen and
corrected; a second resource of the kind is created, loses its ownership tags and is
adopted, is claimed by another stack and refused, is deleted out of band and made
again, is replaced where it has an immutable field (refused where it holds data),
and leaves git to be pruned (kept where it holds data); a throttled batch read
fails each of its resources with AWS's error, asked once. Last, the deploy/ IAM
policy allows every call the module made.

One stack is applied per module (the rules of issue 8: the suite must stay fast
as kinds triple); each test leaves it converged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from controller.aws.gateway import AwsGateway
from controller.aws.tags import ID_KEY, STACK_KEY
from controller.engine.reconcile import Plan, apply, plan
from controller.model import Observed
from controller.render.text import text
from controller.resources.base import RunContext
from controller.resources.registry import REGISTRY
from controller.resources.sns_subscription import marker_key
from controller.spec.loader import load_stack
from controller.spec.stack import ResourceDoc, Stack
from controller.spec.substitution import Ref, find_refs
from tests.conformance.cases import CASES, DELETIONS, DRIFTS, Drift, KindCases
from tests.conftest import PROD_ACCOUNT, AwsEnv, _aws_env, push_prod_images
from tests.deploy.test_iam_policy import allows, api_calls_metric, load_policy, needed_actions
from tests.faults import Throttle
from tests.motogaps import EcrInTaggingIndex
from tests.stacks import DESIRED

KINDS = sorted(CASES)
OTHER_STACK = "iq-theory-staging"


@dataclass
class Suite:
    aws: AwsEnv
    stack: Stack
    calls_before: Counter[tuple[str, str]]
    by_others: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    _gateway: AwsGateway | None = None

    def gateway(self, hooks: list[Any] | None = None) -> AwsGateway:
        """The suite's one gateway (boto3 clients are slow to make), or one with `hooks`.
        moto's tagging index lacks ECR repositories: added as AWS's would list them."""
        if hooks is None and self._gateway is not None:
            return self._gateway
        ecr = EcrInTaggingIndex(self.aws.server.url, self.stack.name)
        gateway = self.aws.gateway([*ecr.hooks(), *(hooks or [])])
        if hooks is None:
            self._gateway = gateway
        return gateway

    def plan(self, stack: Stack | None = None, **options: Any) -> Plan:
        return plan(stack or self.stack, self.gateway(), **options)

    def converge(self, pending: Plan) -> None:
        """Apply `pending`; the same stack then plans no change."""
        result = apply(pending)
        assert not result.failed, [(c.id, c.error) for c in result.failed]
        again = self.plan(pending.stack).changes
        assert not again.has_changes, [(c.id, c.action, c.fields) for c in again.changes
                                       if c.pending]

    @contextlib.contextmanager
    def by_hand(self) -> Iterator[None]:
        """Calls made as another tool would make them: not the controller's, so not
        counted for the IAM policy check."""
        before = api_calls_metric()
        yield
        self.by_others += api_calls_metric() - before

    def owned(self, kind: str) -> dict[str, Observed]:
        return REGISTRY[kind].inventory(RunContext(self.gateway(), self.stack.name))


def _base_stack() -> Stack:
    """desired/prod, the frontend's task definition also EC2-compatible (so the service
    case can replace a service's launchType)."""
    stack = load_stack(DESIRED / "prod", REGISTRY)
    return _with(stack, "ecs.TaskDefinition/iq-theory-frontend",
                 requiresCompatibilities=["FARGATE", "EC2"])


def _with(stack: Stack, rid: str, **edits: Any) -> Stack:
    """`stack` with spec fields of `rid` set (None drops one), validated as git would."""
    def edit(doc: ResourceDoc) -> ResourceDoc:
        if doc.id != rid:
            return doc
        spec = {k: v for k, v in {**doc.spec, **edits}.items() if v is not None}
        REGISTRY[doc.kind].spec_model.model_validate(spec)
        return dataclasses.replace(doc, spec=spec)
    assert rid in stack.by_id(), rid
    return dataclasses.replace(stack, resources=[edit(doc) for doc in stack.resources])


@pytest.fixture(scope="module")
def suite() -> Iterator[Suite]:
    with pytest.MonkeyPatch.context() as env:
        aws = _aws_env(PROD_ACCOUNT, env)
        before = api_calls_metric()
        stack = _base_stack()
        suite = Suite(aws, stack, before)
        result = apply(suite.plan())
        assert not result.failed, [(c.id, c.error) for c in result.failed]
        push_prod_images(aws.client("ecr"))  # a corrected revision passes the image check
        yield suite


def _warnings(pending: Plan) -> list[tuple[str, str]]:
    return [(w.id, w.message) for w in pending.changes.warnings]


def _actions(pending: Plan) -> dict[str, str]:
    return {c.id: c.action for c in pending.changes.changes if c.action != "no-op"}


def test_every_registered_kind_has_a_case_table() -> None:
    assert set(CASES) == set(REGISTRY), "add the kind's table to tests/conformance/cases.py"
    declared = load_stack(DESIRED / "prod", REGISTRY).by_id()
    for kind, case in CASES.items():
        assert case.sample_id in declared, case.sample_id
        assert case.drifts, f"{kind}: at least one drift"
        driver = REGISTRY[kind]
        assert bool(case.replace or case.no_replace) == bool(driver.immutable), \
            f"{kind}: replace one of {sorted(driver.immutable)} (or say why not)"
        assert not {k for k, v in case.replace.items() if v is not None} - driver.immutable
    # What prune's order rests on: every kind a resource references is declared.
    for doc in declared.values():
        referenced = {dep.split("/", 1)[0] for dep in doc.depends_on} - {doc.kind}
        assert referenced <= set(REGISTRY[doc.kind].references), (doc.id, referenced)
    for driver in REGISTRY.values():
        assert driver.identity in ("name", "tags") and set(driver.references) <= set(REGISTRY)


def test_the_applied_stack_plans_no_change_and_owns_what_git_declares(suite: Suite) -> None:
    pending = suite.plan()
    assert not pending.changes.has_changes, _actions(pending)
    assert not _warnings(pending)
    for kind in KINDS:
        declared = {doc.id for doc in suite.stack.resources if doc.kind == kind}
        assert set(suite.owned(kind)) == declared, kind


@pytest.mark.parametrize("drift", DRIFTS, ids=lambda d: d.name)
def test_drift_is_seen_and_corrected(suite: Suite, drift: Drift) -> None:
    with suite.by_hand():
        drift.make(suite.aws)
    pending = suite.plan()
    changes = {c.id: c for c in pending.changes.changes if c.pending}
    assert set(changes) == set(drift.expected), (
        drift.why, {c.id: (c.action, [f.path for f in c.fields]) for c in changes.values()})
    shown = text(pending.changes)
    for rid, path in drift.expected.items():
        assert changes[rid].action == "update", (rid, changes[rid].action)
        fields = [f for f in changes[rid].fields if f.path.startswith(path)]
        assert fields, (rid, [f.path for f in changes[rid].fields])
        assert fields[0].live != fields[0].desired
        # The text plan names the resource, and the drifted field under it.
        body = shown.split(f"~ {rid}", 1)[1].split("\n\n", 1)[0]
        leaf = path.removeprefix("spec.").split(".")[-1].split("[")[0]
        assert f"{leaf}:" in body, body
    suite.converge(pending)


@pytest.mark.parametrize(("name", "rid", "delete"), DELETIONS, ids=[d[0] for d in DELETIONS])
def test_deleted_by_hand_is_made_again(suite: Suite, name: str, rid: str,
                                       delete: Callable[[AwsEnv], None]) -> None:
    with suite.by_hand():
        delete(suite.aws)
    pending = suite.plan()
    # (what references it reads its new ARN: an update of theirs may come with it)
    creates = {r for r, action in _actions(pending).items() if action == "create"}
    assert creates == {rid}, name
    suite.converge(pending)


# ---- a second resource of the kind, from birth to prune ----------------------------------

def _with_copy(stack: Stack, case: KindCases, **edits: Any) -> Stack:
    sample = stack.by_id()[case.sample_id]
    spec = {k: v for k, v in {**sample.spec, **case.copy_edits, **edits}.items()
            if v is not None}
    REGISTRY[case.kind].spec_model.model_validate(spec)
    refs = {ref.target for _, ref in find_refs(spec) if isinstance(ref, Ref)}
    copy = dataclasses.replace(sample, name=case.copy, spec=spec, depends_on=refs)
    return dataclasses.replace(stack, resources=[*stack.resources, copy])


def _adopting(stack: Stack, rid: str, aws_id: str) -> Stack:
    return dataclasses.replace(stack, resources=[
        dataclasses.replace(doc, adopt=aws_id) if doc.id == rid else doc
        for doc in stack.resources])


def _tags_by_hand(aws: AwsEnv, arn: str, *, set_: dict[str, str] | None = None,
                  remove: list[str] | None = None) -> None:
    """Another tool writes tags, by ARN, with each service's own tag calls (moto's
    tagging API writes only some services' tags)."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5]
    if service == "elasticloadbalancing":
        elbv2 = aws.client("elbv2")
        if set_:
            elbv2.add_tags(ResourceArns=[arn], Tags=[{"Key": k, "Value": v}
                                                      for k, v in set_.items()])
        else:
            elbv2.remove_tags(ResourceArns=[arn], TagKeys=remove or [])
        return
    client = aws.client(service)
    pairs = [{"Key": k, "Value": v} for k, v in (set_ or {}).items()]
    if service == "ec2":
        ids = [resource.split("/", 1)[1]]
        if set_:
            client.create_tags(Resources=ids, Tags=pairs)
        else:
            client.delete_tags(Resources=ids, Tags=[{"Key": k} for k in remove or []])
    elif service == "iam":
        name = resource.rsplit("/", 1)[1]
        if set_:
            client.tag_role(RoleName=name, Tags=pairs)
        else:
            client.untag_role(RoleName=name, TagKeys=remove)
    elif service == "sqs":
        url = client.get_queue_url(QueueName=resource)["QueueUrl"]
        if set_:
            client.tag_queue(QueueUrl=url, Tags=set_)
        else:
            client.untag_queue(QueueUrl=url, TagKeys=remove)
    elif service == "ecs":
        if set_:
            client.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v}
                                                       for k, v in set_.items()])
        else:
            client.untag_resource(resourceArn=arn, tagKeys=remove)
    elif service == "ecr":
        if set_:
            client.tag_resource(resourceArn=arn, tags=pairs)
        else:
            client.untag_resource(resourceArn=arn, tagKeys=remove)
    elif service == "rds":
        if set_:
            client.add_tags_to_resource(ResourceName=arn, Tags=pairs)
        else:
            client.remove_tags_from_resource(ResourceName=arn, TagKeys=remove)
    elif service == "servicediscovery":
        if set_:
            client.tag_resource(ResourceARN=arn, Tags=pairs)
        else:
            client.untag_resource(ResourceARN=arn, TagKeys=remove)
    elif service == "secretsmanager":
        if set_:
            client.tag_resource(SecretId=arn, Tags=pairs)
        else:
            client.untag_resource(SecretId=arn, TagKeys=remove)
    elif service == "s3":  # PutBucketTagging replaces the whole set
        name = resource
        current = {t["Key"]: t["Value"]
                   for t in client.get_bucket_tagging(Bucket=name)["TagSet"]}
        current = {k: v for k, v in {**current, **(set_ or {})}.items()
                   if k not in (remove or [])}
        client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
            {"Key": k, "Value": v} for k, v in current.items()]})
    elif service == "cloudfront" and resource.startswith("origin-access-control/"):
        _oac_marker_by_hand(aws, resource.split("/", 1)[1], set_, remove)
    elif service == "cloudfront":
        if set_:
            client.tag_resource(Resource=arn, Tags={"Items": pairs})
        else:
            client.untag_resource(Resource=arn, TagKeys={"Items": remove or []})
    elif service == "elasticache":
        if set_:
            client.add_tags_to_resource(ResourceName=arn, Tags=pairs)
        else:
            client.remove_tags_from_resource(ResourceName=arn, TagKeys=remove)
    elif service == "lambda":
        if set_:
            client.tag_resource(Resource=arn, Tags=set_)
        else:
            client.untag_resource(Resource=arn, TagKeys=remove)
    elif service == "sns" and resource.count(":") == 1:  # a subscription: its topic's marker
        _subscription_marker_by_hand(aws, arn, set_, remove)
    elif service in ("sns", "cloudwatch"):  # one service spells it ResourceArn
        key = "ResourceArn" if service == "sns" else "ResourceARN"
        if set_:
            client.tag_resource(**{key: arn}, Tags=pairs)
        else:
            client.untag_resource(**{key: arn}, TagKeys=remove)
    else:  # logs, and what AWS's tagging API writes for any service
        tagging = aws.client("resourcegroupstaggingapi")
        if set_:
            failed = tagging.tag_resources(ResourceARNList=[arn], Tags=set_)
        else:
            failed = tagging.untag_resources(ResourceARNList=[arn], TagKeys=remove or [])
        assert not failed["FailedResourcesMap"], failed["FailedResourcesMap"]


def _oac_marker_by_hand(aws: AwsEnv, oac_id: str, set_: dict[str, str] | None,
                        remove: list[str] | None) -> None:
    """An origin access control has no tags: its owner is a marker ending its description,
    `(gitops:stack=S gitops:id=ID)`, which another tool removes or rewrites."""
    cloudfront = aws.client("cloudfront")
    answer = cloudfront.get_origin_access_control(Id=oac_id)
    config = answer["OriginAccessControl"]["OriginAccessControlConfig"]
    text = config.get("Description") or ""
    match = re.search(r"\s*\(gitops:stack=(\S+) gitops:id=([^\s()]+)\)$", text)
    assert match, text
    if remove:
        text = text[:match.start()]
    elif set_ and STACK_KEY in set_:
        text = f"{text[:match.start()]} (gitops:stack={set_[STACK_KEY]} gitops:id={match[2]})"
    cloudfront.update_origin_access_control(Id=oac_id, IfMatch=answer["ETag"],
                                            OriginAccessControlConfig={**config,
                                                                       "Description": text})


def _subscription_marker_by_hand(aws: AwsEnv, arn: str, set_: dict[str, str] | None,
                                 remove: list[str] | None) -> None:
    """SNS cannot tag a subscription: its owner is a marker tag on its topic
    (`<stack>/<name>`), which another tool removes or gives to another stack."""
    sns = aws.client("sns")
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    topic = attributes["TopicArn"]
    key = marker_key(attributes["Protocol"], attributes["Endpoint"])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic)["Tags"]}
    if remove:
        sns.untag_resource(ResourceArn=topic, TagKeys=[key])
    elif set_ and STACK_KEY in set_:
        name = tags[key].split("/", 1)[1]
        sns.tag_resource(ResourceArn=topic,
                         Tags=[{"Key": key, "Value": f"{set_[STACK_KEY]}/{name}"}])


def _closure(stack: Stack, rid: str) -> Stack:
    """`rid` and what it references, transitively: a plan of it reads little else."""
    by_id, keep, todo = stack.by_id(), {rid}, [rid]
    while todo:
        for dep in by_id[todo.pop()].depends_on - keep:
            keep.add(dep)
            todo.append(dep)
    return dataclasses.replace(stack, resources=[r for r in stack.resources if r.id in keep])


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_a_second_resource_lives_by_git(suite: Suite, kind: str) -> None:
    case, driver = CASES[kind], REGISTRY[kind]
    if case.no_copy:
        pytest.skip(case.no_copy)
    rid = case.copy_id
    stack = _closure(_with_copy(suite.stack, case), rid)

    # Created, converged, owned.
    pending = suite.plan(stack)
    assert _actions(pending) == {rid: "create"}
    suite.converge(pending)
    live = suite.owned(kind)[rid]

    # Its ownership tags removed by hand: adopted (a tag-identified kind by `adopt:`,
    # without which it is not found: it would be created anew).
    with suite.by_hand():
        _tags_by_hand(suite.aws, live.attrs["arn"], remove=[STACK_KEY, ID_KEY])
    assert rid not in suite.owned(kind), "untagged: not the stack's"
    if driver.identity == "tags":
        assert _actions(suite.plan(stack)) == {rid: "create"}
        stack = _adopting(stack, rid, live.attrs["id"])
    pending = suite.plan(stack)
    assert _actions(pending) == {rid: "adopt"}
    suite.converge(pending)
    assert rid in suite.owned(kind)

    # Claimed by another stack: refused, naming both.
    with suite.by_hand():
        _tags_by_hand(suite.aws, live.attrs["arn"], set_={STACK_KEY: OTHER_STACK})
    (refused,) = suite.plan(stack).changes.refused
    assert refused.id == rid and OTHER_STACK in refused.reason and stack.name in refused.reason
    assert rid not in suite.owned(kind), "another stack's: never pruned by this one"
    with suite.by_hand():
        _tags_by_hand(suite.aws, live.attrs["arn"], set_={STACK_KEY: stack.name})

    # Deleted by hand: made again (a secret: restored).
    with suite.by_hand():
        driver.delete(live, RunContext(suite.gateway(), stack.name))
    assert rid not in suite.owned(kind)
    with suite.by_hand():  # deleting what is gone succeeds
        driver.delete(live, RunContext(suite.gateway(), stack.name))
    pending = suite.plan(stack)
    assert list(_actions(pending)) == [rid]
    suite.converge(pending)

    # An immutable field changed in git: replaced, or refused where it holds data.
    if case.replace:
        changed = _closure(_with_copy(suite.stack, case, **case.replace), rid)
        if driver.identity == "tags":
            changed = _adopting(changed, rid, live.attrs["id"])
        pending = suite.plan(changed)
        assert _actions(pending) == {rid: "replace"}
        if driver.holds_data:
            assert [c.id for c in pending.changes.refused] == [rid]
        else:
            suite.converge(pending)

    # Gone from git, `prune: true`: deleted, or kept where it holds data.
    pruning = dataclasses.replace(suite.stack, config=suite.stack.config.model_copy(
        update={"prune": True}))
    pending = suite.plan(pruning)
    if driver.holds_data:
        assert _actions(pending) == {}
        assert any(w.id == rid and "holds data" in w.message for w in pending.changes.warnings)
        with suite.by_hand():
            driver.delete(suite.owned(kind)[rid], RunContext(suite.gateway(), stack.name))
    else:
        assert _actions(pending) == {rid: "delete"}
        assert not apply(pending).failed
    assert rid not in suite.owned(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_throttled_batch_read_fails_each_resource_and_is_asked_once(
        suite: Suite, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[kind]
    throttle = Throttle(*case.batch, "ThrottlingException")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    pending = plan(suite.stack, suite.gateway(throttle.hooks()))
    errors = {c.id: c.error for c in pending.changes.changes if c.action == "error"}
    for doc in suite.stack.resources:
        if doc.kind == kind:
            assert "ThrottlingException" in (errors.get(doc.id) or ""), (doc.id, errors)
    assert throttle.sent == case.batch_reads


@pytest.mark.slow  # the second resources' creates, replaces and prunes are what it checks
def test_the_iam_policy_allows_every_call_this_module_made(suite: Suite) -> None:
    """Last in the module: the calls of every case above (and the first apply)."""
    calls = api_calls_metric() - suite.calls_before - suite.by_others
    if not calls[("ec2", "DeleteVpc")]:  # the VPC case's prune: its calls are not here
        pytest.skip("the module's cases ran elsewhere: run it whole (--dist loadscope)")
    policy = load_policy(suite.aws.account)
    missing = {action: why for action, why in needed_actions(calls).items()
               if not allows(policy, action)}
    assert not missing, f"deploy/iam/controller-policy.yaml lacks {missing}"
