"""The plan form (``netlm/sirt-plan/v1``): sections, territory and tumour tables, YAML box.

:func:`plan_form_values` fills the form from a plan document and
:func:`plan_from_form` reads a submitted form back into a plan, checked by
:func:`netlm.sirt.plan.plan_from_mapping` like a plan file; every plan field
is an input or named in :data:`PLAN_ADVANCED` (edited as YAML).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from netlm.api.forms.inputs import (
    Column,
    Input,
    Problems,
    Row,
    Table,
    column,
    convert,
    delete_path,
    dump_extra,
    field_input,
    flat,
    get_path,
    labelled,
    prune,
    read_extra,
    read_inputs,
    record_index,
    row_problem,
    shown,
    unit_of,
    words,
)
from netlm.errors import PlanError
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


def _plan_row(text: str, path: str, hint: str = "") -> Row:
    return Row(labelled(path, text), (field_input(Plan, path),), hint)


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
                    labelled(name, PHYSICS_LABELS.get(name, words(name))),
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
    if target not in Prescription.model_fields or not flat(value):
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
        if flat(value) or (item.kind == "list" and isinstance(value, list)):
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
        found = record_index(path, "territories")
        if found is not None and found[0] < len(self.territory_rows):
            index, rest = found
            row = self.territory_rows[index]
            if rest.startswith("prescription"):
                name = f"prescription_{VALUE if '.' in rest else TARGET}"
                return TERRITORIES.name(row, name), message
            tumour = record_index(rest, "tumours")
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
