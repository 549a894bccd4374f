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


class EcrInTaggingIndex:
    """moto 5.2.5's Resource Groups Tagging API does not index ECR repositories (AWS does):
    this after-call hook adds the account's repositories carrying `stack`'s tag to each
    GetResources answer, read out of band from moto's ECR, as AWS's index would list them."""

    def __init__(self, endpoint: str, stack: str) -> None:
        import boto3

        self.ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=endpoint)
        self.stack = stack

    def hooks(self) -> list[tuple[str, Any]]:
        return [("after-call.resource-groups-tagging-api.GetResources", self._add)]

    def _add(self, parsed: dict[str, Any], **_: Any) -> None:
        for page in self.ecr.get_paginator("describe_repositories").paginate():
            for repo in page["repositories"]:
                tags = self.ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
                if {"Key": "gitops:stack", "Value": self.stack} in tags:
                    parsed.setdefault("ResourceTagMappingList", []).append(
                        {"ResourceARN": repo["repositoryArn"], "Tags": tags})
