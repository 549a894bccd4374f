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
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOKEN_VAR = "GITOPS_GIT_TOKEN_INTERNAL"
USERNAME_VAR = "GITOPS_GIT_USERNAME_INTERNAL"
# Answers only `get`; the literal variable names (not their values) are on the command line.
CREDENTIAL_HELPER = (f'!f() {{ test "$1" = get || exit 0; echo "username=${USERNAME_VAR}"; '
                     f'echo "password=${TOKEN_VAR}"; }}; f')

# Variables that would point our git commands at another repository or index.
_REPO_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
              "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
              "GIT_PREFIX", "GIT_CEILING_DIRECTORIES")


class SourceError(Exception):
    """The desired state could not be read from git: unreachable, missing ref, timeout."""


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

    def run(self, args: Sequence[str], *, timeout: float,
            env: Mapping[str, str] | None = None, what: str = "git") -> GitResult:
        """Run `git <args>`; raises SourceError on timeout (never on a non-zero exit)."""
        command = ["git", f"--git-dir={self.git_dir}", *self._config(), *args]
        child_env = self._env(env)
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=child_env,
                                    start_new_session=True)
        except OSError as err:
            raise SourceError(f"{what}: cannot run git: {err.strerror}") from None
        try:
            out, errs = proc.communicate(timeout=max(timeout, 0.001))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise SourceError(f"{what}: timed out") from None
        return GitResult(proc.returncode, out.decode(errors="replace"),
                         self.scrub(errs.decode(errors="replace")))

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
        if self.token:
            # An empty value resets helpers from the user's config; then only ours answers.
            config += ["-c", "credential.helper=", "-c", f"credential.helper={CREDENTIAL_HELPER}"]
        return config

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in _REPO_VARS and k != "GITOPS_GIT_TOKEN"}
        # No prompt of any kind (an empty GIT_ASKPASS also skips core.askPass), and
        # English messages, which fetch() reads to tell a missing ref from other errors.
        env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", LC_ALL="C", LANGUAGE="C")
        if self.token:
            env[TOKEN_VAR] = self.token
            env[USERNAME_VAR] = self.username
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


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill git and its helpers (git-remote-https, ssh), then reap them."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
