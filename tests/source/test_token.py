"""The https token reaches git's credential mechanism, and nothing else."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from controller.source import GitSource, SourceError, gitcmd
from tests.source.repos import Repo
from tests.source.tls import self_signed, server_context

TOKEN = "tok-SECRET-123"


def assert_nowhere(secret: str, *texts: str, folder: Path) -> None:
    for text in texts:
        assert secret not in text
    for file in folder.rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file


def test_the_token_never_leaks_from_a_failed_fetch(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    source = GitSource("https://127.0.0.1:1/repo.git", "main", token=TOKEN, cache_dir=cache)
    with pytest.raises(SourceError) as err:
        source.fetch()
    logged = capsys.readouterr()
    message = str(err.value)
    assert "'main'" in message and "https://127.0.0.1:1/repo.git" in message
    assert "Failed to connect" in message or "Couldn't connect" in message
    assert_nowhere(TOKEN, message, repr(err.value), repr(source), logged.out, logged.err,
                   folder=cache)
    assert TOKEN not in (cache / "repo.git" / "config").read_text()


def test_a_token_written_into_the_url_is_moved_out_of_it(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    secret = "tok-SECRET-456"
    cache = tmp_path / "cache"
    source = GitSource(f"https://x-access-token:{secret}@127.0.0.1:1/repo.git",
                       cache_dir=cache)
    assert source.url == "https://127.0.0.1:1/repo.git"
    assert source.remote.token == secret
    with pytest.raises(SourceError) as err:
        source.fetch()
    logged = capsys.readouterr()
    assert_nowhere(secret, str(err.value), repr(source), logged.out, logged.err, folder=cache)


# -- a real smart-HTTP server that wants the token -------------------------------


class GitHttp(BaseHTTPRequestHandler):
    """`git http-backend` behind HTTP basic auth: 401 unless the token comes along."""

    server: Any

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def _serve(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.server.seen.append(auth)
        if auth != self.server.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {**os.environ, "GIT_PROJECT_ROOT": str(self.server.root),
               "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
               "REQUEST_METHOD": self.command, "REMOTE_USER": "x", "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
               "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True, check=True, timeout=30).stdout
        # CGI output: headers, a blank line, the body (git writes CRLF line ends).
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class Redirect(BaseHTTPRequestHandler):
    """Sends every request on to `server.target` (another host)."""

    server: Any

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization", ""))
        self.send_response(302)
        self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler], repo: Repo, *, host: str = "127.0.0.1",
            tls: tuple[Path, Path] | None = None, target: str = "") -> Iterator[Any]:
    server = ThreadingHTTPServer((host, 0), handler)
    if tls is not None:
        server.socket = server_context(*tls).wrap_socket(server.socket, server_side=True)
    server.root = repo.path.parent  # type: ignore[attr-defined]
    server.seen = []  # type: ignore[attr-defined]
    server.expected = "Basic " + base64.b64encode(  # type: ignore[attr-defined]
        f"x-access-token:{TOKEN}".encode()).decode()
    server.target = target  # type: ignore[attr-defined]
    scheme = "https" if tls else "http"
    server.url = f"{scheme}://{host}:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A certificate git trusts, as it would a real host's."""
    cert, key = self_signed(tmp_path / "tls")
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))
    return cert, key


@pytest.fixture
def http_repo(repo: Repo, tls: tuple[Path, Path]) -> Iterator[tuple[str, ThreadingHTTPServer]]:
    with serving(GitHttp, repo, tls=tls) as server:
        yield f"{server.url}/{repo.path.name}", server


def test_the_token_reaches_the_server_through_the_credential_helper(
        http_repo: tuple[str, ThreadingHTTPServer], repo: Repo, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url, server = http_repo
    command_lines: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: list[str], **kwargs: Any) -> Any:
        command_lines.append(list(args))
        return real_popen(args, **kwargs)

    monkeypatch.setattr(gitcmd.subprocess, "Popen", recording_popen)
    cache = tmp_path / "cache"
    source = GitSource(url, "main", token=TOKEN, cache_dir=cache)

    assert source.fetch() == repo.head()
    assert server.expected in server.seen  # type: ignore[attr-defined]
    assert command_lines and not [c for c in command_lines if TOKEN in " ".join(c)]
    logged = capsys.readouterr()
    assert_nowhere(TOKEN, logged.out, logged.err, folder=cache)


def test_a_wrong_token_is_a_clear_error_without_the_token(
        http_repo: tuple[str, ThreadingHTTPServer], tmp_path: Path) -> None:
    url, _ = http_repo
    wrong = "tok-SECRET-wrong"
    source = GitSource(url, "main", token=wrong, cache_dir=tmp_path / "cache")
    with pytest.raises(SourceError) as err:
        source.fetch()
    assert "Authentication failed" in str(err.value)
    assert url in str(err.value) and wrong not in str(err.value)


def test_without_a_token_git_fails_instead_of_prompting(
        http_repo: tuple[str, ThreadingHTTPServer], tmp_path: Path) -> None:
    url, _ = http_repo
    source = GitSource(url, "main", cache_dir=tmp_path / "cache", timeout=20)
    with pytest.raises(SourceError) as err:
        source.fetch()
    assert "terminal prompts disabled" in str(err.value) or "Authentication" in str(err.value)


def test_the_token_is_never_sent_over_plain_http(repo: Repo, tmp_path: Path) -> None:
    with serving(GitHttp, repo) as server:
        source = GitSource(f"{server.url}/{repo.path.name}", "main", token=TOKEN,
                           cache_dir=tmp_path / "cache", timeout=20)
        with pytest.raises(SourceError):
            source.fetch()
    assert server.seen and not [a for a in server.seen if a]  # asked, and never answered


def test_the_token_does_not_follow_a_redirect_to_another_host(
        repo: Repo, tls: tuple[Path, Path], tmp_path: Path) -> None:
    with serving(GitHttp, repo, host="127.0.0.2", tls=tls) as elsewhere, \
            serving(Redirect, repo, tls=tls, target=elsewhere.url) as configured:
        source = GitSource(f"{configured.url}/{repo.path.name}", "main", token=TOKEN,
                           cache_dir=tmp_path / "cache", timeout=20)
        with pytest.raises(SourceError):
            source.fetch()
    assert configured.seen and elsewhere.seen  # the redirect was followed...
    assert not [a for a in elsewhere.seen if a]  # ...without the token
