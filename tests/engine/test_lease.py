"""The stack's DynamoDB lease, against moto's DynamoDB over HTTP: one holder at a time,
expiry, renewal, the fencing number that stops a writer which lost it, release, and the
write guard that checks it before every write."""

from __future__ import annotations

import time
from typing import Any

import pytest

from controller.aws.leasetable import LeaseTable, create_table
from controller.engine.lease import Lease, LeaseKeeper, LeaseLost, LeaseUnavailable, holding
from controller.engine.writer import StackLocked
from tests.conftest import AwsEnv

TABLE = "gitops-leases"


class Clock:
    """Both replicas' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(aws: AwsEnv) -> LeaseTable:
    client = aws.gateway().client("dynamodb")
    create_table(client, TABLE)
    return LeaseTable(client, TABLE)


def replica(table: LeaseTable, clock: Clock, what: str = "the daemon (gitops run)",
            period: float = 30.0) -> Lease:
    return Lease(table, "iq-theory-prod", "111111111111", what, period, clock)


def test_one_holder_at_a_time_and_the_other_is_told_who(table: LeaseTable) -> None:
    clock = Clock()
    first, second = replica(table, clock, "gitops apply"), replica(table, clock)
    assert first.take() and first.fence == 1 and first.held
    assert not second.take() and not second.held
    who = second.describe_holder()
    assert who.startswith("gitops apply (pid ") and "fencing number 1" in who
    assert "expires in 30 s" in who
    assert first.take(), "taking a lease already held renews it"


def test_an_expired_lease_is_taken_with_a_higher_fence_and_the_old_holder_is_stopped(
        table: LeaseTable) -> None:
    clock = Clock()
    first, second = replica(table, clock), replica(table, clock)
    assert first.take()
    clock.now += 29
    assert not second.take(), "not expired yet"
    clock.now += 2
    assert second.take() and second.fence == 2
    # the first holder (paused past its expiry) finds out before its next write
    with pytest.raises(LeaseLost, match="CreateVpc not sent: this process no longer holds"):
        first.check("ec2", "CreateVpc")
    assert not first.held
    second.check("ec2", "CreateVpc")  # the holder's check passes, and renews


def test_renewal_keeps_it_and_release_frees_it_at_once(table: LeaseTable) -> None:
    clock = Clock()
    first, second = replica(table, clock), replica(table, clock)
    assert first.take()
    for _ in range(5):  # renewed every 20 s for 100 s: never free
        clock.now += 20
        assert first.renew()
        assert not second.take()
    first.release()
    assert second.take() and second.fence == 2
    assert second.describe_holder().startswith("the daemon (gitops run)")


def test_the_write_guard_stops_writes_not_reads(aws: AwsEnv, table: LeaseTable) -> None:
    clock = Clock()
    holder, other = replica(table, clock), replica(table, clock)
    assert holder.take()
    gateway = aws.gateway()
    gateway.write_guard = holder.check
    logs = gateway.client("logs")
    logs.create_log_group(logGroupName="/written/under/the/lease")
    clock.now += 31
    assert other.take()
    with pytest.raises(LeaseLost):
        logs.create_log_group(logGroupName="/never/written")
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert names == ["/written/under/the/lease"], "reads pass; the lost write was not sent"


def test_a_keeper_takes_over_a_lease_left_to_expire(table: LeaseTable) -> None:
    """The daemon's follower: it polls every tenth of a period and runs once it holds."""
    dead = Lease(table, "iq-theory-prod", "111111111111", "replica a", 3.0)
    assert dead.take()
    follower = Lease(table, "iq-theory-prod", "111111111111", "replica b", 3.0)
    taken: list[float] = []
    keeper = LeaseKeeper(follower, contend=True, on_taken=lambda: taken.append(time.time()))
    started = time.time()
    keeper.start()
    try:
        deadline = started + 6
        while not taken and time.time() < deadline:
            time.sleep(0.05)
    finally:
        keeper.stop()
    assert taken, "the follower never took the expired lease"
    assert taken[0] - started <= 3.0 + 0.3 + 0.5, taken[0] - started


def test_holding_waits_then_says_who(table: LeaseTable) -> None:
    clock = Clock()
    daemon = replica(table, clock)
    assert daemon.take()
    apply = replica(table, clock, "gitops apply")
    with pytest.raises(StackLocked) as err, holding(apply, timeout=0.0):
        pass
    assert "being written by the daemon (gitops run) (pid" in str(err.value)
    daemon.release()
    with holding(apply) as held:
        assert held.held
    assert not apply.held and daemon.take(), "released at the end of the apply"


def test_a_missing_table_is_a_clear_error(aws: AwsEnv) -> None:
    client: Any = aws.gateway().client("dynamodb")
    lease = Lease(LeaseTable(client, "no-such-table"), "s", "1", "gitops apply")
    with pytest.raises(LeaseUnavailable, match=r"lease table no-such-table: .*"
                       r"ResourceNotFoundException.*deploy/README.md"), holding(lease):
        pass
    lease.fence = 1  # as if it had been taken, then the table went away
    with pytest.raises(LeaseLost, match="CreateVpc not sent: the stack's lease could not be "
                       "confirmed"):
        lease.check("ec2", "CreateVpc")


def test_an_item_edited_by_hand_reads_as_an_unknown_holder(aws: AwsEnv,
                                                           table: LeaseTable) -> None:
    aws.client("dynamodb").put_item(TableName=TABLE, Item={
        "lease": {"S": "111111111111-iq-theory-prod"}, "owner": {"S": "someone"},
        "fence": {"S": "not a number"}, "expires": {"N": "1"}})
    lease = replica(table, Clock())
    assert lease.describe_holder().startswith("an unknown writer")
