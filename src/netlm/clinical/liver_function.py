"""Liver function scores: Child-Pugh and ALBI.

Both take bilirubin in mg/dL and albumin in g/dL (the units their argument
names carry); ALBI converts them to µmol/L and g/L through
:func:`netlm.units.convert`.  A missing component is not an error: the score
is ``None`` and ``missing`` names what is needed.

Sources
-------
``child_pugh``: Pugh RN et al., Br J Surg 1973;60:646-649, with the cut-offs
as given in ``shared/reference/eligibility.md`` "Liver function".
``albi``: Johnson PJ et al., J Clin Oncol 2015;33:550-558 (coefficients 0.66
and -0.085; grade cut-offs -2.60 and -1.39).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from netlm.clinical._checks import check_number
from netlm.errors import CaseError
from netlm.units import convert

__all__ = [
    "ALBI_ALBUMIN_COEFFICIENT",
    "AlbiResult",
    "ChildPughClass",
    "ChildPughResult",
    "albi",
    "child_pugh",
]

# ----------------------------------------------------------------- Child-Pugh
# Points per component (child_pugh: Pugh 1973; eligibility.md "Liver function").
_BILIRUBIN_2_FROM_MG_DL: Final = 2.0  # bilirubin 2-3 mg/dL (inclusive) -> 2 points
_BILIRUBIN_3_ABOVE_MG_DL: Final = 3.0  # bilirubin > 3 mg/dL -> 3 points
_ALBUMIN_1_ABOVE_G_DL: Final = 3.5  # albumin > 3.5 g/dL -> 1 point
_ALBUMIN_2_FROM_G_DL: Final = 2.8  # albumin 2.8-3.5 g/dL (inclusive) -> 2; < 2.8 -> 3
_INR_2_FROM: Final = 1.7  # INR 1.7-2.3 (inclusive) -> 2 points
_INR_3_ABOVE: Final = 2.3  # INR > 2.3 -> 3 points
_ASCITES_POINTS: Final[dict[str, int]] = {"none": 1, "mild": 2, "moderate_severe": 3}
_ENCEPHALOPATHY_POINTS: Final[dict[str, int]] = {"none": 1, "grade_1_2": 2, "grade_3_4": 3}
# Class by total score (child_pugh): A 5-6, B 7-9, C 10-15.
_CLASS_B_FROM: Final = 7
_CLASS_C_FROM: Final = 10

_CHILD_PUGH_SOURCES: Final[tuple[str, ...]] = ("child_pugh",)

# ----------------------------------------------------------------------- ALBI
#: Albumin coefficient of the ALBI score (albi: Johnson 2015).  Some
#: implementations use -0.0852; pass it as ``albumin_coefficient``.
ALBI_ALBUMIN_COEFFICIENT: Final = -0.085
_ALBI_BILIRUBIN_COEFFICIENT: Final = 0.66  # x log10(bilirubin umol/L) (albi: Johnson 2015)
_ALBI_GRADE_1_AT_MOST: Final = -2.60  # score <= -2.60 -> grade 1 (albi: Johnson 2015)
_ALBI_GRADE_2_AT_MOST: Final = -1.39  # -2.60 < score <= -1.39 -> grade 2; above -> 3 (albi)
#: A score within this distance of a cut-off counts as on it: the unit
#: conversion and log10 leave floating-point noise of ~1e-15.
_ALBI_CUTOFF_TOLERANCE: Final = 1e-9

_ALBI_SOURCES: Final[tuple[str, ...]] = ("albi",)


class ChildPughClass(StrEnum):
    """Child-Pugh class."""

    A = "A"
    B = "B"
    C = "C"


class ChildPughResult(BaseModel):
    """A Child-Pugh score.

    Attributes
    ----------
    score
        Total points, 5..15, or ``None`` when a component is missing.
    child_pugh_class
        A, B or C (serialised as ``"class"`` with ``by_alias=True``), or ``None``.
    points
        Points per known component, keyed by argument name.
    missing
        The components that were not given.
    source_ids
        Ids in :data:`netlm.evidence.SOURCES`.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    score: int | None
    child_pugh_class: ChildPughClass | None = Field(alias="class")
    points: dict[str, int]
    missing: tuple[str, ...]
    source_ids: tuple[str, ...] = _CHILD_PUGH_SOURCES


class AlbiResult(BaseModel):
    """An ALBI score and grade.

    Attributes
    ----------
    score
        The linear predictor, or ``None`` when an input is missing.
    grade
        1, 2 or 3, or ``None``.
    coefficient
        The albumin coefficient used.
    missing
        The inputs that were not given.
    source_ids
        Ids in :data:`netlm.evidence.SOURCES`.
    """

    model_config = ConfigDict(frozen=True)

    score: float | None
    grade: int | None
    coefficient: float
    missing: tuple[str, ...]
    source_ids: tuple[str, ...] = _ALBI_SOURCES


def _check_choice(
    name: str, value: str | None, choices: dict[str, int], problems: list[tuple[str, str]]
) -> str | None:
    """The normalised choice, or None; appends a problem for an unknown one."""
    if value is None:
        return None
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in choices:
        problems.append((name, f"unknown value {value!r}; use one of {', '.join(choices)} or None"))
        return None
    return key


def _bilirubin_points(bilirubin_mg_dl: float) -> int:
    if bilirubin_mg_dl > _BILIRUBIN_3_ABOVE_MG_DL:
        return 3
    if bilirubin_mg_dl >= _BILIRUBIN_2_FROM_MG_DL:
        return 2
    return 1


def _albumin_points(albumin_g_dl: float) -> int:
    if albumin_g_dl > _ALBUMIN_1_ABOVE_G_DL:
        return 1
    if albumin_g_dl >= _ALBUMIN_2_FROM_G_DL:
        return 2
    return 3


def _inr_points(inr: float) -> int:
    if inr > _INR_3_ABOVE:
        return 3
    if inr >= _INR_2_FROM:
        return 2
    return 1


def child_pugh(
    *,
    bilirubin_mg_dl: float | None,
    albumin_g_dl: float | None,
    inr: float | None,
    ascites: str | None,
    encephalopathy: str | None,
) -> ChildPughResult:
    """Child-Pugh score and class.

    Parameters
    ----------
    bilirubin_mg_dl
        Total bilirubin in mg/dL: < 2 -> 1, 2..3 -> 2, > 3 -> 3 points.
    albumin_g_dl
        Serum albumin in g/dL: > 3.5 -> 1, 2.8..3.5 -> 2, < 2.8 -> 3 points.
    inr
        INR: < 1.7 -> 1, 1.7..2.3 -> 2, > 2.3 -> 3 points.
    ascites
        ``"none"``, ``"mild"`` or ``"moderate_severe"`` (1, 2, 3 points).
    encephalopathy
        ``"none"``, ``"grade_1_2"`` or ``"grade_3_4"`` (1, 2, 3 points).

    Returns
    -------
    ChildPughResult
        Score and class are ``None`` when any component is ``None``; ``points``
        still holds the known components.

    Raises
    ------
    CaseError
        If a number is negative or not finite, or a category is unknown.

    Examples
    --------
    >>> r = child_pugh(bilirubin_mg_dl=1.0, albumin_g_dl=4.0, inr=1.0,
    ...                ascites="none", encephalopathy="none")
    >>> r.score, r.child_pugh_class.value
    (5, 'A')
    >>> r.model_dump(by_alias=True)["class"]
    <ChildPughClass.A: 'A'>
    >>> child_pugh(bilirubin_mg_dl=2.5, albumin_g_dl=3.0, inr=None,
    ...            ascites="mild", encephalopathy="none").missing
    ('inr',)
    """
    problems: list[tuple[str, str]] = []
    check_number("bilirubin_mg_dl", bilirubin_mg_dl, problems)
    check_number("albumin_g_dl", albumin_g_dl, problems)
    check_number("inr", inr, problems)
    ascites_key = _check_choice("ascites", ascites, _ASCITES_POINTS, problems)
    enceph_key = _check_choice("encephalopathy", encephalopathy, _ENCEPHALOPATHY_POINTS, problems)
    if problems:
        raise CaseError(problems)

    points: dict[str, int] = {}
    missing: list[str] = []
    if bilirubin_mg_dl is None:
        missing.append("bilirubin_mg_dl")
    else:
        points["bilirubin_mg_dl"] = _bilirubin_points(bilirubin_mg_dl)
    if albumin_g_dl is None:
        missing.append("albumin_g_dl")
    else:
        points["albumin_g_dl"] = _albumin_points(albumin_g_dl)
    if inr is None:
        missing.append("inr")
    else:
        points["inr"] = _inr_points(inr)
    if ascites_key is None:
        missing.append("ascites")
    else:
        points["ascites"] = _ASCITES_POINTS[ascites_key]
    if enceph_key is None:
        missing.append("encephalopathy")
    else:
        points["encephalopathy"] = _ENCEPHALOPATHY_POINTS[enceph_key]

    if missing:
        return ChildPughResult(
            score=None, child_pugh_class=None, points=points, missing=tuple(missing)
        )
    score = sum(points.values())
    if score >= _CLASS_C_FROM:
        cls = ChildPughClass.C
    elif score >= _CLASS_B_FROM:
        cls = ChildPughClass.B
    else:
        cls = ChildPughClass.A
    return ChildPughResult(score=score, child_pugh_class=cls, points=points, missing=())


def albi(
    *,
    bilirubin_mg_dl: float | None,
    albumin_g_dl: float | None,
    albumin_coefficient: float = ALBI_ALBUMIN_COEFFICIENT,
) -> AlbiResult:
    """ALBI score and grade.

    ``ALBI = 0.66 * log10(bilirubin µmol/L) + albumin g/L * albumin_coefficient``;
    grade 1 if ALBI <= -2.60, grade 2 if -2.60 < ALBI <= -1.39, grade 3 above.
    A score within 1e-9 of a cut-off counts as on it.

    Parameters
    ----------
    bilirubin_mg_dl
        Total bilirubin in mg/dL (> 0, it goes into a logarithm).
    albumin_g_dl
        Serum albumin in g/dL (>= 0).
    albumin_coefficient
        The albumin coefficient, -0.085 (Johnson 2015) by default; some
        implementations use -0.0852.  Must be negative.

    Returns
    -------
    AlbiResult
        Score and grade are ``None`` when an input is ``None``.

    Raises
    ------
    CaseError
        If bilirubin is not > 0, albumin is negative, or the coefficient is not
        a negative finite number.

    Examples
    --------
    >>> r = albi(bilirubin_mg_dl=1.0, albumin_g_dl=4.0)
    >>> round(r.score, 3), r.grade
    (-2.586, 2)
    >>> albi(bilirubin_mg_dl=None, albumin_g_dl=4.0).missing
    ('bilirubin_mg_dl',)
    """
    problems: list[tuple[str, str]] = []
    check_number("bilirubin_mg_dl", bilirubin_mg_dl, problems, positive=True)
    check_number("albumin_g_dl", albumin_g_dl, problems)
    if (
        isinstance(albumin_coefficient, bool)
        or not isinstance(albumin_coefficient, int | float)
        or not math.isfinite(albumin_coefficient)
        or albumin_coefficient >= 0
    ):
        problems.append(
            (
                "albumin_coefficient",
                f"must be a negative finite number, not {albumin_coefficient!r}",
            )
        )
    if problems:
        raise CaseError(problems)

    missing = tuple(
        name
        for name, value in (("bilirubin_mg_dl", bilirubin_mg_dl), ("albumin_g_dl", albumin_g_dl))
        if value is None
    )
    if bilirubin_mg_dl is None or albumin_g_dl is None:
        return AlbiResult(score=None, grade=None, coefficient=albumin_coefficient, missing=missing)

    bilirubin_umol_l = convert(bilirubin_mg_dl, "mg/dL", "umol/L", analyte="bilirubin")
    albumin_g_l = convert(albumin_g_dl, "g/dL", "g/L", analyte="albumin")
    score = (
        _ALBI_BILIRUBIN_COEFFICIENT * math.log10(bilirubin_umol_l)
        + albumin_g_l * albumin_coefficient
    )
    if score <= _ALBI_GRADE_1_AT_MOST + _ALBI_CUTOFF_TOLERANCE:
        grade = 1
    elif score <= _ALBI_GRADE_2_AT_MOST + _ALBI_CUTOFF_TOLERANCE:
        grade = 2
    else:
        grade = 3
    return AlbiResult(score=score, grade=grade, coefficient=albumin_coefficient, missing=())
