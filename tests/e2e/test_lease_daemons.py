"""Two replicas of the daemon against one lease table, as two machines would run them
(each its own cache folder, so no file lock is shared; each its own proxy, so the writes
moto received are told apart): one writes, the other only plans; killed with SIGKILL,
the writer is replaced by the other within a lease period, and no write of the two ever
falls between the other's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from controller.aws.leasetable import create_table
from tests.conftest import AwsEnv
from tests.daemonproc import DaemonProcess, wait_for
from tests.e2e.conftest import SECRET
from tests.faultproxy import Call, FaultProxy
from tests.stacks import REPO

LEASE_SECONDS = 3.0
LEASE_OPS = ("UpdateItem", "GetItem")
GROUP = "/ecs/iq-theory-api"


def stack_writes(proxy: FaultProxy) -> list[Call]:
    """The writes to the stack a replica sent (its lease's own calls left out)."""
    return [c for c in list(proxy.calls) if c.write and c.operation not in LEASE_OPS]


def retention(aws: AwsEnv) -> int:
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    return int(groups[0]["retentionInDays"])


@pytest.mark.slow
def test_two_replicas_never_write_at_once_and_the_second_takes_over(
        repo: Path, applied_prod: AwsEnv, tmp_path: Path) -> None:
    table = json.loads((REPO / "deploy" / "dynamodb" / "lease-table.json").read_text())
    create_table(applied_prod.client("dynamodb"), table["TableName"])
    logs = applied_prod.client("logs")
    proxies: list[FaultProxy] = []
    daemons: list[DaemonProcess] = []

    def replica(name: str) -> tuple[FaultProxy, DaemonProcess]:
        proxy = FaultProxy(applied_prod.server.url)
        proxies.append(proxy)
        daemon = DaemonProcess({
            "GITOPS_REPO": f"file://{repo}", "GITOPS_PATH": "desired/prod",
            "GITOPS_LISTEN": "127.0.0.1:0", "GITOPS_INTERVAL_SECONDS": "1",
            "GITOPS_MODE": "enforce", "GITOPS_WEBHOOK_SECRET": SECRET,
            "GITOPS_CACHE_DIR": str(tmp_path / name), "AWS_ENDPOINT_URL": proxy.url,
            "GITOPS_LEASE_TABLE": table["TableName"],
            "GITOPS_LEASE_SECONDS": str(LEASE_SECONDS)})
        daemons.append(daemon)
        return proxy, daemon

    try:
        proxy_a, a = replica("a")
        wait_for(lambda: a.find("holds the stack's lease"), 30, what="a to take the lease")
        proxy_b, b = replica("b")
        wait_for(lambda: b.find("another replica holds the stack's lease: this run only plans"),
                 30, what="b to plan only")
        follower = b.find("another replica holds the stack's lease: this run only plans")
        assert follower is not None and "the daemon (gitops run) (pid" in follower["holder"]

        # While both run, a drift is corrected once, by a alone.
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=1)
        wait_for(lambda: retention(applied_prod) == 30, 30, what="a to correct the drift")
        runs_b = b.runs("success")
        wait_for(lambda: b.runs("success") >= runs_b + 2, 30, what="two more runs of b")
        assert [c.operation for c in stack_writes(proxy_a)] == ["PutRetentionPolicy"]
        assert stack_writes(proxy_b) == [], "the replica without the lease wrote"

        # a dies without releasing; b takes over within a lease period and corrects.
        a.kill()
        killed = time.monotonic()
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=1)
        wait_for(lambda: b.find("took over the stack's lease: running now"), 20,
                 what="b to take over")
        wait_for(lambda: retention(applied_prod) == 30, 20, what="b to correct the drift")
        first_b = stack_writes(proxy_b)[0]
        takeover = first_b.at - killed
        print(f"\ntakeover: b's first write {takeover:.2f} s after a was killed "
              f"(lease {LEASE_SECONDS:g} s)")
        assert takeover <= LEASE_SECONDS * 1.1 + 2.0, takeover
        # The order moto received them in: every write of a before every write of b.
        last_a = max(c.at for c in stack_writes(proxy_a))
        assert last_a < killed < first_b.at
        assert [c.operation for c in stack_writes(proxy_b)] == ["PutRetentionPolicy"]
        assert b.terminate()[0] == 0
    finally:
        for daemon in daemons:
            daemon.kill()
        for proxy in proxies:
            proxy.stop()
