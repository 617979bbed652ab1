"""Every unit conversion netlm knows, in one table.

Quantities inside netlm are plain floats in the unit their name carries
(``bilirubin_mg_dl``, ``albumin_g_dl``). A value that arrives with a unit is
converted here, once, at the boundary; an unknown unit is a :class:`UnitError`,
never a guess.

Sources
-------
Bilirubin 1 mg/dL = 17.1 µmol/L (molar mass 584.66 g/mol); albumin 1 g/dL =
10 g/L; creatinine 1 mg/dL = 88.4 µmol/L (molar mass 113.12 g/mol). All three
as stated in ``shared/reference/eligibility.md`` "Liver function" and in
standard laboratory practice.

The scale factors of dosimetry and follow-up (seconds per hour, Bq per GBq, mm³
per mL, mm per cm, g per kg, joules per MeV, days per month) live here too, as
named constants: they are definitions (SI; the Julian year for the month), not
measurements, so they carry no certainty grade.  No other module multiplies or
divides by a bare 60, 24, 1000 or 365.25 (``tests/test_architecture.py`` checks it).

Examples
--------
>>> round(convert(1.0, "mg/dL", "umol/L", analyte="bilirubin"), 1)
17.1
>>> convert(35.0, "g/L", "g/dL", analyte="albumin")
3.5
"""

from __future__ import annotations

from typing import Final

from netlm.errors import UnitError

#: Spellings accepted for each canonical unit symbol.
_ALIASES: Final[dict[str, str]] = {
    "mg/dl": "mg/dL",
    "umol/l": "umol/L",
    "µmol/l": "umol/L",
    "μmol/l": "umol/L",  # Greek mu as well as micro sign
    "micromol/l": "umol/L",
    "g/dl": "g/dL",
    "g/l": "g/L",
    "u/l": "U/L",
    "iu/l": "U/L",
    "ng/ml": "ng/mL",
    "ug/l": "ng/mL",
    "µg/l": "ng/mL",
    "pg/ml": "pg/mL",
    "ng/l": "pg/mL",
    "gbq": "GBq",
    "mbq": "MBq",
    "mci": "mCi",
    "bq": "Bq",
    "kbq": "kBq",
    "bq/ml": "Bq/mL",
    "kbq/ml": "kBq/mL",
    "mbq/ml": "MBq/mL",
}

#: Factor that multiplies a value in the first unit to give the second, per analyte.
_FACTORS: Final[dict[tuple[str, str, str], float]] = {
    ("bilirubin", "mg/dL", "umol/L"): 17.1,
    ("albumin", "g/dL", "g/L"): 10.0,
    ("creatinine", "mg/dL", "umol/L"): 88.4,
    ("activity", "GBq", "MBq"): 1000.0,
    # 1 mCi = 37 MBq exactly (definition of the curie: 3.7e10 Bq).
    ("activity", "mCi", "MBq"): 37.0,
    ("activity", "mCi", "GBq"): 0.037,
    # Activity per voxel and activity concentration of images (SI prefixes; 1 mL = 1 cm³).
    ("voxel_activity", "kBq", "Bq"): 1e3,
    ("voxel_activity", "MBq", "Bq"): 1e6,
    ("activity_concentration", "kBq/mL", "Bq/mL"): 1e3,
    ("activity_concentration", "MBq/mL", "Bq/mL"): 1e6,
}


def canonical_unit(unit: str) -> str:
    """Return the canonical spelling of ``unit``.

    Raises
    ------
    UnitError
        If the unit is not one netlm knows.
    """
    key = unit.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnitError(f"unknown unit {unit!r}")


def clean_float(value: float) -> float:
    """Drop binary floating-point noise from a computed value (12 significant digits).

    51.3 µmol/L / 17.1 is 2.9999999999999996 in binary floating point; a
    laboratory value has nowhere near 12 significant digits, so rounding there
    makes an exact threshold (bilirubin >= 3 mg/dL) behave as a clinician reads it.

    Examples
    --------
    >>> clean_float(51.3 / 17.1)
    3.0
    """
    return float(f"{value:.12g}")


def convert(value: float, from_unit: str, to_unit: str, *, analyte: str) -> float:
    """Convert ``value`` of ``analyte`` from ``from_unit`` to ``to_unit``.

    Parameters
    ----------
    value
        The number to convert.
    from_unit, to_unit
        Unit symbols in any accepted spelling (``"mg/dL"``, ``"umol/L"``, ...).
    analyte
        What is measured (``"bilirubin"``, ``"albumin"``, ``"creatinine"``,
        ``"activity"``); the factor depends on it.

    Raises
    ------
    UnitError
        If either unit is unknown or no conversion exists for this analyte.
    """
    src, dst = canonical_unit(from_unit), canonical_unit(to_unit)
    if src == dst:
        return value
    if (analyte, src, dst) in _FACTORS:
        return clean_float(value * _FACTORS[(analyte, src, dst)])
    if (analyte, dst, src) in _FACTORS:
        return clean_float(value / _FACTORS[(analyte, dst, src)])
    raise UnitError(f"cannot convert {analyte} from {from_unit!r} to {to_unit!r}")


def units_for(analyte: str) -> frozenset[str]:
    """The canonical units that ``analyte`` can be given in."""
    found: set[str] = set()
    for name, a, b in _FACTORS:
        if name == analyte:
            found.update((a, b))
    return frozenset(found)


BILIRUBIN_UMOL_L_PER_MG_DL: Final[float] = _FACTORS[("bilirubin", "mg/dL", "umol/L")]
ALBUMIN_G_L_PER_G_DL: Final[float] = _FACTORS[("albumin", "g/dL", "g/L")]
CREATININE_UMOL_L_PER_MG_DL: Final[float] = _FACTORS[("creatinine", "mg/dL", "umol/L")]


# ---------------------------------------------------------------------------- scale factors
#: Milliseconds per second.
MS_PER_S: Final[float] = 1000.0
#: Seconds per minute.
S_PER_MIN: Final[int] = 60
#: Minutes per hour.
MIN_PER_H: Final[int] = 60
#: Seconds per hour.
S_PER_H: Final[float] = 3600.0
#: Hours per day.
H_PER_DAY: Final[float] = 24.0
#: Seconds per day.
S_PER_DAY: Final[float] = 86400.0
#: Days per week.
DAYS_PER_WEEK: Final[float] = 7.0
#: Days per year: the Julian year (IAU), the mean calendar year used for follow-up times.
DAYS_PER_YEAR: Final[float] = 365.25
#: Months per year.
MONTHS_PER_YEAR: Final[float] = 12.0
#: Millimetres per centimetre.
MM_PER_CM: Final[float] = 10.0
#: Bq per kBq.
BQ_PER_KBQ: Final[float] = 1e3
#: Bq per MBq.
BQ_PER_MBQ: Final[float] = 1e6
#: Bq per GBq.
BQ_PER_GBQ: Final[float] = 1e9
#: Gy per mGy.
GY_PER_MGY: Final[float] = 1e-3
#: kg per g (so kg per mL at a density in g/mL).
KG_PER_G: Final[float] = 1e-3
#: mm³ per mL (cm³): a voxel of 2 x 2 x 2 mm holds 8 / 1000 = 0.008 mL.
MM3_PER_ML: Final[float] = 1000.0
#: g per kg.
G_PER_KG: Final[float] = 1000.0
#: Joules per MeV, exact since the 2019 SI (elementary charge 1.602176634e-19 C).
J_PER_MEV: Final[float] = 1.602176634e-13
#: mGy per Gy times MBq·s per Bq·s: S in mGy/(MBq·s) from Gy/(Bq·s) (1e3 / 1e-6).
MGY_PER_MBQ_S_PER_GY_PER_BQ_S: Final[float] = 1e9
#: Days per month: a Julian year (365.25 days) over 12 (30.4375).
DAYS_PER_MONTH: Final[float] = DAYS_PER_YEAR / MONTHS_PER_YEAR
