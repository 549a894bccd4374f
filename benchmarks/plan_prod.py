"""Benchmark: the cost of a no-change plan of desired/prod, in AWS API calls and seconds.

Run: .venv/bin/python benchmarks/plan_prod.py [--runs N] [--latency-ms MS]

Starts its own moto server (the prod account) on a loopback port, applies
desired/prod once, then times N no-change plans with parallel observe and N
with one reader, side by side in one run (the emulator, not AWS, bounds the
gain on a 2-core machine: see MOTO-NOTES.md). API calls are the stable measure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from controller import logs
from controller.aws.gateway import AwsGateway
from controller.emulator import start_moto
from controller.engine import observe
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack

DESIRED = Path(__file__).resolve().parent.parent / "desired" / "prod"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="add this much to every call, as a network round trip to AWS would")
    args = parser.parse_args()
    logs.configure(level="WARNING")
    stack = load_stack(DESIRED, REGISTRY)
    server = start_moto(stack.config.account)
    os.environ.update({"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench"})
    os.environ.pop("AWS_REGION", None)
    try:
        apply(plan(stack, AwsGateway(stack.config.region)))
        print(f"desired/prod: {len(stack.resources)} resources")
        delay = args.latency_ms / 1000

        def round_trip(**_: object) -> None:
            time.sleep(delay)

        hooks = [("before-send.*.*", round_trip)] if delay else []
        print(f"added latency per call: {args.latency_ms:.0f} ms")
        for readers in (observe.MAX_READERS, 1):
            observe.MAX_READERS = readers
            times, calls = [], 0
            for _ in range(args.runs):
                gateway = AwsGateway(stack.config.region, hooks=hooks)
                result = plan(stack, gateway).changes
                assert not result.has_changes, "the plan after apply must be empty"
                times.append(result.duration_seconds)
                calls = result.api_calls
            print(f"no-change plan, {readers} reader(s): {calls} API calls, "
                  f"median {statistics.median(times):.3f} s, min {min(times):.3f} s "
                  f"over {args.runs} runs")
        for (service, op), n in sorted(gateway.calls.items()):
            print(f"  {service}.{op}: {n}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
