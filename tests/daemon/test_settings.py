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
    assert s.parallelism == 10  # as Terraform's -parallelism
    assert load_settings({**BASE, "GITOPS_PARALLELISM": "1"}).parallelism == 1


@pytest.mark.parametrize(("env", "named"), [
    ({"GITOPS_PATH": "desired/prod"}, "GITOPS_REPO"),
    ({"GITOPS_REPO": "x"}, "GITOPS_PATH"),
    ({**BASE, "GITOPS_MODE": "yolo"}, "GITOPS_MODE"),
    ({**BASE, "GITOPS_INTERVAL_SECONDS": "0"}, "GITOPS_INTERVAL_SECONDS"),
    ({**BASE, "GITOPS_INTERVAL_SECONDS": "soon"}, "GITOPS_INTERVAL_SECONDS"),
    ({**BASE, "GITOPS_LISTEN": "8080"}, "GITOPS_LISTEN"),
    ({**BASE, "GITOPS_WEBHOOK_LISTEN": "host:http"}, "GITOPS_WEBHOOK_LISTEN"),
    ({**BASE, "GITOPS_GIT_TIMEOUT_SECONDS": "-1"}, "GITOPS_GIT_TIMEOUT_SECONDS"),
    ({**BASE, "GITOPS_PATH": "../../etc"}, "GITOPS_PATH"),
    ({**BASE, "GITOPS_PATH": "/etc"}, "GITOPS_PATH"),
    ({**BASE, "GITOPS_INTERVAL_SECONDS": "nan"}, "GITOPS_INTERVAL_SECONDS"),
    ({**BASE, "GITOPS_INTERVAL_SECONDS": "inf"}, "GITOPS_INTERVAL_SECONDS"),
    ({**BASE, "GITOPS_INTERVAL_SECONDS": "1e-9"}, "GITOPS_INTERVAL_SECONDS"),
    ({**BASE, "GITOPS_GIT_TIMEOUT_SECONDS": "nan"}, "GITOPS_GIT_TIMEOUT_SECONDS"),
    ({**BASE, "GITOPS_GIT_TIMEOUT_SECONDS": "inf"}, "GITOPS_GIT_TIMEOUT_SECONDS"),
    ({**BASE, "GITOPS_PARALLELISM": "0"}, "GITOPS_PARALLELISM"),
    ({**BASE, "GITOPS_PARALLELISM": "101"}, "GITOPS_PARALLELISM"),
    ({**BASE, "GITOPS_PARALLELISM": "ten"}, "GITOPS_PARALLELISM"),
    ({**BASE, "GITOPS_REF": "-x"}, "GITOPS_REF"),
    ({**BASE, "GITOPS_REF": "main..other"}, "GITOPS_REF"),
    ({**BASE, "GITOPS_REPO": "ftp://example.com/repo"}, "GITOPS_REPO"),
    ({**BASE, "GITOPS_REPO": "http://git.example.com/repo", "GITOPS_GIT_TOKEN": "t"},
     "GITOPS_REPO"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_secrets_stay_out_of_repr() -> None:
    s = load_settings({**BASE, "GITOPS_WEBHOOK_SECRET": "whsec-123",
                       "GITOPS_GIT_TOKEN": "tok-456"})
    assert "whsec-123" not in repr(s) and "tok-456" not in repr(s)


def test_a_token_in_the_repository_url_stays_out_of_repr() -> None:
    s = load_settings({**BASE, "GITOPS_REPO": "https://x-access-token:tok-789@git.example.com/r"})
    assert "tok-789" not in repr(s) and "git.example.com/r" in repr(s)
