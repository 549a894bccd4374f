"""A real Prometheus scrapes the daemon (a real process) and evaluates deploy/prometheus/alerts.yml.

Prometheus comes from Debian's `prometheus` package. Without the binary this test skips,
except in CI (CI=true), where a missing binary is a failure: .ci/run installs it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import AwsEnv
from tests.daemonproc import wait_for
from tests.deploy.contract import SCRAPE_JOB
from tests.e2e.conftest import STACK, Daemons, apply_prod
from tests.stacks import REPO
from tests.tools import require_binary

RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
LOG_GROUP = "/ecs/iq-theory-api"
DRIFTED = f'gitops_resource_drifted{{kind="logs.LogGroup",name="{LOG_GROUP}"}}'
POLL = 0.5  # seconds between two looks at Prometheus
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drift_alert_name() -> str:
    """The alert on gitops_resource_drifted that waits 15 minutes, from alerts.yml."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    names = [rule["alert"] for group in groups for rule in group["rules"]
             if "alert" in rule and "gitops_resource_drifted" in rule["expr"]
             and rule.get("for") == "15m"]
    assert len(names) == 1, f"expected one drift alert with for: 15m in {RULES}: {names}"
    return str(names[0])


class Prometheus:
    """`prometheus` on a loopback port, scraping one target every second."""

    def __init__(self, binary: str, root: Path, target: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        config = root / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES.resolve())],
            "scrape_configs": [{"job_name": SCRAPE_JOB, "metrics_path": "/metrics",
                                "static_configs": [{"targets": [target]}]}],
        }))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = root / "prometheus.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
                 f"--web.listen-address={self.url.removeprefix('http://')}"],
                stdout=log, stderr=subprocess.STDOUT, cwd=root)
        wait_for(self._ready, DEADLINE, POLL, what=f"Prometheus ready at {self.url}/-/ready")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"Prometheus exited with {self.proc.returncode}:\n"
                                 f"{self.log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=5) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def api(self, path: str, **params: str) -> Any:
        """`data` of a successful /api/v1 answer."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as resp:
            answer = json.load(resp)
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of each series of an instant vector query, now."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def value(self, promql: str) -> float | None:
        """The value of a query that selects at most one series; None if none."""
        result = self.query(promql)
        assert len(result) <= 1, f"{promql} selects {len(result)} series: {result}"
        return result[0][1] if result else None

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """Active alerts (pending or firing) named `name`, from /api/v1/alerts."""
        return [alert for alert in self.api("alerts")["alerts"]
                if alert["labels"].get("alertname") == name]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[str, str], Prometheus]]:
    """Start Prometheus (binary, target host:port); it is always stopped at the end."""
    started: list[Prometheus] = []

    def start(binary: str, target: str) -> Prometheus:
        server = Prometheus(binary, tmp_path / f"prometheus{len(started)}", target)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        print(f"--- {server.log} (tail) ---\n{server.log.read_text()[-3000:]}")


def test_prometheus_sees_drift_pending_in_detect_mode_and_back_to_zero_in_enforce_mode(
        prometheus: Callable[[str, str], Prometheus], daemons: Daemons,
        prod_aws: AwsEnv) -> None:
    binary = require_binary("prometheus")  # in the test: under CI=true, missing = failure
    alert = drift_alert_name()
    apply_prod(prod_aws)
    target = f"127.0.0.1:{free_port()}"  # fixed, so a restarted daemon is the same target
    detect = daemons.start(GITOPS_MODE="detect", GITOPS_INTERVAL_SECONDS="1",
                           GITOPS_LISTEN=target)
    assert detect.url == f"http://{target}"
    prom = prometheus(binary, target)
    up = f'up{{job="{SCRAPE_JOB}"}}'
    wait_for(lambda: prom.value(up) == 1, DEADLINE, POLL, what=f"{up} == 1 in Prometheus")
    (labels, _), = prom.query(up)
    assert labels["instance"] == target
    wait_for(lambda: prom.value(DRIFTED) == 0, DEADLINE, POLL,
             what="the log group in sync in Prometheus")

    logs = prod_aws.client("logs")
    logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=1)
    wait_for(lambda: prom.value(DRIFTED) == 1, DEADLINE, POLL,
             what="the drift in Prometheus")
    (labels, _), = prom.query(DRIFTED)
    assert labels == {"__name__": "gitops_resource_drifted", "job": SCRAPE_JOB,
                      "instance": target, "stack": STACK, "kind": "logs.LogGroup",
                      "name": LOG_GROUP}
    pending = wait_for(lambda: [a for a in prom.alerts(alert)
                                if a["labels"].get("name") == LOG_GROUP], DEADLINE, POLL,
                       what=f"{alert} pending for {LOG_GROUP}")
    assert [a["state"] for a in pending] == ["pending"], pending  # for: 15m, so not firing
    assert pending[0]["labels"]["kind"] == "logs.LogGroup"
    assert pending[0]["labels"]["stack"] == STACK
    series = f'ALERTS{{alertname="{alert}",alertstate="pending",name="{LOG_GROUP}"}}'
    wait_for(lambda: prom.value(series) == 1, DEADLINE, POLL, what=series)
    assert prom.value(f'ALERTS{{alertname="{alert}",alertstate="firing"}}') is None
    group = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"][0]
    assert group["retentionInDays"] == 1, "detect mode must not write"

    assert detect.terminate()[0] == 0
    enforce = daemons.start(GITOPS_MODE="enforce", GITOPS_INTERVAL_SECONDS="1",
                            GITOPS_LISTEN=target)
    assert enforce.url == f"http://{target}"
    wait_for(lambda: prom.value(DRIFTED) == 0, DEADLINE, POLL,
             what="the drift corrected in Prometheus")
    assert prom.value(up) == 1
    group = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"][0]
    assert group["retentionInDays"] == 30
    wait_for(lambda: not prom.alerts(alert), DEADLINE, POLL, what=f"{alert} resolved")
    assert enforce.terminate()[0] == 0
