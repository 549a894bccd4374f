"""Classify botocore errors so drivers and the engine can decide what to do.

Drivers ask "is this a not-found?" instead of matching codes themselves, so the
knowledge of which service spells "absent" how lives in one table.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError

# What an AWS call can end with: AWS's answer (ClientError) or botocore's own failures
# (timeouts, connection errors, an unparsable answer). Drivers catch these, never more.
AWS_ERRORS = (ClientError, BotoCoreError)

NOT_FOUND_CODES = frozenset(
    {
        "NoSuchEntity",
        "ResourceNotFoundException",
        "RepositoryNotFoundException",
        "LifecyclePolicyNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound",
        "InvalidGroup.NotFound",
        "ClusterNotFoundException",
        "ServiceNotFoundException",
        "NotFoundException",
        "ClientException.NotFound",
    }
)
THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)


def error_code(err: BaseException) -> str:
    """The AWS error code of a ClientError, or the exception's class name."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", "Unknown"))
    return type(err).__name__


def is_not_found(err: BaseException) -> bool:
    return isinstance(err, ClientError) and error_code(err) in NOT_FOUND_CODES


def is_throttled(err: BaseException) -> bool:
    return isinstance(err, ClientError) and error_code(err) in THROTTLE_CODES


def describe_error(err: BaseException) -> str:
    """A one-line message for users: code and AWS's message, never request bodies."""
    if isinstance(err, ClientError):
        info = err.response.get("Error", {})
        op = getattr(err, "operation_name", "")
        return f"{op}: {info.get('Code', 'Unknown')}: {info.get('Message', '')}".strip()
    return f"{type(err).__name__}: {err}"


def may_have_happened(err: BaseException) -> bool:
    """The call failed after it reached AWS in a way that does not say it was not done: a
    5xx (not a throttle) or a connection dropped or timed out while waiting for the answer."""
    if isinstance(err, (ConnectionClosedError, ReadTimeoutError)):
        return True
    if isinstance(err, ClientError):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status) >= 500 and error_code(err) not in THROTTLE_CODES
    return False
