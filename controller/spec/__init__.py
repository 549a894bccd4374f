"""The kind-agnostic desired-state format: stack.yaml, documents, values, refs, validation."""
