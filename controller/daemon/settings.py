"""Daemon settings from GITOPS_* variables (DESIGN.md's contract), validated at start.

A bad setting stops the daemon before it does anything, with a message that
names the variable, so a misconfigured task fails its deployment visibly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


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

    def __repr__(self) -> str:
        # Secrets never reach a log line, even through a repr.
        return (f"Settings(repo={self.repo!r}, ref={self.ref!r}, path={self.path!r}, "
                f"mode={self.mode!r}, interval_seconds={self.interval_seconds})")


def parse_address(name: str, value: str) -> Address:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"{name}={value!r}: expected host:port (e.g. :8080, 127.0.0.1:0)")
    return Address(host.strip("[]"), int(port))


def _positive(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a number of seconds") from None
    if number <= 0:
        raise SettingsError(f"{name}={value!r}: must be greater than 0")
    return number


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
    webhook_listen = get("GITOPS_WEBHOOK_LISTEN")
    cache = get("GITOPS_CACHE_DIR")
    return Settings(
        repo=repo,
        path=path.strip("/"),
        ref=get("GITOPS_REF") or "main",
        interval_seconds=_positive("GITOPS_INTERVAL_SECONDS",
                                   get("GITOPS_INTERVAL_SECONDS") or "60"),
        mode=mode,
        listen=parse_address("GITOPS_LISTEN", get("GITOPS_LISTEN") or ":8080"),
        webhook_listen=(parse_address("GITOPS_WEBHOOK_LISTEN", webhook_listen)
                        if webhook_listen else None),
        webhook_secret=get("GITOPS_WEBHOOK_SECRET"),
        git_token=get("GITOPS_GIT_TOKEN"),
        git_timeout_seconds=_positive("GITOPS_GIT_TIMEOUT_SECONDS",
                                      get("GITOPS_GIT_TIMEOUT_SECONDS") or "30"),
        cache_dir=Path(cache) if cache else None,
    )
