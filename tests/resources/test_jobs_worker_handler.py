"""The jobs worker's handler (desired/base/functions/jobs-worker/handler.py), run here as
Lambda runs it: an SQS batch in, the failed records out. moto cannot invoke a function
without Docker, so the module is imported from its folder and called."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.stacks import DESIRED

FOLDER = DESIRED / "base" / "functions" / "jobs-worker"


@pytest.fixture(scope="module")
def worker() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("jobs_worker_handler", FOLDER / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    level, no_pyc = logging.getLogger().level, sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no __pycache__ left in desired/
    try:
        spec.loader.exec_module(module)  # sets the root logger's level, as Lambda's has it
    finally:
        sys.dont_write_bytecode = no_pyc
    yield module
    logging.getLogger().setLevel(level)


def record(message_id: str, body: str) -> dict[str, Any]:
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs",
            "attributes": {"ApproximateReceiveCount": "1"}}


def test_good_jobs_are_logged_one_line_each(worker: ModuleType,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    event = {"Records": [record("m1", json.dumps({"type": "score", "id": 7})),
                         record("m2", json.dumps({"type": "email"}))]}
    assert worker.handler(event, None) == {"batchItemFailures": []}
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["job m1: type=score receive=1", "job m2: type=email receive=1"]


@pytest.mark.parametrize("body", ["not json", "[1, 2]", ""], ids=["text", "a list", "empty"])
def test_a_malformed_body_fails_its_record_alone(worker: ModuleType, body: str) -> None:
    # listed in batchItemFailures: only it returns to the queue, and after maxReceiveCount
    # receives the queue's redrive moves it to the DLQ; the good ones are done
    event = {"Records": [record("ok-1", "{}"), record("bad", body), record("ok-2", "{}")]}
    assert worker.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    with pytest.raises(worker.MalformedJob):
        worker.process(record("bad", body))


def test_the_folder_is_stdlib_only_and_holds_the_handler() -> None:
    files = sorted(p.name for p in FOLDER.iterdir() if p.name != "__pycache__")
    assert files == ["handler.py"]
    source = (FOLDER / "handler.py").read_text()
    imports = {line.split()[1] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "json", "logging", "os", "typing"}
