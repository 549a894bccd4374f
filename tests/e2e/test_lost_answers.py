"""Lost answers: AWS does a write, and its answer never reaches the controller (a 500 from
a load balancer in between, or the connection dropped), for every write operation of an
apply of desired/prod from empty, each the first time it is called: 35 creates of 33
kinds and every tag, policy and attribute write. botocore's own retry must not make a
second resource; the run reports each failure on its resource; the next runs converge
with every identity on exactly one live resource.

Each case is an apply of the whole stack from empty and the applies after it: `slow`."""

from __future__ import annotations

import pytest

from controller.aws.operations import is_read, repeat_makes_another
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.conftest import AwsEnv
from tests.faults import LostAnswer
from tests.inventory import identities
from tests.stacks import DECLARED, DESIRED

RUNS = 15  # a failed write skips its dependents to the next run: one layer per run


@pytest.mark.slow
@pytest.mark.parametrize("how", ["500", "reset"])
def test_a_write_whose_answer_is_lost_is_never_made_twice(prod_aws: AwsEnv,
                                                          how: str) -> None:
    stack = load_stack(DESIRED / "prod", REGISTRY)
    lost = LostAnswer(how, times=1, only=lambda service, op: not is_read(op))
    failures: dict[str, str] = {}
    runs = 0
    while runs < RUNS:
        runs += 1
        run = apply(plan(stack, prod_aws.gateway(lost.hooks())))
        failures.update({c.id: c.error or "" for c in run.changes if c.result == "error"})
        if not run.failed and not run.has_changes:
            break
    creates = {op for _, op in lost.lost if op.startswith(("Create", "Allocate", "Register",
                                                           "Request"))}
    assert len(creates) >= 30, sorted(creates)
    print(f"\n{how}: {len(lost.lost)} write operations lost an answer ({len(creates)} creates),"
          f" {len(failures)} resources reported it, converged after {runs} runs")
    # a create whose answer was lost is reported on its resource, saying what happens next
    vpc = failures["ec2.Vpc/iq-theory-vpc"]
    assert "the next run looks for it by its identity" in vpc, vpc
    assert "CreateVpc: InternalError" in vpc or "ConnectionClosedError" in vpc, vpc
    final = plan(stack, prod_aws.gateway()).changes
    assert not final.has_changes, [(c.id, c.action, c.reason) for c in final.changes
                                   if c.action != "no-op"]
    assert final.summary()["no-op"] == DECLARED["prod"]
    assert not [w for w in final.warnings if "identity" in w.message or "prune" in w.message]
    twice = {rid: n for rid, n in identities(prod_aws).items() if n > 1}
    assert not twice, f"made twice after a lost answer: {twice}"


def test_only_creates_aws_cannot_recognise_are_left_unretried() -> None:
    """The rule, by botocore's models: a CreateVpc is never sent twice blindly, a
    CreateSecret (botocore fills its ClientRequestToken) and every read are."""
    import botocore.session

    models = botocore.session.get_session()

    def op(service: str, name: str) -> object:
        return models.get_service_model(service).operation_model(name)

    assert repeat_makes_another(op("ec2", "CreateVpc"))
    assert repeat_makes_another(op("ec2", "AllocateAddress"))
    assert repeat_makes_another(op("ecs", "RegisterTaskDefinition"))
    assert not repeat_makes_another(op("secretsmanager", "CreateSecret"))
    assert not repeat_makes_another(op("ec2", "CreateNatGateway"))
    assert not repeat_makes_another(op("ec2", "DescribeVpcs"))
    assert not repeat_makes_another(op("ec2", "ModifyVpcAttribute"))
