"""Shared fixtures: one moto server per AWS account, reset between tests.

Tests reach AWS exactly as the controller does in production: boto3 over HTTP
to `AWS_ENDPOINT_URL`. The servers start once per session.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from controller.aws.gateway import AwsGateway
from controller.emulator import MotoServer, start_moto
from controller.resources.base import RunContext

REGION = "us-east-1"
DEV_ACCOUNT = "111111111111"
PROD_ACCOUNT = "222222222222"
TEST_STACK = "test"

_servers: dict[str, MotoServer] = {}


def moto_for(account: str, purpose: str = "") -> MotoServer:
    """The session's moto server for `account` (one more per `purpose`)."""
    key = f"{account}/{purpose}"
    if key not in _servers:
        _servers[key] = start_moto(account)
    return _servers[key]


def pytest_configure(config: pytest.Config) -> None:
    """Outside a test's own cache folder (module fixtures), a session's: tests never read
    or write the user's cache (its locks, its notes of recent creates)."""
    os.environ["GITOPS_CACHE_DIR"] = tempfile.mkdtemp(prefix="gitops-tests-cache-")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for server in _servers.values():
        server.stop()


@dataclass
class AwsEnv:
    """A reset moto server for one account, with env set so boto3 and the CLI reach it."""

    server: MotoServer
    region: str = REGION

    @property
    def account(self) -> str:
        return self.server.account

    def client(self, service: str) -> Any:
        """An out-of-band client, for making drift or checking state."""
        return boto3.client(service, region_name=self.region, endpoint_url=self.server.url)

    def gateway(self, hooks: list[Any] | None = None) -> AwsGateway:
        return AwsGateway(self.region, hooks=hooks)

    def ctx(self, stack: str = TEST_STACK) -> RunContext:
        return RunContext(self.gateway(), stack)


def _aws_env(account: str, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    server = moto_for(account)
    server.reset()
    return _pointed_at(server, monkeypatch)


def _pointed_at(server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return AwsEnv(server)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """The dev account's moto server, reset."""
    yield _aws_env(DEV_ACCOUNT, monkeypatch)


@pytest.fixture
def prod_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """The prod account's moto server, reset."""
    yield _aws_env(PROD_ACCOUNT, monkeypatch)


@pytest.fixture(scope="module")
def _applied_prod_server(tmp_path_factory: pytest.TempPathFactory) -> MotoServer:
    """A moto server of its own where desired/prod is applied once per module: applying
    the whole stack from empty is the slowest thing a test does, and most tests of an
    applied stack only need it converged. Other tests' resets never reach it."""
    from controller.engine.reconcile import apply, plan
    from controller.resources.registry import REGISTRY as KINDS
    from controller.spec.loader import load_stack
    from tests.stacks import DESIRED

    server = moto_for(PROD_ACCOUNT, "applied")
    server.reset()
    with pytest.MonkeyPatch.context() as env:
        aws = _pointed_at(server, env)
        # before any test's own folder: never the user's cache
        env.setenv("GITOPS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        result = apply(plan(load_stack(DESIRED / "prod", KINDS), aws.gateway()))
        assert not result.failed, [(c.id, c.error) for c in result.failed]
        push_prod_images(aws.client("ecr"))
    return server


PROD_IMAGE_TAG = "1.4.2"  # desired/prod's api_image_tag and frontend_image_tag


def push_prod_images(ecr: Any, tag: str = PROD_IMAGE_TAG) -> None:
    """What CI pushed before desired/prod named `tag`: both images, in the stack's ECR
    repositories (made by its first apply), so a new revision of them passes the plan's
    image check (controller/resources/ecr_images.py)."""
    from controller.emulator import push_image

    for repository in ("iq-theory-api", "iq-theory-frontend"):
        push_image(ecr, repository, tag)


@pytest.fixture
def applied_prod(_applied_prod_server: MotoServer,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """The prod account with desired/prod applied, shared by the tests of a module: each
    must leave it converged to desired/prod (apply what it changed back)."""
    yield _pointed_at(_applied_prod_server, monkeypatch)


@pytest.fixture
def gitops(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the `gitops` CLI in-process: gitops('plan', path) -> CliResult."""
    from tests.stacks import CliRunner

    return CliRunner(capsys)


class CallRecorder:
    """Counts every AWS call the CLI makes, through a botocore event hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name))

    @property
    def writes(self) -> list[tuple[str, str]]:
        """The calls the gateway's write guard counts as writes (BatchGetImage is a read)."""
        from controller.aws.operations import is_read

        return [c for c in self.calls if not is_read(c[1])]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> CallRecorder:
    """Every AWS call the CLI makes during the test."""
    from controller import cli

    rec = CallRecorder()
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [("before-call.*.*", rec)])
    return rec


@pytest.fixture(autouse=True)
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own cache folder: the stacks' write locks live there, and tests on
    two workers apply the same stack (name and account) to servers of their own."""
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _logs_to_current_stderr() -> None:
    from controller import logs

    logs.configure(json=False)
