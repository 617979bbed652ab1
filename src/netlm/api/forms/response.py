"""The follow-up form (``netlm/response/v1``): time point blocks with their lesion tables.

:func:`response_form_values` fills a new form with the patient's known
lesions and :func:`response_document_from_form` reads a submitted form into
the document :func:`netlm.workflows.response.record_response` records, as a
response file would be; every field is an input or named in
:data:`RESPONSE_ADVANCED` / :data:`OBSERVATION_ADVANCED` (edited as YAML).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml

from netlm.api.forms.inputs import (
    Column,
    Input,
    Problems,
    Row,
    Table,
    delete_path,
    dump_extra,
    field_input,
    filled,
    flat,
    get_path,
    labelled,
    prune,
    read_extra,
    read_inputs,
    record_index,
    row_problem,
    shown,
    words,
)
from netlm.response.model import RESPONSE_SCHEMA, Observation, ResponseFile, TimePoint
from netlm.response.report import ENGINES

# --------------------------------------------------------------------------- the response form
#: Response-file fields edited only in the YAML box (``case`` is the patient's).
RESPONSE_ADVANCED = frozenset({"schema", "case", "confirmation"})
#: Observation fields edited only in the YAML box (time points given there whole).
OBSERVATION_ADVANCED = frozenset(
    {"suv_max", "previously_treated", "slice_thickness_mm", "split_from", "merged_into"}
)
#: The name of the response form's YAML box (a whole file pasted there is read as it is).
RESPONSE_EXTRA_FIELD = "document"
#: Time point blocks shown on a new form (baseline first); blocks without a date are skipped.
TIMEPOINT_BLOCKS = 3
MAX_TIMEPOINTS = 24
MAX_OBSERVATION_ROWS = 100
SPARE_LESION_ROWS = 3
CRITERIA_FIELD = "criteria"

_LESION_LABELS = {
    "id": "Lesion id",
    "organ": "Organ",
    "role": "Role",
    "status": "Status",
    "longest_mm": "Longest diameter",
    "short_axis_mm": "Short axis, node",
    "perpendicular_mm": "Perpendicular, WHO",
    "viable_mm": "Enhancing diameter, mRECIST",
    "viable_perpendicular_mm": "Enhancing perpendicular, EASL",
    "mean_hu": "Mean HU, Choi",
    "sul_peak": "SULpeak, PERCIST",
    "enhancing": "Enhances (new, mRECIST)",
}
_TIMEPOINT_LABELS = {
    "date": "Date",
    "modality": "Modality",
    "liver_sul_mean": "Liver SUL mean (PERCIST)",
    "liver_sul_sd": "Liver SUL SD (PERCIST)",
    "spleen_suv_mean": "Spleen SUV mean",
    "liver_suv_mean": "Liver SUV mean",
}


@functools.cache
def lesion_table(timepoint: int) -> Table:
    """The lesion table of a time point: every observation field not in the YAML box."""
    return Table(
        f"timepoints[{timepoint}].lesions",
        tuple(
            Column(
                name,
                labelled(name, _LESION_LABELS.get(name, words(name))),
                field_input(Observation, name),
            )
            for name in Observation.model_fields
            if name not in OBSERVATION_ADVANCED
        ),
        max_rows=MAX_OBSERVATION_ROWS,
    )


@functools.cache
def timepoint_rows(timepoint: int) -> tuple[Row, ...]:
    """The inputs of a time point besides its lesions (named ``timepoints[t].date``...)."""
    prefix = f"timepoints[{timepoint}]"
    return tuple(
        Row(
            labelled(name, _TIMEPOINT_LABELS.get(name, words(name))),
            (field_input(TimePoint, name, f"{prefix}.{name}"),),
        )
        for name in TimePoint.model_fields
        if name != "lesions"
    )


@functools.cache
def response_rows() -> tuple[Row, ...]:
    """The inputs of the whole response file (besides the criteria, which are check boxes)."""
    return (
        Row(
            "Reference date (start of treatment)",
            (field_input(ResponseFile, "reference_date"),),
        ),
    )


def criteria_input() -> Input:
    """The criteria to assess (one check box each, :func:`criterion_name`)."""
    item = field_input(ResponseFile, "criteria")
    labels = tuple(ENGINES[c].label if c in ENGINES else c for c in item.choices)
    return replace(item, labels=labels)


def criterion_name(criterion: str) -> str:
    """The name of one criterion's check box."""
    return f"{CRITERIA_FIELD}.{criterion}"


#: Lesion fields that declare a lesion without measuring it (prefilled on a new form).
_DECLARATION = frozenset({"id", "organ", "role"})


def _only_id(raw: Mapping[str, str]) -> bool:
    """A lesion row with nothing but its (prefilled) id."""
    return not any(v for k, v in raw.items() if k != "id")


def timepoint_blocks(form: Mapping[str, str]) -> int:
    """How many time point blocks a form uses (up to the last with a date or a measurement)."""
    used = 0
    for t in range(MAX_TIMEPOINTS):
        table = lesion_table(t)
        measured = any(
            form.get(table.name(r, c.field), "").strip()
            for r in range(table.rows(form))
            for c in table.columns
            if c.field != "id"
        )
        if form.get(f"timepoints[{t}].date", "").strip() or measured:
            used = t + 1
    return used


def response_form_values(
    lesions: Sequence[Mapping[str, Any]], *, criteria: Sequence[str] = ("recist1.1",)
) -> dict[str, str]:
    """A new response form naming ``lesions`` (each with its ``id``, ``organ`` and ``role``).

    Lesions declared at baseline (role target or non-target) fill the baseline
    table with their id, organ and role; every lesion is named again, by id,
    in the first follow-up table (a lesion that was new keeps its organ and
    role "new", since it is not in the baseline).  The ``criteria`` are checked.
    """
    values = {criterion_name(c): "on" for c in criteria}
    declared = [x for x in lesions if x.get("role") != "new"]
    values |= lesion_table(0).values(
        [{k: v for k, v in x.items() if k in _DECLARATION} for x in declared]
    )
    values |= lesion_table(1).values(
        [
            {k: v for k, v in x.items() if k in _DECLARATION}
            if x.get("role") == "new"
            else {"id": x.get("id")}
            for x in lesions
        ]
    )
    return values


@dataclass
class ResponseForm:
    """What a submitted response form says: the document, the problems and where they go."""

    document: dict[str, Any]
    problems: Problems
    blocks: list[int]  # the form block of each time point of the document
    lesion_rows: list[list[int]]  # the form row of each lesion, per time point

    def place(self, problem: tuple[str, str]) -> tuple[str, str]:
        """A response problem named by the input it is about, where the form has one."""
        path, message = problem
        found = record_index(path, "timepoints")
        if found is None or found[0] >= len(self.blocks):
            return problem
        index, rest = found
        block = self.blocks[index]
        if rest.startswith("lesions["):
            moved = row_problem(
                (rest, message), lesion_table(block), self.lesion_rows[index], path="lesions"
            )
            if moved is not None:
                return moved
        field = rest.split(".", 1)[0].split("[", 1)[0]
        if field not in TimePoint.model_fields or field == "lesions":
            field = "date"
        return f"timepoints[{block}].{field}", message


def response_document_from_form(form: Mapping[str, str], case: str) -> ResponseForm:
    """The ``netlm/response/v1`` document of patient ``case`` a submitted form describes.

    Time point blocks with a date replace the YAML box's time points (in the
    order of the blocks); a lesion row with nothing but its id is skipped;
    checked criteria replace the box's criteria; the YAML box's ``case``, if
    any, is kept (and refused when it names another patient).
    """
    problems: Problems = []
    document = read_extra(form.get(RESPONSE_EXTRA_FIELD, ""), RESPONSE_EXTRA_FIELD, problems)
    document.pop("schema", None)
    read_inputs(form, (i for r in response_rows() for i in r.inputs), document, problems)
    criteria = [c for c in criteria_input().choices if form.get(criterion_name(c))]
    if criteria:
        document["criteria"] = criteria
    blocks: list[int] = []
    rows: list[list[int]] = []
    points: list[dict[str, Any]] = []
    for t in range(timepoint_blocks(form)):
        table = lesion_table(t)
        measured = table.read(form, problems, skip=_only_id)
        if not form.get(f"timepoints[{t}].date", "").strip():
            if any(set(record) - _DECLARATION for _, record in measured):
                problems.append((f"timepoints[{t}].date", "give the date of these measurements"))
            continue
        point: dict[str, Any] = {}
        for line in timepoint_rows(t):
            for item, value in filled(form, line.inputs, problems):
                point[item.name.rsplit(".", 1)[1]] = value
        for row, record in measured:
            if "id" not in record:
                problems.append((table.name(row, "id"), "give the lesion id"))
        if measured:
            point["lesions"] = [record for _, record in measured]
        points.append(point)
        blocks.append(t)
        rows.append([row for row, _ in measured])
    if points:
        document["timepoints"] = points
    return ResponseForm(
        {"schema": RESPONSE_SCHEMA, "case": case, **prune(document)}, problems, blocks, rows
    )


def response_form_names(blocks: int, lesion_rows: int) -> set[str]:
    """Every input name of a response form with that many blocks and lesion rows each."""
    names = {i.name for r in response_rows() for i in r.inputs} | {"timepoints"}
    names |= {criterion_name(c) for c in criteria_input().choices}
    for t in range(blocks):
        names |= {i.name for r in timepoint_rows(t) for i in r.inputs}
        names |= lesion_table(t).names(lesion_rows)
    return names


def response_values(document: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """(form values by input name, YAML of every other field) of a response document.

    Time points whose lesions have fields beyond the table's columns stay in the
    YAML box, all of them (the form's time points would replace them).
    """
    rest: dict[str, Any] = yaml.safe_load(yaml.safe_dump(dict(document))) or {}
    rest.pop("schema", None)
    values: dict[str, str] = {}
    for item in (i for r in response_rows() for i in r.inputs):
        value = get_path(rest, item.name)
        if flat(value):
            values[item.name] = shown(value)
            delete_path(rest, item.name)
    criteria = rest.get("criteria")
    if isinstance(criteria, list) and set(map(str, criteria)) <= set(criteria_input().choices):
        values |= {criterion_name(str(c)): "on" for c in criteria}
        rest.pop("criteria")
    points = rest.get("timepoints")
    fields = {n for n in TimePoint.model_fields if n != "lesions"}
    if (
        isinstance(points, list)
        and len(points) <= MAX_TIMEPOINTS
        and all(
            isinstance(p, dict)
            and set(p) - {"lesions"} <= fields
            and all(flat(v) for k, v in p.items() if k != "lesions")
            and lesion_table(t).fits(p.get("lesions", []))
            for t, p in enumerate(points)
        )
    ):
        for t, point in enumerate(points):
            values |= {f"timepoints[{t}].{k}": shown(v) for k, v in point.items() if k != "lesions"}
            values |= lesion_table(t).values(point.get("lesions", []))
        rest.pop("timepoints")
    return values, dump_extra(rest)
