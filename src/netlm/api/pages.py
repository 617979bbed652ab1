"""The server-rendered web application: Jinja2 pages over the registry.

Pages: log-in, patient list and search, the tumour-board page of a patient
(scores, verdicts with reasons and sources, work-up, treatment timeline,
response chart, dose summary with DVH, images), case entry and editing with
each validation message next to its field, plan entry and follow-up
measurements (forms generated from the models by :mod:`netlm.api.forms`), plan
review and approval, and the audit log (admins).

Every page needs a logged-in user (the session cookie of
:mod:`netlm.api.security`); every form carries the session's CSRF token; the
roles of each page are declared and enforced exactly as for the JSON API.
Sections of the tumour-board page are the report partials of
:mod:`netlm.report.html`, so the page and the PDF say the same thing.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import secrets
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from netlm.api.config import (
    CSRF_FORM_FIELD,
    DOCS_PATH,
    OPENAPI_PATH,
    SESSION_COOKIE,
    StoreDep,
    config_of,
)
from netlm.api.forms import (
    EXTRA_FIELD,
    PLAN_EXTRA_FIELD,
    RESPONSE_EXTRA_FIELD,
    SPARE_ROWS,
    TERRITORIES,
    TIMEPOINT_BLOCKS,
    TUMOURS,
    Input,
    Row,
    criteria_input,
    criterion_name,
    field_input,
    lesion_table,
    override_rows,
    place_problems,
    plan_form_names,
    plan_form_values,
    plan_from_form,
    plan_sections,
    read_extra,
    response_document_from_form,
    response_form_names,
    response_form_values,
    response_rows,
    timepoint_blocks,
    timepoint_rows,
)
from netlm.api.forms import (
    SPARE_LESION_ROWS as SPARE_OBSERVATION_ROWS,
)
from netlm.api.forms import convert as _convert
from netlm.api.forms import delete_path as _delete
from netlm.api.forms import get_path as _get
from netlm.api.forms import prune as _prune
from netlm.api.forms import set_path as _set
from netlm.api.forms import shown as _shown
from netlm.api.middleware import VIEWER_CONTENT_SECURITY_POLICY
from netlm.api.roles import (
    ADMINS,
    ALL_ROLES,
    OVERRIDE_REFUSED,
    PHYSICISTS,
    ROLES_KEY,
    WRITERS,
    GuardedRoute,
    Principal,
    UserDep,
    allow,
    principal_of,
)
from netlm.api.schemas import PasswordChange, UserChange, UserCreate
from netlm.api.security import (
    attempt_login,
    change_own_password,
    change_user_account,
    client_address,
    new_session,
    session_id_of,
    set_session_cookie,
    too_many_attempts,
)
from netlm.api.templating import render, render_partials
from netlm.case import SCHEMA_ID, Case, case_from_mapping
from netlm.documents import parse_document
from netlm.eligibility.ordering import recommend_order
from netlm.eligibility.result import Assessment, Effect, ModalityOption, RankedOption, Verdict
from netlm.errors import (
    CaseError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    PlanError,
    StoreError,
    UnsafePlanError,
)
from netlm.report.board import headline
from netlm.report.html import board_context, dvh_figure, plan_context
from netlm.store.repository import (
    TREATMENT_MODALITIES,
    CaseVersionOut,
    PatientOut,
    ResponseOut,
    Role,
    Store,
)
from netlm.workflows.images import voxel_dvh
from netlm.workflows.plans import plan_report_inputs, solve_stored_plan
from netlm.workflows.response import record_response

PatientId = Annotated[int, PathParam(ge=1, le=2**62)]
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]


# --------------------------------------------------------------------------- redirects and forms
def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def form_data(request: Request) -> dict[str, str]:
    """The posted form (text fields), after checking its CSRF token against the session."""
    form = await request.form()
    user = principal_of(request)
    token = form.get(CSRF_FORM_FIELD)
    if (
        user is None
        or user.csrf is None
        or not isinstance(token, str)
        or not _same(token, user.csrf)
    ):
        raise HTTPException(403, "the form is stale or was not sent from this site; reload it")
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


FormDep = Annotated[dict[str, str], Depends(form_data)]


# --------------------------------------------------------------------------- the case form
def _input(path: str) -> Input:
    return field_input(Case, path)


def _row(label: str, *paths: str, hint: str = "") -> Row:
    return Row(label, tuple(_input(p) for p in paths), hint)


def _lab(label: str, name: str, *, uln: bool = False) -> Row:
    paths = [f"labs.{name}.value", f"labs.{name}.unit"] + ([f"labs.{name}.uln"] if uln else [])
    return _row(label, *paths, hint="value, unit" + (", ULN" if uln else ""))


@functools.cache
def case_form_sections() -> tuple[tuple[str, tuple[Row, ...]], ...]:
    """The sections of the case form; every other field is edited as YAML below them."""
    return (
        (
            "Patient",
            (
                _row("Patient id", "patient.id", hint="as registered"),
                _row("Age (years)", "patient.age_years"),
                _row("Sex", "patient.sex"),
                _row("ECOG performance status", "patient.ecog"),
                _row("Height (cm)", "patient.height_cm"),
                _row("Weight (kg)", "patient.weight_kg"),
                _row("Life expectancy (months)", "patient.life_expectancy_months"),
                _row("Anaesthesia contraindicated", "patient.anaesthesia_contraindicated"),
                _row("Pulmonary function", "patient.pulmonary_function"),
            ),
        ),
        (
            "Tumour",
            (
                _row("Primary site", "tumour.primary_site"),
                _row("Primary resected", "tumour.primary_resected"),
                _row("Differentiation", "tumour.differentiation"),
                _row("Ki-67 (%)", "tumour.ki67_percent"),
                _row("Mitoses per 2 mm²", "tumour.mitoses_per_2mm2"),
                _row("Functional syndrome", "tumour.functional_syndrome"),
                _row("Symptoms refractory to SSA", "tumour.symptoms_refractory_to_ssa"),
                _row("SSTR imaging", "tumour.sstr_imaging.modality"),
                _row("SSTR imaging positive", "tumour.sstr_imaging.positive"),
                _row("Krenning score", "tumour.sstr_imaging.krenning_score"),
                _row("FDG PET performed", "tumour.fdg_pet.performed"),
                _row("FDG PET positive", "tumour.fdg_pet.positive"),
                _row("Extrahepatic disease", "tumour.extrahepatic_disease"),
                _row("Extrahepatic disease resectable", "tumour.extrahepatic_resectable"),
                _row("Liver disease course", "tumour.liver_disease_course"),
                _row("Months stable", "tumour.months_stable"),
            ),
        ),
        (
            "Liver",
            (
                _row("Liver volume (mL)", "liver.volume_ml"),
                _row("Tumour volume (mL)", "liver.tumour_volume_ml"),
                _row("Involvement (%)", "liver.involvement_percent"),
                _row("Involvement method", "liver.involvement_method"),
                _row("Distribution", "liver.distribution"),
                _row("Lesion count", "liver.lesion_count"),
                _row("Portal vein thrombosis", "liver.portal_vein_thrombosis"),
                _row("Biliary dilatation", "liver.biliary_dilatation"),
                _row("Ascites", "liver.ascites"),
                _row("Encephalopathy", "liver.encephalopathy"),
                _row("Chronic liver disease", "liver.chronic_liver_disease"),
                _row("Resectable (%)", "liver.resectable_percent"),
                _row("Future liver remnant (%)", "liver.future_liver_remnant_percent"),
            ),
        ),
        (
            "Laboratory",
            (
                _row("Date", "labs.date"),
                _lab("Bilirubin", "bilirubin"),
                _lab("Albumin", "albumin"),
                _row("INR", "labs.inr"),
                _lab("AST", "ast", uln=True),
                _lab("ALT", "alt", uln=True),
                _lab("Creatinine", "creatinine"),
                _row("eGFR (mL/min)", "labs.egfr_ml_min"),
                _row("Platelets (10⁹/L)", "labs.platelets_10e9_per_l"),
                _row("Leukocytes (10⁹/L)", "labs.leukocytes_10e9_per_l"),
                _lab("Chromogranin A", "chromogranin_a", uln=True),
            ),
        ),
        (
            "History",
            (
                _row("Contrast allergy", "history.contrast_allergy"),
                _row("Irreversible coagulopathy", "history.irreversible_coagulopathy"),
                _row("Cardiac arrhythmia", "history.cardiac_arrhythmia"),
                _row("Carcinoid heart disease", "history.carcinoid_heart_disease"),
            ),
        ),
        (
            "Radioembolization work-up",
            (
                _row("Lung shunt fraction (0-1)", "workup.lung_shunt_fraction"),
                _row("Lung shunt method", "workup.lung_shunt_method"),
                _row("Extrahepatic collaterals", "workup.extrahepatic_collaterals"),
                _row("Tumour-to-normal ratio", "workup.tumour_to_normal_ratio"),
                _row("Estimated lung dose (Gy)", "workup.estimated_lung_dose_gy"),
                _row("Prior lung dose (Gy)", "workup.prior_lung_dose_gy"),
                _row("MAA date", "workup.maa_date"),
            ),
        ),
    )


def form_inputs() -> list[Input]:
    return [i for _, rows in case_form_sections() for r in rows for i in r.inputs]


#: Where the case keeps its lesions, and the (field, label, input) columns of the lesion table.
LESIONS = "liver.lesions"
LESION_COLUMNS: tuple[tuple[str, str, Input], ...] = (
    ("id", "Lesion id", Input("id", "text")),
    ("segment", "Couinaud segment", Input("segment", "choice", tuple(str(n) for n in range(1, 9)))),
    ("longest_diameter_mm", "Longest diameter (mm)", Input("longest_diameter_mm", "float")),
    ("enhancement", "Enhancement", _input("liver.lesions.enhancement")),
    ("abuts", "Abuts (comma-separated)", Input("abuts", "text", placeholder="e.g. hepatic_vein")),
)
#: Empty lesion rows offered below the recorded ones; at most MAX_LESION_ROWS rows are read.
SPARE_LESION_ROWS = 3
MAX_LESION_ROWS = 200


def lesion_input(row: int, column: str) -> str:
    """The name of a lesion table input: the lesion field's path in the case."""
    return f"{LESIONS}[{row}].{column}"


def lesion_rows(form: Mapping[str, str]) -> int:
    """How many lesion rows a form holds (up to the last row with a value)."""
    rows = 0
    for row in range(MAX_LESION_ROWS):
        if any(form.get(lesion_input(row, c), "").strip() for c, _, _ in LESION_COLUMNS):
            rows = row + 1
    return rows


def case_form_values(document: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """(form values by field path, YAML of every other field) of a case document."""
    values = {i.name: _shown(_get(document, i.name)) for i in form_inputs()}
    rest: dict[str, Any] = yaml.safe_load(yaml.safe_dump(dict(document))) or {}
    rest.pop("schema", None)
    for i in form_inputs():
        _delete(rest, i.name)
    lesions = _get(rest, LESIONS)
    columns = {c for c, _, _ in LESION_COLUMNS}
    if (
        isinstance(lesions, list)
        and len(lesions) <= MAX_LESION_ROWS
        and all(isinstance(x, dict) and set(x) <= columns for x in lesions)
    ):  # the table shows them; anything else stays in the YAML box
        for row, lesion in enumerate(lesions):
            for column in columns:
                value = lesion.get(column)
                if column == "abuts" and isinstance(value, list):
                    value = ", ".join(str(v) for v in value)
                values[lesion_input(row, column)] = _shown(value)
        _delete(rest, LESIONS)
    rest = _prune(rest)
    extra = yaml.safe_dump(rest, sort_keys=False, allow_unicode=True) if rest else ""
    return values, extra


def case_from_form(
    form: Mapping[str, str],
) -> tuple[Case | None, dict[str, Any], list[tuple[str, str]]]:
    """The case a submitted form describes, the document built and every problem found."""
    problems: list[tuple[str, str]] = []
    document = read_extra(form.get(EXTRA_FIELD, ""), EXTRA_FIELD, problems)
    for item in form_inputs():
        _delete(document, item.name)
    skipped: set[str] = set()
    for item in form_inputs():
        raw = form.get(item.name, "").strip()
        group = item.name.rsplit(".", 1)[0]
        if item.name.endswith(".value") and not raw:
            skipped.add(group)
        if not raw or group in skipped:
            continue
        value, error = _convert(raw, item)
        if error is not None:
            problems.append((item.name, error))
            continue
        _set(document, item.name, value)
    used = _lesions_from_form(form, document, problems)
    document = {"schema": SCHEMA_ID, **_prune(document)}
    case: Case | None = None
    try:
        case = case_from_mapping(document)
    except CaseError as exc:
        bad = {p for p, _ in problems}
        moved = (_lesion_problem(p, used) for p in exc.problems)
        problems.extend(p for p in moved if p[0] not in bad)
    return (case if not problems else None), document, problems


def _lesions_from_form(
    form: Mapping[str, str], document: dict[str, Any], problems: list[tuple[str, str]]
) -> list[int]:
    """Put the filled rows of the lesion table into ``document`` (they replace lesions given
    in the YAML box); returns the form row of each lesion, in order."""
    lesions: list[dict[str, Any]] = []
    used: list[int] = []
    for row in range(lesion_rows(form)):
        raw = {c: form.get(lesion_input(row, c), "").strip() for c, _, _ in LESION_COLUMNS}
        if not any(raw.values()):
            continue
        lesion: dict[str, Any] = {}
        for column, _, item in LESION_COLUMNS:
            text = raw[column]
            if not text:
                continue
            if column == "abuts":
                lesion[column] = [w for w in text.replace(",", " ").split() if w]
                continue
            value, error = _convert(text, item)
            if error is not None:
                problems.append((lesion_input(row, column), error))
                continue
            lesion[column] = int(value) if column == "segment" else value
        lesions.append(lesion)
        used.append(row)
    if lesions:
        _set(document, LESIONS, lesions)
    return used


def _lesion_problem(problem: tuple[str, str], used: Sequence[int]) -> tuple[str, str]:
    """A case problem of a lesion named by the lesion table's input (row and column)."""
    path, message = problem
    prefix = f"{LESIONS}["
    if not used or not path.startswith(prefix):
        return problem
    index, _, rest = path[len(prefix) :].partition("]")
    if not index.isdigit() or int(index) >= len(used):
        return problem
    column = rest.lstrip(".").split("[", 1)[0]
    if column not in {c for c, _, _ in LESION_COLUMNS}:
        return problem
    return lesion_input(used[int(index)], column), message


def _place_problems(
    problems: Iterable[tuple[str, str]],
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Problems by form input (shown next to it) and the rest (shown with the YAML)."""
    names = {i.name for i in form_inputs()}
    names |= {lesion_input(r, c) for r in range(MAX_LESION_ROWS) for c, _, _ in LESION_COLUMNS}
    names.add(LESIONS)
    return place_problems(problems, names)


def _case_form(
    request: Request,
    patient: PatientOut,
    values: Mapping[str, str],
    extra: str,
    problems: Sequence[tuple[str, str]] = (),
    status_code: int = 200,
    base_version: int | None = None,
) -> HTMLResponse:
    by_field, rest = _place_problems(problems)
    return render(
        request,
        "case_form.html",
        status_code,
        title=f"Case of {patient.external_id}",
        patient=patient,
        sections=case_form_sections(),
        values=values,
        extra=extra,
        extra_field=EXTRA_FIELD,
        errors=by_field,
        lesion_columns=LESION_COLUMNS,
        lesion_rows=lesion_rows(values) + SPARE_LESION_ROWS,
        lesion_input=lesion_input,
        other_problems=rest,
        problem_count=len(problems),
        base_version=patient.latest_version or 0 if base_version is None else base_version,
    )


def _plan_form(
    request: Request,
    patient: PatientOut,
    values: Mapping[str, str],
    extra: str,
    problems: Sequence[tuple[str, str]] = (),
    status_code: int = 200,
) -> HTMLResponse:
    """The plan form (:mod:`netlm.api.forms`), each problem next to its input."""
    territory_rows = TERRITORIES.rows(values) + SPARE_ROWS
    tumour_rows = TUMOURS.rows(values) + SPARE_ROWS
    names = plan_form_names(territory_rows=territory_rows, tumour_rows=tumour_rows)
    by_field, rest = place_problems(problems, names)
    user = principal_of(request)
    return render(
        request,
        "plan_form.html",
        status_code,
        title=f"New plan · {patient.external_id}",
        patient=patient,
        sections=plan_sections(),
        override_rows=override_rows() if user is not None and user.can_approve else (),
        values=values,
        extra=extra,
        extra_field=PLAN_EXTRA_FIELD,
        errors=by_field,
        tables=((TERRITORIES, territory_rows), (TUMOURS, tumour_rows)),
        other_problems=rest,
        problem_count=len(problems),
    )


def _known_lesions(store: Store, patient: PatientOut) -> list[dict[str, Any]]:
    """The lesions a new follow-up form names: those of the patient's latest recorded time
    point (with the organ and role of their declaration), else the lesions of the latest
    case, declared as liver targets."""
    recorded = [r for r in store.response_timepoints(patient.id) if r.details.get("lesions")]
    if recorded:
        latest = max(recorded, key=lambda r: (r.date, r.id))
        return [
            {k: x.get(k) for k in ("id", "organ", "role")}
            for x in latest.details["lesions"]
            if isinstance(x, dict) and x.get("id")
        ]
    if patient.latest_version is None:
        return []
    case = store.case_version(patient.id).to_case()
    return [
        {"id": lesion.id, "organ": "liver", "role": "target"}
        for lesion in case.liver.lesions or ()
        if lesion.id
    ]


def _response_form(
    request: Request,
    patient: PatientOut,
    values: Mapping[str, str],
    extra: str,
    problems: Sequence[tuple[str, str]] = (),
    status_code: int = 200,
) -> HTMLResponse:
    """The follow-up measurement form (:mod:`netlm.api.forms`), problems next to inputs."""
    blocks = max(TIMEPOINT_BLOCKS, timepoint_blocks(values) + 1)
    rows = max(lesion_table(t).rows(values) for t in range(blocks)) + SPARE_OBSERVATION_ROWS
    by_field, rest = place_problems(problems, response_form_names(blocks, rows))
    return render(
        request,
        "response_form.html",
        status_code,
        title=f"Follow-up · {patient.external_id}",
        patient=patient,
        values=values,
        extra=extra,
        extra_field=RESPONSE_EXTRA_FIELD,
        errors=by_field,
        general=response_rows(),
        criteria=criteria_input(),
        criterion_name=criterion_name,
        blocks=[(t, timepoint_rows(t), lesion_table(t)) for t in range(blocks)],
        lesion_rows=rows,
        other_problems=rest,
        problem_count=len(problems),
    )


# --------------------------------------------------------------------------- board page parts
#: Verdicts of the options the board can offer (listed first, in the recommended order).
OFFERABLE = frozenset({Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_CAUTION})
#: Verdicts of the options collapsed below the answer (with a count).
UNAVAILABLE = frozenset({Verdict.NOT_SUITABLE, Verdict.CONTRAINDICATED})
#: The facts of the one patient line, by their label in the report's case header.
PATIENT_LINE = (
    "Patient",
    "Primary",
    "WHO 2019 grade",
    "Pathology",
    "SSTR imaging",
    "Tumour burden",
    "Child-Pugh",
    "ALBI",
)


@dataclass(frozen=True)
class SummaryOption:
    """One option of the board page's answer: its rank, verdict and key reasons."""

    ranked: RankedOption
    option: ModalityOption
    reasons: tuple[str, ...]

    @property
    def intent(self) -> str:
        """Why the option sits at its place, without the verdict its badge already shows."""
        _, _, intent = self.ranked.reason.partition("; ")
        return intent or self.ranked.reason


@dataclass(frozen=True)
class BoardSummary:
    """The answer the board page leads with (the same facts as the board PDF).

    ``patient_line`` holds the (label, value) pairs of :data:`PATIENT_LINE`
    taken from the report's case header; ``offered`` the options with a verdict
    in :data:`OFFERABLE`, ``pending`` those that need information, and
    ``unavailable`` those in :data:`UNAVAILABLE`, each in the recommended order.
    """

    patient_line: tuple[tuple[str, str], ...]
    offered: tuple[SummaryOption, ...]
    pending: tuple[SummaryOption, ...]
    unavailable: tuple[SummaryOption, ...]


def _key_reasons(option: ModalityOption) -> tuple[str, ...]:
    """The findings that shape the verdict (conditions to fulfil are left to the table)."""
    return tuple(f.message for f in option.findings if f.effect is not Effect.REQUIREMENT)


def board_summary(assessment: Assessment, context: Mapping[str, Any]) -> BoardSummary:
    """The answer of ``assessment``: the patient line and its options by availability.

    ``context`` is the :func:`netlm.report.html.board_context` of the
    assessment, whose ``headline`` and ``case_facts`` the PDF prints too.
    Assessments recorded before the recommended order existed are ordered now
    by :func:`netlm.eligibility.ordering.recommend_order`.
    """
    facts = dict([*context.get("headline", ()), *context.get("case_facts", ())])
    line = tuple((label, str(facts[label])) for label in PATIENT_LINE if label in facts)
    order = assessment.recommended_order or recommend_order(assessment.options)
    by_modality = {o.modality: o for o in assessment.options}
    ranked = [
        SummaryOption(r, by_modality[r.modality], _key_reasons(by_modality[r.modality]))
        for r in order
        if r.modality in by_modality
    ]
    return BoardSummary(
        patient_line=line,
        offered=tuple(o for o in ranked if o.option.verdict in OFFERABLE),
        pending=tuple(o for o in ranked if o.option.verdict is Verdict.NEEDS_INFORMATION),
        unavailable=tuple(o for o in ranked if o.option.verdict in UNAVAILABLE),
    )


@dataclass(frozen=True)
class Event:
    """One line of the treatment timeline."""

    date: dt.date
    kind: str
    text: str
    link: str | None = None


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def timeline(store: Store, patient_id: int, case: Case | None, plans: Sequence[Any]) -> list[Event]:
    """Treatments from the case history and the registry, plans, follow-up and toxicity, by date."""
    events: list[Event] = []
    if case is not None:
        for prior in case.history.prior_treatments or ():
            when = prior.date or prior.start or prior.end
            if when is None:
                continue
            parts = [prior.type.value.replace("_", " ")]
            if prior.agent:
                parts.append(prior.agent.replace("_", " "))
            if prior.cycles:
                parts.append(f"{prior.cycles} cycles")
            if prior.end and prior.end != when:
                parts.append(f"until {prior.end.isoformat()}")
            events.append(Event(when, "prior treatment", ", ".join(parts)))
    for t in store.treatments(patient_id):
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(t.details.items()) if _scalar(v))
        text = t.modality.replace("_", " ") + (f" ({detail})" if detail else "")
        events.append(Event(t.date, "treatment", text))
    for p in plans:
        label = f"{p.device} {p.method} plan #{p.id} ({p.status.value})"
        events.append(Event(_day(p.created_at), "plan", label, f"/plans/{p.id}"))
        if p.approved_at is not None:
            events.append(
                Event(
                    _day(p.approved_at),
                    "approval",
                    f"plan #{p.id} approved by {p.approved_by}",
                    f"/plans/{p.id}",
                )
            )
    for r in store.response_timepoints(patient_id):
        if r.criterion == "recist1.1":
            events.append(Event(r.date, "response", f"RECIST 1.1: {r.overall}"))
    for x in store.toxicity_events(patient_id):
        events.append(
            Event(x.date, "toxicity", f"{x.term}, CTCAE v{x.ctcae_version} grade {x.grade}")
        )
    return sorted(events, key=lambda e: (e.date, e.kind))


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


_SERIES_COLOURS = ("#1f4e79", "#b5541c", "#2e7d32", "#6a3d9a", "#9b1c1c", "#00838f", "#7a5200")


def response_chart(points: Sequence[ResponseOut]) -> Markup | None:
    """An SVG line chart of the change of the measure from baseline, one line per criterion.

    Reference lines at -30 % (RECIST partial response) and +20 % (progression);
    each point is labelled with its overall response.
    """
    series: dict[str, list[tuple[dt.date, float, str]]] = {}
    for p in points:
        change = p.details.get("change_from_baseline_percent")
        if isinstance(change, int | float) and not isinstance(change, bool):
            series.setdefault(p.criterion, []).append((p.date, float(change), p.overall))
    if not series:
        return None
    dates = [d for s in series.values() for d, _, _ in s]
    values = [v for s in series.values() for _, v, _ in s] + [-30.0, 20.0, 0.0]
    start = min(dates) - dt.timedelta(days=30)
    end = max(dates) + dt.timedelta(days=30)
    low, high = min(*values, -100.0) - 5, max(*values, 40.0) + 5
    width, height, left, right, top, bottom = 720, 300, 60, 150, 20, 40
    span_days = max((end - start).days, 1)

    def x(d: dt.date) -> float:
        return left + (width - left - right) * (d - start).days / span_days

    def y(v: float) -> float:
        return top + (height - top - bottom) * (high - v) / (high - low)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Change of the tumour measure from baseline over time">',
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" fill="#fff" stroke="#c9d0d9"/>',
    ]
    for level, label, colour in (
        (0.0, "baseline", "#5a6472"),
        (-30.0, "−30 %", "#1d6a2e"),
        (20.0, "+20 %", "#9b1c1c"),
    ):
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
            f'stroke="{colour}" stroke-dasharray="4 3" stroke-width="1"/>'
            f'<text x="{width - right + 4}" y="{y(level) + 4:.1f}" font-size="14" '
            f'fill="{colour}">{label}</text>'
        )
    for tick in range(math.ceil(low / 20.0) * 20, int(high) + 1, 20):
        out.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="14" text-anchor="end" '
            f'fill="#5a6472">{tick}</text>'
        )
    for d in sorted(set(dates)):
        out.append(
            f'<text x="{x(d):.1f}" y="{height - bottom + 16}" font-size="14" '
            f'text-anchor="middle" fill="#5a6472">{d.isoformat()}</text>'
        )
    out.append(
        f'<text x="14" y="{(top + height - bottom) / 2:.0f}" font-size="14" fill="#5a6472" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2:.0f})" text-anchor="middle">'
        "change from baseline (%)</text>"
    )
    for n, (criterion, rows) in enumerate(sorted(series.items())):
        colour = _SERIES_COLOURS[n % len(_SERIES_COLOURS)]
        rows = sorted(rows)
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v, _ in rows)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for d, v, overall in rows:
            out.append(
                f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="4" fill="{colour}">'
                f"<title>{escape(criterion)} {d.isoformat()}: {v:+.1f} % ({escape(overall)})"
                "</title></circle>"
                f'<text x="{x(d) + 6:.1f}" y="{y(v) - 6:.1f}" font-size="14" fill="{colour}">'
                f"{escape(overall)}</text>"
            )
        ly = top + 16 * n + 10
        out.append(
            f'<line x1="{width - right + 60}" x2="{width - right + 78}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{width - right + 82}" y="{ly + 4}" font-size="14" fill="{colour}">'
            f"{escape(criterion)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


@dataclass
class DoseSummary:
    """What the tumour-board page shows of the planned and computed doses."""

    plan: Any = None
    plan_html: Markup | None = None
    voxel: list[dict[str, Any]] = field(default_factory=list)


def dose_summary(store: Store, patient_id: int, plans: Sequence[Any]) -> DoseSummary:
    summary = DoseSummary()
    solved = [p for p in plans if p.latest_result_id is not None]
    if solved:
        chosen = next((p for p in reversed(solved) if p.approved_result_id), solved[-1])
        plan, result, curves = plan_report_inputs(store, chosen.id)
        if result is not None:
            context = plan_context(
                result.to_result(),
                plan=plan.to_plan(),
                dvh_curves=curves,
                approved_by=plan.approved_by,
            )
            summary.plan = plan
            summary.plan_html = render_partials(("plan_summary", "plan_doses", "dvh"), context)
    summary.voxel = voxel_doses(store, patient_id)
    return summary


def viewer_headers(voxel: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """The Content-Security-Policy that lets a page with the image viewer run its scripts."""
    if any("dose" in v.get("layers", ()) for v in voxel):
        return {"content-security-policy": VIEWER_CONTENT_SECURITY_POLICY}
    return None


def voxel_doses(store: Store, patient_id: int) -> list[dict[str, Any]]:
    """The patient's computed voxel doses: statistics, DVH figure and viewer layers."""
    from netlm.api.viewer import ISODOSE_LEVELS_GY, available_layers

    found: list[dict[str, Any]] = []
    for image in store.images(patient_id):
        if image.kind != "rtdose" or image.path is None:
            continue
        read = voxel_dvh(Path(image.path))
        if read is None:
            continue
        curves, stats = read
        found.append(
            {
                "image": image,
                "stats": stats.get("vois", {}),
                "figure": dvh_figure(curves) if curves else None,
                "layers": available_layers(Path(image.path), stats),
                "voi_labels": list(stats.get("voi_labels") or []),
                "levels": list(ISODOSE_LEVELS_GY),
                "registration": (stats.get("registration") or {}).get("ct"),
            }
        )
    return found


# --------------------------------------------------------------------------- account forms
Model = typing.TypeVar("Model", bound=BaseModel)


def form_model(
    model: type[Model], values: Mapping[str, Any]
) -> tuple[Model | None, dict[str, list[str]]]:
    """``model`` validated from form values (the API's request model), or messages by field."""
    try:
        return model.model_validate(dict(values)), {}
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for e in exc.errors():
            name = ".".join(str(part) for part in e["loc"]) or "form"
            errors.setdefault(name, []).append(str(e["msg"]))
        return None, errors


def problems_by_field(problems: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Store problems ((field, message) pairs) by field, for messages next to the inputs."""
    errors: dict[str, list[str]] = {}
    for name, message in problems:
        errors.setdefault(name or "form", []).append(message)
    return errors


def _users_page(
    request: Request,
    store: Store,
    status_code: int = 200,
    *,
    errors: Mapping[str, Sequence[str]] | None = None,
    values: Mapping[str, str] | None = None,
    target: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "users.html",
        status_code,
        title="Users",
        users=store.list_users(),
        roles=[r.value for r in Role],
        errors=dict(errors or {}),
        values=dict(values or {}),
        target=target,
        notice=notice,
    )


# --------------------------------------------------------------------------- routes
#: The pre-session cookie and form field that close login CSRF (double submit).
LOGIN_CSRF_COOKIE = "netlm_login"
LOGIN_CSRF_FIELD = "login_csrf"


def _login_form(
    request: Request, status_code: int, headers: Mapping[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """The log-in page with a fresh pre-session token (in the form and in a cookie)."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status_code,
        headers=headers,
        title="Log in",
        login_csrf=token,
        **context,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=config_of(request).secure_cookies,
        path="/login",
    )
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/patients"


def build_page_router() -> APIRouter:
    """Every page of the web application."""
    pages = APIRouter(route_class=GuardedRoute, include_in_schema=False)

    # ---------------------------------------------------------------- log-in
    @pages.get("/login", response_class=HTMLResponse)
    def login_page(
        request: Request,
        next: Annotated[str | None, Query(max_length=500)] = None,
        changed: Annotated[int | None, Query(ge=1, le=1)] = None,
    ) -> Response:
        if principal_of(request) is not None:
            return _redirect(_safe_next(next))
        notice = "Password changed; log in with the new one." if changed else None
        return _login_form(request, 200, next=_safe_next(next), notice=notice)

    @pages.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        username, password, target = (form.get(k) for k in ("username", "password", "next"))
        typed = username if isinstance(username, str) else ""
        back = _safe_next(target if isinstance(target, str) else None)
        config = config_of(request)
        given, expected = form.get(LOGIN_CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)
        if not (isinstance(given, str) and expected and _same(given, expected)):
            # login CSRF: only a form this site handed out may log a browser in
            return _login_form(
                request, 403, error="The log-in form expired; please log in again.", next=back
            )
        user, wait = None, 0.0
        if isinstance(username, str) and isinstance(password, str):
            user, wait = await run_in_threadpool(
                attempt_login, config, username, password, client_address(request), via="page"
            )
        if wait > 0:
            refusal = too_many_attempts(wait)
            return _login_form(
                request,
                429,
                error=str(refusal.detail),
                username=typed,
                next=back,
                headers=refusal.headers,
            )
        if user is None:
            return _login_form(
                request, 401, error="Wrong user name or password.", username=typed, next=back
            )
        cookie, _ = await run_in_threadpool(
            new_session, config, user.username, client_address(request)
        )
        response = _redirect(back)
        set_session_cookie(response, config, cookie)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @pages.post("/logout", **allow(ALL_ROLES))
    def logout(request: Request, user: UserDep, form: FormDep) -> Response:
        """End the session on the server (the cookie is worthless from now on)."""
        config = config_of(request)
        session_id = session_id_of(config, request.cookies.get(SESSION_COOKIE))
        if session_id is not None:
            config.store.end_session(session_id, actor=user.username)
            config.credentials_changed()
        response = _redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @pages.get("/", **allow(ALL_ROLES))
    def home() -> Response:
        return _redirect("/patients")

    # ---------------------------------------------------------------- patients
    @pages.get("/patients", response_class=HTMLResponse, **allow(ALL_ROLES))
    def patients(
        request: Request,
        store: StoreDep,
        q: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        return render(
            request,
            "patients.html",
            title="Patients",
            patients=store.list_patients(q or None),
            q=q,
        )

    @pages.post("/patients", **allow(WRITERS))
    def create_patient(request: Request, store: StoreDep, user: UserDep, form: FormDep) -> Response:
        external_id = form.get("external_id", "").strip()
        try:
            patient = store.create_patient(external_id, actor=user.username)
        except (InputError, StoreError) as exc:
            message = (
                "; ".join(m for _, m in exc.problems) if isinstance(exc, InputError) else str(exc)
            )
            return render(
                request,
                "patients.html",
                422 if isinstance(exc, InputError) else 409,
                title="Patients",
                patients=store.list_patients(),
                error=f"Patient not created: {message}",
                external_id=external_id,
            )
        return _redirect(f"/patients/{patient.id}/case")

    @pages.get("/patients/{patient_id}", response_class=HTMLResponse, **allow(ALL_ROLES))
    def board(
        request: Request,
        store: StoreDep,
        user: UserDep,
        patient_id: PatientId,
        saved: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    ) -> Response:
        patient = store.get_patient(patient_id)
        store.record_read(patient_id, actor=user.username, what="board page")
        versions = store.case_versions(patient_id)
        case = versions[-1].to_case() if versions else None
        assessments = store.assessments(patient_id)
        latest = assessments[-1] if assessments else None
        plans = store.list_plans(patient_id)
        context: dict[str, Any] = {
            "title": f"Tumour board · {patient.external_id}",
            "patient": patient,
            "versions": versions,
            "case": case,
            "saved": saved,
            "latest": latest,
            "stale": latest is not None and latest.case_version != patient.latest_version,
            "plans": plans,
            "timeline": timeline(store, patient_id, case, plans),
            "responses": store.response_timepoints(patient_id),
            "toxicities": store.toxicity_events(patient_id),
            "images": store.images(patient_id),
            "dose": dose_summary(store, patient_id, plans),
            "modalities": sorted(TREATMENT_MODALITIES),
            "today": dt.date.today().isoformat(),
        }
        if latest is not None:
            assessment = latest.to_assessment()
            assessed_case = next(
                (v.to_case() for v in versions if v.version == latest.case_version), None
            )
            bctx = board_context(assessment, case=assessed_case)
            context["scores"] = headline(assessment)[1:]
            context["summary"] = board_summary(assessment, bctx)
            context["verdicts_html"] = render_partials(("verdicts",), bctx)
            context["workup_html"] = render_partials(("workup", "references"), bctx)
        context["chart"] = response_chart(context["responses"])
        headers = viewer_headers(context["dose"].voxel)
        return render(request, "board_page.html", headers=headers, **context)

    @pages.post("/patients/{patient_id}/delete", **allow(WRITERS))
    def delete_patient(
        store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
        store.soft_delete_patient(patient_id, form.get("reason", ""), actor=user.username)
        return _redirect("/patients")

    # ---------------------------------------------------------------- case entry
    @pages.get("/patients/{patient_id}/case", response_class=HTMLResponse, **allow(WRITERS))
    def case_form(request: Request, store: StoreDep, patient_id: PatientId) -> Response:
        patient = store.get_patient(patient_id)
        if patient.latest_version is not None:
            document = store.case_version(patient_id).document
        else:
            document = {"schema": SCHEMA_ID, "patient": {"id": patient.external_id}}
        values, extra = case_form_values(document)
        return _case_form(request, patient, values, extra)

    @pages.post("/patients/{patient_id}/case", response_class=HTMLResponse, **allow(WRITERS))
    def save_case(
        request: Request, store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
        patient = store.get_patient(patient_id)
        case, _, problems = case_from_form(form)
        base = form.get("base_version", "")
        base_version = int(base) if base.isdigit() else None
        status_code = 422
        if case is not None:
            try:
                saved: CaseVersionOut = store.save_case(
                    patient_id, case, actor=user.username, base_version=base_version
                )
            except InputError as exc:
                problems = list(exc.problems)
            except StoreError as exc:  # another edit was saved first: show it, keep this one
                problems, status_code = [("", str(exc))], 409
            else:
                return _redirect(f"/patients/{patient_id}?saved={saved.version}")
        values = {i.name: form.get(i.name, "") for i in form_inputs()}
        values |= {
            lesion_input(r, c): form.get(lesion_input(r, c), "")
            for r in range(lesion_rows(form))
            for c, _, _ in LESION_COLUMNS
        }
        return _case_form(
            request,
            patient,
            values,
            form.get(EXTRA_FIELD, ""),
            problems,
            status_code=status_code,
            base_version=base_version,
        )

    @pages.post("/patients/{patient_id}/assess", **allow(WRITERS))
    def assess(store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep) -> Response:
        store.run_assessment(patient_id, actor=user.username)
        return _redirect(f"/patients/{patient_id}#verdicts")

    @pages.post("/patients/{patient_id}/treatments", **allow(WRITERS))
    def add_treatment(
        store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
        try:
            when = dt.date.fromisoformat(form.get("date", ""))
        except ValueError:
            raise InputError([("date", "give the date as YYYY-MM-DD")]) from None
        notes = form.get("notes", "").strip()
        store.add_treatment(
            patient_id,
            modality=form.get("modality", ""),
            date=when,
            details={"notes": notes} if notes else {},
            actor=user.username,
        )
        return _redirect(f"/patients/{patient_id}#timeline")

    @pages.get("/patients/{patient_id}/response/new", response_class=HTMLResponse, **allow(WRITERS))
    def new_response(request: Request, store: StoreDep, patient_id: PatientId) -> Response:
        patient = store.get_patient(patient_id)
        recorded = {r.criterion for r in store.response_timepoints(patient_id)}
        criteria = [c for c in criteria_input().choices if c in recorded] or ["recist1.1"]
        values = response_form_values(_known_lesions(store, patient), criteria=criteria)
        return _response_form(request, patient, values, "")

    @pages.post("/patients/{patient_id}/response", response_class=HTMLResponse, **allow(WRITERS))
    def add_response(
        request: Request, store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
        patient = store.get_patient(patient_id)
        read = response_document_from_form(form, patient.external_id)
        problems = read.problems
        if not problems:
            try:
                record_response(store, patient_id, read.document, actor=user.username)
            except InputError as exc:
                problems = [read.place(p) for p in exc.problems]
            else:
                return _redirect(f"/patients/{patient_id}#response")
        return _response_form(
            request, patient, form, form.get(RESPONSE_EXTRA_FIELD, ""), problems, 422
        )

    # ---------------------------------------------------------------- plans
    @pages.get("/patients/{patient_id}/plans/new", response_class=HTMLResponse, **allow(WRITERS))
    def new_plan(request: Request, store: StoreDep, patient_id: PatientId) -> Response:
        patient = store.get_patient(patient_id)
        values, extra = plan_form_values(parse_document(example_plan(patient.external_id)))
        return _plan_form(request, patient, values, extra)

    @pages.post("/patients/{patient_id}/plans", response_class=HTMLResponse, **allow(WRITERS))
    def save_plan(
        request: Request, store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
        patient = store.get_patient(patient_id)
        plan, read = plan_from_form(form)
        problems = read.problems
        if plan is not None:
            if plan.override is not None and not user.can_approve:
                raise HTTPException(403, OVERRIDE_REFUSED)
            try:
                saved = store.save_plan(patient_id, plan, actor=user.username)
            except InputError as exc:
                problems = [read.place(p) for p in exc.problems]
            else:
                return _redirect(f"/plans/{saved.id}")
        return _plan_form(
            request, patient, form, form.get(PLAN_EXTRA_FIELD, ""), problems, status_code=422
        )

    @pages.get("/plans/{plan_id}", response_class=HTMLResponse, **allow(ALL_ROLES))
    def plan_page(request: Request, store: StoreDep, plan_id: RecordId) -> Response:
        return _plan_page(request, store, plan_id)

    @pages.post("/plans/{plan_id}/solve", response_class=HTMLResponse, **allow(WRITERS))
    def solve(
        request: Request, store: StoreDep, user: UserDep, plan_id: RecordId, form: FormDep
    ) -> Response:
        try:
            solve_stored_plan(store, plan_id, actor=user.username, may_override=user.can_approve)
        except UnsafePlanError as exc:
            return _plan_page(request, store, plan_id, violations=exc.violations, status_code=409)
        except (PlanError, StoreError) as exc:
            return _plan_page(request, store, plan_id, violations=[str(exc)], status_code=409)
        return _redirect(f"/plans/{plan_id}")

    @pages.post("/plans/{plan_id}/approve", response_class=HTMLResponse, **allow(PHYSICISTS))
    def approve(
        request: Request, store: StoreDep, user: UserDep, plan_id: RecordId, form: FormDep
    ) -> Response:
        reviewed = form.get("result_id", "")
        try:
            if not reviewed.isdigit():
                raise StoreError("the form does not say which result was reviewed; reload the plan")
            store.approve_plan(
                plan_id,
                actor=user.username,
                result_id=int(reviewed),
                allow_own_override=config_of(request).allow_own_override_approval,
            )
        except PermissionDeniedError:
            raise
        except StoreError as exc:
            return _plan_page(request, store, plan_id, violations=[str(exc)], status_code=409)
        return _redirect(f"/plans/{plan_id}?approved=1")

    # ---------------------------------------------------------------- users and passwords
    @pages.get("/admin/users", response_class=HTMLResponse, **allow(ADMINS))
    def users(
        request: Request,
        store: StoreDep,
        done: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        return _users_page(request, store, notice=done)

    @pages.post("/admin/users", response_class=HTMLResponse, **allow(ADMINS))
    def create_user(request: Request, store: StoreDep, user: UserDep, form: FormDep) -> Response:
        values = {k: form.get(k, "") for k in ("username", "password", "role")}
        body, errors = form_model(UserCreate, values)
        if body is not None:
            try:
                created = store.create_user(
                    body.username, body.password, body.role, actor=user.username
                )
            except InputError as exc:
                errors = problems_by_field(exc.problems)
            except StoreError as exc:
                errors = {"username": [str(exc)]}
            else:
                return _redirect(f"/admin/users?done=created+{created.username}")
        values.pop("password")
        return _users_page(request, store, 422, errors=errors, values=values, target="new")

    @pages.post("/admin/users/{username}", response_class=HTMLResponse, **allow(ADMINS))
    def change_user(
        request: Request,
        store: StoreDep,
        user: UserDep,
        username: Annotated[str, PathParam(min_length=1, max_length=64)],
        form: FormDep,
    ) -> Response:
        status = form.get("status", "")
        values: dict[str, Any] = {
            "role": form.get("role") or None,
            "password": form.get("password") or None,
            "disabled": {"active": False, "disabled": True}.get(status),
        }
        errors: dict[str, list[str]] = {}
        if status not in ("", "active", "disabled"):
            errors["status"] = ["choose active or disabled"]
        body, model_errors = form_model(UserChange, values)
        errors.update(model_errors)
        if body is not None and not errors:
            try:
                change_user_account(config_of(request), store, user, username, body)
            except NotFoundError:
                raise
            except InputError as exc:
                errors = problems_by_field(exc.problems)
            else:
                return _redirect(f"/admin/users?done=changed+{username}")
        return _users_page(request, store, 422, errors=errors, target=username)

    @pages.get("/account/password", response_class=HTMLResponse, **allow(ALL_ROLES))
    def password_page(request: Request) -> Response:
        return render(request, "password.html", title="Change password", errors={})

    @pages.post("/account/password", response_class=HTMLResponse, **allow(ALL_ROLES))
    def change_password(
        request: Request, store: StoreDep, user: UserDep, form: FormDep
    ) -> Response:
        values = {k: form.get(k, "") for k in ("current_password", "new_password")}
        body, errors = form_model(PasswordChange, values)
        if body is not None and form.get("confirm_password", "") != body.new_password:
            body, errors = None, {"confirm_password": ["does not match the new password"]}
        if body is not None:
            try:
                change_own_password(config_of(request), store, user, body)
            except InputError as exc:
                errors = problems_by_field(
                    ("new_password" if f == "password" else f, m) for f, m in exc.problems
                )
            else:  # every session of the user has ended: log in with the new password
                response = _redirect("/login?changed=1")
                response.delete_cookie(SESSION_COOKIE, path="/")
                return response
        return render(request, "password.html", 422, title="Change password", errors=errors)

    # ---------------------------------------------------------------- API reference
    @pages.get(DOCS_PATH, response_class=HTMLResponse, **allow(ALL_ROLES))
    def api_docs(request: Request) -> Response:
        """The API reference, rendered here from the OpenAPI document (no scripts, no CDN)."""
        document = request.app.openapi()
        groups: dict[str, list[dict[str, str]]] = {}
        for path, item in document.get("paths", {}).items():
            for method, op in item.items():
                tag = (op.get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append(
                    {
                        "id": str(op.get("operationId", f"{method}-{path}")),
                        "method": method.upper(),
                        "path": path,
                        "summary": str(op.get("summary", "")),
                        "description": str(op.get("description", "")),
                        "roles": ", ".join(op.get(ROLES_KEY, ["public"])),
                    }
                )
        return render(
            request,
            "api_docs.html",
            title="API reference",
            groups=sorted(groups.items()),
            version=document.get("info", {}).get("version", ""),
            openapi_path=OPENAPI_PATH,
            openapi_version=document.get("openapi", ""),
        )

    # ---------------------------------------------------------------- audit
    @pages.get("/audit", response_class=HTMLResponse, **allow(ADMINS))
    def audit(
        request: Request,
        store: StoreDep,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    ) -> Response:
        entries = list(reversed(store.audit_log(limit=limit)))
        return render(request, "audit.html", title="Audit log", entries=entries)

    return pages


def _plan_page(
    request: Request,
    store: Store,
    plan_id: int,
    *,
    violations: Sequence[str] = (),
    status_code: int = 200,
) -> HTMLResponse:
    plan, result, curves = plan_report_inputs(store, plan_id)
    patient = store.get_patient(plan.patient_id)
    sections = None
    if result is not None:
        context = plan_context(
            result.to_result(), plan=plan.to_plan(), dvh_curves=curves, approved_by=plan.approved_by
        )
        sections = render_partials(
            (
                "plan_summary",
                "override",
                "plan_inputs",
                "plan_activity",
                "plan_vials",
                "plan_doses",
                "checks",
                "plan_notes",
                "dvh",
                "references",
            ),
            context,
        )
    user: Principal | None = principal_of(request)
    voxel = voxel_doses(store, patient.id)
    return render(
        request,
        "plan_review.html",
        status_code,
        viewer_headers(voxel),
        title=f"Plan #{plan.id} · {patient.external_id}",
        plan=plan,
        patient=patient,
        result=result,
        sections=sections,
        voxel=voxel,
        violations=list(violations),
        document=yaml.safe_dump(plan.document, sort_keys=False, allow_unicode=True),
        can_approve=user is not None and user.can_approve,
        approved_now=request.query_params.get("approved") == "1",
    )


def example_plan(external_id: str) -> str:
    """A plan to start from: the bundled partition-model example, for this patient."""
    text = (
        resources.files("netlm")
        .joinpath("examples", "plan-partition-glass.yaml")
        .read_text(encoding="utf-8")
    )
    lines = []
    for line in text.splitlines():
        if line.startswith("case:"):
            line = f"case: {json.dumps(external_id)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def install(app: FastAPI) -> APIRouter:
    """Add the pages and the static files to ``app``; returns the pages' router."""
    router = build_page_router()
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("netlm.api", "static")]), name="static")
    return router
