"""`gitops demo`: the controller's main job against an embedded AWS emulator.

Starts a moto server for the prod account on a loopback port, then plans and
applies `desired/prod`, makes drift out of band, and shows the next apply
fixing it. Nothing here touches a real AWS account: the endpoint and
credentials are the emulator's, set for this process only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3

from controller import logs, render
from controller.aws.gateway import AwsGateway
from controller.emulator import EmulatorUnavailable, start_moto
from controller.engine.reconcile import apply, plan
from controller.spec.loader import load_stack


def find_desired() -> Path:
    """desired/ of the checkout this package runs from, else of the working directory."""
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (base / "desired" / "prod" / "stack.yaml").is_file():
            return base / "desired"
    raise FileNotFoundError("no desired/prod/stack.yaml next to the package or here")


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def run_demo() -> int:
    stack = load_stack(find_desired() / "prod")
    try:
        server = start_moto(stack.config.account)
    except EmulatorUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    os.environ.update({
        "AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": stack.config.region,
    })
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_REGION", None)
    logs.configure(json=False, level="WARNING")
    try:
        return _walkthrough(stack.source, server.url, stack.config.region)
    finally:
        server.stop()


def _step(folder: str, region: str, title: str, *, write: bool) -> bool:
    say(title)
    stack = load_stack(folder)
    result = plan(stack, AwsGateway(region))
    cs = apply(result) if write and result.changes.has_changes else result.changes
    sys.stdout.write(render.text(cs))
    return not cs.failed


def _walkthrough(folder: str, endpoint: str, region: str) -> int:
    print(f"AWS emulator (moto) on {endpoint}; stack folder {folder}")
    ok = _step(folder, region, "plan: an empty account, everything to create", write=False)
    ok &= _step(folder, region, "apply", write=True)
    ok &= _step(folder, region, "plan after apply: nothing to do", write=False)
    say("drift made out of band: API service scaled to 1, log retention set to 1 day")
    ecs = boto3.client("ecs", region_name=region)
    ecs.update_service(cluster="iq-theory-cluster", service="iq-theory-api", desiredCount=1)
    boto3.client("logs", region_name=region).put_retention_policy(
        logGroupName="/ecs/iq-theory-api", retentionInDays=1)
    ok &= _step(folder, region, "plan: the drift, live -> desired", write=False)
    ok &= _step(folder, region, "apply: drift corrected", write=True)
    ok &= _step(folder, region, "plan: in sync again", write=False)
    print("\ndemo finished" + ("" if ok else " WITH ERRORS"))
    return 0 if ok else 1
