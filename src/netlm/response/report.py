"""Run the response criteria on a file: time points, best overall response, endpoints.

RECIST 1.1 is primary; mRECIST, EASL, Choi and modified Choi are secondary and
labelled "adapted for NET"; SSTR-PET metrics are exploratory and never
classified (``shared/reference/response.md``, NET outputs).

Follow-up scans dated before ``reference_date`` (the start of treatment) are
baseline material, not responses: they stay in the time-point table with
overall ``NA`` and a note, never count toward the best overall response or the
endpoints, and each criterion warns about them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from pydantic import ConfigDict

from netlm import __version__
from netlm.errors import ResponseError
from netlm.response import choi, easl, mrecist, percist, recist, sstr, who
from netlm.response.best import best_overall_response, endpoints
from netlm.response.model import ResponseFile
from netlm.response.result import CriterionResult, Engine, Response, TimepointResult
from netlm.results import ResultModel

#: Every engine by criterion id.
ENGINES: Mapping[str, Engine] = MappingProxyType(
    {
        "recist1.1": recist.ENGINE,
        "mrecist": mrecist.ENGINE,
        "who": who.ENGINE,
        "easl": easl.ENGINE,
        "choi": choi.CHOI_ENGINE,
        "mchoi": choi.MCHOI_ENGINE,
        "percist1.0": percist.ENGINE,
    }
)

#: A criterion's own names of the RECIST-like categories, where it has them.
CATEGORIES: Mapping[str, Callable[[Response], str | None]] = MappingProxyType(
    {"percist1.0": percist.category}
)

PRE_REFERENCE_NOTE = (
    "before the reference date (start of treatment): baseline material, not a response; "
    "not counted toward best overall response or endpoints"
)


def _before_reference(
    points: tuple[TimepointResult, ...], reference: dt.date
) -> tuple[tuple[TimepointResult, ...], list[dt.date]]:
    """``points`` with follow-ups dated before ``reference`` marked NA, and their dates."""
    early = [p.date for p in points[1:] if p.date < reference]
    if not early:
        return points, []
    marked = [points[0]] + [
        p.model_copy(
            update={
                "overall": Response.NOT_APPLICABLE,
                "category": None,
                "notes": (*p.notes, f"overall {p.overall.value} {PRE_REFERENCE_NOTE}"),
            }
        )
        if p.date < reference
        else p
        for p in points[1:]
    ]
    return tuple(marked), early


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class ResponseReport(ResultModel):
    """Every requested criterion on one response file.

    ``to_dict()`` is the ``netlm response --format json`` document; ``to_pandas()``
    one row per criterion and time point (measure, changes, overall response), with
    each criterion's best overall response.
    """

    model_config = ConfigDict(frozen=True)

    case: str | None
    reference_date: dt.date
    results: tuple[CriterionResult, ...]
    exploratory_sstr: tuple[sstr.SstrMetrics, ...]
    netlm_version: str
    inputs_digest: str

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per criterion and time point."""
        return [
            {
                "case": self.case,
                "criterion": r.criterion,
                "date": p.date,
                "measure": _float(p.measure),
                "unit": p.unit,
                "change_from_baseline_percent": _float(p.change_from_baseline_percent),
                "change_from_nadir_percent": _float(p.change_from_nadir_percent),
                "target": None if p.target is None else p.target.value,
                "non_target": None if p.non_target is None else p.non_target.value,
                "new_lesions": p.new_lesions,
                "overall": p.overall.value,
                "category": p.category,
                "best_overall": r.best_overall.response.value,
            }
            for r in self.results
            for p in r.timepoints
        ]

    def result(self, criterion: str) -> CriterionResult:
        for r in self.results:
            if r.criterion == criterion:
                return r
        raise KeyError(criterion)


def assess_response(doc: ResponseFile, criteria: Iterable[str] | None = None) -> ResponseReport:
    """Assess ``doc`` by ``criteria`` (default: the file's ``criteria``).

    Raises
    ------
    ResponseError
        For an unknown criterion id.
    """
    wanted = tuple(criteria) if criteria is not None else doc.criteria
    unknown = [c for c in wanted if c not in ENGINES]
    if unknown:
        raise ResponseError(
            [("criteria", f"unknown criterion {c!r} (use {', '.join(ENGINES)})") for c in unknown]
        )
    reference = doc.reference_date or doc.timepoints[0].date
    results = []
    for cid in dict.fromkeys(wanted):
        engine = ENGINES[cid]
        points, warnings = engine.assess(doc)
        points, early = _before_reference(points, reference)
        if early:
            warnings = (
                *warnings,
                f"{len(early)} follow-up scan(s) dated before the reference date {reference} "
                f"({', '.join(d.isoformat() for d in early)}): baseline material, not "
                "responses; not counted toward best overall response or endpoints",
            )
        counted = (points[0], *(p for p in points[1:] if p.date >= reference))
        best = best_overall_response(
            [(p.date, p.overall) for p in counted[1:]],
            reference_date=reference,
            confirmation=doc.confirmation,
        )
        name = CATEGORIES.get(cid)
        if name is not None:
            best = best.model_copy(update={"category": name(best.response)})
        results.append(
            CriterionResult(
                criterion=cid,
                version=engine.version,
                label=engine.label,
                primary=cid == "recist1.1",
                thresholds=engine.thresholds,
                timepoints=points,
                best_overall=best,
                endpoints=endpoints(counted, reference_date=reference),
                warnings=warnings,
            )
        )
    canonical = doc.model_dump_json(by_alias=True, exclude_none=True)
    return ResponseReport(
        case=doc.case,
        reference_date=reference,
        results=tuple(results),
        exploratory_sstr=sstr.sstr_metrics(doc),
        netlm_version=__version__,
        inputs_digest=hashlib.sha256(canonical.encode()).hexdigest(),
    )
