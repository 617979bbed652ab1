"""Results shared by every response engine, and the engine interface."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from netlm.response.model import ResponseFile


class Response(StrEnum):
    """A response category (target, non-target or overall)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NON_CR_NON_PD = "non-CR/non-PD"
    NOT_APPLICABLE = "NA"  # e.g. no non-target lesions at baseline


class Threshold(BaseModel):
    """One threshold of a criterion, stated exactly, with its source."""

    model_config = ConfigDict(frozen=True)

    name: str
    rule: str = Field(description="The comparison, e.g. '10*cur <= 7*baseline'.")
    source: str


class TimepointResult(BaseModel):
    """One criterion at one time point."""

    model_config = ConfigDict(frozen=True)

    date: dt.date
    measure: Decimal | None = Field(
        default=None, description="The sum the criterion uses (mm, mm², HU or SUL; see unit)."
    )
    unit: str
    change_from_baseline_percent: Decimal | None = None
    change_from_nadir_percent: Decimal | None = None
    nadir: Decimal | None = None
    target: Response | None = None
    non_target: Response | None = None
    new_lesions: bool = False
    overall: Response = Field(
        description="Overall response; for PERCIST the RECIST-like alias of `category`."
    )
    category: str | None = Field(
        default=None,
        description="The criterion's own name of the overall response where it has one "
        "(PERCIST 1.0: CMR, PMR, SMD, PMD; NE), else null.",
    )
    notes: tuple[str, ...] = ()


class BestOverallResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    response: Response = Field(
        description="Best overall response; for PERCIST the RECIST-like alias of `category`."
    )
    date: dt.date | None
    confirmed: bool | None = None
    category: str | None = Field(
        default=None,
        description="The criterion's own name of the best response where it has one "
        "(PERCIST 1.0: CMR, PMR, SMD, PMD; NE), else null.",
    )
    notes: tuple[str, ...] = ()


class Endpoints(BaseModel):
    """Derived endpoints of one criterion."""

    model_config = ConfigDict(frozen=True)

    progression_date: dt.date | None = Field(description="First PD (back-dated when confirmed).")
    time_to_progression_days: int | None = None
    response_date: dt.date | None = Field(default=None, description="First CR/PR.")
    duration_of_response_days: int | None = None
    depth_of_response_percent: Decimal | None = Field(
        default=None, description="Largest decrease of the measure from baseline (negative %)."
    )


class CriterionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    criterion: str
    version: str
    label: str
    primary: bool
    thresholds: tuple[Threshold, ...]
    timepoints: tuple[TimepointResult, ...]
    best_overall: BestOverallResponse
    endpoints: Endpoints
    warnings: tuple[str, ...] = ()


class Engine(Protocol):
    """What every criterion module provides as ``ENGINE``."""

    id: str
    version: str
    label: str
    thresholds: tuple[Threshold, ...]

    def assess(self, doc: ResponseFile) -> tuple[tuple[TimepointResult, ...], tuple[str, ...]]:
        """Time-point results (baseline first) and conformance warnings."""
        ...
