"""Reading case files (YAML or JSON) into :class:`~netlm.case.model.Case`.

This is the boundary: whatever arrives, the caller gets a validated
:class:`Case` or a :class:`~netlm.errors.CaseError` that names every field
that is wrong and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from netlm.case.model import SCHEMA_ID, Case
from netlm.documents import Format, format_for, parse_document, read_bytes
from netlm.errors import CaseError
from netlm.validation import problem, short_repr


def case_from_mapping(data: object, *, today: dt.date | None = None) -> Case:
    """Validate an already-parsed document (a mapping) as a case.

    Parameters
    ----------
    data
        The parsed document.
    today
        When given, a date in the case later than ``today`` (a scan, a
        laboratory result, a treatment) is refused, naming the field.  netlm's
        core never reads the clock: the front door passes the date.

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
        context = {"today": today} if today is not None else None
        return Case.model_validate(data, context=context)
    except ValidationError as exc:
        problems = [problem(e) for e in exc.errors(include_url=False)]
        raise CaseError(problems) from None
    except RecursionError:
        raise CaseError([("", "document is nested too deeply")]) from None


def parse_case(text: str | bytes, *, format: Format = "yaml", today: dt.date | None = None) -> Case:
    """Parse a case document from YAML or JSON text.

    The text is read by :func:`netlm.documents.parse_document`, which refuses
    duplicate keys, YAML tags, alias bombs, deep nesting, oversized and
    non-UTF-8 input, naming the line and field.

    Parameters
    ----------
    text
        The document, as text or UTF-8 bytes.
    format
        ``"yaml"`` or ``"json"``.
    today
        The date no date in the case may be after (see :func:`case_from_mapping`).

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
    return case_from_mapping(parse_document(text, format=format, error=CaseError), today=today)


def load_case(path: str | Path, *, today: dt.date | None = None) -> Case:
    """Read and validate a case file; ``.json`` is JSON, anything else YAML.

    Raises
    ------
    CaseError
        If the file cannot be read or is not a valid case.
    """
    raw = read_bytes(path, error=CaseError)
    return parse_case(raw, format=format_for(path), today=today)
