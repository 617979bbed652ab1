"""The response file, ``netlm/response/v1``: lesion measurements over time.

The format of ``shared/examples/response-recist.yaml``, extended without
breaking it.  A lesion is declared at baseline (``organ``, ``role``) and only
measured at follow-up; the loader resolves each follow-up observation against
its baseline declaration, so engines see complete observations.

Sizes are millimetres given to at most one decimal; engines compare them as
exact integers of tenths of a millimetre (:func:`tenths`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RESPONSE_SCHEMA = "netlm/response/v1"


class Role(StrEnum):
    TARGET = "target"
    NON_TARGET = "non_target"
    NEW = "new"


class Status(StrEnum):
    """What was seen of a lesion at a time point (beyond its measurements).

    ``disappeared`` is accepted in files as an alias of ``absent``
    (``shared/reference/response.md``: "disappeared -> 0 mm") and read as ``absent``.
    """

    PRESENT = "present"
    ABSENT = "absent"  # disappeared: 0 mm
    TOO_SMALL_TO_MEASURE = "too_small_to_measure"  # 5 mm by RECIST convention
    NOT_EVALUABLE = "not_evaluable"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"  # non-target PD
    EQUIVOCAL = "equivocal"  # a possible new lesion, not yet PD
    CONFIRMED = "confirmed"  # a new lesion now unequivocal
    MERGED = "merged"  # merged into another lesion (counts as 0, not "disappeared")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Mm = Annotated[float, Field(ge=0, le=1000)]

#: Status spellings accepted as another status (file text -> status).
STATUS_ALIASES: dict[str, Status] = {"disappeared": Status.ABSENT}
#: Organ names that place a lesion in the liver (intrahepatic), lower case.
LIVER_ORGANS = frozenset({"liver", "hepatic", "intrahepatic"})


class Observation(_M):
    """One lesion at one time point, as written in the file."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    organ: str | None = None
    role: Role | None = None
    status: Status | None = None
    longest_mm: Mm | None = None
    short_axis_mm: Mm | None = None
    perpendicular_mm: Mm | None = None
    viable_mm: Mm | None = Field(default=None, description="Longest viable (enhancing) diameter.")
    viable_perpendicular_mm: Mm | None = None
    mean_hu: Annotated[float | None, Field(ge=-1100, le=4000)] = None
    sul_peak: Annotated[float | None, Field(ge=0, le=200)] = None
    suv_max: Annotated[float | None, Field(ge=0, le=500)] = None
    enhancing: bool | None = None
    previously_treated: bool | None = None
    slice_thickness_mm: Annotated[float | None, Field(gt=0, le=20)] = None
    split_from: str | None = None
    merged_into: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_alias(cls, v: object) -> object:
        if isinstance(v, str) and v in STATUS_ALIASES:
            return STATUS_ALIASES[v]
        return v

    @field_validator(
        "longest_mm",
        "short_axis_mm",
        "perpendicular_mm",
        "viable_mm",
        "viable_perpendicular_mm",
    )
    @classmethod
    def _one_decimal(cls, v: float | None) -> float | None:
        if v is not None and tenths(v) != Decimal(str(v)) * 10:
            raise ValueError(f"{v} mm has more than one decimal (give tenths of a millimetre)")
        return v

    @property
    def is_node(self) -> bool:
        return (self.organ or "").lower() in {"lymph_node", "node", "lymph node"}

    @property
    def is_liver(self) -> bool:
        """Whether the lesion is intrahepatic (``organ`` liver, hepatic or intrahepatic)."""
        return (self.organ or "").strip().lower() in LIVER_ORGANS


class Confirmation(_M):
    """Best-overall-response settings (RECIST; admiralonco's algorithm)."""

    required: bool = False
    min_days: Annotated[int, Field(ge=1, le=365)] = 28
    max_ne_between: Annotated[int, Field(ge=0, le=10)] = 1
    accept_sd_between: bool = False
    sd_min_days: Annotated[int, Field(ge=0, le=365)] = 42


class TimePoint(_M):
    date: dt.date
    modality: Literal["ct", "mri", "pet", "pet_ct"] | None = None
    liver_sul_mean: Annotated[float | None, Field(gt=0, le=20)] = None
    liver_sul_sd: Annotated[float | None, Field(ge=0, le=10)] = None
    spleen_suv_mean: Annotated[float | None, Field(gt=0, le=50)] = None
    liver_suv_mean: Annotated[float | None, Field(gt=0, le=50)] = None
    lesions: tuple[Observation, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> TimePoint:
        ids = [o.id for o in self.lesions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"lesions:: lesion id repeated at {self.date}: {', '.join(dupes)}")
        return self


Criterion = Literal["recist1.1", "mrecist", "who", "easl", "choi", "mchoi", "percist1.0"]
ALL_CRITERIA: tuple[Criterion, ...] = (
    "recist1.1",
    "mrecist",
    "who",
    "easl",
    "choi",
    "mchoi",
    "percist1.0",
)


class ResponseFile(_M):
    """A ``netlm/response/v1`` document."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, frozen=True, populate_by_name=True
    )

    schema_id: Literal["netlm/response/v1"] = Field(alias="schema")
    case: str | None = None
    reference_date: dt.date | None = None
    criteria: tuple[Criterion, ...] = ("recist1.1",)
    confirmation: Confirmation = Field(default_factory=Confirmation)
    timepoints: tuple[TimePoint, ...]

    @model_validator(mode="after")
    def _order(self) -> ResponseFile:
        if not self.timepoints:
            raise ValueError("timepoints:: give at least the baseline time point")
        dates = [t.date for t in self.timepoints]
        for i in range(1, len(dates)):
            if dates[i] <= dates[i - 1]:
                raise ValueError(
                    f"timepoints:: dates out of order: {dates[i]} (time point {i}) is not after "
                    f"{dates[i - 1]}"
                )
        return self


def tenths(mm: float | Decimal) -> int:
    """A length in mm as an exact integer of tenths of a millimetre.

    Examples
    --------
    >>> tenths(32.4), tenths(27.0), tenths(0.1)
    (324, 270, 1)
    """
    try:
        d = Decimal(str(mm)) * 10
    except InvalidOperation:  # pragma: no cover - pydantic gives floats
        raise ValueError(f"not a length: {mm!r}") from None
    return int(d.to_integral_value())
