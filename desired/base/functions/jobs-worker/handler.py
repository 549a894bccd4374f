"""IQ Theory jobs worker: the Lambda function (Python 3.12) fed by the SQS queue iq-theory-jobs.

Each record's body is one job, a JSON object; the worker logs one line per job. A body
that is not a JSON object fails that record alone: it is listed in `batchItemFailures`
(the event source mapping has ReportBatchItemFailures), so the other records of the
batch are done and deleted, and only this one returns to the queue; after the queue's
maxReceiveCount receives, SQS's redrive moves it to iq-theory-jobs-dlq for a person to
look at. Anything else raised fails the whole batch, which SQS then retries as a batch.
Standard library only: the folder is the whole deployment package.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

log = logging.getLogger()
log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


class MalformedJob(ValueError):
    """A record whose body is not a JSON object: no retry can fix it, the DLQ keeps it."""


def parse(record: dict[str, Any]) -> dict[str, Any]:
    """The job in a record's body, or MalformedJob."""
    try:
        job = json.loads(record["body"])
    except (KeyError, TypeError, ValueError) as err:  # JSONDecodeError is a ValueError
        raise MalformedJob(f"body is not JSON: {err}") from err
    if not isinstance(job, dict):
        raise MalformedJob(f"body is JSON but not an object: {type(job).__name__}")
    return job


def process(record: dict[str, Any]) -> None:
    """Do one job: here, a log line (its id, type and how often SQS delivered it).
    Raises MalformedJob when the body is not a job."""
    job = parse(record)
    receives = record.get("attributes", {}).get("ApproximateReceiveCount", "?")
    log.info("job %s: type=%s receive=%s", record["messageId"], job.get("type", "-"),
             receives)


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """SQS batch in, the ids of the records that failed out (an empty list: all done)."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        try:
            process(record)
        except MalformedJob as err:
            log.error("job %s rejected: %s", record.get("messageId"), err)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
