"""Alert rules, their unit tests, the scrape config and the dashboard.

promtool (Debian's `prometheus` package) checks the rules and the config and runs
deploy/prometheus/alerts_test.yml. Without it these tests skip, except in CI
(CI=true), where a missing promtool is a failure: .ci/run installs it.

Every series name in the rules and the dashboard must be a contract metric. The
contract is read from the collectors of controller/metrics.py (the one place
every Prometheus collector lives), so a renamed metric fails here by name.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from controller import metrics
from tests.deploy.contract import SCRAPE_JOB
from tests.stacks import REPO
from tests.tools import require_binary

PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboard.json"
# Labels every scraped series carries besides its own.
TARGET_LABELS = {"job", "instance"}


# ---- promtool ------------------------------------------------------------------------

def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    path = require_binary("promtool")
    return subprocess.run([path, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", RULES.relative_to(REPO))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_config_and_its_rule_files() -> None:
    result = promtool("check", "config", CONFIG.relative_to(REPO))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    result = promtool("test", "rules", RULE_TESTS.relative_to(REPO))
    print(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- the rules' shape --------------------------------------------------------------------

def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def test_every_alert_tells_the_on_call_what_to_do() -> None:
    alerts = _alerts()
    assert len({a["alert"] for a in alerts}) == len(alerts), "alert names must be unique"
    for alert in alerts:
        assert alert["labels"]["severity"] in ("critical", "warning"), alert["alert"]
        assert alert["annotations"]["summary"].strip(), alert["alert"]
        assert len(alert["annotations"]["description"]) > 80, alert["alert"]


def test_every_alert_is_unit_tested_firing_and_some_not_firing() -> None:
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    fired = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    names = {a["alert"] for a in _alerts()}
    assert names - fired == set(), f"no test shows these firing: {sorted(names - fired)}"
    assert quiet, "no test shows an alert staying quiet"
    assert (fired | quiet) <= names, f"tests of unknown alerts: {sorted((fired | quiet) - names)}"


def test_the_scrape_job_is_the_one_the_alerts_select() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert [j["job_name"] for j in config["scrape_configs"]] == [SCRAPE_JOB]
    assert config["rule_files"] == [RULES.name]


# ---- contract metric names ---------------------------------------------------------------

def contract_series() -> dict[str, set[str]]:
    """Series name -> its label names, for every collector in controller/metrics.py,
    named as Prometheus exposes it (counters `_total`, histograms `_bucket/_sum/_count`)."""
    series: dict[str, set[str]] = {}
    collectors = [c for c in vars(metrics).values() if isinstance(c, MetricWrapperBase)]
    assert collectors
    for collector in collectors:
        (family,) = collector.describe()
        # _labelnames: prometheus_client has no public accessor for a collector's labels.
        labels = set(collector._labelnames)
        if family.type == "counter":
            series[f"{family.name}_total"] = labels
        elif family.type == "histogram":
            series[f"{family.name}_bucket"] = labels | {"le"}
            series[f"{family.name}_sum"] = labels
            series[f"{family.name}_count"] = labels
        else:
            series[family.name] = labels
    series["up"] = set()  # Prometheus' own, for the controller's scrape job
    return series


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}


def selectors(expr: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(series name, {label: matched value}) for each series a PromQL expression selects.

    Enough PromQL for these files: strings, ranges `[5m]`, grouping clauses
    `by (...)` / `on (...)` and function calls are told apart from series names.
    """
    strings: list[str] = []

    def keep_string(match: re.Match[str]) -> str:
        strings.append(match.group(0)[1:-1])
        return f'"{len(strings) - 1}"'

    expr = re.sub(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'", keep_string, expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    name_re = r"(?<![\w.$])([a-zA-Z_:][\w:]*)"
    # A name with matchers, or a bare name that is not a function call (nor cut short).
    for match in re.finditer(name_re + r"?\s*(\{[^}]*\})|" + name_re + r"(?![\w:])(?!\s*\()",
                             expr):
        name = match.group(1) or match.group(3)
        if name in _KEYWORDS or (name is None and match.group(2) is None):
            continue
        labels = {label: strings[int(index)] for label, index in re.findall(
            r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"(\d+)"', match.group(2) or "")}
        if name is None:  # {__name__="..."} selectors are not used here
            name = labels.pop("__name__", "")
        yield name, labels


def check_expression(expr: str, where: str) -> list[str]:
    """Problems with the series an expression uses, each naming `where`."""
    contract = contract_series()
    problems = []
    found = list(selectors(expr))
    if not found:
        problems.append(f"{where}: selects no series: {expr}")
    for name, labels in found:
        if name not in contract:
            problems.append(f"{where}: {name!r} is not a contract metric")
            continue
        unknown = set(labels) - contract[name] - TARGET_LABELS
        if unknown:
            problems.append(f"{where}: {name} has no label(s) {sorted(unknown)}")
        if name == "up" and labels.get("job") != SCRAPE_JOB:
            problems.append(f'{where}: up must select job="{SCRAPE_JOB}"')
    return problems


def test_the_expression_parser() -> None:
    expr = ('(time() - gitops_last_successful_reconcile_timestamp_seconds) > on(job, instance)'
            ' group_left() (3 * gitops_reconcile_interval_seconds) or absent(up{job="x"})'
            ' unless gitops_build_info and gitops_revision_info'
            ' or histogram_quantile(0.95, sum by (le) (rate(gitops_x_bucket{stack=~"$s"}'
            '[$__rate_interval]))) offset 5m')
    assert list(selectors(expr)) == [
        ("gitops_last_successful_reconcile_timestamp_seconds", {}),
        ("gitops_reconcile_interval_seconds", {}),
        ("up", {"job": "x"}),
        ("gitops_build_info", {}),
        ("gitops_revision_info", {}),
        ("gitops_x_bucket", {"stack": "$s"}),
    ]
    assert check_expression('gitops_reconcile_total{reslt="error"}', "t") == [
        "t: gitops_reconcile_total has no label(s) ['reslt']"]
    assert check_expression("gitops_made_up == 1", "t") == [
        "t: 'gitops_made_up' is not a contract metric"]


def test_alerts_use_only_contract_metrics() -> None:
    problems = [p for rule in _rules()
                for p in check_expression(rule["expr"], rule.get("alert") or rule["record"])]
    assert not problems, "\n".join(problems)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows nest their panels


def test_dashboard_uses_only_contract_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = list(_panels(dashboard["panels"]))
    problems = []
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            problems += check_expression(target["expr"], f"panel {panel['title']!r}")
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) \
            else variable["query"]
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
        assert match, f"variable {variable['name']}: {query}"
        series, label = match.groups()
        problems += check_expression(series, f"variable {variable['name']}")
        if label not in contract_series().get(series, set()):
            problems.append(f"variable {variable['name']}: {series} has no label {label}")
    assert not problems, "\n".join(problems)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert dashboard["uid"] and dashboard["title"]


def test_dashboard_and_alerts_cover_the_main_signals() -> None:
    """Not every metric needs a panel, but these are what the on-call looks for."""
    text = DASHBOARD.read_text()
    for name in ("gitops_resource_drifted", "gitops_reconcile_total",
                 "gitops_last_successful_reconcile_timestamp_seconds",
                 "gitops_ecs_rollout_state", "gitops_aws_api_errors_total"):
        assert name in text, name


def _design_metrics() -> dict[str, str] | None:
    """name -> type from DESIGN.md's contract table, where the shared folder is beside
    the repository (it is for developers and CI; elsewhere the check is skipped)."""
    design = REPO.parent / "shared" / "DESIGN.md"
    if not design.is_file():
        return None
    text = design.read_text().split("## Metrics (contract)", 1)[-1]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", text, flags=re.MULTILINE)
    return dict(rows) or None


def test_collectors_are_the_design_contract() -> None:
    design = _design_metrics()
    if design is None:
        pytest.skip("DESIGN.md is not beside the repository")
    collectors = {}
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            (family,) = collector.describe()
            name = f"{family.name}_total" if family.type == "counter" else family.name
            collectors[name] = family.type
    assert collectors == design
