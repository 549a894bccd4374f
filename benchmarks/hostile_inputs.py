"""Benchmark: hostile commits, careless specs and shutdowns, each reproduced and measured.

Run: .venv/bin/python benchmarks/hostile_inputs.py [--checkout DIR] [--only N,N]

Every reproduction drives the `gitops` CLI or daemon as a process (from
`--checkout`, default this tree, with this interpreter), so the same script
measures an older commit side by side with the current one:

    git worktree add /tmp/before <commit>
    .venv/bin/python benchmarks/hostile_inputs.py --checkout /tmp/before

It prints one line per reproduction: what was tried, and the figure (exit code,
seconds, peak memory, what survived in AWS). Memory is capped at 3 GiB per
child so a runaway read ends in MemoryError instead of taking the machine.
The HTTP floods have their own script, benchmarks/http_limits.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from controller.emulator import MotoServer, start_moto

ACCOUNT = "111111111111"
MEMORY_CAP = 3 * 1024**3
SECRETS = {"AWS_SECRET_ACCESS_KEY": "aws-secret-SENTINEL-1",
           "AWS_SESSION_TOKEN": "aws-session-SENTINEL-2",
           "GITOPS_GIT_TOKEN": "git-token-SENTINEL-3",
           "GITOPS_WEBHOOK_SECRET": "hook-secret-SENTINEL-4"}


@dataclass
class Run:
    code: int | None
    out: str
    seconds: float
    peak_mb: float


class Bench:
    def __init__(self, checkout: Path, work: Path) -> None:
        self.checkout = checkout
        self.work = work
        self.moto: MotoServer | None = None

    # -- processes ----------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "GITOPS_"))}
        env.update(PYTHONPATH=str(self.checkout), AWS_ACCESS_KEY_ID="bench",
                   AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                   AWS_MAX_ATTEMPTS="5", XDG_CACHE_HOME=str(self.work / "xdg-cache"))
        if self.moto is not None:
            env["AWS_ENDPOINT_URL"] = self.moto.url
        env.update(extra)
        return env

    def gitops(self, *args: str, cwd: Path | None = None, timeout: float = 300,
               **env: str) -> Run:
        """`python -m controller ARGS`; peak RSS from wait4, memory capped."""

        def cap() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

        started = time.monotonic()
        # Never this tree as the working directory: `-m` puts it first on sys.path.
        proc = subprocess.Popen([sys.executable, "-m", "controller", *args], cwd=cwd or self.work,
                                env=self.env(**env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, preexec_fn=cap)
        chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
        reader.start()
        deadline = started + timeout
        status, usage = 0, None
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        else:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            reader.join()
            return Run(None, b"".join(chunks).decode(errors="replace"), timeout,
                       usage.ru_maxrss / 1024)
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join()
        return Run(proc.returncode, b"".join(chunks).decode(errors="replace"),
                   time.monotonic() - started, usage.ru_maxrss / 1024 if usage else 0.0)

    def aws(self, service: str) -> object:
        assert self.moto is not None
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.moto.url,
                            aws_access_key_id="bench", aws_secret_access_key="bench")

    def stack(self, name: str, docs: str, values: str = "x: 1",
              extra: str = "") -> Path:
        folder = self.work / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "stack.yaml").write_text(
            f'name: {name}\nregion: us-east-1\naccount: "{ACCOUNT}"\n{extra}values:\n'
            + textwrap.indent(textwrap.dedent(values).strip(), "  ") + "\n")
        (folder / "resources.yaml").write_text(textwrap.dedent(docs).lstrip())
        return folder


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def new_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "bench")
    return root


def commit_all(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")


def outcome(run: Run) -> str:
    if run.code is None:
        return f"still running after {run.seconds:.0f} s (killed)"
    last = [line for line in run.out.strip().splitlines() if line.strip()]
    tail = last[-1][:110] if last else ""
    return f"exit {run.code} in {run.seconds:.2f} s, peak {run.peak_mb:.0f} MB ({tail})"


# -- 1, 2: data loss ---------------------------------------------------------------


def log_group_key(b: Bench) -> list[str]:
    kms = b.aws("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
    group = "/bench/app"
    docs = f"""
        kind: logs.LogGroup
        name: {group}
        spec: {{retentionInDays: 7}}
    """
    folder = b.stack("bench-logs", docs)
    b.gitops("apply", str(folder), "--auto-approve")
    logs = b.aws("logs")
    logs.create_log_stream(logGroupName=group, logStreamName="s")  # type: ignore[attr-defined]
    logs.put_log_events(logGroupName=group, logStreamName="s",  # type: ignore[attr-defined]
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}])
    (folder / "resources.yaml").write_text(
        (folder / "resources.yaml").read_text().replace(
            "{retentionInDays: 7}", "{retentionInDays: 7, kmsKeyId: " + key + "}"))
    planned = b.gitops("plan", str(folder)).out
    action = next((line.split()[0] for line in planned.splitlines()
                   if line.strip().endswith(group)), "?")
    run = b.gitops("apply", str(folder), "--auto-approve")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]  # type: ignore[attr-defined]
    rows = [f"1  add kmsKeyId to a log group holding 1 event: plan {action!r}, apply "
            f"{outcome(run)}; log streams left: {len(streams)} (an update calls AssociateKmsKey, "
            "which moto 5.2.5 answers with 500)"]
    (folder / "resources.yaml").write_text(textwrap.dedent(f"""
        kind: logs.LogGroup
        name: {group}
        spec: {{retentionInDays: 7, kmsKeyId: null}}
    """).lstrip())
    codes = []
    for _ in range(3):
        codes.append(b.gitops("apply", str(folder), "--auto-approve").code)
    plan = b.gitops("plan", str(folder))
    rows.append(f"1  kmsKeyId: null, three applies: exits {codes}, then plan exit {plan.code}")
    return rows


def foreign_role(b: Bench) -> list[str]:
    iam = b.aws("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="bench-someone-elses", AssumeRolePolicyDocument=trust,  # type: ignore[attr-defined]
                    Path="/", Tags=[{"Key": "owner", "Value": "another-team"}])
    folder = b.stack("bench-role", """
        kind: iam.Role
        name: bench-someone-elses
        spec:
          path: /service/
          assumeRolePolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com},
                 Action: "sts:AssumeRole"}
    """)
    run = b.gitops("apply", str(folder), "--auto-approve")
    role = iam.get_role(RoleName="bench-someone-elses")["Role"]  # type: ignore[attr-defined]
    tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
    kept = "kept" if tags.get("owner") == "another-team" else "deleted and re-created"
    return [f"2  replace of a same-named role made by another team: apply {outcome(run)}; "
            f"their role {kept}"]


# -- 3, 4, 5: secrets --------------------------------------------------------------


def crash_output(b: Bench) -> list[str]:
    run = b.gitops("plan", str(Path(b.checkout) / "desired" / "prod"),
                   AWS_PROFILE="no-such-profile", **SECRETS)
    leaked = sum(run.out.count(v) for v in SECRETS.values())
    return [f"3  unexpected error (AWS_PROFILE=no-such-profile): {len(run.out.splitlines())} "
            f"lines of output, {leaked} secret values in them, exit {run.code}"]


class TokenTrap(BaseHTTPRequestHandler):
    """Answers 401 asking for Basic auth, and records any Authorization header it gets;
    with `redirect_to` set it redirects every request there instead."""

    seen: list[str] = []
    redirect_to: str | None = None

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path)
            self.end_headers()
            return
        auth = self.headers.get("Authorization")
        if auth:
            self.seen.append(auth)
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    server = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def token_exposure(b: Bench) -> list[str]:
    rows = []
    token = SECRETS["GITOPS_GIT_TOKEN"]
    run = b.gitops("run", timeout=8, GITOPS_REPO=f"https://user:{token}@127.0.0.1:9/x.git",
                   GITOPS_PATH="desired/prod", GITOPS_LISTEN="127.0.0.1:0",
                   GITOPS_CACHE_DIR=str(b.work / "cache-token"))
    rows.append(f"4  token written into GITOPS_REPO: {run.out.count(token)} copies in the "
                "daemon's output")
    trap = type("Trap", (TokenTrap,), {"seen": []})
    with serve(trap) as plain:
        b.gitops("plan", "--repo", f"{plain}/repo.git", "--path", "desired/prod",
                 GITOPS_GIT_TOKEN=token, timeout=30)
    rows.append(f"4  token over plain http://: sent {len(trap.seen)} time(s)")
    other = type("Other", (TokenTrap,), {"seen": []})
    with serve(other, "127.0.0.2") as elsewhere:
        bounce = type("Bounce", (TokenTrap,), {"redirect_to": elsewhere})
        with serve(bounce) as first:
            b.gitops("plan", "--repo", f"{first}/repo.git", "--path", "desired/prod",
                     GITOPS_GIT_TOKEN=token, timeout=30)
    rows.append(f"4  token after a redirect to another host: sent {len(other.seen)} time(s)")
    return rows


def environment_secrets(b: Bench) -> list[str]:
    rows = []
    for label, env in (("user:pass@ without a scheme", "{name: CACHE, value: 'u:pw@cache:6379'}"),
                       ("URL with an empty user", "{name: CACHE, value: 'redis://:pw@h:6379'}"),
                       ("DB_PASSWD", "{name: DB_PASSWD, value: hunter2}")):
        folder = b.stack("bench-env", f"""
            kind: ecs.TaskDefinition
            name: bench-env
            spec:
              cpu: "256"
              memory: "512"
              containerDefinitions:
                - name: app
                  image: nginx
                  environment: [{env}]
        """)
        code = b.gitops("validate", str(folder)).code
        rows.append(f"5  environment {label}: validate exit {code}")
    return rows


# -- 6, 7: hostile commits ------------------------------------------------------------


def yaml_bomb(b: Bench) -> list[str]:
    rows = []
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    folder = b.stack("bench-bomb", "kind: logs.LogGroup\nname: /b\nspec:\n  tags: {}\n")
    (folder / "bomb.yaml").write_text("kind: logs.LogGroup\nname: /bomb\nspec: {}\n"
                                      "policy: {}\n---\n" + bomb)
    run = b.gitops("validate", str(folder))
    rows.append(f"6  YAML bomb of {len(bomb)} bytes: validate {outcome(run)}")
    folder = b.stack("bench-zero", "kind: logs.LogGroup\nname: /z\nspec: {}\n")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    run = b.gitops("validate", str(folder), timeout=120)
    rows.append(f"6  symlink to /dev/zero: validate {outcome(run)}")
    repo = new_repo(b.work / "bench-big")
    stack = repo / "desired" / "big"
    stack.mkdir(parents=True)
    (stack / "stack.yaml").write_text(f'name: big\nregion: us-east-1\naccount: "{ACCOUNT}"\n')
    line = "# " + "x" * 98 + "\n"
    (stack / "big.yaml").write_text("kind: logs.LogGroup\nname: /big\nspec: {}\n"
                                    + line * (27 * 1024 * 1024 // len(line)))
    with open(repo / "blob.bin", "wb") as out:
        out.write(os.urandom(200 * 1024 * 1024))
    commit_all(repo)
    for attempt in ("first (fetches the 200 MB into the clone)", "again (the clone is kept)"):
        run = b.gitops("validate", "--repo", str(repo), "--path", "desired/big", timeout=300)
        rows.append(f"6  27 MB YAML beside a 200 MB binary, from git, {attempt}: validate "
                    f"{outcome(run)}")
    return rows


def outside_reads(b: Bench) -> list[str]:
    rows = []
    repo = new_repo(b.work / "bench-escape")
    outside = b.work / "outside"
    outside.mkdir()
    (outside / "planted.yaml").write_text("kind: sqs.Queue\nname: planted-from-outside\nspec: {}\n")
    stack = repo / "desired" / "prod"
    stack.mkdir(parents=True)
    for label, include in (("../../../outside include", os.path.relpath(outside, stack)),
                           ("absolute include", str(outside))):
        (stack / "stack.yaml").write_text(f'name: esc\nregion: us-east-1\naccount: "{ACCOUNT}"\n'
                                          f"includes: [{include}]\n")
        run = b.gitops("validate", str(stack))
        rows.append(f"7  {label} leaving the repository: validate {outcome(run)}")
    (stack / "stack.yaml").write_text(f'name: esc\nregion: us-east-1\naccount: "{ACCOUNT}"\n')
    (stack / "passwd.yaml").symlink_to("/etc/passwd")
    run = b.gitops("validate", str(stack))
    followed = "never followed" not in run.out
    rows.append(f"7  symlink passwd.yaml -> /etc/passwd: validate {outcome(run)}; "
                f"followed and parsed: {followed}")
    return rows


# -- 8, 9: values and names -------------------------------------------------------------


def value_reexpanded(b: Bench) -> list[str]:
    folder = b.stack("bench-values", """
        kind: logs.LogGroup
        name: /bench/values
        spec:
          tags: {note: "${values.note}"}
    """, values='note: "${values.other}"\nother: x')
    valid = b.gitops("validate", str(folder))
    run = b.gitops("plan", str(folder))
    return [f"8  a value holding ${{values...}}: validate exit {valid.code}; plan {outcome(run)}"]


def hostile_names(b: Bench) -> list[str]:
    folder = b.stack("bench-names", """
        kind: sqs.Queue
        name: "innocent\\n<!-- hidden"
        spec: {}
        ---
        kind: logs.LogGroup
        name: /bench/tagged
        spec:
          tags: {"gitops:stack": someone-else}
    """)
    run = b.gitops("validate", str(folder))
    return [f"9  a name holding a newline and <!--, a gitops: tag key: validate {outcome(run)}"]


# -- 11, 12: the daemon's shutdown and settings ----------------------------------------


class Silent(BaseHTTPRequestHandler):
    """Reads the request, then never answers: a hung AWS endpoint or git server."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(3600)

    do_POST = do_GET


def sigterm(b: Bench) -> list[str]:
    rows = []
    repo = new_repo(b.work / "bench-sigterm")
    import shutil

    shutil.copytree(Path(b.checkout) / "desired", repo / "desired")
    commit_all(repo)
    for label, hang in (("an AWS call", "aws"), ("a git fetch", "git")):
        with serve(Silent) as silent:
            settings = {"GITOPS_REPO": f"file://{repo}" if hang == "aws" else f"{silent}/r.git",
                        "GITOPS_PATH": "desired/prod", "GITOPS_LISTEN": "127.0.0.1:0",
                        "GITOPS_CACHE_DIR": str(b.work / f"cache-{hang}"),
                        "AWS_ENDPOINT_URL": silent}
            proc = subprocess.Popen([sys.executable, "-m", "controller", "run"], cwd=b.work,
                                    env=b.env(**settings), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(4)  # the first run is under way and hangs
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                code: int | None = proc.wait(timeout=200)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = None
            rows.append(f"11 SIGTERM while {label} hangs: exit {code} after "
                        f"{time.monotonic() - started:.1f} s")
    return rows


def bad_settings(b: Bench) -> list[str]:
    rows = []
    base = {"GITOPS_REPO": str(b.work), "GITOPS_PATH": "desired/prod",
            "GITOPS_LISTEN": "127.0.0.1:0", "GITOPS_CACHE_DIR": str(b.work / "cache-settings")}
    for name, value in (("GITOPS_PATH", "../../etc"), ("GITOPS_INTERVAL_SECONDS", "nan"),
                        ("GITOPS_INTERVAL_SECONDS", "inf"), ("GITOPS_GIT_TIMEOUT_SECONDS", "nan"),
                        ("GITOPS_REF", "-x"), ("GITOPS_INTERVAL_SECONDS", "1e-9")):
        run = b.gitops("run", timeout=6, **{**base, name: value})
        state = "still running after 6 s" if run.code is None else f"exit {run.code}"
        rows.append(f"12 {name}={value}: {state}")
    return rows


REPRODUCTIONS: list[Callable[[Bench], list[str]]] = [
    log_group_key, foreign_role, crash_output, token_exposure, environment_secrets, yaml_bomb,
    outside_reads, value_reexpanded, hostile_names, sigterm, bad_settings]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--only", default="", help="comma-separated function names")
    args = parser.parse_args()
    wanted = {n for n in args.only.split(",") if n}
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        bench = Bench(args.checkout.resolve(), Path(tmp))
        bench.moto = start_moto(ACCOUNT)
        try:
            head = git(bench.checkout, "rev-parse", "--short", "HEAD")
            print(f"checkout {bench.checkout} ({head})")
            for reproduce in REPRODUCTIONS:
                if wanted and reproduce.__name__ not in wanted:
                    continue
                try:
                    for row in reproduce(bench):
                        print(row, flush=True)
                except Exception as err:  # one broken reproduction must not hide the others
                    print(f"-- {reproduce.__name__}: {type(err).__name__}: {err}", flush=True)
        finally:
            bench.moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
