"""Unit plausibility across fields: values that are possible alone but, read
together with the rest of the case, look like the wrong unit.

A bilirubin of 2.5 "µmol/L" (0.15 mg/dL) is low but possible; in a patient
whose albumin is 2.6 g/dL and INR 2.0 it is far more likely to be 2.5 mg/dL
written with the wrong unit, and 2.5 mg/dL changes radioembolization verdicts.
Such a case is not refused (the value might be right): the assessment carries
a warning that names the field, the likely mix-up and the value the verdicts
used.

The thresholds are named constants; the seeds say nothing about unit errors,
so the source (``lab_unit_plausibility``) is tagged ``U``.

Examples
--------
>>> from netlm.case import parse_case
>>> case = parse_case(
...     "schema: netlm/case/v1\\npatient: {id: W1}\\n"
...     "labs: {bilirubin: {value: 2.5, unit: umol/L}, albumin: {value: 2.6, unit: g/dL}}"
... )
>>> [w.field for w in unit_warnings(case)]
['labs.bilirubin']
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict

from netlm.case.model import Ascites, Case, Encephalopathy
from netlm.evidence import Source, get_source
from netlm.units import ALBUMIN_G_L_PER_G_DL, BILIRUBIN_UMOL_L_PER_MG_DL

#: Upper limit of normal of total bilirubin (mg/dL), usual adult reference interval.
BILIRUBIN_ULN_MG_DL: Final[float] = 1.2
#: Lower limit of the usual reference interval of total bilirubin (µmol/L).
BILIRUBIN_LLN_UMOL_L: Final[float] = 5.0
#: Markedly raised total bilirubin (mg/dL), about four times the upper limit of normal.
BILIRUBIN_MARKED_MG_DL: Final[float] = 5.0
#: Upper limit of the usual reference interval of total bilirubin (µmol/L).
BILIRUBIN_ULN_UMOL_L: Final[float] = 21.0
#: Albumin below this (g/dL) scores Child-Pugh points: a sign of liver dysfunction.
ALBUMIN_LOW_G_DL: Final[float] = 3.5
#: INR above this scores Child-Pugh points.
INR_HIGH: Final[float] = 1.7
#: Albumin below this (g/L, i.e. 1.5 g/dL) is rarely compatible with life; given
#: in g/L it is more likely a g/dL value with the wrong unit.
ALBUMIN_SUSPECT_BELOW_G_L: Final[float] = 15.0

SOURCE_ID: Final = "lab_unit_plausibility"


class InputWarning(BaseModel):
    """A value that was accepted but looks wrong; the board should check it.

    Attributes
    ----------
    field
        The field path, e.g. ``labs.bilirubin``.
    message
        What looks wrong, the likely cause and the value the verdicts used.
    sources
        Where the plausibility rule comes from.
    """

    model_config = ConfigDict(frozen=True)

    field: str
    message: str
    sources: tuple[Source, ...]


def _dysfunction(case: Case) -> list[str]:
    """The recorded signs of liver dysfunction (Child-Pugh points above 1)."""
    labs, liver = case.labs, case.liver
    signs = []
    if labs.albumin_g_dl is not None and labs.albumin_g_dl < ALBUMIN_LOW_G_DL:
        signs.append(f"albumin {labs.albumin_g_dl:g} g/dL")
    if labs.inr is not None and labs.inr > INR_HIGH:
        signs.append(f"INR {labs.inr:g}")
    if liver.ascites is not None and liver.ascites is not Ascites.NONE:
        signs.append(f"{liver.ascites.value.replace('_', '/')} ascites")
    if liver.encephalopathy is not None and liver.encephalopathy is not Encephalopathy.NONE:
        signs.append("encephalopathy " + liver.encephalopathy.value.replace("_", " "))
    return signs


def _normal_function(case: Case) -> list[str] | None:
    """The recorded normal liver markers, or ``None`` if any marker is abnormal."""
    if _dysfunction(case):
        return None
    labs, liver = case.labs, case.liver
    normal = []
    if labs.albumin_g_dl is not None:
        normal.append(f"albumin {labs.albumin_g_dl:g} g/dL")
    if labs.inr is not None:
        normal.append(f"INR {labs.inr:g}")
    if liver.ascites is Ascites.NONE and liver.encephalopathy is Encephalopathy.NONE:
        normal.append("no ascites or encephalopathy")
    return normal


def unit_warnings(case: Case) -> tuple[InputWarning, ...]:
    """Warnings for laboratory values whose unit looks wrong given the rest of the case.

    Three rules (thresholds are the module constants):

    * bilirubin in µmol/L below the reference interval (< 5 µmol/L) while the
      same number in mg/dL would be raised (>= 1.2), and liver dysfunction is
      recorded (albumin < 3.5 g/dL, INR > 1.7, ascites or encephalopathy):
      probably mg/dL;
    * bilirubin in mg/dL that is markedly raised (> 5 mg/dL) but would be normal
      in µmol/L (<= 21), while every recorded liver marker is normal: probably
      µmol/L;
    * albumin in g/L below 15 g/L (1.5 g/dL): probably g/dL.
    """
    sources = (get_source(SOURCE_ID),)
    out: list[InputWarning] = []
    bili = case.labs.bilirubin
    if bili is not None:
        value = bili.value
        if bili.unit == "umol/L" and BILIRUBIN_ULN_MG_DL <= value < BILIRUBIN_LLN_UMOL_L:
            signs = _dysfunction(case)
            if signs:
                out.append(
                    InputWarning(
                        field="labs.bilirubin",
                        message=(
                            f"bilirubin {value:g} µmol/L ({bili.canonical_value:.2g} mg/dL) is "
                            f"below the normal range, yet {' and '.join(signs)} point to liver "
                            f"dysfunction: was {value:g} mg/dL "
                            f"({value * BILIRUBIN_UMOL_L_PER_MG_DL:.3g} µmol/L) meant? Check "
                            f"the unit; the verdicts used {bili.canonical_value:.2g} mg/dL"
                        ),
                        sources=sources,
                    )
                )
        elif (
            bili.unit == "mg/dL"
            and BILIRUBIN_MARKED_MG_DL < value <= BILIRUBIN_ULN_UMOL_L
            and (normal := _normal_function(case))
        ):
            out.append(
                InputWarning(
                    field="labs.bilirubin",
                    message=(
                        f"bilirubin {value:g} mg/dL is marked jaundice, yet "
                        f"{', '.join(normal)} are normal: was {value:g} µmol/L "
                        f"({value / BILIRUBIN_UMOL_L_PER_MG_DL:.2g} mg/dL) meant? Check the "
                        f"unit; the verdicts used {value:g} mg/dL"
                    ),
                    sources=sources,
                )
            )
    albumin = case.labs.albumin
    if albumin is not None and albumin.unit == "g/L" and albumin.value < ALBUMIN_SUSPECT_BELOW_G_L:
        out.append(
            InputWarning(
                field="labs.albumin",
                message=(
                    f"albumin {albumin.value:g} g/L ({albumin.value / ALBUMIN_G_L_PER_G_DL:g} "
                    f"g/dL) is below {ALBUMIN_SUSPECT_BELOW_G_L:g} g/L, rarely seen in a living "
                    f"patient: was {albumin.value:g} g/dL meant? Check the unit; the verdicts "
                    f"used {albumin.canonical_value:g} g/dL"
                ),
                sources=sources,
            )
        )
    return tuple(out)
