"""benchmarks/scale.py can't rot: its generated stack is valid for the real loader, and its
Terraform twin declares the same resources (no AWS, no moto: a second or two)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from benchmarks.scalegen import TF_TYPES, generate, terraform_config, write_stack
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack


def test_generated_stack_of_100_validates_with_every_resource(tmp_path: Path) -> None:
    resources = generate(100)
    stack = load_stack(write_stack(tmp_path / "stack", resources, "bench-100"), REGISTRY)
    assert len(stack.resources) == 100
    kinds = Counter(r.kind for r in stack.resources)
    assert kinds["ecs.Service"] == kinds["ecs.TaskDefinition"] == 10
    assert set(kinds) == set(TF_TYPES)  # every kind generated has its Terraform twin


def test_terraform_twin_has_one_block_per_resource() -> None:
    resources = generate(100)
    config = terraform_config(resources, "http://127.0.0.1:1")
    blocks = Counter({tf_type: len(labels) for tf_type, labels in config["resource"].items()})
    assert blocks == Counter(TF_TYPES[r.kind] for r in resources)
    assert sum(blocks.values()) == 100
    endpoints = config["provider"]["aws"]["endpoints"][0]
    assert set(endpoints.values()) == {"http://127.0.0.1:1"}
