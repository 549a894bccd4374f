"""Golden files: the exact text users read, kept in tests/golden/ and reviewed as such.

`GOLDEN_UPDATE=1 .venv/bin/pytest tests/e2e/test_plan_output.py` rewrites them; the
diff of the golden file is then part of the change to review.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"
# Wall time is the one thing that differs between runs; API calls are kept: they are
# the stable measure of a plan's cost.
_SECONDS = re.compile(r"(AWS API calls, )\d+\.\d+ s")


def stable(text: str) -> str:
    return _SECONDS.sub(r"\1T s", text)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    text = stable(text)
    if os.environ.get("GOLDEN_UPDATE") == "1":
        path.write_text(text)
        return
    assert path.is_file(), f"no golden file {path}: run with GOLDEN_UPDATE=1 to write it"
    expected = path.read_text()
    assert text == expected, (f"{name} differs from its golden file (GOLDEN_UPDATE=1 "
                              f"rewrites it):\n{text}")
