"""The account guard: no AWS call but STS happens before the caller is known to be right."""

from __future__ import annotations

import os

from controller.aws.errors import describe_error
from controller.aws.gateway import AwsGateway
from controller.spec.stack import StackConfig


class GuardError(Exception):
    """Credentials or region point somewhere the stack may not touch."""


def check_target(config: StackConfig, aws: AwsGateway) -> None:
    """Stop unless the region matches and STS says we are in the stack's account."""
    env_region = os.environ.get("AWS_REGION")
    if env_region and env_region != config.region:
        raise GuardError(f"AWS_REGION is {env_region} but stack {config.name} lives in "
                         f"{config.region}: unset AWS_REGION or fix stack.yaml")
    if aws.region != config.region:
        raise GuardError(f"client region {aws.region} differs from stack region {config.region}")
    try:
        account = aws.client("sts").get_caller_identity()["Account"]
    except Exception as err:
        raise GuardError(f"cannot verify the AWS account: {describe_error(err)}") from err
    if account != config.account:
        raise GuardError(f"these credentials are for account {account}, but stack "
                         f"{config.name} may only touch account {config.account}: nothing "
                         "was read or written")
    aws.account = account
