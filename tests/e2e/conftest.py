"""Fixtures for end-to-end tests of the daemon as a real process."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.aws.gateway import AwsGateway
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.conftest import AwsEnv
from tests.daemonproc import DaemonProcess, make_repo
from tests.faultproxy import FaultProxy
from tests.stacks import DESIRED

SECRET = "webhook-secret-for-tests"
TOKEN = "ghp-token-that-must-never-show"
STACK = "iq-theory-prod"


def signed(body: dict[str, Any], event: str = "push") -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Hub-Signature-256": sig, "X-GitHub-Event": event,
                 "Content-Type": "application/json"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", DESIRED)


@pytest.fixture
def proxy(prod_aws: AwsEnv) -> Iterator[FaultProxy]:
    fault = FaultProxy(prod_aws.server.url)
    yield fault
    fault.stop()


class Daemons:
    """Start daemons for one test; every one is stopped at the end."""

    def __init__(self, repo: Path, proxy: FaultProxy, cache: Path) -> None:
        self.repo, self.proxy, self.cache = repo, proxy, cache
        self.started: list[DaemonProcess] = []

    def start(self, **settings: str) -> DaemonProcess:
        env = {
            "GITOPS_REPO": f"file://{self.repo}", "GITOPS_PATH": "desired/prod",
            "GITOPS_REF": "main", "GITOPS_LISTEN": "127.0.0.1:0",
            "GITOPS_INTERVAL_SECONDS": "3600", "GITOPS_MODE": "enforce",
            "GITOPS_WEBHOOK_SECRET": SECRET, "GITOPS_GIT_TOKEN": TOKEN,
            "GITOPS_CACHE_DIR": str(self.cache), "AWS_ENDPOINT_URL": self.proxy.url,
            **settings,
        }
        daemon = DaemonProcess(env)
        self.started.append(daemon)
        return daemon

    def stop_all(self) -> None:
        for daemon in self.started:
            daemon.kill()


@pytest.fixture
def daemons(repo: Path, proxy: FaultProxy, tmp_path: Path) -> Iterator[Daemons]:
    """Daemons against an empty account: their first run applies the whole stack."""
    running = Daemons(repo, proxy, tmp_path / "cache")
    yield running
    _stopped_without_the_token(running)


@pytest.fixture
def settled_daemons(repo: Path, applied_prod: AwsEnv, tmp_path: Path) -> Iterator[Daemons]:
    """Daemons against the module's applied desired/prod (through a proxy of their own):
    their first run is a plan with nothing to change. For tests of the daemon itself;
    each leaves the stack converged (applied_prod's contract)."""
    proxy = FaultProxy(applied_prod.server.url)
    running = Daemons(repo, proxy, tmp_path / "cache")
    yield running
    _stopped_without_the_token(running)
    proxy.stop()


def _stopped_without_the_token(running: Daemons) -> None:
    running.stop_all()
    transcript = "".join(line for d in running.started for line in d.raw)
    assert TOKEN not in transcript, "the git token leaked into the daemon's output"


def apply_prod(prod_aws: AwsEnv) -> None:
    stack = load_stack(DESIRED / "prod", REGISTRY)
    assert not apply(plan(stack, AwsGateway("us-east-1"))).failed
