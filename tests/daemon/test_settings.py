"""Settings: defaults as DESIGN.md's table says; a bad value names its variable."""

from __future__ import annotations

import pytest

from controller.daemon.settings import Address, SettingsError, load_settings

BASE = {"GITOPS_REPO": "file:///repo", "GITOPS_PATH": "desired/prod"}


def test_defaults() -> None:
    s = load_settings(BASE)
    assert (s.ref, s.interval_seconds, s.mode, s.listen, s.webhook_listen, s.webhook_secret,
            s.git_timeout_seconds) == ("main", 60.0, "enforce", Address("", 8080), None, None,
                                       30.0)


@pytest.mark.parametrize(("env", "named"), [
    ({"GITOPS_PATH": "desired/prod"}, "GITOPS_REPO"),
    ({"GITOPS_REPO": "x"}, "GITOPS_PATH"),
    ({**BASE, "GITOPS_MODE": "yolo"}, "GITOPS_MODE"),
    ({**BASE, "GITOPS_INTERVAL_SECONDS": "0"}, "GITOPS_INTERVAL_SECONDS"),
    ({**BASE, "GITOPS_INTERVAL_SECONDS": "soon"}, "GITOPS_INTERVAL_SECONDS"),
    ({**BASE, "GITOPS_LISTEN": "8080"}, "GITOPS_LISTEN"),
    ({**BASE, "GITOPS_WEBHOOK_LISTEN": "host:http"}, "GITOPS_WEBHOOK_LISTEN"),
    ({**BASE, "GITOPS_GIT_TIMEOUT_SECONDS": "-1"}, "GITOPS_GIT_TIMEOUT_SECONDS"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_secrets_stay_out_of_repr() -> None:
    s = load_settings({**BASE, "GITOPS_WEBHOOK_SECRET": "whsec-123",
                       "GITOPS_GIT_TOKEN": "tok-456"})
    assert "whsec-123" not in repr(s) and "tok-456" not in repr(s)
