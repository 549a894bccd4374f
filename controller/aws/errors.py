"""Classify botocore errors so drivers and the engine can decide what to do.

Drivers ask "is this a not-found?" instead of matching codes themselves, so the
knowledge of which service spells "absent" how lives in one table.

botocore is imported at the first use of its classes, never at import: `gitops
validate` imports every driver and must not pay botocore's 150 ms. So drivers
name the classes as attributes of this module (`except errors.ClientError:`),
which Python looks up only when an exception propagates; a `from
controller.aws.errors import ClientError` at a module's top would import botocore
(tests/test_quick_cli.py notices).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from botocore.exceptions import BotoCoreError, ClientError

    # What an AWS call can end with: AWS's answer (ClientError) or botocore's own failures
    # (timeouts, connection errors, an unparsable answer). Drivers catch these, never more.
    AWS_ERRORS: tuple[type[ClientError], type[BotoCoreError]]


def __getattr__(name: str) -> Any:
    """`ClientError`, `BotoCoreError` and `AWS_ERRORS`, from botocore at their first use."""
    if name not in ("AWS_ERRORS", "ClientError", "BotoCoreError"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from botocore import exceptions

    if name == "AWS_ERRORS":
        return (exceptions.ClientError, exceptions.BotoCoreError)
    return getattr(exceptions, name)

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


def _is_client_error(err: BaseException) -> TypeGuard[ClientError]:
    """An answer of AWS; botocore is imported only if it may be one (it raised it)."""
    if "botocore" not in sys.modules:
        return False
    from botocore.exceptions import ClientError

    return isinstance(err, ClientError)


def error_code(err: BaseException) -> str:
    """The AWS error code of a ClientError, or the exception's class name."""
    if _is_client_error(err):
        return str(err.response.get("Error", {}).get("Code", "Unknown"))
    return type(err).__name__


def is_not_found(err: BaseException) -> bool:
    return _is_client_error(err) and error_code(err) in NOT_FOUND_CODES


def is_throttled(err: BaseException) -> bool:
    return _is_client_error(err) and error_code(err) in THROTTLE_CODES


def describe_error(err: BaseException) -> str:
    """A one-line message for users: code and AWS's message, never request bodies."""
    if _is_client_error(err):
        info = err.response.get("Error", {})
        op = getattr(err, "operation_name", "")
        return f"{op}: {info.get('Code', 'Unknown')}: {info.get('Message', '')}".strip()
    return f"{type(err).__name__}: {err}"


def may_have_happened(err: BaseException) -> bool:
    """The call failed after it reached AWS in a way that does not say it was not done: a
    5xx (not a throttle) or a connection dropped or timed out while waiting for the answer."""
    if "botocore" not in sys.modules:
        return False
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    if isinstance(err, (ConnectionClosedError, ReadTimeoutError)):
        return True
    if _is_client_error(err):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status) >= 500 and error_code(err) not in THROTTLE_CODES
    return False
