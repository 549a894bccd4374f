"""The long-lived service: settings, reconcile loop, scheduler, HTTP endpoints."""
