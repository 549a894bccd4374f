"""Dependency ordering: waves by depth, cycles found with their path."""

from __future__ import annotations

from controller.spec.graph import find_cycle, waves


def test_waves_put_dependencies_first() -> None:
    edges = {"svc": ["td", "cluster"], "td": ["repo"], "repo": [], "cluster": []}
    assert waves(edges) == [["cluster", "repo"], ["td"], ["svc"]]


def test_cycle_is_reported_as_a_path() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None
