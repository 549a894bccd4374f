"""A stack's lease in DynamoDB, as conditional writes: the table's half of the lease.

One item per stack, keyed `lease` (`<account>-<stack>`). Taking it is one UpdateItem that
succeeds only when nobody holds it or the holder let it expire; the fencing number rises
by one at every taking and never goes down, so a holder that lost the lease (paused,
partitioned) can tell from one conditional write that it is no longer the writer.
Clocks: expiry is compared with the caller's clock, so replicas need clocks within a
small part of the lease period of each other (NTP, as every AWS host has).

The table is made by deploy/ (and by the demo): one string key `lease`, on-demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.errors import error_code

KEY = "lease"
CONDITION_FAILED = "ConditionalCheckFailedException"
# One item per stack, a few hundred bytes: on-demand costs cents a month.
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as its item says."""

    owner: str
    fence: int
    expires: float
    what: str
    host: str
    pid: int


class LeaseTable:
    """The conditional writes of a lease; `client` is a DynamoDB client."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def take(self, key: str, owner: str, now: float, period: float,
             note: dict[str, Any]) -> int | None:
        """Hold `key` until now + period if it is free or expired: the new fencing number,
        or None when someone else holds it."""
        try:
            answer = self.client.update_item(
                TableName=self.table, Key={KEY: {"S": key}},
                UpdateExpression=("SET #owner = :owner, expires = :expires, "
                                  "fence = if_not_exists(fence, :zero) + :one, "
                                  "what = :what, host = :host, pid = :pid"),
                ConditionExpression=("attribute_not_exists(#owner) OR expires < :now"),
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":owner": {"S": owner}, ":expires": {"N": _number(now + period)},
                    ":now": {"N": _number(now)}, ":zero": {"N": "0"}, ":one": {"N": "1"},
                    ":what": {"S": str(note.get("what", ""))},
                    ":host": {"S": str(note.get("host", ""))},
                    ":pid": {"N": str(int(note.get("pid", 0)))}},
                ReturnValues="ALL_NEW")
        except ClientError as err:
            if error_code(err) == CONDITION_FAILED:
                return None
            raise
        return int(answer["Attributes"]["fence"]["N"])

    def extend(self, key: str, owner: str, fence: int, until: float) -> bool:
        """Push the expiry of a lease this owner holds under this fence: False when it is
        no longer theirs (expired and taken, or released)."""
        try:
            self.client.update_item(
                TableName=self.table, Key={KEY: {"S": key}},
                UpdateExpression="SET expires = :expires",
                ConditionExpression="#owner = :owner AND fence = :fence",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner},
                                           ":fence": {"N": str(fence)},
                                           ":expires": {"N": _number(until)}})
        except ClientError as err:
            if error_code(err) == CONDITION_FAILED:
                return False
            raise
        return True

    def give_up(self, key: str, owner: str, fence: int) -> None:
        """Free the lease at once (the fencing number stays): the next taker need not wait
        for the expiry."""
        try:
            self.client.update_item(
                TableName=self.table, Key={KEY: {"S": key}},
                UpdateExpression="REMOVE #owner SET expires = :zero",
                ConditionExpression="#owner = :owner AND fence = :fence",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner},
                                           ":fence": {"N": str(fence)}, ":zero": {"N": "0"}})
        except ClientError as err:
            if error_code(err) != CONDITION_FAILED:
                raise

    def holder(self, key: str) -> Holder | None:
        """The current holder (a strongly consistent read), or None when free."""
        item = self.client.get_item(TableName=self.table, Key={KEY: {"S": key}},
                                    ConsistentRead=True).get("Item")
        if not item or "owner" not in item:
            return None
        try:
            return Holder(owner=str(item["owner"]["S"]), fence=int(item["fence"]["N"]),
                          expires=float(item["expires"]["N"]),
                          what=str(item.get("what", {}).get("S", ""))[:200],
                          host=str(item.get("host", {}).get("S", ""))[:200],
                          pid=int(item.get("pid", {}).get("N", "0")))
        except (KeyError, TypeError, ValueError, AttributeError):
            # not an item this controller wrote (edited by hand): held, by someone unknown
            return Holder(owner="?", fence=0, expires=float("inf"), what="an unknown writer",
                          host="?", pid=0)


def create_table(client: Any, table: str) -> None:
    """Make the lease table (deploy/ and the demo do; the controller never does at run
    time) and wait until it is active; an existing table is left as it is."""
    try:
        client.create_table(TableName=table, **TABLE_DEFINITION)
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table,
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def _number(value: float) -> str:
    return f"{value:.3f}"
