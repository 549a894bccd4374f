"""Daemon settings from GITOPS_* variables (DESIGN.md's contract), validated at start.

A bad setting stops the daemon before it does anything, with a message that
names the variable, so a misconfigured task fails its deployment visibly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from controller.engine.schedule import DEFAULT_PARALLELISM, MAX_PARALLELISM
from controller.source.git import SourceError, check_ref
from controller.source.remote import redact
from controller.source.revision import stack_path

# Bounds of the durations: below the minimum a daemon would hammer AWS and git (and a
# typo such as 1e-9 would spin); above the maximum drift would go unseen for days.
INTERVAL_RANGE = (1.0, 86400.0)
GIT_TIMEOUT_RANGE = (1.0, 3600.0)
# A lease shorter than a few seconds would expire between renewals on a busy host; one
# longer than ten minutes leaves a stack without a writer that long after its holder dies.
LEASE_RANGE = (3.0, 600.0)


# (variable, default, meaning): DESIGN.md's table, for `gitops run --help`.
VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("GITOPS_REPO", "required", "git URL (https://, ssh://, file://) or a local repository"),
    ("GITOPS_REF", "main", "branch or tag to follow"),
    ("GITOPS_PATH", "required", "stack folder inside the repository, e.g. desired/prod"),
    ("GITOPS_INTERVAL_SECONDS", "60", "time between reconcile runs (1-86400, +10% jitter)"),
    ("GITOPS_MODE", "enforce", "enforce applies; detect only plans and reports"),
    ("GITOPS_LISTEN", ":8080", "/metrics, /healthz, /readyz (and /webhook unless split)"),
    ("GITOPS_WEBHOOK_LISTEN", "unset", "a separate host:port for /webhook"),
    ("GITOPS_WEBHOOK_SECRET", "unset", "GitHub HMAC secret / GitLab token; unset: no /webhook"),
    ("GITOPS_GIT_TOKEN", "unset", "HTTPS token of a private repository; never logged"),
    ("GITOPS_GIT_TIMEOUT_SECONDS", "30", "limit on one fetch (1-3600)"),
    ("GITOPS_CACHE_DIR", "a user cache folder", "where the one local clone lives"),
    ("GITOPS_LEASE_TABLE", "unset", "DynamoDB table of the stack's lease: replicas take turns "
                                    "writing; unset: one writer per machine (a file lock)"),
    ("GITOPS_LEASE_SECONDS", "30", "lease period (3-600): a dead writer's successor takes over "
                                   "within it"),
    ("GITOPS_PARALLELISM", "10", "resources an apply writes at once (1-100), each once what "
                                 "it depends on is done"),
)


class SettingsError(ValueError):
    """A GITOPS_* variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host or '0.0.0.0'}:{self.port}"


@dataclass(frozen=True)
class Settings:
    repo: str
    path: str
    ref: str = "main"
    interval_seconds: float = 60.0
    mode: str = "enforce"
    listen: Address = Address("", 8080)
    webhook_listen: Address | None = None
    webhook_secret: str | None = None
    git_token: str | None = None
    git_timeout_seconds: float = 30.0
    # Not in the contract table: where the one local clone lives (default: a cache folder).
    cache_dir: Path | None = None
    lease_table: str | None = None
    lease_seconds: float = 30.0
    parallelism: int = DEFAULT_PARALLELISM

    def __repr__(self) -> str:
        # Secrets never reach a log line, even through a repr.
        return (f"Settings(repo={redact(self.repo)!r}, ref={self.ref!r}, path={self.path!r}, "
                f"mode={self.mode!r}, interval_seconds={self.interval_seconds})")


def parse_address(name: str, value: str) -> Address:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"{name}={value!r}: expected host:port (e.g. :8080, 127.0.0.1:0)")
    return Address(host.strip("[]"), int(port))


def _seconds(name: str, value: str, bounds: tuple[float, float]) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a number of seconds") from None
    low, high = bounds
    if not math.isfinite(number) or not low <= number <= high:
        raise SettingsError(f"{name}={value!r}: expected seconds from {low:g} to {high:g}")
    return number


def lease_seconds(value: str | None) -> float:
    """GITOPS_LEASE_SECONDS, checked (the CLI reads it too)."""
    return _seconds("GITOPS_LEASE_SECONDS", value or "30", LEASE_RANGE)


def parallelism(value: str | None) -> int:
    """GITOPS_PARALLELISM, checked (the CLI's `apply --parallelism` defaults to it)."""
    text = (value or str(DEFAULT_PARALLELISM)).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARALLELISM:
        raise SettingsError(f"GITOPS_PARALLELISM={value!r}: expected a whole number of "
                            f"resources from 1 to {MAX_PARALLELISM}")
    return int(text)


def _repo(value: str, token: str | None) -> str:
    parts = urlsplit(value) if "://" in value else None
    if parts is not None and parts.scheme not in ("https", "http", "ssh", "file", "git"):
        raise SettingsError(f"GITOPS_REPO={redact(value)!r}: expected an https://, ssh:// or "
                            "file:// URL, or a local repository path")
    has_token = bool(token) or bool(parts is not None and parts.password)
    if has_token and parts is not None and parts.scheme in ("http", "git"):
        # Over an unencrypted transport the token would travel in clear: never sent, so say so.
        raise SettingsError(f"GITOPS_REPO={redact(value)!r}: a token (GITOPS_GIT_TOKEN) is only "
                            "ever sent over https://: use an https:// URL, or unset the token")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raises SettingsError naming the first bad variable."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    repo, path = get("GITOPS_REPO"), get("GITOPS_PATH")
    if repo is None:
        raise SettingsError("GITOPS_REPO is required: a git URL (https://, ssh://, file://) "
                            "or a local repository path")
    if path is None:
        raise SettingsError("GITOPS_PATH is required: the stack folder inside the repository, "
                            "e.g. desired/prod")
    mode = get("GITOPS_MODE") or "enforce"
    if mode not in ("enforce", "detect"):
        raise SettingsError(f"GITOPS_MODE={mode!r}: expected enforce or detect")
    try:
        path = stack_path(path)
    except ValueError as err:
        raise SettingsError(f"GITOPS_PATH={path!r}: {err}") from None
    ref = get("GITOPS_REF") or "main"
    try:
        check_ref(ref)
    except SourceError as err:
        raise SettingsError(f"GITOPS_REF={ref!r}: {err}") from None
    webhook_listen = get("GITOPS_WEBHOOK_LISTEN")
    cache = get("GITOPS_CACHE_DIR")
    git_token = get("GITOPS_GIT_TOKEN")
    return Settings(
        repo=_repo(repo, git_token),
        path=path,
        ref=ref,
        interval_seconds=_seconds("GITOPS_INTERVAL_SECONDS",
                                  get("GITOPS_INTERVAL_SECONDS") or "60", INTERVAL_RANGE),
        mode=mode,
        listen=parse_address("GITOPS_LISTEN", get("GITOPS_LISTEN") or ":8080"),
        webhook_listen=(parse_address("GITOPS_WEBHOOK_LISTEN", webhook_listen)
                        if webhook_listen else None),
        webhook_secret=get("GITOPS_WEBHOOK_SECRET"),
        git_token=git_token,
        git_timeout_seconds=_seconds("GITOPS_GIT_TIMEOUT_SECONDS",
                                     get("GITOPS_GIT_TIMEOUT_SECONDS") or "30",
                                     GIT_TIMEOUT_RANGE),
        cache_dir=Path(cache) if cache else None,
        lease_table=get("GITOPS_LEASE_TABLE"),
        lease_seconds=lease_seconds(get("GITOPS_LEASE_SECONDS")),
        parallelism=parallelism(get("GITOPS_PARALLELISM")),
    )
