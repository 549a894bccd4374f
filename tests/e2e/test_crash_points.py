"""Crash points: a real `gitops apply` of desired/prod is killed with SIGKILL right after
its Nth write reached AWS (the fault proxy counts the writes and kills the process once
the Nth answer is back, before the process reads it: the write happened, unseen), then
applied again. The stack must converge with nothing duplicated and nothing orphaned.

Points are spread over the whole apply (133 writes from empty), not only the
first few: each point is a moto reset and two applies, so they are `slow`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AwsEnv
from tests.faultproxy import FaultProxy
from tests.inventory import identities
from tests.stacks import DECLARED, DESIRED

KILL_AFTER_WRITES = (1, 3, 8, 16, 30, 50, 75, 100, 120, 132)


def gitops(*args: str, endpoint: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, **({"AWS_ENDPOINT_URL": endpoint} if endpoint else {})}
    return subprocess.Popen([sys.executable, "-m", "controller", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("writes", KILL_AFTER_WRITES)
def test_an_apply_killed_after_a_write_converges_with_nothing_duplicated(
        prod_aws: AwsEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writes: int) -> None:
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(tmp_path))
    proxy = FaultProxy(prod_aws.server.url)
    killed = gitops("apply", str(DESIRED / "prod"), "--auto-approve", endpoint=proxy.url)

    def crash(count: int) -> None:
        if count == writes:
            killed.send_signal(signal.SIGKILL)

    proxy.after_write = crash
    try:
        killed.communicate(timeout=120)
    finally:
        proxy.stop()
    assert killed.returncode == -signal.SIGKILL, f"the apply ended before write {writes}"

    again = gitops("apply", str(DESIRED / "prod"), "--auto-approve")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    check = gitops("plan", str(DESIRED / "prod"), "--output", "json")
    out, err = check.communicate(timeout=120)
    report: dict[str, Any] = json.loads(out)
    assert check.returncode == 0, [(c["id"], c["action"]) for c in report["changes"]
                                   if c["action"] != "no-op"]
    assert report["summary"]["no-op"] == DECLARED["prod"]
    orphans = [w for w in report.get("warnings", []) if "prune" in w["message"]]
    assert not orphans, orphans
    found = identities(prod_aws)
    # 54 of the 83 are visible this way (every tag-identified kind but listeners, rules,
    # endpoints and mappings, whose parents are); the rest have names AWS keeps unique.
    assert len(found) >= 50, sorted(found)
    twice = {rid: n for rid, n in found.items() if n > 1}
    assert not twice, f"killed after write {writes}: duplicated {twice}"
