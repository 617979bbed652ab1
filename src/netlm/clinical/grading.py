"""WHO 2019 grading of gastroenteropancreatic neuroendocrine neoplasms.

The grade comes from two proliferation indices, the Ki-67 labelling index (%)
and the mitotic count (per 2 mm²); the higher of the two decides.  Ki-67 alone
cannot separate a well-differentiated NET G3 from a poorly differentiated
neuroendocrine carcinoma (NEC): that needs the differentiation, and when it is
unknown for a high-grade tumour the answer is "pathology review needed".

Sources
-------
``who2019_grading``: WHO Classification of Tumours, Digestive System, 5th ed.
(2019); Nagtegaal ID et al., Histopathology 2020;76:182-188, Table 1.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from netlm.clinical._checks import check_number
from netlm.errors import CaseError

__all__ = ["GradeResult", "WhoGrade", "who_2019_grade"]

_SOURCE_IDS: Final[tuple[str, ...]] = ("who2019_grading",)

# WHO 2019 GEP-NEN grading (who2019_grading, Nagtegaal 2020 Table 1):
#   G1: Ki-67 < 3 %      and mitoses < 2 /2 mm²
#   G2: Ki-67 3-20 %     or  mitoses 2-20 /2 mm²   (both ends inclusive)
#   G3: Ki-67 > 20 %     or  mitoses > 20 /2 mm²
_KI67_G2_FROM: Final = 3.0  # Ki-67 >= 3 % is at least G2 (who2019_grading)
_KI67_G3_ABOVE: Final = 20.0  # Ki-67 > 20 % is G3 (who2019_grading)
_MITOSES_G2_FROM: Final = 2.0  # >= 2 mitoses /2 mm² is at least G2 (who2019_grading)
_MITOSES_G3_ABOVE: Final = 20.0  # > 20 mitoses /2 mm² is G3 (who2019_grading)

_DIFFERENTIATIONS: Final = frozenset({"well", "poor", "unknown"})


class WhoGrade(StrEnum):
    """WHO 2019 grade of a GEP neuroendocrine neoplasm."""

    G1 = "NET G1"
    G2 = "NET G2"
    G3 = "NET G3"
    NEC = "NEC"
    G3_OR_NEC = "NET G3 vs NEC undetermined"


class GradeResult(BaseModel):
    """The WHO 2019 grade and how it was reached.

    Attributes
    ----------
    grade
        The grade, or ``None`` when neither index is known and the
        differentiation is not ``"poor"``.
    decided_by
        The argument(s) that decided the grade: ``"ki67_percent"``,
        ``"mitoses_per_2mm2"`` (both when they agree) and ``"differentiation"``
        when it settled NET against NEC.
    is_lower_bound
        ``True`` when one index is missing and the known one gives G1 or G2: the
        missing index could raise the grade.
    needs_pathology_review
        ``True`` for :attr:`WhoGrade.G3_OR_NEC`.
    missing
        Arguments that were not given (or ``"unknown"``) and could change the
        answer.
    source_ids
        Ids in :data:`netlm.evidence.SOURCES`.
    """

    model_config = ConfigDict(frozen=True)

    grade: WhoGrade | None
    decided_by: tuple[str, ...]
    is_lower_bound: bool
    needs_pathology_review: bool
    missing: tuple[str, ...]
    source_ids: tuple[str, ...] = _SOURCE_IDS


def _index_grade(value: float, g2_from: float, g3_above: float) -> int:
    """1, 2 or 3 for one proliferation index."""
    if value > g3_above:
        return 3
    if value >= g2_from:
        return 2
    return 1


def who_2019_grade(
    ki67_percent: float | None,
    mitoses_per_2mm2: float | None,
    differentiation: str | None,
) -> GradeResult:
    """Grade a GEP neuroendocrine neoplasm by WHO 2019.

    Parameters
    ----------
    ki67_percent
        Ki-67 labelling index in percent (0..100), or ``None``.
    mitoses_per_2mm2
        Mitotic count per 2 mm² (>= 0), or ``None``.
    differentiation
        ``"well"``, ``"poor"``, ``"unknown"`` or ``None``.  ``"poor"`` gives
        :attr:`WhoGrade.NEC` whatever the indices.  With ``"unknown"``/``None`` a
        high-grade index gives :attr:`WhoGrade.G3_OR_NEC` (pathology review
        needed); a low-grade one gives G1/G2, since an NEC is never low grade.

    Returns
    -------
    GradeResult

    Raises
    ------
    CaseError
        If Ki-67 is outside 0..100, the mitotic count is negative, either is not
        a finite number, or the differentiation is not one of the values above.

    Examples
    --------
    >>> who_2019_grade(2.0, 1.0, "well").grade
    <WhoGrade.G1: 'NET G1'>
    >>> who_2019_grade(3.0, 1.0, "well").grade.value
    'NET G2'
    >>> r = who_2019_grade(25.0, None, None)
    >>> r.grade.value, r.needs_pathology_review, r.missing
    ('NET G3 vs NEC undetermined', True, ('differentiation',))
    >>> r = who_2019_grade(None, 1.0, "well")
    >>> r.grade.value, r.is_lower_bound, r.missing
    ('NET G1', True, ('ki67_percent',))
    """
    problems: list[tuple[str, str]] = []
    check_number("ki67_percent", ki67_percent, problems, high=100.0)
    check_number("mitoses_per_2mm2", mitoses_per_2mm2, problems, high=None)
    diff: str | None = None
    if differentiation is not None:
        if not isinstance(differentiation, str):
            problems.append(("differentiation", "must be a string or None"))
        else:
            diff = differentiation.strip().lower()
            if diff not in _DIFFERENTIATIONS:
                problems.append(
                    (
                        "differentiation",
                        f"unknown value {differentiation!r}; use one of "
                        f"{', '.join(sorted(_DIFFERENTIATIONS))} or None",
                    )
                )
    if problems:
        raise CaseError(problems)

    if diff == "poor":
        # A poorly differentiated neuroendocrine neoplasm is an NEC whatever its
        # indices (who2019_grading: NEC is defined by morphology, not by Ki-67).
        return GradeResult(
            grade=WhoGrade.NEC,
            decided_by=("differentiation",),
            is_lower_bound=False,
            needs_pathology_review=False,
            missing=(),
        )

    by_index: dict[str, int] = {}
    if ki67_percent is not None:
        by_index["ki67_percent"] = _index_grade(ki67_percent, _KI67_G2_FROM, _KI67_G3_ABOVE)
    if mitoses_per_2mm2 is not None:
        by_index["mitoses_per_2mm2"] = _index_grade(
            mitoses_per_2mm2, _MITOSES_G2_FROM, _MITOSES_G3_ABOVE
        )
    differentiation_known = diff == "well"

    if not by_index:
        missing = ["ki67_percent", "mitoses_per_2mm2"]
        if not differentiation_known:
            missing.append("differentiation")
        return GradeResult(
            grade=None,
            decided_by=(),
            is_lower_bound=False,
            needs_pathology_review=False,
            missing=tuple(missing),
        )

    # The higher of the two indices decides (who2019_grading).
    numeric = max(by_index.values())
    decided_by = [name for name, g in by_index.items() if g == numeric]
    absent = [name for name in ("ki67_percent", "mitoses_per_2mm2") if name not in by_index]
    # A missing index matters only while the known one is below G3.
    is_lower_bound = bool(absent) and numeric < 3
    missing = absent if is_lower_bound else []

    if numeric == 1:
        grade = WhoGrade.G1
    elif numeric == 2:
        grade = WhoGrade.G2
    elif differentiation_known:
        grade = WhoGrade.G3
        decided_by.append("differentiation")
    else:
        # Ki-67 > 20 % (or > 20 mitoses) without a known differentiation: NET G3
        # and NEC cannot be told apart (who2019_grading; eligibility.md).
        grade = WhoGrade.G3_OR_NEC
        missing.append("differentiation")

    return GradeResult(
        grade=grade,
        decided_by=tuple(decided_by),
        is_lower_bound=is_lower_bound,
        needs_pathology_review=grade is WhoGrade.G3_OR_NEC,
        missing=tuple(missing),
    )
