"""CTCAE grades of the laboratory values liver-directed therapy cares about.

Seven analytes, each graded from the number alone (grades that need clinical
findings, such as hypoalbuminemia grade 4, are never assigned).  The value and
its ULN, LLN and baseline are in the same unit, except albumin (g/dL) and
platelets (10^9/L), whose grades 2 and above are absolute thresholds.

Versions
--------
``"5.0"`` (NCI CTCAE v5.0, 27 Nov 2017; source ``ctcae_v5``) and ``"6.0"``
(NCI CTCAE v6.0, 22 Jul 2025; source ``ctcae_v6``).  The v6.0 numbers below are
taken from the pharmaverse ``admiral`` transcription of the v6.0 document
(``data-raw/adlb_grading/ncictcaev6.json``), not from the NCI document itself;
what differs from v5.0 for these analytes is:

* AST/ALT, baseline > ULN: grade 1 1.0-1.5 x baseline, grade 2 > 1.5-2.0 x,
  grade 3 > 2.0-4.0 x, grade 4 > 4.0 x baseline (v5.0: 1.5-3.0 / > 3-5 /
  > 5-20 / > 20 x baseline).  The v6.0 grade 3 text adds "up to 5 x ULN"; its
  meaning is unclear and it is not applied (same choice as admiral).
* Bilirubin, baseline > ULN: grade 3 starts at > 2.5 x baseline (v5.0: > 3.0 x)
  and grade 1 includes 1.0 x baseline; grades 2 and 4 are unchanged.
* Baseline normal "or less than normal": unchanged ULN multiples.
* Creatinine: the baseline multiples (> 1.5-3.0 x grade 2, > 3.0 x grade 3)
  apply only "if baseline is below LLN" (v5.0: always).
* Platelets: the term is "Thrombocytopenia"; grade 3 is < 50-10, grade 4 < 10
  x 10^9/L (v5.0 "Platelet count decreased": < 50-25 and < 25).
* Hypoalbuminemia and INR: unchanged.

Assumptions (both versions)
---------------------------
* "Baseline abnormal" for an *increased* term means baseline > ULN.
* With no baseline the baseline is taken as normal and, where a baseline could
  change the grade, ``"baseline"`` is listed in ``missing``.
* INR is graded as not on anticoagulation, on the absolute INR: the v5.0 and
  v6.0 text is "> 1.2 - 1.5" etc. with no "x ULN" (v4.03 had "x ULN"), so
  ``uln`` is not used for INR.
* Creatinine takes the higher of the ULN-based and baseline-based grades.
* A value within a relative 1e-9 of a limit counts as on it, so that e.g.
  bilirubin 1.8 with ULN 1.2 is exactly 1.5 x ULN (grade 1), not 1.5000000000000002.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from netlm.clinical._checks import check_number
from netlm.errors import CaseError

__all__ = ["Analyte", "CtcaeGrade", "CtcaeVersion", "ctcae_grade"]


class CtcaeVersion(StrEnum):
    """CTCAE version."""

    V5 = "5.0"
    V6 = "6.0"


class Analyte(StrEnum):
    """Laboratory analytes netlm grades."""

    BILIRUBIN = "bilirubin"
    AST = "ast"
    ALT = "alt"
    ALBUMIN = "albumin"
    PLATELETS = "platelets"
    INR = "inr"
    CREATININE = "creatinine"


Basis = Literal["uln", "lln", "baseline", "absolute"]


class CtcaeGrade(BaseModel):
    """One CTCAE grade.

    Attributes
    ----------
    analyte
        What was graded.
    term
        The CTCAE term, e.g. ``"Blood bilirubin increased"``.
    grade
        0..4, or ``None`` when the ULN/LLN the grade needs is missing.
    version
        The CTCAE version used.
    basis
        What the grade is relative to: ``"uln"``, ``"lln"``, ``"baseline"`` or
        ``"absolute"`` (fixed thresholds).
    missing
        Arguments that were ``None`` and are needed, or could change the grade.
    source_ids
        Ids in :data:`netlm.evidence.SOURCES`.
    """

    model_config = ConfigDict(frozen=True)

    analyte: Analyte
    term: str
    grade: int | None
    version: CtcaeVersion
    basis: Basis
    missing: tuple[str, ...]
    source_ids: tuple[str, ...]


_SOURCE_IDS: Final[dict[CtcaeVersion, tuple[str, ...]]] = {
    CtcaeVersion.V5: ("ctcae_v5",),
    CtcaeVersion.V6: ("ctcae_v6", "ctcae_v6_admiral"),
}

_TERMS: Final[dict[Analyte, str]] = {
    Analyte.BILIRUBIN: "Blood bilirubin increased",
    Analyte.AST: "Aspartate aminotransferase increased",
    Analyte.ALT: "Alanine aminotransferase increased",
    Analyte.ALBUMIN: "Hypoalbuminemia",
    Analyte.PLATELETS: "Platelet count decreased",
    Analyte.INR: "INR increased",
    Analyte.CREATININE: "Creatinine increased",
}
# ctcae_v6: "Platelet count decreased" became "Thrombocytopenia" (Blood and lymphatic
# system disorders).
_TERMS_V6: Final[dict[Analyte, str]] = {**_TERMS, Analyte.PLATELETS: "Thrombocytopenia"}

#: (grade, limit, inclusive), highest grade first.  For an increase the grade
#: applies when value > limit (>= if inclusive); the limit is a multiple of the
#: reference (ULN or baseline) or an absolute value.
_Cuts = tuple[tuple[int, float, bool], ...]

# ---- increase over ULN, baseline normal (or below normal): same in v5.0 and v6.0
_BILIRUBIN_ULN: Final[_Cuts] = (
    (4, 10.0, False),  # > 10.0 x ULN (ctcae_v5, ctcae_v6)
    (3, 3.0, False),  # > 3.0-10.0 x ULN (ctcae_v5, ctcae_v6)
    (2, 1.5, False),  # > 1.5-3.0 x ULN (ctcae_v5, ctcae_v6)
    (1, 1.0, False),  # > ULN-1.5 x ULN (ctcae_v5, ctcae_v6)
)
_AMINOTRANSFERASE_ULN: Final[_Cuts] = (
    (4, 20.0, False),  # > 20.0 x ULN (ctcae_v5, ctcae_v6)
    (3, 5.0, False),  # > 5.0-20.0 x ULN (ctcae_v5, ctcae_v6)
    (2, 3.0, False),  # > 3.0-5.0 x ULN (ctcae_v5, ctcae_v6)
    (1, 1.0, False),  # > ULN-3.0 x ULN (ctcae_v5, ctcae_v6)
)
# ---- increase over baseline, baseline > ULN
_BILIRUBIN_BASELINE: Final[dict[CtcaeVersion, _Cuts]] = {
    CtcaeVersion.V5: (
        (4, 10.0, False),  # > 10.0 x baseline (ctcae_v5)
        (3, 3.0, False),  # > 3.0-10.0 x baseline (ctcae_v5)
        (2, 1.5, False),  # > 1.5-3.0 x baseline (ctcae_v5)
        (1, 1.0, False),  # > 1.0-1.5 x baseline (ctcae_v5)
    ),
    CtcaeVersion.V6: (
        (4, 10.0, False),  # > 10.0 x baseline (ctcae_v6, admiral transcription)
        (3, 2.5, False),  # > 2.5-10.0 x baseline (ctcae_v6, admiral transcription)
        (2, 1.5, False),  # > 1.5-2.5 x baseline (ctcae_v6, admiral transcription)
        (1, 1.0, True),  # 1.0-1.5 x baseline (ctcae_v6, admiral transcription)
    ),
}
_AMINOTRANSFERASE_BASELINE: Final[dict[CtcaeVersion, _Cuts]] = {
    CtcaeVersion.V5: (
        (4, 20.0, False),  # > 20.0 x baseline (ctcae_v5)
        (3, 5.0, False),  # > 5.0-20.0 x baseline (ctcae_v5)
        (2, 3.0, False),  # > 3.0-5.0 x baseline (ctcae_v5)
        (1, 1.5, True),  # 1.5-3.0 x baseline (ctcae_v5)
    ),
    CtcaeVersion.V6: (
        (4, 4.0, False),  # > 4.0 x baseline (ctcae_v6, admiral transcription)
        (3, 2.0, False),  # > 2.0-4.0 x baseline (ctcae_v6, admiral transcription)
        (2, 1.5, False),  # > 1.5-2.0 x baseline (ctcae_v6, admiral transcription)
        (1, 1.0, True),  # 1.0-1.5 x baseline (ctcae_v6, admiral transcription)
    ),
}
# ---- creatinine
_CREATININE_ULN: Final[_Cuts] = (
    (4, 6.0, False),  # > 6.0 x ULN (ctcae_v5, ctcae_v6)
    (3, 3.0, False),  # > 3.0-6.0 x ULN (ctcae_v5, ctcae_v6)
    (2, 1.5, False),  # > 1.5-3.0 x ULN (ctcae_v5, ctcae_v6)
    (1, 1.0, False),  # > ULN-1.5 x ULN (ctcae_v5, ctcae_v6)
)
_CREATININE_BASELINE: Final[_Cuts] = (
    (3, 3.0, False),  # > 3.0 x baseline (ctcae_v5; v6 only if baseline < LLN)
    (2, 1.5, False),  # > 1.5-3.0 x baseline (ctcae_v5; v6 only if baseline < LLN)
)
# ---- INR, absolute, not on anticoagulation (same in v5.0 and v6.0)
_INR_ABSOLUTE: Final[_Cuts] = (
    (3, 2.5, False),  # > 2.5 (ctcae_v5, ctcae_v6)
    (2, 1.5, False),  # > 1.5-2.5 (ctcae_v5, ctcae_v6)
    (1, 1.2, False),  # > 1.2-1.5 (ctcae_v5, ctcae_v6)
)
# ---- decreases: (grade, limit) with the grade applying when value < limit
_ALBUMIN_G_DL: Final[tuple[tuple[int, float], ...]] = (
    (3, 2.0),  # < 2 g/dL (ctcae_v5, ctcae_v6); grade 4 is clinical, never assigned
    (2, 3.0),  # < 3-2 g/dL (ctcae_v5, ctcae_v6); grade 1 is < LLN-3 g/dL
)
_PLATELETS_10E9_L: Final[dict[CtcaeVersion, tuple[tuple[int, float], ...]]] = {
    CtcaeVersion.V5: (
        (4, 25.0),  # < 25 x 10^9/L (ctcae_v5)
        (3, 50.0),  # < 50-25 x 10^9/L (ctcae_v5)
        (2, 75.0),  # < 75-50 x 10^9/L (ctcae_v5); grade 1 is < LLN-75
    ),
    CtcaeVersion.V6: (
        (4, 10.0),  # < 10 x 10^9/L (ctcae_v6, admiral transcription)
        (3, 50.0),  # < 50-10 x 10^9/L (ctcae_v6, admiral transcription)
        (2, 75.0),  # < 75-50 x 10^9/L (ctcae_v6); grade 1 is < LLN-75
    ),
}

#: Relative tolerance within which a value counts as on a limit.
_REL_TOL: Final = 1e-9


def _on(value: float, limit: float) -> bool:
    return math.isclose(value, limit, rel_tol=_REL_TOL, abs_tol=1e-12)


def _grade_increase(value: float, reference: float, cuts: _Cuts) -> int:
    """The highest grade whose limit (a multiple of ``reference``) ``value`` passes."""
    for grade, multiple, inclusive in cuts:
        limit = multiple * reference
        if _on(value, limit):
            if inclusive:
                return grade
        elif value > limit:
            return grade
    return 0


def _grade_decrease(
    value: float, lln: float | None, cuts: tuple[tuple[int, float], ...]
) -> int | None:
    """The grade of a decrease; ``None`` when only the (missing) LLN can tell."""
    for grade, limit in cuts:
        if value < limit and not _on(value, limit):
            return grade
    if lln is None:
        return None
    return 1 if value < lln and not _on(value, lln) else 0


def _version(version: CtcaeVersion | str, problems: list[tuple[str, str]]) -> CtcaeVersion:
    text = version.strip().lower().removeprefix("v") if isinstance(version, str) else ""
    if text and "." not in text:
        text += ".0"
    try:
        return CtcaeVersion(text)
    except ValueError:
        problems.append(
            (
                "version",
                f"unknown CTCAE version {version!r}; use one of "
                f"{', '.join(v.value for v in CtcaeVersion)}",
            )
        )
        return CtcaeVersion.V5


def _analyte(analyte: Analyte | str, problems: list[tuple[str, str]]) -> Analyte | None:
    try:
        return Analyte(analyte.strip().lower() if isinstance(analyte, str) else analyte)
    except ValueError:
        problems.append(
            (
                "analyte",
                f"unknown analyte {analyte!r}; use one of {', '.join(a.value for a in Analyte)}",
            )
        )
        return None


def ctcae_grade(
    analyte: Analyte | str,
    value: float,
    *,
    uln: float | None = None,
    lln: float | None = None,
    baseline: float | None = None,
    version: CtcaeVersion | str = "5.0",
) -> CtcaeGrade:
    """CTCAE grade of one laboratory value.

    Parameters
    ----------
    analyte
        ``"bilirubin"``, ``"ast"``, ``"alt"``, ``"albumin"``, ``"platelets"``,
        ``"inr"`` or ``"creatinine"``.
    value
        The measured value (>= 0).  Albumin in g/dL, platelets in 10^9/L; the
        others in any unit shared with ``uln`` and ``baseline``.
    uln
        Upper limit of normal (> 0): needed for bilirubin, AST, ALT and
        creatinine; not used for INR (its thresholds are absolute).
    lln
        Lower limit of normal (>= 0, below ``uln``): separates grade 0 from 1
        for albumin and platelets; decides whether a creatinine baseline counts
        in v6.0.
    baseline
        The patient's pre-treatment value (> 0).  Bilirubin, AST and ALT are
        graded against it when it is above the ULN; creatinine uses it too.
    version
        ``"5.0"`` (default) or ``"6.0"``.

    Returns
    -------
    CtcaeGrade
        ``grade`` is ``None`` when the ULN (or, near normal, the LLN) it needs
        is missing, and ``missing`` says which.

    Raises
    ------
    CaseError
        For an unknown analyte or version, a negative or non-finite number, a
        non-positive ULN or baseline, or an LLN not below the ULN.

    Examples
    --------
    >>> ctcae_grade("ast", 120.0, uln=40.0).grade
    1
    >>> ctcae_grade("ast", 121.0, uln=40.0).grade
    2
    >>> g = ctcae_grade("alt", 200.0, uln=40.0, baseline=80.0, version="6.0")
    >>> g.grade, g.basis
    (3, 'baseline')
    >>> ctcae_grade("platelets", 60.0, lln=150.0).term
    'Platelet count decreased'
    >>> ctcae_grade("bilirubin", 2.0).missing
    ('uln',)
    """
    problems: list[tuple[str, str]] = []
    which = _analyte(analyte, problems)
    ver = _version(version, problems)
    check_number("value", value, problems, required=True)
    check_number("uln", uln, problems, positive=True)
    check_number("lln", lln, problems)
    check_number("baseline", baseline, problems, positive=True)
    if not problems and uln is not None and lln is not None and lln >= uln:
        problems.append(("lln", f"must be below uln ({lln:g} >= {uln:g})"))
    if problems or which is None:
        raise CaseError(problems)

    grade, basis, missing = _GRADERS[which](value, uln, lln, baseline, ver)
    terms = _TERMS_V6 if ver is CtcaeVersion.V6 else _TERMS
    return CtcaeGrade(
        analyte=which,
        term=terms[which],
        grade=grade,
        version=ver,
        basis=basis,
        missing=missing,
        source_ids=_SOURCE_IDS[ver],
    )


_Graded = tuple[int | None, Basis, tuple[str, ...]]


def _liver_enzyme(
    value: float,
    uln: float | None,
    baseline: float | None,
    version: CtcaeVersion,
    uln_cuts: _Cuts,
    baseline_cuts: dict[CtcaeVersion, _Cuts],
) -> _Graded:
    if uln is None:
        return None, "uln", ("uln",)
    if baseline is not None and baseline > uln and not _on(baseline, uln):
        # Baseline abnormal (> ULN): graded against the baseline.
        return _grade_increase(value, baseline, baseline_cuts[version]), "baseline", ()
    grade = _grade_increase(value, uln, uln_cuts)
    # Above the ULN an unknown baseline could have been abnormal and change the grade.
    missing = ("baseline",) if baseline is None and grade > 0 else ()
    return grade, "uln", missing


def _bilirubin(
    value: float, uln: float | None, lln: float | None, baseline: float | None, v: CtcaeVersion
) -> _Graded:
    return _liver_enzyme(value, uln, baseline, v, _BILIRUBIN_ULN, _BILIRUBIN_BASELINE)


def _aminotransferase(
    value: float, uln: float | None, lln: float | None, baseline: float | None, v: CtcaeVersion
) -> _Graded:
    return _liver_enzyme(value, uln, baseline, v, _AMINOTRANSFERASE_ULN, _AMINOTRANSFERASE_BASELINE)


def _albumin(
    value: float, uln: float | None, lln: float | None, baseline: float | None, v: CtcaeVersion
) -> _Graded:
    grade = _grade_decrease(value, lln, _ALBUMIN_G_DL)
    if grade is None:
        return None, "lln", ("lln",)
    return grade, "absolute" if grade >= 2 else "lln", ()


def _platelets(
    value: float, uln: float | None, lln: float | None, baseline: float | None, v: CtcaeVersion
) -> _Graded:
    grade = _grade_decrease(value, lln, _PLATELETS_10E9_L[v])
    if grade is None:
        return None, "lln", ("lln",)
    return grade, "absolute" if grade >= 2 else "lln", ()


def _inr(
    value: float, uln: float | None, lln: float | None, baseline: float | None, v: CtcaeVersion
) -> _Graded:
    return _grade_increase(value, 1.0, _INR_ABSOLUTE), "absolute", ()


def _creatinine(
    value: float, uln: float | None, lln: float | None, baseline: float | None, v: CtcaeVersion
) -> _Graded:
    if uln is None:
        return None, "uln", ("uln",)
    by_uln = _grade_increase(value, uln, _CREATININE_ULN)
    top_by_baseline = _CREATININE_BASELINE[0][0]
    missing: tuple[str, ...] = ()
    by_baseline = 0
    if baseline is None:
        baseline_counts = False
        missing = ("baseline",)
    elif v is CtcaeVersion.V5:
        baseline_counts = True  # ctcae_v5: "> 1.5 - 3.0 x baseline" whatever the baseline
    elif lln is None:
        baseline_counts = False  # ctcae_v6: only "if baseline is below LLN"
        missing = ("lln",)
    else:
        baseline_counts = baseline < lln and not _on(baseline, lln)
    if baseline_counts and baseline is not None:
        by_baseline = _grade_increase(value, baseline, _CREATININE_BASELINE)
    if by_uln >= top_by_baseline:
        missing = ()  # the baseline can no longer raise the grade
    # Take the higher grade of the two bases (ULN wins a tie).
    if by_baseline > by_uln:
        return by_baseline, "baseline", missing
    return by_uln, "uln", missing


_GRADERS: Final = {
    Analyte.BILIRUBIN: _bilirubin,
    Analyte.AST: _aminotransferase,
    Analyte.ALT: _aminotransferase,
    Analyte.ALBUMIN: _albumin,
    Analyte.PLATELETS: _platelets,
    Analyte.INR: _inr,
    Analyte.CREATININE: _creatinine,
}
