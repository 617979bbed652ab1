"""Run the response criteria on a file: time points, best overall response, endpoints.

RECIST 1.1 is primary; mRECIST, EASL, Choi and modified Choi are secondary and
labelled "adapted for NET"; SSTR-PET metrics are exploratory and never
classified (``shared/reference/response.md``, NET outputs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict

from netlm import __version__
from netlm.errors import ResponseError
from netlm.response import choi, easl, mrecist, percist, recist, sstr, who
from netlm.response.best import best_overall_response, endpoints
from netlm.response.model import ResponseFile
from netlm.response.result import CriterionResult, Engine

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


class ResponseReport(BaseModel):
    """Every requested criterion on one response file."""

    model_config = ConfigDict(frozen=True)

    case: str | None
    reference_date: dt.date
    results: tuple[CriterionResult, ...]
    exploratory_sstr: tuple[sstr.SstrMetrics, ...]
    netlm_version: str
    inputs_digest: str

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
        follow_ups = points[1:]
        best = best_overall_response(
            [(p.date, p.overall) for p in follow_ups],
            reference_date=reference,
            confirmation=doc.confirmation,
        )
        results.append(
            CriterionResult(
                criterion=cid,
                version=engine.version,
                label=engine.label,
                primary=cid == "recist1.1",
                thresholds=engine.thresholds,
                timepoints=points,
                best_overall=best,
                endpoints=endpoints(points, reference_date=reference),
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
