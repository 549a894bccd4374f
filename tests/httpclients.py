"""Hostile and bursty HTTP clients for the daemon's listeners, over loopback.

Shared by tests/e2e/test_http_limits.py and benchmarks/http_limits.py, so the
figures in a report and the assertions in CI come from the same clients.
Every function is bounded in time: it gives up by deadline and reports what it
saw (a status code, or the name of the socket error) instead of hanging.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024
Outcome = int | str  # a status code, or what happened instead ("closed", "ConnectionResetError")


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def request(method: str, path: str, headers: dict[str, str] | None = None,
            body: bytes | None = None, *, length: int | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request; `length` may announce more than `body` holds."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None or length is not None:
        lines.append(f"Content-Length: {len(body or b'') if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def status_of(sock: socket.socket, timeout: float) -> Outcome:
    """Read the status line of the answer: its code, "closed", or the error's name."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as err:
        return type(err).__name__
    parts = data.split(b"\r\n", 1)[0].split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else "closed"


def send_one(url: str, raw: bytes, timeout: float = 10.0) -> Outcome:
    """One request on its own connection; the status of the answer."""
    try:
        with socket.create_connection(host_port(url), timeout=timeout) as sock:
            sock.sendall(raw)
            return status_of(sock, timeout)
    except OSError as err:
        return type(err).__name__


def timed_get(url: str, path: str, timeout: float = 10.0) -> tuple[Outcome, float]:
    """GET `path`: the status and how long the whole exchange took."""
    started = time.monotonic()
    outcome = send_one(url, request("GET", path), timeout)
    return outcome, time.monotonic() - started


def hold_half_sent(url: str, count: int, timeout: float = 5.0) -> list[socket.socket]:
    """`count` connections that each send a request line and half a header, then nothing."""
    held = []
    for _ in range(count):
        try:
            sock = socket.create_connection(host_port(url), timeout=timeout)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Held: ")
        except OSError:
            continue  # a refused or failed connect is the server's answer, not ours to hold
        held.append(sock)
    return held


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.close()


def answered(sock: socket.socket) -> bool:
    """Whether the server has answered, closed or reset this (non-blocking) connection."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def closed_by_server(socks: list[socket.socket], within: float) -> int:
    """How many of `socks` the server has answered or closed, waiting up to `within` s."""
    deadline = time.monotonic() + within
    for sock in socks:
        sock.setblocking(False)
    pending, done = list(socks), 0
    while True:
        still = [sock for sock in pending if not answered(sock)]
        done += len(pending) - len(still)
        pending = still
        if not pending or time.monotonic() >= deadline:
            return done
        time.sleep(0.05)


@dataclass
class HeldBodies:
    """POSTs announcing a body and sending all of it but its last byte."""

    socks: list[socket.socket] = field(default_factory=list)
    sent: int = 0           # body bytes the server's kernel took in, in total
    refused: int = 0        # connections answered, closed or reset by the server
    connect_failed: int = 0

    @property
    def held(self) -> int:
        return len(self.socks) - self.refused


def hold_bodies(url: str, count: int, size: int, headers: dict[str, str],
                path: str = "/webhook", within: float = 8.0,
                answers_within: float = 0.5) -> HeldBodies:
    """Open `count` POSTs of `size` bytes and push all but the last byte, round-robin.

    Non-blocking: a server that stops reading makes a sender give up (once the
    kernel buffers are full), never hang; `within` bounds the sending. Then
    `answers_within` seconds are left for the server to answer the ones it refuses.
    """
    held = HeldBodies()
    left: dict[socket.socket, int] = {}
    chunk = b"x" * (256 * 1024)
    for _ in range(count):
        try:
            sock = socket.create_connection(host_port(url), timeout=5)
            sock.sendall(request("POST", path, headers, length=size))
        except OSError:
            held.connect_failed += 1
            continue
        sock.setblocking(False)
        held.socks.append(sock)
        left[sock] = size - 1
    deadline = time.monotonic() + within
    stalled_since = time.monotonic()
    while left and time.monotonic() < deadline and time.monotonic() - stalled_since < 1.0:
        progress = False
        for sock in list(left):
            try:
                n = sock.send(chunk[:min(len(chunk), left[sock])])
            except BlockingIOError:
                continue
            except OSError:
                del left[sock]
                continue
            held.sent += n
            left[sock] -= n
            progress = progress or n > 0
            if not left[sock]:
                del left[sock]
        if progress:
            stalled_since = time.monotonic()
        else:
            time.sleep(0.02)
    time.sleep(answers_within)
    held.refused = sum(answered(sock) for sock in held.socks)
    return held


def burst(url: str, raws: list[bytes], timeout: float = 15.0) -> list[Outcome]:
    """Each request on its own connection, all connecting at the same instant."""
    outcomes: list[Outcome] = ["not sent"] * len(raws)
    gate = threading.Barrier(len(raws))

    def one(i: int) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout)
        outcomes[i] = send_one(url, raws[i], timeout)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(raws))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return outcomes


def drip(url: str, every: float, within: float) -> float | None:
    """Send a request one byte every `every` seconds: how long until the server cut it off.

    None if the server still had not answered or closed after `within` seconds.
    """
    raw = request("GET", "/healthz", {"X-Padding": "p" * 200})
    started = time.monotonic()
    with socket.create_connection(host_port(url), timeout=5) as sock:
        sock.setblocking(False)
        for byte in raw:
            try:
                sock.send(bytes([byte]))
            except BlockingIOError:
                pass
            except OSError:
                return time.monotonic() - started
            if answered(sock):
                return time.monotonic() - started
            if time.monotonic() - started > within:
                return None
            time.sleep(every)
    return None


def cut_off(url: str, raw: bytes, keep: int, *, reset: bool) -> None:
    """Send the first `keep` bytes of a request, then vanish (a FIN, or an RST if `reset`)."""
    sock = socket.create_connection(host_port(url), timeout=5)
    sock.sendall(raw[:keep])
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


# -- what the daemon process uses --------------------------------------------------------


def rss_mib(pid: int) -> float:
    """The process's resident memory (VmRSS), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- deliveries as GitHub sends them -----------------------------------------------------


def github_push(ref: str, after: str = "0" * 40) -> dict[str, Any]:
    """A push event shaped like GitHub's (a trimmed version of what it sends)."""
    owner = {"name": "iq-theory", "login": "iq-theory", "id": 4242, "type": "Organization",
             "url": "https://api.github.com/users/iq-theory", "site_admin": False}
    repository = {"id": 123456, "node_id": "R_kgDOBexample", "name": "infra",
                  "full_name": "iq-theory/infra", "private": True, "owner": owner,
                  "html_url": "https://github.com/iq-theory/infra", "description": None,
                  "fork": False, "default_branch": "main", "master_branch": "main",
                  "clone_url": "https://github.com/iq-theory/infra.git",
                  "pushed_at": 1700000000, "topics": [], "visibility": "private"}
    commit = {"id": after, "tree_id": "1" * 40, "distinct": True,
              "message": "deploy api 1.5.0\n\nSigned-off-by: A Dev <dev@example.com>",
              "timestamp": "2024-05-01T12:00:00+02:00",
              "url": f"https://github.com/iq-theory/infra/commit/{after}",
              "author": {"name": "A Dev", "email": "dev@example.com", "username": "adev"},
              "committer": {"name": "GitHub", "email": "noreply@github.com",
                            "username": "web-flow"},
              "added": [], "removed": [], "modified": ["desired/prod/stack.yaml"]}
    return {"ref": ref, "before": "2" * 40, "after": after, "created": False,
            "deleted": False, "forced": False, "base_ref": None,
            "compare": "https://github.com/iq-theory/infra/compare/222222222222...",
            "commits": [commit], "head_commit": commit, "repository": repository,
            "pusher": {"name": "adev", "email": "dev@example.com"},
            "sender": {"login": "adev", "id": 77, "type": "User", "site_admin": False}}


def github_delivery(payload: dict[str, Any], secret: str, *, form: bool,
                    event: str = "push") -> tuple[bytes, dict[str, str]]:
    """Body and headers as GitHub sends them, JSON or (its default) form-encoded."""
    text = json.dumps(payload)
    if form:
        body = urllib.parse.urlencode({"payload": text}).encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        body, ctype = text.encode(), "application/json"
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": ctype, "X-GitHub-Event": event,
                  "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                  "X-Hub-Signature-256": signature, "User-Agent": "GitHub-Hookshot/044aadd"}
