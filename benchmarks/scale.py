"""Benchmark: how plan and apply scale with the stack's size (tracker issue 12).

Run from the checkout: .venv/bin/python -m benchmarks.scale [--sizes 100,300,1000]
                       [--terraform-mirror /opt/tf-plugins]

For desired/prod and for generated stacks of each size (benchmarks/scalegen.py), on a
moto server of its own: an apply from empty, then a no-change plan, each in a child
process, with the AWS API calls (the gateway's count), the wall time (of the engine and
of the whole process: interpreter, load, plan) and the child's peak RSS (os.wait4, so
figures never accumulate). Calls and time per resource should stay flat with size; the
issue's target is a no-change plan of at most one call per kind plus one per 10
resources ("vs target" <= 1.0 meets it). With --terraform-mirror, the same generated
resources are written as Terraform JSON, applied and planned on another moto server,
and the ratios terraform / gitops are printed. Last, the time from a signed webhook to
the daemon's ECS UpdateService, on desired/prod as `gitops demo` shows it.

It prints figures and asserts nothing: goals are read off the table, never enforced by
a timed test.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scalegen import ACCOUNT, generate, write_stack, write_terraform
from controller.emulator import MotoServer, free_port, push_image, start_moto

ROOT = Path(__file__).resolve().parent.parent
PROD = ROOT / "desired" / "prod"
PROD_ACCOUNT = "222222222222"
DEPLOYS = ("1.5.0", "1.5.1", "1.5.2")  # api_image_tag values the webhook rolls out


# Reads AWS answers one resource per call, with no batch form (AWS's API references): a
# no-change plan pays them per resource, so the table shows the calls without them too.
NO_BATCH_READ = {
    "sqs.GetQueueAttributes": "SQS describes one queue per call",
    "ecs.DescribeTaskDefinition": "ECS describes one task definition per call",
    "iam.GetRole": "a role's Description/MaxSessionDuration (not in "
                   "GetAccountAuthorizationDetails), read when the spec declares one",
    "elbv2.DescribeTargetGroupAttributes": "one target group per call, read when the spec "
                                           "declares attributes",
    "elbv2.DescribeLoadBalancerAttributes": "one load balancer per call, when declared",
    "elbv2.DescribeRules": "one listener's rules per call",
    "s3.GetBucketVersioning": "S3 reads each bucket setting with its own call",
    "ecs.ListTagsForResource": "ECS task definitions' tags: one per call",
    "ec2.DescribeVpcAttribute": "one attribute of one VPC per call",
    "ecr.GetLifecyclePolicy": "one repository's lifecycle policy per call",
    "rds.DescribeDBParameters": "one parameter group's parameters per call",
    "sns.GetTopicAttributes": "one topic per call",
    "sns.GetSubscriptionAttributes": "one subscription per call",
}


def no_batch_calls(operations: dict[str, int]) -> int:
    """The calls of a plan to reads AWS has no batch form of (NO_BATCH_READ) and to the
    per-bucket S3 reads, which AWS has no batch form of either."""
    return sum(n for op, n in operations.items()
               if op in NO_BATCH_READ or op.startswith("s3.GetBucket"))


# --- the child processes: one measurement each ------------------------------------------

def child_engine(action: str, folder: str) -> dict[str, Any]:
    """Load a stack and plan it (action "plan") or plan and apply it ("apply")."""
    from controller import logs
    from controller.aws.gateway import AwsGateway
    from controller.engine.reconcile import apply, plan
    from controller.resources.registry import REGISTRY
    from controller.spec.loader import load_stack

    logs.configure(level="ERROR")
    started = time.monotonic()
    stack = load_stack(folder, REGISTRY)
    loaded = time.monotonic() - started
    gateway = AwsGateway(stack.config.region)
    computed = plan(stack, gateway)
    changes = apply(computed) if action == "apply" else computed.changes
    return {"resources": len(stack.resources),
            "kinds": len({r.kind for r in stack.resources}),
            "calls": changes.api_calls, "engine_seconds": changes.duration_seconds,
            "load_seconds": loaded, "pending": sum(c.pending for c in changes.changes),
            "failed": len(changes.failed),
            "operations": {f"{svc}.{op}": n for (svc, op), n in gateway.calls.items()}}


def child_webhook() -> dict[str, Any]:
    """The daemon in this process on a copy of desired/ in a git repository (as the demo
    runs it): the seconds from each signed push webhook to its ECS UpdateService."""
    import boto3

    from controller import logs
    from controller.aws.leasetable import create_table
    from controller.daemon.service import Daemon
    from controller.daemon.settings import Address, Settings
    from controller.demo import LEASE_TABLE, git, make_repo, sample, wait

    logs.configure(json=False, level="ERROR")
    with tempfile.TemporaryDirectory(prefix="gitops-bench-") as tmp:
        os.environ["GITOPS_CACHE_DIR"] = str(Path(tmp) / "cache")
        repo = make_repo(Path(tmp))
        secret = secrets.token_hex(16)
        create_table(boto3.client("dynamodb"), LEASE_TABLE)
        # a long interval: only the webhook starts a run, none is under way when it lands
        daemon = Daemon(Settings(repo=f"file://{repo}", path="desired/prod",
                                 interval_seconds=3600, listen=Address("127.0.0.1", 0),
                                 webhook_secret=secret, cache_dir=Path(tmp) / "clone",
                                 lease_table=LEASE_TABLE))
        daemon.start()
        try:
            wait(lambda: (sample("gitops_reconcile_total", stack="iq-theory-prod",
                                 result="success") or 0) >= 1, "the first apply", 300)
            latencies = [_deploy(daemon.address, repo, secret, tag, git, sample, wait)
                         for tag in DEPLOYS]
        finally:
            daemon.stop()
    return {"latencies": latencies}


def _deploy(address: str, repo: Path, secret: str, tag: str, git: Any, sample: Any,
            wait: Any) -> float:
    """Push the image, commit its api_image_tag (as CI does), send the signed webhook, and
    time it to UpdateService."""
    import boto3

    push_image(boto3.client("ecr"), "iq-theory-api", tag)
    stack_file = repo / "desired" / "prod" / "stack.yaml"
    text = stack_file.read_text()
    current = text.split('api_image_tag: "', 1)[1].split('"', 1)[0]
    stack_file.write_text(text.replace(f'api_image_tag: "{current}"', f'api_image_tag: "{tag}"'))
    who = ("-c", "user.name=bench", "-c", "user.email=bench@example.com")
    git(repo, *who, "commit", "-qam", f"deploy api {tag}")
    sha = git(repo, "rev-parse", "HEAD")

    def updates() -> float:
        return float(sample("gitops_aws_api_calls_total", service="ecs",
                            operation="UpdateService") or 0)

    before = updates()
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://{address}/webhook", data=body, method="POST",
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "push",
                 "Content-Type": "application/json"})
    sent = time.monotonic()
    urllib.request.urlopen(request, timeout=10).close()
    wait(lambda: updates() > before, "the rolling deploy", 120)
    took = time.monotonic() - sent
    wait(lambda: sample("gitops_revision_info", stack="iq-theory-prod", revision=sha) == 1,
         "the revision in force", 120)
    return took


def child_main(argv: list[str]) -> int:
    result = child_webhook() if argv[0] == "webhook" else child_engine(argv[0], argv[1])
    print(json.dumps(result), flush=True)
    return 0


# --- the parent: starts servers and children, prints the tables -------------------------

@dataclass
class Run:
    """One child process: its last stdout line as JSON, wall time and peak RSS."""

    result: dict[str, Any]
    seconds: float
    rss_mb: float
    code: int
    tail: str = ""


def run_child(argv: list[str], env: dict[str, str], cwd: Path = ROOT,
              parse: bool = True) -> Run:
    """Run one command; its own peak RSS comes from wait4 (the largest of it and the
    processes it waited for), so one figure never includes another measurement's."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    lines = out.strip().splitlines()
    result: dict[str, Any] = {}
    if parse and code == 0 and lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {}
    return Run(result, seconds, usage.ru_maxrss / 1024, code, "\n".join(lines[-15:]))


def moto_env(server: MotoServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN")}
    env.update({"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                            os.environ.get("PYTHONPATH")]))})
    return env


def engine_child(action: str, folder: Path, env: dict[str, str]) -> Run:
    return run_child([sys.executable, "-m", "benchmarks.scale", "child", action, str(folder)],
                     env)


@dataclass
class Row:
    label: str
    folder: Path
    account: str
    generated: bool
    apply: Run | None = None
    plan: Run | None = None
    terraform: dict[str, Run] = field(default_factory=dict)


def measure_gitops(row: Row, cache: Path) -> None:
    server = start_moto(row.account)
    env = {**moto_env(server), "GITOPS_CACHE_DIR": str(cache / row.label)}
    try:
        row.apply = engine_child("apply", row.folder, env)
        row.plan = engine_child("plan", row.folder, env)
    finally:
        server.stop()
    for what, run in (("apply", row.apply), ("plan", row.plan)):
        if run.code != 0:
            print(f"  {row.label} {what} exited {run.code}:\n{run.tail}", file=sys.stderr)


@dataclass
class DaemonRun:
    """A `gitops run` reconciling a generated stack: RSS over time and its runs."""

    resources: int
    interval: float
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, RSS MB)
    runs: dict[str, float] = field(default_factory=dict)  # result -> count
    run_seconds: float | None = None  # mean duration of a run
    code: int | None = None

    def rss_at(self, seconds: float) -> float | None:
        """The RSS sampled nearest after `seconds` since the start."""
        return next((mb for at, mb in self.samples if at >= seconds), None)


def measure_daemon(folder: Path, resources: int, minutes: float, interval: float,
                   work: Path) -> DaemonRun:
    """A real `gitops run` (enforce) on the stack, applied beforehand, every `interval` s
    for `minutes`: its RSS from /proc every 5 s, its runs from its own /metrics."""
    server = start_moto(ACCOUNT)
    env = {**moto_env(server), "GITOPS_CACHE_DIR": str(work / "daemon-cache")}
    result = DaemonRun(resources, interval)
    try:
        if engine_child("apply", folder, env).code != 0:
            print("  the daemon's stack did not apply: no daemon figures", file=sys.stderr)
            return result
        repo = work / "daemon-repo"
        shutil.copytree(folder, repo / "desired" / "bench")
        for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                     ["commit", "-q", "-m", "bench stack"]):
            subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=b@example.com",
                            "-C", str(repo), *args], check=True, capture_output=True)
        port = free_port()
        env.update({"GITOPS_REPO": f"file://{repo}", "GITOPS_PATH": "desired/bench",
                    "GITOPS_INTERVAL_SECONDS": str(interval),
                    "GITOPS_LISTEN": f"127.0.0.1:{port}"})
        daemon = subprocess.Popen([sys.executable, "-m", "controller", "run"], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        started = time.monotonic()
        try:
            while (elapsed := time.monotonic() - started) < minutes * 60:
                if daemon.poll() is not None:
                    break
                result.samples.append((elapsed, _rss_mb(daemon.pid)))
                time.sleep(5)
            result.runs, result.run_seconds = _runs(port)
        finally:
            daemon.terminate()
            result.code = daemon.wait(60)
    finally:
        server.stop()
    return result


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _runs(port: int) -> tuple[dict[str, float], float | None]:
    """gitops_reconcile_total by result, and the mean run duration, from /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    runs: dict[str, float] = {}
    total = count = 0.0
    for line in text.decode().splitlines():
        if line.startswith("gitops_reconcile_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            runs[result] = runs.get(result, 0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("gitops_reconcile_duration_seconds_sum{"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("gitops_reconcile_duration_seconds_count{"):
            count += float(line.rsplit(" ", 1)[1])
    return runs, (total / count if count else None)


def terraform_env(workdir: Path, mirror: Path) -> dict[str, str]:
    """A CLI configuration of our own: providers from the mirror only, nothing fetched."""
    rc = workdir / "terraformrc"
    rc.write_text('provider_installation {\n  filesystem_mirror {\n'
                  f'    path = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n'
                  '  }\n  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1", "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def measure_terraform(row: Row, mirror: Path, workdir: Path) -> None:
    server = start_moto(row.account)
    folder = workdir / f"tf-{row.label}"
    write_terraform(folder, generate(int(row.label)), server.url)
    env = terraform_env(workdir, mirror)
    try:
        for step, argv in (("init", ["terraform", "init", "-no-color"]),
                           ("apply", ["terraform", "apply", "-auto-approve", "-no-color"]),
                           ("plan", ["terraform", "plan", "-detailed-exitcode", "-no-color"])):
            row.terraform[step] = run = run_child(argv, env, cwd=folder, parse=False)
            if step != "plan" and run.code != 0:
                print(f"  terraform {step} ({row.label}) exited {run.code}:\n{run.tail}",
                      file=sys.stderr)
                break
            if step == "plan" and run.code not in (0, 2):
                print(f"  terraform plan ({row.label}) exited {run.code}:\n{run.tail}",
                      file=sys.stderr)
    finally:
        server.stop()


def measure_webhook(cache: Path) -> Run:
    server = start_moto(PROD_ACCOUNT)
    env = {**moto_env(server), "GITOPS_CACHE_DIR": str(cache / "webhook")}
    try:
        run = run_child([sys.executable, "-m", "benchmarks.scale", "child", "webhook"], env)
    finally:
        server.stop()
    if run.code != 0:
        print(f"  webhook run exited {run.code}:\n{run.tail}", file=sys.stderr)
    return run


# --- the tables ---------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.rjust(w) if i else c.ljust(w)
                              for i, (c, w) in enumerate(zip(r, widths, strict=True))) + " |"
            for r in rows]
    return "\n".join([line, rule, *body])


def plan_rows(rows: list[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        run = row.plan
        if run is None or not run.result:
            out.append([row.label, "failed", *[""] * 12])
            continue
        r = run.result
        n, kinds, calls = r["resources"], r["kinds"], r["calls"]
        target = kinds + n / 10
        unbatched = no_batch_calls(r["operations"])
        out.append([row.label, str(n), str(kinds), str(calls), f"{calls / n:.2f}",
                    f"{target:.0f}", f"{calls / target:.2f}", str(unbatched),
                    f"{(calls - unbatched) / target:.2f}", f"{r['engine_seconds']:.2f}",
                    f"{1000 * r['engine_seconds'] / n:.1f}", f"{run.seconds:.2f}",
                    f"{run.rss_mb:.0f}", str(r["pending"])])
    return out


def apply_rows(rows: list[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        run = row.apply
        if run is None or not run.result:
            out.append([row.label, "failed", *[""] * 7])
            continue
        r = run.result
        n, calls = r["resources"], r["calls"]
        out.append([row.label, str(n), str(calls), f"{calls / n:.1f}",
                    f"{r['engine_seconds']:.1f}", f"{1000 * r['engine_seconds'] / n:.0f}",
                    f"{run.seconds:.1f}", f"{run.rss_mb:.0f}", str(r["failed"])])
    return out


def terraform_rows(rows: list[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        if not row.generated:
            out.append([row.label, "n/a (no twin)", "", "", "", "", "", ""])
            continue
        tf, ours_apply, ours_plan = row.terraform, row.apply, row.plan
        apply_run, plan_run = tf.get("apply"), tf.get("plan")
        if apply_run is None or plan_run is None or ours_apply is None or ours_plan is None:
            out.append([row.label, "failed (see above)", "", "", "", "", "", ""])
            continue
        out.append([row.label, f"{apply_run.seconds:.1f}", f"{ours_apply.seconds:.1f}",
                    f"{apply_run.seconds / ours_apply.seconds:.1f}x",
                    f"{plan_run.seconds:.2f}", f"{ours_plan.seconds:.2f}",
                    f"{plan_run.seconds / ours_plan.seconds:.1f}x",
                    f"{plan_run.code} / {max(apply_run.rss_mb, plan_run.rss_mb):.0f}"])
    return out


def daemon_report(run: DaemonRun) -> None:
    minutes = run.samples[-1][0] / 60 if run.samples else 0
    print(f"\nDaemon (gitops run, enforce) on the {run.resources}-resource stack every "
          f"{run.interval:g} s for {minutes:.1f} minutes (RSS from /proc, every 5 s)")
    if not run.samples:
        print("  no figures: the daemon did not run")
        return
    marks = [m for m in (1, 2, 5, 10) if m * 60 <= run.samples[-1][0]]
    cells = [f"{m} min {run.rss_at(m * 60):.1f} MB" for m in marks]
    peak = max(mb for _, mb in run.samples)
    print("  RSS: " + "".join(f"{cell}, " for cell in cells) + f"end "
          f"{run.samples[-1][1]:.1f} MB, peak {peak:.1f} MB (target <= 150)")
    second, last = run.rss_at(120), run.samples[-1][1]
    if second is not None and minutes > 2:
        print(f"  growth from the 2nd minute to the end: {last - second:+.1f} MB")
    mean = f"{run.run_seconds:.2f} s" if run.run_seconds is not None else "n/a"
    print(f"  runs: {', '.join(f'{k} {v:.0f}' for k, v in sorted(run.runs.items()))}; "
          f"mean run {mean}; exit after SIGTERM {run.code}")


def report(rows: list[Row], terraform: bool, webhook: Run | None) -> None:
    print("\nNo-change plan (after the apply below; 'vs target' = calls / (kinds + "
          "resources/10), the issue's goal is <= 1.0)")
    print(_table(["stack", "resources", "kinds", "calls", "calls/res", "target", "vs target",
                  "no-batch calls", "vs target without", "engine s", "ms/res", "process s",
                  "peak RSS MB", "pending"],
                 plan_rows(rows)))
    largest = max((r for r in rows if r.plan and r.plan.result), default=None,
                  key=lambda r: r.plan.result["resources"] if r.plan else 0)
    if largest is not None and largest.plan is not None:
        operations = Counter(largest.plan.result["operations"])
        print(f"  calls of the {largest.label} plan by operation: " + ", ".join(
            f"{op} {n}" for op, n in operations.most_common(12)))
    prod = next((r for r in rows if r.label == "prod" and r.plan and r.plan.result), None)
    if prod is not None and prod.plan is not None:
        several = Counter({op: n for op, n in prod.plan.result["operations"].items() if n > 1})
        print("  prod's operations called more than once: " + ", ".join(
            f"{op} {n}" for op, n in several.most_common()))
    seen = {op for row in rows if row.plan and row.plan.result
            for op in row.plan.result["operations"]}
    print("  no-batch calls: reads AWS answers one resource per call: " + "; ".join(
        f"{op} ({why})" for op, why in NO_BATCH_READ.items() if op in seen)
        + "; S3's per-bucket GetBucket* reads")
    print("\nApply from empty (plan + writes, one process)")
    print(_table(["stack", "resources", "calls", "calls/res", "engine s", "ms/res",
                  "process s", "peak RSS MB", "failed"], apply_rows(rows)))
    if terraform:
        print("\nTerraform 1.11 + aws 5.100.0 on its own moto server, same resources "
              "(process wall times; ratio = terraform / gitops)")
        print(_table(["stack", "tf apply s", "gitops apply s", "apply ratio", "tf plan s",
                      "gitops plan s", "plan ratio", "tf plan exit / peak RSS MB"],
                     terraform_rows(rows)))
    if webhook is not None and webhook.result:
        times = webhook.result["latencies"]
        print(f"\nSigned webhook to ECS UpdateService (desired/prod, daemon in-process, "
              f"{len(times)} deploys): median {statistics.median(times):.2f} s, "
              f"min {min(times):.2f} s, max {max(times):.2f} s")


def terraform_usable(mirror: Path | None) -> bool:
    if mirror is None:
        print("Terraform: no --terraform-mirror given, the comparison is left out")
        return False
    if shutil.which("terraform") is None:
        print("Terraform: not on the PATH, the comparison is left out")
        return False
    if not mirror.is_dir():
        print(f"Terraform: no provider mirror at {mirror}, the comparison is left out")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="100,300,1000",
                        help="generated stack sizes, comma-separated (default 100,300,1000)")
    parser.add_argument("--terraform-mirror", type=Path, default=None,
                        help="a provider mirror holding hashicorp/aws 5.100.0: also time "
                             "Terraform on the same generated resources")
    parser.add_argument("--no-prod", action="store_true", help="skip desired/prod")
    parser.add_argument("--no-webhook", action="store_true", help="skip the webhook timing")
    parser.add_argument("--daemon-minutes", type=float, default=10.0,
                        help="how long `gitops run` reconciles the largest generated stack "
                             "every --daemon-interval s, RSS sampled (default 10; 0 skips)")
    parser.add_argument("--daemon-interval", type=float, default=10.0,
                        help="the daemon's GITOPS_INTERVAL_SECONDS (default 10)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    terraform = terraform_usable(args.terraform_mirror)
    with tempfile.TemporaryDirectory(prefix="gitops-scale-") as tmp:
        work = Path(tmp)
        rows = [] if args.no_prod else [Row("prod", PROD, PROD_ACCOUNT, generated=False)]
        for size in sizes:
            folder = write_stack(work / f"stack-{size}", generate(size), f"bench-{size}")
            rows.append(Row(str(size), folder, ACCOUNT, generated=True))
        for row in rows:
            print(f"measuring {row.label}...", flush=True)
            measure_gitops(row, work / "cache")
            if terraform and row.generated:
                measure_terraform(row, args.terraform_mirror, work)
        webhook = None if args.no_webhook else measure_webhook(work / "cache")
        daemon = None
        if args.daemon_minutes > 0 and sizes:
            print(f"running the daemon on {max(sizes)} resources for {args.daemon_minutes:g} "
                  "minutes...", flush=True)
            daemon = measure_daemon(work / f"stack-{max(sizes)}", max(sizes),
                                    args.daemon_minutes, args.daemon_interval, work)
    report(rows, terraform, webhook)
    if daemon is not None:
        daemon_report(daemon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
