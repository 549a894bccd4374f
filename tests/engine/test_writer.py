"""One writer per stack on a machine (controller/engine/writer.py): the lock another
writer holds is refused at once or after a wait, names its holder, is per stack and
account, and dies with its process (SIGKILL included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from controller.engine.writer import StackLocked, one_writer


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_second_writer_is_refused_with_who_holds_the_stack() -> None:
    with one_writer("iq-theory-prod", "222222222222", "gitops apply"), \
            pytest.raises(StackLocked) as refused, \
            one_writer("iq-theory-prod", "222222222222", "the daemon (gitops run)"):
        pytest.fail("two writers at once")
    message = str(refused.value)
    assert f"gitops apply (pid {os.getpid()} on " in message
    assert "stack iq-theory-prod is being written by" in message
    assert "--lock-timeout" in message and "nothing was written" in message


def test_other_stacks_and_accounts_are_not_held() -> None:
    with one_writer("iq-theory-prod", "222222222222", "gitops apply"), \
            one_writer("iq-theory-dev", "111111111111", "gitops apply"), \
            one_writer("iq-theory-prod", "333333333333", "gitops apply"):
        pass


def test_a_writer_waits_up_to_its_timeout_for_the_lock() -> None:
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with one_writer("iq-theory-prod", "222222222222", "gitops apply"):
            holding.set()
            release.wait(5)

    first = threading.Thread(target=hold)
    first.start()
    holding.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    with one_writer("iq-theory-prod", "222222222222", "the daemon", timeout=5):
        assert 0.2 < time.monotonic() - started < 5
    first.join()


def test_the_lock_dies_with_a_killed_writer(cache: Path) -> None:
    code = ("import sys, time\n"
            "from controller.engine.writer import one_writer\n"
            "with one_writer('iq-theory-prod', '222222222222', 'gitops apply'):\n"
            "    print('held', flush=True); time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "GITOPS_CACHE_DIR": str(cache)})
    assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
    with pytest.raises(StackLocked, match=f"pid {writer.pid} "), \
            one_writer("iq-theory-prod", "222222222222", "gitops apply"):
        pass
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)
    with one_writer("iq-theory-prod", "222222222222", "gitops apply"):
        pass


def test_a_holder_note_that_is_not_ours_reads_as_another_process(cache: Path) -> None:
    """The lock file is only a note: garbage or a huge file in it costs a bounded read."""
    path = cache / "locks" / "222222222222-iq-theory-prod.lock"
    with one_writer("iq-theory-prod", "222222222222", "gitops apply"):
        path.write_text("[" * 100_000)
        with pytest.raises(StackLocked, match="written by another process"), \
                one_writer("iq-theory-prod", "222222222222", "gitops apply"):
            pass
