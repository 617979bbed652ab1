"""Single-compartment (MIRD) and partition-model dosimetry.

Notation (``shared/reference/dosimetry.md``, Models): A injected activity
(GBq), C the dose constant (Gy·kg/GBq), LSF the lung shunt fraction, M masses
in kg, T/N the tumour-to-normal activity-*concentration* ratio.

* Single compartment (source ``mird_single_compartment``):
  D = C · A · (1 − LSF) / M, so A = D · M / (C · (1 − LSF)).
* Partition (source ``partition_model``): D_N = C · A · (1 − LSF) /
  (Σ T/N_i · M_Ti + M_N), D_Ti = T/N_i · D_N.  With every T/N = 1 it is the
  single-compartment answer.
* Lung: D_L = C · A · LSF / M_lung (injected, not vial, activity).

Every dose is linear in A, so each model is written as "dose per GBq" and the
solvers divide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netlm.errors import PlanError


@dataclass(frozen=True)
class Tumour:
    """A tumour compartment: its mass and its tumour-to-normal ratio."""

    name: str
    mass_kg: float
    tumour_to_normal_ratio: float


@dataclass(frozen=True)
class DosesPerGbq:
    """Absorbed dose per injected GBq in each compartment of one territory."""

    normal_liver: float
    tumours: tuple[float, ...]
    perfused: float
    lung: float


def _check(lsf: float, constant: float, lung_mass_kg: float) -> None:
    problems = []
    if not 0 <= lsf < 1:
        problems.append(("lung_shunt_fraction", f"must be in [0, 1), not {lsf:g}"))
    if constant <= 0:
        problems.append(("physics.dose_constant_gy_kg_per_gbq", "must be > 0"))
    if lung_mass_kg <= 0:
        problems.append(("lung_mass_kg", "must be > 0"))
    if problems:
        raise PlanError(problems)


def doses_per_gbq(
    *,
    normal_mass_kg: float,
    tumours: Sequence[Tumour] = (),
    lsf: float,
    constant_gy_kg_per_gbq: float,
    lung_mass_kg: float,
) -> DosesPerGbq:
    """Dose per GBq injected into a territory (partition; no tumour = single compartment).

    Examples
    --------
    >>> d = doses_per_gbq(normal_mass_kg=1.0, lsf=0.0, constant_gy_kg_per_gbq=50.0,
    ...                   lung_mass_kg=1.0)
    >>> d.normal_liver, d.perfused, d.lung
    (50.0, 50.0, 0.0)
    """
    _check(lsf, constant_gy_kg_per_gbq, lung_mass_kg)
    if normal_mass_kg < 0 or any(t.mass_kg < 0 for t in tumours):
        raise PlanError([("territories", "masses must be >= 0")])
    if any(t.tumour_to_normal_ratio <= 0 for t in tumours):
        raise PlanError([("territories", "tumour_to_normal_ratio must be > 0")])
    tumour_mass = sum(t.mass_kg for t in tumours)
    perfused_mass = normal_mass_kg + tumour_mass
    if perfused_mass <= 0:
        raise PlanError([("territories", "the perfused volume must be > 0")])
    liver_energy = constant_gy_kg_per_gbq * (1.0 - lsf)  # Gy·kg deposited in the liver per GBq
    weighted = normal_mass_kg + sum(t.tumour_to_normal_ratio * t.mass_kg for t in tumours)
    normal = liver_energy / weighted
    return DosesPerGbq(
        normal_liver=normal,
        tumours=tuple(t.tumour_to_normal_ratio * normal for t in tumours),
        perfused=liver_energy / perfused_mass,
        lung=constant_gy_kg_per_gbq * lsf / lung_mass_kg,
    )


def _profile(name: str, value: float | None) -> float:
    """``value``, or the default rule profile's parameter ``name`` (one home per number)."""
    if value is not None:
        return value
    from netlm.eligibility.profile import default_profile

    return float(default_profile().value(name))


def mird_activity_gbq(
    dose_gy: float, mass_kg: float, *, lsf: float, constant_gy_kg_per_gbq: float | None = None
) -> float:
    """Single-compartment activity for a perfused dose: A = D · M / (C · (1 − LSF)).

    ``constant_gy_kg_per_gbq`` defaults to the rule profile's dose constant.

    Examples
    --------
    >>> round(mird_activity_gbq(120, 1.0815, lsf=0.07, constant_gy_kg_per_gbq=49.67), 4)
    2.8095
    """
    c = _profile("dose_constant_gy_kg_per_gbq", constant_gy_kg_per_gbq)
    _check(lsf, c, 1.0)
    return dose_gy * mass_kg / (c * (1.0 - lsf))


def mird_dose_gy(
    activity_gbq: float, mass_kg: float, *, lsf: float, constant_gy_kg_per_gbq: float | None = None
) -> float:
    """Single-compartment perfused dose of an injected activity (constant: the profile's)."""
    c = _profile("dose_constant_gy_kg_per_gbq", constant_gy_kg_per_gbq)
    _check(lsf, c, 1.0)
    if mass_kg <= 0:
        raise PlanError([("territories", "the perfused mass must be > 0")])
    return c * activity_gbq * (1.0 - lsf) / mass_kg


def lung_dose_gy(
    activity_gbq: float,
    *,
    lsf: float,
    lung_mass_kg: float | None = None,
    constant_gy_kg_per_gbq: float | None = None,
) -> float:
    """Lung dose D_L = C · A · LSF / M_lung.

    ``lung_mass_kg`` and ``constant_gy_kg_per_gbq`` default to the rule
    profile's (1 kg convention of the limits, 49.67 Gy·kg/GBq).

    Examples
    --------
    >>> round(lung_dose_gy(3.0, lsf=0.1, lung_mass_kg=1.0), 3)
    14.901
    """
    c = _profile("dose_constant_gy_kg_per_gbq", constant_gy_kg_per_gbq)
    mass = _profile("lung_mass_kg", lung_mass_kg)
    _check(lsf, c, mass)
    return c * activity_gbq * lsf / mass
