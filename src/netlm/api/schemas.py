"""The JSON bodies of the API: request models (``...In``, strict: unknown fields are refused,
no NaN or infinity) and the answers the registry's own models do not cover.

The registry's records (``PatientOut``, ``PlanOut``...) are answered as
:mod:`netlm.store.repository` defines them; the dose request is the workflow's
own :class:`netlm.workflows.images.DoseRequest`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Body
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from netlm.store.repository import (
    CTCAE_VERSIONS,
    LAB_ANALYTES,
    RESPONSE_CATEGORIES,
    RESPONSE_CRITERIA,
    TREATMENT_MODALITIES,
    Role,
)

PatientId = Annotated[int, PathParam(ge=1, le=2**62, description="Registry patient number.")]
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]
Document = Annotated[
    dict[str, Any],
    Body(description="The document as JSON (its `schema` field names the format)."),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class TokenRequest(_In):
    username: Annotated[str, Field(min_length=1, max_length=150)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    username: str
    role: Role
    expires_at: dt.datetime


class PasswordChange(_In):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserChange(_In):
    """An admin's change to a user; each ends the user's sessions and tokens."""

    role: Role | None = None
    disabled: bool | None = None
    password: Annotated[str | None, Field(min_length=1, max_length=1024)] = None


class Me(BaseModel):
    username: str
    role: Role
    can_write: bool
    can_approve: bool


class UserCreate(_In):
    username: Annotated[str, Field(min_length=1, max_length=150)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    role: Role


class PatientCreate(_In):
    external_id: Annotated[str, Field(min_length=1, max_length=128)]


def _one_of(values: frozenset[str]) -> dict[str, Any]:
    return {"json_schema_extra": {"enum": sorted(values)}}


class TreatmentIn(_In):
    modality: Annotated[str, Field(min_length=1, max_length=64, **_one_of(TREATMENT_MODALITIES))]
    date: dt.date
    details: dict[str, Any] = Field(default_factory=dict)


class LabIn(_In):
    date: dt.date
    analyte: Annotated[str, Field(min_length=1, max_length=64, **_one_of(LAB_ANALYTES))]
    value: float
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    uln: float | None = None
    lln: float | None = None


class ResponseTimepointIn(_In):
    date: dt.date
    criterion: Annotated[str, Field(min_length=1, max_length=32, **_one_of(RESPONSE_CRITERIA))]
    overall: Annotated[str, Field(min_length=1, max_length=32, **_one_of(RESPONSE_CATEGORIES))]
    details: dict[str, Any] = Field(default_factory=dict)


class ToxicityIn(_In):
    date: dt.date
    term: Annotated[str, Field(min_length=1, max_length=200)]
    grade: Annotated[int, Field(ge=0, le=5, description="CTCAE grade 0-5.")]
    ctcae_version: Annotated[str, Field(max_length=8, **_one_of(CTCAE_VERSIONS))] = "5.0"


class DoseOut(BaseModel):
    rtdose_image_id: int
    statistics: dict[str, Any]


#: A proposal's id in a path: 16 hex digits.
ProposalId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")]


class RegistrationOut(BaseModel):
    """A proposed CT registration (see :mod:`netlm.workflows.registration`)."""

    id: str
    status: Literal["pending", "rejected"] = "pending"
    request: dict[str, Any] = Field(description="The dose request that needs the registration.")
    transform: dict[str, Any] = Field(description="Activity (fixed) -> CT (moving), rigid.")
    proposed_by: str | None = None
    proposed_at: str | None = None
    rejected_by: str | None = None
    rejected_at: str | None = None
    reason: str | None = None
    layers: dict[str, str] = Field(
        default_factory=dict,
        description="A pending proposal's check volumes (NIfTI on the activity grid): "
        "'activity' and 'ct' (the CT resampled through the transform), each the URL "
        "to fetch it from.",
    )


class RejectIn(_In):
    reason: str = Field(default="", max_length=1000, description="Why it was rejected.")


class Reproduced(BaseModel):
    assessment_id: int
    reproducible: bool


class ApprovalIn(_In):
    result_id: int = Field(ge=1, le=2**62, description="The plan result the physicist reviewed.")


class SoftDelete(_In):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]
