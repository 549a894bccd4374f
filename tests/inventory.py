"""What AWS holds for a stack, counted from outside the controller: the checks of the
crash-point and lost-answer tests that nothing was made twice."""

from __future__ import annotations

from collections import Counter

from tests.conftest import AwsEnv


def identities(aws: AwsEnv) -> Counter[str]:
    """How many live resources carry each gitops:id: from AWS's tagging API, and from
    EC2's own describes (the kinds a duplicate is cheapest to make by)."""
    found: Counter[str] = Counter()
    seen: set[str] = set()
    pages = aws.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate()
    for page in pages:
        for item in page["ResourceTagMappingList"]:
            tags = {t["Key"]: t["Value"] for t in item["Tags"]}
            if "gitops:id" in tags and item["ResourceARN"] not in seen:
                seen.add(item["ResourceARN"])
                found[tags["gitops:id"]] += 1
    ec2 = aws.client("ec2")
    for describe, key, ident in (("describe_vpcs", "Vpcs", "VpcId"),
                                 ("describe_subnets", "Subnets", "SubnetId"),
                                 ("describe_security_groups", "SecurityGroups", "GroupId"),
                                 ("describe_route_tables", "RouteTables", "RouteTableId"),
                                 ("describe_nat_gateways", "NatGateways", "NatGatewayId"),
                                 ("describe_internet_gateways", "InternetGateways",
                                  "InternetGatewayId"),
                                 ("describe_addresses", "Addresses", "AllocationId")):
        for item in getattr(ec2, describe)()[key]:
            tags = {t["Key"]: t["Value"] for t in item.get("Tags") or []}
            if "gitops:id" in tags and not any(item[ident] in arn for arn in seen):
                found[tags["gitops:id"]] += 1
    return found
