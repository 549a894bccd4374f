"""`gitops demo`: the GitOps loop end to end on an embedded AWS emulator.

A moto server for the prod account on a loopback port, a git repository made
from desired/ in a temporary folder, and the daemon in this process: the
first run applies the stack; drift made out of band shows on /metrics and the
next run corrects it; a committed image-tag change rolls out after a signed
webhook. Nothing here can reach a real AWS account: endpoint and credentials
are the emulator's, set for this process only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from prometheus_client import REGISTRY

from controller import logs
from controller.aws.leasetable import create_table
from controller.daemon.reconciler import Reconciler
from controller.daemon.service import Daemon
from controller.daemon.settings import Address, Settings
from controller.emulator import EmulatorUnavailable, MotoServer, push_image, start_moto
from controller.resources.registry import REGISTRY as KINDS
from controller.spec.loader import load_stack

CLUSTER, API = "iq-theory-cluster", "iq-theory-api"


def find_desired() -> Path:
    """desired/ of the checkout this package runs from, else of the working directory."""
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (base / "desired" / "prod" / "stack.yaml").is_file():
            return base / "desired"
    raise FileNotFoundError("no desired/prod/stack.yaml next to the package or here")


def say(text: str) -> None:
    print(text, flush=True)


def wait(check: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo timed out waiting for {what}")
        time.sleep(0.1)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    shutil.copytree(find_desired(), repo / "desired")
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    git(repo, "-c", "user.name=demo", "-c", "user.email=demo@example.com", "add", "-A")
    git(repo, "-c", "user.name=demo", "-c", "user.email=demo@example.com", "commit", "-q",
        "-m", "IQ Theory desired state")
    return repo


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


LEASE_TABLE = "gitops-leases"


def run_demo(interval: float = 3.0) -> int:
    stack = load_stack(find_desired() / "prod", KINDS)
    try:
        server = start_moto(stack.config.account)
    except EmulatorUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    os.environ.update({"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "demo",
                       "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": stack.config.region})
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    logs.configure(json=False, level="WARNING")
    with tempfile.TemporaryDirectory(prefix="gitops-demo-") as tmp:
        # the demo's locks and notes of recent creates are its own, gone with it
        os.environ["GITOPS_CACHE_DIR"] = str(Path(tmp) / "cache")
        try:
            return _walkthrough(server, Path(tmp), stack.name, interval)
        finally:
            server.stop()


def _walkthrough(server: MotoServer, tmp: Path, stack: str, interval: float) -> int:
    repo = make_repo(tmp)
    secret = secrets.token_hex(16)
    # deploy/'s lease table, made as deploy/README.md makes it: the daemon writes the stack
    # under its lease, as replicas in an account do.
    create_table(boto3.client("dynamodb"), LEASE_TABLE)
    settings = Settings(repo=f"file://{repo}", path="desired/prod", interval_seconds=interval,
                        listen=Address("127.0.0.1", 0), webhook_secret=secret,
                        cache_dir=tmp / "clone", lease_table=LEASE_TABLE)
    daemon = Daemon(settings)
    daemon.start()
    reconciler = daemon.reconciler
    metrics_url = f"http://{daemon.address}/metrics"
    say(f"AWS emulator (moto, account 222222222222) on {server.url}")
    say(f"git repository {repo} (branch main, stack desired/prod)")
    say(f"lease table {LEASE_TABLE}: this daemon writes the stack while it holds the lease")
    say(f"daemon running: {metrics_url}, webhook http://{daemon.address}/webhook, "
        f"a run every {interval:g} s")
    try:
        _first_apply(reconciler, stack)
        _drift(reconciler, stack, metrics_url)
        _deploy(daemon, repo, secret, stack)
    finally:
        daemon.stop()
    say(f"\nDone. /metrics was at {metrics_url}; the controller converged AWS to git at "
        "every step.")
    return 0


def _next_run(stack: str) -> None:
    def runs() -> float:
        return sample("gitops_reconcile_duration_seconds_count", stack=stack) or 0

    seen = runs()
    wait(lambda: runs() > seen, "the next reconcile run")


def _first_apply(reconciler: Reconciler, stack: str) -> None:
    say("\n1. First run: the empty account is brought to the desired state")
    wait(lambda: (sample("gitops_reconcile_total", stack=stack, result="success") or 0) >= 1,
         "the first successful run")
    report = reconciler.last_report
    if report and report.changes and report.revision:
        created = sum(1 for c in report.changes.changes if c.result == "success")
        say(f"   revision {report.revision[:12]}: {created} resources created, "
            f"{report.changes.api_calls} AWS API calls")


def _drift(reconciler: Reconciler, stack: str, metrics_url: str) -> None:
    say("\n2. Drift made out of band: the API's port opened to the internet, its log "
        "retention set to 1 day;\n   and the autoscaler scaled the API to 6 tasks (its "
        "count to keep, not drift)")
    reconciler.mode = "detect"  # as with GITOPS_MODE=detect
    ec2 = boto3.client("ec2")
    group = _api_group(ec2)
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    boto3.client("logs").put_retention_policy(logGroupName="/ecs/iq-theory-api",
                                              retentionInDays=1)
    boto3.client("ecs").update_service(cluster=CLUSTER, service=API, desiredCount=6)
    _next_run(stack)  # may have started before the drift was made
    _next_run(stack)
    with urllib.request.urlopen(metrics_url, timeout=10) as resp:
        exposed = resp.read().decode().splitlines()
    drifted = [line for line in exposed
               if line.startswith("gitops_resource_drifted{") and line.endswith(" 1.0")]
    lines = drifted + [line for line in exposed if line.startswith("gitops_stack_drifted")]
    say("   detect mode: the drift on /metrics:")
    for line in lines:
        say(f"     {line}")
    say("   enforce mode again: the next run corrects it")
    reconciler.mode = "enforce"
    _next_run(stack)
    svc = boto3.client("ecs").describe_services(cluster=CLUSTER, services=[API])["services"][0]
    log_group = boto3.client("logs").describe_log_groups(
        logGroupNamePrefix="/ecs/iq-theory-api")["logGroups"][0]
    internet = any(r.get("CidrIp") == "0.0.0.0/0" for p in _api_group(ec2)["IpPermissions"]
                   for r in p.get("IpRanges", []))
    say(f"   corrected: the API's port {'still' if internet else 'no longer'} open to the "
        f"internet, retention "
        f"{log_group['retentionInDays']} days; gitops_stack_drifted_resources="
        f"{sample('gitops_stack_drifted_resources', stack=stack):.0f}")
    say(f"   left to the autoscaler: desiredCount {svc['desiredCount']}")


def _webhook(daemon: Daemon, secret: str, sha: str) -> None:
    """A signed GitHub push webhook for `sha`, as GitHub sends it."""
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"http://{daemon.address}/webhook", data=body, method="POST",
                                     headers={"X-Hub-Signature-256": signature,
                                              "X-GitHub-Event": "push",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        say(f"   webhook answered {resp.status}: {resp.read().decode().strip()}")


def _api_group(ec2: Any) -> dict[str, Any]:
    return ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [API]}])["SecurityGroups"][0]


def _deploy(daemon: Daemon, repo: Path, secret: str, stack: str) -> None:
    say("\n3. A deploy: api_image_tag 1.4.2 -> 1.5.0 committed before CI pushed the image, "
        "then a signed GitHub webhook")
    file = repo / "desired" / "prod" / "stack.yaml"
    file.write_text(file.read_text().replace('api_image_tag: "1.4.2"', 'api_image_tag: "1.5.0"'))
    git(repo, "-c", "user.name=demo", "-c", "user.email=demo@example.com", "commit", "-qam",
        "deploy api 1.5.0")
    sha = git(repo, "rev-parse", "HEAD")
    updates = sample("gitops_aws_api_calls_total", service="ecs", operation="UpdateService") or 0
    runs = sample("gitops_reconcile_duration_seconds_count", stack=stack) or 0
    _webhook(daemon, secret, sha)
    wait(lambda: (sample("gitops_reconcile_duration_seconds_count", stack=stack) or 0)
         > runs + 1, "a run of the new revision")
    report = daemon.reconciler.last_report
    held = [c for c in (report.changes.changes if report and report.changes else [])
            if c.held and c.reason]
    for change in held[:1]:
        say(f"   {change.id}: {change.reason}")
    say("   CI pushes iq-theory-api:1.5.0 to ECR (here: put_image), and its webhook comes")
    push_image(boto3.client("ecr"), API, "1.5.0")
    ecs = boto3.client("ecs")

    def service() -> dict[str, Any]:
        return dict(ecs.describe_services(cluster=CLUSTER, services=[API])["services"][0])

    serving = service()["taskDefinition"]
    sent = time.monotonic()
    _webhook(daemon, secret, sha)
    wait(lambda: (sample("gitops_aws_api_calls_total", service="ecs",
                         operation="UpdateService") or 0) > updates, "the rolling deploy")
    took = time.monotonic() - sent
    # The call is counted as it is sent: AWS may not have answered it yet.
    wait(lambda: service()["taskDefinition"] != serving, "the service on its new revision")
    svc = service()
    image = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])[
        "taskDefinition"]["containerDefinitions"][0]["image"]
    say(f"   {took:.2f} s from the webhook to update_service: the service now runs "
        f"{svc['taskDefinition'].rsplit('/', 1)[-1]} ({image.rsplit('/', 1)[-1]})")
    wait(lambda: sample("gitops_revision_info", stack=stack, revision=sha) == 1,
         "the new revision in force")
    say(f"   gitops_revision_info{{revision=\"{sha[:12]}...\"}} 1")
