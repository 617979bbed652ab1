"""The radioembolization plan file, ``netlm/sirt-plan/v1``, as validated models.

The format of ``shared/examples/sirt-plan-partition-glass.yaml``, extended
without breaking it: several tumours per territory, a prescription per
territory, BSA formula, vial calibration, an explicit safety ``override`` with
its reason, ``uncertainty`` to propagate, ``optimise`` targets and the prior
treatments (TARE sessions, PRRT cycles) whose radiation adds up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from netlm.case.model import LsfMethod, PriorTreatment
from netlm.documents import Format, format_for, parse_document, read_bytes
from netlm.errors import PlanError
from netlm.sirt.bsa import BsaFormula
from netlm.sirt.physics import Physics
from netlm.validation import problem as _problem

PLAN_SCHEMA = "netlm/sirt-plan/v1"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Prescription(_M):
    """What to aim for: exactly one target (BSA plans need none)."""

    tumour_dose_gy: Annotated[float | None, Field(gt=0, le=2000)] = None
    normal_liver_dose_gy: Annotated[float | None, Field(gt=0, le=500)] = None
    perfused_dose_gy: Annotated[float | None, Field(gt=0, le=2000)] = None
    activity_gbq: Annotated[float | None, Field(gt=0, le=30)] = None

    @model_validator(mode="after")
    def _one(self) -> Prescription:
        given = [k for k, v in self.model_dump().items() if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one target, not {', '.join(given)}")
        return self

    @property
    def target(self) -> tuple[str, float] | None:
        """(name, value) of the target, or None."""
        for name, value in self.model_dump().items():
            if value is not None:
                return name, float(value)
        return None


class PlanTumour(_M):
    name: Annotated[str, Field(min_length=1)]
    volume_ml: Annotated[float, Field(gt=0)]
    tumour_to_normal_ratio: Annotated[float, Field(gt=0, le=100)]


class PlanTerritory(_M):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    kind: Literal["whole_liver", "lobar", "segmental"] | None = None
    volume_ml: Annotated[float, Field(gt=0, le=12000)] = Field(
        description="Perfused volume including tumour."
    )
    tumour_volume_ml: Annotated[float | None, Field(ge=0)] = None
    tumour_to_normal_ratio: Annotated[float | None, Field(gt=0, le=100)] = None
    tumours: tuple[PlanTumour, ...] = ()
    prescription: Prescription | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PlanTerritory:
        if self.tumour_volume_ml is not None and self.tumour_volume_ml > self.volume_ml:
            raise ValueError(
                f"tumour_volume_ml:: {self.tumour_volume_ml:g} mL is larger than the perfused "
                f"volume_ml ({self.volume_ml:g} mL)"
            )
        listed = sum(t.volume_ml for t in self.tumours)
        if listed > self.volume_ml:
            raise ValueError(
                f"tumours:: their volumes add up to {listed:g} mL, more than the perfused "
                f"volume_ml ({self.volume_ml:g} mL)"
            )
        if self.tumours and self.tumour_volume_ml is not None:
            raise ValueError("tumours:: give either tumours or tumour_volume_ml, not both")
        return self

    @property
    def tumour_to_normal_known(self) -> bool:
        """False when a tumour volume is given without its T:N (BSA plans may do that)."""
        return not (self.tumour_volume_ml and self.tumour_to_normal_ratio is None)

    @property
    def tumour_list(self) -> tuple[PlanTumour, ...]:
        """The territory's tumours (a single lumped one from tumour_volume_ml)."""
        if self.tumours:
            return self.tumours
        if self.tumour_volume_ml and self.tumour_to_normal_ratio:
            return (
                PlanTumour(
                    name="tumour",
                    volume_ml=self.tumour_volume_ml,
                    tumour_to_normal_ratio=self.tumour_to_normal_ratio,
                ),
            )
        return ()

    @property
    def total_tumour_ml(self) -> float:
        """Tumour volume in the territory (listed tumours, or ``tumour_volume_ml``)."""
        if self.tumour_volume_ml is not None:
            return self.tumour_volume_ml
        return sum(t.volume_ml for t in self.tumour_list)


class PatientSize(_M):
    height_cm: Annotated[float | None, Field(ge=40, le=250)] = None
    weight_kg: Annotated[float | None, Field(ge=2, le=400)] = None


class Override(_M):
    """An explicit decision to go beyond a hard limit, recorded with the result."""

    reason: Annotated[str, Field(min_length=10, max_length=2000)]
    approved_by: Annotated[str, Field(min_length=2, max_length=200)]
    limits: tuple[str, ...] = Field(
        default=(), description="Check ids overridden; empty means every hard limit."
    )


class CaseContext(_M):
    """What the linked case file says, for cross-checks (filled by ``--case``)."""

    case_id: str | None = None
    lung_shunt_fraction: Annotated[float | None, Field(ge=0, le=1)] = None
    lung_shunt_method: LsfMethod | None = None
    prior_lung_dose_gy: Annotated[float | None, Field(ge=0, le=500)] = None


#: What a plan's lung mass rests on (``lung_mass_basis``).
LungMassBasis = Literal["convention_1kg", "ct_densitovolumetry", "stated"]


class Uncertainty(_M):
    """Stated uncertainties of the inputs (1 standard deviation)."""

    volume_relative_sd: Annotated[float, Field(ge=0, le=1)] = 0.0
    lung_shunt_fraction_relative_sd: Annotated[float, Field(ge=0, le=1)] = 0.0
    tumour_to_normal_relative_sd: Annotated[float, Field(ge=0, le=1)] = 0.0
    activity_relative_sd: Annotated[float, Field(ge=0, le=1)] = 0.0
    samples: Annotated[int, Field(ge=100, le=200000)] = 5000
    seed: Annotated[int, Field(ge=0, le=2**63 - 1, description="Random seed (>= 0).")] = 0


class Optimise(_M):
    """Ask for the largest activity within limits, or the activity for a tumour dose."""

    normal_liver_max_gy: Annotated[float | None, Field(gt=0)] = None
    lung_max_gy: Annotated[float | None, Field(gt=0)] = None
    tumour_min_gy: Annotated[float | None, Field(gt=0)] = None


class Plan(_M):
    """A radioembolization plan (``netlm/sirt-plan/v1``)."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, frozen=True, populate_by_name=True
    )

    schema_id: Literal["netlm/sirt-plan/v1"] = Field(alias="schema")
    case: str | None = None
    device: Literal["glass", "resin"]
    method: Literal["bsa", "mird", "partition"]
    treatment_start: dt.datetime | None = None
    vial_calibration: dt.datetime | None = Field(
        default=None,
        description="Calibration time of the vial at hand (glass: with vial_activity_gbq, the "
        "vial is evaluated first; resin: the calibration of the treatment day).",
    )
    vial_activity_gbq: Annotated[float | None, Field(gt=0, le=30)] = Field(
        default=None,
        description="Glass: nominal activity of the vial at hand at vial_calibration.",
    )
    patient: PatientSize = Field(default_factory=PatientSize)
    bsa_formula: BsaFormula = BsaFormula.DUBOIS
    whole_liver_volume_ml: Annotated[float | None, Field(ge=300, le=12000)] = None
    whole_liver_tumour_volume_ml: Annotated[float | None, Field(ge=0)] = None
    territories: tuple[PlanTerritory, ...]
    lung_shunt_fraction: Annotated[float, Field(ge=0, lt=1)]
    lung_shunt_method: LsfMethod | None = None
    lung_mass_kg: Annotated[float | None, Field(gt=0.2, lt=3.0)] = Field(
        default=None,
        description="Measured or stated lung mass; the 30/50 Gy limits are evaluated at the "
        "profile's 1 kg convention and also at this mass (either breach refuses).",
    )
    lung_mass_basis: LungMassBasis | None = Field(
        default=None,
        description="convention_1kg | ct_densitovolumetry | stated; needed with a lung_mass_kg "
        "other than the convention.",
    )
    prior_lung_dose_gy: Annotated[float, Field(ge=0, le=500)] = Field(
        default=0.0,
        description="Lung dose (Gy) of prior radioembolization sessions NOT listed in "
        "prior_treatments; it is added to the listed sessions' doses.",
    )
    prescription: Prescription | None = None
    expected_residual_fraction: Annotated[float | None, Field(ge=0, lt=0.5)] = None
    physics: Physics = Field(default_factory=Physics)
    override: Override | None = None
    uncertainty: Uncertainty | None = None
    optimise: Optimise | None = None
    prior_treatments: tuple[PriorTreatment, ...] = ()
    from_case: CaseContext | None = Field(
        default=None, description="Filled by --case: the case's values, for cross-checks."
    )
    compromised_liver: bool | None = Field(
        default=None,
        description="Pretreated or compromised liver (stricter resin normal-liver limit); "
        "by default true when prior TARE, PRRT or chemotherapy is recorded.",
    )

    @field_validator("treatment_start", "vial_calibration")
    @classmethod
    def _tz(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.utcoffset() is None:
            raise ValueError(
                f"{v.isoformat()} has no time zone; give one (e.g. +01:00) so that decay is "
                "computed over the right interval"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if not self.territories:
            raise ValueError("territories:: give at least one perfused territory")
        names = [t.name for t in self.territories]
        if len(set(names)) != len(names):
            raise ValueError("territories:: territory names must be unique")
        if self.whole_liver_volume_ml is not None:
            if (
                self.whole_liver_tumour_volume_ml is not None
                and self.whole_liver_tumour_volume_ml > self.whole_liver_volume_ml
            ):
                raise ValueError(
                    "whole_liver_tumour_volume_ml:: is larger than whole_liver_volume_ml"
                )
            perfused = sum(t.volume_ml for t in self.territories)
            if perfused > self.whole_liver_volume_ml * 1.0001:
                raise ValueError(
                    f"territories:: perfused volumes add up to {perfused:g} mL, more than the "
                    f"whole liver ({self.whole_liver_volume_ml:g} mL)"
                )
        if self.method == "bsa":
            if self.device != "resin":
                raise ValueError("method:: the BSA method is for resin microspheres")
            missing = [
                name
                for name, value in (
                    ("patient.height_cm", self.patient.height_cm),
                    ("patient.weight_kg", self.patient.weight_kg),
                    ("whole_liver_volume_ml", self.whole_liver_volume_ml),
                    ("whole_liver_tumour_volume_ml", self.whole_liver_tumour_volume_ml),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"method:: the BSA method needs {', '.join(missing)}")
            for rx in (self.prescription, *(t.prescription for t in self.territories)):
                if rx is not None and rx.target is not None and rx.target[0] != "activity_gbq":
                    raise ValueError(
                        "prescription:: the BSA method takes no dose target; give only "
                        "activity_gbq to prescribe the activity explicitly"
                    )
        else:
            for i, t in enumerate(self.territories):
                if not t.tumour_to_normal_known:
                    raise ValueError(
                        f"territories:: territories[{i}] ({t.name}): tumour_to_normal_ratio is "
                        f"needed with tumour_volume_ml for the {self.method} method"
                    )
                if (t.prescription or self.prescription) is None:
                    raise ValueError(
                        f"prescription:: territory {i} ({t.name}) has no prescription and the "
                        "plan gives none"
                    )
        if self.method == "mird":
            for t in self.territories:
                rx = t.prescription or self.prescription
                if (
                    rx is not None
                    and rx.target
                    and rx.target[0]
                    in (
                        "tumour_dose_gy",
                        "normal_liver_dose_gy",
                    )
                ):
                    raise ValueError(
                        "prescription:: the single-compartment (MIRD) method prescribes the "
                        "perfused dose or the activity; use method: partition for tumour or "
                        "normal-liver targets"
                    )
        if self.lung_mass_basis in ("ct_densitovolumetry", "stated") and self.lung_mass_kg is None:
            raise ValueError(
                f"lung_mass_kg:: lung_mass_basis {self.lung_mass_basis} needs the lung_mass_kg"
            )
        if self.vial_activity_gbq is not None:
            if self.device != "glass":
                raise ValueError(
                    "vial_activity_gbq:: is for a glass vial (resin: the vial is drawn from)"
                )
            if self.vial_calibration is None or self.treatment_start is None:
                raise ValueError(
                    "vial_calibration:: vial_activity_gbq needs vial_calibration and "
                    "treatment_start (both with a time zone)"
                )
            if len(self.territories) != 1:
                raise ValueError(
                    "vial_activity_gbq:: a glass vial is infused whole into one territory; "
                    "plan one territory per file to evaluate a given vial"
                )
        return self

    @property
    def liver_compromised(self) -> bool:
        """Whether the stricter limits for a pretreated/compromised liver apply."""
        if self.compromised_liver is not None:
            return self.compromised_liver
        pretreating = {"tare", "prrt", "prrt_intraarterial", "chemotherapy"}
        return any(t.type.value in pretreating for t in self.prior_treatments)

    @property
    def lung_mass(self) -> float:
        """The measured/stated lung mass, else the default profile's convention (1 kg)."""
        if self.lung_mass_kg is not None:
            return self.lung_mass_kg
        from netlm.eligibility.profile import default_profile

        return float(default_profile().parameters.lung_mass_kg)


def plan_from_mapping(data: object) -> Plan:
    """Validate a parsed plan document.

    Raises
    ------
    PlanError
        With one ``(field path, message)`` per problem.
    """
    if not isinstance(data, Mapping):
        raise PlanError([("", f"a plan must be a mapping, not {type(data).__name__}")])
    if data.get("schema") != PLAN_SCHEMA:
        raise PlanError([("schema", f"must be {PLAN_SCHEMA!r}")])
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError([_problem(e) for e in exc.errors(include_url=False)]) from None


def parse_plan(text: str | bytes, *, format: Format = "yaml") -> Plan:
    """Parse a plan from YAML or JSON text (read by :mod:`netlm.documents`).

    Raises
    ------
    PlanError
        If the text cannot be read safely or is not a valid plan.
    """
    return plan_from_mapping(parse_document(text, format=format, error=PlanError))


def load_plan(path: str | Path) -> Plan:
    """Read a plan file; ``.json`` is JSON, anything else YAML."""
    return parse_plan(read_bytes(path, error=PlanError), format=format_for(path))
