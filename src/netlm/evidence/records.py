"""Reading record tables (``netlm/sources/v1``, ``netlm/published-outcomes/v1``) from YAML.

netlm keeps its cited sources and the published outcome figures as data under
``netlm/evidence/data/`` (``sources.yaml``, ``outcomes.yaml``), as highdicom
keeps its standard tables in JSON.  A table is one document::

    schema: netlm/sources/v1
    sources:
      - id: ...
        ...

It is read by the hardened reader :mod:`netlm.documents` (duplicate keys, YAML
tags, alias bombs and oversized files are refused) and each record is
validated by its pydantic model.  Every problem names the record and field
(``sources[3].population``); a table holding the same id twice is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from netlm.documents import ErrorFactory, Format, parse_document
from netlm.errors import DocumentError
from netlm.validation import field_path, problem, short_repr

__all__ = ["builtin_table", "parse_table"]


R = TypeVar("R", bound=BaseModel)


def builtin_table(name: str) -> bytes:
    """The bytes of the table ``name`` shipped in ``netlm/evidence/data/``."""
    return resources.files("netlm.evidence").joinpath("data", name).read_bytes()


def parse_table(
    data: bytes,
    *,
    schema: str,
    key: str,
    model: type[R],
    format: Format = "yaml",
    error: ErrorFactory = DocumentError,
) -> tuple[R, ...]:
    """Parse and validate a record table.

    Parameters
    ----------
    data
        The document (YAML or JSON bytes).
    schema
        The value its ``schema`` key must have.
    key
        The key holding the list of records (``"sources"``, ``"outcomes"``).
    model
        The pydantic model of one record; it must have an ``id`` field.
    format
        ``"yaml"`` or ``"json"``.
    error
        Makes the exception raised from ``(field path, message)`` problems.

    Returns
    -------
    tuple
        The records, in file order.

    Raises
    ------
    InputError
        Of the type ``error`` makes: unreadable document, wrong or missing
        ``schema``, unknown top-level keys, a record that does not validate
        (field named), or an id given twice.
    """
    document = parse_document(data, format=format, error=error)
    if not isinstance(document, Mapping):
        raise error([("", f"a record table must be a mapping with 'schema' and '{key}'")])
    problems: list[tuple[str, str]] = []
    if document.get("schema") != schema:
        shown = short_repr(document.get("schema")) or "a long value"
        problems.append(("schema", f"must be {schema!r} (got {shown})"))
    problems.extend((str(k), "unknown field") for k in document if k not in {"schema", key})
    raw = document.get(key)
    if not isinstance(raw, list):
        problems.append((key, "is required: a list of records"))
        raise error(problems)
    records: list[R] = []
    first: dict[str, int] = {}
    for index, item in enumerate(raw):
        try:
            record = model.model_validate(item)
        except ValidationError as exc:
            at = field_path((key, index))
            for e in exc.errors():
                where, message = problem(e)
                problems.append((f"{at}.{where}" if where else at, message))
            continue
        record_id: str = getattr(record, "id")  # noqa: B009 - every table's model has one
        if record_id in first:
            earlier = field_path((key, first[record_id]))
            problems.append(
                (
                    field_path((key, index, "id")),
                    f"duplicate id {record_id!r} (first given at {earlier})",
                )
            )
        first.setdefault(record_id, index)
        records.append(record)
    if problems:
        raise error(problems)
    return tuple(records)
