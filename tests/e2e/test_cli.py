"""The `gitops` command as a user runs it: a real process, stdout for machines only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import AwsEnv
from tests.stacks import DECLARED, DESIRED, write_stack


def run(*args: Any, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", *map(str, args)],
                          capture_output=True, text=True, stdin=stdin, env=os.environ.copy(),
                          timeout=120, check=False)


def test_json_plan_is_alone_on_stdout_and_follows_the_contract(prod_aws: AwsEnv) -> None:
    result = run("plan", DESIRED / "prod", "--output", "json")
    assert result.returncode == 2, result.stderr
    plan = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert set(plan) == {"stack", "revision", "changes", "summary", "warnings", "stats"}
    assert plan["stack"] == "iq-theory-prod" and plan["revision"] is None
    assert plan["summary"]["create"] == DECLARED["prod"]
    change = next(c for c in plan["changes"] if c["id"] == "ecs.Service/iq-theory-api")
    assert set(change) >= {"id", "kind", "name", "action", "fields"}
    subnets = next(f for f in change["fields"] if f["path"] == "spec.networkConfiguration")
    assert "(known after apply)" in json.dumps(subnets["desired"])
    assert plan["stats"]["api_calls"] > 0 and plan["stats"]["duration_seconds"] > 0


def test_apply_without_a_terminal_refuses_to_ask(prod_aws: AwsEnv) -> None:
    result = run("apply", DESIRED / "prod")
    assert result.returncode == 1
    assert "no terminal to ask" in result.stderr
    ecs = prod_aws.client("ecs")
    assert ecs.list_clusters()["clusterArns"] == []


def test_apply_then_plan_in_processes(prod_aws: AwsEnv) -> None:
    applied = run("apply", DESIRED / "prod", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    plan = run("plan", DESIRED / "prod")
    assert plan.returncode == 0
    assert "No changes." in plan.stdout
    markdown = run("plan", DESIRED / "prod", "--output", "markdown")
    assert markdown.returncode == 0
    assert markdown.stdout.startswith("### gitops plan: <code>iq-theory-prod</code>")


def test_markdown_plan_lists_each_change(prod_aws: AwsEnv) -> None:
    result = run("plan", DESIRED / "prod", "--output", "markdown")
    assert result.returncode == 2
    assert "| <code>+</code> create | <code>ecs.Service/iq-theory-api</code> |" in result.stdout
    assert f"Plan: {DECLARED['prod']} to create" in result.stdout


def test_secret_looking_environment_is_a_validation_error(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", """
        kind: ecs.TaskDefinition
        name: app
        spec:
          cpu: "256"
          memory: "512"
          containerDefinitions:
            - name: app
              image: nginx:1
              environment:
                - name: JWT_SECRET
                  value: s3cr3t-value
                - name: REDIS_URL
                  value: redis://admin:pa55word@cache:6379
        """)
    result = run("validate", stack)
    assert result.returncode == 1
    assert ("resources.yaml:10: ecs.TaskDefinition/app: "
            "spec.containerDefinitions[0].environment[0]") in result.stderr
    assert "resources.yaml:12: ecs.TaskDefinition/app: " in result.stderr
    assert "secrets" in result.stderr
    assert "s3cr3t-value" not in result.stderr and "pa55word" not in result.stderr


def test_help_and_usage_exit_codes() -> None:
    assert run("--help").returncode == 0
    assert run("plan", "--bogus").returncode == 1
    bad = run("apply", "desired/prod", "--parallelism", "0")
    assert bad.returncode == 1 and "--parallelism: '0': expected a whole number" in bad.stderr


def test_demo_shows_the_loop_and_exits_0() -> None:
    result = subprocess.run([sys.executable, "-m", "controller", "demo", "--interval", "1"],
                            capture_output=True, text=True, timeout=180, check=False,
                            env={k: v for k, v in os.environ.items()
                                 if not k.startswith("AWS_")})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"{DECLARED['prod']} resources created" in out
    assert 'gitops_resource_drifted{kind="logs.LogGroup",name="/ecs/iq-theory-api"' in out
    assert 'gitops_resource_drifted{kind="ec2.SecurityGroup",name="iq-theory-api"' in out
    assert 'gitops_resource_drifted{kind="ecs.Service"' not in out  # the autoscaler's count
    assert "corrected: the API's port no longer open to the internet, retention 30 days" in out
    assert "left to the autoscaler: desiredCount 6" in out
    assert "webhook answered 202" in out
    # the tag committed before its image is held; CI's push comes before the deploy
    held = out.index("held: image iq-theory-api:1.5.0 is not in ECR")
    pushed = out.index("CI pushes iq-theory-api:1.5.0 to ECR")
    deployed = out.index("the service now runs iq-theory-api:2 (iq-theory-api:1.5.0)")
    assert held < pushed < deployed
