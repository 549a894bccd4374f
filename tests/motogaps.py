"""Stand-ins for AWS calls the emulator does not implement, stated where they are used.

Each one is a set of botocore event hooks for a gateway (in-process) or the CLI's
GATEWAY_HOOKS: it answers the calls moto lacks, and shows their effect in the reads
moto does answer, as AWS would. Everything else still goes to the moto server.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse


class KmsAssociations:
    """moto 5.2.5 answers AssociateKmsKey and DisassociateKmsKey with HTTP 500 (not
    implemented): these hooks answer the two calls and show the key a log group holds in
    DescribeLogGroups, as AWS does."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # log group name -> key ARN

    def hooks(self) -> list[tuple[str, Any]]:
        return [("before-call.cloudwatch-logs.AssociateKmsKey", self._associate),
                ("before-call.cloudwatch-logs.DisassociateKmsKey", self._disassociate),
                ("after-call.cloudwatch-logs.DescribeLogGroups", self._describe)]

    def _associate(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        body = json.loads(params["body"])  # the serialised request: CloudWatch Logs is JSON
        self.keys[body["logGroupName"]] = body["kmsKeyId"]
        return AWSResponse("", 200, {}, None), {}

    def _disassociate(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        self.keys.pop(json.loads(params["body"])["logGroupName"], None)
        return AWSResponse("", 200, {}, None), {}

    def _describe(self, parsed: dict[str, Any], **_: Any) -> None:
        for group in parsed.get("logGroups", []):
            if group["logGroupName"] in self.keys:
                group["kmsKeyId"] = self.keys[group["logGroupName"]]
