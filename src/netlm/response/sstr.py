"""Exploratory somatostatin-receptor (SSTR) PET metrics: tumour-to-liver and tumour-to-spleen.

There are no validated response criteria for SSTR PET in NET; the Krenning
score decides PRRT eligibility, not response.  Tumour-to-liver and
tumour-to-spleen SUVmax ratios are reported per time point as exploratory
numbers and are **never** turned into a response category
(``shared/reference/response.md`` §SSTR PET in NET).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field

from netlm.response._common import GONE_STATUSES, exact
from netlm.response.model import ResponseFile, Role, TimePoint

__all__ = ["EXPLORATORY_NOTE", "SstrLesion", "SstrMetrics", "sstr_metrics"]

EXPLORATORY_NOTE = (
    "exploratory: SSTR-PET ratios have no validated response thresholds and are not classified"
)
_RATIO_STEP = Decimal("0.01")


class SstrLesion(BaseModel):
    """One lesion's SUVmax and its ratios to the liver and spleen background."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: Role | None
    suv_max: Decimal
    tumour_to_liver: Decimal | None = Field(
        default=None, description="suv_max / liver_suv_mean, rounded half-up to 0.01."
    )
    tumour_to_spleen: Decimal | None = Field(
        default=None, description="suv_max / spleen_suv_mean, rounded half-up to 0.01."
    )


class SstrMetrics(BaseModel):
    """Exploratory SSTR-PET metrics at one time point (no response category)."""

    model_config = ConfigDict(frozen=True)

    date: dt.date
    hottest_lesion: str | None = Field(default=None, description="Id of the highest SUVmax.")
    suv_max: Decimal | None = Field(default=None, description="Highest lesion SUVmax.")
    liver_suv_mean: Decimal | None = None
    spleen_suv_mean: Decimal | None = None
    tumour_to_liver: Decimal | None = Field(
        default=None, description="Hottest SUVmax / liver SUVmean, rounded half-up to 0.01."
    )
    tumour_to_spleen: Decimal | None = Field(
        default=None, description="Hottest SUVmax / spleen SUVmean, rounded half-up to 0.01."
    )
    lesions: tuple[SstrLesion, ...] = ()
    notes: tuple[str, ...] = (EXPLORATORY_NOTE,)


def ratio(numerator: float, denominator: float | None) -> Decimal | None:
    """``numerator / denominator`` computed exactly, rounded half-up to 0.01.

    Examples
    --------
    >>> ratio(24.6, 8.2), ratio(10, 3), ratio(5, None)
    (Decimal('3.00'), Decimal('3.33'), None)
    """
    if denominator is None:
        return None
    value = exact(numerator) / exact(denominator)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _RATIO_STEP, rounding=ROUND_HALF_UP
    )


def _metrics(tp: TimePoint) -> SstrMetrics:
    lesions = [
        SstrLesion(
            id=o.id,
            role=o.role,
            suv_max=Decimal(str(o.suv_max)),
            tumour_to_liver=ratio(o.suv_max, tp.liver_suv_mean),
            tumour_to_spleen=ratio(o.suv_max, tp.spleen_suv_mean),
        )
        for o in tp.lesions
        if o.suv_max is not None and o.status not in GONE_STATUSES
    ]
    hottest = max(lesions, key=lambda lesion: Fraction(lesion.suv_max), default=None)
    notes = [EXPLORATORY_NOTE]
    if hottest is not None and tp.liver_suv_mean is None:
        notes.append("no liver_suv_mean: no tumour-to-liver ratio")
    if hottest is not None and tp.spleen_suv_mean is None:
        notes.append("no spleen_suv_mean: no tumour-to-spleen ratio")
    return SstrMetrics(
        date=tp.date,
        hottest_lesion=hottest.id if hottest else None,
        suv_max=hottest.suv_max if hottest else None,
        liver_suv_mean=_dec(tp.liver_suv_mean),
        spleen_suv_mean=_dec(tp.spleen_suv_mean),
        tumour_to_liver=hottest.tumour_to_liver if hottest else None,
        tumour_to_spleen=hottest.tumour_to_spleen if hottest else None,
        lesions=tuple(lesions),
        notes=tuple(notes),
    )


def _dec(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def sstr_metrics(doc: ResponseFile) -> tuple[SstrMetrics, ...]:
    """Exploratory SSTR-PET metrics at every time point (baseline first); never classified.

    Examples
    --------
    >>> from netlm.response.io import response_from_mapping
    >>> doc = response_from_mapping({"schema": "netlm/response/v1", "timepoints": [
    ...     {"date": "2026-01-05", "liver_suv_mean": 8.2, "spleen_suv_mean": 20.5,
    ...      "lesions": [{"id": "T1", "organ": "liver", "role": "target",
    ...                   "longest_mm": 30, "suv_max": 24.6}]}]})
    >>> m = sstr_metrics(doc)[0]
    >>> m.hottest_lesion, m.tumour_to_liver, m.tumour_to_spleen
    ('T1', Decimal('3.00'), Decimal('1.20'))
    """
    return tuple(_metrics(tp) for tp in doc.timepoints)
