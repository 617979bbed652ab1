"""The tumour-board summary of an assessment, as Markdown, and the lines it is made of.

:func:`board_summary` is the answer the board web page leads with (the options
by availability, the same facts as the board PDF).  The terminal rendering
(rich) is :mod:`netlm.commands.render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netlm.eligibility.ordering import recommend_order
from netlm.eligibility.result import (
    CHILD_PUGH_SCORE,
    Assessment,
    Assumption,
    AssumptionKind,
    Effect,
    Finding,
    ModalityOption,
    RankedOption,
    Verdict,
)

EFFECT_MARK: dict[Effect, str] = {
    Effect.CONTRAINDICATION: "✗",
    Effect.NOT_SUITABLE: "–",
    Effect.RELATIVE_CONTRAINDICATION: "!",
    Effect.CAUTION: "!",
    Effect.REQUIREMENT: "→",
    Effect.FAVOURS: "+",
}


def _fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "unknown"
    return f"{value:.{digits}f}{unit}"


def headline(a: Assessment) -> list[tuple[str, str]]:
    """(label, value) pairs for the case header."""
    grade = a.grade.grade.value if a.grade.grade else "unknown"
    if a.grade.grade and a.grade.is_lower_bound:
        grade += " (at least; one index missing)"
    cp = a.liver_function.child_pugh
    cp_text = (
        f"{cp.child_pugh_class.value}{cp.score}"
        if cp.score and cp.child_pugh_class
        else ("unknown (" + ", ".join(cp.missing) + ")")
    )
    cp_assumed = [x.finding for x in a.assumptions if CHILD_PUGH_SCORE in x.used_by]
    if cp_assumed:
        cp_text += f" (assuming no {' or '.join(cp_assumed)})"
    al = a.liver_function.albi
    al_text = (
        f"grade {al.grade} ({al.score:.2f})" if al.score is not None and al.grade else "unknown"
    )
    burden = a.tumour_burden
    burden_text = (
        f"{burden.percent:.1f} % ({burden.method.value if burden.method else 'method unknown'})"
        if burden.percent is not None
        else "unknown"
    )
    return [
        ("Case", a.case_id),
        ("WHO 2019 grade", grade),
        ("Child-Pugh", cp_text),
        ("ALBI", al_text),
        ("Tumour burden", burden_text),
    ]


def _finding_line(f: Finding) -> str:
    where = "; ".join(
        (f"seed {s.seed[:3]} {s.section}" if s.seed else s.reference.split(" (")[0])
        for s in f.sources[:2]
    )
    return f"{EFFECT_MARK[f.effect]} {f.message} [{where}]"


def assumption_line(o: ModalityOption) -> str | None:
    """One line naming what ``o``'s verdict assumes absent, or ``None``.

    Examples
    --------
    >>> from netlm.eligibility import Assessor
    >>> from netlm.case import parse_case
    >>> case = parse_case("schema: netlm/case/v1\\npatient: {id: A1, ecog: 0}")
    >>> assumption_line(Assessor().assess(case).option("ablation_rfa"))
    '~ assumed absent (confirm): contraindication to sedation or general anaesthesia'
    """
    if not o.assumptions:
        return None
    parts = []
    for kind, words in (
        (AssumptionKind.ASSUMED_ABSENT, "assumed absent"),
        (AssumptionKind.INFERRED_ABSENT, "inferred absent"),
    ):
        names = [a.finding for a in o.assumptions if a.kind is kind]
        if names:
            parts.append(f"{words} (confirm): {', '.join(names)}")
    return "~ " + "; ".join(parts)


def verdict_reasons(o: ModalityOption, *, all_findings: bool) -> list[str]:
    """The lines that explain ``o``'s verdict: findings, missing information, assumptions."""
    shown = [
        f
        for f in o.findings
        if all_findings or f.effect not in (Effect.REQUIREMENT, Effect.FAVOURS)
    ]
    lines = [_finding_line(f) for f in shown]
    if o.verdict is Verdict.NEEDS_INFORMATION:
        lines.append("? needs: " + ", ".join(o.missing_information))
        lines.append(f"  if those are unremarkable: {o.provisional_verdict.value}")
    assumed = assumption_line(o)
    if assumed:
        lines.append(assumed)
    return lines


def render_markdown(a: Assessment) -> str:
    """The board summary as Markdown, with every finding and its full citation."""
    out = ["# netlm tumour-board assessment", ""]
    for label, value in headline(a):
        out.append(f"- **{label}:** {value}")
    if a.warnings:
        out += ["", "## Check these values", ""]
        for w in a.warnings:
            out.append(f"- **{w.field}:** {w.message} ({'; '.join(s.cite() for s in w.sources)})")
    out += ["", "## Options", "", "| Modality | Verdict | Main reasons |", "|---|---|---|"]
    for o in a.options:
        reasons = "<br>".join(
            line.replace("|", "\\|") for line in verdict_reasons(o, all_findings=False)
        )
        out.append(f"| {o.label} | **{o.verdict.value}** | {reasons or '—'} |")
    if a.recommended_order:
        out += ["", "## Recommended order", ""]
        out += [f"{r.rank}. **{r.label}**: {r.reason}" for r in a.recommended_order]
    out += ["", "## Work-up still needed", ""]
    out += [f"- {w.message}" for w in a.workup] or ["- nothing further"]
    out += ["", "## Findings in full", ""]
    for o in a.options:
        out.append(f"### {o.label} (`{o.modality.value}`): {o.verdict.value}")
        out.append("")
        if not o.findings and not o.missing_information:
            out.append("No rule fired.")
        for f in o.findings:
            out.append(f"- **{f.effect.value}** `{f.rule_id}`: {f.message}")
            for s in f.sources:
                out.append(f"  - {s.cite()}")
        if o.missing_information:
            out.append(f"- **needs information:** {', '.join(o.missing_information)}")
        for x in o.assumptions:
            out.append(
                f"- **{x.kind.value}** `{x.field}`: {x.finding} ({x.basis}); confirm {x.confirm}"
            )
            for src in x.sources:
                out.append(f"  - {src.cite()}")
        out.append("")
    if a.assumptions:
        out += ["## Assumed, not recorded", ""]
        out += [
            f"- {x.statement} (for {', '.join(m.value for m in x.for_modalities) or 'scores'})"
            for x in a.assumptions
        ]
        out.append("")
    prov = a.provenance
    out.append(
        f"_netlm {prov.netlm_version}, profile `{prov.profile.id}` {prov.profile.version} "
        f"(sha256 {prov.profile.digest[:12]}), missing findings: {prov.missing_findings}, "
        f"inputs sha256 {prov.inputs_digest[:12]}._"
    )
    return "\n".join(out) + "\n"


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
    ``unavailable`` those in :data:`UNAVAILABLE`, each in the recommended order;
    ``assumptions`` the findings the verdicts took as absent, to confirm (the
    PDF's "Assumptions to confirm").
    """

    patient_line: tuple[tuple[str, str], ...]
    offered: tuple[SummaryOption, ...]
    pending: tuple[SummaryOption, ...]
    unavailable: tuple[SummaryOption, ...]
    assumptions: tuple[Assumption, ...] = ()


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
        assumptions=assessment.assumptions,
    )
