"""Eventual consistency: a VPC just made is missing from EC2's describes for a while. The
run that made it says it cannot read it back; the next plans hold its create (saying
why) instead of making a twin, until EC2 lists it; then the stack converges with one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.engine import recent
from controller.engine.recent import RecentCreates
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.conftest import AwsEnv
from tests.stacks import write_stack

NETWORK = """
kind: ec2.Vpc
name: lagging
spec:
  cidrBlock: 10.40.0.0/16
---
kind: ec2.Subnet
name: lagging-a
spec:
  vpcId: ${ref:ec2.Vpc/lagging.id}
  cidrBlock: 10.40.1.0/24
  availabilityZone: us-east-1a
"""


class Lag:
    """EC2 not listing the VPCs it made in its next `describes` DescribeVpcs answers."""

    def __init__(self, describes: int) -> None:
        self.left, self.made, self.creates = describes, set[str](), 0

    def hooks(self) -> list[tuple[str, Any]]:
        return [("after-call.ec2.CreateVpc", self.created),
                ("after-call.ec2.DescribeVpcs", self.described)]

    def created(self, parsed: dict[str, Any], **_: Any) -> None:
        self.creates += 1
        self.made.add(parsed["Vpc"]["VpcId"])

    def described(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.left > 0 and self.made:
            self.left -= 1
            parsed["Vpcs"] = [v for v in parsed.get("Vpcs", []) if v["VpcId"] not in self.made]


def test_a_vpc_ec2_does_not_list_yet_is_waited_for_not_made_twice(
        aws: AwsEnv, tmp_path: Path) -> None:
    stack = load_stack(write_stack(tmp_path / "stack", NETWORK), REGISTRY)
    lag = Lag(describes=6)
    first = apply(plan(stack, aws.gateway(lag.hooks())))
    vpc = next(c for c in first.changes if c.kind == "ec2.Vpc")
    assert vpc.result == "error" and "cannot be read back" in (vpc.error or ""), vpc.error

    waiting = plan(stack, aws.gateway(lag.hooks())).changes
    held = next(c for c in waiting.changes if c.kind == "ec2.Vpc")
    assert held.action == "create" and held.held, held
    assert "not listed by AWS yet" in (held.reason or "") and "2 minutes" in (held.reason or "")
    assert apply(plan(stack, aws.gateway(lag.hooks()))).changes  # still lagging: holds
    assert lag.creates == 1, "a second CreateVpc was sent while EC2 lagged"

    lag.left = 0  # EC2 caught up
    done = apply(plan(stack, aws.gateway(lag.hooks())))
    assert not done.failed, [(c.id, c.error) for c in done.failed]
    assert not plan(stack, aws.gateway()).changes.has_changes
    vpcs = aws.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:gitops:id", "Values": ["ec2.Vpc/lagging"]}])["Vpcs"]
    assert len(vpcs) == 1 and lag.creates == 1


def test_a_create_past_the_window_is_made_again(tmp_path: Path) -> None:
    """Not listed two minutes on: it was never made, or someone deleted it: made again."""
    now = [1000.0]
    notes = RecentCreates(tmp_path / "notes.json", clock=lambda: now[0])
    notes.sent("ec2.Vpc/v")
    again = RecentCreates(tmp_path / "notes.json", clock=lambda: now[0])
    assert again.unlisted_for("ec2.Vpc/v") == 0
    now[0] += recent.WINDOW_SECONDS
    assert again.unlisted_for("ec2.Vpc/v") is None
    again.seen("ec2.Vpc/none")  # nothing noted: nothing changes


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"{\"a\": \"soon\"}", b"\xff\xfe",
                                     b"[" * 100_000])
def test_a_note_file_not_ours_reads_as_none(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "notes.json").write_bytes(content)
    assert RecentCreates(tmp_path / "notes.json").unlisted_for("a") is None
