"""A pydantic ValidationError as the issues a user reads: the key's line, their words, the fix.

pydantic reports where in its own schema a value failed: a location holding
union branch names (`redrivePolicy.RedrivePolicySpec.maxReceiveCount`), one
error per branch of a union, "Value error, " before a validator's message,
and "Input should be a valid string" for `account: 222222222222` without a
word about YAML's quotes. Here each error is located in the document as
written (branch names dropped, a `FieldError`'s field appended), a failed
union becomes one error, and the common mistakes say how to fix them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from controller.model import FieldError
from controller.spec.issues import Issue, Rank
from controller.spec.suggest import allowed_keys, did_you_mean
from controller.spec.yamldoc import YamlDoc

Path = tuple[str | int, ...]
_ABSENT = object()


def field_path(loc: Path) -> str:
    """('spec', 'containerDefinitions', 0, 'image') -> spec.containerDefinitions[0].image

    A key that is not printable text (a newline, a control character) is shown
    quoted, so that one issue stays one line."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if part.isprintable() else repr(part)
        out += f".{text}" if out else text
    return out


@dataclass(frozen=True)
class Where:
    """What a model was validated from: the document, the path of the model's input in it
    (("spec",) for a resource's spec, () for stack.yaml), and how issues are labelled."""

    doc: YamlDoc
    file: str
    base: Path
    resource: str | None
    rank: Rank = Rank.RESOURCE
    # stack.yaml's values are not private: a message may repeat them ("quote it (...)").
    show_input: bool = False


@dataclass(frozen=True)
class _Error:
    """One pydantic error, located in the model's input."""

    path: Path
    union: Path | None  # where a union branch's name was dropped from the location
    type: str
    message: str
    input: Any


def model_issues(err: ValidationError, model: type[BaseModel], raw: Any,
                 where: Where) -> list[Issue]:
    """The issues of `model.model_validate(raw)` having raised `err`."""
    located = _merge_unions([_locate(e, model, raw) for e in err.errors()])
    return [_issue(e, model, where) for e in located]


def _locate(error: Any, model: type[BaseModel], raw: Any) -> _Error:
    """The error's path in `raw`: union branch names dropped, a FieldError's field added."""
    value = raw
    path: list[str | int] = []
    union: Path | None = None
    for part in error["loc"]:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        if _has(value, part):
            value = value[part]
        elif isinstance(part, str) and _is_branch(model, tuple(path), value, part):
            union = union if union is not None else tuple(path)
            continue
        else:
            value = _ABSENT
        path.append(part)
    message = error["msg"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        path.extend(cause.path)
        message = str(cause)
    elif error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    return _Error(tuple(path), union, error["type"], message, error.get("input"))


def _is_branch(model: type[BaseModel], path: Path, value: Any, part: str) -> bool:
    """Whether `part`, absent from the input at `path`, names a union branch rather than a
    missing field: a missing field is one the model declares there."""
    if not isinstance(value, dict):
        return True
    return part not in (allowed_keys(model, path) or [])


def _merge_unions(errors: list[_Error]) -> list[_Error]:
    """One report per failed union: the errors inside the branch that took the value's
    shape, or one "Input should be X or Y" when no branch did."""
    out = [e for e in errors if e.union is None]
    points = list(dict.fromkeys(e.union for e in errors if e.union is not None))
    for point in points:
        group = [e for e in errors if e.union == point]
        deeper = [e for e in group if len(e.path) > len(point)]
        if deeper:
            out.extend(deeper)
            continue
        expected = dict.fromkeys(_expected(e.message) for e in group)
        out.append(_Error(point, None, "union", "Input should be " + " or ".join(expected),
                          group[0].input))
    return out


def _expected(message: str) -> str:
    """What a branch wanted, in YAML's words: "a mapping" rather than a dictionary."""
    wanted = message.removeprefix("Input should be ")
    if wanted.startswith("a valid dictionary"):
        return "a mapping"
    return wanted


def _issue(error: _Error, model: type[BaseModel], where: Where) -> Issue:
    full = (*where.base, *error.path)
    return Issue(where.file, where.doc.line_of(full), _message(error, model, where),
                 where.resource, field_path(full) or None, where.rank)


def _message(error: _Error, model: type[BaseModel], where: Where) -> str:
    if error.type == "extra_forbidden":
        key = str(error.path[-1])
        return "unknown field" + did_you_mean(key, allowed_keys(model, error.path[:-1]) or [])
    if error.type == "string_type" and isinstance(error.input, bool | int | float):
        what = "true/false" if isinstance(error.input, bool) else "a number"
        return f"{what} where text is expected: {_quote_hint(error, where)}"
    return error.message


def _quote_hint(error: _Error, where: Where) -> str:
    """How to quote the value: in stack.yaml when a `${values.x}` brought it, with the
    value as written when it may be shown."""
    full = (*where.base, *error.path)
    written = _at(where.doc.value, full)
    if isinstance(written, str) and written.startswith("${values.") and written.endswith("}"):
        return f"quote {written[2:-1]} in stack.yaml's values"
    source = where.doc.source(full)
    if where.show_input and source is not None:
        return f'quote it ("{source}")'
    return "quote it"


def _at(value: Any, path: Path) -> Any:
    """The input at `path`, or _ABSENT."""
    for part in path:
        if not _has(value, part):
            return _ABSENT
        value = value[part]
    return value


def _has(value: Any, part: str | int) -> bool:
    """Whether `value` holds a child `part`: a mapping's key, a list's index."""
    if isinstance(value, dict):
        return part in value
    return isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
