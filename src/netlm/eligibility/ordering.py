"""The recommended order of the options, with the reason for each place.

Usable options (eligible, or eligible with caution) come first, then those
that need information, then the unsuitable and the contraindicated.  Within a
group the intent decides, as in seed 001 (§1, §2 and Figure 1): curative
surgery, then curative-intent ablation, transplantation, radiation
segmentectomy for localized disease that cannot be resected or ablated,
palliative transarterial treatment, systemic PRRT, and intra-arterial PRRT
(trials only).  An eligible option precedes one with a caution of the same
intent.
"""

from __future__ import annotations

from collections.abc import Iterable

from netlm.eligibility.result import (
    ABLATION,
    TRANSARTERIAL,
    Modality,
    ModalityOption,
    RankedOption,
    Verdict,
)

_GROUP = {
    Verdict.ELIGIBLE: 0,
    Verdict.ELIGIBLE_WITH_CAUTION: 0,
    Verdict.NEEDS_INFORMATION: 1,
    Verdict.NOT_SUITABLE: 2,
    Verdict.CONTRAINDICATED: 3,
}
_VERDICT_TEXT = {
    Verdict.ELIGIBLE: "eligible",
    Verdict.ELIGIBLE_WITH_CAUTION: "eligible with caution",
    Verdict.NEEDS_INFORMATION: "needs information (decide once the missing data are in)",
    Verdict.NOT_SUITABLE: "not suitable (indication not met)",
    Verdict.CONTRAINDICATED: "contraindicated",
}

_INTENT: dict[Modality, tuple[int, str]] = {
    Modality.RESECTION: (0, "curative: surgery is the only curative treatment (seed 001 §1)"),
    **{
        m: (1, "curative intent for oligometastatic disease (seed 001 §2, Table 1)")
        for m in ABLATION
    },
    Modality.TRANSPLANT: (2, "curative intent in selected patients (Milan-NET), debated"),
    Modality.RADIATION_SEGMENTECTOMY: (
        3,
        "localized disease that cannot be resected or ablated (seed 004)",
    ),
    **{
        m: (4, "palliative liver-directed treatment (seed 001 §6, seed 004)")
        for m in TRANSARTERIAL
        if m is not Modality.RADIATION_SEGMENTECTOMY
    },
    Modality.PRRT: (5, "systemic radionuclide therapy (seed 001 §6.3)"),
    Modality.PRRT_INTRAARTERIAL: (6, "clinical trials only (seed 001 Table 1)"),
}
_MODALITY_INDEX = {m: i for i, m in enumerate(Modality)}


def recommend_order(options: Iterable[ModalityOption]) -> tuple[RankedOption, ...]:
    """Every option ranked, with the reason for its place.

    Examples
    --------
    >>> from netlm.case import parse_case
    >>> from netlm.eligibility import Assessor
    >>> a = Assessor().assess(parse_case("schema: netlm/case/v1\\npatient: {id: A1}"))
    >>> len(a.recommended_order) == len(a.options)
    True
    """

    def key(o: ModalityOption) -> tuple[int, int, int, int]:
        return (
            _GROUP[o.verdict],
            _INTENT[o.modality][0],
            o.verdict is not Verdict.ELIGIBLE,
            _MODALITY_INDEX[o.modality],
        )

    ranked = sorted(options, key=key)
    return tuple(
        RankedOption(
            rank=i,
            modality=o.modality,
            label=o.label,
            verdict=o.verdict,
            reason=f"{_VERDICT_TEXT[o.verdict]}; {_INTENT[o.modality][1]}",
        )
        for i, o in enumerate(ranked, start=1)
    )
