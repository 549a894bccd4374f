"""Run `gitops run` as a real process for end-to-end tests, and read what it exposes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 30.0, every: float = 0.1,
             what: str = "condition") -> T:
    """Poll until `check()` is truthy, by deadline; fail with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def make_repo(root: Path, desired: Path) -> Path:
    """A real git repository holding desired/ on branch main, one commit."""
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(desired, root / "desired")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial desired state")
    return root


def commit_edit(repo: Path, file: str, old: str, new: str, message: str) -> str:
    path = repo / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new))
    git(repo, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD")


class DaemonProcess:
    """`python -m controller run` with GITOPS_* settings; its JSON log lines are kept."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller", "run"],
            env={**os.environ, "PYTHONFAULTHANDLER": "1", **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        listening = wait_for(lambda: self.find("listening"), 30, what="the daemon to listen")
        self.url = "http://" + listening["address"].replace("0.0.0.0", "127.0.0.1")
        webhook = listening.get("webhook", "off")
        self.webhook_url = ("http://" + webhook.replace("0.0.0.0", "127.0.0.1")
                            if webhook != "off" else None)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            with contextlib.suppress(ValueError):  # a non-JSON line (a crash trace) stays raw
                self.lines.append(json.loads(line))

    def find(self, event: str) -> dict[str, Any] | None:
        return next((entry for entry in list(self.lines) if entry.get("event") == event), None)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def metric(self, name: str, /, **labels: str) -> float | None:
        """The value of one sample on /metrics, or None if the series is absent."""
        _, text = self.get("/metrics")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return float(sample.value)
        return None

    def runs(self, result: str = "success") -> float:
        total = 0.0
        _, text = self.get("/metrics")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "gitops_reconcile_total" and sample.labels["result"] == result:
                    total += sample.value
        return total

    def post(self, body: bytes, headers: dict[str, str], url: str | None = None) -> int:
        req = urllib.request.Request((url or self.webhook_url or self.url) + "/webhook",
                                     data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def terminate(self, timeout: float = 25.0) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            time.sleep(0.5)
            raise AssertionError(f"the daemon did not exit within {timeout:g} s of SIGTERM; "
                                 "its last lines:\n" + "".join(self.raw[-60:])) from None
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def proc_status(pid: int) -> tuple[int, int]:
    """The process's resident memory (VmRSS, kB) and thread count, from /proc."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["Threads"]


def series(daemon: DaemonProcess, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of `name` on /metrics in one scrape, with its labels."""
    _, text = daemon.get("/metrics")
    return [(dict(sample.labels), float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]
