"""`gitops validate`, `gitops set` and `gitops --help` answer at once: they import no
AWS SDK, no logging set-up, no engine, daemon or emulator, and no driver of a kind the
stack does not declare.

Guarded by what a fresh interpreter has imported once the command returns, not by a
timing (the machine's load would make one flaky): boto3 alone is 150 ms.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controller import cli
from controller.resources.base import Driver
from controller.resources.registry import DRIVERS, REGISTRY
from tests.stacks import DECLARED, DESIRED, REPO, copy_desired, write_stack

# What only plan, apply, run and demo need (the first three are ~170 ms of imports).
NEVER = ("boto3", "botocore", "s3transfer", "structlog", "controller.daemon",
         "controller.motoserver", "controller.emulator", "controller.engine",
         "controller.source", "controller.logs", "apscheduler", "prometheus_client", "moto")

PROGRAM = textwrap.dedent("""
    import contextlib, io, json, sys
    from controller.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(sys.argv[1:])
    print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                      "modules": sorted(sys.modules)}))
""")


def imported_by(*args: object) -> tuple[dict[str, object], list[str]]:
    """Run `gitops ARGS` in a fresh interpreter: its result, and every module it imported."""
    done = subprocess.run([sys.executable, "-c", PROGRAM, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout)
    return result, result.pop("modules")


def unwanted(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in NEVER)]


def test_validate_imports_neither_the_aws_sdk_nor_the_engine() -> None:
    result, modules = imported_by("validate", DESIRED / "prod")
    assert result["code"] == 0, result["err"]
    assert f"iq-theory-prod: {DECLARED['prod']} resources, valid." in str(result["err"])
    assert unwanted(modules) == []


def test_set_imports_neither_the_aws_sdk_nor_the_engine(tmp_path: Path) -> None:
    """A CI job runs `gitops set` once per build: it validates, and reaches no AWS."""
    stack = copy_desired(tmp_path) / "prod"
    result, modules = imported_by("set", stack, "api_image_tag=1.4.3")
    assert result["code"] == 0, result["err"]
    assert "api_image_tag 1.4.2 -> 1.4.3" in str(result["out"])
    assert unwanted(modules) == []


def test_help_imports_no_driver_and_no_pydantic() -> None:
    result, modules = imported_by("--help")
    assert result["code"] == 0
    assert "validate" in str(result["out"]) and "apply" in str(result["out"])
    assert unwanted(modules) == []
    assert [m for m in modules if m.startswith(("controller.resources", "pydantic"))] == []


def test_validate_imports_only_the_drivers_of_the_kinds_it_declares(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack", """
        kind: sqs.Queue
        name: jobs
        spec: {}
    """)
    result, modules = imported_by("validate", stack)
    assert result["code"] == 0, result["err"]
    drivers = {f"controller.resources.{module}" for module, _ in DRIVERS.values()}
    assert sorted(drivers.intersection(modules)) == ["controller.resources.sqs_queue"]


def test_an_unknown_kind_still_lists_every_known_one(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack", """
        kind: sqs.Queeu
        name: jobs
        spec: {}
    """)
    result, modules = imported_by("validate", stack)
    assert result["code"] == 1
    assert "unknown kind 'sqs.Queeu': did you mean sqs.Queue?" in str(result["err"])
    assert unwanted(modules) == []


def test_every_kind_of_the_registry_imports_its_own_driver() -> None:
    for kind in DRIVERS:
        driver = REGISTRY[kind]
        assert isinstance(driver, Driver) and driver.kind == kind
    assert REGISTRY["ec2.Vpc"] is REGISTRY["ec2.Vpc"]  # imported and made once


def test_run_help_still_lists_the_daemon_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "settings, from the environment:" in shown
    assert "GITOPS_INTERVAL_SECONDS" in shown


def test_version_is_read_when_asked() -> None:
    result, modules = imported_by("--version")
    assert result["code"] == 0
    assert str(result["out"]).startswith("gitops ")
    assert unwanted(modules) == []
