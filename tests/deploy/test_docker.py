"""The controller's image and compose file, checked by reading them (no Docker engine here).

The image install step itself is exercised by .ci/run, which installs the package
the same way into a fresh venv and checks that moto is not in it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.contract import REQUIRED_SETTINGS, SCRAPE_JOB, SETTINGS
from tests.stacks import REPO

DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"
DOCKERIGNORE = REPO / ".dockerignore"
CI_RUN = REPO / ".ci" / "run"
PIP_INSTALL = "pip install --no-cache-dir ."



def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), " ".join(args.split())))
    assert not pending, "the Dockerfile ends in a continuation line"
    return out


def exec_form(args: str) -> list[str]:
    """An exec-form (JSON array) argument; shell form is not accepted where it matters."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def _dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def _all(keyword: str) -> list[tuple[int, str]]:
    return [(i, args) for i, (k, args) in enumerate(_dockerfile()) if k == keyword]


def test_base_is_slim_python_311() -> None:
    (index, image), *_ = _all("FROM")
    assert index == 0
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", image), image


def test_git_is_installed_lean() -> None:
    runs = [args for _, args in _all("RUN") if "apt-get install" in args]
    assert len(runs) == 1, runs
    run = runs[0]
    assert "apt-get update" in run and "--no-install-recommends" in run
    assert re.search(r"--no-install-recommends[\w\s-]*\bgit\b", run), run
    # The lists are removed in the same layer that downloaded them.
    assert "rm -rf /var/lib/apt/lists/*" in run


def test_package_is_installed_without_extras() -> None:
    runs = [args for _, args in _all("RUN") if "pip install" in args]
    assert len(runs) == 1, runs
    assert PIP_INSTALL in runs[0], runs[0]
    words = shlex.split(runs[0].split("&&")[0])
    # No extras (`.[dev]`, `.[demo]`), no editable install, no emulator, no other package.
    assert words == PIP_INSTALL.split(), words
    for _, args in _all("RUN"):
        assert "moto" not in args and "[dev]" not in args and "[demo]" not in args, args


def test_runs_as_a_numeric_non_root_user() -> None:
    users = _all("USER")
    assert users, "no USER: the container would run as root"
    index, user = users[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, f"USER {user}: a numeric uid other than 0"
    assert not gid or (gid.isdigit() and int(gid) > 0), user
    (entry_index, _), = _all("ENTRYPOINT")
    assert index < entry_index, "USER must come before ENTRYPOINT"


def test_entrypoint_runs_the_daemon_on_8080() -> None:
    (_, entrypoint), = _all("ENTRYPOINT")
    cmd = [exec_form(args) for _, args in _all("CMD")]
    assert exec_form(entrypoint) + (cmd[-1] if cmd else []) == ["gitops", "run"]
    assert [args for _, args in _all("EXPOSE")] == ["8080"]


def test_healthcheck_needs_no_curl() -> None:
    (_, check), = _all("HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert command, f"HEALTHCHECK needs a command: {check}"
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"], argv
    assert "http://127.0.0.1:8080/healthz" in argv[2]
    assert not re.search(r"\b(curl|wget)\b", check), check
    assert "--timeout=" in options and "--interval=" in options


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics, enough for these files: the last matching pattern wins;
    a pattern matches a path or any of its parent folders."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if body.startswith("**/"):
            hit = any(fnmatch.fnmatch(p.split("/")[-1], body[3:]) for p in prefixes)
        else:
            hit = any(fnmatch.fnmatch(p, body) for p in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_build_context_holds_the_package_and_nothing_else() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    copied = [src for _, args in _all("COPY") for src in args.split()[:-1]]
    assert copied, "no COPY"
    for src in copied:
        assert (REPO / src).exists(), src
        assert not _ignored(src, patterns), f"{src} is COPY'd but .dockerignore drops it"
    assert not _ignored("controller/cli.py", patterns)
    for secret_or_junk in (".git/config", ".venv/bin/python", ".env", "tests/conftest.py",
                           "controller/__pycache__/cli.cpython-311.pyc", "desired/prod/stack.yaml"):
        assert _ignored(secret_or_junk, patterns), secret_or_junk


def test_ci_installs_the_package_as_the_image_does() -> None:
    ci = CI_RUN.read_text()
    assert PIP_INSTALL in ci
    assert "import moto" in ci, ".ci/run must check that the production install has no moto"


# ---- docker/compose.yaml -------------------------------------------------------------

def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def _default(value: Any) -> str:
    """`${VAR:-default}` as compose resolves it with VAR unset."""
    text = str(value)
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", text)
    return match.group(1) if match else text


def test_compose_has_the_controller_moto_and_prometheus() -> None:
    services = _compose()["services"]
    assert {"controller", "moto", "prometheus"} <= set(services)


def test_compose_builds_the_controller_against_moto() -> None:
    services = _compose()["services"]
    controller = services["controller"]
    build = controller["build"]
    assert (COMPOSE.parent / build["context"]).resolve() == REPO
    assert build["dockerfile"] == "docker/Dockerfile"
    env = {k: _default(v) for k, v in controller["environment"].items()}
    gitops = {k for k in env if k.startswith("GITOPS_")}
    assert gitops >= REQUIRED_SETTINGS and gitops <= SETTINGS, gitops
    assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert any(str(p).endswith(":5000") for p in services["moto"]["ports"])
    assert controller["depends_on"]["moto"]["condition"] == "service_healthy"
    # The account guard: moto must answer as the account of the stack the controller applies.
    moto = services["moto"]
    assert str(moto["image"]).startswith("motoserver/moto:")
    # The emulator with the gaps the tests rely on filled in: the same file, run alone.
    assert moto["entrypoint"] == ["python", "/gaps/motoserver.py"]
    assert "../controller/motoserver.py:/gaps/motoserver.py:ro" in moto["volumes"]
    stack = yaml.safe_load((REPO / env["GITOPS_PATH"] / "stack.yaml").read_text())
    assert moto["environment"]["MOTO_ACCOUNT_ID"] == stack["account"]


def test_compose_moto_is_the_tested_version() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    pinned = re.search(r"moto\[server\]==([\d.]+)", pyproject)
    assert pinned, "pyproject.toml pins moto"
    assert _compose()["services"]["moto"]["image"] == f"motoserver/moto:{pinned.group(1)}"


def test_compose_prometheus_loads_the_shipped_config_and_rules() -> None:
    services = _compose()["services"]
    prometheus = services["prometheus"]
    assert str(prometheus["image"]).startswith("prom/prometheus:")
    mounts = {Path(v.split(":")[1]): (COMPOSE.parent / v.split(":")[0]).resolve()
              for v in prometheus["volumes"]}
    assert mounts[Path("/etc/prometheus")] == REPO / "deploy" / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == SCRAPE_JOB]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == ["controller:8080"], "scrape the compose service on GITOPS_LISTEN's port"


def test_compose_publishes_ports_on_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
