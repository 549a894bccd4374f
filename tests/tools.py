"""External programs the tests need, found the same way everywhere."""

from __future__ import annotations

import os
import shutil

import pytest

PROMETHEUS_HINT = "Debian: apt-get install --no-install-recommends prometheus"


def require_binary(name: str, hint: str = PROMETHEUS_HINT) -> str:
    """The path of `name`; a skip with the reason without it, a failure under CI=true.

    .ci/run installs these, so in CI a missing one is a broken set-up, not a reason to skip.
    """
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed ({hint})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires it: .ci/run installs it")
        pytest.skip(reason)
    return path
