"""The CI roles of deploy/iam/: the read-only plan role allows exactly what a plan calls,
the build role pushes the stack's two images and nothing else, and each trusts only
the pipelines it is for.

"Exactly" is measured, as for the controller's policy (test_iam_policy.py): against
moto, `gitops validate` and `gitops plan --output markdown` of desired/prod run as the
plan workflow runs them, on an empty account, on the applied stack, after `gitops set`
of a new image tag, and after drift and deletions by hand; every AWS call is read from
the contract metric gitops_aws_api_calls_total. The plan role must allow each call and
grant nothing else; no action of it may write.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.conformance.cases import DRIFTS
from tests.conftest import AwsEnv
from tests.deploy.test_iam_policy import (
    ACCOUNT,
    DELETED,
    MORE_DRIFTS,
    UNSCOPABLE,
    action_matches,
    allows,
    api_calls_metric,
    arn_matches,
    iam_action,
    load_document,
    load_policy,
    rounds,
    statements,
)
from tests.stacks import DESIRED, REPO, copy_desired

IAM = REPO / "deploy" / "iam"
PLAN_POLICY = IAM / "plan-role-policy.yaml"
BUILD_POLICY = IAM / "build-role-policy.yaml"
REPOSITORY = "iq/app"  # substituted for GITHUB_REPOSITORY / GITLAB_PROJECT_PATH

# Verbs of actions that change something; a plan role grants none of them.
WRITE_VERBS = ("Create", "Put", "Update", "Delete", "Tag", "Untag", "Register", "Deregister",
               "Attach", "Detach", "Modify", "Authorize", "Revoke", "Add", "Remove", "Set",
               "Start", "Stop", "Run", "Invoke", "Publish", "Send", "Associate",
               "Disassociate", "Replace", "Allocate", "Release", "Request", "Restore",
               "Reboot", "Upload", "Initiate", "Complete", "Enable", "Disable", "Increase",
               "Decrease", "Apply", "Import", "Pass", "Assume", "Subscribe", "Unsubscribe",
               "Change", "Rotate", "Cancel", "Copy", "Execute", "Reset", "Terminate")
# Reads a plan never needs that would reveal data, not metadata (an image's layers, a
# function's code). An image's manifest (ecr:DescribeImages, ecr:BatchGetImage) is
# metadata: a plan that checks a tag is in ECR may read it.
DATA_READS = ("secretsmanager:GetSecretValue", "s3:GetObject", "ssm:GetParameter",
              "ssm:GetParameters", "kms:Decrypt", "dynamodb:GetItem", "sqs:ReceiveMessage",
              "logs:GetLogEvents", "lambda:GetFunction", "ecr:GetDownloadUrlForLayer")


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def plan_policy() -> dict[str, Any]:
    return load_document(PLAN_POLICY)


def granted(policy: dict[str, Any]) -> list[str]:
    return sorted({a for s in statements(policy) for a in _listed(s["Action"])})


# ---- the plan role's shape -------------------------------------------------------------

def test_the_plan_role_is_a_valid_policy_that_only_reads() -> None:
    policy = plan_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for s in policy["Statement"]:
        assert s["Effect"] == "Allow" and set(s) <= {"Sid", "Effect", "Action", "Resource",
                                                      "Condition"}, s["Sid"]
        for resource in _listed(s["Resource"]):
            assert resource == "*" or resource.startswith("arn:aws:"), (s["Sid"], resource)
    actions = granted(policy)
    writes = [a for a in actions if a.split(":")[1].startswith(WRITE_VERBS)]
    assert writes == []
    # BatchGetImage reads an image's manifest (the image check), never its layers
    assert [a for a in actions
            if not re.fullmatch(r"[a-z0-9-]+:(Describe|Get|List|BatchGet)\w+", a)] == []
    assert [a for a in DATA_READS if allows(policy, a)] == []
    # A managed policy holds at most 6,144 characters, whitespace not counted.
    assert len(json.dumps(policy, separators=(",", ":"))) <= 6144


def test_the_plan_role_reaches_nothing_the_controllers_role_cannot() -> None:
    """Each (action, resource) it grants is granted to the controller on that resource or
    wider: reading a plan is never more than the controller does."""
    controller = load_policy()
    wider = []
    for s in statements(plan_policy()):
        for action in _listed(s["Action"]):
            for resource in _listed(s["Resource"]):
                covered = any(action_matches(p, action) and any(
                    arn_matches(r, resource) for r in _listed(c["Resource"]))
                    for c in statements(controller) for p in _listed(c["Action"]))
                if not covered:
                    wider.append(f"{s['Sid']}: {action} on {resource}")
    assert wider == []


def test_every_star_resource_of_the_plan_role_is_unscopable_and_explained() -> None:
    for s in statements(plan_policy()):
        if "*" in _listed(s["Resource"]):
            assert sorted(set(_listed(s["Action"])) - UNSCOPABLE) == [], s["Sid"]
    for n, line in enumerate(PLAN_POLICY.read_text().splitlines(), 1):
        if re.search(r"""Resource:\s*["']\*["']""", line):
            assert "#" in line, f"{PLAN_POLICY.name}:{n}: explain this '*' resource"


# ---- the measured calls ------------------------------------------------------------------

def _counted(run: Callable[[], Any], calls: Counter[tuple[str, str]]) -> Any:
    before = api_calls_metric()
    result = run()
    calls.update(api_calls_metric() - before)
    return result


def measure_plans(aws: AwsEnv, gitops: Any, tmp_path: Path) -> Counter[tuple[str, str]]:
    """Every AWS call of the plan workflow's commands over a stack's life; the applies
    between them are not counted (the controller's role makes them)."""
    calls: Counter[tuple[str, str]] = Counter()
    prod = DESIRED / "prod"
    validated = _counted(lambda: gitops("validate", prod), calls)
    assert validated.code == 0 and not calls, "validate reads no AWS"
    first = _counted(lambda: gitops("plan", prod, "--output", "markdown"), calls)
    assert first.code == 2, first.err  # a new stack: everything to create
    stack = load_stack(prod, REGISTRY)
    assert not apply(plan(stack, aws.gateway())).failed
    in_sync = _counted(lambda: gitops("plan", prod, "--output", "markdown"), calls)
    assert in_sync.code == 0, in_sync.out + in_sync.err
    # The deploy pull request: a new tag, set as the build workflow sets it.
    edited = copy_desired(tmp_path) / "prod"
    assert gitops("set", edited, "api_image_tag=1.4.3").code == 0
    deploy = _counted(lambda: gitops("plan", edited, "--output", "markdown"), calls)
    assert deploy.code == 2 and "ecs.TaskDefinition/iq-theory-api" in deploy.out, deploy.out
    # Drift and deletions by hand: the plan of a pull request shows them too. Tags added
    # by hand too: the tagging index shows them, each resource's own tag read confirms.
    tagged = [d for d in MORE_DRIFTS if d.name.endswith("tag added")]
    for group in rounds(DRIFTS + tagged) + rounds(DELETED):
        for drift in group:
            drift.make(aws)
        drifted = _counted(lambda: gitops("plan", prod, "--output", "markdown"), calls)
        assert drifted.code == 2, drifted.err
        assert not apply(plan(stack, aws.gateway())).failed
    return calls


def test_the_plan_role_allows_exactly_what_a_plan_calls(prod_aws: AwsEnv, gitops: Any,
                                                        tmp_path: Path) -> None:
    calls = measure_plans(prod_aws, gitops, tmp_path)
    needed = {iam_action(service, operation) for service, operation in calls}
    print(f"\n{len(calls)} (service, operation) pairs measured over the plans")
    policy = plan_policy()
    missing = sorted(a for a in needed if not allows(policy, a))
    unused = [a for a in granted(policy) if not any(action_matches(a, n) for n in needed)]
    assert (missing, unused) == ([], []), (
        f"{PLAN_POLICY.name}: add {missing} (a plan calls them); drop {unused} (no plan "
        "calls them)")
    assert [c for c in calls if c[1].startswith(WRITE_VERBS)] == []


# ---- the build role ----------------------------------------------------------------------

PUSH = {"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages"}


def test_the_build_role_pushes_the_stacks_two_images_and_nothing_else() -> None:
    policy = load_document(BUILD_POLICY)
    repositories = sorted(f"arn:aws:ecr:*:{ACCOUNT}:repository/{r.name}"
                          for r in load_stack(DESIRED / "prod", REGISTRY).resources
                          if r.kind == "ecr.Repository")
    by_resource = {tuple(sorted(_listed(s["Resource"]))): set(_listed(s["Action"]))
                   for s in statements(policy)}
    assert by_resource == {("*",): {"ecr:GetAuthorizationToken"},
                           tuple(repositories): PUSH}
    assert statements(policy, "Deny") == []
    for action in ("ecr:BatchDeleteImage", "ecr:DeleteRepository", "ecs:UpdateService",
                   "ecs:RegisterTaskDefinition", "iam:PassRole", "sts:AssumeRole"):
        assert not allows(policy, action), action


# ---- who may assume them -----------------------------------------------------------------

def _trust(name: str) -> dict[str, Any]:
    text = (IAM / name).read_text()
    for placeholder in ("GITHUB_REPOSITORY", "GITLAB_PROJECT_PATH"):
        text = text.replace(placeholder, REPOSITORY)
    return dict(json.loads(text.replace("ACCOUNT_ID", ACCOUNT)))


def _admits(trust: dict[str, Any], claims: dict[str, str]) -> bool:
    """Whether a web identity token with `claims` may assume the role (StringEquals and
    StringLike on the token's claims, the only operators these documents use)."""
    for s in trust["Statement"]:
        if s["Effect"] != "Allow" or s["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        ok = True
        for operator, tests in s["Condition"].items():
            assert operator in ("StringEquals", "StringLike"), operator
            for key, wanted in tests.items():
                value = claims.get(key.split(":", 1)[1], "")
                if operator == "StringEquals":
                    ok = ok and value in _listed(wanted)
                else:
                    ok = ok and any(re.fullmatch(re.escape(w).replace(r"\*", ".*"), value)
                                    for w in _listed(wanted))
        if ok:
            return True
    return False


GITHUB_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
GITLAB_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com"


@pytest.mark.parametrize(("name", "provider", "audience", "admitted", "refused"), [
    ("plan-role-trust-github.json", GITHUB_PROVIDER, "sts.amazonaws.com",
     [f"repo:{REPOSITORY}:pull_request"],
     [f"repo:{REPOSITORY}:ref:refs/heads/main", f"repo:{REPOSITORY}-fork:pull_request",
      "repo:other/app:pull_request", f"repo:{REPOSITORY}:environment:prod"]),
    ("build-role-trust-github.json", GITHUB_PROVIDER, "sts.amazonaws.com",
     [f"repo:{REPOSITORY}:ref:refs/heads/main"],
     [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/feature",
      f"repo:{REPOSITORY}:ref:refs/heads/main-x", "repo:other/app:ref:refs/heads/main"]),
    ("plan-role-trust-gitlab.json", GITLAB_PROVIDER, "https://gitlab.com",
     [f"project_path:{REPOSITORY}:ref_type:branch:ref:feature",
      f"project_path:{REPOSITORY}:ref_type:branch:ref:main"],
     [f"project_path:{REPOSITORY}-x:ref_type:branch:ref:feature",
      "project_path:other/app:ref_type:branch:ref:main",
      f"project_path:{REPOSITORY}:ref_type:tag:ref:v1"]),
    ("build-role-trust-gitlab.json", GITLAB_PROVIDER, "https://gitlab.com",
     [f"project_path:{REPOSITORY}:ref_type:branch:ref:main"],
     [f"project_path:{REPOSITORY}:ref_type:branch:ref:feature",
      "project_path:other/app:ref_type:branch:ref:main"]),
])
def test_each_role_trusts_only_the_pipelines_it_is_for(
        name: str, provider: str, audience: str, admitted: list[str],
        refused: list[str]) -> None:
    trust = _trust(name)
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": provider}
    for sub in admitted:
        assert _admits(trust, {"aud": audience, "sub": sub}), sub
        assert not _admits(trust, {"aud": "another-audience", "sub": sub}), sub
    for sub in refused:
        assert not _admits(trust, {"aud": audience, "sub": sub}), sub

