"""Synthetic NET liver-metastasis cohorts with known truth (seeded, reproducible).

:func:`generate_cohort` writes, for ``n_patients`` simulated patients treated
with radioembolization (resin or glass) or chemoembolization:

* ``cases/<id>.yaml`` — ``netlm/case/v1`` case files (baseline work-up);
* ``plans/<id>.yaml`` — ``netlm/sirt-plan/v1`` partition-model plans (TARE only);
* ``responses/<id>.yaml`` — ``netlm/response/v1`` lesion measurements
  (RECIST 1.1 and mRECIST) from baseline to the first progression;
* ``images/<id>-activity.nii.gz`` plus ``-liver``/``-tumour`` masks (TARE only,
  with ``images=True``): a small 90Y activity map in Bq/mL on an LPS grid;
* ``manifest.yaml`` (or ``.csv``) — the ``netlm/cohort-manifest/v1`` manifest;
* the follow-up tables of the ``netlm/cohort-data/v1`` folder format, in the
  same folder: ``patients.csv``, ``lesions.csv``, ``labs.csv``,
  ``observations.csv`` (columns in :data:`PATIENT_COLUMNS` and friends);
* ``truth.json`` — the model the data were drawn from.

The planted truth
-----------------
Dose-response
    Each liver lesion treated with 90Y responds (lesion-level CR or PR by
    RECIST 1.1) with probability ``1 / (1 + exp(-(D - threshold_gy) / scale_gy))``
    in its tumour-absorbed dose ``D`` (Gy, partition model, the dose
    ``netlm.sirt.planner.solve`` reports for it): 50 % at ``threshold_gy``.
    Chemoembolized lesions respond with a fixed probability.  A responding
    lesion shrinks by 35-100 % at the first scan, a non-responding one changes
    by -25..+12 %, so lesion-level CR/PR is exactly the planted response.
Survival
    Overall survival, hepatic and extrahepatic progression are exponential
    with proportional hazards (:data:`OVERALL_SURVIVAL` ...): a baseline median
    for NET G1, ECOG 0, no extrahepatic disease, and hazard ratios per grade,
    ECOG point and extent of extrahepatic disease; hepatic progression also
    halves for a patient whose planted lesion responses shrink the target sum
    by at least 30 %.  Progression is *detected* at the first scheduled scan
    (every 3 months for two years, then every 6) after the event; that scan's
    date is the recorded date.  Follow-up ends at death, loss to follow-up
    (exponential) or the data cut-off.
Hepatotoxicity
    Grade >= 3 (bilirubin > 3 x ULN, CTCAE v5) with probability logistic in the
    normal-liver dose (50 % at :data:`HEPATOTOXICITY_D50_GY`), seen on the
    day-30 or day-60 laboratory values; recorded only when that value was drawn.

Every draw comes from ``numpy.random.default_rng([seed, patient_index])``:
the same seed gives byte-identical files, and patient *i* is the same patient
in a cohort of 12 and in one of 1000.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import yaml

from netlm import __version__
from netlm.cohort.manifest import Manifest, PatientEntry, write_manifest
from netlm.units import (
    ALBUMIN_G_L_PER_G_DL,
    BQ_PER_GBQ,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    MM3_PER_ML,
    MM_PER_CM,
)

__all__ = [
    "COHORT_DATA_SCHEMA",
    "EXTRAHEPATIC_PROGRESSION",
    "HEPATIC_PROGRESSION",
    "LAB_COLUMNS",
    "LESION_COLUMNS",
    "OBSERVATION_COLUMNS",
    "OVERALL_SURVIVAL",
    "PATIENT_COLUMNS",
    "TRUTH_SCHEMA",
    "HazardModel",
    "SyntheticCohort",
    "generate_cohort",
]

COHORT_DATA_SCHEMA: Final = "netlm/cohort-data/v1"
TRUTH_SCHEMA: Final = "netlm/cohort-truth/v1"
PATIENT_COLUMNS: Final[tuple[str, ...]] = (
    "patient_id",
    "sex",
    "age_years",
    "grade",
    "ki67_percent",
    "ecog",
    "primary_site",
    "tumour_burden_percent",
    "extrahepatic_disease",
    "modality",
    "device",
    "prior_prrt",
    "treatment_date",
    "last_followup_date",
    "death_date",
    "hepatic_progression_date",
    "progression_date",
    "normal_liver_dose_gy",
    "hepatotoxicity_grade3plus",
)
LESION_COLUMNS: Final[tuple[str, ...]] = (
    "patient_id",
    "lesion_id",
    "tumour_dose_gy",
    "response_recist",
    "response_mrecist",
)
LAB_COLUMNS: Final[tuple[str, ...]] = ("patient_id", "date", "analyte", "value", "uln", "lln")
OBSERVATION_COLUMNS: Final[tuple[str, ...]] = ("patient_id", "date", "kind", "value")


@dataclass(frozen=True)
class HazardModel:
    """An exponential proportional-hazards model of one time-to-event outcome.

    Attributes
    ----------
    baseline_median_months
        Median for the reference patient: NET G1, ECOG 0, no extrahepatic
        disease (and no planted response).
    grade_hr
        Hazard ratio per WHO grade against NET G1.
    ecog_hr_per_point
        Hazard ratio per ECOG point.
    extrahepatic_hr
        Hazard ratio per extent of extrahepatic disease against ``none``.
    responder_hr
        Hazard ratio for a patient whose planted lesion responses shrink the
        RECIST target sum by at least 30 %.
    """

    baseline_median_months: float
    grade_hr: Mapping[str, float]
    ecog_hr_per_point: float = 1.0
    extrahepatic_hr: Mapping[str, float] = field(default_factory=dict)
    responder_hr: float = 1.0

    def rate_per_day(
        self, grade: str, ecog: int, extrahepatic: str, responder: bool = False
    ) -> float:
        """The patient's hazard (events per day)."""
        hr = (
            self.grade_hr.get(grade, 1.0)
            * self.ecog_hr_per_point**ecog
            * self.extrahepatic_hr.get(extrahepatic, 1.0)
            * (self.responder_hr if responder else 1.0)
        )
        return math.log(2.0) / (self.baseline_median_months * DAYS_PER_MONTH) * hr

    def as_json(self) -> dict[str, Any]:
        return {
            "model": "exponential, proportional hazards",
            "baseline": "NET G1, ECOG 0, extrahepatic_disease none, not a responder",
            "baseline_median_months": self.baseline_median_months,
            "hazard_ratios": {
                "grade": {"reference": "NET G1", **dict(self.grade_hr)},
                "ecog": {"per_point": self.ecog_hr_per_point},
                "extrahepatic_disease": {"reference": "none", **dict(self.extrahepatic_hr)},
                "responder": self.responder_hr,
            },
        }


#: Overall survival from the treatment date.
OVERALL_SURVIVAL: Final = HazardModel(
    baseline_median_months=96.0,
    grade_hr={"NET G2": 1.5, "NET G3": 2.0, "NEC": 4.0},
    ecog_hr_per_point=1.5,
    extrahepatic_hr={"limited": 1.3, "extensive": 2.0},
)
#: Hepatic progression (new or growing liver disease) from the treatment date.
HEPATIC_PROGRESSION: Final = HazardModel(
    baseline_median_months=24.0,
    grade_hr={"NET G2": 1.4, "NET G3": 2.0, "NEC": 3.0},
    responder_hr=0.5,
)
#: Extrahepatic progression from the treatment date.
EXTRAHEPATIC_PROGRESSION: Final = HazardModel(
    baseline_median_months=48.0,
    grade_hr={"NET G2": 1.3, "NET G3": 2.0, "NEC": 3.0},
    extrahepatic_hr={"limited": 1.5, "extensive": 2.5},
)

GRADES: Final = ("NET G1", "NET G2", "NET G3", "NEC")
_GRADE_P: Final = (0.30, 0.50, 0.15, 0.05)
_SITES: Final = ("small_intestine", "pancreas", "unknown", "lung", "rectum", "stomach")
_SITE_P: Final = (0.40, 0.33, 0.12, 0.06, 0.05, 0.04)
_EXTRAHEPATIC: Final = ("none", "limited", "extensive")
_EXTRAHEPATIC_P: Final = (0.55, 0.30, 0.15)
DEFAULT_MODALITIES: Final[Mapping[str, float]] = {
    "tare_resin": 0.45,
    "tare_glass": 0.40,
    "ctace": 0.15,
}
_DEVICE: Final = {"tare_resin": "resin", "tare_glass": "glass", "ctace": ""}
#: Prescribed normal-liver dose (Gy) drawn uniformly per device.
_NORMAL_LIVER_RX_GY: Final = {"resin": (20.0, 45.0), "glass": (35.0, 100.0)}
CTACE_RESPONSE_PROBABILITY: Final = 0.4
HEPATOTOXICITY_D50_GY: Final = 75.0
HEPATOTOXICITY_SCALE_GY: Final = 10.0
CTACE_HEPATOTOXICITY_PROBABILITY: Final = 0.05
LOSS_TO_FOLLOWUP_MEDIAN_MONTHS: Final = 180.0
#: Scan days after treatment: every 3 months for two years, then every 6 months.
_SCAN_DAYS: Final = (91, 182, 274, 365, 456, 547, 639, 730, *range(913, 3653, 183))
#: Upper limits of normal (and lower, albumin/platelets) in the labs.csv units.
_ULN: Final = {
    "bilirubin": 1.2,  # mg/dL
    "ast": 40.0,  # U/L
    "alt": 45.0,  # U/L
    "inr": 1.2,
    "creatinine": 1.2,  # mg/dL
}
_LLN: Final = {"albumin": 3.5, "platelets": 150.0}  # g/dL, 10^9/L


@dataclass(frozen=True)
class SyntheticCohort:
    """Where a generated cohort lies, and its truth.

    Attributes
    ----------
    root
        The folder: cases/, plans/, responses/, images/, the manifest, the
        ``netlm/cohort-data/v1`` tables and ``truth.json``.
    manifest
        The manifest file.
    patient_ids
        In manifest order.
    truth
        The content of ``truth.json``.
    """

    root: Path
    manifest: Path
    patient_ids: tuple[str, ...]
    truth: Mapping[str, Any]

    @property
    def data_dir(self) -> Path:
        """The ``netlm/cohort-data/v1`` folder (the root)."""
        return self.root

    def files(self) -> list[Path]:
        """Every file of the cohort, sorted by relative path."""
        return sorted(p for p in self.root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- helpers
def _r(x: float, digits: int = 1) -> float:
    return float(round(float(x), digits))


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])


#: libyaml's emitter when installed: the same text as PyYAML's, four times faster.
_DUMPER: Final[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _write_yaml(path: Path, doc: Mapping[str, Any], header: str) -> None:
    text = yaml.dump(dict(doc), Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(f"# {header}\n{text}", encoding="utf-8")


# ---------------------------------------------------------------------------- one patient
@dataclass
class _Lesion:
    id: str
    segment: int
    volume_ml: float
    diameter_mm: float
    tn_ratio: float
    dose_gy: float | None = None
    responder: bool = False
    change: float = 0.0  # relative change of the longest diameter at the first scan
    viable_fraction: float = 1.0  # viable diameter / baseline diameter at the first scan
    recist: str = "NE"
    mrecist: str = "NE"


@dataclass
class _Patient:
    pid: str
    index: int
    rng: np.random.Generator
    sex: str = ""
    age: int = 0
    grade: str = ""
    ki67: float = 0.0
    mitoses: float = 0.0
    ecog: int = 0
    site: str = ""
    extrahepatic: str = ""
    modality: str = ""
    device: str = ""
    prior_prrt: bool = False
    liver_ml: float = 0.0
    distribution: str = ""
    lesions: list[_Lesion] = field(default_factory=list)
    lsf: float = 0.0
    tn_mean: float = 0.0
    treatment: dt.date = dt.date(2000, 1, 1)
    baseline: dt.date = dt.date(2000, 1, 1)
    plan: dict[str, Any] | None = None
    injected_gbq: float | None = None
    normal_liver_gy: float | None = None
    case: dict[str, Any] = field(default_factory=dict)
    labs: dict[str, float] = field(default_factory=dict)
    ascites: str = "none"
    death_day: int | None = None
    last_day: int = 0
    scan_days: list[int] = field(default_factory=list)
    hepatic_day: int | None = None
    extrahepatic_day: int | None = None
    tox_day: int | None = None
    responder: bool = False

    @property
    def tumour_ml(self) -> float:
        return _r(sum(les.volume_ml for les in self.lesions), 1)

    def day(self, n: int) -> dt.date:
        return self.treatment + dt.timedelta(days=n)


def _demographics(p: _Patient, modalities: Mapping[str, float]) -> None:
    rng = p.rng
    p.sex = "female" if rng.random() < 0.5 else "male"
    p.age = int(np.clip(round(rng.normal(62.0, 11.0)), 28, 86))
    p.grade = str(rng.choice(GRADES, p=_GRADE_P))
    lo, hi = {"NET G1": (0.5, 2.9), "NET G2": (3.0, 20.0), "NET G3": (20.5, 55.0)}.get(
        p.grade, (25.0, 90.0)
    )
    p.ki67 = _r(rng.uniform(lo, hi))
    m_lo, m_hi = {"NET G1": (0.0, 1.9), "NET G2": (0.0, 15.0), "NET G3": (3.0, 40.0)}.get(
        p.grade, (10.0, 80.0)
    )
    p.mitoses = _r(rng.uniform(m_lo, m_hi))
    p.ecog = int(rng.choice(3, p=(0.5, 0.35, 0.15)))
    p.site = str(rng.choice(_SITES, p=_SITE_P))
    p.extrahepatic = str(rng.choice(_EXTRAHEPATIC, p=_EXTRAHEPATIC_P))
    names = sorted(modalities)
    weights = np.array([modalities[n] for n in names], dtype=float)
    p.modality = str(rng.choice(names, p=weights / weights.sum()))
    p.device = _DEVICE[p.modality]
    p.prior_prrt = bool(rng.random() < 0.25)


def _liver(p: _Patient) -> None:
    rng = p.rng
    p.liver_ml = float(round(np.clip(rng.normal(1750.0, 320.0), 1100.0, 3200.0)))
    p.distribution = str(
        rng.choice(("bilobar", "unilobar_right", "unilobar_left"), p=(0.6, 0.3, 0.1))
    )
    cap = {"bilobar": 0.6, "unilobar_right": 0.45, "unilobar_left": 0.25}[p.distribution]
    burden = float(np.clip(rng.lognormal(math.log(0.15), 0.7), 0.01, cap))
    n = int(min(1 + rng.poisson(3.0), 12))
    tumour_ml = max(p.liver_ml * burden, 0.8 * n)
    shares = rng.dirichlet(np.ones(n))
    volumes = 0.5 + shares * (tumour_ml - 0.5 * n)
    segments = {
        "unilobar_right": (5, 6, 7, 8),
        "unilobar_left": (2, 3, 4),
        "bilobar": (2, 3, 4, 5, 6, 7, 8),
    }[p.distribution]
    p.tn_mean = float(np.clip(rng.lognormal(math.log(3.0), 0.4), 1.2, 10.0))
    for i, v in enumerate(sorted(volumes, reverse=True)):
        # a bilobar patient's two largest lesions lie in both lobes
        both_lobes = p.distribution == "bilobar" and i < 2
        segment = (7, 3)[i] if both_lobes else int(rng.choice(segments))
        volume = _r(v, 1)
        diameter = _r(MM_PER_CM * (6.0 * volume / math.pi) ** (1.0 / 3.0), 1)
        tn = _r(float(np.clip(p.tn_mean * rng.lognormal(0.0, 0.35), 0.8, 15.0)), 2)
        p.lesions.append(_Lesion(f"L{i + 1}", segment, volume, diameter, tn))


def _labs(p: _Patient) -> None:
    rng = p.rng
    p.labs = {
        "bilirubin": _r(np.clip(rng.lognormal(math.log(0.7), 0.35), 0.25, 2.0), 2),
        "albumin": _r(np.clip(rng.normal(3.9, 0.35), 2.8, 4.8), 1),
        "inr": _r(np.clip(rng.normal(1.05, 0.07), 0.9, 1.4), 2),
        "ast": float(round(rng.uniform(16.0, 48.0))),
        "alt": float(round(rng.uniform(14.0, 52.0))),
        "creatinine": _r(np.clip(rng.normal(0.85, 0.15), 0.5, 1.5), 2),
        "platelets": float(round(np.clip(rng.normal(240.0, 60.0), 90.0, 450.0))),
    }
    p.ascites = "mild" if rng.random() < 0.08 else "none"


def _case_doc(p: _Patient) -> dict[str, Any]:
    rng = p.rng
    height = _r(rng.normal(176.0 if p.sex == "male" else 163.0, 7.0), 0)
    weight = _r(np.clip(rng.normal(80.0 if p.sex == "male" else 67.0, 12.0), 42.0, 140.0), 0)
    bili_si, alb_si = rng.random() < 0.25, rng.random() < 0.25
    labs = p.labs
    bilirubin = (
        {"value": _r(labs["bilirubin"] * 17.1, 1), "unit": "umol/L", "uln": 20.5}
        if bili_si
        else {"value": labs["bilirubin"], "unit": "mg/dL", "uln": _ULN["bilirubin"]}
    )
    albumin = (
        {"value": _r(labs["albumin"] * ALBUMIN_G_L_PER_G_DL, 0), "unit": "g/L"}
        if alb_si
        else {"value": labs["albumin"], "unit": "g/dL"}
    )
    poor = p.grade == "NEC"
    history: list[dict[str, Any]] = [
        {
            "type": "ssa",
            "agent": str(rng.choice(("lanreotide", "octreotide"))),
            "start": p.treatment - dt.timedelta(days=int(rng.integers(200, 1500))),
        }
    ]
    if p.prior_prrt:
        history.append(
            {
                "type": "prrt",
                "agent": "lu177_dotatate",
                "cycles": 4,
                "activity_gbq_per_cycle": 7.4,
                "end": p.treatment - dt.timedelta(days=int(rng.integers(180, 720))),
            }
        )
    doc: dict[str, Any] = {
        "schema": "netlm/case/v1",
        "patient": {
            "id": p.pid,
            "age_years": p.age,
            "sex": p.sex,
            "ecog": p.ecog,
            "height_cm": height,
            "weight_kg": weight,
        },
        "tumour": {
            "primary_site": p.site,
            "primary_resected": bool(rng.random() < 0.55),
            "differentiation": "poor" if poor else "well",
            "ki67_percent": p.ki67,
            "mitoses_per_2mm2": p.mitoses,
            "functional_syndrome": "carcinoid"
            if p.site == "small_intestine" and rng.random() < 0.4
            else "none",
            "sstr_imaging": {
                "modality": "ga68_dotatate_pet",
                "positive": not poor,
                "krenning_score": 1 if poor else int(rng.choice((2, 3, 4))),
            },
            "fdg_pet": {"performed": p.grade in ("NET G3", "NEC"), "positive": True}
            if p.grade in ("NET G3", "NEC")
            else {"performed": False},
            "extrahepatic_disease": p.extrahepatic,
            "liver_disease_course": "progressive",
            "months_stable": 0,
        },
        "liver": {
            "volume_ml": p.liver_ml,
            "tumour_volume_ml": p.tumour_ml,
            "involvement_method": "volumetry",
            "distribution": p.distribution,
            "lesion_count": len(p.lesions),
            "lesions": [
                {
                    "id": les.id,
                    "segment": les.segment,
                    "longest_diameter_mm": les.diameter_mm,
                    "enhancement": "hypervascular",
                }
                for les in p.lesions
            ],
            "portal_vein_thrombosis": False,
            "biliary_dilatation": False,
            "ascites": p.ascites,
            "encephalopathy": "none",
            "chronic_liver_disease": False,
        },
        "labs": {
            "date": p.baseline,
            "bilirubin": bilirubin,
            "albumin": albumin,
            "inr": labs["inr"],
            "ast": {"value": labs["ast"], "unit": "U/L", "uln": _ULN["ast"]},
            "alt": {"value": labs["alt"], "unit": "U/L", "uln": _ULN["alt"]},
            "creatinine": {"value": labs["creatinine"], "unit": "mg/dL"},
            "platelets_10e9_per_l": labs["platelets"],
        },
        "history": {
            "biliary_intervention": "none",
            "contrast_allergy": "none",
            "irreversible_coagulopathy": False,
            "cardiac_arrhythmia": False,
            "carcinoid_heart_disease": "absent",
            "prior_treatments": history,
        },
    }
    if p.device:
        doc["workup"] = {
            "lung_shunt_fraction": p.lsf,
            "lung_shunt_method": str(rng.choice(("spect_ct", "planar"), p=(0.7, 0.3))),
            "extrahepatic_collaterals": "none",
            "tumour_to_normal_ratio": _r(p.tn_mean, 2),
            "maa_date": p.treatment - dt.timedelta(days=int(rng.integers(7, 22))),
        }
    return doc


def _territory(p: _Patient) -> tuple[str, str, float]:
    """(name, kind, perfused volume in mL): the lobe when all tumour fits, else the liver."""
    share = {"unilobar_right": 0.62, "unilobar_left": 0.35}.get(p.distribution)
    if share is not None and p.tumour_ml <= 0.85 * share * p.liver_ml:
        name = "right_lobe" if p.distribution == "unilobar_right" else "left_lobe"
        return name, "lobar", float(round(share * p.liver_ml))
    return "whole_liver", "whole_liver", p.liver_ml


def _plan(p: _Patient) -> None:
    """Draw the prescription, solve the plan with netlm, keep the per-lesion doses."""
    from netlm.errors import UnsafePlanError
    from netlm.sirt.plan import plan_from_mapping
    from netlm.sirt.planner import solve

    rng = p.rng
    lo, hi = _NORMAL_LIVER_RX_GY[p.device]
    rx = _r(rng.uniform(lo, hi), 1)
    name, kind, volume = _territory(p)
    start = dt.datetime.combine(
        p.treatment, dt.time(10, 0), tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    for _ in range(12):
        doc: dict[str, Any] = {
            "schema": "netlm/sirt-plan/v1",
            "case": p.pid,
            "device": p.device,
            "method": "partition",
            "treatment_start": start.isoformat(),
            "whole_liver_volume_ml": p.liver_ml,
            "whole_liver_tumour_volume_ml": p.tumour_ml,
            "territories": [
                {
                    "name": name,
                    "kind": kind,
                    "volume_ml": volume,
                    "tumours": [
                        {
                            "name": les.id,
                            "volume_ml": les.volume_ml,
                            "tumour_to_normal_ratio": les.tn_ratio,
                        }
                        for les in p.lesions
                    ],
                }
            ],
            "lung_shunt_fraction": p.lsf,
            "prescription": {"normal_liver_dose_gy": rx},
        }
        try:
            result = solve(plan_from_mapping(doc))
        except UnsafePlanError:  # lung limit: prescribe less, as a physicist would
            rx = _r(rx * 0.8, 1)
            continue
        territory = result.territories[0]
        for les in p.lesions:
            les.dose_gy = float(territory.tumour_doses_gy[les.id])
        p.plan = doc
        p.injected_gbq = float(result.injected_activity_gbq)
        normal = territory.doses_gy.normal_liver  # None only without T:N (BSA plans)
        p.normal_liver_gy = None if normal is None else float(normal)
        return
    raise RuntimeError(f"{p.pid}: no safe plan found")  # pragma: no cover - LSF <= 0.15


def _responses(p: _Patient, threshold_gy: float, scale_gy: float) -> None:
    rng = p.rng
    for les in p.lesions:
        if les.dose_gy is not None:
            probability = _logistic((les.dose_gy - threshold_gy) / scale_gy)
        else:
            probability = CTACE_RESPONSE_PROBABILITY
        les.responder = bool(rng.random() < probability)
        if les.responder:
            shrink = float(rng.uniform(0.35, 1.0))
            les.change = -1.0 if shrink > 0.92 else -shrink
            viable = float(rng.uniform(0.0, 0.55))
            les.viable_fraction = 0.0 if viable < 0.1 or les.change == -1.0 else viable
        else:
            les.change = float(rng.uniform(-0.25, 0.12))
            les.viable_fraction = 1.0 + float(rng.uniform(-0.25, 0.05))
    targets = _targets(p)
    if targets:
        before = sum(t.diameter_mm for t in targets)
        after = sum(t.diameter_mm * (1.0 + t.change) for t in targets)
        p.responder = after <= 0.7 * before


def _targets(p: _Patient) -> list[_Lesion]:
    """RECIST targets: the two largest liver lesions of at least 10 mm."""
    return [les for les in p.lesions if les.diameter_mm >= 10.0][:2]


def _timeline(p: _Patient, cutoff: dt.date) -> None:
    rng = p.rng
    args = (p.grade, p.ecog, p.extrahepatic)
    t_death = rng.exponential(1.0 / OVERALL_SURVIVAL.rate_per_day(*args))
    t_hep = rng.exponential(1.0 / HEPATIC_PROGRESSION.rate_per_day(*args, p.responder))
    t_extra = rng.exponential(1.0 / EXTRAHEPATIC_PROGRESSION.rate_per_day(*args))
    t_lost = rng.exponential(LOSS_TO_FOLLOWUP_MEDIAN_MONTHS * DAYS_PER_MONTH / math.log(2.0))
    censor = min(float((cutoff - p.treatment).days), t_lost)
    if t_death <= censor:
        p.death_day = max(1, math.ceil(t_death))
        p.last_day = p.death_day
        last_scan = p.death_day - 1
    else:
        p.last_day = max(1, math.floor(censor))
        last_scan = p.last_day
    jitter = rng.integers(-7, 8, size=len(_SCAN_DAYS))
    p.scan_days = [d + int(j) for d, j in zip(_SCAN_DAYS, jitter, strict=True)]
    p.scan_days = [d for d in p.scan_days if d <= last_scan]
    p.hepatic_day = next((d for d in p.scan_days if d >= t_hep), None)
    p.extrahepatic_day = next((d for d in p.scan_days if d >= t_extra), None)


def _progression_day(p: _Patient) -> int | None:
    days = [d for d in (p.hepatic_day, p.extrahepatic_day) if d is not None]
    return min(days) if days else None


def _lesion_categories(p: _Patient, grower: str | None, scans: Sequence[int]) -> None:
    """Lesion-level best response by RECIST 1.1 (diameter) and mRECIST (viable diameter)."""
    rank = {"CR": 0, "PR": 1, "SD": 2, "PD": 3}

    def category(change: float) -> str:
        if change <= -1.0:
            return "CR"
        if change <= -0.3:
            return "PR"
        if change >= 0.2:
            return "PD"
        return "SD"

    progression = _progression_day(p)
    for les in p.lesions:
        if not scans:
            les.recist = les.mrecist = "NE"
            continue
        recist, mrecist = [], []
        for day in scans:
            grow = les.id == grower and day == p.hepatic_day
            recist.append(category(0.3 if grow else les.change))
            viable = 1.3 if grow else les.viable_fraction
            mrecist.append(category(-1.0 if viable == 0.0 else viable - 1.0))
            if day == progression:
                break
        les.recist = min(recist, key=rank.__getitem__)
        les.mrecist = min(mrecist, key=rank.__getitem__)


def _size(les: _Lesion, grow: bool) -> tuple[float, float]:
    """(longest, viable) diameters in mm at a follow-up scan."""
    if grow:
        size = _r(les.diameter_mm * 1.3, 1)
        return size, size
    longest = 0.0 if les.change <= -1.0 else _r(les.diameter_mm * (1.0 + les.change), 1)
    viable = _r(les.diameter_mm * les.viable_fraction, 1)
    return longest, min(viable, longest) if longest > 0 else 0.0


def _response_doc(p: _Patient) -> dict[str, Any]:
    """The response file (baseline and the scans up to the first progression)."""
    rng = p.rng
    targets = {les.id for les in _targets(p)}
    progression = _progression_day(p)
    scans = [d for d in p.scan_days if progression is None or d <= progression]
    non_responders = [les for les in p.lesions if not les.responder]
    grower = max(non_responders, key=lambda les: les.diameter_mm).id if non_responders else None
    baseline: list[dict[str, Any]] = []
    for les in p.lesions:
        obs: dict[str, Any] = {"id": les.id, "organ": "liver"}
        if les.id in targets:
            obs |= {"role": "target", "longest_mm": les.diameter_mm, "viable_mm": les.diameter_mm}
        else:
            obs |= {"role": "non_target", "status": "present"}
        baseline.append(obs)
    modality = str(rng.choice(("ct", "mri"), p=(0.7, 0.3)))
    points: list[dict[str, Any]] = [{"date": p.baseline, "modality": modality, "lesions": baseline}]
    for day in scans:
        lesions: list[dict[str, Any]] = []
        for les in p.lesions:
            grow = les.id == grower and day == p.hepatic_day
            longest, viable = _size(les, grow)
            if les.id in targets:
                if longest == 0.0:
                    lesions.append({"id": les.id, "status": "absent"})
                else:
                    lesions.append({"id": les.id, "longest_mm": longest, "viable_mm": viable})
            else:
                status = "absent" if longest == 0.0 else "present"
                if grow:
                    status = "unequivocal_progression"
                lesions.append({"id": les.id, "status": status})
        if day == p.hepatic_day:
            size = _r(rng.uniform(12.0, 25.0), 1)
            lesions.append(
                {"id": "N1", "organ": "liver", "role": "new", "longest_mm": size, "viable_mm": size}
            )
        if day == p.extrahepatic_day:
            organ = str(rng.choice(("bone", "peritoneum", "lung")))
            lesions.append({"id": "N2", "organ": organ, "role": "new", "status": "present"})
        points.append({"date": p.day(day), "modality": modality, "lesions": lesions})
    doc = {
        "schema": "netlm/response/v1",
        "case": p.pid,
        "reference_date": p.treatment,
        "criteria": ["recist1.1", "mrecist"],
        "timepoints": points,
    }
    _lesion_categories(p, grower, scans)
    return doc


def _toxicity(p: _Patient) -> None:
    rng = p.rng
    if p.normal_liver_gy is not None:
        x = (p.normal_liver_gy - HEPATOTOXICITY_D50_GY) / HEPATOTOXICITY_SCALE_GY
        probability = _logistic(x)
    else:
        probability = CTACE_HEPATOTOXICITY_PROBABILITY
    event = rng.random() < probability
    peak = int(rng.choice((30, 60)))
    p.tox_day = peak if event and peak <= p.last_day else None


def _lab_rows(p: _Patient) -> list[dict[str, object]]:
    rng = p.rng
    base = p.labs
    days = [d for d in (14, 30, 60, 90) if d <= p.last_day]
    days += [d for d in p.scan_days if d > 90]
    rows: list[dict[str, object]] = []

    def add(day: dt.date, analyte: str, value: float, digits: int) -> None:
        rows.append(
            {
                "patient_id": p.pid,
                "date": day.isoformat(),
                "analyte": analyte,
                "value": _r(value, digits),
                "uln": _ULN.get(analyte),
                "lln": _LLN.get(analyte),
            }
        )

    def panel(day: dt.date, values: Mapping[str, float]) -> None:
        digits = {"bilirubin": 2, "albumin": 1, "inr": 2, "creatinine": 2}
        for analyte in ("bilirubin", "ast", "alt", "albumin", "platelets", "inr", "creatinine"):
            add(day, analyte, values[analyte], digits.get(analyte, 0))

    panel(p.baseline, base)
    uln_bili = _ULN["bilirubin"]
    treated = p.device != ""
    for d in days:
        v = dict(base)
        noise = float(rng.lognormal(0.0, 0.12))
        v["bilirubin"] = min(base["bilirubin"] * noise * 1.05, 2.5 * uln_bili)
        v["ast"] = base["ast"] * float(rng.lognormal(0.0, 0.15))
        v["alt"] = base["alt"] * float(rng.lognormal(0.0, 0.15))
        if d == 14:  # post-embolization transaminase rise, below grade 3
            v["ast"] = min(base["ast"] * float(rng.uniform(1.5, 3.0)), 4.5 * _ULN["ast"])
            v["alt"] = min(base["alt"] * float(rng.uniform(1.5, 3.0)), 4.5 * _ULN["alt"])
        v["albumin"] = max(base["albumin"] + float(rng.normal(-0.05, 0.15)), 2.5)
        drop = 0.85 if treated and d >= 30 else 1.0
        v["platelets"] = max(base["platelets"] * drop * float(rng.lognormal(0.0, 0.08)), 60.0)
        v["inr"] = min(max(base["inr"] + float(rng.normal(0.0, 0.04)), 0.85), 1.6)
        v["creatinine"] = min(max(base["creatinine"] * float(rng.lognormal(0.0, 0.08)), 0.4), 2.0)
        if p.tox_day is not None and d == p.tox_day:
            v["bilirubin"] = uln_bili * float(rng.uniform(3.3, 6.0))
            v["albumin"] = max(base["albumin"] - 0.6, 2.5)
            v["inr"] = min(base["inr"] + 0.2, 1.6)
        elif p.tox_day is not None and p.tox_day < d <= p.tox_day + 60:
            v["bilirubin"] = uln_bili * float(rng.uniform(1.6, 2.8))
        panel(p.day(d), v)
    return rows


def _observation_rows(p: _Patient) -> list[dict[str, object]]:
    rng = p.rng
    spleen0 = float(round(np.clip(rng.normal(220.0, 50.0), 100.0, 450.0)))
    growth_per_year = 0.04 + 0.002 * (p.normal_liver_gy or 0.0) if p.device else 0.0
    rows: list[dict[str, object]] = []

    def add(day: dt.date, kind: str, value: object) -> None:
        rows.append({"patient_id": p.pid, "date": day.isoformat(), "kind": kind, "value": value})

    add(p.baseline, "ascites", p.ascites)
    add(p.baseline, "spleen_volume_ml", spleen0)
    for d in p.scan_days:
        reild = p.tox_day is not None and p.tox_day <= d <= p.tox_day + 120
        add(p.day(d), "ascites", "mild" if reild else p.ascites)
        wobble = float(rng.normal(0.0, 0.03))
        add(
            p.day(d),
            "spleen_volume_ml",
            _r(spleen0 * (1 + growth_per_year * d / DAYS_PER_YEAR + wobble), 0),
        )
    return rows


# ---------------------------------------------------------------------------- images
def _write_images(
    p: _Patient, folder: Path, shape: tuple[int, int, int], voxel_mm: float
) -> tuple[Path, tuple[tuple[str, Path], ...]]:
    """Activity (Bq/mL) and liver/tumour masks of one TARE patient, as NIfTI."""
    import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows
    from scipy import ndimage

    rng = p.rng
    nk, nj, ni = shape
    k, j, i = np.meshgrid(
        (np.arange(nk) - (nk - 1) / 2) * voxel_mm,
        (np.arange(nj) - (nj - 1) / 2) * voxel_mm,
        (np.arange(ni) - (ni - 1) / 2) * voxel_mm,
        indexing="ij",
    )
    # Liver: an ellipsoid with axes 1.45 : 1.1 : 1 (i, j, k) holding the case's volume.
    c = (p.liver_ml * MM3_PER_ML * 3.0 / (4.0 * math.pi) / (1.45 * 1.1)) ** (1.0 / 3.0)
    axes = (1.45 * c, 1.1 * c, c)
    inside = (i / axes[0]) ** 2 + (j / axes[1]) ** 2 + (k / axes[2]) ** 2
    liver = inside <= 1.0
    # The perfused territory: the whole liver, or the share of it on the lobe's side
    # (LPS: +i is the patient's left, so the right lobe lies at low i).
    name, _, perfused_ml = _territory(p)
    perfused = liver.copy()
    cut: float | None = None
    if name != "whole_liver" and liver.any():
        share = perfused_ml / p.liver_ml
        if name == "right_lobe":
            cut = float(np.quantile(i[liver], share))
            perfused &= i <= cut
        else:
            cut = float(np.quantile(i[liver], 1.0 - share))
            perfused &= i >= cut
    weight = np.where(perfused, 1.0, 0.0)
    tumour = np.zeros(shape, dtype=bool)
    for les in p.lesions:
        radius = MM_PER_CM * (3.0 * les.volume_ml / (4.0 * math.pi)) ** (1.0 / 3.0)
        shrink = np.array([max(a - radius, 1.0) for a in axes])
        centre = np.zeros(3)
        for _ in range(100):  # a centre inside the territory, the sphere clear of its edge
            centre = rng.uniform(-1.0, 1.0, size=3) * shrink
            in_liver = float(np.sum((centre / shrink) ** 2)) <= 1.0
            in_lobe = (
                cut is None
                or (name == "right_lobe" and centre[0] <= cut - radius)
                or (name == "left_lobe" and centre[0] >= cut + radius)
            )
            if in_liver and in_lobe:
                break
        sphere = (i - centre[0]) ** 2 + (j - centre[1]) ** 2 + (k - centre[2]) ** 2 <= radius**2
        sphere &= perfused
        weight[sphere] = les.tn_ratio
        tumour |= sphere
    voxel_ml = voxel_mm**3 / MM3_PER_ML
    liver_gbq = (p.injected_gbq or 0.0) * (1.0 - p.lsf)
    total = float(weight.sum()) * voxel_ml
    concentration = weight * (liver_gbq * BQ_PER_GBQ / total if total > 0 else 0.0)  # Bq/mL
    fwhm_mm = 8.0  # 90Y PET resolution
    blurred = ndimage.gaussian_filter(concentration, sigma=fwhm_mm / 2.3548 / voxel_mm)
    noisy = blurred * (1.0 + 0.05 * rng.standard_normal(shape))
    activity = np.clip(noisy, 0.0, None).astype(np.float32)
    origin = (-(ni - 1) / 2 * voxel_mm, -(nj - 1) / 2 * voxel_mm, -(nk - 1) / 2 * voxel_mm)

    def write(array: np.ndarray, name: str) -> Path:
        image: Any = sitk.GetImageFromArray(array)
        image.SetSpacing((voxel_mm, voxel_mm, voxel_mm))
        image.SetOrigin(origin)
        path = folder / f"{p.pid}-{name}.nii.gz"
        sitk.WriteImage(image, str(path), True)
        return path

    act = write(activity, "activity")
    masks = (
        ("liver", write(liver.astype(np.uint8), "liver")),
        ("tumour", write(tumour.astype(np.uint8), "tumour")),
    )
    return act, masks


# ---------------------------------------------------------------------------- cohort
def generate_cohort(
    out_dir: str | Path,
    n_patients: int,
    *,
    seed: int,
    threshold_gy: float = 120.0,
    dose_response_scale_gy: float = 25.0,
    images: bool = False,
    image_shape: tuple[int, int, int] = (36, 52, 60),
    voxel_mm: float = 5.0,
    modalities: Mapping[str, float] | None = None,
    manifest_format: Literal["yaml", "csv"] = "yaml",
    accrual: tuple[dt.date, dt.date] = (dt.date(2018, 1, 1), dt.date(2023, 12, 31)),
    data_cutoff: dt.date = dt.date(2025, 6, 30),
) -> SyntheticCohort:
    """Write a synthetic cohort with known truth into ``out_dir``.

    Parameters
    ----------
    out_dir
        The folder (created; files of an earlier cohort with the same names are replaced).
    n_patients
        Number of patients (1..100000); ids ``SYN-0001``...
    seed
        Seed of every random draw; the same seed gives byte-identical files.
    threshold_gy
        Tumour-absorbed dose (Gy) at which a lesion responds with probability 50 %.
    dose_response_scale_gy
        Scale of the logistic dose-response (Gy); 10-90 % spans 4.4 scales.
    images
        Also write a 90Y activity image (Bq/mL) and liver/tumour masks per TARE patient.
    image_shape, voxel_mm
        Grid of the images (k, j, i voxels) and its isotropic voxel size in mm.
    modalities
        Treatment mix, e.g. ``{"tare_glass": 1.0}``; keys ``tare_resin``,
        ``tare_glass``, ``ctace`` (default :data:`DEFAULT_MODALITIES`).
    manifest_format
        ``"yaml"`` (``manifest.yaml``) or ``"csv"`` (``manifest.csv``).
    accrual, data_cutoff
        Treatment dates are drawn uniformly in ``accrual``; follow-up ends at ``data_cutoff``.

    Returns
    -------
    SyntheticCohort
        The folder, the manifest, the patient ids and the truth.

    Raises
    ------
    ValueError
        If an argument is out of range (the message names it).
    """
    if not 1 <= n_patients <= 100_000:
        raise ValueError(f"Argument 'n_patients' must be 1..100000, not {n_patients}")
    if not (threshold_gy > 0 and dose_response_scale_gy > 0):
        raise ValueError("Arguments 'threshold_gy' and 'dose_response_scale_gy' must be > 0")
    if voxel_mm <= 0 or len(image_shape) != 3 or min(image_shape) < 8:
        raise ValueError("Argument 'image_shape' needs 3 sizes >= 8 and 'voxel_mm' > 0")
    mix = dict(DEFAULT_MODALITIES if modalities is None else modalities)
    unknown = sorted(set(mix) - set(_DEVICE))
    if unknown or not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(
            f"Argument 'modalities' must map {', '.join(_DEVICE)} to weights >= 0 "
            f"(got {sorted(mix)})"
        )
    if not accrual[0] <= accrual[1] < data_cutoff:
        raise ValueError("Argument 'accrual' must be (start, end) with end before 'data_cutoff'")
    if manifest_format not in ("yaml", "csv"):
        raise ValueError(f"Argument 'manifest_format' must be yaml or csv, not {manifest_format!r}")

    root = Path(out_dir)
    folders = {name: root / name for name in ("cases", "plans", "responses", "images")}
    for name, folder in folders.items():
        if name != "images" or images:
            folder.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(n_patients)))
    accrual_days = (accrual[1] - accrual[0]).days
    entries: list[PatientEntry] = []
    patient_rows: list[dict[str, object]] = []
    lesion_rows: list[dict[str, object]] = []
    lab_rows: list[dict[str, object]] = []
    observation_rows: list[dict[str, object]] = []
    stats = {"tare": 0, "lesions": 0, "lesions_with_dose": 0, "lesion_responders": 0}
    stats |= {"deaths": 0, "hepatic_progressions": 0, "progressions": 0, "hepatotoxicity": 0}

    for index in range(n_patients):
        pid = f"SYN-{index + 1:0{width}d}"
        p = _Patient(pid=pid, index=index, rng=np.random.default_rng([seed, index]))
        _demographics(p, mix)
        p.treatment = accrual[0] + dt.timedelta(days=int(p.rng.integers(0, accrual_days + 1)))
        p.baseline = p.treatment - dt.timedelta(days=int(p.rng.integers(7, 29)))
        _liver(p)
        _labs(p)
        if p.device:
            p.lsf = _r(float(np.clip(p.rng.lognormal(math.log(0.06), 0.5), 0.01, 0.15)), 3)
            _plan(p)
        _responses(p, threshold_gy, dose_response_scale_gy)
        _timeline(p, data_cutoff)
        _toxicity(p)
        p.case = _case_doc(p)
        response = _response_doc(p)

        case_path = folders["cases"] / f"{pid}.yaml"
        _write_yaml(case_path, p.case, f"netlm/case/v1 - synthetic patient {pid} (seed {seed})")
        response_path = folders["responses"] / f"{pid}.yaml"
        _write_yaml(response_path, response, f"netlm/response/v1 - synthetic patient {pid}")
        plan_path: Path | None = None
        activity: Path | None = None
        masks: tuple[tuple[str, Path], ...] = ()
        if p.plan is not None:
            plan_path = folders["plans"] / f"{pid}.yaml"
            _write_yaml(plan_path, p.plan, f"netlm/sirt-plan/v1 - synthetic patient {pid}")
            if images:
                activity, masks = _write_images(p, folders["images"], image_shape, voxel_mm)
        entries.append(
            PatientEntry(
                patient_id=pid,
                case=case_path,
                plan=plan_path,
                response=response_path,
                activity_image=activity,
                masks=masks,
                row=f"patients[{index}]",
            )
        )
        progression = _progression_day(p)
        patient_rows.append(
            {
                "patient_id": pid,
                "sex": p.sex,
                "age_years": p.age,
                "grade": p.grade,
                "ki67_percent": p.ki67,
                "ecog": p.ecog,
                "primary_site": p.site,
                "tumour_burden_percent": _r(100.0 * p.tumour_ml / p.liver_ml, 1),
                "extrahepatic_disease": p.extrahepatic,
                "modality": p.modality,
                "device": p.device,
                "prior_prrt": p.prior_prrt,
                "treatment_date": p.treatment.isoformat(),
                "last_followup_date": p.day(p.last_day).isoformat(),
                "death_date": _iso(None if p.death_day is None else p.day(p.death_day)),
                "hepatic_progression_date": _iso(
                    None if p.hepatic_day is None else p.day(p.hepatic_day)
                ),
                "progression_date": _iso(None if progression is None else p.day(progression)),
                "normal_liver_dose_gy": None
                if p.normal_liver_gy is None
                else _r(p.normal_liver_gy, 2),
                "hepatotoxicity_grade3plus": p.tox_day is not None,
            }
        )
        for les in p.lesions:
            lesion_rows.append(
                {
                    "patient_id": pid,
                    "lesion_id": les.id,
                    "tumour_dose_gy": None if les.dose_gy is None else _r(les.dose_gy, 2),
                    "response_recist": les.recist,
                    "response_mrecist": les.mrecist,
                }
            )
        lab_rows.extend(_lab_rows(p))
        observation_rows.extend(_observation_rows(p))
        stats["tare"] += p.plan is not None
        stats["lesions"] += len(p.lesions)
        stats["lesions_with_dose"] += sum(les.dose_gy is not None for les in p.lesions)
        stats["lesion_responders"] += sum(les.recist in ("CR", "PR") for les in p.lesions)
        stats["deaths"] += p.death_day is not None
        stats["hepatic_progressions"] += p.hepatic_day is not None
        stats["progressions"] += progression is not None
        stats["hepatotoxicity"] += p.tox_day is not None

    _write_csv(root / "patients.csv", PATIENT_COLUMNS, patient_rows)
    _write_csv(root / "lesions.csv", LESION_COLUMNS, lesion_rows)
    _write_csv(root / "labs.csv", LAB_COLUMNS, lab_rows)
    _write_csv(root / "observations.csv", OBSERVATION_COLUMNS, observation_rows)
    manifest_path = root / f"manifest.{manifest_format}"
    write_manifest(
        Manifest(patients=tuple(entries), name=f"synthetic cohort, seed {seed}"),
        manifest_path,
        format=manifest_format,
    )
    truth = _truth(
        seed=seed,
        n_patients=n_patients,
        threshold_gy=threshold_gy,
        scale_gy=dose_response_scale_gy,
        mix=mix,
        accrual=accrual,
        data_cutoff=data_cutoff,
        stats=stats,
    )
    (root / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return SyntheticCohort(
        root=root,
        manifest=manifest_path,
        patient_ids=tuple(e.patient_id for e in entries),
        truth=truth,
    )


def _truth(
    *,
    seed: int,
    n_patients: int,
    threshold_gy: float,
    scale_gy: float,
    mix: Mapping[str, float],
    accrual: tuple[dt.date, dt.date],
    data_cutoff: dt.date,
    stats: Mapping[str, int],
) -> dict[str, Any]:
    return {
        "schema": TRUTH_SCHEMA,
        "data_format": COHORT_DATA_SCHEMA,
        "generator": f"netlm.cohort.synthetic {__version__}",
        "seed": seed,
        "n_patients": n_patients,
        "modalities": dict(sorted(mix.items())),
        "time": {
            "origin": "treatment_date",
            "days_per_month": DAYS_PER_MONTH,
            "accrual": [accrual[0].isoformat(), accrual[1].isoformat()],
            "data_cutoff": data_cutoff.isoformat(),
            "loss_to_followup_median_months": LOSS_TO_FOLLOWUP_MEDIAN_MONTHS,
            "scan_days": "every 3 months for 2 years, then every 6 months (+-7 days)",
            "progression_date": "first scan after the event (hepatic or extrahepatic)",
        },
        "dose_response": {
            "unit": "lesion",
            "variable": "tumour_dose_gy",
            "outcome": "response_recist in {CR, PR}",
            "model": "logistic",
            "formula": "p = 1 / (1 + exp(-(tumour_dose_gy - threshold_gy) / scale_gy))",
            "threshold_gy": threshold_gy,
            "scale_gy": scale_gy,
            "probability_at_threshold": 0.5,
            "ctace_response_probability": CTACE_RESPONSE_PROBABILITY,
        },
        "overall_survival": OVERALL_SURVIVAL.as_json(),
        "hepatic_progression": HEPATIC_PROGRESSION.as_json(),
        "extrahepatic_progression": EXTRAHEPATIC_PROGRESSION.as_json(),
        "responder_definition": "planted lesion responses shrink the RECIST target sum >= 30 %",
        "hepatotoxicity": {
            "outcome": "hepatotoxicity_grade3plus (bilirubin > 3 x ULN on day 30 or 60)",
            "model": "logistic",
            "variable": "normal_liver_dose_gy",
            "d50_gy": HEPATOTOXICITY_D50_GY,
            "scale_gy": HEPATOTOXICITY_SCALE_GY,
            "ctace_probability": CTACE_HEPATOTOXICITY_PROBABILITY,
        },
        "observations": {"ascites": "none | mild | moderate_severe", "spleen_volume_ml": "mL"},
        "realised": dict(stats),
    }
