"""The CI workflows users copy (deploy/ci/): valid for GitHub and GitLab, and doing what
they say.

The schemas are the published GitHub workflow and GitLab CI schemas, as
check-jsonschema vendors them (offline). Beyond the schema, what a user would notice:
no AWS access key anywhere (roles through OIDC), the accounts and repositories the
workflows name are those of desired/, the `gitops set` they run works on desired/,
and the shell steps that decide pass or fail are run here with a fake `gitops` on the
PATH: a plan that exits 2 (changes pending) passes, 1 fails, and the comment is
written either way, under its hidden marker. The comment's create-or-edit logic is run
too: GitHub's (actions/github-script) with node when node is here, GitLab's (Python)
against a fake GitLab API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.metrics import ECS_ROLLOUT_STATE
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.stacks import DESIRED, REPO, copy_desired

CI = REPO / "deploy" / "ci"
GITHUB_BUILD = CI / "github" / "build.yml"
GITHUB_PLAN = CI / "github" / "plan.yml"
GITLAB_BUILD = CI / "gitlab" / "build.gitlab-ci.yml"
GITLAB_PLAN = CI / "gitlab" / "plan.gitlab-ci.yml"
GITHUB = [GITHUB_BUILD, GITHUB_PLAN]
GITLAB = [GITLAB_BUILD, GITLAB_PLAN]
BUILD_POLICY = REPO / "deploy" / "iam" / "build-role-policy.yaml"
STACKS = {"desired/dev": load_stack(DESIRED / "dev", REGISTRY),
          "desired/prod": load_stack(DESIRED / "prod", REGISTRY)}
MARKDOWN = "### gitops plan: `iq-theory-prod`\n\n**Plan: 0 to add, 2 to change.**\n"


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


# ---- the published schemas -----------------------------------------------------------

def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema (the dev extra) with one of the schemas it ships."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           schema, *map(str, files)], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize(("schema", "files"), [
    ("vendor.github-workflows", GITHUB),
    # Every job has a time limit: a hung docker push does not hold a runner for 6 hours.
    ("custom.github-workflows-require-timeout", GITHUB),
    ("vendor.gitlab-ci", GITLAB),
], ids=["github-workflows", "github-timeouts", "gitlab-ci"])
def test_the_workflows_pass_the_published_schemas(schema: str, files: list[Path]) -> None:
    result = check_jsonschema(schema, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_broken_workflow(tmp_path: Path) -> None:
    """The check sees something: a job without `runs-on`, a GitLab job with `scripts`."""
    github = load(GITHUB_BUILD)
    del github["jobs"]["build"]["runs-on"]
    gitlab = load(GITLAB_PLAN)
    gitlab["plan"]["scripts"] = gitlab["plan"].pop("script")
    (tmp_path / "build.yml").write_text(yaml.safe_dump(github))
    (tmp_path / "plan.gitlab-ci.yml").write_text(yaml.safe_dump(gitlab))
    assert check_jsonschema("vendor.github-workflows", tmp_path / "build.yml").returncode == 1
    assert check_jsonschema("vendor.gitlab-ci", tmp_path / "plan.gitlab-ci.yml").returncode == 1


# ---- OIDC, never a key ---------------------------------------------------------------

KEY_WORDS = re.compile(r"aws[_-]access[_-]key|aws[_-]secret[_-]access|AKIA[0-9A-Z]{16}",
                       re.IGNORECASE)


@pytest.mark.parametrize("path", GITHUB + GITLAB, ids=lambda p: p.name)
def test_no_workflow_holds_or_reads_an_aws_key(path: Path) -> None:
    found = [line.strip() for line in path.read_text().splitlines() if KEY_WORDS.search(line)]
    assert found == []


def _github_steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in load(path)["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_workflows_assume_a_role_through_oidc(path: Path) -> None:
    document = load(path)
    aws_jobs = [job for job in document["jobs"].values()
                if any(str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")
                       for s in job.get("steps", []))]
    assert aws_jobs, "the workflow reaches AWS"
    for job in aws_jobs:
        assert job["permissions"]["id-token"] == "write"
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                assert set(step["with"]) == {"role-to-assume", "role-session-name",
                                             "aws-region"}, step["name"]
    # Nothing else may write: the top-level default is read-only.
    assert document["permissions"] == {"contents": "read"}


def test_the_github_build_may_push_and_open_a_pull_request() -> None:
    permissions = load(GITHUB_BUILD)["jobs"]["build"]["permissions"]
    assert permissions == {"id-token": "write", "contents": "write", "pull-requests": "write"}


@pytest.mark.parametrize("path", GITLAB, ids=lambda p: p.name)
def test_gitlab_jobs_assume_a_role_with_their_id_token(path: Path) -> None:
    (job,) = [v for k, v in load(path).items() if isinstance(v, dict) and "script" in v]
    assert job["id_tokens"] == {"AWS_ID_TOKEN": {"aud": "https://gitlab.com"}}
    setup = "\n".join(job["before_script"] + job["script"])
    assert 'printf \'%s\' "$AWS_ID_TOKEN" > /tmp/web-identity-token' in setup
    assert "export AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/web-identity-token" in setup
    assert "AWS_ROLE_ARN=" in setup


# ---- the accounts, images and values are desired/'s -----------------------------------

def _role_account(arn: str) -> str:
    match = re.fullmatch(r"arn:aws:iam::(\d{12}):role/iq-gitops-build", arn)
    assert match, arn
    return match.group(1)


@pytest.mark.parametrize(("variables", "where"), [
    (load(GITHUB_BUILD)["env"], "github"),
    (load(GITLAB_BUILD)["build"]["variables"], "gitlab"),
])
def test_the_build_roles_are_in_the_stacks_accounts(variables: dict[str, str],
                                                    where: str) -> None:
    assert _role_account(variables["DEV_BUILD_ROLE"]) == STACKS["desired/dev"].config.account
    assert _role_account(variables["PROD_BUILD_ROLE"]) == STACKS["desired/prod"].config.account
    assert variables["AWS_REGION"] == STACKS["desired/prod"].config.region


def test_gitlab_plans_every_stack_in_its_account() -> None:
    matrix = load(GITLAB_PLAN)["plan"]["parallel"]["matrix"]
    assert {entry["STACK"]: entry["ACCOUNT"] for entry in matrix} == {
        name: stack.config.account for name, stack in STACKS.items()}
    assert sorted(p.parent.relative_to(REPO).as_posix()
                  for p in DESIRED.glob("*/stack.yaml")) == sorted(STACKS)


def test_the_images_pushed_are_the_stacks_repositories_and_the_build_role_reaches_only_them(
        ) -> None:
    repositories = {r.name for s in STACKS.values() for r in s.resources
                    if r.kind == "ecr.Repository"}
    assert repositories == {"iq-theory-api", "iq-theory-frontend"}
    for path in (GITHUB_BUILD, GITLAB_BUILD):
        pushed = set(re.findall(r"for image in ([\w -]+); do", path.read_text()))
        assert pushed == {"iq-theory-api iq-theory-frontend"}, path.name
    granted = {arn.rsplit("/", 1)[1] for s in load(BUILD_POLICY)["Statement"]
               for arn in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
               if arn != "*"}
    assert granted == repositories


def _set_commands(path: Path) -> list[str]:
    return re.findall(r"^\s*(gitops set desired/\w+ .*)$", path.read_text(), re.MULTILINE)


@pytest.mark.parametrize("path", [GITHUB_BUILD, GITLAB_BUILD], ids=lambda p: p.name)
def test_the_build_sets_both_tags_in_dev_and_prod_and_it_works(path: Path,
                                                              tmp_path: Path) -> None:
    """The workflow's own `gitops set` lines, run on a copy of desired/ with a commit SHA."""
    commands = _set_commands(path)
    assert [c.split()[2] for c in commands] == ["desired/dev", "desired/prod"]
    sha = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
    copy_desired(tmp_path)
    for command in commands:
        assert '"api_image_tag=$TAG" "frontend_image_tag=$TAG"' in command
        done = subprocess.run(["bash", "-c", command.replace("gitops", "$GITOPS", 1)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "TAG": sha, "PYTHONPATH": str(REPO),
                                   "GITOPS": f"{sys.executable} -m controller"},
                              check=False)
        assert done.returncode == 0, done.stderr
        stack = command.split()[2]
        assert done.stdout.splitlines()[1].startswith(f"{stack}/stack.yaml: frontend_image_tag")
        text = (tmp_path / stack / "stack.yaml").read_text()
        assert f'  api_image_tag: "{sha}"\n' in text
        assert f'  frontend_image_tag: "{sha}"\n' in text


# ---- the step that decides pass or fail, run with a fake gitops -----------------------

FAKE_GITOPS = textwrap.dedent("""\
    #!/bin/sh
    # A stand-in for gitops: records its arguments, prints a plan, exits as told.
    echo "$*" >> "$CALLS"
    case "$1" in
      validate) exit "$VALIDATE_EXIT" ;;
      plan) printf '%s' "$MARKDOWN"; exit "$PLAN_EXIT" ;;
    esac
    exit 9
""")


def github_plan_script() -> str:
    (step,) = [s for s in _github_steps(GITHUB_PLAN) if "gitops plan" in s.get("run", "")]
    assert step["shell"] == "bash"
    return str(step["run"])


def gitlab_plan_script() -> str:
    (entry,) = [e for e in load(GITLAB_PLAN)["plan"]["script"] if "gitops plan" in e]
    return str(entry)


@pytest.fixture
def fake_gitops(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `gitops` is the fake, and the variables it reads."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "gitops"
    fake.write_text(FAKE_GITOPS)
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CALLS": str(tmp_path / "calls"),
            "MARKDOWN": MARKDOWN, "STACK": "desired/prod", "HOME": str(tmp_path)}


# How each runner runs the step: GitHub's `shell: bash`; GitLab's image has bash (the
# runner uses it, with pipefail), and the script is also plain POSIX sh.
SHELLS = {"github": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
          "gitlab-bash": ["bash", "-eo", "pipefail"], "gitlab-sh": ["sh", "-e"]}
SCRIPTS = {"github": github_plan_script, "gitlab-bash": gitlab_plan_script,
           "gitlab-sh": gitlab_plan_script}


@pytest.mark.parametrize("runner", SHELLS)
@pytest.mark.parametrize(("validate", "plan", "passes"), [
    (0, 0, True),   # in sync
    (0, 2, True),   # changes pending: what a deploy pull request is for
    (0, 1, False),  # the plan failed (AWS refused a read, the account guard...)
    (1, 1, False),  # invalid: plan prints the errors as markdown and exits 1
], ids=["in-sync", "changes", "failed", "invalid"])
def test_the_plan_step_passes_on_0_and_2_fails_on_1_and_always_writes_the_comment(
        runner: str, validate: int, plan: int, passes: bool, fake_gitops: dict[str, str],
        tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = {**fake_gitops, "VALIDATE_EXIT": str(validate), "PLAN_EXIT": str(plan)}
    done = subprocess.run([*SHELLS[runner], "-c", SCRIPTS[runner]()], cwd=work, env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode == 0) == passes, done.stdout + done.stderr
    if not passes:
        assert done.returncode == 1
        assert "see the plan" in done.stdout + done.stderr
    # validate first, then the markdown plan, of the stack
    assert Path(env["CALLS"]).read_text().splitlines() == [
        "validate desired/prod", "plan desired/prod --output markdown"]
    assert (work / "comment.md").read_text() == "<!-- gitops-plan: desired/prod -->\n" + MARKDOWN


def test_github_cuts_a_plan_too_long_for_a_comment(fake_gitops: dict[str, str],
                                                   tmp_path: Path) -> None:
    env = {**fake_gitops, "VALIDATE_EXIT": "0", "PLAN_EXIT": "2",
           "MARKDOWN": MARKDOWN + "x" * 100_000}
    done = subprocess.run([*SHELLS["github"], "-c", github_plan_script()], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    comment = (tmp_path / "comment.md").read_text()
    assert len(comment) < 65_536
    assert comment.endswith("(cut at 60000 characters: the whole plan is in the job log)\n")


# ---- which stacks a pull request plans (GitHub) ---------------------------------------

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                   check=True, capture_output=True, timeout=30)


@pytest.fixture
def repo_with_desired(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(DESIRED, repo / "desired")
    (repo / "README.md").write_text("app\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    return repo


@pytest.mark.parametrize(("changed", "planned"), [
    (["desired/prod/stack.yaml"], ["desired/prod"]),
    (["desired/dev/egress.yaml", "README.md"], ["desired/dev"]),
    (["desired/base/ecs.yaml"], ["desired/dev", "desired/prod"]),
    (["README.md"], []),
])
def test_the_stacks_a_pull_request_plans(repo_with_desired: Path, changed: list[str],
                                         planned: list[str], tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    for name in changed:
        with (repo_with_desired / name).open("a") as file:
            file.write("# changed\n")
    _git(repo_with_desired, "commit", "-q", "-am", "change")
    (step,) = [s for s in load(GITHUB_PLAN)["jobs"]["stacks"]["steps"] if s.get("id") == "changed"]
    output = tmp_path / "output"
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                          cwd=repo_with_desired, env={**os.environ, "GITHUB_OUTPUT": str(output)},
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"stacks={json.dumps(planned, separators=(',', ':'))}\n"


# ---- one comment per stack, edited in place -------------------------------------------

def github_comment_script() -> str:
    (step,) = [s for s in _github_steps(GITHUB_PLAN)
               if str(s.get("uses", "")).startswith("actions/github-script")]
    return str(step["with"]["script"])


NODE_HARNESS = """
const calls = [];
const existing = JSON.parse(process.env.EXISTING);
const github = {
  paginate: async (method, params) => {
    calls.push(['list', params.issue_number]);
    return existing;
  },
  rest: { issues: {
    listComments: 'listComments',
    updateComment: async (p) => { calls.push(['update', p.comment_id, p.body]); },
    createComment: async (p) => { calls.push(['create', p.issue_number, p.body]); },
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 } };
(async () => {
SCRIPT
})().then(() => console.log(JSON.stringify(calls)));
"""


def run_github_comment(existing: list[dict[str, Any]], cwd: Path) -> list[list[Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actions/github-script's script is JavaScript")
    harness = NODE_HARNESS.replace("SCRIPT", github_comment_script())
    done = subprocess.run([node, "-e", harness], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "EXISTING": json.dumps(existing)}, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_github_posts_one_comment_per_stack_and_edits_it_on_the_next_push(
        tmp_path: Path) -> None:
    body = "<!-- gitops-plan: desired/prod -->\n" + MARKDOWN
    (tmp_path / "comment.md").write_text(body)
    assert run_github_comment([], tmp_path) == [["list", 7], ["create", 7, body]]
    others = [
        # a person quoting the marker, and the bot's comment of the other stack
        {"id": 1, "user": {"type": "User"}, "body": "<!-- gitops-plan: desired/prod -->"},
        {"id": 2, "user": {"type": "Bot"}, "body": "<!-- gitops-plan: desired/dev -->\nx"},
        {"id": 3, "user": {"type": "Bot"}, "body": "<!-- gitops-plan: desired/prod -->\nold"},
    ]
    assert run_github_comment(others, tmp_path) == [["list", 7], ["update", 3, body]]


class FakeGitLab(BaseHTTPRequestHandler):
    """The merge request notes API: GET a page, POST a note, PUT a note's body."""

    notes: list[dict[str, Any]] = []
    requests: list[tuple[str, str, str | None]] = []
    PREFIX = "/api/v4/projects/42/merge_requests/7/notes"

    def _answer(self, value: Any) -> None:
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> str:
        return str(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["body"])

    def do_GET(self) -> None:
        assert self.headers["PRIVATE-TOKEN"] == "glpat-test"
        self.requests.append(("GET", self.path, None))
        page = int(re.search(r"[?&]page=(\d+)", self.path).group(1))  # type: ignore[union-attr]
        self._answer(self.notes[(page - 1) * 100:page * 100])

    def do_POST(self) -> None:
        body = self._body()
        self.requests.append(("POST", self.path, body))
        self.notes.append({"id": 1000 + len(self.notes), "body": body})
        self._answer(self.notes[-1])

    def do_PUT(self) -> None:
        body = self._body()
        self.requests.append(("PUT", self.path, body))
        note = next(n for n in self.notes if self.path == f"{self.PREFIX}/{n['id']}")
        note["body"] = body
        self._answer(note)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gitlab_api() -> Iterator[str]:
    FakeGitLab.notes = [{"id": n, "body": f"a person's note {n}"} for n in range(150)]
    FakeGitLab.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitLab)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v4"
    server.shutdown()
    server.server_close()


def test_gitlab_posts_one_note_per_stack_and_edits_it_on_the_next_push(
        gitlab_api: str, tmp_path: Path) -> None:
    (entry,) = load(GITLAB_PLAN)["plan"]["after_script"]
    env = {**os.environ, "CI_API_V4_URL": gitlab_api, "CI_PROJECT_ID": "42",
           "CI_MERGE_REQUEST_IID": "7", "GITOPS_API_TOKEN": "glpat-test"}

    def post(markdown: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "comment.md").write_text("<!-- gitops-plan: desired/prod -->\n" + markdown)
        return subprocess.run(["sh", "-e", "-c", entry], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=30, check=False)

    first = post("first push\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "plan note posted\n"
    second = post("second push\n")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "plan note 1150 edited\n"
    ours = [n for n in FakeGitLab.notes if n["body"].startswith("<!-- gitops-plan:")]
    assert ours == [{"id": 1150, "body": "<!-- gitops-plan: desired/prod -->\nsecond push\n"}]
    assert [(method, path.split("?")[0]) for method, path, _ in FakeGitLab.requests
            if method != "GET"] == [("POST", FakeGitLab.PREFIX),
                                    ("PUT", f"{FakeGitLab.PREFIX}/1150")]


def test_gitlab_without_a_token_posts_nothing_and_does_not_fail(tmp_path: Path) -> None:
    (entry,) = load(GITLAB_PLAN)["plan"]["after_script"]
    (tmp_path / "comment.md").write_text("<!-- gitops-plan: desired/prod -->\n")
    env = {k: v for k, v in os.environ.items() if k != "GITOPS_API_TOKEN"}
    done = subprocess.run(["sh", "-e", "-c", entry], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode, done.stdout) == (0, "no GITOPS_API_TOKEN or no plan: nothing posted\n")


# ---- the README's path from a push to a running image -----------------------------------

def test_the_readme_names_the_real_files_alert_and_metric() -> None:
    """What "Deploying a change" tells a user to look at exists under that name."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Deploying a change\n", 1)[1].split("\n## ", 1)[0]
    steps = [line for line in section.splitlines() if re.match(r"\d\. ", line)]
    assert len(steps) == 5
    alerts = {rule["alert"] for group in load(REPO / "deploy/prometheus/alerts.yml")["groups"]
              for rule in group["rules"] if "alert" in rule}
    named = set(re.findall(r"`(Gitops\w+)`", section))
    assert named and named <= alerts
    metrics = set(re.findall(r"`(gitops_\w+)", section))
    assert metrics == {"gitops_ecs_rollout_state"}
    assert 'gitops_ecs_rollout_state{state="completed"}' in section
    assert ECS_ROLLOUT_STATE._name == "gitops_ecs_rollout_state"
    for folder in re.findall(r"`(deploy/[\w/]+/)`", section):
        assert (REPO / folder).is_dir(), folder
