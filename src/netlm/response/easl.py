"""EASL criteria (Bruix et al. 2001), adapted for NET: bidimensional enhancing tumour.

Each target contributes its enhancing (viable) area, ``viable_mm x
viable_perpendicular_mm``, an exact integer of hundredths of a square
millimetre.  CR: no enhancing tumour; PR: >= 50 % decrease; PD: >= 25 %
increase; otherwise SD (``shared/reference/response.md`` §EASL).

Documented choices
------------------
* **PD reference: the nadir, operator ``>=``** by default, as for WHO, whose
  bidimensional method EASL applies to the enhancing tumour; both are
  parameters.
* Targets without viable diameters at baseline (or ``enhancing: false``) are
  left out with a warning; lymph-node targets, measured by short axis only,
  are therefore usually left out.  A follow-up target with ``enhancing:
  false`` and no viable diameters has no enhancing tumour (0 mm²).
* A lesion "too small to measure" counts as 5 mm x 5 mm = 25 mm².
"""

from __future__ import annotations

from netlm.response._common import (
    NEW_LESION_SOURCE,
    RECIST_TABLE_SOURCE,
    TOO_SMALL_TENTHS,
    Operator,
    Reference,
    SumCriterion,
    Visit,
    check_choice,
    increased,
    percent_change,
    signed_percent,
)
from netlm.response.model import Observation, tenths
from netlm.response.result import Response, Threshold

__all__ = ["ENGINE", "EaslEngine"]

EASL_SOURCE = (
    "Bruix J et al., J Hepatol 2001;35:421-430 (EASL Barcelona-2000 conference) [U]; "
    "shared/reference/response.md §EASL"
)


class EaslEngine(SumCriterion):
    """EASL on the sum of enhancing (viable) areas (mm²).

    Parameters
    ----------
    pd_reference
        ``"nadir"`` (default) or ``"baseline"``.
    pd_operator
        ``">="`` (default, ">= 25 %") or ``">"``.

    Examples
    --------
    >>> ENGINE.id, ENGINE.thresholds[1].rule, ENGINE.thresholds[2].rule
    ('easl', '2*cur <= baseline', '4*cur >= 5*nadir')
    """

    unit = "mm²"
    scale = 100
    too_small = TOO_SMALL_TENTHS * TOO_SMALL_TENTHS
    measure_name = "enhancing area"

    def __init__(self, *, pd_reference: Reference = "nadir", pd_operator: Operator = ">=") -> None:
        check_choice("pd_reference", pd_reference, ("nadir", "baseline"))
        check_choice("pd_operator", pd_operator, (">=", ">"))
        self.id = "easl"
        self.version = "2001"
        self.label = "EASL (adapted for NET)"
        self.pd_reference: Reference = pd_reference
        self.pd_operator: Operator = pd_operator
        self.thresholds = (
            Threshold(name="CR", rule="cur == 0 (no enhancing tumour)", source=EASL_SOURCE),
            Threshold(name="PR", rule="2*cur <= baseline", source=EASL_SOURCE),
            Threshold(
                name="PD",
                rule=f"4*cur {pd_operator} 5*{pd_reference}",
                source=EASL_SOURCE + "; reference and operator are netlm parameters",
            ),
            Threshold(
                name="new lesion",
                rule="any role: new lesion present or confirmed -> PD",
                source=NEW_LESION_SOURCE,
            ),
            Threshold(
                name="lesion measure",
                rule="viable_mm * viable_perpendicular_mm in mm²",
                source=EASL_SOURCE,
            ),
            Threshold(name="overall", rule="RECIST 1.1 overall table", source=RECIST_TABLE_SOURCE),
        )

    def lesion_measure(self, o: Observation) -> int | None:
        if o.viable_mm == 0 or (o.enhancing is False and o.viable_mm is None):
            return 0  # no enhancing tumour
        if o.viable_mm is not None and o.viable_perpendicular_mm is not None:
            return tenths(o.viable_mm) * tenths(o.viable_perpendicular_mm)
        return None

    def baseline_problem(self, o: Observation) -> str | None:
        if o.enhancing is False:
            return f"target {o.id}: not enhancing at baseline (enhancing: false); left out"
        value = self.lesion_measure(o)
        if value is None:
            return (
                f"target {o.id}: EASL needs viable_mm and viable_perpendicular_mm at "
                "baseline; left out"
            )
        if value == 0:
            return f"target {o.id}: no enhancing area at baseline; left out"
        return None

    def is_pd(self, cur: int, baseline: int, nadir: int, visit: Visit) -> tuple[bool, str]:
        ref = nadir if self.pd_reference == "nadir" else baseline
        pd = cur > ref and increased(cur, ref, 25, self.pd_operator)
        return pd, (
            f"enhancing area {self.fmt(cur)} vs {self.pd_reference} {self.fmt(ref)} "
            f"({signed_percent(percent_change(cur, ref))}): {self.thresholds[2].rule}"
        )

    def judge(self, cur: int, baseline: int, visit: Visit) -> tuple[Response, tuple[str, ...]]:
        change = signed_percent(percent_change(cur, baseline))
        if 2 * cur <= baseline:
            return Response.PR, (f"{change} from baseline: 2*cur <= baseline",)
        return Response.SD, (f"{change} from baseline: neither PR nor PD",)


ENGINE = EaslEngine()
