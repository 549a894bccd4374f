"""The daemon as a real process against moto (through a fault proxy) and a real git repo."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.aws.gateway import AwsGateway
from controller.engine.reconcile import apply, plan
from controller.spec.loader import load_stack
from tests.conftest import AwsEnv
from tests.daemonproc import DaemonProcess, commit_edit, git, make_repo, wait_for
from tests.faultproxy import FaultProxy
from tests.stacks import DESIRED

SECRET = "webhook-secret-for-tests"
TOKEN = "ghp-token-that-must-never-show"
STACK = "iq-theory-prod"


def signed(body: dict[str, Any], event: str = "push") -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Hub-Signature-256": sig, "X-GitHub-Event": event,
                 "Content-Type": "application/json"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", DESIRED)


@pytest.fixture
def proxy(prod_aws: AwsEnv) -> Iterator[FaultProxy]:
    fault = FaultProxy(prod_aws.server.url)
    yield fault
    fault.stop()


class Daemons:
    """Start daemons for one test; every one is stopped at the end."""

    def __init__(self, repo: Path, proxy: FaultProxy, cache: Path) -> None:
        self.repo, self.proxy, self.cache = repo, proxy, cache
        self.started: list[DaemonProcess] = []

    def start(self, **settings: str) -> DaemonProcess:
        env = {
            "GITOPS_REPO": f"file://{self.repo}", "GITOPS_PATH": "desired/prod",
            "GITOPS_REF": "main", "GITOPS_LISTEN": "127.0.0.1:0",
            "GITOPS_INTERVAL_SECONDS": "3600", "GITOPS_MODE": "enforce",
            "GITOPS_WEBHOOK_SECRET": SECRET, "GITOPS_GIT_TOKEN": TOKEN,
            "GITOPS_CACHE_DIR": str(self.cache), "AWS_ENDPOINT_URL": self.proxy.url,
            **settings,
        }
        daemon = DaemonProcess(env)
        self.started.append(daemon)
        return daemon

    def stop_all(self) -> None:
        for daemon in self.started:
            daemon.kill()


@pytest.fixture
def daemons(repo: Path, proxy: FaultProxy, tmp_path: Path) -> Iterator[Daemons]:
    running = Daemons(repo, proxy, tmp_path / "cache")
    yield running
    running.stop_all()
    transcript = "".join(line for d in running.started for line in d.raw)
    assert TOKEN not in transcript, "the git token leaked into the daemon's output"


def apply_prod(prod_aws: AwsEnv) -> None:
    stack = load_stack(DESIRED / "prod")
    assert not apply(plan(stack, AwsGateway("us-east-1"))).failed


def test_signed_webhook_rolls_out_an_image_change_without_waiting(
        daemons: Daemons, repo: Path, proxy: FaultProxy, prod_aws: AwsEnv) -> None:
    daemon = daemons.start()
    wait_for(lambda: daemon.runs("success") >= 1, 60, what="the first run")
    # moto's create_service drops the circuit breaker: one update per service after create
    assert proxy.count("UpdateService") == 2
    sha = commit_edit(repo, "desired/prod/stack.yaml", 'api_image_tag: "1.4.2"',
                      'api_image_tag: "1.5.0"', "deploy api 1.5.0")
    body, headers = signed({"ref": "refs/heads/main", "after": sha})
    sent = time.monotonic()
    assert daemon.post(body, headers) == 202
    call = wait_for(lambda: proxy.first("UpdateService", after=sent), 30,
                    what="the UpdateService call")
    print(f"\nsigned webhook -> UpdateService: {call.at - sent:.3f} s")
    wait_for(lambda: daemon.metric("gitops_revision_info", stack=STACK, revision=sha), 30,
             what="the new revision in force")
    ecs = prod_aws.client("ecs")
    svc = ecs.describe_services(cluster="iq-theory-cluster", services=["iq-theory-api"])
    td = ecs.describe_task_definition(taskDefinition=svc["services"][0]["taskDefinition"])
    assert td["taskDefinition"]["containerDefinitions"][0]["image"].endswith(":1.5.0")
    assert daemon.metric("gitops_desired_state_valid", stack=STACK) == 1
    code, elapsed = daemon.terminate()
    assert code == 0 and elapsed < 25


def test_drift_is_reported_in_detect_mode_and_corrected_in_enforce_mode(
        daemons: Daemons, prod_aws: AwsEnv, proxy: FaultProxy) -> None:
    apply_prod(prod_aws)
    logs = prod_aws.client("logs")
    detect = daemons.start(GITOPS_MODE="detect", GITOPS_INTERVAL_SECONDS="1")
    labels = {"stack": STACK, "kind": "logs.LogGroup", "name": "/ecs/iq-theory-api"}
    wait_for(lambda: detect.metric("gitops_resource_drifted", **labels) == 0, 60,
             what="an in-sync series")
    logs.put_retention_policy(logGroupName="/ecs/iq-theory-api", retentionInDays=1)
    wait_for(lambda: detect.metric("gitops_resource_drifted", **labels) == 1, 30,
             what="the drift on /metrics")
    assert detect.metric("gitops_stack_drifted_resources", stack=STACK) == 1
    runs = detect.runs("success")
    wait_for(lambda: detect.runs("success") >= runs + 2, 30, what="two more runs")
    group = logs.describe_log_groups(logGroupNamePrefix="/ecs/iq-theory-api")["logGroups"][0]
    assert group["retentionInDays"] == 1, "detect mode must not write"
    assert detect.terminate()[0] == 0
    writes_before = proxy.count("PutRetentionPolicy")
    enforce = daemons.start(GITOPS_MODE="enforce", GITOPS_INTERVAL_SECONDS="1")
    wait_for(lambda: enforce.metric("gitops_resource_drifted", **labels) == 0, 60,
             what="the drift corrected")
    group = logs.describe_log_groups(logGroupNamePrefix="/ecs/iq-theory-api")["logGroups"][0]
    assert group["retentionInDays"] == 30
    assert proxy.count("PutRetentionPolicy") == writes_before + 1
    assert enforce.terminate()[0] == 0


def test_invalid_commit_applies_nothing_and_keeps_the_revision_across_a_restart(
        daemons: Daemons, repo: Path, prod_aws: AwsEnv, proxy: FaultProxy) -> None:
    good = git(repo, "rev-parse", "HEAD")
    daemon = daemons.start(GITOPS_INTERVAL_SECONDS="1")
    wait_for(lambda: daemon.metric("gitops_revision_info", stack=STACK, revision=good), 60,
             what="the good revision in force")
    # One commit changes the image and breaks a queue: nothing of it may be applied.
    (repo / "desired/base/queues.yaml").write_text(
        (repo / "desired/base/queues.yaml").read_text().replace("visibilityTimeout: 60",
                                                                "visibilityTimeout: soon"))
    bad = commit_edit(repo, "desired/prod/stack.yaml", 'api_image_tag: "1.4.2"',
                      'api_image_tag: "6.6.6"', "broken")
    wait_for(lambda: daemon.metric("gitops_desired_state_valid", stack=STACK) == 0, 30,
             what="validity 0")
    wait_for(lambda: daemon.runs("invalid") >= 2, 30, what="invalid runs")
    assert daemon.metric("gitops_revision_info", stack=STACK, revision=good) == 1
    assert daemon.metric("gitops_revision_info", stack=STACK, revision=bad) is None
    assert proxy.count("RegisterTaskDefinition") == 2  # the two from the first apply only
    error = daemon.find("invalid desired state: nothing from this revision is applied")
    assert error is not None
    assert error["errors"] == ["desired/base/queues.yaml:18: sqs.Queue/iq-theory-jobs: "
                               "spec.visibilityTimeout: Input should be a valid integer, "
                               "unable to parse string as an integer"]
    assert daemon.terminate()[0] == 0
    restarted = daemons.start(GITOPS_INTERVAL_SECONDS="1")
    wait_for(lambda: restarted.metric("gitops_desired_state_valid", stack=STACK) == 0, 60,
             what="validity 0 after the restart")
    wait_for(lambda: restarted.metric("gitops_revision_info", stack=STACK, revision=good), 30,
             what="the last good revision in force after the restart")
    assert proxy.count("RegisterTaskDefinition") == 2
    assert restarted.metric("gitops_last_successful_reconcile_timestamp_seconds",
                            stack=STACK) is not None
    assert restarted.terminate()[0] == 0


def test_forged_or_malformed_webhooks_trigger_nothing(daemons: Daemons) -> None:
    daemon = daemons.start()
    wait_for(lambda: daemon.runs("success") >= 1, 60, what="the first run")
    body, headers = signed({"ref": "refs/heads/main"})
    forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert daemon.post(body, {"X-GitHub-Event": "push"}) == 401
    assert daemon.post(body, forged) == 401
    assert daemon.post(b"x" * (1024 * 1024 + 1), headers) == 413
    garbage, garbage_headers = b"{nope", signed({})[1]
    garbage_headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(
        SECRET.encode(), garbage, hashlib.sha256).hexdigest()
    assert daemon.post(garbage, garbage_headers) == 400
    other, other_headers = signed({"ref": "refs/heads/feature"})
    assert daemon.post(other, other_headers) == 202
    ping, ping_headers = signed({"zen": "hi"}, event="ping")
    assert daemon.post(ping, ping_headers) == 202
    time.sleep(1.5)
    assert daemon.runs("success") + daemon.runs("error") == 1
    assert daemon.get("/healthz")[0] == 200
    assert daemon.get("/readyz")[0] == 200


def test_webhook_is_off_without_a_secret_and_can_listen_apart(daemons: Daemons) -> None:
    off = daemons.start(GITOPS_WEBHOOK_SECRET="")
    body, headers = signed({"ref": "refs/heads/main"})
    assert off.post(body, headers) == 404
    assert off.terminate()[0] == 0
    split = daemons.start(GITOPS_WEBHOOK_LISTEN="127.0.0.1:0")
    assert split.webhook_url and split.webhook_url != split.url
    assert split.post(body, headers, url=split.url) == 404  # not on the metrics address
    assert split.post(body, headers) == 202
    status, _ = split.get("/metrics")
    assert status == 200


def test_bad_setting_stops_the_daemon_naming_the_variable(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "controller", "run"],
                            env={"PATH": "/usr/bin:/bin", "GITOPS_REPO": "file:///x",
                                 "GITOPS_PATH": "p", "GITOPS_MODE": "sometimes"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "GITOPS_MODE" in result.stderr
