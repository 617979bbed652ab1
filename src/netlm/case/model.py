"""The patient case, ``netlm/case/v1``, as validated pydantic models.

Every field but ``schema`` and ``patient.id`` is optional: a missing field is
not an error, it makes the verdicts that need it say ``needs_information``.
Values that are impossible (a negative volume, Ki-67 above 100 %, a lung shunt
fraction of 7) or implausible for a living patient (bilirubin 40 mg/dL) are
refused with the field path.  Laboratory values that could be read two ways
carry a unit and are converted once, here, to the unit their property names
(``bilirubin_mg_dl``, ``albumin_g_dl``, ``creatinine_mg_dl``).

Plausibility limits are deliberately wide: they catch unit mix-ups and typing
errors, not abnormal results.  Each limit is stated in the field's description.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from netlm.units import canonical_unit, convert, units_for

SCHEMA_ID = "netlm/case/v1"


def _numeric(annotation: Any) -> bool:
    """Whether a field takes numbers and not booleans (``float | None``, ``int``...)."""
    args = get_args(annotation) or (annotation,)
    return bool({int, float} & set(args)) and bool not in args


class _Model(BaseModel):
    """Base of every case model: unknown fields are errors, NaN/inf are refused,
    and ``true``/``false`` is not accepted where a number is expected (pydantic
    would otherwise read ``ecog: true`` as ECOG 1)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(field.alias or name)
                if isinstance(value, bool) and _numeric(field.annotation):
                    raise ValueError(f"{name}:: must be a number, not {str(value).lower()}")
        return data

    @model_validator(mode="after")
    def _not_in_future(self, info: ValidationInfo) -> Any:
        # The core never reads the clock: the reader passes ``today`` in the
        # validation context (netlm.case.io.case_from_mapping), tests pin it.
        today = info.context.get("today") if isinstance(info.context, dict) else None
        if not isinstance(today, dt.date):
            return self
        for name in type(self).model_fields:
            value = getattr(self, name)
            day = value.date() if isinstance(value, dt.datetime) else value
            if isinstance(day, dt.date) and day > today:
                raise ValueError(f"{name}:: {value} is in the future (today is {today})")
        return self


# --------------------------------------------------------------------------- enums
class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class PrimarySite(StrEnum):
    PANCREAS = "pancreas"
    SMALL_INTESTINE = "small_intestine"
    STOMACH = "stomach"
    COLON = "colon"
    RECTUM = "rectum"
    APPENDIX = "appendix"
    LUNG = "lung"
    THYMUS = "thymus"
    UNKNOWN = "unknown"
    OTHER = "other"


class Differentiation(StrEnum):
    WELL = "well"
    POOR = "poor"
    UNKNOWN = "unknown"


class FunctionalSyndrome(StrEnum):
    NONE = "none"
    CARCINOID = "carcinoid"
    INSULINOMA = "insulinoma"
    GASTRINOMA = "gastrinoma"
    GLUCAGONOMA = "glucagonoma"
    VIPOMA = "vipoma"
    SOMATOSTATINOMA = "somatostatinoma"
    OTHER = "other"


class SstrModality(StrEnum):
    GA68_DOTATATE_PET = "ga68_dotatate_pet"
    GA68_DOTATOC_PET = "ga68_dotatoc_pet"
    GA68_DOTANOC_PET = "ga68_dotanoc_pet"
    IN111_PENTETREOTIDE = "in111_pentetreotide"
    TC99M_TEKTROTYD = "tc99m_tektrotyd"
    CU64_DOTATATE_PET = "cu64_dotatate_pet"

    @property
    def is_pet(self) -> bool:
        """Whether this is a PET tracer (the current standard, seed 001 §3)."""
        return self.value.endswith("_pet")


class ExtrahepaticDisease(StrEnum):
    NONE = "none"
    LIMITED = "limited"
    EXTENSIVE = "extensive"


class DiseaseCourse(StrEnum):
    STABLE = "stable"
    PROGRESSIVE = "progressive"
    NEW = "new"


class Distribution(StrEnum):
    UNILOBAR_RIGHT = "unilobar_right"
    UNILOBAR_LEFT = "unilobar_left"
    BILOBAR = "bilobar"


class Enhancement(StrEnum):
    HYPERVASCULAR = "hypervascular"
    ISOVASCULAR = "isovascular"
    HYPOVASCULAR = "hypovascular"
    UNKNOWN = "unknown"


class Structure(StrEnum):
    """Structures a lesion can abut (for ablation planning)."""

    MAIN_PORTAL_VEIN = "main_portal_vein"
    RIGHT_PORTAL_VEIN = "right_portal_vein"
    LEFT_PORTAL_VEIN = "left_portal_vein"
    PORTAL_VEIN = "portal_vein"
    HEPATIC_VEIN = "hepatic_vein"
    IVC = "ivc"
    HEPATIC_ARTERY = "hepatic_artery"
    BILE_DUCT = "bile_duct"
    HILUM = "hilum"
    GALLBLADDER = "gallbladder"
    DIAPHRAGM = "diaphragm"
    BOWEL = "bowel"
    STOMACH = "stomach"
    HEART = "heart"
    CAPSULE = "capsule"

    @property
    def is_large_vessel(self) -> bool:
        """A vessel large enough to cause a heat-sink effect."""
        return self in _LARGE_VESSELS

    @property
    def is_central_biliary(self) -> bool:
        """Central biliary structures that thermal ablation would injure."""
        return self in (Structure.BILE_DUCT, Structure.HILUM)


_LARGE_VESSELS = frozenset(
    {
        Structure.MAIN_PORTAL_VEIN,
        Structure.RIGHT_PORTAL_VEIN,
        Structure.LEFT_PORTAL_VEIN,
        Structure.PORTAL_VEIN,
        Structure.HEPATIC_VEIN,
        Structure.IVC,
        Structure.HEPATIC_ARTERY,
    }
)


class Ascites(StrEnum):
    NONE = "none"
    MILD = "mild"
    MODERATE_SEVERE = "moderate_severe"


class Encephalopathy(StrEnum):
    NONE = "none"
    GRADE_1_2 = "grade_1_2"
    GRADE_3_4 = "grade_3_4"


class BiliaryIntervention(StrEnum):
    NONE = "none"
    BILIOENTERIC_ANASTOMOSIS = "bilioenteric_anastomosis"
    SPHINCTEROTOMY = "sphincterotomy"
    PLASTIC_STENT = "plastic_stent"
    METAL_STENT = "metal_stent"


class ContrastAllergy(StrEnum):
    NONE = "none"
    MILD = "mild"
    SEVERE = "severe"


class PresenceStatus(StrEnum):
    ABSENT = "absent"
    PRESENT = "present"
    UNKNOWN = "unknown"


class TreatmentType(StrEnum):
    SSA = "ssa"
    PRRT = "prrt"
    PRRT_INTRAARTERIAL = "prrt_intraarterial"
    TARE = "tare"
    TAE = "tae"
    CTACE = "ctace"
    DEBTACE = "debtace"
    ABLATION = "ablation"
    RESECTION = "resection"
    TRANSPLANT = "transplant"
    CHEMOTHERAPY = "chemotherapy"
    TARGETED = "targeted"
    EXTERNAL_RADIOTHERAPY = "external_radiotherapy"
    OTHER = "other"


class Territory(StrEnum):
    WHOLE_LIVER = "whole_liver"
    RIGHT_LOBE = "right_lobe"
    LEFT_LOBE = "left_lobe"
    SEGMENTAL = "segmental"


class Device(StrEnum):
    RESIN = "resin"
    GLASS = "glass"


class LsfMethod(StrEnum):
    PLANAR = "planar"
    SPECT_CT = "spect_ct"


class Collaterals(StrEnum):
    NONE = "none"
    COILABLE = "coilable"
    UNAVOIDABLE = "unavoidable"


class InvolvementMethod(StrEnum):
    VOLUMETRY = "volumetry"
    VISUAL_ESTIMATE = "visual_estimate"


# --------------------------------------------------------------------------- patient
class Patient(_Model):
    id: Annotated[str, Field(min_length=1, max_length=128, description="Case identifier.")]
    age_years: Annotated[float | None, Field(default=None, ge=0, le=120)] = None
    sex: Sex | None = None
    ecog: Annotated[int | None, Field(default=None, ge=0, le=4, description="ECOG 0..4")] = None
    height_cm: Annotated[float | None, Field(default=None, ge=40, le=250)] = None
    weight_kg: Annotated[float | None, Field(default=None, ge=2, le=400)] = None
    life_expectancy_months: Annotated[float | None, Field(default=None, ge=0, le=600)] = None
    anaesthesia_contraindicated: bool | None = None
    pulmonary_function: Literal["normal", "compromised"] | None = None
    pregnant: bool | None = Field(
        default=None,
        description="Known pregnancy (true), pregnancy excluded (false), or not recorded. "
        "A pregnancy contraindicates the radiation-based options (TARE, radiation "
        "segmentectomy, PRRT) and is a caution for every other option.",
    )

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @model_validator(mode="after")
    def _pregnancy_consistent(self) -> Patient:
        if self.pregnant and self.sex is Sex.MALE:
            raise ValueError("pregnant:: true contradicts sex: male")
        return self


# --------------------------------------------------------------------------- tumour
class SstrImaging(_Model):
    modality: SstrModality | None = None
    positive: bool | None = None
    krenning_score: Annotated[int | None, Field(default=None, ge=0, le=4)] = None
    date: dt.date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SstrImaging:
        if self.positive is False and self.krenning_score is not None and self.krenning_score >= 2:
            raise ValueError(
                f"krenning_score:: {self.krenning_score} (uptake >= liver) contradicts "
                "positive: false"
            )
        return self


class FdgPet(_Model):
    performed: bool | None = None
    positive: bool | None = None
    date: dt.date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FdgPet:
        if self.performed is False and self.positive is not None:
            raise ValueError("positive:: is given but performed is false")
        return self


class Tumour(_Model):
    primary_site: PrimarySite | None = None
    primary_resected: bool | None = None
    differentiation: Differentiation | None = None
    ki67_percent: Annotated[float | None, Field(default=None, ge=0, le=100)] = None
    mitoses_per_2mm2: Annotated[float | None, Field(default=None, ge=0, le=500)] = None
    functional_syndrome: FunctionalSyndrome | None = None
    symptoms_refractory_to_ssa: bool | None = None
    sstr_imaging: SstrImaging | None = None
    fdg_pet: FdgPet | None = None
    extrahepatic_disease: ExtrahepaticDisease | None = None
    extrahepatic_resectable: bool | None = None
    liver_disease_course: DiseaseCourse | None = None
    months_stable: Annotated[float | None, Field(default=None, ge=0, le=600)] = None


# --------------------------------------------------------------------------- liver
Segment = Literal[1, 2, 3, 4, 5, 6, 7, 8]
_LEFT_SEGMENTS = frozenset({2, 3, 4})
_RIGHT_SEGMENTS = frozenset({5, 6, 7, 8})


class Lesion(_Model):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    segment: Segment | None = Field(
        default=None, description="Couinaud segment 1..8 (4a/4b are given as 4)."
    )
    longest_diameter_mm: Annotated[float | None, Field(default=None, gt=0, le=350)] = None
    enhancement: Enhancement | None = None
    abuts: tuple[Structure, ...] = ()

    @field_validator("segment", mode="before")
    @classmethod
    def _segment(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() in {"4a", "4b", "iva", "ivb"}:
            return 4
        if isinstance(v, str) and v.strip().isdigit():
            return int(v.strip())
        return v

    @property
    def lobe(self) -> Literal["right", "left"] | None:
        """The lobe by Couinaud segment (segment 1, the caudate, belongs to neither)."""
        if self.segment in _RIGHT_SEGMENTS:
            return "right"
        if self.segment in _LEFT_SEGMENTS:
            return "left"
        return None


class Liver(_Model):
    volume_ml: Annotated[float | None, Field(default=None, gt=0)] = None
    tumour_volume_ml: Annotated[float | None, Field(default=None, ge=0)] = None
    involvement_percent: Annotated[float | None, Field(default=None, ge=0, le=100)] = None
    involvement_method: InvolvementMethod | None = None
    distribution: Distribution | None = None
    lesion_count: int | Literal["too_numerous"] | None = None
    lesions: tuple[Lesion, ...] = ()
    portal_vein_thrombosis: bool | None = None
    biliary_dilatation: bool | None = None
    ascites: Ascites | None = None
    encephalopathy: Encephalopathy | None = None
    chronic_liver_disease: bool | None = None
    resectable_percent: Annotated[float | None, Field(default=None, ge=0, le=100)] = Field(
        default=None, description="Share of the liver metastases a surgeon judges removable."
    )
    future_liver_remnant_percent: Annotated[float | None, Field(default=None, ge=0, le=100)] = None

    #: Plausible whole-liver volume for an adult, including tumour (mL).  Massive
    #: NET hepatomegaly reaches about 10 L; below 300 mL is a unit error.
    VOLUME_RANGE_ML: ClassVar[tuple[float, float]] = (300.0, 12000.0)

    @field_validator("volume_ml")
    @classmethod
    def _volume_plausible(cls, v: float | None) -> float | None:
        lo, hi = cls.VOLUME_RANGE_ML
        if v is not None and not lo <= v <= hi:
            raise ValueError(f"{v:g} mL is implausible for a liver (expected {lo:g}..{hi:g} mL)")
        return v

    @field_validator("lesion_count", mode="before")
    @classmethod
    def _count(cls, v: Any) -> Any:
        if v is None or v == "too_numerous":
            return v
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1000:
            raise ValueError("must be a whole number 0..1000 or 'too_numerous'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Liver:
        if (
            self.volume_ml is not None
            and self.tumour_volume_ml is not None
            and self.tumour_volume_ml > self.volume_ml
        ):
            raise ValueError(
                f"tumour_volume_ml:: {self.tumour_volume_ml:g} mL is larger than the liver "
                f"volume_ml ({self.volume_ml:g} mL); the liver volume includes the tumour"
            )
        if isinstance(self.lesion_count, int) and self.lesion_count < len(self.lesions):
            raise ValueError(
                f"lesion_count:: {self.lesion_count} is smaller than the number of lesions "
                f"listed ({len(self.lesions)})"
            )
        ids = [lesion.id for lesion in self.lesions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"lesions:: lesion ids must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def lesion_total(self) -> int | Literal["too_numerous"] | None:
        """The lesion count, or the number of listed lesions when no count is given."""
        if self.lesion_count is not None:
            return self.lesion_count
        return len(self.lesions) if self.lesions else None


# --------------------------------------------------------------------------- labs
class _LabQuantity(_Model):
    """A laboratory value with an explicit unit, converted once to a canonical unit."""

    value: Annotated[float, Field(ge=0)]
    unit: str
    uln: Annotated[float | None, Field(default=None, gt=0)] = None
    lln: Annotated[float | None, Field(default=None, ge=0)] = None

    #: Analyte name for netlm.units, canonical unit, and plausible range in it.
    ANALYTE: ClassVar[str] = ""
    CANONICAL: ClassVar[str] = ""
    PLAUSIBLE: ClassVar[tuple[float, float]] = (0.0, float("inf"))

    @field_validator("unit")
    @classmethod
    def _unit_known(cls, v: str) -> str:
        try:
            unit = canonical_unit(v)
        except ValueError:
            unit = v
        allowed = units_for(cls.ANALYTE) if cls.ANALYTE else frozenset({cls.CANONICAL})
        if unit not in allowed:
            raise ValueError(
                f"unknown unit {v!r} for {cls.ANALYTE or 'this value'}; "
                f"use one of {', '.join(sorted(allowed))}"
            )
        return unit

    @model_validator(mode="after")
    def _plausible(self) -> _LabQuantity:
        lo, hi = self.PLAUSIBLE
        canonical = self.canonical_value
        if not lo <= canonical <= hi:
            raise ValueError(
                f"value:: {self.value:g} {self.unit} is implausible "
                f"(expected {lo:g}..{hi:g} {self.CANONICAL})"
            )
        if self.uln is not None and self.lln is not None and self.lln >= self.uln:
            raise ValueError("lln:: must be below uln")
        return self

    @property
    def canonical_value(self) -> float:
        """The value in the canonical unit of this analyte."""
        if not self.ANALYTE:
            return self.value
        return convert(self.value, self.unit, self.CANONICAL, analyte=self.ANALYTE)

    def canonical_limit(self, which: Literal["uln", "lln"]) -> float | None:
        """ULN or LLN in the canonical unit (limits are given in the value's unit)."""
        limit = self.uln if which == "uln" else self.lln
        if limit is None or not self.ANALYTE:
            return limit
        return convert(limit, self.unit, self.CANONICAL, analyte=self.ANALYTE)


class Bilirubin(_LabQuantity):
    ANALYTE: ClassVar[str] = "bilirubin"
    CANONICAL: ClassVar[str] = "mg/dL"
    #: Above 30 mg/dL (513 µmol/L) is almost certainly a unit mix-up.
    PLAUSIBLE: ClassVar[tuple[float, float]] = (0.05, 30.0)


class Albumin(_LabQuantity):
    ANALYTE: ClassVar[str] = "albumin"
    CANONICAL: ClassVar[str] = "g/dL"
    #: 0.5..7 g/dL: outside this range the value is a unit mix-up (g/L given as g/dL).
    PLAUSIBLE: ClassVar[tuple[float, float]] = (0.5, 7.0)


class Creatinine(_LabQuantity):
    ANALYTE: ClassVar[str] = "creatinine"
    CANONICAL: ClassVar[str] = "mg/dL"
    #: 0.1..25 mg/dL (8.8..2210 µmol/L).
    PLAUSIBLE: ClassVar[tuple[float, float]] = (0.1, 25.0)


class Aminotransferase(_LabQuantity):
    CANONICAL: ClassVar[str] = "U/L"
    PLAUSIBLE: ClassVar[tuple[float, float]] = (0.0, 20000.0)


class ChromograninA(_LabQuantity):
    CANONICAL: ClassVar[str] = "ng/mL"
    PLAUSIBLE: ClassVar[tuple[float, float]] = (0.0, 1.0e6)


class NtProBnp(_LabQuantity):
    CANONICAL: ClassVar[str] = "pg/mL"
    PLAUSIBLE: ClassVar[tuple[float, float]] = (0.0, 1.0e6)


class Labs(_Model):
    date: dt.date | None = None
    bilirubin: Bilirubin | None = None
    albumin: Albumin | None = None
    inr: Annotated[float | None, Field(default=None, ge=0.5, le=15)] = None
    ast: Aminotransferase | None = None
    alt: Aminotransferase | None = None
    creatinine: Creatinine | None = None
    egfr_ml_min: Annotated[float | None, Field(default=None, ge=0, le=250)] = None
    platelets_10e9_per_l: Annotated[float | None, Field(default=None, ge=0, le=3000)] = None
    leukocytes_10e9_per_l: Annotated[float | None, Field(default=None, ge=0, le=500)] = None
    chromogranin_a: ChromograninA | None = None
    nt_probnp: NtProBnp | None = None

    @property
    def bilirubin_mg_dl(self) -> float | None:
        """Total bilirubin in mg/dL."""
        return None if self.bilirubin is None else self.bilirubin.canonical_value

    @property
    def albumin_g_dl(self) -> float | None:
        """Serum albumin in g/dL."""
        return None if self.albumin is None else self.albumin.canonical_value

    @property
    def creatinine_mg_dl(self) -> float | None:
        """Serum creatinine in mg/dL."""
        return None if self.creatinine is None else self.creatinine.canonical_value


# --------------------------------------------------------------------------- history
class PriorTreatment(_Model):
    type: TreatmentType
    agent: Annotated[str | None, Field(default=None, max_length=128)] = None
    start: dt.date | None = None
    end: dt.date | None = None
    date: dt.date | None = None
    cycles: Annotated[int | None, Field(default=None, ge=1, le=50)] = None
    activity_gbq_per_cycle: Annotated[float | None, Field(default=None, gt=0, le=30)] = None
    activity_gbq: Annotated[float | None, Field(default=None, gt=0, le=30)] = None
    territory: Territory | None = None
    device: Device | None = None
    liver_dose_gy: Annotated[float | None, Field(default=None, ge=0, le=2000)] = None
    lung_dose_gy: Annotated[float | None, Field(default=None, ge=0, le=200)] = None
    lung_shunt_fraction: Annotated[float | None, Field(default=None, ge=0, lt=1)] = Field(
        default=None,
        description="Prior TARE: its lung shunt fraction; with activity_gbq it gives an "
        "estimated lung dose (labelled as such) when lung_dose_gy was not recorded.",
    )

    @model_validator(mode="after")
    def _dates(self) -> PriorTreatment:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end:: {self.end} is before start ({self.start})")
        return self


class History(_Model):
    biliary_intervention: tuple[BiliaryIntervention, ...] | None = None
    contrast_allergy: ContrastAllergy | None = None
    irreversible_coagulopathy: bool | None = None
    cardiac_arrhythmia: bool | None = None
    carcinoid_heart_disease: PresenceStatus | None = None
    prior_treatments: tuple[PriorTreatment, ...] | None = None

    @field_validator("biliary_intervention", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        if isinstance(v, str):
            return (v,)
        return v

    @field_validator("biliary_intervention")
    @classmethod
    def _none_alone(
        cls, v: tuple[BiliaryIntervention, ...] | None
    ) -> tuple[BiliaryIntervention, ...] | None:
        if v is not None and BiliaryIntervention.NONE in v and len(v) > 1:
            raise ValueError("'none' cannot be combined with other biliary interventions")
        return v

    @property
    def biliary_instrumented(self) -> bool | None:
        """Any prior biliary instrumentation (anastomosis, sphincterotomy, stent)."""
        if self.biliary_intervention is None:
            return None
        return any(b is not BiliaryIntervention.NONE for b in self.biliary_intervention)

    def treatments_of(self, *types: TreatmentType) -> tuple[PriorTreatment, ...]:
        """Prior treatments of the given types, in file order."""
        return tuple(t for t in self.prior_treatments or () if t.type in types)


# --------------------------------------------------------------------------- work-up
class Workup(_Model):
    lung_shunt_fraction: Annotated[float | None, Field(default=None, ge=0, le=1)] = Field(
        default=None, description="Lung shunt fraction as a fraction 0..1 (not percent)."
    )
    lung_shunt_method: LsfMethod | None = None
    extrahepatic_collaterals: Collaterals | None = None
    tumour_to_normal_ratio: Annotated[float | None, Field(default=None, gt=0, le=100)] = None
    estimated_lung_dose_gy: Annotated[float | None, Field(default=None, ge=0, le=500)] = None
    prior_lung_dose_gy: Annotated[float | None, Field(default=None, ge=0, le=500)] = None
    maa_date: dt.date | None = None


# --------------------------------------------------------------------------- case
class Case(_Model):
    """A patient case in the ``netlm/case/v1`` format.

    Examples
    --------
    >>> case = Case.model_validate({"schema": "netlm/case/v1", "patient": {"id": "X"}})
    >>> case.patient.id, case.labs.bilirubin_mg_dl
    ('X', None)
    """

    schema_id: Literal["netlm/case/v1"] = Field(alias="schema")
    patient: Patient
    tumour: Tumour = Field(default_factory=Tumour)
    liver: Liver = Field(default_factory=Liver)
    labs: Labs = Field(default_factory=Labs)
    history: History = Field(default_factory=History)
    workup: Workup = Field(default_factory=Workup)

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, frozen=True, populate_by_name=True
    )
