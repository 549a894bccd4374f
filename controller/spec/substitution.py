"""`${values.x}` and `${ref:Kind/name.attr}`: the only two substitutions there are.

A substitution that is the whole YAML value keeps the value's type; one inside
a longer string is interpolated as text. Values are substituted at load time;
refs stay as text until the engine knows the referenced resource's attributes.

Substitution is one pass: a value's text is never expanded again, never turns
into a ref. Users write `$${` for a literal `${` (IAM policy variables). So
that no text can be read twice, a loaded spec is held in *template form*
between the two steps, where every literal `$` is written `$$` and `${ref:...}`
is the only other use of `$`: a value holding `${values.y}` or `${ref:...}`
becomes `$${values.y}` text there, and `resolve_refs`, the last step, turns
every `$$` back into `$`. Strings without a `$` look the same in both forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.model import Folder, Unknown
from controller.spec.issues import printable
from controller.spec.suggest import closest

# What users write: `$${` (a literal `${`), `${...}` (a substitution), or an unclosed `${`.
USER_PIECE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
# Template form: `$$` (a literal `$`) or `${ref:...}`.
TEMPLATE_PIECE = re.compile(r"\$\$|\$\{([^}]*)\}")
REF = re.compile(r"^ref:(?P<kind>[A-Za-z0-9]+\.[A-Za-z0-9]+)/(?P<name>.+)\.(?P<attr>[A-Za-z]+)$")
VALUE = re.compile(r"^values\.(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)$")
LITERAL_HINT = "write $${ for a literal ${"


@dataclass(frozen=True)
class Ref:
    kind: str
    name: str
    attr: str

    @property
    def target(self) -> str:
        return f"{self.kind}/{self.name}"


class SubstitutionError(ValueError):
    """A substitution that cannot be made; `path` says where in the value."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        super().__init__(message)


Path = tuple[str | int, ...]


def _strings(value: Any, path: Path, on_string: Callable[[str, Path], Any]) -> Any:
    """Rebuild `value` with `on_string` applied to every string (dict keys stay as written).

    A string with no `$`, and a `Folder` (a final value the loader read, never template
    text), is kept as the very same object: the folder's files survive every step."""
    if isinstance(value, dict):
        return {k: _strings(v, (*path, k), on_string) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v, (*path, i), on_string) for i, v in enumerate(value)]
    if isinstance(value, str) and "$" in value and not isinstance(value, Folder):
        return on_string(value, path)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def literal(value: Any) -> Any:
    """`value` in template form: every `$` of its strings doubled, so never expanded."""
    return _strings(value, (), lambda text, _: text.replace("$", "$$"))


def substitute_values(value: Any, values: dict[str, Any],
                      errors: list[SubstitutionError]) -> Any:
    """User text -> template form: `${values.x}` replaced, refs kept. Collects every error."""

    def lookup(token: str, path: Path) -> tuple[bool, Any]:
        """(True, the value) or (False, None) with the error recorded."""
        match = VALUE.match(token)
        if not match:
            shown = printable("${" + token + "}")
            errors.append(SubstitutionError(
                path, f"unknown substitution {shown}: use ${{values.NAME}} or "
                      f"${{ref:Kind/name.attr}}, or {LITERAL_HINT}"))
            return False, None
        found: Any = values
        walked: list[str] = []
        for part in match.group("key").split("."):
            if not isinstance(found, dict) or part not in found:
                errors.append(SubstitutionError(path, _undefined(token, values, walked, part)))
                return False, None
            found = found[part]
            walked.append(part)
        return True, found

    def on_string(text: str, path: Path) -> Any:
        pieces = list(USER_PIECE.finditer(text))
        whole = len(pieces) == 1 and pieces[0].group(0) == text and pieces[0].group(1)
        if whole and not whole.startswith("ref:"):
            ok, found = lookup(whole, path)
            return literal(found) if ok else text
        out: list[str] = []
        pos = 0
        for match in pieces:
            out.append(text[pos:match.start()].replace("$", "$$"))
            pos = match.end()
            token = match.group(1)
            if match.group(0) == "$${":
                out.append("$${")  # the literal `${`, in template form
            elif token is None:
                errors.append(SubstitutionError(path, f"unclosed ${{: {LITERAL_HINT}"))
            elif token.startswith("ref:"):
                out.append(match.group(0))
            else:
                ok, found = lookup(token, path)
                if ok and isinstance(found, (dict, list)):
                    errors.append(SubstitutionError(
                        path, f"${{{token}}} is not a scalar and cannot be part of a string"))
                elif ok:
                    out.append(_text(found).replace("$", "$$"))
        out.append(text[pos:].replace("$", "$$"))
        return "".join(out)

    return _strings(value, (), on_string)


def _undefined(token: str, values: dict[str, Any], walked: list[str], missing: str) -> str:
    """Why `${token}` has no value: the closest name at the level where it went missing."""
    level: Any = values
    for part in walked:
        level = level[part]
    names = [str(k) for k in level] if isinstance(level, dict) else []
    match = closest(missing, names)
    if match is not None:
        return (f"${{{token}}} is not defined in stack.yaml values: did you mean "
                f"${{values.{'.'.join([*walked, match])}}}?")
    known = ", ".join(sorted(str(k) for k in values)) or "none"
    return f"${{{token}}} is not defined in stack.yaml values (known: {known})"


def _template_tokens(text: str) -> list[re.Match[str]]:
    return [m for m in TEMPLATE_PIECE.finditer(text) if m.group(1) is not None]


def find_refs(value: Any) -> list[tuple[Path, Ref | str]]:
    """Every `${ref:...}` of a template-form `value`, with its path; a malformed one as text."""
    found: list[tuple[Path, Ref | str]] = []

    def on_string(text: str, path: Path) -> str:
        for match in _template_tokens(text):
            token = match.group(1)
            ref = REF.match(token)
            found.append((path, Ref(ref["kind"], ref["name"], ref["attr"]) if ref else token))
        return text

    _strings(value, (), on_string)
    return found


def whole_refs(value: Any) -> dict[Path, Ref]:
    """The refs of a template-form `value` that are a whole string, by path: what a field
    points at (`vpcId: ${ref:ec2.Vpc/main.id}`), for checks across resources."""
    found: dict[Path, Ref] = {}

    def on_string(text: str, path: Path) -> str:
        tokens = _template_tokens(text)
        if len(tokens) == 1 and tokens[0].group(0) == text:
            ref = REF.match(tokens[0].group(1))
            if ref:
                found[path] = Ref(ref["kind"], ref["name"], ref["attr"])
        return text

    _strings(value, (), on_string)
    return found


def resolve_refs(value: Any, lookup: Callable[[Ref], Any]) -> Any:
    """Template form -> final values: `${ref:...}` replaced by `lookup(ref)` (which may be
    UNKNOWN), every `$$` by `$`. A ref that is a whole string keeps the attribute's type;
    a `Folder` passes through as the same object (see `_strings`)."""

    def ref_value(token: str, path: Path) -> Any:
        match = REF.match(token)
        if match is None:  # validation admits only well-formed refs: say so, never guess
            raise SubstitutionError(path, f"unexpected ${{{token}}} in a validated spec")
        return lookup(Ref(match["kind"], match["name"], match["attr"]))

    def on_string(text: str, path: Path) -> Any:
        pieces = list(TEMPLATE_PIECE.finditer(text))
        if len(pieces) == 1 and pieces[0].group(1) is not None and pieces[0].group(0) == text:
            return ref_value(pieces[0].group(1), path)
        out: list[str] = []
        unknown = False
        pos = 0
        for match in pieces:
            out.append(text[pos:match.start()])
            pos = match.end()
            if match.group(1) is None:
                out.append("$")
                continue
            sub = ref_value(match.group(1), path)
            if isinstance(sub, (dict, list)):
                raise SubstitutionError(path, f"${{{match.group(1)}}} is not a scalar and "
                                              "cannot be part of a string")
            unknown = unknown or isinstance(sub, Unknown)
            out.append(_text(sub))
        out.append(text[pos:])
        joined = "".join(out)
        return Unknown(joined) if unknown else joined

    return _strings(value, (), on_string)
