"""What a user reads when a stack is invalid: the root cause first, the key's line, the fix.

Every case is one mistake and the complete report it gives, each issue exactly as
`gitops validate` prints it (`file:line: Kind/name: field: message`), in order.
Pure: stacks are written to a tmp folder and loaded in-process, no AWS, no moto.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.resources.registry import REGISTRY
from controller.spec.issues import Issue, Rank, ValidationFailed
from controller.spec.loader import load_stack
from tests.stacks import DECLARED, DESIRED, copy_desired, write_stack


def report(folder: Path | str) -> list[str]:
    """Every issue of loading `folder`, as printed."""
    return [str(issue) for issue in failure(folder).issues]


def failure(folder: Path | str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        load_stack(folder, REGISTRY)
    return caught.value


@pytest.fixture
def desired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of desired/, named as users see it: desired/prod, desired/base."""
    monkeypatch.chdir(tmp_path)
    return copy_desired(tmp_path)


def edit(desired: Path, file: str, old: str, new: str) -> None:
    path = desired / file
    text = path.read_text()
    assert text.count(old) == 1, (file, old)
    path.write_text(text.replace(old, new))


# --- mistakes in IQ Theory's own stack -----------------------------------------------------


@dataclass(frozen=True)
class Case:
    reason: str  # why this report is the right one, in one line
    edits: list[tuple[str, str, str]]  # (file under desired/, text, replaced by)
    report: list[str]


QUEUES = "desired/base/queues.yaml"
ECS = "desired/base/ecs.yaml"
NETWORK = "desired/base/network.yaml"
PROD = "desired/prod/stack.yaml"
API_TD = "ecs.TaskDefinition/iq-theory-api"
JOBS_URL_REF = "${ref:sqs.Queue/iq-theory-jobs.url}"
ENV_4 = "spec.containerDefinitions[0].environment[4].value"

# desired/prod/egress.yaml names resources of ../base: a missing include says so.
FOLDED = (" (8 refs elsewhere name ec2.InternetGateway/iq-theory-igw, "
          "ec2.Subnet/iq-theory-private-a, ec2.Subnet/iq-theory-private-b and 3 more, which "
          "this include may define: they are checked once it reads)")

DESIRED_CASES = [
    Case("the file that does not parse is the root cause: the refs into it wait for it",
         [("base/queues.yaml", "visibilityTimeout: 360", "visibilityTimeout: [360")],
         [f"{QUEUES}:19: invalid YAML: expected ',' or ']', but got ':' (while parsing a flow "
          "sequence started at line 18) (5 refs elsewhere name sqs.Queue/iq-theory-jobs and "
          "sqs.Queue/iq-theory-jobs-dlq, which this file may define: they are checked once "
          "it reads)"]),
    Case("two broken files each take the refs to what they define, and only those",
         [("base/queues.yaml", "visibilityTimeout: 360", "visibilityTimeout: [360"),
          ("base/ecr.yaml", "policy: {protect: true}\n---", "policy: {protect: true\n---")],
         ["desired/base/ecr.yaml:21: invalid YAML: expected ',' or '}', but got '<document "
          "start>' (while parsing a flow mapping started at line 20) (2 refs elsewhere name "
          "ecr.Repository/iq-theory-api and ecr.Repository/iq-theory-frontend, which this file "
          "may define: they are checked once it reads)",
          f"{QUEUES}:19: invalid YAML: expected ',' or ']', but got ':' (while parsing a flow "
          "sequence started at line 18) (5 refs elsewhere name sqs.Queue/iq-theory-jobs and "
          "sqs.Queue/iq-theory-jobs-dlq, which this file may define: they are checked once "
          "it reads)"]),
    Case("YAML reads 222222222222 as a number: quoting it is the fix, and the account is shown",
         [("prod/stack.yaml", 'account: "222222222222"', "account: 222222222222")],
         [f'{PROD}:6: account: a number where text is expected: quote it ("222222222222")']),
    Case("a misspelt field names the field it is closest to",
         [("base/queues.yaml", "visibilityTimeout: 360", "visibilityTimout: 360")],
         [f"{QUEUES}:18: sqs.Queue/iq-theory-jobs: spec.visibilityTimout: unknown field: did "
          "you mean visibilityTimeout?"]),
    Case("a subnet outside its VPC is refused by AWS: caught from the two literal CIDRs",
         [("prod/stack.yaml", "private_subnet_b_cidr: 10.0.2.0/24",
           "private_subnet_b_cidr: 10.1.2.0/24")],
         [f"{NETWORK}:30: ec2.Subnet/iq-theory-private-b: spec.cidrBlock: 10.1.2.0/24 is "
          "outside ec2.Vpc/iq-theory-vpc's block 10.0.0.0/16: a subnet's block lies inside its "
          "VPC's"]),
    Case("two subnets of one VPC overlap: reported once, on the later, naming the earlier",
         [("prod/stack.yaml", "private_subnet_b_cidr: 10.0.2.0/24",
           "private_subnet_b_cidr: 10.0.1.128/25")],
         [f"{NETWORK}:30: ec2.Subnet/iq-theory-private-b: spec.cidrBlock: 10.0.1.128/25 "
          "overlaps ec2.Subnet/iq-theory-private-a's block 10.0.1.0/24 in the same VPC"]),
    Case("fifoQueue on a name without .fifo; its standard dead-letter queue is then wrong too",
         [("base/queues.yaml", "  visibilityTimeout: 360\n",
           "  visibilityTimeout: 360\n  fifoQueue: true\n")],
         [f"{QUEUES}:19: sqs.Queue/iq-theory-jobs: spec.fifoQueue: a FIFO queue's name ends in "
          ".fifo: name it iq-theory-jobs.fifo, or drop fifoQueue",
          f"{QUEUES}:23: sqs.Queue/iq-theory-jobs: spec.redrivePolicy.deadLetterTargetArn: the "
          "dead-letter queue of a FIFO queue is a FIFO queue too, and "
          "sqs.Queue/iq-theory-jobs-dlq is not"]),
    Case("Fargate has no task of 0.5 vCPU with 5000 MiB: the allowed sizes are listed",
         [("prod/stack.yaml", 'api_memory: "1024"', 'api_memory: "5000"')],
         [f"{ECS}:19: {API_TD}: spec.memory: Fargate runs cpu 512 with memory 1024 to 4096 in "
          "steps of 1024 (MiB), not 5000"]),
    Case("a cpu Fargate does not offer",
         [("prod/stack.yaml", 'api_cpu: "512"', 'api_cpu: "300"')],
         [f"{ECS}:18: {API_TD}: spec.cpu: Fargate takes cpu 256, 512, 1024, 2048, 4096, 8192 or "
          "16384, not 300"]),
    Case("a misspelt value names the closest value of stack.yaml",
         [("base/ecs.yaml", ":${values.api_image_tag}", ":${values.api_image_tg}")],
         [f"{ECS}:29: {API_TD}: spec.containerDefinitions[0].image: ${{values.api_image_tg}} "
          "is not defined in stack.yaml values: did you mean ${values.api_image_tag}?"]),
    Case("a misspelt ref names the closest resource of the stack",
         [("base/ecs.yaml", JOBS_URL_REF, "${ref:sqs.Queue/iq-theory-job.url}")],
         [f"{ECS}:47: {API_TD}: {ENV_4}: ref to sqs.Queue/iq-theory-job, which is not in this "
          "stack: did you mean sqs.Queue/iq-theory-jobs?"]),
    Case("a ref with the kind's case wrong names the right kind",
         [("base/ecs.yaml", JOBS_URL_REF, "${ref:sqs.queue/iq-theory-jobs.url}")],
         [f"{ECS}:47: {API_TD}: {ENV_4}: ref to sqs.queue/iq-theory-jobs, which is not in this "
          "stack: did you mean sqs.Queue/iq-theory-jobs?"]),
    Case("a misspelt attribute names the closest attribute of the kind",
         [("base/ecs.yaml", JOBS_URL_REF, "${ref:sqs.Queue/iq-theory-jobs.urls}")],
         [f"{ECS}:47: {API_TD}: {ENV_4}: sqs.Queue has no attribute 'urls': did you mean url?"]),
    Case("a misspelt kind is the one error: the refs to that resource are not reported again",
         [("base/queues.yaml", "kind: sqs.Queue\nname: iq-theory-jobs\n",
           "kind: sqs.Queu\nname: iq-theory-jobs\n")],
         [f"{QUEUES}:15: sqs.Queu/iq-theory-jobs: unknown kind 'sqs.Queu': did you mean "
          "sqs.Queue?"]),
    Case("a misspelt include names the folder beside it",
         [("prod/stack.yaml", "  - ../base", "  - ../bse")],
         [f"{PROD}:8: includes[0]: include '../bse': no such folder: did you mean ../base?"
          f"{FOLDED}"]),
    Case("an include naming a file says it wants a folder",
         [("prod/stack.yaml", "  - ../base", "  - ../base/queues.yaml")],
         [f"{PROD}:8: includes[0]: include '../base/queues.yaml': expected a folder, got a "
          "file: includes are folders inside the repository, relative to stack.yaml (e.g. "
          "../base)"
          f"{FOLDED}"]),
    Case("a number from stack.yaml's values in a text field is quoted in the values",
         [("base/network.yaml", "availabilityZone: ${values.az_a}",
           "availabilityZone: ${values.api_task_count}")],
         [f"{NETWORK}:19: ec2.Subnet/iq-theory-private-a: spec.availabilityZone: a number where "
          "text is expected: quote values.api_task_count in stack.yaml's values"]),
    Case("a role name where ECS needs the role's ARN says what an ARN looks like",
         [("base/ecs.yaml", "executionRoleArn: ${ref:iam.Role/iq-theory-ecs-execution.arn}\n"
           "  taskRoleArn: ${ref:iam.Role/iq-theory-api-task.arn}",
           "executionRoleArn: ${ref:iam.Role/iq-theory-ecs-execution.arn}\n"
           "  taskRoleArn: iq-theory-api-task")],
         [f"{ECS}:26: {API_TD}: spec.taskRoleArn: expected an IAM role ARN such as "
          "arn:aws:iam::123456789012:role/NAME or ${ref:iam.Role/NAME.arn}"]),
    Case("a port past 65535",
         [("base/ecs.yaml", "- containerPort: 8080", "- containerPort: 80800")],
         [f"{ECS}:32: {API_TD}: spec.containerDefinitions[0].portMappings[0].containerPort: "
          "Input should be less than or equal to 65535"]),
]


@pytest.mark.parametrize("case", DESIRED_CASES, ids=[c.reason for c in DESIRED_CASES])
def test_a_mistake_in_desired_reads_as_its_fix(desired: Path, case: Case) -> None:
    for file, old, new in case.edits:
        edit(desired, file, old, new)
    assert report("desired/prod") == case.report


# --- mistakes in a small stack ---------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    reason: str  # why this report is the right one, in one line
    docs: str  # resources.yaml
    report: list[str]  # as printed, after "resources.yaml:"


TD_HEAD = "kind: ecs.TaskDefinition\nname: app\nspec:\n  containerDefinitions:\n"
ROLE = "arn:aws:iam::111111111111:role/app"

DOC_CASES = [
    Doc("an unknown field inside a list of models names the closest field of that model",
        TD_HEAD + "    - name: a\n      imag: x\n",
        ["5: ecs.TaskDefinition/app: spec.containerDefinitions[0].image: Field required",
         "6: ecs.TaskDefinition/app: spec.containerDefinitions[0].imag: unknown field: did you "
         "mean image?"]),
    Doc("a value of neither shape of a union is one error naming both shapes",
        "kind: sqs.Queue\nname: q\nspec:\n  redrivePolicy: 5\n",
        ["4: sqs.Queue/q: spec.redrivePolicy: Input should be a mapping or ''"]),
    Doc("inside the union branch that took the mapping, the error is the field's own",
        "kind: sqs.Queue\nname: q\nspec:\n  redrivePolicy:\n    deadLetterTargetArn: "
        "arn:aws:sqs:us-east-1:111111111111:dlq\n    maxReceiveCount: 0\n",
        ["6: sqs.Queue/q: spec.redrivePolicy.maxReceiveCount: Input should be greater than or "
         "equal to 1"]),
    Doc("a number in a spec's text field: quote it, and the value is never shown",
        "kind: sqs.Queue\nname: q\nspec:\n  tags:\n    build: 4711\n",
        ["5: sqs.Queue/q: spec.tags.build: a number where text is expected: quote it"]),
    Doc("YAML's yes is a boolean, not text",
        "kind: sqs.Queue\nname: q\nspec:\n  tags:\n    public: yes\n",
        ["5: sqs.Queue/q: spec.tags.public: true/false where text is expected: quote it"]),
    Doc("a duplicate container is shown at its own name, with the one it repeats",
        TD_HEAD + "    - name: a\n      image: x\n    - name: a\n      image: y\n",
        ["7: ecs.TaskDefinition/app: spec.containerDefinitions[1].name: container names must "
         "be unique: a is also container 0"]),
    Doc("a document without spec: a missing field points at the document's kind",
        "# a subnet\nkind: ec2.Subnet\nname: s\n",
        ["2: ec2.Subnet/s: spec.availabilityZone: Field required",
         "2: ec2.Subnet/s: spec.cidrBlock: Field required",
         "2: ec2.Subnet/s: spec.vpcId: Field required"]),
    Doc("a misspelt top-level key is an unknown field of the resource",
        "kind: sqs.Queue\nname: q\nspecs: {}\n",
        ["3: sqs.Queue/q: specs: unknown top-level field: did you mean spec? (a document holds "
         "kind, name, spec, policy, adopt and dependsOn)"]),
    Doc("dependsOn names what is not in the stack",
        "kind: sqs.Queue\nname: q\ndependsOn: [sqs.Queue/other]\nspec: {}\n",
        ["3: sqs.Queue/q: dependsOn[0]: dependsOn names sqs.Queue/other, which is not in "
         "this stack"]),
    Doc("dependsOn is a list of Kind/name",
        "kind: sqs.Queue\nname: q\ndependsOn: other\nspec: {}\n",
        ["3: sqs.Queue/q: dependsOn: a list of the resources to make first, as Kind/name "
         "(e.g. ec2.InternetGateway/igw)"]),
    Doc("an empty document (only a comment after ---) declares nothing and is no error",
        "kind: sqs.Queue\nname: q\n---\n# nothing yet\n---\nkind: sqs.Queue\nname: r\n"
        "spec:\n  delaySeconds: -1\n",
        ["9: sqs.Queue/r: spec.delaySeconds: Input should be greater than or equal to 0"]),
    Doc("a .fifo name without fifoQueue: true is refused by AWS",
        "kind: sqs.Queue\nname: jobs.fifo\nspec: {}\n",
        ["2: sqs.Queue/jobs.fifo: name: a name ending in .fifo is a FIFO queue's: set "
         "spec.fifoQueue: true, or drop .fifo from the name"]),
    Doc("content-based deduplication is for FIFO queues only",
        "kind: sqs.Queue\nname: q\nspec:\n  contentBasedDeduplication: true\n",
        ["4: sqs.Queue/q: spec.contentBasedDeduplication: only FIFO queues deduplicate: set "
         "fifoQueue: true (with a name ending in .fifo), or drop it"]),
    Doc("a FIFO queue's dead-letter queue is FIFO too",
        "kind: sqs.Queue\nname: dlq\nspec: {}\n---\nkind: sqs.Queue\nname: q.fifo\nspec:\n"
        "  fifoQueue: true\n  redrivePolicy:\n    deadLetterTargetArn: ${ref:sqs.Queue/dlq.arn}\n"
        "    maxReceiveCount: 3\n",
        ["10: sqs.Queue/q.fifo: spec.redrivePolicy.deadLetterTargetArn: the dead-letter queue "
         "of a FIFO queue is a FIFO queue too, and sqs.Queue/dlq is not"]),
    Doc("a security-group range that runs backwards points at toPort",
        "kind: ec2.SecurityGroup\nname: g\nspec:\n  vpcId: vpc-1\n  ingress:\n"
        "    - protocol: tcp\n      fromPort: 443\n      toPort: 80\n      cidrIpv4: 10.0.0.0/8\n",
        ["8: ec2.SecurityGroup/g: spec.ingress[0].toPort: the range runs from fromPort up to "
         "toPort: 80 is below 443"]),
    Doc("a CIDR with host bits set is refused by AWS: the block is written for the user",
        "kind: ec2.SecurityGroup\nname: g\nspec:\n  vpcId: vpc-1\n  ingress:\n"
        "    - protocol: tcp\n      fromPort: 443\n      cidrIpv4: 10.1.2.3/16\n",
        ["8: ec2.SecurityGroup/g: spec.ingress[0].cidrIpv4: 10.1.2.3/16 has bits set past its "
         "/16 prefix (AWS refuses it): write 10.1.0.0/16"]),
    Doc("a VPC's block is /16 to /28",
        "kind: ec2.Vpc\nname: v\nspec:\n  cidrBlock: 10.0.0.0/8\n",
        ["4: ec2.Vpc/v: spec.cidrBlock: AWS takes blocks from /16 to /28 here, not /8"]),
    Doc("a port mapping's ports: containerPort from 1, hostPort from 0",
        TD_HEAD + "    - name: a\n      image: x\n      portMappings:\n"
        "        - {containerPort: 0, hostPort: -1}\n",
        ["8: ecs.TaskDefinition/app: spec.containerDefinitions[0].portMappings[0].containerPort:"
         " Input should be greater than or equal to 1",
         "8: ecs.TaskDefinition/app: spec.containerDefinitions[0].portMappings[0].hostPort: "
         "Input should be greater than or equal to 0"]),
    Doc("a secret's valueFrom is a Secrets Manager or SSM ARN, never the secret itself",
        TD_HEAD + "    - name: a\n      image: x\n      secrets:\n"
        "        - {name: DB, valueFrom: hunter2}\n",
        ["8: ecs.TaskDefinition/app: spec.containerDefinitions[0].secrets[0].valueFrom: "
         "expected a Secrets Manager secret or SSM parameter ARN such as "
         "arn:aws:secretsmanager:us-east-1:123456789012:secret:NAME or "
         "${ref:secretsmanager.Secret/NAME.arn}"]),
    Doc("an ARN of another service where a role's is needed",
        TD_HEAD.replace("spec:\n", "spec:\n  executionRoleArn: "
                        "arn:aws:sqs:us-east-1:111111111111:q\n")
        + "    - name: a\n      image: x\n",
        ["4: ecs.TaskDefinition/app: spec.executionRoleArn: expected an IAM role ARN such as "
         "arn:aws:iam::123456789012:role/NAME or ${ref:iam.Role/NAME.arn}"]),
    Doc("a managed policy is named by its ARN",
        "kind: iam.Role\nname: r\nspec:\n  assumeRolePolicyDocument: {}\n"
        "  managedPolicyArns:\n    - AmazonECSTaskExecutionRolePolicy\n",
        ["6: iam.Role/r: spec.managedPolicyArns[0]: expected an IAM policy ARN such as "
         "arn:aws:iam::aws:policy/NAME"]),
    Doc("a cluster by name is fine, but an ARN there is an ECS cluster's",
        "kind: ecs.Service\nname: s\nspec:\n  cluster: arn:aws:ecs:us-east-1:111111111111:"
        "service/c/s\n  taskDefinition: app:1\n",
        ["4: ecs.Service/s: spec.cluster: expected a cluster name, or an ECS cluster ARN such as"
         " arn:aws:ecs:us-east-1:123456789012:cluster/NAME or ${ref:ecs.Cluster/NAME.arn}"]),
    Doc("CloudWatch Logs takes a KMS key by ARN only",
        "kind: logs.LogGroup\nname: /a\nspec:\n  kmsKeyId: alias/logs\n",
        ["4: logs.LogGroup//a: spec.kmsKeyId: expected a KMS key ARN such as "
         "arn:aws:kms:us-east-1:123456789012:key/ID"]),
]


@pytest.mark.parametrize("case", DOC_CASES, ids=[c.reason for c in DOC_CASES])
def test_a_mistake_in_a_document_reads_as_its_fix(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  case: Doc) -> None:
    monkeypatch.chdir(tmp_path)
    write_stack(tmp_path / "s", textwrap.dedent(case.docs))
    assert report("s") == [f"s/resources.yaml:{line}" for line in case.report]


def test_fields_taking_an_arn_accept_refs_and_arns(tmp_path: Path) -> None:
    """Refs are text at validation: their shape is only known after apply."""
    stack = write_stack(tmp_path / "s", f"""
        kind: ecs.TaskDefinition
        name: app
        spec:
          executionRoleArn: {ROLE}
          taskRoleArn: ${{ref:iam.Role/app.arn}}
          containerDefinitions:
            - name: a
              image: x
              secrets:
                - name: DB
                  valueFrom: arn:aws:ssm:us-east-1:111111111111:parameter/db
        ---
        kind: iam.Role
        name: app
        spec:
          assumeRolePolicyDocument: {{}}
          managedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
        ---
        kind: logs.LogGroup
        name: /a
        spec: {{kmsKeyId: ""}}
        """)
    assert len(load_stack(stack, REGISTRY).resources) == 3


# --- stack.yaml and folders --------------------------------------------------------------------


def test_a_misspelt_stack_yaml_key_names_the_closest(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_stack(tmp_path / "s", "kind: sqs.Queue\nname: q\n")
    stack_yaml = tmp_path / "s" / "stack.yaml"
    stack_yaml.write_text(stack_yaml.read_text().replace("account:", "acount:"))
    assert report("s") == ["s/stack.yaml:1: account: Field required",
                           "s/stack.yaml:3: acount: unknown field: did you mean account?"]


@pytest.mark.parametrize(("given", "says"), [
    ("desired/prod/stack.yaml", "desired/prod/stack.yaml: expected a folder, got a file: give "
                                "the folder that holds it, desired/prod"),
    ("desired/base/queues.yaml", "desired/base/queues.yaml: expected a folder, got a file: a "
                                 "stack is a folder holding a stack.yaml, e.g. desired/prod"),
    ("desired/staging", "desired/staging: no such folder: a stack is a folder holding a "
                        "stack.yaml, e.g. desired/prod"),
], ids=["stack.yaml given for its folder", "another file", "nothing there"])
def test_the_stack_path_says_what_is_there_instead(desired: Path, given: str, says: str) -> None:
    assert report(given) == [says]


def test_a_commit_says_a_file_is_not_a_folder(tmp_path: Path) -> None:
    """The same from a commit's objects (`CommitFiles`), where a stack path is read."""
    from controller.source import GitSource, load_revision
    from tests.source.repos import Repo

    repo = Repo(tmp_path / "origin")
    repo.commit("a stack", {"desired/prod/stack.yaml": 'name: s\nregion: us-east-1\n'
                                                       'account: "111111111111"\n'})
    source = GitSource(repo.url, cache_dir=tmp_path / "cache")
    with pytest.raises(ValidationFailed) as caught:
        load_revision(source, source.fetch(), "desired/prod/stack.yaml", REGISTRY)
    assert [str(i) for i in caught.value.issues] == [
        "desired/prod/stack.yaml: expected a folder, got a file: give the folder that holds "
        "it, desired/prod"]


def test_a_missing_include_takes_the_refs_into_it(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of the include is known, so every dangling ref may point into it."""
    monkeypatch.chdir(tmp_path)
    write_stack(tmp_path / "s", "kind: logs.LogGroup\nname: /a\nspec:\n"
                "  kmsKeyId: ${ref:logs.LogGroup/b.arn}\n")
    stack_yaml = tmp_path / "s" / "stack.yaml"
    stack_yaml.write_text(stack_yaml.read_text() + "includes: [../shared]\n")
    assert report("s") == [
        "s/stack.yaml:6: includes[0]: include '../shared': no such folder (1 ref elsewhere "
        "names logs.LogGroup/b, which this include may define: it is checked once it reads)"]


# --- the order of the report, and the stack it is about ------------------------------------------


def test_root_causes_come_first_then_resources_then_the_stack() -> None:
    """Within a rank by file and line; a later file's syntax error still leads."""
    issues = [
        Issue("a.yaml", 3, "ref to x", "k/a", "spec.f", Rank.STACK),
        Issue("a.yaml", 9, "unknown field", "k/a", "spec.g"),
        Issue("a.yaml", 2, "unknown field", "k/a", "spec.h"),
        Issue("z.yaml", 5, "invalid YAML: ...", rank=Rank.FILES),
    ]
    ordered = ValidationFailed(issues).issues
    assert [(i.file, i.line) for i in ordered] == [("z.yaml", 5), ("a.yaml", 2), ("a.yaml", 9),
                                                  ("a.yaml", 3)]
    assert str(ordered[0]) == "z.yaml:5: invalid YAML: ..."
    assert str(ordered[-1]) == "a.yaml:3: k/a: spec.f: ref to x"


def test_the_failure_names_the_stack_once_stack_yaml_validated(desired: Path) -> None:
    edit(desired, "base/queues.yaml", "visibilityTimeout: 360", "visibilityTimeout: -1")
    assert failure("desired/prod").stack == "iq-theory-prod"
    edit(desired, "prod/stack.yaml", "name: iq-theory-prod", "name: Prod!")
    assert failure("desired/prod").stack is None


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_desired_stays_valid(env: str) -> None:
    """Every check above passes on IQ Theory's stacks: their Fargate sizes, CIDRs, ARNs."""
    assert len(load_stack(DESIRED / env, REGISTRY).resources) == DECLARED[env]
