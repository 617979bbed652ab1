"""mRECIST (Lencioni & Llovet 2010), adapted for NET liver metastases.

The sum of the longest **viable** (arterially enhancing) diameters of the
target lesions; lymph-node targets are summed by their short axis, as RECIST
1.1 does.  Targets must show intratumoral arterial enhancement at baseline.
After TACE or TARE a lesion that necroses without shrinking is RECIST SD but
mRECIST PR or CR.

Documented choices
------------------
* **5 mm floor.** Lencioni & Llovet define PD as a >= 20 % increase of the
  viable sum from its nadir, with no absolute floor.  netlm adds RECIST 1.1's
  ">= 5 mm absolute increase" by default (``pd_min_increase_mm=5``): after
  near-complete necrosis the viable sum is small and a 20 % rise (3 mm to
  4 mm) is measurement noise.  ``pd_min_increase_mm=0`` gives the 2010 text.
* **PR held until PD** (RECIST committee FAQ), default on.
* **Porta-hepatis nodes** count as malignant only at >= 20 mm short axis in
  mRECIST [S]; the file does not say where a node lies, so node targets are
  kept by short axis like RECIST and a smaller one draws a warning.
* A follow-up target with ``enhancing: false`` and no ``viable_mm`` has no
  viable tumour (0 mm).
* **New intrahepatic lesions** (``organ: liver``) are PD only when >= 10 mm
  (``longest_mm``, else ``viable_mm``) **and** arterially enhancing
  (``enhancing: true``); smaller, non-enhancing, unmeasured or
  enhancement-not-recorded ones are equivocal, with a note saying which.  A
  later scan where the lesion meets the rule, or a reader's ``status:
  confirmed``, confirms it and PD is dated back to its first sighting
  (Lencioni & Llovet 2010, HCC; [U] in ``shared/reference/response.md``).
  Other new lesions (another organ, or none given) follow RECIST 1.1.
  ``new_lesion_min_mm`` sets the size.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from netlm.response._common import (
    NEW_LESION_SOURCE,
    NODE_NORMAL_TENTHS,
    RECIST_TABLE_SOURCE,
    SumCriterion,
    Visit,
    percent_change,
    signed_percent,
)
from netlm.response.model import Observation, Status, tenths
from netlm.response.result import Response, Threshold

__all__ = ["ENGINE", "MrecistEngine"]

MRECIST_SOURCE = (
    "Lencioni R, Llovet JM, Semin Liver Dis 2010;30:52-60 (seed 004 ref. 86, Table 3); "
    "shared/reference/response.md §mRECIST"
)
FLOOR_SOURCE = (
    "netlm choice: RECIST 1.1 absolute floor (Eisenhauer EA et al., Eur J Cancer "
    "2009;45:228-247); not in Lencioni & Llovet 2010"
)
NEW_LESION_MRECIST_SOURCE = (
    "Lencioni R, Llovet JM, Semin Liver Dis 2010;30:52-60, new lesions: a new intrahepatic "
    "lesion is HCC (PD) when >= 1 cm with the typical vascular pattern (arterial-phase "
    "enhancement), otherwise equivocal until interval growth confirms it [HCC; U: "
    "shared/reference/response.md §mRECIST]"
)
#: mRECIST counts a porta-hepatis node as malignant from 20 mm short axis, in tenths [S].
PORTA_HEPATIS_NODE_TENTHS = 200


class MrecistEngine(SumCriterion):
    """mRECIST on viable (enhancing) target diameters.

    Parameters
    ----------
    pd_min_increase_mm
        Smallest absolute increase of the viable sum over its nadir that can be
        PD, in millimetres (default 5, RECIST 1.1's floor; 0 follows
        Lencioni & Llovet 2010 literally).  At most one decimal.
    hold_response_until_progression
        Keep a PR until PD rather than re-judging it against baseline at every
        visit (RECIST committee FAQ; default ``True``).
    new_lesion_min_mm
        Smallest new intrahepatic lesion (longest diameter, mm) that is PD when
        arterially enhancing (default 10, Lencioni & Llovet 2010 [HCC; U]).
        Smaller ones are equivocal.  At most one decimal.

    Examples
    --------
    >>> ENGINE.id, ENGINE.thresholds[2].rule
    ('mrecist', '5*cur >= 6*nadir and cur - nadir >= 5 mm')
    """

    unit = "mm"
    scale = 10
    measure_name = "viable sum"

    def __init__(
        self,
        *,
        pd_min_increase_mm: float | Decimal = 5,
        hold_response_until_progression: bool = True,
        new_lesion_min_mm: float | Decimal = 10,
    ) -> None:
        floor = Decimal(str(pd_min_increase_mm))
        if floor < 0 or floor * 10 != (floor * 10).to_integral_value():
            raise ValueError(
                "Argument 'pd_min_increase_mm' must be a non-negative length in mm "
                f"with at most one decimal, not {pd_min_increase_mm!r}."
            )
        new_min = Decimal(str(new_lesion_min_mm))
        if not 0 < new_min <= 100 or new_min * 10 != (new_min * 10).to_integral_value():
            raise ValueError(
                "Argument 'new_lesion_min_mm' must be a length in mm (0-100] with at most "
                f"one decimal, not {new_lesion_min_mm!r}."
            )
        self.new_lesion_min_mm = new_min
        self.new_lesion_min = tenths(new_min)
        self.id = "mrecist"
        self.version = "2010"
        self.label = "mRECIST (adapted for NET)"
        self.pd_min_increase_mm = floor
        self.pd_min_increase = tenths(floor)
        self.hold_response_until_progression = hold_response_until_progression
        floor_text = f" and cur - nadir >= {floor.normalize():f} mm" if floor else ""
        self.thresholds = (
            Threshold(
                name="CR",
                rule="every target viable_mm == 0 (node targets: short_axis_mm < 10)",
                source=MRECIST_SOURCE,
            ),
            Threshold(name="PR", rule="10*cur <= 7*baseline", source=MRECIST_SOURCE),
            Threshold(
                name="PD",
                rule=f"5*cur >= 6*nadir{floor_text}",
                source=MRECIST_SOURCE + ("; floor: " + FLOOR_SOURCE if floor else ""),
            ),
            Threshold(
                name="new lesion",
                rule="new lesion not in the liver (or organ not given): present or confirmed -> PD",
                source=NEW_LESION_SOURCE,
            ),
            Threshold(
                name="new intrahepatic lesion",
                rule=f"longest_mm >= {new_min.normalize():f} and enhancing: true -> PD; "
                "otherwise equivocal until a later scan meets it or status: confirmed",
                source=NEW_LESION_MRECIST_SOURCE + "; back-dating: " + NEW_LESION_SOURCE,
            ),
            Threshold(
                name="baseline target",
                rule="enhancing is not false and viable_mm > 0 (node: short_axis_mm)",
                source=MRECIST_SOURCE,
            ),
            Threshold(
                name="porta-hepatis node",
                rule="short_axis_mm >= 20 to count as malignant [S]",
                source=MRECIST_SOURCE,
            ),
            Threshold(name="overall", rule="RECIST 1.1 overall table", source=RECIST_TABLE_SOURCE),
        )

    def lesion_measure(self, o: Observation) -> int | None:
        if o.is_node:
            return None if o.short_axis_mm is None else tenths(o.short_axis_mm)
        if o.viable_mm is not None:
            return tenths(o.viable_mm)
        return 0 if o.enhancing is False else None

    def baseline_problem(self, o: Observation) -> str | None:
        if o.is_node:
            return super().baseline_problem(o)
        if o.enhancing is False:
            return (
                f"target {o.id}: not arterially enhancing at baseline (enhancing: false); "
                "not an mRECIST target, left out"
            )
        if o.viable_mm is None:
            return f"target {o.id}: no viable_mm at baseline; not an mRECIST target, left out"
        if o.viable_mm == 0:
            return f"target {o.id}: viable_mm 0 at baseline; not an mRECIST target, left out"
        return None

    def baseline_warnings(self, targets: Sequence[Observation]) -> list[str]:
        out = []
        for o in targets:
            value = self.lesion_measure(o) or 0
            if o.is_node and value < PORTA_HEPATIS_NODE_TENTHS:
                out.append(
                    f"node target {o.id} is {o.short_axis_mm} mm short axis: mRECIST counts a "
                    "porta-hepatis node as malignant only at >= 20 mm; kept by short axis as "
                    "RECIST does"
                )
            elif not o.is_node and value < 100:
                out.append(
                    f"target {o.id}: viable diameter {o.viable_mm} mm < 10 mm is not measurable "
                    "by mRECIST; kept in the sum"
                )
        return out

    def lesion_gone(self, o: Observation, value: int) -> bool:
        return value < NODE_NORMAL_TENTHS if o.is_node else value == 0

    def new_lesion_problem(self, o: Observation) -> str | None:
        """Why a new lesion is only equivocal by mRECIST, or ``None`` when it is PD."""
        if not o.is_liver:
            return None
        limit = f"{self.new_lesion_min_mm.normalize():f} mm"
        problems = []
        size = o.longest_mm if o.longest_mm is not None else o.viable_mm
        if o.status is Status.TOO_SMALL_TO_MEASURE:
            problems.append(f"too small to measure (< {limit})")
        elif size is None:
            problems.append("size not recorded (give longest_mm)")
        elif tenths(size) < self.new_lesion_min:
            problems.append(f"{size:g} mm < {limit}")
        if o.enhancing is None:
            problems.append("arterial-phase enhancement not recorded (give enhancing: true/false)")
        elif not o.enhancing:
            problems.append("no arterial-phase enhancement")
        if not problems:
            return None
        return (
            f"intrahepatic, {'; '.join(problems)}: equivocal by mRECIST (PD only when "
            f">= {limit} with arterial-phase enhancement)"
        )

    def is_pd(self, cur: int, baseline: int, nadir: int, visit: Visit) -> tuple[bool, str]:
        rise = cur - nadir
        pd = 5 * cur >= 6 * nadir and rise >= self.pd_min_increase and rise > 0
        return pd, (
            f"viable sum {self.fmt(cur)} vs nadir {self.fmt(nadir)} "
            f"({signed_percent(percent_change(cur, nadir))}, {self.fmt_delta(rise)}): "
            + self.thresholds[2].rule
        )

    def judge(self, cur: int, baseline: int, visit: Visit) -> tuple[Response, tuple[str, ...]]:
        change = signed_percent(percent_change(cur, baseline))
        if 10 * cur <= 7 * baseline:
            return Response.PR, (f"{change} from baseline: 10*cur <= 7*baseline",)
        return Response.SD, (f"{change} from baseline: neither PR nor PD",)


ENGINE = MrecistEngine()
