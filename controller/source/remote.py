"""What a repository URL means to us: where to fetch, how to show it, where to cache it.

Credentials never stay in a URL: a password (token) embedded in an https URL is
taken out and handed to git through its credential mechanism instead, so it can
reach neither the clone's config, nor a command line, nor a log or an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from controller.cachedir import cache_folder

DEFAULT_USERNAME = "x-access-token"  # what GitHub and most forges expect with a token


@dataclass(frozen=True)
class Remote:
    """A repository location with its credentials split out."""

    fetch_url: str  # what git is given: a path, or a URL without any password
    display: str  # what people see: no user information at all
    username: str = DEFAULT_USERNAME
    token: str | None = field(default=None, repr=False)

    @property
    def https_host(self) -> str | None:
        """`host[:port]` that may receive the token: the configured one, and only over https."""
        if not self.fetch_url.startswith("https://"):
            return None
        return urlsplit(self.fetch_url).netloc.rpartition("@")[2] or None

    @property
    def key(self) -> str:
        """A stable name for the local clone: the same repository maps to the same folder."""
        return hashlib.sha256(self.fetch_url.encode()).hexdigest()[:16]


def parse_remote(url: str, token: str | None = None) -> Remote:
    """Split `url` into a credential-free fetch URL, a display form and the token.

    An explicit `token` wins over a password written into the URL. A local path
    becomes absolute, so the clone (run from its own folder) finds it.
    """
    if "://" not in url:
        local = Path(url).expanduser()
        if local.exists() or url.startswith((".", "/", "~")):
            path = str(local.resolve())
            return Remote(path, path, token=token or None)
        return Remote(url, _strip_scp_user(url), token=token or None)  # git@host:org/repo
    parts = urlsplit(url)
    username = parts.username or DEFAULT_USERNAME
    secret = token or parts.password or None
    keep_user = f"{parts.username}@" if parts.username and not parts.password else ""
    fetch = urlunsplit(_with_netloc(parts, keep_user + _host_port(parts)))
    display = urlunsplit(_with_netloc(parts, _host_port(parts)))
    return Remote(fetch, display, username, secret)


def redact(url: str) -> str:
    """The URL without any user information, for messages about a URL we did not parse."""
    if "://" not in url:
        return _strip_scp_user(url)
    parts = urlsplit(url)
    return urlunsplit(_with_netloc(parts, _host_port(parts)))


def default_cache_dir(remote: Remote) -> Path:
    """`<cache folder>/<key>` (controller/cachedir.py; GITOPS_CACHE_DIR is the daemon's
    clone folder itself, set apart by the caller). The key is a hash of the
    credential-free URL, so rotating a token keeps the clone."""
    return cache_folder(remote.key)


def _host_port(parts: SplitResult) -> str:
    return parts.netloc.rpartition("@")[2]


def _with_netloc(parts: SplitResult, netloc: str) -> SplitResult:
    return parts._replace(netloc=netloc)


def _strip_scp_user(url: str) -> str:
    head, sep, tail = url.partition(":")
    if sep and "@" in head and "/" not in head:
        return f"{head.rpartition('@')[2]}:{tail}"
    return url
