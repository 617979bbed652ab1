"""Reading case files (YAML or JSON) into :class:`~netlm.case.model.Case`.

This is the boundary: whatever arrives, the caller gets a validated
:class:`Case` or a :class:`~netlm.errors.CaseError` that names every field
that is wrong and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ValidationError

from netlm.case.model import SCHEMA_ID, Case
from netlm.errors import CaseError
from netlm.validation import problem, short_repr

Format = Literal["yaml", "json"]


def case_from_mapping(data: object) -> Case:
    """Validate an already-parsed document (a mapping) as a case.

    Raises
    ------
    CaseError
        With one ``(field path, message)`` per problem.
    """
    if not isinstance(data, Mapping):
        raise CaseError([("", f"a case must be a mapping, not {type(data).__name__}")])
    if any(not isinstance(k, str) for k in data):
        raise CaseError([("", "every key of a case must be a string")])
    schema = data.get("schema")
    if schema is None:
        raise CaseError([("schema", f"is required (expected {SCHEMA_ID!r})")])
    if schema != SCHEMA_ID:
        shown = short_repr(schema, limit=200) or f"of type {type(schema).__name__}"
        raise CaseError([("schema", f"unsupported schema {shown} (expected {SCHEMA_ID!r})")])
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        problems = [problem(e) for e in exc.errors(include_url=False)]
        raise CaseError(problems) from None
    except RecursionError:
        raise CaseError([("", "document is nested too deeply")]) from None


def parse_case(text: str | bytes, *, format: Format = "yaml") -> Case:
    """Parse a case document from YAML or JSON text.

    JSON is a subset of YAML, but JSON input is parsed with the JSON parser so
    that its errors point at JSON positions.

    Raises
    ------
    CaseError
        If the text is not valid YAML/JSON or not a valid case.

    Examples
    --------
    >>> parse_case("schema: netlm/case/v1\\npatient: {id: A1, ecog: 1}").patient.ecog
    1
    >>> parse_case("schema: netlm/case/v1\\npatient: {id: A1, ecog: 7}")
    Traceback (most recent call last):
    ...
    netlm.errors.CaseError: invalid case: patient.ecog: Input should be less than or equal to 4...
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaseError([("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    try:
        if format == "json":
            data = json.loads(text)
        elif format == "yaml":
            data = yaml.safe_load(text)
        else:
            raise CaseError([("", f"unknown format {format!r} (use 'yaml' or 'json')")])
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise CaseError([("", f"not valid {format.upper()}: {exc}")]) from None
    except (RecursionError, ValueError) as exc:  # e.g. absurdly deep nesting, huge ints
        raise CaseError([("", f"not readable as {format.upper()}: {exc}")]) from None
    except (LookupError, AttributeError, TypeError) as exc:
        # PyYAML's constructors for explicitly tagged scalars fail this way on bad
        # values: "!!bool xx" (KeyError), "!!int ''" (IndexError), "!!timestamp x"
        # (AttributeError).
        raise CaseError([("", f"not readable as {format.upper()}: {exc!r}")]) from None
    return case_from_mapping(data)


def load_case(path: str | Path) -> Case:
    """Read and validate a case file; ``.json`` is JSON, anything else YAML.

    Raises
    ------
    CaseError
        If the file cannot be read or is not a valid case.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CaseError([("", f"cannot read {p}: {exc.strerror or exc}")]) from None
    return parse_case(raw, format="json" if p.suffix.lower() == ".json" else "yaml")
