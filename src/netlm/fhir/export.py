"""A patient's case, board assessment and radioembolization plans as a FHIR R4 Bundle.

The Bundle (type ``collection``) follows mCODE where it applies (source
``mcode_ig``): a CancerPatient; a PrimaryCancerCondition (the NET, its primary
site and WHO 2019 morphology) and a SecondaryCancerCondition (the liver
metastases); Observations for the grade, Ki-67 (TumorMarkerTest), ECOG
(ECOGPerformanceStatus), the mitotic count, the liver tumour burden and every
laboratory value of the case (LOINC, :data:`netlm.fhir.codes.LABS`); Procedures
for the prior liver-directed treatments and PRRT with device and activity; one
RadiotherapyCourseSummary per stored plan result, with the tumour, normal-liver
and lung doses (RadiotherapyVolume BodyStructures); and a DiagnosticReport of
the board assessment whose results are one Observation per option with its
verdict and its rank in the recommended order.

What is written is what netlm knows, and nothing more:

- a plan result is a *planned* dose: its course summary has status
  ``preparation`` and a note saying so (netlm does not record delivery);
- the board report is netlm's decision support, status ``preliminary``: the
  board's decision is the clinicians';
- a quantity without a recorded date has no ``effective[x]``.

Resource ids are UUIDs derived from the patient id and the resource's role, so
exporting the same record twice gives the same ids (only the Bundle's
timestamp differs).  Every resource, and the Bundle, is validated with the
``fhir.resources`` R4B models before it is returned.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from netlm import __version__
from netlm.case import Case
from netlm.eligibility import Assessment
from netlm.errors import UnitError
from netlm.fhir import codes as c
from netlm.sirt.plan import Plan
from netlm.sirt.planner import PlanResult
from netlm.units import canonical_unit

_NAMESPACE = uuid.UUID("6d1f6d0e-3c55-4c1e-9a57-4b3f1f1a2c11")

#: Case treatment types / registry modalities exported as Procedures.
LIVER_DIRECTED = frozenset(c.PROCEDURES)

_CM_PER_GY = 100.0  # mCODE fixes the dose unit to cGy: 1 Gy = 100 cGy.


class FhirExportError(RuntimeError):
    """A resource netlm built does not validate (a defect in netlm, never bad input)."""


@dataclass(frozen=True)
class PlannedSession:
    """One stored radioembolization plan result to summarise.

    Attributes
    ----------
    plan
        The plan.
    result
        The dose result (the approved one when the plan is approved).
    result_id, plan_id
        Registry ids, when the plan comes from the registry.
    approved_by, approved_at
        The physicist's approval of this result, if any.
    """

    plan: Plan
    result: PlanResult
    result_id: int | None = None
    plan_id: int | None = None
    approved_by: str | None = None
    approved_at: dt.datetime | None = None


@dataclass(frozen=True)
class RecordedTreatment:
    """A treatment from the registry (modality, date and free details)."""

    modality: str
    date: dt.date
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedLab:
    """A laboratory value from the registry (analyte name as the registry stores it)."""

    analyte: str
    date: dt.date
    value: float
    unit: str
    uln: float | None = None
    lln: float | None = None


def _uuid(patient: str, role: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{patient}\x1f{role}"))


def _quantity(value: float, unit: str, ucum: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value, "unit": unit}
    if ucum is not None:
        q |= {"system": c.UCUM, "code": ucum}
    return q


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": c.OBSERVATION_CATEGORY, "code": code}]}]


class _Builder:
    """Collects resources with deterministic ids and references between them."""

    def __init__(self, patient_key: str) -> None:
        self.key = patient_key
        self.entries: list[dict[str, Any]] = []

    def url(self, role: str) -> str:
        return f"urn:uuid:{_uuid(self.key, role)}"

    def add(self, role: str, resource: dict[str, Any]) -> str:
        resource = {"id": _uuid(self.key, role), **resource}
        try:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        except ValidationError as exc:  # pragma: no cover - guards the builder itself
            raise FhirExportError(f"{resource['resourceType']} {role}: {exc}") from None
        url = self.url(role)
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


def _observation(
    subject: str,
    code: dict[str, Any],
    *,
    category: str,
    effective: dt.date | None,
    profile: str | None = None,
    **value: Any,
) -> dict[str, Any]:
    obs: dict[str, Any] = {"resourceType": "Observation", "status": "final"}
    if profile:
        obs["meta"] = {"profile": [profile]}
    obs |= {"category": _category(category), "code": code, "subject": {"reference": subject}}
    if effective is not None:
        obs["effectiveDateTime"] = effective.isoformat()
    return obs | value


def _patient(b: _Builder, case: Case, registry_id: int | None) -> str:
    identifiers = [{"system": c.NETLM_PATIENT_ID, "value": case.patient.id}]
    if registry_id is not None:
        identifiers.append({"system": f"{c.NETLM_PATIENT_ID}:registry", "value": str(registry_id)})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": [c.PROFILE_PATIENT]},
        "identifier": identifiers,
    }
    if case.patient.sex is not None:
        resource["gender"] = case.patient.sex.value
    return b.add("patient", resource)


def _primary(b: _Builder, case: Case, subject: str, assessment: Assessment | None) -> str:
    t = case.tumour
    grade = assessment.grade.grade.value if assessment and assessment.grade.grade else None
    morphology = c.MORPHOLOGY.get(grade or "") or (
        c.MORPHOLOGY["well"]
        if t.differentiation is not None
        and t.differentiation.value == "well"
        and grade != "NET G3 vs NEC undetermined"
        else None
    )
    site = t.primary_site.value if t.primary_site is not None else None
    if site is None:
        where = "primary site not recorded"
    elif site == "unknown":
        where = "unknown primary site"
    else:
        where = f"primary site {site.replace('_', ' ')}"
    text = f"Neuroendocrine neoplasm, {where}" + (f" (WHO 2019: {grade})" if grade else "")
    coding = [c.PRIMARY_OTHER.coding()] + ([morphology.coding()] if morphology else [])
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "meta": {"profile": [c.PROFILE_PRIMARY]},
        "clinicalStatus": {"coding": [{"system": c.CONDITION_CLINICAL, "code": "active"}]},
        "category": [{"coding": [{"system": c.CONDITION_CATEGORY, "code": "problem-list-item"}]}],
        "code": {"coding": coding, "text": text},
        "subject": {"reference": subject},
    }
    if morphology is not None:
        resource["extension"] = [
            {"url": c.EXT_HISTOLOGY, "valueCodeableConcept": morphology.concept()}
        ]
    if site in c.PRIMARY_SITES:
        resource["bodySite"] = [c.PRIMARY_SITES[site].concept()]
    return b.add("primary-condition", resource)


def _secondary(b: _Builder, subject: str, primary: str) -> str:
    return b.add(
        "liver-metastases",
        {
            "resourceType": "Condition",
            "meta": {"profile": [c.PROFILE_SECONDARY]},
            "extension": [{"url": c.CONDITION_RELATED, "valueReference": {"reference": primary}}],
            "clinicalStatus": {"coding": [{"system": c.CONDITION_CLINICAL, "code": "active"}]},
            "category": [
                {"coding": [{"system": c.CONDITION_CATEGORY, "code": "problem-list-item"}]}
            ],
            "code": c.LIVER_METASTASIS.concept("Liver metastases of the neuroendocrine neoplasm"),
            "bodySite": [c.LIVER.concept()],
            "subject": {"reference": subject},
        },
    )


def _tumour_observations(
    b: _Builder, case: Case, subject: str, primary: str, assessment: Assessment | None
) -> list[str]:
    out: list[str] = []
    t = case.tumour
    if case.patient.ecog is not None:
        answer = c.ECOG_ANSWERS[case.patient.ecog]
        out.append(
            b.add(
                "ecog",
                _observation(
                    subject,
                    c.ECOG.concept(),
                    category="survey",
                    effective=None,
                    profile=c.PROFILE_ECOG,
                    valueInteger=case.patient.ecog,
                    interpretation=[answer.concept()],
                ),
            )
        )
    if t.ki67_percent is not None:
        out.append(
            b.add(
                "ki67",
                _observation(
                    subject,
                    c.KI67.concept(),
                    category="laboratory",
                    effective=None,
                    profile=c.PROFILE_TUMOR_MARKER,
                    focus=[{"reference": primary}],
                    valueQuantity=_quantity(t.ki67_percent, "%", "%"),
                ),
            )
        )
    if t.mitoses_per_2mm2 is not None:
        out.append(
            b.add(
                "mitoses",
                _observation(
                    subject,
                    c.MITOSES.concept(),
                    category="laboratory",
                    effective=None,
                    focus=[{"reference": primary}],
                    valueQuantity=_quantity(t.mitoses_per_2mm2, "mitoses per 2 mm2"),
                ),
            )
        )
    if assessment is not None and assessment.grade.grade is not None:
        g = assessment.grade
        who = assessment.grade.grade.value
        grade_code = c.local(who.replace(" ", "-"), f"{who} (WHO 2019)")
        note = f"decided by {', '.join(g.decided_by) or 'differentiation'}"
        if g.is_lower_bound:
            note += "; lower bound (a missing index could raise the grade)"
        if g.needs_pathology_review:
            note += "; needs pathology review"
        out.append(
            b.add(
                "grade",
                _observation(
                    subject,
                    c.GRADE.concept(),
                    category="laboratory",
                    effective=None,
                    focus=[{"reference": primary}],
                    valueCodeableConcept=grade_code.concept(who),
                    note=[{"text": note}],
                ),
            )
        )
    burden = assessment.tumour_burden if assessment is not None else None
    if burden is not None and burden.percent is not None:
        method = burden.method.value if burden.method is not None else "not recorded"
        out.append(
            b.add(
                "tumour-burden",
                _observation(
                    subject,
                    c.TUMOUR_BURDEN.concept(),
                    category="imaging",
                    effective=None,
                    focus=[{"reference": primary}],
                    valueQuantity=_quantity(round(burden.percent, 3), "%", "%"),
                    method={"text": method},
                ),
            )
        )
    return out


def _lab(
    subject: str,
    lab: c.LabCode,
    value: float,
    unit: str,
    *,
    date: dt.date | None,
    uln: float | None = None,
    lln: float | None = None,
) -> dict[str, Any]:
    """The Observation of one laboratory value; ``unit`` is netlm's spelling ("" if none)."""
    ucum = lab.ucum[unit]
    obs = _observation(
        subject,
        lab.codes[unit].concept(),
        category="laboratory",
        effective=date,
        valueQuantity=_quantity(value, unit or ucum, ucum),
    )
    ranges: dict[str, Any] = {}
    if lln is not None:
        ranges["low"] = _quantity(lln, unit or ucum, ucum)
    if uln is not None:
        ranges["high"] = _quantity(uln, unit or ucum, ucum)
    if ranges:
        obs["referenceRange"] = [ranges]
    return obs


def _case_labs(b: _Builder, case: Case, subject: str) -> list[str]:
    """One Observation per laboratory value of the case, in the unit the case gave."""
    out: list[str] = []
    labs = case.labs
    for lab in c.LABS:
        value = getattr(labs, lab.field)
        if value is None:
            continue
        if lab.quantity:
            obs = _lab(
                subject,
                lab,
                value.value,
                value.unit,
                date=labs.date,
                uln=value.uln,
                lln=value.lln,
            )
        else:
            obs = _lab(subject, lab, float(value), "", date=labs.date)
        out.append(b.add(f"lab-{lab.field}", obs))
    return out


def _registry_labs(b: _Builder, labs: Iterable[RecordedLab], subject: str) -> list[str]:
    """Registry laboratory values; one netlm cannot code is written with a local code."""
    by_analyte = {lab.analyte: lab for lab in c.LABS}
    out: list[str] = []
    for i, x in enumerate(labs):
        lab = by_analyte.get(x.analyte)
        unit = _registry_unit(lab, x.unit) if lab is not None else None
        if lab is not None and unit is not None:
            obs = _lab(subject, lab, x.value, unit, date=x.date, uln=x.uln, lln=x.lln)
        else:
            code = c.local(f"lab-{x.analyte}", f"{x.analyte} (registry laboratory value)")
            obs = _observation(
                subject,
                code.concept(x.analyte),
                category="laboratory",
                effective=x.date,
                valueQuantity=_quantity(x.value, x.unit),
            )
        out.append(b.add(f"registry-lab-{i}", obs))
    return out


def _registry_unit(lab: c.LabCode, unit: str) -> str | None:
    """netlm's spelling of a registry unit for ``lab``, or ``None`` if it does not fit."""
    if not lab.quantity:
        return "" if unit in c.PLAIN_UNITS.get(lab.field, frozenset()) else None
    try:
        spelled = canonical_unit(unit)
    except UnitError:
        return None
    return spelled if spelled in lab.codes else None


def _procedure(
    b: _Builder,
    role: str,
    subject: str,
    reason: str,
    kind: str,
    *,
    performed: dict[str, Any],
    device: str | None,
    activity_gbq: float | None,
    notes: Sequence[str] = (),
) -> str:
    code = c.PROCEDURES[kind]
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": code.concept(),
        "subject": {"reference": subject},
        **performed,
        "reasonReference": [{"reference": reason}],
    }
    if activity_gbq is not None:
        resource["extension"] = [
            {"url": c.ACTIVITY_EXTENSION, "valueQuantity": _quantity(activity_gbq, "GBq", "GBq")}
        ]
    if device:
        resource["usedCode"] = [{"text": device}]
    if notes:
        resource["note"] = [{"text": n} for n in notes]
    return b.add(role, resource)


def _case_procedures(b: _Builder, case: Case, subject: str, reason: str) -> list[str]:
    out: list[str] = []
    for i, t in enumerate(case.history.prior_treatments or ()):
        kind = t.type.value
        if kind not in LIVER_DIRECTED:
            continue
        performed: dict[str, Any] = {}
        if t.start is not None or t.end is not None:
            period = {}
            if t.start is not None:
                period["start"] = t.start.isoformat()
            if t.end is not None:
                period["end"] = t.end.isoformat()
            performed["performedPeriod"] = period
        elif t.date is not None:
            performed["performedDateTime"] = t.date.isoformat()
        device = None
        if t.device is not None:
            device = f"90Y {t.device.value} microspheres"
        elif t.agent:
            device = t.agent
        notes = []
        if t.cycles is not None:
            notes.append(f"{t.cycles} cycle(s)")
        if t.activity_gbq_per_cycle is not None:
            notes.append(f"{t.activity_gbq_per_cycle:g} GBq per cycle")
        if t.territory is not None:
            notes.append(f"territory: {t.territory.value.replace('_', ' ')}")
        if t.liver_dose_gy is not None:
            notes.append(f"liver dose {t.liver_dose_gy:g} Gy")
        if t.lung_dose_gy is not None:
            notes.append(f"lung dose {t.lung_dose_gy:g} Gy")
        activity = t.activity_gbq
        if activity is None and t.activity_gbq_per_cycle is not None and t.cycles is not None:
            activity = round(t.activity_gbq_per_cycle * t.cycles, 6)
            notes.append("activity: cumulative over the cycles")
        out.append(
            _procedure(
                b,
                f"prior-treatment-{i}",
                subject,
                reason,
                kind,
                performed=performed,
                device=device,
                activity_gbq=activity,
                notes=notes,
            )
        )
    return out


def _registry_procedures(
    b: _Builder, treatments: Iterable[RecordedTreatment], subject: str, reason: str
) -> list[str]:
    out: list[str] = []
    for i, t in enumerate(treatments):
        if t.modality not in LIVER_DIRECTED:
            continue
        details = dict(t.details)
        raw = details.get("activity_gbq")
        activity = None
        if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
            activity = float(raw)
            del details["activity_gbq"]  # written as the activity extension
        device = str(details.get("device") or "").strip() or None
        out.append(
            _procedure(
                b,
                f"registry-treatment-{i}",
                subject,
                reason,
                t.modality,
                performed={"performedDateTime": t.date.isoformat()},
                device=device,
                activity_gbq=activity,
                notes=[f"{k}: {v}" for k, v in sorted(details.items())],
            )
        )
    return out


def _radiotherapy_summary(
    b: _Builder, i: int, session: PlannedSession, subject: str, reason: str
) -> str:
    result = session.result
    dose_ext: list[dict[str, Any]] = []

    def volume(role: str, description: str, location: c.Code, dose_gy: float | None) -> None:
        if dose_gy is None:
            return
        ref = b.add(
            f"rt-{i}-{role}",
            {
                "resourceType": "BodyStructure",
                "meta": {"profile": [c.PROFILE_RT_VOLUME]},
                "identifier": [{"use": "usual", "value": description}],
                "description": description,
                "location": location.concept(),
                "patient": {"reference": subject},
            },
        )
        dose_ext.append(
            {
                "url": c.EXT_DOSE_TO_VOLUME,
                "extension": [
                    {"url": "volume", "valueReference": {"reference": ref}},
                    {
                        "url": "totalDoseDelivered",
                        "valueQuantity": _quantity(round(dose_gy * _CM_PER_GY, 3), "cGy", "cGy"),
                    },
                ],
            }
        )

    for t in result.territories:
        name = t.name
        volume(f"{name}-tumour", f"{name}: tumour (mean)", c.LIVER, t.doses_gy.tumour)
        volume(f"{name}-normal-liver", f"{name}: normal liver", c.LIVER, t.doses_gy.normal_liver)
    volume("lung", "lungs (this session)", c.LUNG, result.session_lung_dose_gy)

    status = (
        f"approved by {session.approved_by} at {session.approved_at.isoformat()}"
        if session.approved_by and session.approved_at
        else "not approved"
    )
    where = f"plan {session.plan_id}, result {session.result_id}" if session.plan_id else "plan"
    notes = [
        f"PLANNED doses from netlm ({where}, {result.method} method, {result.device} "
        f"microspheres, {status}); not a record of delivery.",
        f"Injected activity {result.injected_activity_gbq:g} GBq (vial "
        f"{result.vial_activity_gbq:g} GBq); cumulative lung dose "
        f"{result.cumulative_lung_dose_gy:g} Gy.",
    ]
    notes += [f"warning: {w}" for w in result.warnings]
    if result.override is not None:
        notes.append(f"safety override by {result.override.approved_by}: {result.override.reason}")
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "meta": {"profile": [c.PROFILE_RT_SUMMARY]},
        "extension": [
            {
                "url": c.EXT_MODALITY_AND_TECHNIQUE,
                "extension": [
                    {
                        "url": "modality",
                        "valueCodeableConcept": c.RT_MODALITY_RADIOPHARMACEUTICAL.concept(),
                    },
                    {
                        "url": "technique",
                        "valueCodeableConcept": c.RT_TECHNIQUE_INTRAVASCULAR.concept(),
                    },
                ],
            },
            *dose_ext,
            {
                "url": c.ACTIVITY_EXTENSION,
                "valueQuantity": _quantity(result.injected_activity_gbq, "GBq", "GBq"),
            },
        ],
        "status": "preparation",
        "category": c.RADIOTHERAPY_CATEGORY.concept(),
        "code": c.RT_SUMMARY_CODE.concept("Radioembolization (90Y), planned session"),
        "subject": {"reference": subject},
        "reasonReference": [{"reference": reason}],
        "bodySite": [c.LIVER.concept()],
        "usedCode": [{"text": f"90Y {result.device} microspheres"}],
        "note": [{"text": n} for n in notes],
    }
    if session.plan.treatment_start is not None:
        resource["performedPeriod"] = {"start": session.plan.treatment_start.isoformat()}
    return b.add(f"rt-summary-{i}", resource)


def _board_report(
    b: _Builder,
    assessment: Assessment,
    subject: str,
    assessed_at: dt.datetime | None,
) -> str:
    rank = {r.modality: r for r in assessment.recommended_order}
    results = []
    for option in assessment.options:
        ranked = rank.get(option.modality)
        components = []
        if ranked is not None:
            components.append({"code": c.RECOMMENDED_RANK.concept(), "valueInteger": ranked.rank})
        notes = [
            {"text": f"{f.effect.value}: {f.message} [{', '.join(s.id for s in f.sources)}]"}
            for f in option.findings
        ]
        if option.missing_information:
            notes.append({"text": "missing: " + ", ".join(option.missing_information)})
        if ranked is not None:
            notes.append({"text": f"order: {ranked.reason}"})
        obs = _observation(
            subject,
            {
                "coding": [
                    c.BOARD_OPTION.coding(),
                    c.local(option.modality.value, option.label).coding(),
                ],
                "text": option.label,
            },
            category="survey",
            effective=assessed_at.date() if assessed_at else None,
            valueCodeableConcept=c.local(
                f"verdict-{option.verdict.value}", option.verdict.value.replace("_", " ")
            ).concept(option.verdict.value),
        )
        obs["status"] = "preliminary"
        if components:
            obs["component"] = components
        if notes:
            obs["note"] = notes
        results.append(b.add(f"board-option-{option.modality.value}", obs))
    order = "; ".join(
        f"{r.rank}. {r.label} ({r.verdict.value})" for r in assessment.recommended_order
    )
    p = assessment.provenance
    conclusion = (
        "netlm decision support for the tumour board (not the board's decision). "
        f"Recommended order: {order or 'none'}. Rule profile {p.profile.id} "
        f"{p.profile.version} (digest {p.profile.digest[:12]}), netlm {p.netlm_version}, "
        f"inputs digest {p.inputs_digest[:12]}."
    )
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": "preliminary",
        "code": c.BOARD_REPORT.concept(),
        "subject": {"reference": subject},
        "result": [{"reference": r} for r in results],
        "conclusion": conclusion,
    }
    if assessed_at is not None:
        report["effectiveDateTime"] = assessed_at.isoformat()
        report["issued"] = assessed_at.isoformat()
    return b.add("board-report", report)


def case_bundle(
    case: Case,
    *,
    assessment: Assessment | None = None,
    assessed_at: dt.datetime | None = None,
    sessions: Sequence[PlannedSession] = (),
    treatments: Sequence[RecordedTreatment] = (),
    labs: Sequence[RecordedLab] = (),
    registry_id: int | None = None,
    timestamp: dt.datetime | None = None,
) -> Bundle:
    """Build the validated R4 Bundle of one patient.

    Parameters
    ----------
    case
        The patient's case (demographics, tumour, labs, history).
    assessment
        The board assessment of ``case``; without it there is no grade, burden or
        board report.
    assessed_at
        When the assessment was made (the registry's time stamp).
    sessions
        Stored plan results to summarise as radiotherapy course summaries.
    treatments
        Treatments recorded in the registry (besides the case's history).
    labs
        Laboratory values recorded in the registry (besides the case's labs).
    registry_id
        The registry's patient number, written as a second identifier.
    timestamp
        The Bundle's time stamp (default: now, UTC).

    Raises
    ------
    FhirExportError
        If a resource fails validation (a defect in netlm, not in the input).

    Examples
    --------
    >>> from netlm.case import parse_case
    >>> case = parse_case("schema: netlm/case/v1\\npatient: {id: A1, ecog: 1}")
    >>> [type(e.resource).__name__ for e in case_bundle(case).entry]
    ['Patient', 'Condition', 'Condition', 'Observation']
    """
    b = _Builder(case.patient.id)
    subject = _patient(b, case, registry_id)
    primary = _primary(b, case, subject, assessment)
    secondary = _secondary(b, subject, primary)
    _tumour_observations(b, case, subject, primary, assessment)
    _case_labs(b, case, subject)
    _registry_labs(b, labs, subject)
    _case_procedures(b, case, subject, secondary)
    _registry_procedures(b, treatments, subject, secondary)
    for i, session in enumerate(sessions):
        _radiotherapy_summary(b, i, session, subject, secondary)
    if assessment is not None:
        _board_report(b, assessment, subject, assessed_at)
    stamp = timestamp or dt.datetime.now(dt.UTC)
    document = {
        "resourceType": "Bundle",
        "id": _uuid(case.patient.id, "bundle"),
        "meta": {"tag": [{"system": c.NETLM_SYSTEM, "code": f"netlm-{__version__}"}]},
        "type": "collection",
        "timestamp": stamp.isoformat(),
        "entry": b.entries,
    }
    try:
        return Bundle.model_validate(document)
    except ValidationError as exc:  # pragma: no cover - every entry validated above
        raise FhirExportError(f"Bundle: {exc}") from None


def bundle_json(bundle: Bundle, *, indent: int | None = 2) -> str:
    """The Bundle as FHIR JSON text."""
    return bundle.model_dump_json(indent=indent, exclude_none=True, by_alias=True)
