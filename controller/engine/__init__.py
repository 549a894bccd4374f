"""Kind-agnostic reconcile: graph, observe, diff, plan, apply, change set."""
