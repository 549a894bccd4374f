"""Field types whose shape AWS checks only at apply: ARNs, CIDR blocks, ports.

Shared by every kind's spec model (as `Tags` is), so that a field taking a role
ARN says so once, here, and a mistake is a validation error with the field's
line instead of an AWS error in the middle of an apply.

Specs are validated with refs still as text (`${ref:iam.Role/app.arn}`): a
value that holds a ref is accepted as it is, since its shape is only known
after apply. Messages never repeat the value of a field that could hold
something private; an ARN, a CIDR and a port are not that, and a CIDR's
message shows it where that makes the fix obvious.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, Field

# A spec in template form: `$$` is a literal `$`, `${ref:...}` a ref (spec/substitution.py).
_TEMPLATE_DOLLAR = re.compile(r"\$\$|\$\{ref:")
ARN = re.compile(r"arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[a-z0-9-]+):"
                 r"(?P<region>[a-z0-9-]*):(?P<account>\d{12}|aws)?:(?P<resource>.+)", re.ASCII)
ARN_FORM = "arn:<partition>:<service>:<region>:<account>:<resource>"


def has_ref(text: str) -> bool:
    """True when template-form `text` holds a `${ref:...}`: its final text is only known
    after apply."""
    return any(m.group(0) != "$$" for m in _TEMPLATE_DOLLAR.finditer(text))


@dataclass(frozen=True, eq=False)  # eq=False: hashable by identity, as Annotated needs
class ArnRule:
    """What one ARN field accepts: which services' ARNs, with which resource prefixes.

    `services` maps a service to the prefixes its resource part may start with
    (empty: any); no services means any ARN. `names` also accepts a plain name or
    id (a cluster named `main`, a KMS `alias/x`) and checks only what looks like an
    ARN; `empty` accepts "" (a field where "" removes the setting).
    """

    what: str  # as people read it: "an IAM role ARN"
    example: str  # arn:aws:iam::123456789012:role/NAME
    services: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ref: str = ""  # the usual ref, e.g. ${ref:iam.Role/NAME.arn}
    names: bool = False
    empty: bool = False

    def __call__(self, value: str) -> str:
        if has_ref(value) or (self.empty and value == "") or self.fits(value):
            return value
        if self.names and not value.startswith("arn:"):
            return value
        raise ValueError(self.message())

    def fits(self, value: str) -> bool:
        match = ARN.fullmatch(value)
        if match is None:
            return False
        if not self.services:
            return True
        prefixes = self.services.get(match["service"])
        if prefixes is None:
            return False
        return not prefixes or match["resource"].startswith(prefixes)

    def message(self) -> str:
        alternatives = [f"{self.what} such as {self.example}"]
        if self.ref:
            alternatives.append(self.ref)
        return "expected " + " or ".join(alternatives)


def _arn(rule: ArnRule) -> AfterValidator:
    return AfterValidator(rule)


# Any ARN at all.
Arn = Annotated[str, _arn(ArnRule("an ARN", ARN_FORM))]
RoleArn = Annotated[str, _arn(ArnRule(
    "an IAM role ARN", "arn:aws:iam::123456789012:role/NAME", {"iam": ("role/",)},
    ref="${ref:iam.Role/NAME.arn}"))]
ManagedPolicyArn = Annotated[str, _arn(ArnRule(
    "an IAM policy ARN", "arn:aws:iam::aws:policy/NAME", {"iam": ("policy/",)}))]
SecretSourceArn = Annotated[str, _arn(ArnRule(
    "a Secrets Manager secret or SSM parameter ARN",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:NAME",
    {"secretsmanager": ("secret:",), "ssm": ("parameter/",)},
    # ECS also takes an SSM parameter's bare name, but a bare name cannot be told apart
    # from a secret pasted in by mistake: only ARNs (or refs) are accepted.
    ref="${ref:secretsmanager.Secret/NAME.arn}"))]
TargetGroupArn = Annotated[str, _arn(ArnRule(
    "a target group ARN",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/NAME/ID",
    {"elasticloadbalancing": ("targetgroup/",)}))]
QueueArn = Annotated[str, _arn(ArnRule(
    "an SQS queue ARN", "arn:aws:sqs:us-east-1:123456789012:NAME", {"sqs": ()},
    ref="${ref:sqs.Queue/NAME.arn}"))]
_KMS = {"kms": ("key/", "alias/")}
_KMS_EXAMPLE = "arn:aws:kms:us-east-1:123456789012:key/ID"
# A KMS key where only its ARN will do ("" removes the key).
KmsKeyArn = Annotated[str, _arn(ArnRule("a KMS key ARN", _KMS_EXAMPLE, _KMS, empty=True))]
# A KMS key by id, alias or ARN: the ARN, when given, must be a KMS one ("" removes it).
KmsKey = Annotated[str, _arn(ArnRule("a KMS key id, alias or ARN", _KMS_EXAMPLE, _KMS,
                                     names=True, empty=True))]
# An ECS cluster by name or ARN.
ClusterRef = Annotated[str, _arn(ArnRule(
    "a cluster name, or an ECS cluster ARN", "arn:aws:ecs:us-east-1:123456789012:cluster/NAME",
    {"ecs": ("cluster/",)}, ref="${ref:ecs.Cluster/NAME.arn}", names=True))]
# A task definition by family[:revision] or revision ARN.
TaskDefinitionRef = Annotated[str, _arn(ArnRule(
    "a family[:revision], or a task definition ARN",
    "arn:aws:ecs:us-east-1:123456789012:task-definition/FAMILY:1",
    {"ecs": ("task-definition/",)}, ref="${ref:ecs.TaskDefinition/NAME.arn}", names=True))]


def ipv4_network(text: str) -> ipaddress.IPv4Network | None:
    """The IPv4 block `text` writes, or None when it is not one (or holds a ref)."""
    try:
        return ipaddress.IPv4Network(text, strict=True)
    except ValueError:
        return None


def _check_cidr(text: str, smallest: int = 32, largest: int = 0) -> str:
    """`text` as an IPv4 CIDR block whose prefix is between /largest and /smallest."""
    if has_ref(text):
        return text
    try:
        block = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise ValueError("expected an IPv4 CIDR block such as 10.0.0.0/16") from None
    if "/" not in text:
        raise ValueError(f"expected an IPv4 CIDR block: write {text}/32 for one address")
    if str(block) != text:
        raise ValueError(f"{text} has bits set past its /{block.prefixlen} prefix (AWS refuses "
                         f"it): write {block}")
    if not largest <= block.prefixlen <= smallest:
        raise ValueError(f"AWS takes blocks from /{largest} to /{smallest} here, not "
                         f"/{block.prefixlen}")
    return text


def _vpc_cidr(text: str) -> str:
    return _check_cidr(text, smallest=28, largest=16)


# A security-group rule's IPv4 source or destination.
Ipv4Cidr = Annotated[str, AfterValidator(_check_cidr)]
# A VPC's or subnet's block: AWS takes /16 to /28.
VpcCidr = Annotated[str, AfterValidator(_vpc_cidr)]

# A port a container listens on; a host port (0: ECS picks one under bridge).
ContainerPort = Annotated[int, Field(ge=1, le=65535)]
HostPort = Annotated[int, Field(ge=0, le=65535)]
# A security-group rule's port (-1: all, or the ICMP type and code).
RulePort = Annotated[int, Field(ge=-1, le=65535)]
