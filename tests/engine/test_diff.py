"""The generic diff: managed fields only, nested paths, lists element by element."""

from __future__ import annotations

from typing import Any

import pytest

from controller.engine.diff import FieldChange, diff_fields, top_level_fields

CASES: list[tuple[str, str, Any, Any, list[FieldChange]]] = [
    ("equal", "nothing to do", {"a": 1}, {"a": 1}, []),
    ("undeclared live field", "AWS defaults for fields the spec leaves out are never a diff",
     {"a": 1}, {"a": 1, "b": 2}, []),
    ("scalar", "a changed scalar shows live and desired",
     {"a": 1}, {"a": 2}, [FieldChange("spec.a", 2, 1)]),
    ("missing live", "a declared field AWS does not have", {"a": 1}, {},
     [FieldChange("spec.a", None, 1)]),
    ("nested", "paths go down to the leaf", {"c": [{"n": "x", "img": "1"}]},
     {"c": [{"n": "x", "img": "2", "extra": True}]}, [FieldChange("spec.c[0].img", "2", "1")]),
    ("list length", "a missing element is a change of the whole list",
     {"l": [1, 2]}, {"l": [1]}, [FieldChange("spec.l", [1], [1, 2])]),
    ("map", "map entries compare one by one", {"tags": {"a": "1", "b": "2"}},
     {"tags": {"a": "1", "b": "3"}}, [FieldChange("spec.tags.b", "3", "2")]),
]


@pytest.mark.parametrize(("name", "why", "desired", "live", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_diff(name: str, why: str, desired: Any, live: Any, expected: list[FieldChange]) -> None:
    assert diff_fields(desired, live) == expected, why


def test_top_level_fields() -> None:
    changes = [FieldChange("spec.c[0].img", 1, 2), FieldChange("spec.c[1].x", 1, 2),
               FieldChange("spec.tags.a", 1, 2)]
    assert top_level_fields(changes) == ["c", "tags"]


def test_exact_map_reports_undeclared_live_keys() -> None:
    from controller.model import ExactMap

    desired = {"tags": ExactMap({"app": "x"})}
    live = {"tags": {"app": "x", "added-by-hand": "y"}}
    assert diff_fields(desired, live) == [FieldChange("spec.tags.added-by-hand", "y", None)]
