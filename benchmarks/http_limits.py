"""Benchmark: the daemon's HTTP listener under hostile and bursty clients, in figures.

Run: .venv/bin/python benchmarks/http_limits.py [--checkout DIR] [--nofile SOFT] [--held N]
                                                 [--only held,bodies,burst,form,disconnect]

Each reproduction starts `python -m controller run` from `--checkout` (default
this tree) with this interpreter, against its own moto server and a git repo of
desired/, with the GITOPS_* settings the end-to-end tests use, so an older
commit is measured side by side with the current one:

    git worktree add /tmp/before-http HEAD
    .venv/bin/python benchmarks/http_limits.py --checkout /tmp/before-http

`--nofile` starts the daemon with that soft RLIMIT_NOFILE (the hard limit as
this shell has it), like a container runtime's low default soft limit. It
prints figures and asserts nothing: tests/e2e/test_http_limits.py asserts, with
the same clients (tests/httpclients.py).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from controller.emulator import start_moto
from tests import httpclients as hc
from tests.daemonproc import DaemonProcess, make_repo, wait_for
from tests.stacks import DESIRED

SECRET = "bench-webhook-secret"
PROD_ACCOUNT = "222222222222"


class Bench:
    def __init__(self, checkout: Path, work: Path, nofile: int | None, holds: int) -> None:
        self.checkout, self.work, self.nofile, self.holds = checkout, work, nofile, holds
        self.repo = make_repo(work / "repo", DESIRED)
        self.started: list[DaemonProcess] = []

    def daemon(self, interval: str = "3600") -> DaemonProcess:
        """A fresh daemon (fresh memory and descriptors) whose first run has finished."""
        env = {"PYTHONPATH": str(self.checkout), "GITOPS_REPO": f"file://{self.repo}",
               "GITOPS_PATH": "desired/prod", "GITOPS_REF": "main",
               "GITOPS_LISTEN": "127.0.0.1:0", "GITOPS_INTERVAL_SECONDS": interval,
               "GITOPS_MODE": "enforce", "GITOPS_WEBHOOK_SECRET": SECRET,
               "GITOPS_CACHE_DIR": str(self.work / f"cache-{len(self.started)}")}
        saved = resource.getrlimit(resource.RLIMIT_NOFILE)
        if self.nofile:  # only the soft limit: an unprivileged process cannot raise a hard one
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, saved[1]))
        try:
            daemon = DaemonProcess(env)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, saved)
        self.started.append(daemon)
        wait_for(lambda: runs(daemon) >= 1, 120, what="the first run")
        return daemon


def runs(daemon: DaemonProcess) -> float:
    """Reconcile runs finished, whatever their result (0 if /metrics does not answer)."""
    try:
        return sum(daemon.runs(result) for result in ("success", "error", "invalid"))
    except OSError:
        return 0


def delivery(form: bool = False) -> bytes:
    body, headers = hc.github_delivery(hc.github_push("refs/heads/main"), SECRET, form=form)
    return hc.request("POST", "/webhook", headers, body)


def settle(daemon: DaemonProcess, quiet: float = 4.0, within: float = 60.0) -> float:
    """Wait until no run has finished for `quiet` seconds; the number of runs then."""
    deadline = time.monotonic() + within
    last, since = runs(daemon), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.5)
        now = runs(daemon)
        if now != last:
            last, since = now, time.monotonic()
    return last


def non_json(daemon: DaemonProcess) -> list[str]:
    bad = []
    for line in list(daemon.raw):
        try:
            json.loads(line)
        except ValueError:
            bad.append(line.rstrip())
    return bad


def counts(outcomes: list[hc.Outcome]) -> str:
    return ", ".join(f"{k}: {n}" for k, n in collections.Counter(outcomes).most_common())


# -- the reproductions --------------------------------------------------------------------


def held(b: Bench) -> list[str]:
    daemon = b.daemon(interval="5")  # scheduled runs go on while the connections are held
    pid = daemon.proc.pid
    fds_before = hc.open_fds(pid)
    socks = hc.hold_half_sent(daemon.url, b.holds, timeout=2)
    mark, opened = len(daemon.lines), time.monotonic()
    time.sleep(0.5)
    rows = [f"held   {b.holds} half-sent requests: {len(socks)} connected; daemon fds "
            f"{fds_before} -> {hc.open_fds(pid)} (soft limit "
            f"{resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]})"]
    for path in ("/healthz", "/metrics", "/healthz"):
        at = time.monotonic() - opened
        outcome, seconds = hc.timed_get(daemon.url, path, timeout=10)
        rows.append(f"held   GET {path} {at:.1f} s after all were open: {outcome} "
                    f"in {seconds:.3f} s")
        time.sleep(max(0.0, opened + 1.5 - time.monotonic()))  # past the eviction age
    started = time.monotonic()
    outcome = hc.send_one(daemon.url, delivery(), timeout=10)
    rows.append(f"held   signed delivery while held: {outcome} in "
                f"{time.monotonic() - started:.3f} s")
    time.sleep(max(0.0, opened + 12 - time.monotonic()))
    held_for = time.monotonic() - opened
    since = daemon.lines[mark:]
    results = collections.Counter(line.get("result") for line in since
                                  if line.get("event") == "reconcile finished")
    emfile = sum("Too many open files" in json.dumps(line) for line in since)
    rows.append(f"held   runs finished in the {held_for:.0f} s held (interval 5 s): "
                f"{dict(results) or 'none'}; log lines with 'Too many open files': {emfile}")
    cut = hc.closed_by_server(socks, within=0.5)
    rows.append(f"held   connections the server had cut off {held_for:.0f} s after they were "
                f"all open: {cut} of {len(socks)}")
    hc.close_all(socks)
    dripped = hc.drip(daemon.url, every=1.0, within=15)
    rows.append("held   one byte a second: " + (f"cut off after {dripped:.1f} s" if dripped
                                                  else "still open after 15 s"))
    daemon.kill()
    return rows


def bodies(b: Bench) -> list[str]:
    daemon = b.daemon()
    pid = daemon.proc.pid
    _, headers = hc.github_delivery(hc.github_push("refs/heads/main"), SECRET, form=False)
    baseline = hc.rss_mib(pid)
    held_bodies = hc.hold_bodies(daemon.url, 284, hc.MIB, headers, within=20)
    time.sleep(1.0)
    rss = hc.rss_mib(pid)
    outcome, seconds = hc.timed_get(daemon.url, "/healthz", timeout=10)
    rows = [f"bodies 284 POSTs of 1 MiB, all but the last byte sent: "
            f"{len(held_bodies.socks)} connected, {held_bodies.held} held, "
            f"{held_bodies.refused} refused, {held_bodies.connect_failed} connect failures, "
            f"{held_bodies.sent / hc.MIB:.0f} MiB taken in",
            f"bodies daemon RSS {baseline:.0f} MiB -> {rss:.0f} MiB while held "
            f"(+{rss - baseline:.0f} MiB); GET /healthz: {outcome} in {seconds:.3f} s"]
    hc.close_all(held_bodies.socks)
    daemon.kill()
    return rows


def burst(b: Bench) -> list[str]:
    daemon = b.daemon()
    before = settle(daemon, quiet=1)
    started = time.monotonic()
    outcomes = hc.burst(daemon.url, [delivery()] * 200, timeout=20)
    seconds = time.monotonic() - started
    after = settle(daemon)
    bad = non_json(daemon)
    daemon.kill()
    first = f"; first: {bad[0][:120]!r}" if bad else ""
    return [f"burst  200 signed deliveries at once: {counts(outcomes)} in {seconds:.2f} s",
            f"burst  reconcile runs they started: {after - before:.0f}; "
            f"non-JSON output lines: {len(bad)}{first}"]


def form(b: Bench) -> list[str]:
    daemon = b.daemon()
    before = settle(daemon, quiet=1)
    outcome = hc.send_one(daemon.url, delivery(form=True))
    try:
        logged = wait_for(lambda: daemon.find("webhook"), 5, what="the webhook log line")
        message = logged.get("message") if logged else None
    except AssertionError:
        message = None
    after = settle(daemon, quiet=3)
    daemon.kill()
    return [f"form   GitHub's default form-encoded push: {outcome} ({message!r}); "
            f"runs it started: {after - before:.0f}"]


def disconnect(b: Bench) -> list[str]:
    daemon = b.daemon()
    raw = delivery()
    head = raw.index(b"\r\n\r\n") + 4
    for keep, reset in ((20, False), (head + 100, False), (head + 100, True), (len(raw), True)):
        hc.cut_off(daemon.url, raw, keep, reset=reset)
    time.sleep(1.0)
    outcome = hc.send_one(daemon.url, hc.request("GET", "/healthz"))
    bad = non_json(daemon)
    daemon.kill()
    first = f"; first: {bad[0][:100]!r}" if bad else ""
    return [f"disc.  4 clients gone mid-request (mid-head, mid-body FIN and RST, before the "
            f"answer): {len(bad)} non-JSON output lines{first}; /healthz then: {outcome}"]


REPRODUCTIONS: dict[str, Callable[[Bench], list[str]]] = {
    "held": held, "bodies": bodies, "burst": burst, "form": form, "disconnect": disconnect}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--nofile", type=int, default=0, help="the daemon's soft RLIMIT_NOFILE")
    parser.add_argument("--held", type=int, default=210, help="half-sent requests to hold")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(REPRODUCTIONS))
    args = parser.parse_args()
    wanted = [n for n in args.only.split(",") if n] or list(REPRODUCTIONS)
    moto = start_moto(PROD_ACCOUNT)
    os.environ.update(AWS_ENDPOINT_URL=moto.url, AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    for name in ("AWS_PROFILE", "AWS_REGION", "GITOPS_GIT_TOKEN"):
        os.environ.pop(name, None)
    try:
        with tempfile.TemporaryDirectory(prefix="http-limits-") as tmp:
            os.chdir(tmp)  # `python -m` puts the working directory first on sys.path
            bench = Bench(args.checkout.resolve(), Path(tmp), args.nofile or None, args.held)
            print(f"checkout {bench.checkout}, daemon RLIMIT_NOFILE "
                  f"{args.nofile or 'inherited'}", flush=True)
            for name in wanted:
                try:
                    for row in REPRODUCTIONS[name](bench):
                        print(row, flush=True)
                except Exception as err:  # one broken reproduction must not hide the others
                    print(f"-- {name}: {type(err).__name__}: {err}", flush=True)
                finally:
                    for daemon in bench.started:
                        daemon.kill()
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
