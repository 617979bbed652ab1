"""Turning pydantic validation errors into ``(field path, message)`` problems.

One place for every input format (cases, plans, response files): field paths
read like ``liver.lesions[2].segment``, messages say what is wrong and, where
short, the value given.  Model-level validators name the offending field by
starting their message with ``"field:: "`` (or ``"a.b:: "`` for a nested one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as ``liver.lesions[2].segment``.

    Examples
    --------
    >>> field_path(("liver", "lesions", 2, "segment"))
    'liver.lesions[2].segment'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def short_repr(value: object, limit: int = 60) -> str | None:
    """``repr(value)`` if it is at most ``limit`` characters long, else ``None``.

    An int beyond Python's digit limit for ``str()`` (4300 digits) raises
    ``ValueError`` when printed; YAML hex, octal, binary and sexagesimal
    integers are not bound by that limit, so such values do reach us.
    """
    try:
        text = repr(value)
    except ValueError:
        return None
    return text if len(text) <= limit else None


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "is required"
    msg = str(error.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind in {"literal_error", "enum"} or "input" not in error:
        return msg
    given = error["input"]
    shown = short_repr(given) if isinstance(given, (str, int, float, bool)) else None
    return f"{msg} (got {shown})" if shown is not None else msg


def _locations(error: Mapping[str, Any]) -> tuple[int | str, ...]:
    # Drop pydantic's union/function tags (e.g. 'int', 'function-after[...]'),
    # which name validators, not fields.
    loc = tuple(error.get("loc", ()))
    return tuple(
        p
        for p in loc
        if isinstance(p, int)
        or not (
            p in {"int", "str", "float", "bool", "literal['too_numerous']"}
            or "[" in p
            or p.startswith("function-")
        )
    )


def problem(error: Mapping[str, Any]) -> tuple[str, str]:
    """``(field path, message)`` for one pydantic error (``ValidationError.errors()`` item)."""
    loc, msg = _locations(error), _message(error)
    # Model-level validators name the offending field as "field:: message".
    field, sep, rest = msg.partition(":: ")
    if sep and " " not in field and all(part.isidentifier() for part in field.split(".")):
        loc, msg = (*loc, *field.split(".")), rest
    return field_path(loc), msg
