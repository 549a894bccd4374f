"""Helpers that write small stacks into a test's tmp folder and run the real CLI."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller import cli

REPO = Path(__file__).resolve().parent.parent
DESIRED = REPO / "desired"
# How many resources each stack of desired/ declares: the one place that says it, for
# the tests that expect every resource of a stack (created, valid, unchanged...).
DECLARED = {"prod": 83, "dev": 81}


def write_stack(root: Path, docs: str, *, account: str = "111111111111",
                values: str = "retention: 30", name: str = "test") -> Path:
    """A one-folder stack: stack.yaml plus resources.yaml holding `docs`."""
    root.mkdir(parents=True, exist_ok=True)
    values_block = textwrap.indent(textwrap.dedent(values).strip(), "  ")
    (root / "stack.yaml").write_text(
        f"name: {name}\nregion: us-east-1\naccount: \"{account}\"\nvalues:\n{values_block}\n")
    (root / "resources.yaml").write_text(textwrap.dedent(docs).lstrip())
    return root


def copy_desired(tmp_path: Path) -> Path:
    """A private copy of desired/ that a test may edit."""
    target = tmp_path / "desired"
    shutil.copytree(DESIRED, target)
    return target


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class CliRunner:
    """Runs `gitops` in-process (fast) with output captured."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.transcript: list[str] = []

    def __call__(self, *args: Any) -> CliResult:
        self.capsys.readouterr()
        code = cli.main([str(a) for a in args])
        captured = self.capsys.readouterr()
        self.transcript += [captured.out, captured.err]
        return CliResult(code, captured.out, captured.err)
