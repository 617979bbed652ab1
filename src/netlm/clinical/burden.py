"""Hepatic tumour burden: the percentage of the liver replaced by tumour.

The number is only as good as its method, so it always travels with it:
volumetry (tumour and liver volumes from segmentation) beats a visual estimate
or a percentage copied from a report.

Sources
-------
``burden_method``: ``shared/reference/eligibility.md`` "Pathology and staging":
liver involvement = tumour volume / liver volume, recorded with its method.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from netlm.clinical._checks import check_number
from netlm.errors import CaseError
from netlm.units import clean_float

__all__ = ["BurdenMethod", "BurdenResult", "tumour_burden"]

_SOURCE_IDS: Final[tuple[str, ...]] = ("burden_method",)


class BurdenMethod(StrEnum):
    """How the tumour burden was obtained."""

    VOLUMETRY = "volumetry"
    VISUAL_ESTIMATE = "visual_estimate"
    REPORTED = "reported"


class BurdenResult(BaseModel):
    """Percentage of the liver volume occupied by tumour.

    Attributes
    ----------
    percent
        Tumour volume / total liver volume x 100 (0..100), or ``None``.
    method
        How ``percent`` was obtained, or ``None`` when it is unknown.
    missing
        The arguments that were ``None`` and would have given a percentage.
    source_ids
        Ids in :data:`netlm.evidence.SOURCES`.
    """

    model_config = ConfigDict(frozen=True)

    percent: float | None
    method: BurdenMethod | None
    missing: tuple[str, ...]
    source_ids: tuple[str, ...] = _SOURCE_IDS


def tumour_burden(
    *,
    liver_volume_ml: float | None,
    tumour_volume_ml: float | None,
    involvement_percent: float | None = None,
    involvement_method: str | None = None,
) -> BurdenResult:
    """Hepatic tumour burden in percent, with its method.

    Volumes win when both are given (method ``volumetry``); otherwise
    ``involvement_percent`` is used with ``involvement_method`` (default
    ``visual_estimate``).

    Parameters
    ----------
    liver_volume_ml
        Total liver volume in mL, *including* the tumour (> 0).
    tumour_volume_ml
        Total tumour volume in mL (>= 0, at most the liver volume).
    involvement_percent
        A percentage obtained otherwise (0..100).
    involvement_method
        ``"volumetry"``, ``"visual_estimate"`` or ``"reported"``: how
        ``involvement_percent`` was obtained.

    Returns
    -------
    BurdenResult
        ``percent`` is ``None`` when neither both volumes nor a percentage are
        given; ``missing`` then names every one of the three that is ``None``.

    Raises
    ------
    CaseError
        If a volume or percentage is negative, not finite or out of range, the
        tumour volume exceeds the liver volume, or the method is unknown.

    Examples
    --------
    >>> r = tumour_burden(liver_volume_ml=2000.0, tumour_volume_ml=500.0)
    >>> r.percent, r.method.value
    (25.0, 'volumetry')
    >>> tumour_burden(liver_volume_ml=None, tumour_volume_ml=None,
    ...               involvement_percent=40.0).method.value
    'visual_estimate'
    >>> tumour_burden(liver_volume_ml=1800.0, tumour_volume_ml=None).missing
    ('tumour_volume_ml', 'involvement_percent')
    """
    problems: list[tuple[str, str]] = []
    check_number("liver_volume_ml", liver_volume_ml, problems, positive=True)
    check_number("tumour_volume_ml", tumour_volume_ml, problems)
    check_number("involvement_percent", involvement_percent, problems, high=100.0)
    method: BurdenMethod | None = None
    if involvement_method is not None:
        try:
            method = BurdenMethod(
                involvement_method.strip().lower()
                if isinstance(involvement_method, str)
                else involvement_method
            )
        except ValueError:
            problems.append(
                (
                    "involvement_method",
                    f"unknown value {involvement_method!r}; use one of "
                    f"{', '.join(m.value for m in BurdenMethod)} or None",
                )
            )
    if (
        not problems
        and liver_volume_ml is not None
        and tumour_volume_ml is not None
        and tumour_volume_ml > liver_volume_ml
    ):
        problems.append(
            (
                "tumour_volume_ml",
                f"{tumour_volume_ml:g} mL exceeds the liver volume {liver_volume_ml:g} mL "
                "(the liver volume must include the tumour)",
            )
        )
    if problems:
        raise CaseError(problems)

    if liver_volume_ml is not None and tumour_volume_ml is not None:
        # burden_method: involvement = tumour volume / liver volume.
        return BurdenResult(
            percent=clean_float(100.0 * tumour_volume_ml / liver_volume_ml),
            method=BurdenMethod.VOLUMETRY,
            missing=(),
        )
    if involvement_percent is not None:
        return BurdenResult(
            percent=float(involvement_percent),
            method=method if method is not None else BurdenMethod.VISUAL_ESTIMATE,
            missing=(),
        )
    missing = tuple(
        name
        for name, value in (
            ("liver_volume_ml", liver_volume_ml),
            ("tumour_volume_ml", tumour_volume_ml),
            ("involvement_percent", involvement_percent),
        )
        if value is None
    )
    return BurdenResult(percent=None, method=None, missing=missing)
