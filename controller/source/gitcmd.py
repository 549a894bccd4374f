"""Running the `git` CLI safely: a deadline, no prompts, and secrets kept out of sight.

Why the git CLI and not a library: it is the reference implementation of every
transport (https, ssh, file), it honours the usual SSH and proxy settings, and
it adds no Python dependency. Why these precautions:

- a hung remote must not hang a reconcile run, so each call has a timeout and
  the whole process group (git and its transport helpers) is killed on expiry;
- git must never wait for a password on a terminal (GIT_TERMINAL_PROMPT=0);
- a token is handed over by a credential helper that reads it from the child's
  environment, so it is on no command line, in no URL, config, log or message;
- the caller's GIT_DIR, GIT_INDEX_FILE and the like are dropped, so running
  inside a git hook or a CI checkout cannot redirect our commands.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

TOKEN_VAR = "GITOPS_GIT_TOKEN_INTERNAL"
USERNAME_VAR = "GITOPS_GIT_USERNAME_INTERNAL"
HOST_VAR = "GITOPS_GIT_HOST_INTERNAL"
# Answers only `get`, and only when git asks for the configured host over https (git also
# scopes the helper to that URL: this is the second lock). Only the variable names, never
# their values, are on the command line.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; p=; h=; '
    'while IFS= read -r line && test -n "$line"; do case "$line" in '
    'protocol=*) p="${line#protocol=}";; host=*) h="${line#host=}";; esac; done; '
    'test "$p" = https && test "$h" = "$HOST" || exit 0; '
    'echo "username=$USER"; echo "password=$TOKEN"; }; f'
).replace("$HOST", "$" + HOST_VAR).replace("$USER", "$" + USERNAME_VAR).replace(
    "$TOKEN", "$" + TOKEN_VAR)

# Variables that would point our git commands at another repository or index.
_REPO_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
              "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
              "GIT_PREFIX", "GIT_CEILING_DIRECTORIES")


class SourceError(Exception):
    """The desired state could not be read from git: unreachable, missing ref, timeout."""


# Stdout kept from one git command: listings and file contents of a stack are far smaller.
MAX_OUTPUT = 64 * 1024 * 1024
# stderr kept: git's messages are short; a flood is cut, its end is what matters.
MAX_STDERR = 64 * 1024


class _ChildRegistry:
    """The git processes running now, so a shutdown can end them instead of waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> int:
        """Kill every running git (and its helpers); returns how many there were."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        return len(procs)


CHILDREN = _ChildRegistry()


class _TooMuchOutput(Exception):
    pass


@dataclass
class RawResult:
    returncode: int
    stdout: bytes
    stderr: str


@dataclass
class GitResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Git:
    """Runs git commands against one repository folder (`git_dir`)."""

    git_dir: Path
    token: str | None = field(default=None, repr=False)
    username: str = "x-access-token"
    # `host[:port]` the token is for, over https; None: the token is never given to git.
    https_host: str | None = None

    def run(self, args: Sequence[str], *, timeout: float,
            env: Mapping[str, str] | None = None, what: str = "git",
            stdin: bytes | None = None, max_output: int = MAX_OUTPUT) -> GitResult:
        """Run `git <args>`; raises SourceError on timeout or past `max_output` bytes of
        stdout (never on a non-zero exit)."""
        raw = self.run_bytes(args, timeout=timeout, env=env, what=what, stdin=stdin,
                             max_output=max_output)
        return GitResult(raw.returncode, raw.stdout.decode(errors="replace"), raw.stderr)

    def run_bytes(self, args: Sequence[str], *, timeout: float,
                  env: Mapping[str, str] | None = None, what: str = "git",
                  stdin: bytes | None = None, max_output: int = MAX_OUTPUT) -> RawResult:
        """`run`, with stdout kept as bytes (file contents)."""
        command = ["git", f"--git-dir={self.git_dir}", *self._config(), *args]
        child_env = self._env(env)
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin is not None
                                    else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=child_env,
                                    start_new_session=True)
        except OSError as err:
            raise SourceError(f"{what}: cannot run git: {err.strerror}") from None
        CHILDREN.add(proc)
        try:
            out, errs = _collect(proc, stdin, max(timeout, 0.001), max_output)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise SourceError(f"{what}: timed out") from None
        except _TooMuchOutput:
            _kill_group(proc)
            raise SourceError(f"{what}: more than {max_output:,} bytes of output") from None
        finally:
            CHILDREN.discard(proc)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        return RawResult(proc.returncode, out, self.scrub(errs.decode(errors="replace")))

    def output(self, args: Sequence[str], *, timeout: float, what: str = "git") -> str:
        """Run git and return its stdout; a non-zero exit is a SourceError."""
        result = self.run(args, timeout=timeout, what=what)
        if not result.ok:
            raise SourceError(f"{what}: {reason(result.stderr)}")
        return result.stdout.strip()

    def scrub(self, text: str) -> str:
        """Defence in depth: git should never echo the token, but if it does, hide it."""
        if self.token:
            text = text.replace(self.token, "***")
        return text

    def _config(self) -> list[str]:
        # credential.interactive: keeps Git Credential Manager from opening a dialog.
        config = ["-c", "credential.interactive=false"]
        if self.token and self.https_host:
            # An empty value resets helpers from the user's config; then only ours answers,
            # and git asks it only for https://<the configured host> (not after a redirect
            # to another host, not over http).
            config += ["-c", "credential.helper=",
                       "-c", f"credential.https://{self.https_host}.helper={CREDENTIAL_HELPER}"]
        return config

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in _REPO_VARS and k != "GITOPS_GIT_TOKEN"}
        # No prompt of any kind (an empty GIT_ASKPASS also skips core.askPass), and
        # English messages, which fetch() reads to tell a missing ref from other errors.
        env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", LC_ALL="C", LANGUAGE="C")
        if self.token and self.https_host:
            env[TOKEN_VAR] = self.token
            env[USERNAME_VAR] = self.username
            env[HOST_VAR] = self.https_host
        if extra:
            env.update(extra)
        return env


def reason(stderr: str) -> str:
    """The informative line of git's stderr: its first `fatal:`/`error:` line, else the last.

    git's last line is often boilerplate ("and the repository exists."), the
    first fatal line says what went wrong.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else "git failed without a message"


def _collect(proc: subprocess.Popen[bytes], stdin: bytes | None, timeout: float,
             max_output: int) -> tuple[bytes, bytes]:
    """communicate(), but by one deadline and with stdout bounded (a hostile repository's
    listing or blob must not fill memory)."""
    deadline = time.monotonic() + timeout
    if stdin is not None:
        assert proc.stdin is not None
        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        assert proc.stdout is not None and proc.stderr is not None
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if len(out) > max_output:
                    raise _TooMuchOutput
                if len(err) > 2 * MAX_STDERR:
                    del err[:-MAX_STDERR]
    proc.wait(timeout=max(deadline - time.monotonic(), 0.001))
    return bytes(out), bytes(err)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.write(data)
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill git and its helpers (git-remote-https, ssh), then reap them."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
