"""Reading response files and resolving follow-up lesions against the baseline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from netlm.documents import Format, format_for, parse_document, read_bytes
from netlm.errors import ResponseError
from netlm.response.model import RESPONSE_SCHEMA, Observation, ResponseFile, Role, Status
from netlm.validation import problem as _problem


def resolve(doc: ResponseFile) -> ResponseFile:
    """Fill each follow-up observation's organ and role from its baseline declaration.

    Raises
    ------
    ResponseError
        For a lesion at follow-up that was neither at baseline nor declared new,
        a baseline target without a size, a node target measured by its longest
        diameter, or a baseline lesion declared ``new``.
    """
    problems: list[tuple[str, str]] = []
    baseline = doc.timepoints[0]
    declared: dict[str, Observation] = {}
    for i, o in enumerate(baseline.lesions):
        where = f"timepoints[0].lesions[{i}]"
        if o.role is None:
            problems.append((f"{where}.role", f"lesion {o.id}: baseline lesions need a role"))
            continue
        if o.role is Role.NEW:
            problems.append((f"{where}.role", f"lesion {o.id}: no lesion is new at baseline"))
        if o.role is Role.TARGET:
            if o.is_node and o.short_axis_mm is None:
                msg = (
                    f"lesion {o.id} at baseline {baseline.date}: a lymph-node target is measured "
                    "by its short axis (short_axis_mm), not its longest diameter"
                )
                problems.append((f"{where}.short_axis_mm", msg))
            elif not o.is_node and o.longest_mm is None:
                problems.append(
                    (
                        f"{where}.longest_mm",
                        f"lesion {o.id} at baseline {baseline.date}: a target needs its size",
                    )
                )
        declared[o.id] = o
    resolved_points = [baseline]
    for t_index, tp in enumerate(doc.timepoints[1:], start=1):
        lesions = []
        for i, o in enumerate(tp.lesions):
            where = f"timepoints[{t_index}].lesions[{i}]"
            base = declared.get(o.id)
            if o.split_from is not None:
                parent = declared.get(o.split_from)
                if parent is None:
                    problems.append(
                        (
                            f"{where}.split_from",
                            f"lesion {o.id} at {tp.date}: unknown parent {o.split_from}",
                        )
                    )
                    continue
                lesions.append(
                    o.model_copy(update={"organ": o.organ or parent.organ, "role": parent.role})
                )
                continue
            if base is None:
                if o.role is Role.NEW:
                    declared[o.id] = o
                    lesions.append(o)
                    continue
                problems.append(
                    (
                        f"{where}.id",
                        f"lesion {o.id} at {tp.date} was not at "
                        "baseline; declare it with role: new",
                    )
                )
                continue
            if o.role not in (None, base.role):
                problems.append(
                    (
                        f"{where}.role",
                        f"lesion {o.id} at {tp.date}: role changed from "
                        f"{base.role.value if base.role else None} to {o.role.value}",
                    )
                )
                continue
            if (
                base.is_node
                and base.role is Role.TARGET
                and o.longest_mm is not None
                and (o.short_axis_mm is None and o.status in (None, Status.PRESENT))
            ):
                problems.append(
                    (
                        f"{where}.short_axis_mm",
                        f"lesion {o.id} at {tp.date}: a node "
                        "target is measured by its short axis, not longest_mm",
                    )
                )
                continue
            lesions.append(o.model_copy(update={"organ": o.organ or base.organ, "role": base.role}))
        resolved_points.append(tp.model_copy(update={"lesions": tuple(lesions)}))
    if problems:
        raise ResponseError(problems)
    return doc.model_copy(update={"timepoints": tuple(resolved_points)})


def _future_dates(doc: ResponseFile, today: dt.date) -> list[tuple[str, str]]:
    """``(field, message)`` for each date in ``doc`` after ``today``."""
    dated = [("reference_date", doc.reference_date)]
    dated += [(f"timepoints[{i}].date", tp.date) for i, tp in enumerate(doc.timepoints)]
    return [
        (where, f"{day} is in the future (today is {today})")
        for where, day in dated
        if day is not None and day > today
    ]


def response_from_mapping(data: object, *, today: dt.date | None = None) -> ResponseFile:
    """Validate and resolve a parsed response document.

    Parameters
    ----------
    data
        The parsed document.
    today
        When given, a scan or reference date after ``today`` is refused (the
        caller passes the date: netlm's core never reads the clock).
    """
    if not isinstance(data, Mapping):
        raise ResponseError([("", f"a response file must be a mapping, not {type(data).__name__}")])
    if data.get("schema") != RESPONSE_SCHEMA:
        raise ResponseError([("schema", f"must be {RESPONSE_SCHEMA!r}")])
    try:
        doc = ResponseFile.model_validate(data)
    except ValidationError as exc:
        raise ResponseError([_problem(e) for e in exc.errors(include_url=False)]) from None
    future = _future_dates(doc, today) if today is not None else []
    if future:
        raise ResponseError(future)
    return resolve(doc)


def parse_response(
    text: str | bytes, *, format: Format = "yaml", today: dt.date | None = None
) -> ResponseFile:
    """Parse a response file from YAML or JSON text (read by :mod:`netlm.documents`).

    Raises
    ------
    ResponseError
        If the text cannot be read safely or is not a valid response file.
    """
    data = parse_document(text, format=format, error=ResponseError)
    return response_from_mapping(data, today=today)


def load_response(path: str | Path, *, today: dt.date | None = None) -> ResponseFile:
    """Read a response file; ``.json`` is JSON, anything else YAML.

    ``today``, when given, is the date no scan may be after.
    """
    raw = read_bytes(path, error=ResponseError)
    return parse_response(raw, format=format_for(path), today=today)
