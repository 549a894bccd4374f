"""An unexpected error never shows a secret: one line from the CLI, JSON from the daemon.

Before, wherever `rich` was installed (the dev extras bring it), structlog rendered the
traceback of any unexpected error with every frame's local variables: 1,392 lines for
`AWS_PROFILE=no-such-profile gitops plan`, holding AWS_SECRET_ACCESS_KEY and the rest of
the environment. The tests run with rich installed and secret-looking values set.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

from tests.conftest import AwsEnv
from tests.daemonproc import wait_for
from tests.e2e.conftest import SECRET, TOKEN, Daemons
from tests.stacks import DESIRED

SENTINELS = {"AWS_SECRET_ACCESS_KEY": "aws-secret-SENTINEL-1",
             "AWS_SESSION_TOKEN": "aws-session-SENTINEL-2",
             "GITOPS_GIT_TOKEN": "git-token-SENTINEL-3",
             "GITOPS_WEBHOOK_SECRET": "hook-secret-SENTINEL-4"}


def leaked(*texts: str) -> list[str]:
    values = [*SENTINELS.values(), SECRET, TOKEN]
    return [v for v in values for text in texts if v in text]


def plan_with_a_missing_profile(**env: str) -> subprocess.CompletedProcess[str]:
    assert importlib.util.find_spec("rich") is not None, "the test needs rich installed"
    return subprocess.run(
        [sys.executable, "-m", "controller", "plan", str(DESIRED / "prod")],
        env={**os.environ, **SENTINELS, "AWS_PROFILE": "no-such-profile", **env},
        capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_prints_one_line_without_a_secret(prod_aws: AwsEnv) -> None:
    result = plan_with_a_missing_profile()
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: unexpected ProfileNotFound: The config profile (no-such-profile) could not be "
        "found; GITOPS_DEBUG=1 shows the traceback"]


def test_gitops_debug_adds_a_traceback_without_locals(prod_aws: AwsEnv) -> None:
    result = plan_with_a_missing_profile(GITOPS_DEBUG="1")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "botocore.exceptions.ProfileNotFound" in result.stderr
    assert leaked(result.stdout, result.stderr) == []
    assert "locals" not in result.stderr and "╭" not in result.stderr


def test_a_crashing_run_is_counted_and_logged_as_json_without_a_secret(
        daemons: Daemons, prod_aws: AwsEnv) -> None:
    daemon = daemons.start(GITOPS_INTERVAL_SECONDS="1", AWS_PROFILE="no-such-profile",
                           AWS_SECRET_ACCESS_KEY=SENTINELS["AWS_SECRET_ACCESS_KEY"],
                           AWS_SESSION_TOKEN=SENTINELS["AWS_SESSION_TOKEN"])
    wait_for(lambda: daemon.runs("error") >= 2, 30, what="two failed runs")
    failed = wait_for(lambda: daemon.find("reconcile run failed"), 10, what="the failure log")
    assert failed["exc_type"] == "ProfileNotFound" and failed["level"] == "error"
    assert "could not be found" in failed["error"]
    assert failed["traceback"].startswith("Traceback (most recent call last):")
    assert daemon.metric("gitops_desired_state_valid", stack="iq-theory-prod") == 1
    _, exposed = daemon.get("/metrics")
    daemon.terminate()
    output = "".join(daemon.raw)
    assert [line for line in daemon.raw if not line.startswith("{")] == []
    for line in daemon.raw:
        json.loads(line)
    assert leaked(output, exposed) == []
