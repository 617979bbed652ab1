"""HTML of the reports, from Jinja2 templates shared with the web application.

Two documents are rendered from the templates in ``netlm/report/templates/``:

* the **tumour-board summary** of an :class:`~netlm.eligibility.result.Assessment`
  (``board.html``): the recommended order and the assumptions to confirm, every
  modality with its verdict, the reasons and the sources behind them, the
  work-up still needed, a sign-off block and the provenance;
* the **radioembolization dosimetry report** of a
  :class:`~netlm.sirt.planner.PlanResult` (``plan.html``): inputs, model and
  constants, activity, vial order, doses, checks, an override with who approved
  it and why, the DVH figure and a signature block.

Both extend ``base.html`` (A4 print layout; a running header with two patient
identifiers and the status, a :class:`ReportIdentity`; a running footer with
"Page X of Y", the version and the digests) and are built from
partials (``partials/verdicts.html``, ``partials/plan_doses.html``,
``partials/checks.html``...), so that a server-rendered web page can include
the same partials.  A partial reads only the context that
:func:`board_context` or :func:`plan_context` builds, and the filters that
:func:`install_filters` adds::

    env = jinja_environment()                      # or install_filters(own_env)
    context = board_context(assessment, case=case)
    # in a page template: {% include "partials/verdicts.html" %}

Every value from a case or plan is escaped (autoescaping is on for ``.html``);
figures are embedded as ``data:`` URIs, so a page needs no other resource.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from netlm import __version__
from netlm.case.model import Case
from netlm.eligibility.result import Assessment, Effect, Verdict
from netlm.errors import InputError
from netlm.evidence import Source, get_source
from netlm.report.board import headline
from netlm.report.figures import plot_dvh
from netlm.sirt.physics import Physics
from netlm.sirt.plan import Plan, Prescription
from netlm.sirt.planner import Check, PlanResult
from netlm.sirt.presets import Severity
from netlm.units import MIN_PER_H, S_PER_MIN
from netlm.voxel.dvh import DvhCurve

__all__ = [
    "DRAFT",
    "TEMPLATE_FOLDER",
    "TEMPLATE_PACKAGE",
    "DvhFigure",
    "DvhRow",
    "ReportIdentity",
    "board_context",
    "check_status",
    "dvh_figure",
    "install_filters",
    "jinja_environment",
    "plan_context",
    "ref_numbers",
    "render_board_html",
    "render_plan_html",
    "report_css",
]

#: The package and folder that hold the templates (for a ``PackageLoader``).
TEMPLATE_PACKAGE: Final = "netlm.report"
TEMPLATE_FOLDER: Final = "templates"

#: What is printed for a value that is not known.
MISSING: Final = "—"


# ---------------------------------------------------------------------------- filters
def fmt_number(value: float | None, digits: int = 1, unit: str = "") -> str:
    """``value`` with ``digits`` decimals (and `` unit``), or an em dash for ``None``.

    Examples
    --------
    >>> fmt_number(2.38349, 3), fmt_number(62.5, 1, "Gy"), fmt_number(None)
    ('2.383', '62.5 Gy', '—')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    text = f"{value:.{digits}f}"
    return f"{text} {unit}" if unit else text


def fmt_signed(value: float | None, digits: int = 1) -> str:
    """``value`` with its sign always shown.

    Examples
    --------
    >>> fmt_signed(21.714, 1), fmt_signed(-5.0, 1)
    ('+21.7', '-5.0')
    """
    return MISSING if value is None else f"{value:+.{digits}f}"


def fmt_significant(value: float | None, figures: int = 4) -> str:
    """``value`` to ``figures`` significant figures.

    Examples
    --------
    >>> fmt_significant(8.28612), fmt_significant(49.67), fmt_significant(30.0)
    ('8.286', '49.67', '30')
    """
    return MISSING if value is None else f"{value:.{figures}g}"


def fmt_percent(fraction: float | None, digits: int = 1) -> str:
    """A fraction (0..1) as a percentage.

    Examples
    --------
    >>> fmt_percent(0.07), fmt_percent(0.0125, 2)
    ('7.0 %', '1.25 %')
    """
    return MISSING if fraction is None else f"{100.0 * fraction:.{digits}f} %"


def fmt_date(value: dt.date | dt.datetime | None) -> str:
    """ISO date (``2026-12-03``).

    Examples
    --------
    >>> fmt_date(dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc))
    '2026-12-03'
    """
    if value is None:
        return MISSING
    day = value.date() if isinstance(value, dt.datetime) else value
    return day.isoformat()


def fmt_datetime(value: dt.datetime | None) -> str:
    """Date, time to the minute and UTC offset (``2026-12-03 10:00 UTC+01:00``).

    Examples
    --------
    >>> tz = dt.timezone(dt.timedelta(hours=1))
    >>> fmt_datetime(dt.datetime(2026, 12, 3, 10, 0, tzinfo=tz))
    '2026-12-03 10:00 UTC+01:00'
    """
    if value is None:
        return MISSING
    text = value.strftime("%Y-%m-%d %H:%M")
    offset = value.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds() // S_PER_MIN)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), MIN_PER_H)
    return f"{text} UTC{sign}{hours:02d}:{rest:02d}"


#: Printed forms of identifiers that are not plain words (tracers, acronyms).
_TERMS: Final[dict[str, str]] = {
    "ga68_dotatate_pet": "68Ga-DOTATATE PET",
    "ga68_dotatoc_pet": "68Ga-DOTATOC PET",
    "ga68_dotanoc_pet": "68Ga-DOTANOC PET",
    "cu64_dotatate_pet": "64Cu-DOTATATE PET",
    "in111_pentetreotide": "111In-pentetreotide",
    "tc99m_tektrotyd": "99mTc-Tektrotyd",
    "ssa": "SSA",
    "prrt": "PRRT",
    "prrt_intraarterial": "intra-arterial PRRT",
    "tare": "TARE",
    "tae": "TAE",
    "ctace": "cTACE",
    "debtace": "DEB-TACE",
    "spect_ct": "SPECT/CT",
    "lu177_dotatate": "177Lu-DOTATATE",
    "tumour_dose_gy": "mean tumour dose",
    "normal_liver_dose_gy": "normal-liver dose",
    "perfused_dose_gy": "perfused dose",
    "activity_gbq": "activity",
}


def fmt_words(value: object) -> str:
    """An enum value or identifier as words (``eligible_with_caution`` → ``eligible with caution``).

    Examples
    --------
    >>> fmt_words(Verdict.ELIGIBLE_WITH_CAUTION), fmt_words("whole_liver"), fmt_words("spect_ct")
    ('eligible with caution', 'whole liver', 'SPECT/CT')
    """
    if value is None:
        return MISSING
    text = str(value.value if isinstance(value, Enum) else value)
    return _TERMS.get(text, text.replace("_", " "))


def fmt_prescription(prescription: Prescription | None) -> str:
    """A prescription's target with its unit (``mean tumour dose 200 Gy``).

    Examples
    --------
    >>> fmt_prescription(Prescription(tumour_dose_gy=200))
    'mean tumour dose 200 Gy'
    """
    target = prescription.target if prescription is not None else None
    if target is None:
        return MISSING
    name, value = target
    unit = "GBq" if name.endswith("_gbq") else "Gy"
    return f"{fmt_words(name)} {value:g} {unit}"


def fmt_short(digest: str | None, length: int = 12) -> str:
    """The first ``length`` characters of a digest."""
    return MISSING if not digest else digest[:length]


def fmt_yes_no(value: bool | None) -> str:
    """``yes``, ``no`` or an em dash."""
    return MISSING if value is None else ("yes" if value else "no")


#: Verdict marks that survive black-and-white printing.
VERDICT_MARK: Final[dict[Verdict, str]] = {
    Verdict.ELIGIBLE: "✓",
    Verdict.ELIGIBLE_WITH_CAUTION: "!",
    Verdict.NEEDS_INFORMATION: "?",
    Verdict.NOT_SUITABLE: "–",
    Verdict.CONTRAINDICATED: "✗",
}

#: Effect labels of findings, as printed.
EFFECT_LABEL: Final[dict[Effect, str]] = {
    Effect.CONTRAINDICATION: "contraindication",
    Effect.NOT_SUITABLE: "not suitable",
    Effect.RELATIVE_CONTRAINDICATION: "relative contraindication",
    Effect.CAUTION: "caution",
    Effect.FAVOURS: "favours",
    Effect.REQUIREMENT: "requirement",
}


def check_status(check: Check) -> tuple[str, str]:
    """(label, CSS class) of a plan check's outcome.

    Hard limits and limits that are broken read as breaches; a target not
    reached and evidence thresholds are shown for what they are.
    """
    if check.overridden:
        return "OVERRIDDEN", "status-override"
    if check.passed:
        return "met", "status-ok"
    if check.severity in (Severity.HARD, Severity.LIMIT):
        return "EXCEEDED" if check.bound == "max" else "NOT MET", "status-breach"
    if check.severity is Severity.TARGET:
        return ("above target" if check.bound == "max" else "below target"), "status-warn"
    return ("above evidence" if check.bound == "max" else "below evidence"), "status-note"


def ref_numbers(refs: Mapping[str, int], citations: Iterable[Source | str]) -> list[int]:
    """The sorted reference numbers of ``citations`` (sources or citation texts) in ``refs``.

    Examples
    --------
    >>> ref_numbers({"a": 1, "b": 2}, ["b", "a", "b", "c"])
    [1, 2]
    """
    texts = (c.cite() if isinstance(c, Source) else c for c in citations)
    return sorted({refs[t] for t in texts if t in refs})


_FILTERS: Final[dict[str, Any]] = {
    "num": fmt_number,
    "signed": fmt_signed,
    "sig": fmt_significant,
    "percent": fmt_percent,
    "date": fmt_date,
    "datetime": fmt_datetime,
    "words": fmt_words,
    "prescription": fmt_prescription,
    "short": fmt_short,
    "yesno": fmt_yes_no,
}


def install_filters(env: Environment) -> Environment:
    """Add netlm's filters and globals to ``env`` (e.g. the web application's).

    Filters: ``num(digits, unit)``, ``signed``, ``sig``, ``percent``, ``date``,
    ``datetime``, ``words``, ``prescription``, ``short``, ``yesno``.  Globals: ``check_status``,
    ``ref_numbers``, ``verdict_mark``, ``effect_label``, ``netlm_version``.
    """
    env.filters.update(_FILTERS)
    env.globals.update(
        {
            "check_status": check_status,
            "ref_numbers": ref_numbers,
            "verdict_mark": VERDICT_MARK,
            "effect_label": EFFECT_LABEL,
            "netlm_version": __version__,
        }
    )
    return env


def jinja_environment() -> Environment:
    """A Jinja2 environment over netlm's report templates, with its filters.

    Autoescaping is on for ``.html`` templates; an undefined variable is an
    error (a report must not silently leave a field blank).

    Examples
    --------
    >>> env = jinja_environment()
    >>> env.from_string("{{ 2.38349 | num(3) }} {{ x }}").render(x="<b>")
    '2.383 &lt;b&gt;'
    """
    env = Environment(
        loader=PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER),
        autoescape=select_autoescape(("html", "htm", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return install_filters(env)


@functools.cache
def _environment() -> Environment:
    return jinja_environment()


def report_css() -> str:
    """The report style sheet (``templates/report.css``), for a page to serve or inline."""
    folder = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_FOLDER)
    return folder.joinpath("report.css").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- references
class _References:
    """Numbered references in order of first citation."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def add(self, citations: Iterable[str]) -> None:
        for text in citations:
            self.numbers.setdefault(text, len(self.numbers) + 1)

    @property
    def listing(self) -> list[tuple[int, str]]:
        return [(n, text) for text, n in self.numbers.items()]


def _now(generated_at: dt.datetime | None) -> dt.datetime:
    return generated_at if generated_at is not None else dt.datetime.now(dt.UTC)


#: The status line of a report nobody has approved.
DRAFT: Final = "draft — not approved"


@dataclass(frozen=True)
class ReportIdentity:
    """What every page of a report prints in its header: two identifiers and the status.

    netlm's case format records no patient name or date of birth (a pseudonymous
    case id only), so the second identifier is the SHA-256 of the document the
    report was computed from (the validated case, plan, response file or dose
    statistics): the id names the patient, the digest pins the exact inputs.
    """

    patient_id: str
    digest_label: str
    digest: str
    approved_by: str | None = None
    approved_at: dt.datetime | None = None

    @property
    def approved(self) -> bool:
        """Whether someone approved what the report shows."""
        return bool(self.approved_by)

    @property
    def status(self) -> str:
        """``approved`` or ``draft — not approved``."""
        return "approved" if self.approved else DRAFT

    @property
    def status_line(self) -> str:
        """The status with the approver and the approval time when known.

        Examples
        --------
        >>> ReportIdentity("X", "case sha256", "ab").status_line
        'draft — not approved'
        >>> at = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
        >>> ReportIdentity("X", "case sha256", "ab", "Dr B", at).status_line
        'approved by Dr B, 2026-12-03 10:00 UTC+00:00'
        """
        if not self.approved:
            return DRAFT
        when = f", {fmt_datetime(self.approved_at)}" if self.approved_at is not None else ""
        return f"approved by {self.approved_by}{when}"


def _identity(
    patient_id: str | None,
    digest_label: str,
    digest: str,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
) -> ReportIdentity:
    if approved_at is not None and not approved_by:
        raise InputError([("approved_at", "an approval time needs the approver (approved_by)")])
    return ReportIdentity(
        patient_id=patient_id or "not recorded",
        digest_label=digest_label,
        digest=digest[:16],
        approved_by=approved_by or None,
        approved_at=approved_at,
    )


# ---------------------------------------------------------------------------- board
def _case_facts(case: Case) -> list[tuple[str, str]]:
    """(label, value) pairs of the case that a board reads first."""
    p, t, liver, labs, w = case.patient, case.tumour, case.liver, case.labs, case.workup
    person = ", ".join(
        part
        for part in (
            f"{p.age_years:g} years" if p.age_years is not None else "",
            p.sex.value if p.sex else "",
            f"ECOG {p.ecog}" if p.ecog is not None else "",
        )
        if part
    )
    primary = fmt_words(t.primary_site) if t.primary_site else MISSING
    if t.primary_resected is not None:
        primary += " (resected)" if t.primary_resected else " (in situ)"
    pathology = ", ".join(
        part
        for part in (
            f"{fmt_words(t.differentiation)} differentiated" if t.differentiation else "",
            f"Ki-67 {t.ki67_percent:g} %" if t.ki67_percent is not None else "",
            f"{t.mitoses_per_2mm2:g} mitoses/2 mm²" if t.mitoses_per_2mm2 is not None else "",
        )
        if part
    )
    sstr = t.sstr_imaging
    sstr_text = MISSING
    if sstr is not None and sstr.positive is not None:
        sstr_text = f"{fmt_words(sstr.modality)} {'positive' if sstr.positive else 'negative'}" + (
            f", Krenning {sstr.krenning_score}" if sstr.krenning_score is not None else ""
        )
    lesions = (fmt_words(liver.lesion_count) if liver.lesion_count is not None else MISSING) + (
        f", {fmt_words(liver.distribution)}" if liver.distribution else ""
    )
    lab_parts = [
        f"bilirubin {round(labs.bilirubin_mg_dl, 2):g} mg/dL"
        if labs.bilirubin_mg_dl is not None
        else "",
        f"albumin {round(labs.albumin_g_dl, 2):g} g/dL" if labs.albumin_g_dl is not None else "",
        f"INR {labs.inr:g}" if labs.inr is not None else "",
        f"platelets {labs.platelets_10e9_per_l:g}×10⁹/L"
        if labs.platelets_10e9_per_l is not None
        else "",
    ]
    lsf = (
        fmt_percent(w.lung_shunt_fraction)
        + (f" ({fmt_words(w.lung_shunt_method)})" if w.lung_shunt_method else "")
        if w.lung_shunt_fraction is not None
        else MISSING
    )
    priors = ", ".join(
        fmt_words(x.type)
        + (f" ({fmt_words(x.agent)})" if x.agent else "")
        + (f" ×{x.cycles}" if x.cycles else "")
        for x in case.history.prior_treatments or ()
    )
    return [
        ("Patient", person or MISSING),
        ("Primary", primary),
        ("Pathology", pathology or MISSING),
        ("SSTR imaging", sstr_text),
        ("Extrahepatic disease", fmt_words(t.extrahepatic_disease)),
        ("Liver disease course", fmt_words(t.liver_disease_course)),
        ("Liver lesions", lesions),
        ("Laboratory", ", ".join(x for x in lab_parts if x) or MISSING),
        ("Lung shunt fraction", lsf),
        ("Prior treatment", priors or "none recorded"),
    ]


def board_context(
    assessment: Assessment,
    *,
    case: Case | None = None,
    generated_at: dt.datetime | None = None,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The template context of the tumour-board summary and its partials.

    Keys: ``assessment``, ``case`` (or ``None``), ``headline`` and
    ``case_facts`` ((label, value) pairs), ``refs`` (citation text → reference
    number), ``references`` ((number, citation) in order), ``verdict_counts``,
    ``generated_at``, ``document_title``, ``case_id``, ``footer_digests``,
    ``identity`` (a :class:`ReportIdentity`: patient id, case digest, status).
    """
    references = _References()
    for option in assessment.options:
        for finding in option.findings:
            references.add(s.cite() for s in finding.sources)
        for assumption in option.assumptions:
            references.add(s.cite() for s in assumption.sources)
    for item in assessment.workup:
        references.add(s.cite() for s in item.sources)
    for assumption in assessment.assumptions:
        references.add(s.cite() for s in assumption.sources)
    counts = {v: 0 for v in Verdict}
    for option in assessment.options:
        counts[option.verdict] += 1
    prov = assessment.provenance
    return {
        "assessment": assessment,
        "case": case,
        "headline": [row for row in headline(assessment) if row[0] != "Case"],
        "case_facts": _case_facts(case) if case is not None else [],
        "refs": references.numbers,
        "references": references.listing,
        "verdict_counts": [(v, n) for v, n in reversed(counts.items()) if n],
        "generated_at": _now(generated_at),
        "document_title": "Tumour-board assessment",
        "case_id": assessment.case_id,
        "footer_digests": [
            ("profile", f"{prov.profile.id} {prov.profile.version} ({prov.profile.digest[:12]})"),
            ("inputs sha256", prov.inputs_digest[:12]),
        ],
        "software_version": prov.netlm_version,
        "identity": _identity(
            assessment.case_id, "case sha256", prov.inputs_digest, approved_by, approved_at
        ),
    }


def render_board_html(
    assessment: Assessment,
    *,
    case: Case | None = None,
    generated_at: dt.datetime | None = None,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
) -> str:
    """The tumour-board summary as a self-contained HTML document.

    Parameters
    ----------
    assessment
        The result of :meth:`netlm.eligibility.Assessor.assess`.
    case
        The case that was assessed; when given, its main facts are listed.
    generated_at
        The print time shown on the report (default: now, UTC).
    approved_by, approved_at
        Who signed the decision off and when (e.g. from the registry record);
        without them every page reads "draft — not approved".
    """
    context = board_context(
        assessment,
        case=case,
        generated_at=generated_at,
        approved_by=approved_by,
        approved_at=approved_at,
    )
    return _environment().get_template("board.html").render(context)


# ---------------------------------------------------------------------------- DVH
@dataclass(frozen=True)
class DvhRow:
    """Values read off one DVH curve (at the curve's dose resolution), in Gy and mL."""

    label: str
    volume_ml: float
    d50_gy: float
    d90_gy: float
    max_gy: float


@dataclass(frozen=True)
class DvhFigure:
    """A DVH figure ready to embed: an SVG ``data:`` URI and a table of its curves."""

    image_uri: str
    rows: tuple[DvhRow, ...]
    bin_width_gy: float


def _dose_covering(curve: DvhCurve, percent: float) -> float:
    """The largest dose level whose V(d) is at least ``percent`` (D_x on the curve's grid)."""
    covered = curve.dose_gy[curve.volume_percent >= percent]
    return float(covered.max()) if covered.size else 0.0


def dvh_figure(
    curves: Sequence[DvhCurve],
    *,
    reference_doses_gy: Sequence[float] = (),
) -> DvhFigure:
    """Plot ``curves`` with :func:`netlm.report.figures.plot_dvh` and embed the SVG."""
    with tempfile.TemporaryDirectory(prefix="netlm-dvh-") as folder:
        target = Path(folder) / "dvh.svg"
        plot_dvh(curves, target, reference_doses_gy=reference_doses_gy)
        svg = target.read_bytes()
    rows = tuple(
        DvhRow(
            label=c.label,
            volume_ml=c.volume_ml,
            d50_gy=_dose_covering(c, 50.0),
            d90_gy=_dose_covering(c, 90.0),
            max_gy=float(c.dose_gy[c.volume_percent > 0].max())
            if np.any(c.volume_percent > 0)
            else 0.0,
        )
        for c in curves
    )
    widths = [float(np.max(np.diff(c.dose_gy))) for c in curves if c.dose_gy.size > 1]
    return DvhFigure(
        image_uri="data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii"),
        rows=rows,
        bin_width_gy=max(widths) if widths else 0.0,
    )


# ---------------------------------------------------------------------------- plan
#: Printed name and unit of each constant a plan records.
_CONSTANTS: Final[dict[str, tuple[str, str]]] = {
    "dose_constant_gy_kg_per_gbq": ("90Y dose constant", "Gy·kg/GBq"),
    "tissue_density_g_per_ml": ("Liver and tumour density", "g/mL"),
    "lung_density_g_per_ml": ("Lung density", "g/mL"),
    "y90_half_life_h": ("90Y half-life", "h"),
    "lung_mass_kg": ("Lung mass", "kg"),
    "expected_residual_fraction": ("Expected residual in vial and lines", "fraction"),
    "tumour_dose_definition": ("Tumour dose", ""),
    "bsa_formula": ("BSA formula", ""),
}


def _constant_rows(
    constants: Mapping[str, float | str], references: _References
) -> list[dict[str, Any]]:
    rows = []
    for key, value in constants.items():
        label, unit = _CONSTANTS.get(key, (fmt_words(key), ""))
        source_ids = Physics.SOURCES.get(key, ())
        cites = [get_source(s).cite() for s in source_ids]
        references.add(cites)
        rows.append(
            {
                "key": key,
                "label": label,
                "value": f"{value:g}" if isinstance(value, float | int) else str(value),
                "numeric": isinstance(value, float | int),
                "unit": unit,
                "refs": [references.numbers[c] for c in cites],
            }
        )
    return rows


def _plan_inputs(plan: Plan) -> list[tuple[str, str]]:
    """(label, value) pairs of a plan's session-level inputs."""
    size = plan.patient
    rows = [
        ("Device / method", f"{plan.device} microspheres / {plan.method}"),
        ("Treatment start", fmt_datetime(plan.treatment_start)),
        ("Vial calibration", fmt_datetime(plan.vial_calibration)),
        (
            "Lung shunt fraction",
            fmt_percent(plan.lung_shunt_fraction)
            + (f" ({fmt_words(plan.lung_shunt_method)})" if plan.lung_shunt_method else ""),
        ),
        ("Lung mass", f"{plan.lung_mass:g} kg"),
        ("Prior lung dose", f"{plan.prior_lung_dose_gy:g} Gy"),
        (
            "Whole liver",
            fmt_number(plan.whole_liver_volume_ml, 0, "mL")
            + (
                f" (tumour {plan.whole_liver_tumour_volume_ml:g} mL)"
                if plan.whole_liver_tumour_volume_ml is not None
                else ""
            ),
        ),
        (
            "Height / weight",
            f"{fmt_number(size.height_cm, 0, 'cm')} / {fmt_number(size.weight_kg, 0, 'kg')}",
        ),
        (
            "Prescription",
            fmt_prescription(plan.prescription)
            if plan.prescription
            else ("none (BSA method)" if plan.method == "bsa" else "per territory"),
        ),
    ]
    if plan.expected_residual_fraction is not None:
        rows.append(("Expected residual", fmt_percent(plan.expected_residual_fraction)))
    for prior in plan.prior_treatments:
        parts = [fmt_words(prior.type)]
        if prior.territory:
            parts.append(fmt_words(prior.territory))
        if prior.liver_dose_gy is not None:
            parts.append(f"liver {prior.liver_dose_gy:g} Gy")
        if prior.lung_dose_gy is not None:
            parts.append(f"lung {prior.lung_dose_gy:g} Gy")
        rows.append(("Prior treatment", ", ".join(parts)))
    return rows


def plan_context(
    result: PlanResult,
    *,
    plan: Plan | None = None,
    dvh_curves: Sequence[DvhCurve] | None = None,
    approved_by: str | None = None,
    generated_at: dt.datetime | None = None,
    approved_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The template context of the dosimetry report and its partials.

    Keys: ``result``, ``plan`` (or ``None``), ``plan_inputs`` ((label, value)
    pairs), ``constants`` (rows with label, value, unit and reference numbers),
    ``refs`` and ``references`` (as in :func:`board_context`), ``dvh`` (a
    :class:`DvhFigure` or ``None``), ``approved_by``, ``hard_checks_ok``,
    ``generated_at``, ``document_title``, ``case_id``, ``footer_digests``,
    ``identity`` (a :class:`ReportIdentity`: case id, plan digest, status).
    """
    references = _References()
    for check in result.checks:
        references.add(check.sources)
    constants = _constant_rows(result.constants, references)
    hard = [c for c in result.checks if c.severity is Severity.HARD]
    return {
        "result": result,
        "plan": plan,
        "plan_inputs": _plan_inputs(plan) if plan is not None else [],
        "constants": constants,
        "refs": references.numbers,
        "references": references.listing,
        "dvh": dvh_figure(dvh_curves) if dvh_curves else None,
        "approved_by": approved_by,
        "hard_checks_ok": all(c.passed for c in hard),
        "generated_at": _now(generated_at),
        "document_title": "Radioembolization dosimetry report",
        "case_id": result.case or MISSING,
        "footer_digests": [("inputs sha256", result.inputs_digest[:12])],
        "software_version": result.netlm_version,
        "identity": _identity(
            result.case, "plan sha256", result.inputs_digest, approved_by, approved_at
        ),
    }


def render_plan_html(
    result: PlanResult,
    *,
    plan: Plan | None = None,
    dvh_curves: Sequence[DvhCurve] | None = None,
    approved_by: str | None = None,
    generated_at: dt.datetime | None = None,
    approved_at: dt.datetime | None = None,
) -> str:
    """The radioembolization dosimetry report as a self-contained HTML document.

    Parameters
    ----------
    result
        The solved plan (:func:`netlm.sirt.planner.solve`).
    plan
        The plan that was solved; when given, its inputs are listed.
    dvh_curves
        Cumulative DVHs (e.g. from the voxel dose) to plot and tabulate.
    approved_by
        The name printed in the "Approved by" line of the signature block
        (left blank to fill in by hand when ``None``); with it the report's
        status is "approved", without it every page reads "draft — not approved".
    generated_at
        The print time shown on the report (default: now, UTC).
    approved_at
        When the plan was approved (from the registry record), printed with
        the approver.
    """
    context = plan_context(
        result,
        plan=plan,
        dvh_curves=dvh_curves,
        approved_by=approved_by,
        generated_at=generated_at,
        approved_at=approved_at,
    )
    return _environment().get_template("plan.html").render(context)
