"""Which AWS operations change something: the write guard and the retry rule ask here.

AWS names its reads with a few verbs across every service the stack uses (Describe*,
List*, Get*, and a handful more); everything else writes. A name is enough: no operation
of the stack's services reads under another verb, and a read taken for a write only
costs a lease check.
"""

from __future__ import annotations

from typing import Any

READ_VERBS = ("Describe", "List", "Get", "Head", "Lookup", "Search", "BatchGet", "Query",
              "Scan", "Check", "Validate", "Simulate")
# Writes that make a new resource or record each time they are sent: sent twice, they
# make two (or fail the second time, having succeeded the first).
CREATE_VERBS = ("Create", "Allocate", "Register", "Run", "Request", "Publish", "Import",
                "Issue", "Subscribe", "Start")


def is_read(operation: str) -> bool:
    return operation.startswith(READ_VERBS)


def has_client_token(operation: Any) -> bool:
    """Whether botocore fills an idempotency token for this operation (ClientToken and the
    like): AWS then answers a repeat with the first call's resource, never a second."""
    shape = operation.input_shape
    if shape is None:
        return False
    return any(member.metadata.get("idempotencyToken")
               for member in shape.members.values())


def repeat_makes_another(operation: Any) -> bool:
    """A create AWS cannot recognise as a repeat: retried after an answer was lost (a 500
    or a dropped connection once AWS had done it), it would make a second resource."""
    return operation.name.startswith(CREATE_VERBS) and not has_client_token(operation)
