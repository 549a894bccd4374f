"""What the deploy files must agree with, in one place for tests/deploy."""

from __future__ import annotations

# DESIGN.md's "Daemon settings (contract)", the stack's lease (issue 11's
# GITOPS_LEASE_TABLE with its period) and issue 12's apply parallelism: the only GITOPS_*
# variables a deploy may set.
SETTINGS = frozenset({
    "GITOPS_REPO", "GITOPS_REF", "GITOPS_PATH", "GITOPS_INTERVAL_SECONDS", "GITOPS_MODE",
    "GITOPS_LISTEN", "GITOPS_WEBHOOK_LISTEN", "GITOPS_WEBHOOK_SECRET", "GITOPS_GIT_TOKEN",
    "GITOPS_GIT_TIMEOUT_SECONDS", "GITOPS_LEASE_TABLE", "GITOPS_LEASE_SECONDS",
    "GITOPS_PARALLELISM",
})
REQUIRED_SETTINGS = frozenset({"GITOPS_REPO", "GITOPS_PATH"})
# The scrape job every shipped config and alert uses (DESIGN.md, "Metrics (contract)").
SCRAPE_JOB = "gitops-controller"
