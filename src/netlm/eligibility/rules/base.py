"""The shape of an eligibility rule and the context it reads.

A rule is a small named function: given the case context and one modality it
returns a message when it fires, ``None`` when it does not, and raises
:class:`MissingData` (through :meth:`Context.need`) when the case lacks what it
needs.  Its id, modalities, effect, parameters and sources are declared once,
with the function, by :meth:`RuleBook.rule`.

Missing data
------------
:data:`ASSUMABLE_FINDINGS` declares, once for every rule, which case fields are
*findings that may be assumed absent* (reported by imaging, staging or the
history when present) and, for some, when they may be *inferred absent* from
other recorded data.  Under the profile setting ``missing_findings:
assume_absent`` (the default) :meth:`Context.need` returns the absent value of
such a field when the case does not record it and logs an
:class:`~netlm.eligibility.result.Assumption`; every other field is *data that
must be present* and still raises :class:`MissingData`.  With ``ask`` nothing
is assumed or inferred (netlm 0.1 behaviour).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeVar

from netlm.case.model import (
    Ascites,
    Case,
    ContrastAllergy,
    Encephalopathy,
    ExtrahepaticDisease,
    FunctionalSyndrome,
    PrimarySite,
)
from netlm.clinical import (
    AlbiResult,
    BurdenResult,
    ChildPughResult,
    GradeResult,
    WhoGrade,
)
from netlm.eligibility.profile import Parameters
from netlm.eligibility.result import Assumption, AssumptionKind, Effect, Modality
from netlm.evidence import SOURCES, get_source

T = TypeVar("T")


class MissingData(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside a rule when a case field it needs is absent."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = tuple(fields)
        super().__init__(", ".join(self.fields))


@dataclass(frozen=True)
class AssumableFinding:
    """A case field that may be taken as absent when the case does not record it.

    Attributes
    ----------
    field
        The case field path (as rules pass it to :meth:`Context.need`).
    finding
        What is assumed absent, in words.
    absent
        The value rules receive in its place.
    reason
        Why an unrecorded finding may be taken as absent.
    confirm
        Where the board confirms it.
    kind
        ``assumed_absent``, or ``inferred_absent`` when :attr:`basis` derives
        it from other recorded data.
    basis
        Given the context, the basis of the assumption, or ``None`` when this
        case does not allow it (the field is then missing data, as with
        ``ask``).  Without it the assumption always holds, on :attr:`reason`.
    sources
        Evidence ids behind the assumption or inference.
    """

    field: str
    finding: str
    absent: object
    reason: str
    confirm: str
    kind: AssumptionKind = AssumptionKind.ASSUMED_ABSENT
    basis: Callable[[Context], str | None] | None = None
    sources: tuple[str, ...] = ("missing_findings_policy",)

    def assumption(self, ctx: Context) -> Assumption | None:
        """The assumption for ``ctx``, or ``None`` when the field must be asked for."""
        basis = self.reason if self.basis is None else self.basis(ctx)
        if basis is None:
            return None
        verb = "assumed absent" if self.kind is AssumptionKind.ASSUMED_ABSENT else "inferred absent"
        return Assumption(
            field=self.field,
            kind=self.kind,
            finding=self.finding,
            value=_json_text(self.absent),
            basis=basis,
            confirm=self.confirm,
            statement=f"{verb}: {self.finding} ({basis}); confirm {self.confirm}",
            sources=tuple(get_source(s) for s in self.sources),
        )


def _json_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[]" if not value else "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _liver_imaged(ctx: Context) -> str | None:
    liver = ctx.case.liver
    imaged = liver.lesions or liver.lesion_count is not None or liver.volume_ml is not None
    return "not reported on the liver imaging" if imaged else None


def _staged(ctx: Context) -> str | None:
    sstr = ctx.case.tumour.sstr_imaging
    if sstr is None or sstr.modality is None or not sstr.modality.is_pet:
        return None
    return f"not reported on whole-body staging ({sstr.modality.value})"


def _fit_for_anaesthesia(ctx: Context) -> str | None:
    ecog = ctx.case.patient.ecog
    limit = ctx.p.resection_max_ecog
    if ecog is None or ecog > limit:
        return None
    return f"not reported; ECOG {ecog} <= {limit}"


#: Primary sites whose resection may have been a pancreatoduodenectomy (Whipple:
#: a bilio-enteric anastomosis); ``other`` covers the duodenum.
_WHIPPLE_SITES: Final = (PrimarySite.PANCREAS, PrimarySite.OTHER, None)


def _no_biliary_surgery(ctx: Context) -> str | None:
    t = ctx.case.tumour
    if t.primary_resected is not False and t.primary_site in _WHIPPLE_SITES:
        return None
    return "no biliary surgery, sphincterotomy or stent recorded"


def _normal_coagulation(ctx: Context) -> str | None:
    labs, p = ctx.case.labs, ctx.p
    inr, plt = labs.inr, labs.platelets_10e9_per_l
    if inr is None or plt is None:
        return None
    if inr > p.coagulopathy_absent_inr_max or plt < p.coagulopathy_absent_platelets_min_10e9_per_l:
        return None
    return (
        f"INR {fmt(inr)} <= {fmt(p.coagulopathy_absent_inr_max)} and platelets {fmt(plt)} >= "
        f"{fmt(p.coagulopathy_absent_platelets_min_10e9_per_l)} x 10^9/L need no correction "
        "(SIR 2019)"
    )


def _non_functioning(ctx: Context) -> str | None:
    if ctx.case.tumour.functional_syndrome is FunctionalSyndrome.NONE:
        return "non-functioning tumour: no hormonal syndrome to be refractory"
    return None


#: The findings that may be assumed absent, by case field.  Every other field
#: a rule needs is data that must be present (labs, grade, ECOG, age, volumes,
#: lesion map, course of disease, surgical resectability...): assuming a
#: measurement would invent a number.  Each entry names why it is assumable,
#: and some hold only when the record shows the investigation that would have
#: reported the finding.
ASSUMABLE_FINDINGS: Final[Mapping[str, AssumableFinding]] = {
    a.field: a
    for a in (
        AssumableFinding(
            "liver.biliary_dilatation",
            "intrahepatic biliary dilatation",
            False,
            "not reported on the liver imaging",
            "on the work-up CT/MRI report",
            basis=_liver_imaged,
        ),
        AssumableFinding(
            "liver.portal_vein_thrombosis",
            "portal vein thrombosis",
            False,
            "not reported on the liver imaging",
            "on the work-up contrast CT/MRI (portal venous phase)",
            basis=_liver_imaged,
        ),
        AssumableFinding(
            "liver.ascites",
            "ascites",
            Ascites.NONE,
            "not reported on the liver imaging",
            "on imaging and clinical examination",
            basis=_liver_imaged,
        ),
        AssumableFinding(
            "liver.encephalopathy",
            "hepatic encephalopathy",
            Encephalopathy.NONE,
            "not recorded; overt encephalopathy is evident clinically",
            "at clinical examination",
        ),
        AssumableFinding(
            "tumour.extrahepatic_disease",
            "extrahepatic disease",
            ExtrahepaticDisease.NONE,
            "not reported on whole-body staging",
            "on the staging SSTR PET report",
            basis=_staged,
        ),
        AssumableFinding(
            "history.biliary_intervention",
            "bilio-enteric anastomosis, sphincterotomy or biliary stent",
            (),
            "no biliary surgery, sphincterotomy or stent recorded",
            "in the surgical and endoscopic history",
            basis=_no_biliary_surgery,
        ),
        AssumableFinding(
            "history.contrast_allergy",
            "allergy to iodinated contrast",
            ContrastAllergy.NONE,
            "no allergy recorded",
            "at the pre-procedure allergy check",
        ),
        AssumableFinding(
            "patient.pregnant",
            "pregnancy",
            False,
            "not recorded",
            "with a pregnancy test before any radiation-based treatment (women of "
            "childbearing potential)",
            sources=("missing_findings_policy", "pregnancy_radiation"),
        ),
        AssumableFinding(
            "history.cardiac_arrhythmia",
            "cardiac arrhythmia",
            False,
            "no arrhythmia recorded",
            "on the pre-procedure ECG",
        ),
        AssumableFinding(
            "history.prior_treatments",
            "prior treatment",
            (),
            "no prior treatment recorded",
            "in the treatment history",
        ),
        AssumableFinding(
            "patient.anaesthesia_contraindicated",
            "contraindication to sedation or general anaesthesia",
            False,
            "not reported, performance status acceptable",
            "at the anaesthetic pre-assessment",
            basis=_fit_for_anaesthesia,
            sources=("missing_findings_policy", "resection_fitness"),
        ),
        AssumableFinding(
            "history.irreversible_coagulopathy",
            "irreversible coagulopathy",
            False,
            "normal INR and platelet count",
            "in the bleeding history (INR and platelets miss von Willebrand disease and "
            "haemophilia)",
            kind=AssumptionKind.INFERRED_ABSENT,
            basis=_normal_coagulation,
            sources=("missing_findings_policy", "sir2019_bleeding"),
        ),
        AssumableFinding(
            "tumour.symptoms_refractory_to_ssa",
            "symptoms refractory to somatostatin analogues",
            False,
            "non-functioning tumour: the symptoms meant are secretory (seed 001 §1, §6.1)",
            "with the treating physician",
            kind=AssumptionKind.INFERRED_ABSENT,
            basis=_non_functioning,
            sources=("missing_findings_policy", "tace_001"),
        ),
    )
}


@dataclass(frozen=True)
class Context:
    """Everything a rule may read: the case, the profile and derived scores.

    ``child_pugh`` is the score from the recorded parts; under
    ``missing_findings: assume_absent`` an unrecorded ascites or
    encephalopathy counts as none (``child_pugh_assuming``) and reading
    :attr:`child_pugh` logs those assumptions for the rule that reads it.
    """

    case: Case
    p: Parameters
    grade: GradeResult
    child_pugh_recorded: ChildPughResult
    albi: AlbiResult
    burden: BurdenResult
    child_pugh_assuming: ChildPughResult | None = None
    _log: list[Assumption] = field(default_factory=list, repr=False, compare=False)

    @property
    def assumes(self) -> bool:
        """Whether unrecorded findings may be assumed absent (profile ``missing_findings``)."""
        return self.p.missing_findings == "assume_absent"

    @property
    def child_pugh(self) -> ChildPughResult:
        """The Child-Pugh score, logging the findings it assumes absent."""
        if self.child_pugh_assuming is None:
            return self.child_pugh_recorded
        for path in CHILD_PUGH_FINDINGS:
            if _field_value(self.case, path) is None:
                self._assume(path)
        return self.child_pugh_assuming

    # -- the missing-data policy ---------------------------------------------
    def need(self, value: T | None, field_path: str) -> T:
        """Return ``value`` (the value of case field ``field_path``), or its stand-in.

        When ``value`` is ``None``: a finding of :data:`ASSUMABLE_FINDINGS`
        whose assumption holds for this case is returned as its absent value
        and logged; anything else signals that ``field_path`` is missing.  Pass
        the field's own value: a placeholder ``None`` for an assumable field
        would come back as the field's absent value.
        """
        if value is not None:
            return value
        assumed = self._assume(field_path)
        if assumed is None:
            raise MissingData((field_path,))
        absent: T = assumed  # type: ignore[assignment]
        return absent

    def need_all(self, **values: object) -> tuple[object, ...]:
        """Signal every missing one of several values at once (keyword = field path).

        Assumable findings are taken as absent as in :meth:`need`; the values
        (with those stand-ins) are returned in keyword order.
        """
        missing: list[str] = []
        resolved: list[object] = []
        for name, v in values.items():
            path = name.replace("__", ".")
            if v is None:
                v = self._assume(path)
                if v is None:
                    missing.append(path)
            resolved.append(v)
        if missing:
            raise MissingData(missing)
        return tuple(resolved)

    def assumable(self, field_path: str) -> bool:
        """Whether an unrecorded ``field_path`` would be taken as absent here (nothing logged).

        A rule that then relies on the absence calls :meth:`need`, which logs it.
        """
        spec = ASSUMABLE_FINDINGS.get(field_path)
        return spec is not None and self.assumes and spec.assumption(self) is not None

    def _assume(self, field_path: str) -> object | None:
        """The absent value of ``field_path`` (logged), or ``None`` to ask for it."""
        spec = ASSUMABLE_FINDINGS.get(field_path)
        if spec is None or not self.assumes:
            return None
        assumption = spec.assumption(self)
        if assumption is None:
            return None
        self._log.append(assumption)
        return spec.absent

    def begin(self) -> None:
        """Start a rule: forget the assumptions logged so far."""
        self._log.clear()

    def assumptions(self) -> tuple[Assumption, ...]:
        """The assumptions logged since :meth:`begin`, one per field."""
        return tuple({a.field: a for a in self._log}.values())

    # -- derived facts used by many rules ------------------------------------
    def burden_percent(self) -> float:
        """Tumour burden in percent of liver volume, or signal what is missing."""
        if self.burden.percent is None:
            raise MissingData(("liver.tumour_volume_ml", "liver.involvement_percent"))
        return self.burden.percent

    def who_grade(self) -> WhoGrade:
        """The WHO 2019 grade, or signal what is missing.

        An undetermined NET G3 vs NEC is returned as such (rules decide what it
        means for them); no indices at all is missing information.
        """
        if self.grade.grade is None:
            raise MissingData(("tumour.ki67_percent", "tumour.mitoses_per_2mm2"))
        return self.grade.grade

    def lesion_count(self) -> int | None:
        """Number of liver lesions; ``None`` means too numerous to count."""
        total = self.case.liver.lesion_total
        if total is None:
            raise MissingData(("liver.lesion_count",))
        return None if total == "too_numerous" else int(total)

    def lesion_diameters_mm(self) -> list[tuple[str, float]]:
        """(id, longest diameter) of every listed lesion, or signal what is missing."""
        lesions = self.case.liver.lesions
        if not lesions:
            raise MissingData(("liver.lesions",))
        missing = [
            f"liver.lesions[{i}].longest_diameter_mm"
            for i, lesion in enumerate(lesions)
            if lesion.longest_diameter_mm is None
        ]
        if missing:
            raise MissingData(missing)
        return [(lesion.id, float(lesion.longest_diameter_mm or 0.0)) for lesion in lesions]

    def measured_lesions_mm(self) -> list[tuple[str, float]]:
        """(id, longest diameter) of the listed lesions that have a diameter."""
        return [
            (lesion.id, float(lesion.longest_diameter_mm))
            for lesion in self.case.liver.lesions
            if lesion.longest_diameter_mm is not None
        ]

    def all_lesions_listed(self) -> bool:
        """Whether the lesion list covers every lesion counted."""
        total = self.case.liver.lesion_total
        return isinstance(total, int) and total == len(self.case.liver.lesions)


#: The Child-Pugh parts that are findings (the others are laboratory data).
CHILD_PUGH_FINDINGS: Final = ("liver.ascites", "liver.encephalopathy")


def _field_value(case: Case, path: str) -> object:
    node: object = case
    for part in path.split("."):
        node = getattr(node, part)
    return node


Check = Callable[[Context, Modality], "str | None"]


@dataclass(frozen=True)
class Rule:
    """One eligibility rule.

    Attributes
    ----------
    id
        Stable identifier, ``<area>.<what>`` (e.g. ``tare.bilirubin``).
    modalities
        The modalities it is evaluated for.
    effect
        What it does to the verdict when it fires.
    summary
        One line for ``netlm rules``.
    source_ids
        Ids in :data:`netlm.evidence.SOURCES`; at least one.
    parameters
        Names of the profile parameters it reads.
    check
        The function that decides.
    modality_sources
        Extra source ids cited only for one modality (e.g. each ablation
        technique's own zone size); ``source_ids`` are cited for all.
    """

    id: str
    modalities: tuple[Modality, ...]
    effect: Effect
    summary: str
    source_ids: tuple[str, ...]
    parameters: tuple[str, ...]
    check: Check = field(compare=False, repr=False)
    modality_sources: Mapping[Modality, tuple[str, ...]] = field(default_factory=dict)

    def sources_for(self, modality: Modality) -> tuple[str, ...]:
        """The source ids a finding of this rule for ``modality`` cites."""
        return (*self.modality_sources.get(modality, ()), *self.source_ids)

    @property
    def all_source_ids(self) -> tuple[str, ...]:
        """Every source id the rule can cite, for listings."""
        extra = [s for ids in self.modality_sources.values() for s in ids]
        return tuple(dict.fromkeys((*extra, *self.source_ids)))


class RuleBook:
    """Collects rules declared with the :meth:`rule` decorator."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(self._rules)

    def rule(
        self,
        id: str,
        modalities: Iterable[Modality],
        effect: Effect,
        summary: str,
        *,
        sources: Iterable[str],
        parameters: Iterable[str] = (),
        modality_sources: Mapping[Modality, Iterable[str]] | None = None,
    ) -> Callable[[Check], Check]:
        """Declare a rule; the decorated function is its check."""
        source_ids = tuple(sources)
        per_modality = {m: tuple(ids) for m, ids in (modality_sources or {}).items()}
        modalities = tuple(modalities)
        for m in modalities:
            if not source_ids and not per_modality.get(m):
                raise ValueError(f"rule {id!r} has no source for {m.value}")
        for sid in (*source_ids, *(s for ids in per_modality.values() for s in ids)):
            if sid not in SOURCES:
                raise ValueError(f"rule {id!r} cites unknown source {sid!r}")
        params = tuple(parameters)
        for name in params:
            if name not in Parameters.model_fields:
                raise ValueError(f"rule {id!r} reads unknown parameter {name!r}")

        def register(check: Check) -> Check:
            self._rules.append(
                Rule(
                    id=id,
                    modalities=tuple(modalities),
                    effect=effect,
                    summary=summary,
                    source_ids=source_ids,
                    parameters=params,
                    check=check,
                    modality_sources=per_modality,
                )
            )
            return check

        return register


def fmt(value: float) -> str:
    """Format a number for a message without spurious decimals.

    Examples
    --------
    >>> fmt(2.0), fmt(2.25), fmt(0.0700001)
    ('2', '2.25', '0.07')
    """
    return f"{value:.4g}" if abs(value) < 10000 else f"{value:.0f}"
