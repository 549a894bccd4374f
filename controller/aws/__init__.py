"""The one place that talks to AWS: clients, error classes, ownership tags."""
