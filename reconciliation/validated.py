"""The base of every configuration model, and its errors as one sentence naming the key's path.

Configuration is validated once, when the file is loaded, by pydantic models
that forbid unknown keys: a misspelt key or a wrong type then fails before a
night starts, naming e.g. ``sponsors.ABCD.timezone``, instead of surfacing as
an unexpected error halfway through one. pydantic's own messages ("Input
should be a valid integer") are reworded into the project's one-sentence
style; the offending value is never quoted, since a misplaced secret must
not end up in a log.
"""

from __future__ import annotations

import difflib
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

#: pydantic error types and how the sentence says them.
_WORDING = {
    "missing": "is required",
    "missing_argument": "is required",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dataclass_type": "must be a mapping",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
}


_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")


class Strict(BaseModel):
    """A configuration section: unknown keys are errors, values are immutable after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def key_path(loc: tuple[Any, ...]) -> str:
    """``('sponsors', 'ABCD', 'timezone')`` as ``sponsors.ABCD.timezone``."""
    return ".".join(str(part) for part in loc if part != "[key]")


def _unwrap(kind: Any) -> Any:
    """The model or dataclass inside ``X | None`` / ``dict[str, X]``, or None."""
    if isinstance(kind, type) and (issubclass(kind, BaseModel) or hasattr(kind, "__pydantic_fields__")):
        return kind
    for arg in get_args(kind):
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Key names allowed at ``loc`` inside ``model`` (empty when unknown)."""
    current, key_next = model, False
    for part in loc:
        if key_next:  # a dict key (a sponsor code, a profile name): same type below it
            key_next = False
            continue
        fields = getattr(current, "__pydantic_fields__", None) or {}
        if part not in fields:
            return []
        annotation = fields[part].annotation
        current = _unwrap(annotation)
        if current is None:
            return []
        key_next = get_origin(annotation) is dict
    fields = getattr(current, "__pydantic_fields__", None) or {}
    return [info.alias or name for name, info in fields.items()]


def _known_hint(first: Any, model: Any) -> str:
    loc = tuple(first["loc"])
    if model is None or not loc:
        return ""
    known = _fields_at(model, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def sentence(error: ValidationError, prefix: str = "", model: Any = None) -> str:
    """The first problem of a validation error as one sentence (without the final period).

    Args:
        error: What pydantic found.
        prefix: Path of the validated section within the file, e.g. ``validation``.
        model: The validated class, to suggest the key meant by a misspelt one.
    """
    problems = error.errors()
    # A misspelt key is usually the cause of the other problems (the key it meant is "missing").
    first = next((p for p in problems if p["type"] in _UNKNOWN), problems[0])
    loc = tuple(part for part in (prefix, *first["loc"]) if part != "")
    path = key_path(loc) or "the configuration"
    kind = first["type"]
    more = len(problems) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if kind in _UNKNOWN:
        return f"unknown setting '{path}'{_known_hint(first, model)}{tail}"
    if kind in _WORDING:
        what = _WORDING[kind]
    elif kind == "value_error":
        what = str(first.get("ctx", {}).get("error", first["msg"]))
    else:
        message = str(first["msg"])
        what = message.replace("Input should be", "must be").replace("Value should", "must")
        what = what[:1].lower() + what[1:]
    return f"setting '{path}' {what}{tail}"


#: The same rules for the settings that are (pydantic) dataclasses rather than models.
StrictConfig = ConfigDict(extra="forbid")
