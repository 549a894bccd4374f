"""The daemon as a real process against moto (through a fault proxy) and a real git repo."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from controller.engine.writer import one_writer
from tests.conftest import AwsEnv, push_prod_images
from tests.daemonproc import commit_edit, git, wait_for
from tests.e2e.conftest import SECRET, STACK, TOKEN, Daemons, signed
from tests.faultproxy import FaultProxy


def test_signed_webhook_rolls_out_an_image_change_without_waiting(
        daemons: Daemons, repo: Path, proxy: FaultProxy, prod_aws: AwsEnv) -> None:
    daemon = daemons.start()
    wait_for(lambda: daemon.runs("success") >= 1, 60, what="the first run")
    # moto's create_service drops the circuit breaker: one update per service after create
    assert proxy.count("UpdateService") == 2
    push_prod_images(prod_aws.client("ecr"), "1.5.0")  # CI pushes, then commits the tag
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


def test_while_a_cli_apply_writes_the_stack_the_daemon_only_plans(
        settled_daemons: Daemons, applied_prod: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """One writer per stack on a machine: the daemon's run meets the lock a CLI apply
    holds, plans without writing and says who holds it; the first run after, writes."""
    daemons, proxy = settled_daemons, settled_daemons.proxy
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(daemons.cache))  # the daemon's lock folder
    logs = applied_prod.client("logs")
    labels = {"stack": STACK, "kind": "logs.LogGroup", "name": "/ecs/iq-theory-api"}
    with one_writer(STACK, applied_prod.account, "gitops apply"):
        logs.put_retention_policy(logGroupName="/ecs/iq-theory-api", retentionInDays=1)
        daemon = daemons.start(GITOPS_INTERVAL_SECONDS="1")
        wait_for(lambda: daemon.metric("gitops_resource_drifted", **labels) == 1, 60,
                 what="the drift seen")
        wait_for(lambda: daemon.find("another writer holds the stack: this run only plans"),
                 30, what="the lock reported")
        held = daemon.find("another writer holds the stack: this run only plans")
        assert held is not None and "gitops apply (pid" in held["holder"]
        assert proxy.count("PutRetentionPolicy") == 0
    wait_for(lambda: daemon.metric("gitops_resource_drifted", **labels) == 0, 30,
             what="the drift corrected once the lock is free")
    assert proxy.count("PutRetentionPolicy") == 1
    assert daemon.terminate()[0] == 0


def test_drift_is_reported_in_detect_mode_and_corrected_in_enforce_mode(
        settled_daemons: Daemons, applied_prod: AwsEnv) -> None:
    daemons, proxy = settled_daemons, settled_daemons.proxy
    logs = applied_prod.client("logs")
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
    # The correction is logged once (as the engine wrote it), the plan of detect mode once.
    logged = [line for line in enforce.lines if line.get("id") == "logs.LogGroup//ecs/iq-theory-api"
              or line.get("name") == "/ecs/iq-theory-api"]
    assert [line["event"] for line in logged] == ["applied"], logged
    planned = [line for line in detect.lines if line.get("event") == "change"]
    assert planned and all(line["result"] == "planned" for line in planned)


def test_invalid_commit_applies_nothing_and_keeps_the_revision_across_a_restart(
        daemons: Daemons, repo: Path, prod_aws: AwsEnv, proxy: FaultProxy) -> None:
    good = git(repo, "rev-parse", "HEAD")
    daemon = daemons.start(GITOPS_INTERVAL_SECONDS="1")
    wait_for(lambda: daemon.metric("gitops_revision_info", stack=STACK, revision=good), 60,
             what="the good revision in force")
    # One commit changes the image and breaks a queue: nothing of it may be applied.
    (repo / "desired/base/queues.yaml").write_text(
        (repo / "desired/base/queues.yaml").read_text().replace("visibilityTimeout: 360",
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


def test_a_resource_leaving_git_is_an_orphan_until_pruned(
        daemons: Daemons, repo: Path, proxy: FaultProxy) -> None:
    daemon = daemons.start(GITOPS_INTERVAL_SECONDS="1")
    orphans = {"stack": STACK, "kind": "ecs.Service"}
    labels = {"stack": STACK, "kind": "ecs.Service", "name": "iq-theory-frontend"}
    wait_for(lambda: daemon.metric("gitops_resource_drifted", **labels) == 0, 60,
             what="the frontend service's series")
    ecs_yaml = repo / "desired/base/ecs.yaml"
    docs = ecs_yaml.read_text().split("\n---\n")
    kept = [d for d in docs if "kind: ecs.Service\nname: iq-theory-frontend" not in d]
    assert len(kept) == len(docs) - 1
    ecs_yaml.write_text("\n---\n".join(kept))
    for watching in ("autoscaling.yaml", "alarms.yaml"):  # what scales or watches it goes too
        path = repo / "desired/base" / watching
        docs = path.read_text().split("\n---\n")
        path.write_text("\n---\n".join(d for d in docs if "iq-theory-frontend" not in d))
    git(repo, "commit", "-qam", "stop managing the frontend service")
    wait_for(lambda: daemon.metric("gitops_resource_drifted", **labels) is None, 30,
             what="the series to disappear")
    assert daemon.metric("gitops_resource_drifted", stack=STACK, kind="ecs.Service",
                         name="iq-theory-api") == 0
    # Still running, still the stack's: an orphan, kept until stack.yaml says prune.
    wait_for(lambda: daemon.metric("gitops_orphaned_resources", **orphans) == 1, 30,
             what="the orphan gauge")
    assert proxy.count("DeleteService") == 0
    assert daemon.metric("gitops_orphaned_resources", stack=STACK, kind="ecs.Cluster") == 0
    commit_edit(repo, "desired/prod/stack.yaml", "includes:",
                "prune: true\npruneLimit: 6\nincludes:",
                "prune what git no longer declares")
    wait_for(lambda: daemon.metric("gitops_orphaned_resources", **orphans) == 0, 30,
             what="the orphan pruned")
    assert proxy.count("DeleteService") == 1
    _, exposed = daemon.get("/metrics")
    assert TOKEN not in exposed and SECRET not in exposed


def oversized_post(url: str, headers: dict[str, str]) -> int:
    """Announce a body over 1 MiB: the answer comes before the body is read (or sent)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(f"POST /webhook HTTP/1.1\r\nHost: {host}\r\n{head}"
                     f"Content-Length: {1024 * 1024 + 1}\r\n\r\n".encode() + b"{" * 1024)
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_forged_or_malformed_webhooks_trigger_nothing(settled_daemons: Daemons) -> None:
    daemon = settled_daemons.start()
    wait_for(lambda: daemon.runs("success") >= 1, 60, what="the first run")
    body, headers = signed({"ref": "refs/heads/main"})
    forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert daemon.post(body, {"X-GitHub-Event": "push"}) == 401
    assert daemon.post(body, forged) == 401
    assert oversized_post(daemon.url, headers) == 413
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
    # Stopped during its first apply of the whole stack: a write in flight may take up to
    # the daemon's write deadline (20 s) on a loaded machine; the exit itself is what this
    # test needs (the shutdown's timing has tests of its own below).
    assert off.terminate(timeout=45)[0] == 0
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


FAMILY = "arn:aws:ecs:us-east-1:222222222222:task-definition/iq-theory-api"
BREAKER = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000."


def ecs_answer(deployments: list[dict[str, Any]]) -> Any:
    """A DescribeServices rewrite: the API service shows these deployments, as ECS would."""

    def rewrite(answer: dict[str, Any]) -> dict[str, Any]:
        for service in answer.get("services", []):
            if service["serviceName"] == "iq-theory-api":
                service["deployments"] = deployments
        return answer

    return rewrite


def deployment(did: str, status: str, revision: int, state: str, reason: str = "") -> Any:
    return {"id": did, "status": status, "taskDefinition": f"{FAMILY}:{revision}",
            "desiredCount": 4, "runningCount": 4, "failedTasks": 0 if state != "FAILED" else 4,
            "rolloutState": state, "rolloutStateReason": reason}


@pytest.mark.slow  # half a minute of daemon runs; tests/e2e/test_rollouts.py holds in-process
def test_a_rolled_back_revision_is_not_redeployed(
        daemons: Daemons, repo: Path, proxy: FaultProxy, prod_aws: AwsEnv) -> None:
    daemon = daemons.start(GITOPS_INTERVAL_SECONDS="1")
    wait_for(lambda: daemon.runs("success") >= 1, 60, what="the first run")
    push_prod_images(prod_aws.client("ecr"), "1.5.0")
    commit_edit(repo, "desired/prod/stack.yaml", 'api_image_tag: "1.4.2"',
                'api_image_tag: "1.5.0"', "deploy api 1.5.0")
    wait_for(lambda: proxy.count("UpdateService") == 3, 30, what="the rollout of :2")
    # ECS's circuit breaker rolls :2 back: the service runs :1 again, :2 is FAILED.
    prod_aws.client("ecs").update_service(cluster="iq-theory-cluster", service="iq-theory-api",
                                          taskDefinition=f"{FAMILY}:1")
    proxy.rewrites["DescribeServices"] = ecs_answer([
        deployment("ecs-svc/1000", "PRIMARY", 1, "COMPLETED", BREAKER),
        deployment("ecs-svc/2000", "ACTIVE", 2, "FAILED",
                   "ECS deployment circuit breaker: tasks failed to start.")])
    labels = {"stack": STACK, "service": "iq-theory-api"}
    wait_for(lambda: daemon.metric("gitops_ecs_rollout_state", **labels,
                                   state="rolled_back") == 1, 30, what="rolled_back")
    updates, registered = proxy.count("UpdateService"), proxy.count("RegisterTaskDefinition")
    runs = daemon.runs("success")
    wait_for(lambda: daemon.runs("success") >= runs + 3, 30, what="three more runs")
    # ECS forgets the failed deployment after a while: the daemon still remembers.
    proxy.rewrites["DescribeServices"] = ecs_answer([
        deployment("ecs-svc/1000", "PRIMARY", 1, "COMPLETED", BREAKER)])
    runs = daemon.runs("success")
    wait_for(lambda: daemon.runs("success") >= runs + 3, 30, what="three more runs")
    assert proxy.count("UpdateService") == updates, "a rolled-back revision was redeployed"
    assert proxy.count("RegisterTaskDefinition") == registered
    assert daemon.metric("gitops_ecs_rollout_state", **labels, state="rolled_back") == 1
    # Held, and still drift (a run slowed by a busy machine may export it a run later: the
    # soak runs beside this test in make test-slow).
    wait_for(lambda: daemon.metric("gitops_resource_drifted", stack=STACK, kind="ecs.Service",
                                   name="iq-theory-api") == 1, 90, what="the held drift")
    held = [line for line in daemon.lines if line.get("event") == "change"
            and line.get("name") == "iq-theory-api" and line.get("kind") == "ecs.Service"]
    assert held and "iq-theory-api:2 was rolled back by AWS" in held[-1]["reason"]
    # A new image in git is a new desired state: the hold is released.
    proxy.rewrites.pop("DescribeServices")
    push_prod_images(prod_aws.client("ecr"), "1.5.1")
    commit_edit(repo, "desired/prod/stack.yaml", 'api_image_tag: "1.5.0"',
                'api_image_tag: "1.5.1"', "deploy api 1.5.1")
    wait_for(lambda: proxy.count("UpdateService") == updates + 1, 30, what="the new rollout")
    assert daemon.terminate()[0] == 0


def test_sigterm_during_an_apply_finishes_the_write_in_flight_and_exits_0(
        daemons: Daemons, proxy: FaultProxy) -> None:
    slow = {"CreateQueue": 3.0}
    proxy.delays.update(slow)
    daemon = daemons.start()
    wait_for(lambda: proxy.count("CreateQueue") >= 1, 60, what="the apply to reach SQS")
    code, elapsed = daemon.terminate()
    assert code == 0 and elapsed < 25
    assert daemon.find("stopped") is not None
    # The write in flight finished (the queue exists); nothing after it was started.
    assert proxy.count("CreateService") == 0
    proxy.delays.clear()


class Silent:
    """A loopback port that accepts connections and never answers: a hung AWS endpoint or
    git server."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.sock.accept()[0])

    def close(self) -> None:
        for conn in [*self.held, self.sock]:
            conn.close()


def test_sigterm_while_an_aws_read_hangs_abandons_the_run_and_exits_0(
        daemons: Daemons, proxy: FaultProxy) -> None:
    proxy.delays["GetCallerIdentity"] = 120.0  # the run's first AWS call never returns
    daemon = daemons.start()
    wait_for(lambda: proxy.count("GetCallerIdentity") >= 1, 30, what="the run to call STS")
    code, elapsed = daemon.terminate()
    assert code == 0 and elapsed < 10, elapsed  # was 148 s: 5 attempts of a 30 s read
    assert daemon.find("shutdown: abandoning the run in flight: it was reading, no write was "
                       "in progress") is not None
    proxy.delays.clear()


def test_sigterm_while_a_git_fetch_hangs_ends_the_fetch_and_exits_0(daemons: Daemons) -> None:
    silent = Silent()
    try:
        # https: the fixture sets a token, which is never sent over http
        daemon = daemons.start(GITOPS_REPO=silent.url.replace("http:", "https:") + "/repo.git")
        wait_for(lambda: silent.held, 30, what="the fetch to connect")
        code, elapsed = daemon.terminate()
    finally:
        silent.close()
    assert code == 0 and elapsed < 10, elapsed  # was 28 s: the whole git timeout
    stopped = daemon.find("stopped")
    assert stopped is not None and stopped["git_processes_ended"] >= 1


def test_a_token_written_into_the_repository_url_is_never_printed(daemons: Daemons) -> None:
    token = "ghp-written-into-the-url"
    daemon = daemons.start(GITOPS_REPO=f"https://x-access-token:{token}@127.0.0.1:9/repo.git")
    listening = daemon.find("listening")
    assert listening is not None and "https://127.0.0.1:9/repo.git" in listening["settings"]
    wait_for(lambda: daemon.runs("error") >= 1, 30, what="the failed fetch")
    _, exposed = daemon.get("/metrics")
    assert daemon.terminate()[0] == 0
    assert token not in "".join(daemon.raw) and token not in exposed


def test_the_stack_is_named_the_same_in_every_line_and_failed_runs_log_as_errors(
        daemons: Daemons, repo: Path) -> None:
    commit_edit(repo, "desired/base/queues.yaml", "visibilityTimeout: 360",
                "visibilityTimout: 360", "a typo")
    daemon = daemons.start(GITOPS_INTERVAL_SECONDS="1")
    wait_for(lambda: daemon.runs("invalid") >= 2, 30, what="two invalid runs")
    assert daemon.terminate()[0] == 0
    stacks = {line["stack"] for line in daemon.lines if "stack" in line}
    assert stacks == {STACK}, stacks
    finished = [line for line in daemon.lines if line.get("event") == "reconcile finished"]
    assert finished and {line["level"] for line in finished} == {"warning"}


def test_a_taken_port_is_named_with_its_variable(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "controller", "run"],
            env={"PATH": "/usr/bin:/bin", "GITOPS_REPO": "file:///x", "GITOPS_PATH": "p",
                 "GITOPS_LISTEN": f"127.0.0.1:{port}"},
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert (f"error: cannot listen on 127.0.0.1:{port} (GITOPS_LISTEN): address already in use"
            in result.stderr)


def test_metrics_carry_no_created_series(settled_daemons: Daemons) -> None:
    daemon = settled_daemons.start()
    wait_for(lambda: daemon.runs("success") >= 1, 60, what="the first run")
    _, exposed = daemon.get("/metrics")
    assert "gitops_reconcile_total{" in exposed
    assert "_created" not in exposed
