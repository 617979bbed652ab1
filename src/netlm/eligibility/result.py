"""Result models of the tumour-board assessment.

An :class:`Assessment` holds, for every :class:`Modality`, a :class:`Verdict`
with the :class:`Finding` objects that decided it, the work-up still needed and
the provenance of the result.  Everything is immutable and JSON-serialisable.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netlm.case.plausibility import InputWarning
from netlm.clinical import AlbiResult, BurdenResult, ChildPughResult, GradeResult
from netlm.evidence import Source
from netlm.results import ResultModel


class Modality(StrEnum):
    """Every liver-directed treatment netlm assesses, with a stable id."""

    RESECTION = "resection"
    TRANSPLANT = "transplant"
    ABLATION_LASER = "ablation_laser"
    ABLATION_RFA = "ablation_rfa"
    ABLATION_MWA = "ablation_mwa"
    ABLATION_IRE = "ablation_ire"
    ABLATION_CRYO = "ablation_cryo"
    TAE = "tae"
    CTACE = "ctace"
    DEBTACE = "debtace"
    TARE_RESIN = "tare_resin"
    TARE_GLASS = "tare_glass"
    RADIATION_SEGMENTECTOMY = "radiation_segmentectomy"
    PRRT = "prrt"
    PRRT_INTRAARTERIAL = "prrt_intraarterial"

    @property
    def label(self) -> str:
        """A human-readable name."""
        return _LABELS[self]


_LABELS: dict[Modality, str] = {
    Modality.RESECTION: "Liver resection",
    Modality.TRANSPLANT: "Liver transplantation",
    Modality.ABLATION_LASER: "Laser ablation",
    Modality.ABLATION_RFA: "Radiofrequency ablation",
    Modality.ABLATION_MWA: "Microwave ablation",
    Modality.ABLATION_IRE: "Irreversible electroporation",
    Modality.ABLATION_CRYO: "Cryoablation",
    Modality.TAE: "Bland embolization (TAE)",
    Modality.CTACE: "Conventional chemoembolization (cTACE)",
    Modality.DEBTACE: "Drug-eluting bead chemoembolization (DEB-TACE)",
    Modality.TARE_RESIN: "Radioembolization, resin microspheres",
    Modality.TARE_GLASS: "Radioembolization, glass microspheres",
    Modality.RADIATION_SEGMENTECTOMY: "Radiation segmentectomy",
    Modality.PRRT: "PRRT (177Lu-DOTATATE, intravenous)",
    Modality.PRRT_INTRAARTERIAL: "PRRT, intra-arterial (trials)",
}

ABLATION = (
    Modality.ABLATION_LASER,
    Modality.ABLATION_RFA,
    Modality.ABLATION_MWA,
    Modality.ABLATION_IRE,
    Modality.ABLATION_CRYO,
)
EMBOLIZATION = (Modality.TAE, Modality.CTACE, Modality.DEBTACE)
RADIOEMBOLIZATION = (
    Modality.TARE_RESIN,
    Modality.TARE_GLASS,
    Modality.RADIATION_SEGMENTECTOMY,
)
TRANSARTERIAL = EMBOLIZATION + RADIOEMBOLIZATION


class Verdict(StrEnum):
    """The answer for one modality, from worst to best."""

    CONTRAINDICATED = "contraindicated"
    NOT_SUITABLE = "not_suitable"
    NEEDS_INFORMATION = "needs_information"
    ELIGIBLE_WITH_CAUTION = "eligible_with_caution"
    ELIGIBLE = "eligible"


class Effect(StrEnum):
    """What a triggered rule does to the verdict.

    ``contraindication`` makes the modality contraindicated; ``not_suitable``
    means its indication is not met; ``relative_contraindication`` and
    ``caution`` lower an eligible verdict to eligible-with-caution;
    ``favours`` and ``requirement`` (a condition to fulfil: sequencing,
    prophylaxis, a work-up step) inform without changing the verdict.
    """

    CONTRAINDICATION = "contraindication"
    NOT_SUITABLE = "not_suitable"
    RELATIVE_CONTRAINDICATION = "relative_contraindication"
    CAUTION = "caution"
    FAVOURS = "favours"
    REQUIREMENT = "requirement"


class Finding(BaseModel):
    """One triggered rule for one modality."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    modality: Modality
    effect: Effect
    message: str
    sources: tuple[Source, ...]
    population: tuple[str, ...] = Field(
        description="Populations the evidence comes from (NET, HCC, CRLM, device label...)."
    )
    parameters: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="Profile parameters the rule used, with their values."
    )


class MissingInformation(BaseModel):
    """A rule that could not be evaluated because the case lacks data."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    fields: tuple[str, ...]


#: ``used_by`` of an assumption behind the Child-Pugh score of the assessment.
CHILD_PUGH_SCORE = "Child-Pugh score"


class AssumptionKind(StrEnum):
    """How netlm took a value the case does not record.

    ``assumed_absent``: a finding that imaging, staging or the history would
    report was not recorded, so it is taken as absent.  ``inferred_absent``:
    other recorded data imply it is absent (e.g. no coagulopathy from a normal
    INR and platelet count).  Either way it must be confirmed.
    """

    ASSUMED_ABSENT = "assumed_absent"
    INFERRED_ABSENT = "inferred_absent"


class Assumption(BaseModel):
    """A finding the case does not record that netlm took as absent.

    Only fields declared in
    :data:`netlm.eligibility.rules.base.ASSUMABLE_FINDINGS` are ever assumed,
    and only under the profile setting ``missing_findings: assume_absent``.
    The verdict is the one the rules give with the finding absent; the board
    must confirm the assumption (it is also listed in the work-up).
    """

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="The case field that was not recorded.")
    kind: AssumptionKind
    finding: str = Field(description="What was assumed absent, in words.")
    value: str = Field(description="The value used in its place (JSON text).")
    basis: str = Field(description="Why it may be taken as absent.")
    confirm: str = Field(description="Where the board confirms it.")
    statement: str = Field(description="One line for the board: what is assumed, to confirm.")
    sources: tuple[Source, ...]
    used_by: tuple[str, ...] = Field(
        default=(), description="Rule ids (or scores) whose result relies on the assumption."
    )
    for_modalities: tuple[Modality, ...] = ()


class ModalityOption(BaseModel):
    """The verdict for one modality with the findings behind it."""

    model_config = ConfigDict(frozen=True)

    modality: Modality
    label: str
    verdict: Verdict
    provisional_verdict: Verdict = Field(
        description="The verdict the evaluable rules give if the missing data turn out benign "
        "(equal to verdict unless verdict is needs_information)."
    )
    findings: tuple[Finding, ...]
    missing_information: tuple[str, ...] = Field(
        description="Case fields whose absence makes this verdict needs_information."
    )
    unevaluated_rules: tuple[MissingInformation, ...] = ()
    assumptions: tuple[Assumption, ...] = Field(
        default=(),
        description="Unrecorded findings taken as absent to reach this verdict (to confirm).",
    )


class RankedOption(BaseModel):
    """One option in the recommended order, with the reason for its place."""

    model_config = ConfigDict(frozen=True)

    rank: int = Field(description="1 = first choice.")
    modality: Modality
    label: str
    verdict: Verdict
    reason: str = Field(description="Why the option sits here: its verdict and its intent.")


class WorkupItem(BaseModel):
    """An investigation the board still needs before deciding."""

    model_config = ConfigDict(frozen=True)

    id: str
    message: str
    sources: tuple[Source, ...]
    for_modalities: tuple[Modality, ...] = ()


class LiverFunction(BaseModel):
    model_config = ConfigDict(frozen=True)

    child_pugh: ChildPughResult
    albi: AlbiResult


class ProfileInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: str
    digest: str = Field(description="SHA-256 of the resolved parameter values.")


class Provenance(BaseModel):
    model_config = ConfigDict(frozen=True)

    netlm_version: str
    profile: ProfileInfo
    inputs_digest: str = Field(description="SHA-256 of the validated case (canonical JSON).")
    rules_evaluated: int
    ctcae_version: str
    missing_findings: str = Field(
        default="ask",
        description="The profile's missing-data policy: assume_absent or ask (results "
        "recorded before the policy existed behaved as ask).",
    )


class Assessment(ResultModel):
    """The whole tumour-board assessment of one case.

    ``to_dict()`` is the ``netlm assess --format json`` document; ``to_pandas()`` one
    row per option in the recommended order (rank, verdict, reason, findings).
    """

    model_config = ConfigDict(frozen=True)

    case_id: str
    grade: GradeResult
    liver_function: LiverFunction
    tumour_burden_percent: float | None
    tumour_burden: BurdenResult
    options: tuple[ModalityOption, ...]
    workup: tuple[WorkupItem, ...]
    provenance: Provenance
    recommended_order: tuple[RankedOption, ...] = Field(
        default=(),
        description="Every option, usable ones first, curative before palliative before "
        "systemic (see netlm.eligibility.ordering).",
    )
    assumptions: tuple[Assumption, ...] = Field(
        default=(),
        description="Every assumption of every option (and of the scores), one per field.",
    )
    warnings: tuple[InputWarning, ...] = Field(
        default=(),
        description="Accepted values that look wrong (e.g. a likely unit mix-up); check them.",
    )

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per option, in the recommended order."""
        ranked = {r.modality: r for r in self.recommended_order}
        options = sorted(
            self.options,
            key=lambda o: ranked[o.modality].rank if o.modality in ranked else len(ranked) + 1,
        )
        return [
            {
                "case_id": self.case_id,
                "rank": ranked[o.modality].rank if o.modality in ranked else None,
                "modality": o.modality.value,
                "label": o.label,
                "verdict": o.verdict.value,
                "provisional_verdict": o.provisional_verdict.value,
                "reason": ranked[o.modality].reason if o.modality in ranked else None,
                "findings": len(o.findings),
                "missing_information": ", ".join(o.missing_information),
                "assumptions": len(o.assumptions),
            }
            for o in options
        ]

    def option(self, modality: Modality | str) -> ModalityOption:
        """The option for ``modality``.

        Raises
        ------
        KeyError
            If the modality id is unknown.
        """
        m = Modality(modality)
        for opt in self.options:
            if opt.modality is m:
                return opt
        raise KeyError(str(modality))  # pragma: no cover - every modality is assessed
