"""Dose limits, targets and evidence for radioembolization, each with its provenance.

Severity says what a breach means:

* ``hard`` — a safety limit; the plan is refused (:class:`~netlm.errors.UnsafePlanError`)
  unless it carries an override with a reason (lung 30/50 Gy, resin LSF > 20 %).
* ``limit`` — a guideline limit (EANM 2022); a breach is a warning.
* ``target`` — a dose to reach for the intent; missing it is a warning.
* ``evidence`` — a published NET (or other) figure shown beside the plan, never a
  limit: there are no NET-specific guideline thresholds (dosimetry.md).

The hard limits (lung 30/50 Gy, resin LSF 20 %) are the rule profile's
``lung_dose_limit_single_gy``, ``lung_dose_limit_cumulative_gy`` and
``resin_lsf_max``: :func:`constraints` builds the list from a profile, so that
a centre's profile changes the board's verdict and the planner's refusal alike.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from netlm.eligibility.profile import RuleProfile, default_profile


class Severity(StrEnum):
    HARD = "hard"
    LIMIT = "limit"
    TARGET = "target"
    EVIDENCE = "evidence"


Quantity = Literal[
    "lung", "lung_cumulative", "lung_shunt_fraction", "normal_liver", "tumour", "perfused"
]


class Constraint(BaseModel):
    """One dose constraint: ``quantity`` must be ``<=`` (max) or ``>=`` (min) ``value``."""

    model_config = ConfigDict(frozen=True)

    id: str
    description: str
    quantity: Quantity
    bound: Literal["max", "min"]
    value: float
    unit: str
    severity: Severity
    devices: tuple[Literal["glass", "resin"], ...] = ("glass", "resin")
    territory_kinds: tuple[str, ...] = ("whole_liver", "lobar", "segmental", "unspecified")
    methods: tuple[str, ...] = ("bsa", "mird", "partition")
    only_if_compromised_liver: bool = False
    population: str
    source_ids: tuple[str, ...]


def _c(**kw: object) -> Constraint:
    return Constraint.model_validate(kw)


#: Profile parameter behind each constraint whose number lives in the rule profile.
PROFILE_PARAMETERS: dict[str, str] = {
    "lung_single": "lung_dose_limit_single_gy",
    "lung_cumulative": "lung_dose_limit_cumulative_gy",
    "resin_lsf": "resin_lsf_max",
}


def constraints(profile: RuleProfile | None = None) -> tuple[Constraint, ...]:
    """Every constraint netlm checks, in report order, with the profile's limits.

    Parameters
    ----------
    profile
        The rule profile (default: netlm's own); the values of
        :data:`PROFILE_PARAMETERS` come from it.
    """
    p = profile or default_profile()
    return tuple(
        c.model_copy(update={"value": float(p.value(PROFILE_PARAMETERS[c.id]))})
        if c.id in PROFILE_PARAMETERS
        else c
        for c in _CONSTRAINTS
    )


_NaN = float("nan")  # placeholder: the value comes from the profile (constraints())

_CONSTRAINTS: tuple[Constraint, ...] = (
    _c(
        id="lung_single",
        description="lung dose per treatment",
        quantity="lung",
        bound="max",
        value=_NaN,
        unit="Gy",
        severity=Severity.HARD,
        population="NET",
        source_ids=("lung_dose_limits", "tare_absolute_004"),
    ),
    _c(
        id="lung_cumulative",
        description="cumulative lung dose incl. prior treatments",
        quantity="lung_cumulative",
        bound="max",
        value=_NaN,
        unit="Gy",
        severity=Severity.HARD,
        population="NET",
        source_ids=("lung_dose_limits", "tare_absolute_004"),
    ),
    _c(
        id="resin_lsf",
        description="resin: lung shunt fraction",
        quantity="lung_shunt_fraction",
        bound="max",
        value=_NaN,
        unit="fraction",
        severity=Severity.HARD,
        devices=("resin",),
        population="device label",
        source_ids=("resin_lsf_tiers", "tare_table1_001"),
    ),
    # EANM 2022, resin (Table 3)
    _c(
        id="resin_normal_liver_40",
        description="resin: normal liver (unilobar/bilobar)",
        quantity="normal_liver",
        bound="max",
        value=40.0,
        unit="Gy",
        severity=Severity.LIMIT,
        devices=("resin",),
        methods=("partition",),
        population="guideline (HCC/mCRC)",
        source_ids=("eanm2022_resin",),
    ),
    _c(
        id="resin_normal_liver_30_compromised",
        description="resin: normal liver, pretreated or compromised liver",
        quantity="normal_liver",
        bound="max",
        value=30.0,
        unit="Gy",
        severity=Severity.LIMIT,
        devices=("resin",),
        methods=("partition",),
        only_if_compromised_liver=True,
        population="guideline (HCC/mCRC)",
        source_ids=("eanm2022_resin",),
    ),
    _c(
        id="resin_segmentectomy_150",
        description="resin: segmentectomy perfused dose",
        quantity="perfused",
        bound="min",
        value=150.0,
        unit="Gy",
        severity=Severity.TARGET,
        devices=("resin",),
        territory_kinds=("segmental",),
        population="guideline (HCC)",
        source_ids=("eanm2022_resin",),
    ),
    # EANM 2022, glass (Table 2)
    _c(
        id="glass_whole_normal_liver_75",
        description="glass: whole normal liver",
        quantity="normal_liver",
        bound="max",
        value=75.0,
        unit="Gy",
        severity=Severity.LIMIT,
        devices=("glass",),
        territory_kinds=("whole_liver",),
        methods=("partition",),
        population="guideline (HCC)",
        source_ids=("eanm2022_glass",),
    ),
    _c(
        id="glass_hcc_tumour_205",
        description="glass: tumour dose for HCC response",
        quantity="tumour",
        bound="min",
        value=205.0,
        unit="Gy",
        severity=Severity.EVIDENCE,
        devices=("glass",),
        methods=("partition",),
        population="HCC",
        source_ids=("eanm2022_glass",),
    ),
    _c(
        id="segmentectomy_190",
        description="radiation segmentectomy (single compartment)",
        quantity="perfused",
        bound="min",
        value=190.0,
        unit="Gy",
        severity=Severity.TARGET,
        devices=("glass",),
        territory_kinds=("segmental",),
        population="HCC",
        source_ids=("segmentectomy_lewandowski",),
    ),
    # NET evidence (seeds 001, 004)
    _c(
        id="net_tumour_minimum_100",
        description="NET: minimum tumour dose for response",
        quantity="tumour",
        bound="min",
        value=100.0,
        unit="Gy",
        severity=Severity.TARGET,
        methods=("partition",),
        population="NET",
        source_ids=("net_tumour_min_001",),
    ),
    _c(
        id="net_resin_response_191",
        description="NET resin: tumour dose predicting response",
        quantity="tumour",
        bound="min",
        value=191.3,
        unit="Gy",
        severity=Severity.EVIDENCE,
        devices=("resin",),
        methods=("partition",),
        population="NET",
        source_ids=("net_resin_response_004",),
    ),
    _c(
        id="net_resin_no_response_72",
        description="NET resin: below this, no response predicted",
        quantity="tumour",
        bound="min",
        value=72.8,
        unit="Gy",
        severity=Severity.EVIDENCE,
        devices=("resin",),
        methods=("partition",),
        population="NET",
        source_ids=("net_resin_response_004",),
    ),
    _c(
        id="net_normal_liver_toxicity_59",
        description="NET: normal-liver dose seen with "
        "hepatotoxicity (59.1 Gy) vs without (25.4 Gy)",
        quantity="normal_liver",
        bound="max",
        value=59.1,
        unit="Gy",
        severity=Severity.EVIDENCE,
        methods=("partition",),
        population="NET",
        source_ids=("net_normal_liver_004",),
    ),
)


#: Every constraint with the default profile's limits, in report order.
CONSTRAINTS: tuple[Constraint, ...] = constraints()


def constraint(constraint_id: str) -> Constraint:
    """The constraint with this id (default profile)."""
    for c in CONSTRAINTS:
        if c.id == constraint_id:
            return c
    raise KeyError(constraint_id)


HARD_LIMIT_IDS: tuple[str, ...] = tuple(c.id for c in CONSTRAINTS if c.severity is Severity.HARD)
