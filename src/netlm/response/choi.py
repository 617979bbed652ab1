"""Choi criteria (Choi et al. 2007) and modified Choi, adapted for NET.

Size is the RECIST sum of diameters (longest diameter; lymph nodes by short
axis) in exact tenths of a millimetre; density is the mean of the targets'
``mean_hu`` (portal venous phase), compared as an exact fraction.

* Choi PR: size >= 10 % decrease **or** density >= 15 % decrease.
* Modified Choi PR: size >= 10 % decrease **and** density >= 15 % decrease.
* PD (both): size >= 10 % increase and not PR by density, or new lesions.
* CR: every target gone (nodes < 10 mm short axis) and no new lesions.

Documented choices
------------------
* **PD reference: the nadir** (``pd_reference="nadir"``), as RECIST; Choi 2007
  says "an increase in tumour size of >= 10 %" without naming the reference.
* Density is the mean over the targets that carry ``mean_hu`` at each time
  point; a disappeared target has none.  A time point without any is
  judged on size alone (Choi) and cannot be a PR (modified Choi: NE when the
  size alone would have been PR), with a note.
* New intratumoral nodules or growth of existing ones (Choi PD) are not in the
  response file; record them as a ``role: new`` lesion.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from netlm.response._common import (
    NEW_LESION_SOURCE,
    NODE_NORMAL_TENTHS,
    RECIST_TABLE_SOURCE,
    Reference,
    SumCriterion,
    Visit,
    check_choice,
    exact,
    observations_of,
    percent_change,
    signed_percent,
)
from netlm.response.model import Observation, Status, TimePoint, tenths
from netlm.response.result import Response, Threshold

__all__ = ["CHOI_ENGINE", "ENGINE", "MCHOI_ENGINE", "ChoiEngine", "mean_density_hu"]

CHOI_SOURCE = "Choi H et al., J Clin Oncol 2007;25:1753-1759; shared/reference/response.md §Choi"
MCHOI_SOURCE = (
    "Nathan PD et al., Cancer Biol Ther 2010;9:15-19 (modified Choi: size and density) [U]; "
    "shared/reference/response.md §Choi"
)


def mean_density_hu(tp: TimePoint, targets: Sequence[Observation]) -> Fraction | None:
    """Exact mean ``mean_hu`` of the ``targets`` (and their fragments) at ``tp``, or ``None``.

    Examples
    --------
    >>> from netlm.response.model import Observation, TimePoint
    >>> import datetime as dt
    >>> t = [Observation(id="A", mean_hu=92), Observation(id="B", mean_hu=88.5)]
    >>> mean_density_hu(TimePoint(date=dt.date(2026, 1, 1), lesions=tuple(t)), t)
    Fraction(361, 4)
    """
    values = [
        exact(o.mean_hu)
        for t in targets
        for o in observations_of(tp, t.id)
        if o.mean_hu is not None and o.status not in (Status.ABSENT, Status.MERGED)
    ]
    return sum(values, Fraction(0)) / len(values) if values else None


class ChoiEngine(SumCriterion):
    """Choi (``modified=False``) or modified Choi (``modified=True``).

    Parameters
    ----------
    modified
        Require both the size and the density decrease for PR (modified Choi).
    pd_reference
        ``"nadir"`` (default) or ``"baseline"``: what the 10 % size increase is
        measured from.

    Examples
    --------
    >>> CHOI_ENGINE.id, MCHOI_ENGINE.id, MCHOI_ENGINE.thresholds[1].rule
    ('choi', 'mchoi', '10*size <= 9*size_baseline and 100*hu <= 85*hu_baseline')
    """

    unit = "mm"
    scale = 10
    measure_name = "sum of diameters"

    def __init__(self, *, modified: bool = False, pd_reference: Reference = "nadir") -> None:
        check_choice("pd_reference", pd_reference, ("nadir", "baseline"))
        self.modified = modified
        self.pd_reference: Reference = pd_reference
        self.id = "mchoi" if modified else "choi"
        self.version = "2010" if modified else "2007"
        self.label = "modified Choi (adapted for NET)" if modified else "Choi (adapted for NET)"
        source = CHOI_SOURCE + ("; " + MCHOI_SOURCE if modified else "")
        join = "and" if modified else "or"
        self.thresholds = (
            Threshold(
                name="CR",
                rule="every target gone (node targets: short_axis_mm < 10)",
                source=source,
            ),
            Threshold(
                name="PR",
                rule=f"10*size <= 9*size_baseline {join} 100*hu <= 85*hu_baseline",
                source=source,
            ),
            Threshold(
                name="PD",
                rule=f"10*size >= 11*size_{pd_reference} and not 100*hu <= 85*hu_baseline",
                source=source + "; reference (nadir) is a netlm parameter",
            ),
            Threshold(
                name="new lesion",
                rule="any role: new lesion present or confirmed -> PD",
                source=NEW_LESION_SOURCE + "; Choi 2007: new lesions, new intratumoral nodules",
            ),
            Threshold(
                name="density",
                rule="hu = mean of the targets' mean_hu (portal venous phase)",
                source=source,
            ),
            Threshold(name="overall", rule="RECIST 1.1 overall table", source=RECIST_TABLE_SOURCE),
        )

    # -- measures ------------------------------------------------------------

    def lesion_measure(self, o: Observation) -> int | None:
        size = o.short_axis_mm if o.is_node else o.longest_mm
        return None if size is None else tenths(size)

    def lesion_gone(self, o: Observation, value: int) -> bool:
        return value < NODE_NORMAL_TENTHS if o.is_node else value == 0

    def baseline_warnings(self, targets: Sequence[Observation]) -> list[str]:
        hu = [exact(o.mean_hu) for o in targets if o.mean_hu is not None]
        if targets and not hu:
            return [
                f"no target has mean_hu at baseline: {self.label} judged on size alone"
                + ("; PR is impossible" if self.modified else "")
            ]
        if hu and sum(hu) <= 0:
            return [
                f"mean baseline density {_hu(sum(hu, Fraction(0)) / len(hu))} HU is not "
                "positive: a percentage decrease is meaningless; density not used"
            ]
        return []

    def density_pr(self, visit: Visit) -> tuple[bool | None, str]:
        """Whether density fell >= 15 % from baseline (``None``: not evaluable), with a note."""
        base = mean_density_hu(visit.baseline, visit.targets)
        cur = mean_density_hu(visit.timepoint, visit.targets)
        if base is None or base <= 0 or cur is None:
            return None, "density not evaluable"
        change = signed_percent(percent_change(cur, base))
        pr = 100 * cur <= 85 * base
        return pr, (
            f"density {_hu(cur)} vs baseline {_hu(base)} HU ({change})"
            + (": 100*hu <= 85*hu_baseline" if pr else "")
        )

    # -- judgement -----------------------------------------------------------

    def is_pd(self, cur: int, baseline: int, nadir: int, visit: Visit) -> tuple[bool, str]:
        ref = nadir if self.pd_reference == "nadir" else baseline
        size_pd = cur > ref and 10 * cur >= 11 * ref
        if not size_pd:
            return False, ""
        density_pr, density_note = self.density_pr(visit)
        note = (
            f"size {self.fmt(cur)} vs {self.pd_reference} {self.fmt(ref)} "
            f"({signed_percent(percent_change(cur, ref))}): 10*size >= 11*size_{self.pd_reference}"
            f"; {density_note}"
        )
        return density_pr is not True, note

    def judge(self, cur: int, baseline: int, visit: Visit) -> tuple[Response, tuple[str, ...]]:
        size_pr = 10 * cur <= 9 * baseline
        size_note = f"size {signed_percent(percent_change(cur, baseline))} from baseline" + (
            ": 10*size <= 9*size_baseline" if size_pr else ""
        )
        density_pr, density_note = self.density_pr(visit)
        notes = (size_note, density_note)
        if self.modified:
            if size_pr and density_pr:
                return Response.PR, notes
            if size_pr and density_pr is None:
                return Response.NE, (*notes, "modified Choi PR needs the density too")
            return Response.SD, notes
        if size_pr or density_pr:
            return Response.PR, notes
        return Response.SD, notes


def _hu(value: Fraction) -> str:
    return f"{float(value):.1f}"


CHOI_ENGINE = ChoiEngine()
MCHOI_ENGINE = ChoiEngine(modified=True)
ENGINE = CHOI_ENGINE
