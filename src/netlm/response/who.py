"""WHO response criteria (Miller et al. 1981): bidimensional, sum of products.

Each target contributes ``longest_mm x perpendicular_mm`` (a node: its longest
diameter times its short axis when no perpendicular is given), an exact
integer of hundredths of a square millimetre.

Documented choices (``shared/reference/response.md`` §WHO)
---------------------------------------------------------
* **PD reference: the nadir** (default ``pd_reference="nadir"``).  Seed 004
  Table 3 (after Aras 2016) measures the increase "from maximum response",
  i.e. the smallest sum so far, baseline included; the 1981 paper does not
  name the reference.  ``"baseline"`` is available.
* **PD operator: ``>=``** (default ``pd_operator=">="``).  Miller 1981 and
  response.md say "25 % or more"; seed 004 Table 3 writes "> 25 %".  On an
  exactly +25 % sum the two disagree; ``pd_operator=">"`` follows seed 004.
* PD is judged on the **sum** of products (as response.md says), not per
  lesion as Miller's "one or more measurable lesions" reads.
* A lesion "too small to measure" counts as 5 mm x 5 mm = 25 mm² (RECIST's
  5 mm convention carried to two diameters).
* The response is re-judged against baseline at every visit (no "PR held
  until PD": that is a RECIST 1.1 committee convention).
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

__all__ = ["ENGINE", "WhoEngine"]

WHO_SOURCE = (
    "Miller AB et al., Cancer 1981;47:207-214; seed 004 Table 3 (after Aras M et al., "
    "Nucl Med Commun 2016;37:9-15, ref. 84); shared/reference/response.md §WHO"
)


class WhoEngine(SumCriterion):
    """WHO 1981 on the sum of products of perpendicular diameters (mm²).

    Parameters
    ----------
    pd_reference
        ``"nadir"`` (default; seed 004 "from maximum response") or ``"baseline"``.
    pd_operator
        ``">="`` (default; Miller 1981 "25 % or more") or ``">"`` (seed 004 "> 25 %").

    Examples
    --------
    >>> ENGINE.thresholds[2].rule
    '4*cur >= 5*nadir'
    >>> WhoEngine(pd_reference="baseline", pd_operator=">").thresholds[2].rule
    '4*cur > 5*baseline'
    """

    unit = "mm²"
    scale = 100
    too_small = TOO_SMALL_TENTHS * TOO_SMALL_TENTHS
    measure_name = "sum of products"

    def __init__(self, *, pd_reference: Reference = "nadir", pd_operator: Operator = ">=") -> None:
        check_choice("pd_reference", pd_reference, ("nadir", "baseline"))
        check_choice("pd_operator", pd_operator, (">=", ">"))
        self.id = "who"
        self.version = "1981"
        self.label = "WHO (Miller 1981)"
        self.pd_reference: Reference = pd_reference
        self.pd_operator: Operator = pd_operator
        self.thresholds = (
            Threshold(name="CR", rule="cur == 0 (every target gone)", source=WHO_SOURCE),
            Threshold(name="PR", rule="2*cur <= baseline", source=WHO_SOURCE),
            Threshold(
                name="PD",
                rule=f"4*cur {pd_operator} 5*{pd_reference}",
                source=WHO_SOURCE
                + "; reference and operator are netlm parameters (seed 004: '> 25 % from "
                "maximum response'; Miller 1981: '25 % or more')",
            ),
            Threshold(
                name="new lesion",
                rule="any role: new lesion present or confirmed -> PD",
                source=NEW_LESION_SOURCE,
            ),
            Threshold(
                name="lesion measure",
                rule="longest_mm * perpendicular_mm (node: longest_mm * short_axis_mm) in mm²",
                source=WHO_SOURCE,
            ),
            Threshold(name="overall", rule="RECIST 1.1 overall table", source=RECIST_TABLE_SOURCE),
        )

    def lesion_measure(self, o: Observation) -> int | None:
        second = o.perpendicular_mm
        if second is None and o.is_node:
            second = o.short_axis_mm
        if o.longest_mm is None or second is None:
            return None
        return tenths(o.longest_mm) * tenths(second)

    def baseline_problem(self, o: Observation) -> str | None:
        if self.lesion_measure(o) is None:
            missing = "longest_mm" if o.longest_mm is None else "perpendicular_mm"
            return f"target {o.id}: no {missing} at baseline, WHO needs two diameters; left out"
        return None

    def is_pd(self, cur: int, baseline: int, nadir: int, visit: Visit) -> tuple[bool, str]:
        ref = nadir if self.pd_reference == "nadir" else baseline
        pd = cur > ref and increased(cur, ref, 25, self.pd_operator)
        return pd, (
            f"sum of products {self.fmt(cur)} vs {self.pd_reference} {self.fmt(ref)} "
            f"({signed_percent(percent_change(cur, ref))}): {self.thresholds[2].rule}"
        )

    def judge(self, cur: int, baseline: int, visit: Visit) -> tuple[Response, tuple[str, ...]]:
        change = signed_percent(percent_change(cur, baseline))
        if 2 * cur <= baseline:
            return Response.PR, (f"{change} from baseline: 2*cur <= baseline",)
        return Response.SD, (f"{change} from baseline: neither PR nor PD (no change)",)


ENGINE = WhoEngine()
