"""Fill a case's laboratory values and observations from a FHIR R4 Bundle.

Only Observations are read: the laboratory values of :data:`netlm.fhir.codes.LABS`,
ECOG (LOINC 89247-1), Ki-67 (LOINC 29593-1) and the mitotic count.  The grade,
the liver tumour burden and the board's option verdicts that
:mod:`netlm.fhir.export` writes are skipped: netlm derives them from the case.
Other resource types (Patient aside) are ignored.

Safety rules:

- the Bundle must hold exactly one Patient, and it must be the case's patient
  (an identifier equal to ``patient.id``); every Observation read must be about
  that Patient;
- an Observation whose code netlm does not import, whose unit is unknown or
  does not fit its code (a molar unit on a mass-concentration code), whose value
  is a bound (``<0.1``), or which has no value (and no ``dataAbsentReason``) is
  refused, naming the resource and the field;
- Observations with status other than final, amended or corrected are skipped
  (listed in the result), and so are registry laboratory values that are not
  case fields (netlm's local ``lab-*`` codes: LDH, sodium, ...);
- of several values for one field the most recent (``effectiveDateTime``) is
  used; two different values on the same date are refused as a conflict;
- units are converted as for case files: the value keeps its unit and the case
  model converts it once (:mod:`netlm.units`); the result is validated as a
  case, its problems named by resource.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from netlm.case import Case, case_from_mapping
from netlm.errors import CaseError, InputError, UnitError
from netlm.fhir import codes as c
from netlm.units import canonical_unit

_USABLE_STATUS = frozenset({"final", "amended", "corrected"})
#: Observations netlm writes but derives itself: skipped on import.
_DERIVED = frozenset(
    {
        (c.GRADE.system, c.GRADE.code),
        (c.TUMOUR_BURDEN.system, c.TUMOUR_BURDEN.code),
        (c.BOARD_OPTION.system, c.BOARD_OPTION.code),
    }
)


class FhirImportError(InputError):
    """A Bundle cannot be read into a case; each problem names the resource and field."""

    what = "FHIR bundle"


@dataclass(frozen=True)
class _Target:
    """Where a code's value goes in the case."""

    path: tuple[str, ...]  # e.g. ("labs", "bilirubin")
    lab: c.LabCode | None = None
    units: frozenset[str] = frozenset()  # units that fit the code (case spelling)


def _targets() -> dict[tuple[str, str], _Target]:
    out: dict[tuple[str, str], _Target] = {
        (c.ECOG.system, c.ECOG.code): _Target(("patient", "ecog")),
        (c.KI67.system, c.KI67.code): _Target(("tumour", "ki67_percent"), units=frozenset({"%"})),
        (c.MITOSES.system, c.MITOSES.code): _Target(("tumour", "mitoses_per_2mm2")),
    }
    for lab in c.LABS:
        for code in lab.codes.values():
            fits = frozenset(u for u, other in lab.codes.items() if other == code)
            out[(code.system, code.code)] = _Target(
                ("labs", lab.field), lab, fits if lab.quantity else frozenset()
            )
    for code in c.EGFR_ALTERNATES:
        out[(code.system, code.code)] = out[(c.EGFR.system, c.EGFR.code)]
    return out


_TARGETS = _targets()


@dataclass(frozen=True)
class ImportResult:
    """The filled case and what was done.

    Attributes
    ----------
    case
        The validated case with the Bundle's values.
    filled
        ``(case field, "Observation/<id>")`` per value taken from the Bundle.
    skipped
        One line per Observation that was not used, and why.
    warnings
        Things the user should check (e.g. the laboratory date changed).
    """

    case: Case
    filled: tuple[tuple[str, str], ...]
    skipped: tuple[str, ...]
    warnings: tuple[str, ...]


def load_bundle(path: str | Path) -> dict[str, Any]:
    """Read a Bundle (FHIR JSON) from ``path``.

    Raises
    ------
    FhirImportError
        If the file cannot be read or is not JSON.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FhirImportError([("", f"cannot read {p}: {exc.strerror or exc}")]) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FhirImportError([("", f"{p} is not FHIR JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise FhirImportError([("", f"{p}: a Bundle is a JSON object")])
    return data


def _validated(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    if data.get("resourceType") != "Bundle":
        raise FhirImportError(
            [("resourceType", f"expected 'Bundle', got {data.get('resourceType')!r}")]
        )
    try:
        bundle = Bundle.model_validate(dict(data))
    except ValidationError as exc:
        raise FhirImportError(
            [(".".join(str(x) for x in e["loc"]), e["msg"]) for e in exc.errors(include_url=False)][
                :20
            ]
        ) from None
    dumped = bundle.model_dump(mode="json", exclude_none=True, by_alias=True)
    return [e for e in dumped.get("entry", []) if "resource" in e]


def _name(resource: Mapping[str, Any], index: int) -> str:
    rid = resource.get("id")
    kind = resource["resourceType"]
    return f"{kind}/{rid}" if rid else f"entry[{index}] {kind}"


def _patient_refs(entries: list[dict[str, Any]], case: Case) -> set[str]:
    patients = [(i, e) for i, e in enumerate(entries) if e["resource"]["resourceType"] == "Patient"]
    if not patients:
        raise FhirImportError(
            [("entry", f"the Bundle has no Patient: cannot check it is patient {case.patient.id}")]
        )
    if len(patients) > 1:
        raise FhirImportError(
            [("entry", f"the Bundle holds {len(patients)} Patients; import needs exactly one")]
        )
    i, entry = patients[0]
    patient = entry["resource"]
    values = [x.get("value") for x in patient.get("identifier", [])]
    if case.patient.id not in values:
        raise FhirImportError(
            [
                (
                    f"{_name(patient, i)}.identifier",
                    f"no identifier equals the case's patient.id {case.patient.id!r} "
                    f"(found {', '.join(repr(v) for v in values) or 'none'}): not the same patient",
                )
            ]
        )
    refs = {f"Patient/{patient['id']}"} if patient.get("id") else set()
    if entry.get("fullUrl"):
        refs.add(entry["fullUrl"])
    return refs


def _date(obs: Mapping[str, Any]) -> dt.date | None:
    raw = obs.get("effectiveDateTime")
    if raw is None and isinstance(obs.get("effectivePeriod"), dict):
        raw = obs["effectivePeriod"].get("end") or obs["effectivePeriod"].get("start")
    if not raw:
        return None
    return dt.date.fromisoformat(str(raw)[:10])


def _unit(name: str, field: str, quantity: Mapping[str, Any]) -> str:
    """The unit of a FHIR Quantity (UCUM code first), as written."""
    unit = quantity.get("code") if quantity.get("system") == c.UCUM else None
    unit = unit or quantity.get("unit") or quantity.get("code")
    if unit is None:
        raise FhirImportError([(f"{name}.{field}", "the quantity has no unit")])
    return str(unit)


def _read_value(name: str, obs: Mapping[str, Any], target: _Target) -> Any:
    """The case value of one Observation (a number or ``{value, unit, uln, lln}``)."""
    path = ".".join(target.path)
    if target.path == ("patient", "ecog"):
        if "valueInteger" in obs:
            return obs["valueInteger"]
        answers = {a.code: score for score, a in c.ECOG_ANSWERS.items()}
        for coding in obs.get("valueCodeableConcept", {}).get("coding", []):
            if coding.get("system") == c.LOINC and coding.get("code") in answers:
                return answers[coding["code"]]
        raise FhirImportError(
            [(f"{name}.value[x]", f"no ECOG score (valueInteger or a LOINC answer) for {path}")]
        )
    quantity = obs.get("valueQuantity")
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        raise FhirImportError([(f"{name}.valueQuantity", f"missing: a value for {path} is needed")])
    if quantity.get("comparator"):
        raise FhirImportError(
            [
                (
                    f"{name}.valueQuantity.comparator",
                    f"{quantity['comparator']!r}{quantity['value']}: a bound is not a value "
                    f"for {path}; enter it in the case by hand",
                )
            ]
        )
    value = quantity["value"]
    unit = _unit(name, "valueQuantity", quantity)
    lab = target.lab
    if lab is not None and lab.quantity:
        try:
            spelled = canonical_unit(unit)
        except UnitError:
            raise FhirImportError(
                [
                    (
                        f"{name}.valueQuantity.unit",
                        f"unknown unit {unit!r} for {path} "
                        f"(use one of {', '.join(sorted(target.units))})",
                    )
                ]
            ) from None
        if spelled not in target.units:
            raise FhirImportError(
                [
                    (
                        f"{name}.valueQuantity.unit",
                        f"{unit!r} does not fit the Observation's code for {path} "
                        f"(expected {', '.join(sorted(target.units))})",
                    )
                ]
            )
        out: dict[str, Any] = {"value": value, "unit": spelled}
        for ref in obs.get("referenceRange", [])[:1]:
            for bound, key in (("low", "lln"), ("high", "uln")):
                if bound in ref:
                    b_unit = _unit(name, f"referenceRange.{bound}", ref[bound])
                    try:
                        same = canonical_unit(b_unit) == spelled
                    except UnitError:
                        same = False
                    if not same:
                        raise FhirImportError(
                            [
                                (
                                    f"{name}.referenceRange.{bound}.unit",
                                    f"{b_unit!r} differs from the value's unit {unit!r}",
                                )
                            ]
                        )
                    out[key] = ref[bound]["value"]
        return out
    allowed = c.PLAIN_UNITS.get(target.path[-1], target.units)
    if target.path == ("tumour", "mitoses_per_2mm2"):
        allowed = frozenset({unit})  # netlm's own code: the count per 2 mm2 by definition
    if unit not in allowed:
        raise FhirImportError(
            [
                (
                    f"{name}.valueQuantity.unit",
                    f"unknown unit {unit!r} for {path} (use one of {', '.join(sorted(allowed))})",
                )
            ]
        )
    return value


def import_bundle(data: Mapping[str, Any], case: Case) -> ImportResult:
    """Fill ``case`` with the laboratory values and observations of Bundle ``data``.

    Parameters
    ----------
    data
        The Bundle as parsed JSON.
    case
        The case to fill; values in the Bundle replace the case's values for the
        same fields, other fields are kept.

    Raises
    ------
    FhirImportError
        Naming the resource and field of every problem (see the module docstring).
    """
    entries = _validated(data)
    refs = _patient_refs(entries, case)
    chosen: dict[tuple[str, ...], tuple[dt.date | None, Any, str]] = {}
    skipped: list[str] = []
    for i, entry in enumerate(entries):
        obs = entry["resource"]
        if obs["resourceType"] != "Observation":
            continue
        name = _name(obs, i)
        keys = [(x.get("system"), x.get("code")) for x in obs.get("code", {}).get("coding", [])]
        if any(k in _DERIVED for k in keys):
            skipped.append(f"{name}: derived by netlm from the case")
            continue
        if any(sys == c.NETLM_SYSTEM and str(code).startswith("lab-") for sys, code in keys):
            skipped.append(f"{name}: a registry laboratory value that is not a case field")
            continue
        if obs.get("status") not in _USABLE_STATUS:
            skipped.append(f"{name}: status {obs.get('status')!r}")
            continue
        if "dataAbsentReason" in obs and not any(k.startswith("value") for k in obs):
            skipped.append(f"{name}: no value (dataAbsentReason)")
            continue
        targets = [_TARGETS[k] for k in keys if k in _TARGETS]
        if not targets:
            shown = ", ".join(f"{s}|{k}" for s, k in keys) or "no coding"
            raise FhirImportError(
                [(f"{name}.code", f"{shown} is not a code netlm imports (see netlm.fhir.codes)")]
            )
        target = targets[0]
        subject = obs.get("subject", {}).get("reference")
        if subject not in refs:
            raise FhirImportError([(f"{name}.subject", f"{subject!r} is not the Bundle's Patient")])
        value = _read_value(name, obs, target)
        try:
            when = _date(obs)
        except ValueError:
            raise FhirImportError([(f"{name}.effectiveDateTime", "not a date")]) from None
        previous = chosen.get(target.path)
        if previous is not None:
            p_when, p_value, p_name = previous
            if p_when == when and p_value != value:
                raise FhirImportError(
                    [
                        (
                            f"{name}.value[x]",
                            f"conflicts with {p_name} for {'.'.join(target.path)} "
                            f"on the same date ({when or 'no date'})",
                        )
                    ]
                )
            if (when or dt.date.min) <= (p_when or dt.date.min):
                skipped.append(f"{name}: older than {p_name}")
                continue
            skipped.append(f"{p_name}: older than {name}")
        chosen[target.path] = (when, value, name)

    document = case.model_dump(mode="json", by_alias=True, exclude_none=True)
    sources: dict[str, str] = {}
    lab_dates: list[dt.date] = []
    undated: list[str] = []
    for path, (when, value, name) in chosen.items():
        section = document.setdefault(path[0], {})
        section[path[1]] = value
        sources[".".join(path)] = name
        if path[0] == "labs" and when is not None:
            lab_dates.append(when)
        elif path[0] == "labs":
            undated.append(path[1])
    warnings: list[str] = []
    if lab_dates:
        newest = max(lab_dates)
        old = case.labs.date
        kept = [
            lab.field
            for lab in c.LABS
            if getattr(case.labs, lab.field) is not None and f"labs.{lab.field}" not in sources
        ]
        document["labs"]["date"] = newest.isoformat()
        if min(lab_dates) != newest:
            warnings.append(
                f"the imported laboratory values span {min(lab_dates)} to {newest}; "
                f"labs.date is set to {newest}"
            )
        if undated:
            warnings.append(
                f"labs.date is set to {newest}, but the Bundle gives no date for "
                f"{', '.join(undated)}: check their date"
            )
        if kept and old != newest:
            warnings.append(
                f"labs.date changed from {old or 'none'} to {newest}; values not in the "
                f"Bundle ({', '.join(kept)}) keep their numbers: check their date"
            )
    try:
        filled_case = case_from_mapping(document)
    except CaseError as exc:
        problems = []
        for where, message in exc.problems:
            owner = next(
                (n for f, n in sources.items() if where == f or where.startswith(f + ".")), None
            )
            problems.append((f"{owner} -> {where}" if owner else where, message))
        raise FhirImportError(problems) from None
    return ImportResult(
        case=filled_case,
        filled=tuple(sorted(sources.items())),
        skipped=tuple(skipped),
        warnings=tuple(warnings),
    )
