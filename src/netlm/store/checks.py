"""Checks on the arguments of a registry call, made before anything is written.

:class:`_Checker` collects every problem with a call's arguments and raises one
:class:`~netlm.errors.InputError` naming each bad field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from netlm.errors import InputError
from netlm.store.digests import canonical_json

#: Deepest nesting of mappings and lists a stored free-form document may have.
MAX_DOCUMENT_DEPTH = 32

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _choices(allowed: Collection[str]) -> str:
    return ", ".join(sorted(allowed))


class _Checker:
    """Collects every problem with a call's arguments, then raises one InputError."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append((field, message))

    def text(self, field: str, value: object, *, max_length: int, empty: bool = False) -> str:
        if not isinstance(value, str):
            self.fail(field, f"must be text, not {type(value).__name__}")
            return ""
        if not empty and not value.strip():
            self.fail(field, "must not be empty")
        elif len(value) > max_length:
            self.fail(field, f"is {len(value)} characters long (at most {max_length})")
        elif "\x00" in value:
            self.fail(field, "contains a NUL character")
        elif not _encodable(value):
            self.fail(field, "contains a lone UTF-16 surrogate (\\ud800-\\udfff)")
        return value

    def name(self, field: str, value: object, *, max_length: int) -> str:
        text = self.text(field, value, max_length=max_length)
        if text and (text != text.strip() or _CONTROL.search(text)):
            self.fail(field, "must not have surrounding spaces or control characters")
        return text

    def choice(self, field: str, value: object, allowed: Collection[str]) -> str:
        if not isinstance(value, str) or value not in allowed:
            self.fail(field, f"unknown value {value!r} (use one of: {_choices(allowed)})")
            return ""
        return value

    def date(self, field: str, value: object) -> dt.date:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            self.fail(field, f"must be a date (datetime.date), not {type(value).__name__}")
            return dt.date.min
        if value.year < 1900:
            self.fail(field, f"{value.isoformat()} is implausible (before 1900)")
        return value

    def number(self, field: str, value: object) -> float:
        """A finite number (NaN after a recorded problem)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"must be a number, not {type(value).__name__}")
            return math.nan
        if not math.isfinite(value):
            self.fail(field, f"must be finite (got {value!r})")
            return math.nan
        return float(value)

    def optional_number(self, field: str, value: object) -> float | None:
        return None if value is None else self.number(field, value)

    def document(self, field: str, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            self.fail(field, "must be a mapping with text keys")
            return {}
        if _nesting_depth(value) > MAX_DOCUMENT_DEPTH:
            self.fail(field, f"is nested deeper than {MAX_DOCUMENT_DEPTH} levels")
            return {}
        try:
            text = canonical_json(value)
        except (TypeError, ValueError) as exc:
            self.fail(field, f"must be JSON-serialisable ({exc})")
            return {}
        if not _encodable(text):
            self.fail(field, "contains text with a lone UTF-16 surrogate (\\ud800-\\udfff)")
            return {}
        loaded: dict[str, Any] = json.loads(text)
        return loaded

    def identifier(self, field: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be an integer id, not {type(value).__name__}")
            return 0
        return value

    def done(self) -> None:
        if self.problems:
            raise InputError(self.problems)


def _encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate), i.e. storable as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _nesting_depth(value: object) -> int:
    """How deeply mappings and lists nest in ``value`` (without recursion; stops past the limit).

    Examples
    --------
    >>> _nesting_depth({"a": [1, {"b": 2}]})
    3
    """
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Collection[object] = list(node.values())
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DOCUMENT_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_actor(actor: object) -> str:
    check = _Checker()
    value = check.name("actor", actor, max_length=200)
    check.done()
    return value


def _check_id(value: object, field: str) -> int:
    check = _Checker()
    result = check.identifier(field, value)
    check.done()
    return result
