"""The shared field shapes and the kinds' offline checks: pure, no AWS (no moto here)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from controller.model import Declared, FieldError
from controller.resources.ecs_taskdefinition import check_fargate_size
from controller.resources.registry import REGISTRY
from controller.resources.shapes import Arn, KmsKey, RoleArn, VpcCidr, has_ref

# Every size AWS lists for Fargate (Linux), as cpu -> memory MiB.
FARGATE = {
    256: [512, 1024, 2048],
    512: [1024, 2048, 3072, 4096],
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}


def test_every_fargate_size_aws_lists_passes() -> None:
    for cpu, memories in FARGATE.items():
        for memory in memories:
            check_fargate_size(str(cpu), str(memory))


@pytest.mark.parametrize(("cpu", "memory", "field"), [
    ("256", "1536", "memory"),  # 256 takes 512, 1024, 2048: not every 512 step
    ("512", "512", "memory"),
    ("8192", "18432", "memory"),  # 8192 steps by 4096, not 1024
    ("16384", "36864", "memory"),  # 16384 steps by 8192
    ("4096", "31744", "memory"),  # past 4096's 30720
    ("3072", "8192", "cpu"),
], ids=["256 with 1536", "512 with 512", "8192 off step", "16384 off step", "4096 too big",
        "no such cpu"])
def test_a_size_fargate_refuses_names_the_field(cpu: str, memory: str, field: str) -> None:
    with pytest.raises(FieldError) as caught:
        check_fargate_size(cpu, memory)
    assert caught.value.path == (field,)


@pytest.mark.parametrize(("cpu", "memory"), [("1 vCPU", "2 GB"), (None, "512"),
                                             ("${ref:x.Y/z.cpu}", "512")])
def test_sizes_not_written_as_numbers_are_left_to_aws(cpu: str | None, memory: str) -> None:
    check_fargate_size(cpu, memory)


@pytest.mark.parametrize(("text", "holds"), [
    ("${ref:iam.Role/app.arn}", True),
    ("prefix-${ref:iam.Role/app.arn}", True),
    ("$${ref:iam.Role/app.arn}", False),  # template form of a literal `${ref:`
    ("$$$${ref:x.Y/z.arn}", False),
    ("arn:aws:iam::111111111111:role/app", False),
])
def test_has_ref_reads_template_form(text: str, holds: bool) -> None:
    assert has_ref(text) is holds


@pytest.mark.parametrize(("shape", "value", "ok"), [
    (RoleArn, "arn:aws:iam::111111111111:role/app", True),
    (RoleArn, "arn:aws-us-gov:iam::111111111111:role/path/app", True),
    (RoleArn, "arn:aws:iam::111111111111:user/app", False),
    (RoleArn, "app", False),
    (RoleArn, "${ref:iam.Role/app.arn}", True),
    (Arn, "arn:aws:s3:::bucket", True),
    (Arn, "arn:aws:s3", False),
    (KmsKey, "alias/app", True),  # names and ids pass; an ARN must be a KMS key's
    (KmsKey, "arn:aws:kms:us-east-1:111111111111:key/1234", True),
    (KmsKey, "arn:aws:sqs:us-east-1:111111111111:q", False),
    (KmsKey, "", True),
])
def test_arn_shapes(shape: object, value: str, ok: bool) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(shape)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


@pytest.mark.parametrize(("value", "ok"), [("10.0.0.0/16", True), ("10.0.0.0/28", True),
                                           ("10.0.0.0/29", False), ("10.0.0.1/16", False),
                                           ("10.0.0.0", False), ("vpc", False),
                                           ("${ref:ec2.Vpc/v.cidrBlock}", True)])
def test_vpc_cidr(value: str, ok: bool) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(VpcCidr)
    if ok:
        adapter.validate_python(value)
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


def test_kinds_without_cross_checks_find_nothing() -> None:
    doc = Declared("ecs.Cluster", "c", {})
    assert REGISTRY["ecs.Cluster"].lint(doc, {doc.id: doc}) == []


def test_a_subnet_whose_vpc_is_not_a_ref_is_not_compared() -> None:
    """`vpcId: vpc-123` names a VPC outside the stack: its block is unknown offline."""
    vpc = Declared("ec2.Vpc", "v", {"cidrBlock": "10.0.0.0/16"})
    subnet = Declared("ec2.Subnet", "s", {"vpcId": "vpc-123", "cidrBlock": "10.9.0.0/24"})
    assert REGISTRY["ec2.Subnet"].lint(subnet, {vpc.id: vpc, subnet.id: subnet}) == []


def test_subnets_of_different_vpcs_may_overlap() -> None:
    a = Declared("ec2.Subnet", "a", {"vpcId": "x", "cidrBlock": "10.0.1.0/24"},
                 {("vpcId",): "ec2.Vpc/one"})
    b = Declared("ec2.Subnet", "b", {"vpcId": "x", "cidrBlock": "10.0.1.0/24"},
                 {("vpcId",): "ec2.Vpc/two"})
    assert REGISTRY["ec2.Subnet"].lint(b, {a.id: a, b.id: b}) == []
