"""Every Prometheus collector of the controller, named as DESIGN.md's contract says."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# A `_created` series per counter and histogram doubles /metrics for nothing the alerts
# or the dashboard read (prometheus-client >= 0.17; the dependency pins >= 0.20).
disable_created_metrics()

AWS_API_CALLS = Counter(
    "gitops_aws_api_calls_total", "Every AWS API call.", ["service", "operation"]
)
AWS_API_ERRORS = Counter(
    "gitops_aws_api_errors_total", "Failed AWS API calls by error code.",
    ["service", "operation", "code"],
)
APPLY_ACTIONS = Counter(
    "gitops_apply_actions_total", "Writes by action and result.",
    ["stack", "kind", "action", "result"],
)
RESOURCE_DRIFTED = Gauge(
    "gitops_resource_drifted", "1 when the resource differs from git, 0 in sync.",
    ["stack", "kind", "name"],
)
STACK_DRIFTED = Gauge(
    "gitops_stack_drifted_resources", "How many resources of the stack are drifted.", ["stack"]
)
RECONCILE_TOTAL = Counter(
    "gitops_reconcile_total", "Reconcile runs by result.", ["stack", "result"]
)
RECONCILE_DURATION = Histogram(
    "gitops_reconcile_duration_seconds", "Duration of a reconcile run.", ["stack"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
LAST_SUCCESS = Gauge(
    "gitops_last_successful_reconcile_timestamp_seconds",
    "Unix time of the last successful reconcile.", ["stack"],
)
RECONCILE_INTERVAL = Gauge(
    "gitops_reconcile_interval_seconds", "The configured reconcile interval."
)
REVISION_INFO = Gauge(
    "gitops_revision_info", "1 for the revision in force.", ["stack", "revision"]
)
DESIRED_STATE_VALID = Gauge(
    "gitops_desired_state_valid", "1 if the tip validates, 0 if not.", ["stack"]
)
ECS_ROLLOUT_STATE = Gauge(
    "gitops_ecs_rollout_state", "1 for the current rollout state of a service.",
    ["stack", "service", "state"],
)
ORPHANED = Gauge(
    "gitops_orphaned_resources",
    "Owned resources no longer in git (deleted only with prune: true).", ["stack", "kind"],
)
BUILD_INFO = Gauge("gitops_build_info", "Always 1; the version label says which.", ["version"])
