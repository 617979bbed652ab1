"""Web forms generated from the document models: model fields → inputs, form → document.

Pure functions, no routes: :mod:`netlm.api.pages` renders and reads the forms.
Each form builds the same document its file format holds, and that document is
read by the same function a file is (:func:`netlm.case.case_from_mapping`,
:func:`netlm.sirt.plan.plan_from_mapping`,
:func:`netlm.workflows.response.record_response`), so the web form, the YAML
file and the API apply one set of rules.

The inputs are derived from the pydantic models: the kind of input (number,
date, yes/no, a choice of the enum or literal values) from the field's
annotation and the unit shown from the field's name (``volume_ml`` → mL,
``dose_gy`` → Gy).  Every field of a model is either an input of the form or
named in the form's ``ADVANCED`` set, edited as YAML in the collapsed
"advanced" box (a test holds the two together, so a new model field cannot
silently go missing from the page).

Form input names are the field paths in the document (``patient.height_cm``,
``territories[0].volume_ml``, ``timepoints[1].lesions[2].longest_mm``), so a
problem the model reports lands next to its input.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from netlm.documents import parse_document
from netlm.errors import DocumentError, PlanError
from netlm.response.model import RESPONSE_SCHEMA, Observation, ResponseFile, TimePoint
from netlm.response.report import ENGINES
from netlm.sirt.physics import Physics
from netlm.sirt.plan import (
    PLAN_SCHEMA,
    Optimise,
    Override,
    PatientSize,
    Plan,
    PlanTerritory,
    PlanTumour,
    Prescription,
    plan_from_mapping,
)
from netlm.units import units_for

Kind = Literal["text", "int", "float", "bool", "choice", "date", "datetime", "count", "list"]
Problems = list[tuple[str, str]]

#: The name of the "advanced" YAML box of the case form.
EXTRA_FIELD = "extra_yaml"


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Input:
    """One input of a form, named by its field path in the document (``labs.inr``).

    ``labels`` are the words shown for ``choices`` (the choices themselves by
    default); ``unit`` is shown beside the input.
    """

    name: str
    kind: Kind
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    labels: tuple[str, ...] = ()
    unit: str = ""


@dataclass(frozen=True)
class Row:
    """A labelled line of the form: one input, or a value with its unit and limits."""

    label: str
    inputs: tuple[Input, ...]
    hint: str = ""


@dataclass(frozen=True)
class Column:
    """One column of a table of records (lesions, territories): a field of the record."""

    field: str
    label: str
    input: Input


@dataclass(frozen=True)
class Table:
    """A list of records in the document (``territories``) edited as rows of inputs.

    The input of row ``r`` and column ``c`` is named ``{path}[{r}].{c}``;
    empty rows are skipped, and at most ``max_rows`` rows are read.
    """

    path: str
    columns: tuple[Column, ...]
    max_rows: int = 200

    def name(self, row: int, column: str) -> str:
        """The input name of a cell: the record field's path in the document."""
        return f"{self.path}[{row}].{column}"

    def cell(self, row: int, column: Column) -> Input:
        """The input of a cell (the column's input, named for its row)."""
        return replace(column.input, name=self.name(row, column.field))

    def rows(self, form: Mapping[str, str]) -> int:
        """How many rows a form holds (up to the last row with a value)."""
        rows = 0
        for row in range(self.max_rows):
            if any(form.get(self.name(row, c.field), "").strip() for c in self.columns):
                rows = row + 1
        return rows

    def names(self, rows: int) -> set[str]:
        """Every input name of the first ``rows`` rows."""
        return {self.name(r, c.field) for r in range(rows) for c in self.columns}

    def read(
        self, form: Mapping[str, str], problems: Problems, *, skip: Callable[[dict[str, str]], bool]
    ) -> list[tuple[int, dict[str, Any]]]:
        """(form row, record) of every row that ``skip`` does not skip; bad cells go to
        ``problems`` under their input's name."""
        records: list[tuple[int, dict[str, Any]]] = []
        for row in range(self.rows(form)):
            raw = {c.field: form.get(self.name(row, c.field), "").strip() for c in self.columns}
            if not any(raw.values()) or skip(raw):
                continue
            record: dict[str, Any] = {}
            for column in self.columns:
                text = raw[column.field]
                if not text:
                    continue
                value, error = convert(text, column.input)
                if error is not None:
                    problems.append((self.name(row, column.field), error))
                    continue
                record[column.field] = value
            records.append((row, record))
        return records

    def values(self, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """The form values that show ``records``."""
        return {
            self.name(r, c.field): shown(record.get(c.field))
            for r, record in enumerate(records)
            for c in self.columns
        }

    def fits(self, records: object) -> bool:
        """Whether ``records`` can be shown in the table (else they stay in the YAML box)."""
        fields = {c.field for c in self.columns}
        return (
            isinstance(records, list)
            and len(records) <= self.max_rows
            and all(
                isinstance(x, dict) and set(x) <= fields and all(_flat(v) for v in x.values())
                for x in records
            )
        )


def _flat(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | dt.date)


def unwrap(annotation: Any) -> list[Any]:
    """The types of an annotation, without ``None`` (``float | None`` → ``[float]``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for t in typing.get_args(annotation) if t is not type(None) for a in unwrap(t)]
    if typing.get_origin(annotation) is typing.Annotated:
        return unwrap(typing.get_args(annotation)[0])
    return [annotation]


def resolve(model: type[BaseModel], path: str) -> tuple[Any, Any]:
    """(model class, field annotation) of a dotted path in ``model``."""
    node: Any = model
    parts = path.split(".")
    for part in parts[:-1]:
        (node,) = unwrap(node.model_fields[part].annotation)
        if typing.get_origin(node) is tuple:  # a list of records: the record's model
            node = typing.get_args(node)[0]
    return node, node.model_fields[parts[-1]].annotation


#: Units shown for a field, by the end of its name (the project's unit-in-name convention).
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_gy_kg_per_gbq", "Gy·kg/GBq"),
    ("_g_per_ml", "g/mL"),
    ("_ml", "mL"),
    ("_gy", "Gy"),
    ("_gbq", "GBq"),
    ("_kg", "kg"),
    ("_cm", "cm"),
    ("_mm", "mm"),
    ("_h", "h"),
)


def unit_of(name: str) -> str:
    """The unit a field's name states (``whole_liver_volume_ml`` → ``mL``), or ``""``.

    Examples
    --------
    >>> unit_of("territories[0].volume_ml"), unit_of("physics.tissue_density_g_per_ml")
    ('mL', 'g/mL')
    >>> unit_of("lung_shunt_fraction")
    ''
    """
    last = name.rsplit(".", 1)[-1]
    return next((unit for suffix, unit in UNIT_SUFFIXES if last.endswith(suffix)), "")


def input_for(annotation: Any, name: str, *, model: Any = None) -> Input:
    """The input of a field with ``annotation``, named ``name``."""
    options = unwrap(annotation)
    last = name.rsplit(".", 1)[-1]
    canonical = getattr(model, "CANONICAL", None)
    if last == "unit" and isinstance(canonical, str):  # a laboratory value's unit
        analyte = getattr(model, "ANALYTE", "")
        units = units_for(analyte) if analyte else frozenset({canonical})
        return Input(name, "choice", (canonical, *sorted(units - {canonical})))
    if len(options) == 2 and int in options:
        return Input(name, "count", placeholder="number or too_numerous")
    (kind,) = options
    if typing.get_origin(kind) is tuple:
        (item,) = typing.get_args(kind)[:1]
        if typing.get_origin(item) is Literal:
            return Input(name, "list", tuple(str(v) for v in typing.get_args(item)))
        return Input(name, "list", placeholder="comma-separated")
    unit = unit_of(name)
    if kind is bool:
        return Input(name, "bool")
    if kind is int:
        return Input(name, "int", unit=unit)
    if kind is float:
        return Input(name, "float", unit=unit)
    if kind is dt.datetime:
        return Input(name, "datetime", placeholder="YYYY-MM-DDTHH:MM+01:00")
    if kind is dt.date:
        return Input(name, "date")
    if isinstance(kind, type) and issubclass(kind, Enum):
        return Input(name, "choice", tuple(str(m.value) for m in kind))
    if typing.get_origin(kind) is Literal:
        return Input(name, "choice", tuple(str(v) for v in typing.get_args(kind)))
    return Input(name, "text", unit=unit)


def field_input(model: type[BaseModel], path: str, name: str | None = None) -> Input:
    """The input of the field at ``path`` in ``model``, named ``name`` (``path`` by default)."""
    owner, annotation = resolve(model, path)
    return input_for(annotation, name or path, model=owner)


def column(model: type[BaseModel], field: str, label: str) -> Column:
    """A table column for ``field`` of the record ``model``."""
    return Column(field, label, field_input(model, field))


# --------------------------------------------------------------------------- documents
def get_path(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted path, making the mappings on the way."""
    *parents, last = path.split(".")
    node = document
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def delete_path(document: dict[str, Any], path: str) -> None:
    """Remove the value at a dotted path, if there is one."""
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(last, None)


def prune(document: Any) -> Any:
    """Drop empty mappings left behind when the form's fields are taken out."""
    if isinstance(document, dict):
        pruned = {k: prune(v) for k, v in document.items()}
        return {k: v for k, v in pruned.items() if v != {} and v is not None}
    return document


def shown(value: Any) -> str:
    """A document value as the text of its input."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(shown(v) for v in value)
    return str(value)


def convert(raw: str, item: Input) -> tuple[Any, str | None]:
    """The typed value of a form input, or an error message."""
    if item.kind in ("int", "float", "count"):
        if item.kind == "count" and raw == "too_numerous":
            return raw, None
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            return None, "must be a number" + (" or too_numerous" if item.kind == "count" else "")
        if not math.isfinite(number):
            return None, "must be a finite number"
        if item.kind in ("int", "count"):
            if not number.is_integer():
                return None, "must be a whole number"
            return int(number), None
        return number, None
    if item.kind == "bool":
        if raw not in ("true", "false"):
            return None, "choose yes or no"
        return raw == "true", None
    if item.kind == "choice" and raw not in item.choices:
        return None, f"choose one of {', '.join(item.choices)}"
    if item.kind == "datetime":
        try:
            return dt.datetime.fromisoformat(raw), None
        except ValueError:
            return None, "give the date and time as YYYY-MM-DDTHH:MM with the zone (+01:00)"
    if item.kind == "list":
        words = [w for w in raw.replace(",", " ").split() if w]
        unknown = [w for w in words if item.choices and w not in item.choices]
        if unknown:
            return None, f"{', '.join(unknown)}: choose from {', '.join(item.choices)}"
        return words, None
    return raw, None


def read_extra(text: str, field: str, problems: Problems) -> dict[str, Any]:
    """The mapping typed into a form's YAML box (read by :mod:`netlm.documents`)."""
    if not text.strip():
        return {}
    try:
        loaded = parse_document(text)
    except DocumentError as exc:
        problems += [(field, f"{f}: {m}" if f else m) for f, m in exc.problems]
        return {}
    if isinstance(loaded, dict) and all(isinstance(k, str) for k in loaded):
        return loaded
    if loaded is not None:
        problems.append((field, "must be a mapping of field names to values"))
    return {}


def read_inputs(
    form: Mapping[str, str],
    inputs: Iterable[Input],
    document: dict[str, Any],
    problems: Problems,
) -> None:
    """Put every filled input into ``document`` (replacing what the YAML box said)."""
    for item in inputs:
        raw = form.get(item.name, "").strip()
        if not raw:
            continue
        value, error = convert(raw, item)
        if error is not None:
            problems.append((item.name, error))
            continue
        set_path(document, item.name, value)


def dump_extra(rest: Mapping[str, Any]) -> str:
    """The YAML of what the form does not show (empty when nothing is left)."""
    rest = prune(dict(rest))
    return yaml.safe_dump(rest, sort_keys=False, allow_unicode=True) if rest else ""


def place_problems(
    problems: Iterable[tuple[str, str]], names: set[str]
) -> tuple[dict[str, list[str]], Problems]:
    """Problems by form input (shown next to it) and the rest (shown with the YAML box)."""
    by_field: dict[str, list[str]] = {}
    rest: Problems = []
    for path, message in problems:
        target = path if path in names else None
        if target is None and f"{path}.value" in names:
            target = f"{path}.value"
        if target is None:
            rest.append((path, message))
        else:
            by_field.setdefault(target, []).append(message)
    return by_field, rest


def _record_index(path: str, prefix: str) -> tuple[int, str] | None:
    """(index, rest of the path) of ``prefix[index].rest``, or None."""
    if not path.startswith(f"{prefix}["):
        return None
    index, _, rest = path[len(prefix) + 1 :].partition("]")
    if not index.isdigit():
        return None
    return int(index), rest.lstrip(".")


def row_problem(
    problem: tuple[str, str], table: Table, used: Sequence[int], *, path: str | None = None
) -> tuple[str, str] | None:
    """A document problem of a record shown in ``table`` (``path`` is the records' path in the
    document, the table's by default), named by the input of its row and column; None when
    the problem is not about a column of a shown record."""
    found = _record_index(problem[0], path or table.path)
    if found is None or found[0] >= len(used):
        return None
    index, rest = found
    field = rest.split("[", 1)[0].split(".", 1)[0]
    if field not in {c.field for c in table.columns}:
        field = table.columns[0].field
    return table.name(used[index], field), problem[1]


# --------------------------------------------------------------------------- the plan form
#: Plan fields edited only in the YAML box (every other field has an input).
PLAN_ADVANCED = frozenset({"schema", "uncertainty", "prior_treatments", "from_case"})
#: The name of the plan form's YAML box.
PLAN_EXTRA_FIELD = "document"
#: The plan form's prescription: which target and its value.
TARGET, VALUE = "target", "value"
PRESCRIPTION_LABELS = {
    "tumour_dose_gy": "tumour dose (Gy)",
    "normal_liver_dose_gy": "normal-liver dose (Gy)",
    "perfused_dose_gy": "perfused dose (Gy)",
    "activity_gbq": "activity (GBq)",
}


PHYSICS_LABELS = {
    "dose_constant_gy_kg_per_gbq": "Dose constant",
    "tissue_density_g_per_ml": "Liver and tumour density",
    "lung_density_g_per_ml": "Lung density",
    "y90_half_life_h": "90Y half-life",
}


def _words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _label(name: str, text: str) -> str:
    unit = unit_of(name)
    return f"{text} ({unit})" if unit else text


def _plan_row(text: str, path: str, hint: str = "") -> Row:
    return Row(_label(path, text), (field_input(Plan, path),), hint)


def prescription_inputs(prefix: str) -> tuple[Input, Input]:
    """The (target, value) inputs of a prescription at ``prefix`` (``prescription``): which
    of the :class:`~netlm.sirt.plan.Prescription` targets, and its value."""
    targets = tuple(Prescription.model_fields)
    labels = tuple(PRESCRIPTION_LABELS.get(t, t) for t in targets)
    return (
        Input(f"{prefix}.{TARGET}", "choice", targets, labels=labels),
        Input(f"{prefix}.{VALUE}", "float", placeholder="value"),
    )


@functools.cache
def plan_sections() -> tuple[tuple[str, tuple[Row, ...]], ...]:
    """The sections of the plan form (the override section is for physicists only)."""
    physics = Physics.model_fields
    return (
        (
            "Plan",
            (
                _plan_row("Case", "case", "the patient id, as registered"),
                _plan_row("Device", "device", "glass or resin microspheres"),
                _plan_row("Method", "method", "BSA: resin only"),
                _plan_row("BSA formula", "bsa_formula"),
                _plan_row("Treatment start", "treatment_start", "date, time and zone"),
                _plan_row("Vial calibration", "vial_calibration", "date, time and zone"),
                _plan_row("Vial activity at calibration", "vial_activity_gbq", "glass vial"),
                _plan_row("Compromised liver", "compromised_liver", "default: from priors"),
            ),
        ),
        (
            "Patient and liver",
            (
                _plan_row("Height", "patient.height_cm", "BSA method"),
                _plan_row("Weight", "patient.weight_kg", "BSA method"),
                _plan_row("Whole-liver volume", "whole_liver_volume_ml", "incl. tumour"),
                _plan_row("Whole-liver tumour volume", "whole_liver_tumour_volume_ml"),
                _plan_row("Expected residual fraction", "expected_residual_fraction", "0-0.5"),
            ),
        ),
        (
            "Lung",
            (
                _plan_row("Lung shunt fraction", "lung_shunt_fraction", "0-1, e.g. 0.07"),
                _plan_row("Lung shunt method", "lung_shunt_method"),
                _plan_row("Lung mass", "lung_mass_kg", "default 1 kg convention"),
                _plan_row("Lung mass basis", "lung_mass_basis"),
                _plan_row(
                    "Prior lung dose", "prior_lung_dose_gy", "sessions not in prior_treatments"
                ),
            ),
        ),
        (
            "Prescription and optimisation",
            (
                Row(
                    "Prescription (whole plan)",
                    prescription_inputs("prescription"),
                    "one target; BSA: activity only",
                ),
                _plan_row("Optimise: normal liver at most", "optimise.normal_liver_max_gy"),
                _plan_row("Optimise: lung at most", "optimise.lung_max_gy"),
                _plan_row("Optimise: tumour at least", "optimise.tumour_min_gy"),
            ),
        ),
        (
            "Physics (empty: the recorded default)",
            tuple(
                Row(
                    _label(name, PHYSICS_LABELS.get(name, _words(name))),
                    (
                        Input(
                            f"physics.{name}",
                            "float",
                            placeholder=shown(info.get_default(call_default_factory=True)),
                            unit=unit_of(name),
                        ),
                    ),
                )
                for name, info in physics.items()
            ),
        ),
    )


def override_rows() -> tuple[Row, ...]:
    """The override of hard limits (shown to physicists; anyone else is refused)."""
    return (
        _plan_row("Override reason", "override.reason", "at least 10 characters"),
        _plan_row("Override approved by", "override.approved_by"),
        Row(
            "Limits overridden",
            (field_input(Plan, "override.limits"),),
            "check ids, comma-separated; empty: every hard limit",
        ),
    )


def plan_inputs(*, override: bool = True) -> list[Input]:
    """Every single input of the plan form (not the tables)."""
    rows = [r for _, section in plan_sections() for r in section]
    if override:
        rows += override_rows()
    return [i for r in rows for i in r.inputs]


#: The perfused territories: one row each.
TERRITORIES = Table(
    "territories",
    (
        column(PlanTerritory, "name", "Territory name"),
        column(PlanTerritory, "kind", "Kind"),
        column(PlanTerritory, "volume_ml", "Perfused volume (mL)"),
        column(PlanTerritory, "tumour_volume_ml", "Tumour volume (mL)"),
        column(PlanTerritory, "tumour_to_normal_ratio", "T:N"),
        Column(f"prescription_{TARGET}", "Own prescription", prescription_inputs("rx")[0]),
        Column(f"prescription_{VALUE}", "Prescribed value", prescription_inputs("rx")[1]),
    ),
    max_rows=20,
)
#: Tumours listed one by one, each in a territory named in the territories table.
TUMOURS = Table(
    "tumours",
    (
        Column("territory", "Territory", Input("territory", "text")),
        column(PlanTumour, "name", "Tumour name"),
        column(PlanTumour, "volume_ml", "Volume (mL)"),
        column(PlanTumour, "tumour_to_normal_ratio", "T:N"),
    ),
    max_rows=100,
)
SPARE_ROWS = 2


def plan_form_names(*, territory_rows: int, tumour_rows: int) -> set[str]:
    """Every input name of a plan form with that many table rows."""
    names = {i.name for i in plan_inputs()} | {"territories", "tumours", "prescription"}
    return names | TERRITORIES.names(territory_rows) | TUMOURS.names(tumour_rows)


def _prescription_values(prefix: str, rx: object) -> dict[str, str] | None:
    if rx is None:
        return {}
    if not isinstance(rx, dict) or len(rx) != 1:
        return None
    ((target, value),) = rx.items()
    if target not in Prescription.model_fields or not _flat(value):
        return None
    return {f"{prefix}.{TARGET}": target, f"{prefix}.{VALUE}": shown(value)}


def plan_form_values(document: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """(form values by input name, YAML of every other field) of a plan document."""
    rest: dict[str, Any] = yaml.safe_load(yaml.safe_dump(dict(document))) or {}
    rest.pop("schema", None)
    values: dict[str, str] = {}
    for item in plan_inputs():
        if "." in item.name and item.name.rsplit(".", 1)[1] in (TARGET, VALUE):
            continue
        value = get_path(rest, item.name)
        if _flat(value) or (item.kind == "list" and isinstance(value, list)):
            values[item.name] = shown(value)
            delete_path(rest, item.name)
    plan_rx = _prescription_values("prescription", rest.get("prescription"))
    if plan_rx is not None:
        values |= plan_rx
        rest.pop("prescription", None)
    territories = rest.get("territories")
    rows, tumours = _territory_rows(territories)
    if rows is not None and TERRITORIES.fits(rows) and TUMOURS.fits(tumours):
        values |= TERRITORIES.values(rows) | TUMOURS.values(tumours)
        rest.pop("territories", None)
    return values, dump_extra(rest)


def _territory_rows(
    territories: object,
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Territories as rows of the two tables, or (None, []) when they do not fit."""
    if not isinstance(territories, list):
        return None, []
    rows: list[dict[str, Any]] = []
    tumours: list[dict[str, Any]] = []
    for territory in territories:
        if not isinstance(territory, dict):
            return None, []
        row = {k: v for k, v in territory.items() if k not in ("prescription", "tumours")}
        rx = _prescription_values("prescription", territory.get("prescription"))
        if rx is None:
            return None, []
        row |= {k.replace(".", "_"): v for k, v in rx.items()}
        listed = territory.get("tumours") or []
        if not isinstance(listed, list) or not all(isinstance(t, dict) for t in listed):
            return None, []
        tumours += [{"territory": territory.get("name"), **t} for t in listed]
        rows.append(row)
    return rows, tumours


@dataclass
class PlanForm:
    """What a submitted plan form says: the document, the problems and where they go."""

    document: dict[str, Any]
    problems: Problems
    territory_rows: list[int]
    tumour_rows: list[tuple[int, int, int]]  # (territory index, tumour index, form row)

    def place(self, problem: tuple[str, str]) -> tuple[str, str]:
        """A plan problem named by the input it is about, where the form has one."""
        path, message = problem
        if path.startswith("prescription"):
            return ("prescription.value" if "." in path else "prescription.target"), message
        found = _record_index(path, "territories")
        if found is not None and found[0] < len(self.territory_rows):
            index, rest = found
            row = self.territory_rows[index]
            if rest.startswith("prescription"):
                name = f"prescription_{VALUE if '.' in rest else TARGET}"
                return TERRITORIES.name(row, name), message
            tumour = _record_index(rest, "tumours")
            if tumour is not None:
                for t_index, n, form_row in self.tumour_rows:
                    if (t_index, n) == (index, tumour[0]):
                        field = tumour[1].split(".", 1)[0]
                        if field not in {c.field for c in TUMOURS.columns}:
                            field = "name"
                        return TUMOURS.name(form_row, field), message
            moved = row_problem(problem, TERRITORIES, self.territory_rows)
            if moved is not None:
                return moved
        return problem


def plan_document_from_form(form: Mapping[str, str]) -> PlanForm:
    """The ``netlm/sirt-plan/v1`` document a submitted plan form describes.

    Filled inputs replace what the YAML box (:data:`PLAN_EXTRA_FIELD`) says for
    the same field; filled rows of the territories table replace the YAML
    box's territories; each row of the tumours table joins the territory of
    its name.  An empty form field leaves the YAML box's value, so a whole
    plan pasted into the box is read as it is.
    """
    problems: Problems = []
    document = read_extra(form.get(PLAN_EXTRA_FIELD, ""), PLAN_EXTRA_FIELD, problems)
    document.pop("schema", None)
    singles = [i for i in plan_inputs() if i.name.rsplit(".", 1)[-1] not in (TARGET, VALUE)]
    read_inputs(form, singles, document, problems)
    rx = _read_prescription(form, problems)
    if rx is not None:
        document["prescription"] = rx
    used: list[int] = []
    rows = TERRITORIES.read(form, problems, skip=lambda raw: False)
    if rows:
        territories: list[dict[str, Any]] = []
        for row, record in rows:
            target = record.pop(f"prescription_{TARGET}", None)
            value = record.pop(f"prescription_{VALUE}", None)
            if target is not None or value is not None:
                names = (
                    TERRITORIES.name(row, f"prescription_{TARGET}"),
                    TERRITORIES.name(row, f"prescription_{VALUE}"),
                )
                own = _prescription(target, value, problems, names)
                if own is not None:
                    record["prescription"] = own
            territories.append(record)
            used.append(row)
        document["territories"] = territories
    tumour_rows: list[tuple[int, int, int]] = []
    known = document.get("territories")
    by_name: dict[object, tuple[int, dict[str, Any]]] = {
        t.get("name"): (n, t)
        for n, t in enumerate(known if isinstance(known, list) else [])
        if isinstance(t, dict)
    }
    for row, record in TUMOURS.read(form, problems, skip=lambda raw: False):
        found = by_name.get(record.pop("territory", None))
        if found is None:
            problems.append(
                (TUMOURS.name(row, "territory"), "name a territory of the territories table")
            )
            continue
        index, territory = found
        listed = territory.setdefault("tumours", [])
        if not isinstance(listed, list):
            problems.append(
                (TUMOURS.name(row, "territory"), "its tumours in the YAML box are not a list")
            )
            continue
        tumour_rows.append((index, len(listed), row))
        listed.append(record)
    return PlanForm({"schema": PLAN_SCHEMA, **prune(document)}, problems, used, tumour_rows)


def _prescription(
    target: object, value: object, problems: Problems, names: tuple[str, str]
) -> dict[str, Any] | None:
    """``{target: value}``, or None with the missing half named (inputs ``names``)."""
    if target is None:
        problems.append((names[0], "choose what the value prescribes"))
        return None
    if value is None:
        problems.append((names[1], "give the prescribed value"))
        return None
    return {str(target): value}


def _read_prescription(form: Mapping[str, str], problems: Problems) -> dict[str, Any] | None:
    """The plan's prescription from its (target, value) inputs; None when both are empty."""
    given: list[Any] = []
    for item in prescription_inputs("prescription"):
        raw = form.get(item.name, "").strip()
        value, error = convert(raw, item) if raw else (None, None)
        if error is not None:
            problems.append((item.name, error))
            return None
        given.append(value)
    if given == [None, None]:
        return None
    names = tuple(i.name for i in prescription_inputs("prescription"))
    return _prescription(given[0], given[1], problems, (names[0], names[1]))


def plan_from_form(form: Mapping[str, str]) -> tuple[Plan | None, PlanForm]:
    """The plan a submitted form describes (None when it has problems) and the form read.

    The document is validated by :func:`netlm.sirt.plan.plan_from_mapping`,
    exactly as a plan file; its problems are named by the inputs they concern.
    """
    read = plan_document_from_form(form)
    plan: Plan | None = None
    try:
        plan = plan_from_mapping(read.document)
    except PlanError as exc:
        bad = {p for p, _ in read.problems}
        moved = (read.place(p) for p in exc.problems)
        read.problems.extend(p for p in moved if p[0] not in bad)
    return (plan if not read.problems else None), read


#: Every plan model field's input, for the test that holds the form to the model.
PLAN_MODELS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("", Plan),
    ("patient.", PatientSize),
    ("physics.", Physics),
    ("optimise.", Optimise),
    ("override.", Override),
)


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
                _label(name, _LESION_LABELS.get(name, _words(name))),
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
            _label(name, _TIMEPOINT_LABELS.get(name, _words(name))),
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
        found = _record_index(path, "timepoints")
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
            for item in line.inputs:
                raw = form.get(item.name, "").strip()
                if not raw:
                    continue
                value, error = convert(raw, item)
                if error is not None:
                    problems.append((item.name, error))
                else:
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
        if _flat(value):
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
            and all(_flat(v) for k, v in p.items() if k != "lesions")
            and lesion_table(t).fits(p.get("lesions", []))
            for t, p in enumerate(points)
        )
    ):
        for t, point in enumerate(points):
            values |= {f"timepoints[{t}].{k}": shown(v) for k, v in point.items() if k != "lesions"}
            values |= lesion_table(t).values(point.get("lesions", []))
        rest.pop("timepoints")
    return values, dump_extra(rest)
