"""Published outcome figures of liver-directed therapy for NET liver metastases, as data.

Every record is a number a seed document reports (response and disease
control rates, median survival overall and by grade and primary, toxicity
rates, dose thresholds), with the series, its size, the population, the
seed file and section, and a ``quote``: the seed's own words, copied
verbatim (the tests check that each quote occurs in the seed text), so that
the figure can be checked in one search.  The records are data,
``netlm/evidence/data/outcomes.yaml`` (schema ``netlm/published-outcomes/v1``),
read once per process through :mod:`netlm.documents`.

Certainty (as in :mod:`netlm.evidence.sources`): ``V`` the seed states the
figure and no other seed contradicts it; ``S`` the seeds disagree, or the
figure is internally inconsistent, and ``note`` says how; ``U`` the seed's
table gives the number but not clearly what it measures.  The seeds are
reviews: every figure is second-hand with respect to the original series.

A figure the seeds repeat (seed 001 and seed 004 both report Jia and Wang's
results) is recorded once per seed; the later record names the first in
``same_as`` and :func:`compare_with_published` leaves it out unless asked.

Use :func:`compare_with_published` to show a centre's own figure beside the
published ones, and :func:`compare_survival` for the medians of a
:class:`netlm.outcomes.survival.SurvivalResult`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from enum import StrEnum
from typing import Final, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from netlm.errors import InputError
from netlm.evidence.records import builtin_table, parse_table
from netlm.evidence.sources import Certainty
from netlm.outcomes.survival import Endpoint, SurvivalResult

__all__ = [
    "PUBLISHED_OUTCOMES",
    "OwnFigure",
    "PublishedComparison",
    "PublishedEndpoint",
    "PublishedOutcome",
    "compare_survival",
    "compare_with_published",
    "published_frame",
    "published_outcomes",
]


class PublishedEndpoint(StrEnum):
    """What a published figure measures."""

    MEDIAN_OS_MONTHS = "median_os_months"
    MEDIAN_HPFS_MONTHS = "median_hpfs_months"
    MEDIAN_PFS_MONTHS = "median_pfs_months"
    OS_RATE_PERCENT = "os_rate_percent"
    ORR_PERCENT = "orr_percent"
    DCR_PERCENT = "dcr_percent"
    CR_PERCENT = "cr_percent"
    PR_PERCENT = "pr_percent"
    SD_PERCENT = "sd_percent"
    PD_PERCENT = "pd_percent"
    RADIOLOGIC_RESPONSE_PERCENT = "radiologic_response_percent"
    SYMPTOM_RESPONSE_PERCENT = "symptom_response_percent"
    TOXICITY_PERCENT = "toxicity_percent"
    MEDIAN_TIME_TO_TOXICITY_YEARS = "median_time_to_toxicity_years"
    RESPONSE_DOSE_THRESHOLD_GY = "response_dose_threshold_gy"
    NO_RESPONSE_DOSE_THRESHOLD_GY = "no_response_dose_threshold_gy"
    MEAN_NORMAL_LIVER_DOSE_GY = "mean_normal_liver_dose_gy"

    @property
    def unit(self) -> str:
        """The unit of the value."""
        if self.value.endswith("_months"):
            return "months"
        if self.value.endswith("_years"):
            return "years"
        if self.value.endswith("_gy"):
            return "Gy"
        return "%"


#: The treatment a published figure is about, as the literature pools it: a
#: :class:`netlm.eligibility.Modality` id, or a pool of them ("tare": resin or
#: glass; "tace": cTACE or DEB-TACE; "tae_tace": bland or chemoembolization).
#: Not a second ``Modality``: that name is the eligibility enum's alone (issue #13).
PublishedTreatment = Literal["tare", "tare_resin", "tare_glass", "tae", "tace", "tae_tace", "prrt"]
Device = Literal["resin", "glass", "mixed"]
StratumKind = Literal[
    "grade",
    "primary_site",
    "device",
    "prior_prrt",
    "tumour_dose",
    "toxicity",
    "response",
    "subgroup",
]


class PublishedOutcome(BaseModel):
    """One published outcome figure.

    Attributes
    ----------
    id
        Stable identifier.
    series
        First author (or "refs. ..." for a pooled statement).
    year
        Publication year when the seed gives it.
    reference
        The reference number in the seed.
    design
        Study design as the seed describes it.
    n_patients
        Patients in the series (or subgroup) the figure is about, if stated.
    n_studies
        Studies pooled, for reviews and meta-analyses.
    unit_of_analysis
        ``"patient"`` or ``"lesion"``.
    modality
        ``"tare"`` (device not stated or mixed), ``"tare_resin"``,
        ``"tare_glass"``, ``"tae"``, ``"tace"``, ``"tae_tace"`` (bland or
        chemoembolization, pooled) or ``"prrt"``.
    device
        ``"resin"``, ``"glass"``, ``"mixed"`` or ``None``.
    endpoint
        What is measured; ``endpoint.unit`` is the unit of ``value``.
    event
        For toxicity: the adverse event.
    value
        The figure (the lower end when the seed gives a range as the figure,
        e.g. "80–86%").
    value_upper
        The upper end of such a range.
    qualifier
        ``"="``, ``"<"``, ``">"`` or ``"~"`` as the seed states it.
    statistic
        ``"median across studies"``, ``"mean"`` ... when it is not the plain
        series value.
    ci_lower, ci_upper
        95 % confidence interval when given (``ci_upper`` ``None`` for "not
        reached").
    range_lower, range_upper
        Range when given (of patients or of studies).
    criterion
        Response criterion (RECIST 1.1, mRECIST, WHO ...).
    timepoint_months
        When the response or survival rate was measured.
    stratum_kind, stratum
        The subgroup (``grade`` / ``NET G1`` ...), or ``None`` for the whole
        series.  Grade strata use the cohort values; the older "grade 3" of
        the reviews is ``NET G3/NEC``.
    population
        Whose patients, in words.
    seed, section
        Seed file (under ``shared/seeds/``) and section.
    quote
        The seed's words, verbatim.
    certainty
        ``V``, ``S`` or ``U`` (see module docstring).
    source_id
        The matching :data:`netlm.evidence.SOURCES` id, if there is one.
    same_as
        The id of an earlier record of the same figure from another seed.
    note
        Conflicts, conversions and caveats.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    series: str
    year: int | None
    reference: str
    design: str
    n_patients: int | None
    n_studies: int | None = None
    unit_of_analysis: Literal["patient", "lesion"] = "patient"
    modality: PublishedTreatment
    device: Device | None
    endpoint: PublishedEndpoint
    event: str | None = None
    value: float
    value_upper: float | None = None
    qualifier: Literal["=", "<", ">", "~"] = "="
    statistic: str | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    range_lower: float | None = None
    range_upper: float | None = None
    criterion: str | None = None
    timepoint_months: float | None = None
    stratum_kind: StratumKind | None = None
    stratum: str | None = None
    population: str
    seed: str
    section: str
    quote: str
    certainty: Certainty
    source_id: str | None = None
    same_as: str | None = None
    note: str | None = None

    @property
    def unit(self) -> str:
        """The unit of ``value``."""
        return self.endpoint.unit

    def cite(self) -> str:
        """A one-line citation: series, seed and section, certainty."""
        year = f" {self.year}" if self.year else ""
        n = f", n={self.n_patients}" if self.n_patients else ""
        return (
            f"{self.series}{year}{n} ({self.reference}); seed {self.seed[:3]}, {self.section} "
            f"[{self.certainty.value}]"
        )


#: Schema of the published-outcome table (``netlm/evidence/data/outcomes.yaml``).
OUTCOMES_SCHEMA: Final = "netlm/published-outcomes/v1"


@functools.cache
def _builtin_outcomes() -> tuple[PublishedOutcome, ...]:
    """The records of ``outcomes.yaml``, in file order; parsed once per process."""
    return parse_table(
        builtin_table("outcomes.yaml"),
        schema=OUTCOMES_SCHEMA,
        key="outcomes",
        model=PublishedOutcome,
    )


#: Every published outcome figure netlm knows, by seed and section.
PUBLISHED_OUTCOMES: Final[tuple[PublishedOutcome, ...]] = _builtin_outcomes()


_BY_ID: Final = {r.id: r for r in PUBLISHED_OUTCOMES}


# ---------------------------------------------------------------------------
# queries

#: Which modalities are compared with which (by family).
_FAMILY: Final[dict[str, str]] = {
    "tare": "tare",
    "tare_resin": "tare",
    "tare_glass": "tare",
    "radiation_segmentectomy": "tare",
    "tae": "embolization",
    "tace": "embolization",
    "ctace": "embolization",
    "debtace": "embolization",
    "tae_tace": "embolization",
    "prrt": "prrt",
    "prrt_intraarterial": "prrt",
}
_G3: Final = frozenset({"NET G3", "NEC", "NET G3/NEC"})


def _stratum_matches(own: str | None, record: str | None) -> bool:
    if own is None or record is None:
        return own is None and record is None
    return own == record or (own in _G3 and record in _G3)


def published_outcomes(
    endpoint: PublishedEndpoint | str | None = None,
    *,
    modality: str | None = None,
    device: str | None = None,
    stratum: str | None = None,
    any_stratum: bool = False,
    event: str | None = None,
    include_duplicates: bool = False,
) -> tuple[PublishedOutcome, ...]:
    """Published figures, filtered.

    Parameters
    ----------
    endpoint
        Keep this endpoint only (``None``: all).
    modality
        Keep the same treatment family: any TARE modality (``tare``,
        ``tare_resin``, ``tare_glass``, ``radiation_segmentectomy``) matches
        every TARE record; ``tae``, ``ctace``, ``debtace`` match the bland and
        chemoembolization records; ``prrt`` the PRRT ones.
    device
        ``"resin"`` or ``"glass"``: keep records of that device or with no
        single device (``None`` or ``"mixed"``).  Not inferred from
        ``modality``.
    stratum
        Keep records of this subgroup (e.g. ``"NET G2"``, ``"pancreas"``,
        ``"prior PRRT"``); ``NET G3`` and ``NEC`` match ``NET G3/NEC``.
        Without it only whole-series records are kept, unless
        ``any_stratum``.
    any_stratum
        Keep records of every subgroup.
    event
        For toxicity: keep records whose event contains this text
        (case-insensitive).
    include_duplicates
        Keep records that repeat another seed's figure (``same_as``).

    Examples
    --------
    >>> [r.value for r in published_outcomes("median_os_months", stratum="NET G1")]
    [71.0, 37.2]
    """
    which = None if endpoint is None else _endpoint(endpoint)
    family = None
    if modality is not None:
        family = _FAMILY.get(modality)
        if family is None:
            raise InputError(
                [("modality", f"must be one of {', '.join(sorted(_FAMILY))}, not {modality!r}")]
            )
    if device not in (None, "resin", "glass"):
        raise InputError([("device", f"must be 'resin', 'glass' or None, not {device!r}")])
    out = []
    for record in PUBLISHED_OUTCOMES:
        if which is not None and record.endpoint is not which:
            continue
        if family is not None and _FAMILY[record.modality] != family:
            continue
        if device is not None and record.device not in (None, "mixed", device):
            continue
        if not any_stratum and not _stratum_matches(stratum, record.stratum):
            continue
        if event is not None and (
            record.event is None or event.lower() not in record.event.lower()
        ):
            continue
        if record.same_as is not None and not include_duplicates:
            continue
        out.append(record)
    return tuple(out)


def _endpoint(endpoint: PublishedEndpoint | str) -> PublishedEndpoint:
    try:
        return PublishedEndpoint(endpoint)
    except ValueError:
        raise InputError(
            [
                (
                    "endpoint",
                    f"must be one of {', '.join(e.value for e in PublishedEndpoint)}, "
                    f"not {endpoint!r}",
                )
            ]
        ) from None


_COLUMNS: Final = (
    "id",
    "series",
    "year",
    "reference",
    "design",
    "n_patients",
    "n_studies",
    "unit_of_analysis",
    "modality",
    "device",
    "endpoint",
    "event",
    "qualifier",
    "value",
    "value_upper",
    "unit",
    "statistic",
    "ci_lower",
    "ci_upper",
    "range_lower",
    "range_upper",
    "criterion",
    "timepoint_months",
    "stratum_kind",
    "stratum",
    "population",
    "seed",
    "section",
    "certainty",
    "source_id",
    "same_as",
    "note",
    "quote",
)


def _row(record: PublishedOutcome) -> dict[str, object]:
    data = record.model_dump(mode="json")
    data["unit"] = record.unit
    return {c: data.get(c) for c in _COLUMNS}


def published_frame(records: Sequence[PublishedOutcome] = PUBLISHED_OUTCOMES) -> pd.DataFrame:
    """The records as a table, one row each."""
    return pd.DataFrame([_row(r) for r in records], columns=list(_COLUMNS))


class OwnFigure(BaseModel):
    """A centre's own figure, to be shown beside the published ones."""

    model_config = ConfigDict(frozen=True)

    label: str
    endpoint: PublishedEndpoint
    value: float | None
    n_patients: int | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    modality: str | None = None
    device: str | None = None
    stratum: str | None = None
    event: str | None = None


class PublishedComparison(BaseModel):
    """A centre's figure beside the published ones.

    Attributes
    ----------
    own
        The centre's figure.
    published
        The matching published records.
    published_min, published_max
        The range of their values (``None`` if there is none).
    """

    model_config = ConfigDict(frozen=True)

    own: OwnFigure
    published: tuple[PublishedOutcome, ...]
    published_min: float | None
    published_max: float | None

    def to_frame(self) -> pd.DataFrame:
        """One row for the centre (first), then one per published record."""
        own: dict[str, object] = dict.fromkeys(_COLUMNS)
        own.update(
            id="own",
            series=self.own.label,
            n_patients=self.own.n_patients,
            modality=self.own.modality,
            device=self.own.device,
            endpoint=self.own.endpoint.value,
            event=self.own.event,
            qualifier="=",
            value=self.own.value,
            unit=self.own.endpoint.unit,
            ci_lower=self.own.ci_lower,
            ci_upper=self.own.ci_upper,
            stratum=self.own.stratum,
        )
        return pd.DataFrame([own, *(_row(r) for r in self.published)], columns=list(_COLUMNS))


def compare_with_published(
    own_value: float | None,
    endpoint: PublishedEndpoint | str,
    *,
    modality: str | None = None,
    device: str | None = None,
    stratum: str | None = None,
    event: str | None = None,
    n_patients: int | None = None,
    ci: tuple[float | None, float | None] | None = None,
    label: str = "this centre",
    include_duplicates: bool = False,
) -> PublishedComparison:
    """A centre's own figure beside the published figures for the same endpoint.

    Parameters
    ----------
    own_value
        The centre's figure in the endpoint's unit (``None`` if not
        estimable, e.g. a median not reached).
    endpoint
        A :class:`PublishedEndpoint`.
    modality, device, stratum, event, include_duplicates
        Filters, as in :func:`published_outcomes`.
    n_patients, ci, label
        Shown with the centre's figure.

    Examples
    --------
    >>> c = compare_with_published(30.5, "median_os_months", modality="tare_resin",
    ...                            device="resin", n_patients=84)
    >>> c.published_min, c.published_max
    (27.2, 70.0)
    >>> c.to_frame()[["series", "value"]].head(3)
                series  value
    0      this centre   30.5
    1  Frilling et al.   28.0
    2     Jia and Wang   32.0
    """
    which = _endpoint(endpoint)
    records = published_outcomes(
        which,
        modality=modality,
        device=device,
        stratum=stratum,
        event=event,
        include_duplicates=include_duplicates,
    )
    values = [r.value for r in records]
    return PublishedComparison(
        own=OwnFigure(
            label=label,
            endpoint=which,
            value=own_value,
            n_patients=n_patients,
            ci_lower=None if ci is None else ci[0],
            ci_upper=None if ci is None else ci[1],
            modality=modality,
            device=device,
            stratum=stratum,
            event=event,
        ),
        published=records,
        published_min=min(values) if values else None,
        published_max=max(values) if values else None,
    )


_SURVIVAL_ENDPOINTS: Final = {
    Endpoint.OS: PublishedEndpoint.MEDIAN_OS_MONTHS,
    Endpoint.HEPATIC_PFS: PublishedEndpoint.MEDIAN_HPFS_MONTHS,
    Endpoint.PFS: PublishedEndpoint.MEDIAN_PFS_MONTHS,
}
_COMPARABLE_STRATA: Final = {"grade", "primary_site", "device", "prior_prrt"}


def compare_survival(
    result: SurvivalResult,
    *,
    modality: str | None = "tare",
    device: str | None = None,
    label: str = "this centre",
) -> tuple[PublishedComparison, ...]:
    """The medians of a Kaplan-Meier result beside the published medians.

    One comparison per group.  Strata by ``grade``, ``primary_site``,
    ``device`` and ``prior_prrt`` are matched to published subgroups; for
    other stratifications each group is compared with the whole-series
    figures.

    Parameters
    ----------
    result
        From :func:`netlm.outcomes.survival.kaplan_meier`.
    modality, device
        Filters, as in :func:`published_outcomes` (default: TARE series).
    label
        Prefix of the centre's label; the group label is appended.
    """
    which = _SURVIVAL_ENDPOINTS[result.endpoint]
    out = []
    for group in result.groups:
        stratum = group.label if result.strata in _COMPARABLE_STRATA else None
        by_device = result.strata == "device" and device is None
        group_device = group.label if by_device else device
        out.append(
            compare_with_published(
                group.median_months,
                which,
                modality=modality,
                device=group_device,
                stratum=stratum,
                n_patients=group.n,
                ci=(group.median_ci_lower_months, group.median_ci_upper_months),
                label=label if group.label == "all" else f"{label}: {group.label}",
            )
        )
    return tuple(out)
