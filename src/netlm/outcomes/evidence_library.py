"""Published outcome figures of liver-directed therapy for NET liver metastases, as data.

Every record is a number a seed document reports (response and disease
control rates, median survival overall and by grade and primary, toxicity
rates, dose thresholds), with the series, its size, the population, the
seed file and section, and a ``quote``: the seed's own words, copied
verbatim (the tests check that each quote occurs in the seed text), so that
the figure can be checked in one search.

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

from collections.abc import Sequence
from enum import StrEnum
from typing import Final, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from netlm.errors import InputError
from netlm.evidence.sources import SEED_000, SEED_001, SEED_004, Certainty
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


_E = PublishedEndpoint
_V, _S, _U = Certainty.VERIFIED, Certainty.SECONDARY, Certainty.UNVERIFIED
_NET = "NET liver metastases"

# --- seed 004 (El-Haddad 2021) ---------------------------------------------------------
_RR = "Radiographic Response"
_Q_KENNEDY_004 = "finding an ORR of 63.2% (60.5% PR; 22.7% SD; 4.9% PD)"
_Q_JIA_RESP_004 = (
    "the reported median values for complete response, partial response, stable disease, "
    "and progressive disease were 2.7% (range: 0–15%), 35.3% (range: 12.5–66.5%), 40% "
    "(range: 14.7–75%), and 14% (range: 0–37.5%), respectively"
)
_Q_TSANG_RESP = "reported 0% CR, 53% PR, 33% SD, 12% PD, and 2% unknown"
_Q_BRAAT_RECIST = (
    "reported 3- and 6-month ORR of 15.7 and 28.5%, respectively, with a DCR of 91.3 and "
    "91.4%, respectively, when using RECIST v1.1"
)
_Q_BRAAT_MRECIST = (
    "When modified RECIST (mRECIST) was used, the 6-month ORR was 62.9% with DCR of 91.4%"
)
_Q_ZUCK_RESP = "found 5.1% CR, 45.8% PR, 30.5% SD, and 6.8% PD response rates"
_Q_OS_META = (
    "found a median general OS of 28 months (range: 14–70 months) and 32 months (range: "
    "18–57 months) after TARE, respectively"
)
_Q_JIA_PRIMARY_004 = (
    "the median OS for patients with small bowel, pancreatic, and unclassified NETs were 56, "
    "31, and 28 months, respectively"
)
_Q_JIA_GRADE_004 = (
    "median OS for grade I, II, and III NETs were 71, 56, and 28 months, respectively"
)
_Q_CHEN_HPFS = (
    "no difference between 90Y resin (n\u2009=\u200943) and glass (n\u2009=\u200921) with a "
    "hepatic progression-free survival (HPFS) of 14.9 and 23.4 months, respectively"
)
_Q_CHEN_OS = "no difference between resin (48.2 months) and glass TARE (51.6 months)"
_Q_BRAAT_OS = (
    "found a median OS after TARE for NETLMs of 31.2 months (range: 1.7–144 months; 95% CI: "
    "26.4–36 months)"
)
_Q_BRAAT_GRADE = (
    "median OS was 37.2 months (95% CI: 31.2–44.4), 28.8 months (95% CI: 22.8–36), and 10.8 "
    "months (95% CI: 1.2–22.8) in G1, G2, and G3 NET/neuroendocrine carcinoma (NEC), "
    "respectively"
)
_Q_ZUCK_SURV = (
    "Median HPFS was 18 months (95% CI: 13–27) and the median OS was 31 months (95% CI: 27 "
    "months to unreached)"
)
_Q_JIA_AE = (
    "abdominal pain (median: 32.6%, range: 2.7–100%), nausea/vomiting (median: 32.5%, range: "
    "3.2–100%), and fatigue (median: 30.4%, range: 6.5–63%)"
)
_Q_HEME = (
    "the most frequent hematological complications of TARE are lymphocytopenia (6.7%) and "
    "thrombocytopenia (3%)"
)
_Q_INFECTION = (
    "The risk of infectious complications is lower after TARE (∼10%) than after TAE/TACE (∼20%)"
)
_Q_TOMOZAWA_BILOBAR = (
    "were more likely to develop cirrhosis-like morphology (6 patients [20.7%]), ascites (5 "
    "patients [17.2%]), splenomegaly (6 patients [20.7%]), and varices (2 [6.9%])"
)
_Q_CHANSANTI_RATES = (
    "Twenty-five of 26 tumors (96.2%) responded when absorbed dose was ≥191.3\u2009Gy compared "
    "with only 5 of 19 (26.3%) responders when dose was less than 191.3 Gy"
)
_Q_ZUCK_DOSE = (
    "received a mean dose to normal liver of 25.4\u2009Gy, while the mean liver dose in patients "
    "who experienced toxicity (hepatic fibrosis n\u2009=\u20092 and death from hepatic failure "
    "n\u2009=\u20091) was 59.1 Gy"
)
_Q_KING_RESP = (
    "Using RECIST, the overall response rate (ORR) was seen in 50% of cases, with 18 and 32% "
    "showing a complete or partial response, respectively"
)
_Q_KING_SYMPTOM = (
    "Symptom control was noted in 55 and 50% of patients at 3 and 6 months, respectively"
)
_Q_SYMPTOM_EMBO = "TAE (64–93%), and TACE (60–95%) in terms of symptomatic improvement"

# --- seed 001 (Cazzato 2021) ---------------------------------------------------------
_Q_JIA_001 = (
    "the median disease control rate at 3 months after SIRT was 86%, and the median survival "
    "was 28 months"
)
_Q_JIA_PRIMARY_001 = (
    "the patient survival rate after SIRT was 56, 31, and 28 months for small intestine "
    "carcinoid tumors, pancreatic NENs, and primary NENs of unknown origin, respectively"
)
_Q_JIA_GRADE_001 = (
    "the survival rate was 71 months for grade 1 NENs, 56 months for grade 2 NENs, and 28 "
    "months for grade 3 tumors"
)
_Q_FRILLING_001 = (
    "a mean disease control rate of 88% and a median progression-free survival of 41 months "
    "after SIRT"
)
_Q_BRAAT_PRRT_TOX_001 = (
    "clinical and grade 3–4 hematological toxicities occurred in 26% and less than 10% of "
    "treated cases (apart from lymphocytopenia occurring in 42%)"
)

# --- seed 000 (Moriarty, Dublin) ------------------------------------------------------
_TACE_TABLE = "'TACE Neuroendocrine' series table"
_RE_TABLE = "'Radioembolisation Clinical Trials' series table"


def _p(**fields: object) -> PublishedOutcome:
    return PublishedOutcome.model_validate(fields)


#: Every published outcome figure netlm knows, by seed and section.
PUBLISHED_OUTCOMES: Final[tuple[PublishedOutcome, ...]] = (
    # ================= seed 004, Radiographic Response =================
    _p(
        id="kennedy2008_orr_004",
        series="Kennedy et al.",
        year=2008,
        reference="ref. [57]",
        design="retrospective, 10 institutions",
        n_patients=148,
        modality="tare_resin",
        device="resin",
        endpoint=_E.ORR_PERCENT,
        value=63.2,
        timepoint_months=3,
        criterion="RECIST or WHO when possible, or best radiographic estimate",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote=_Q_KENNEDY_004,
        certainty=_V,
        note="resin microspheres per seed 000 (ref. 19 there)",
    ),
    _p(
        id="kennedy2008_dcr_004",
        series="Kennedy et al.",
        year=2008,
        reference="ref. [57]",
        design="retrospective, 10 institutions",
        n_patients=148,
        modality="tare_resin",
        device="resin",
        endpoint=_E.DCR_PERCENT,
        value=65.1,
        timepoint_months=3,
        criterion="RECIST or WHO when possible, or best radiographic estimate",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote="a disease control rate (DCR) of 65.1% (60.5% PR; 4.9% PD)",
        certainty=_S,
        note="as printed; inconsistent with the same paragraph (2.7 % CR + 60.5 % PR + 22.7 % "
        "SD = 85.9 %)",
    ),
    _p(
        id="jia_dcr_004",
        series="Jia and Wang",
        year=None,
        reference="ref. [53]",
        design="systematic review",
        n_patients=870,
        modality="tare",
        device=None,
        endpoint=_E.DCR_PERCENT,
        value=86.0,
        statistic="median across studies",
        range_lower=62.5,
        range_upper=100.0,
        timepoint_months=3,
        criterion="RECIST or WHO",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote="reported that median DCR at 3 months was 86% (range: 62.5–100%)",
        certainty=_V,
    ),
    *(
        _p(
            id=f"jia_{name}_004",
            series="Jia and Wang",
            year=None,
            reference="ref. [53]",
            design="systematic review",
            n_patients=870,
            modality="tare",
            device=None,
            endpoint=endpoint,
            value=value,
            statistic="median across studies",
            range_lower=low,
            range_upper=high,
            criterion="RECIST or WHO",
            population=_NET,
            seed=SEED_004,
            section=_RR,
            quote=_Q_JIA_RESP_004,
            certainty=_V,
            note="median follow-up 25 months (range 11.9-60)",
        )
        for name, endpoint, value, low, high in (
            ("cr", _E.CR_PERCENT, 2.7, 0.0, 15.0),
            ("pr", _E.PR_PERCENT, 35.3, 12.5, 66.5),
            ("sd", _E.SD_PERCENT, 40.0, 14.7, 75.0),
            ("pd", _E.PD_PERCENT, 14.0, 0.0, 37.5),
        )
    ),
    *(
        _p(
            id=f"tsang_{name}_004",
            series="Tsang et al.",
            year=None,
            reference="ref. [55]",
            design="retrospective, six regional centres (British Columbia)",
            n_patients=49,
            modality="tare",
            device="mixed",
            endpoint=endpoint,
            value=value,
            criterion="RECIST 1.1",
            population=_NET,
            seed=SEED_004,
            section=_RR,
            quote=_Q_TSANG_RESP,
            certainty=_V,
            note="SIR-Spheres 69 %, TheraSphere 29 %, 2 % unknown (seed 004, Survival)",
        )
        for name, endpoint, value in (
            ("cr", _E.CR_PERCENT, 0.0),
            ("pr", _E.PR_PERCENT, 53.0),
            ("sd", _E.SD_PERCENT, 33.0),
            ("pd", _E.PD_PERCENT, 12.0),
        )
    ),
    _p(
        id="braat2019_orr3_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.ORR_PERCENT,
        value=15.7,
        timepoint_months=3,
        criterion="RECIST 1.1",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote=_Q_BRAAT_RECIST,
        certainty=_V,
    ),
    _p(
        id="braat2019_orr6_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.ORR_PERCENT,
        value=28.5,
        timepoint_months=6,
        criterion="RECIST 1.1",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote=_Q_BRAAT_RECIST,
        certainty=_V,
    ),
    _p(
        id="braat2019_dcr3_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.DCR_PERCENT,
        value=91.3,
        timepoint_months=3,
        criterion="RECIST 1.1",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote=_Q_BRAAT_RECIST,
        certainty=_V,
    ),
    _p(
        id="braat2019_dcr6_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.DCR_PERCENT,
        value=91.4,
        timepoint_months=6,
        criterion="RECIST 1.1",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote=_Q_BRAAT_RECIST,
        certainty=_V,
    ),
    _p(
        id="braat2019_orr6_mrecist_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.ORR_PERCENT,
        value=62.9,
        timepoint_months=6,
        criterion="mRECIST",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote=_Q_BRAAT_MRECIST,
        certainty=_V,
    ),
    _p(
        id="braat2019_dcr6_mrecist_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.DCR_PERCENT,
        value=91.4,
        timepoint_months=6,
        criterion="mRECIST",
        population=_NET,
        seed=SEED_004,
        section=_RR,
        quote=_Q_BRAAT_MRECIST,
        certainty=_V,
    ),
    *(
        _p(
            id=f"zuckerman_{name}_004",
            series="Zuckerman et al.",
            year=None,
            reference="ref. [56]",
            design="single academic centre, 2009-2015",
            n_patients=59,
            modality="tare",
            device="mixed",
            endpoint=endpoint,
            value=value,
            criterion="mRECIST",
            population=_NET,
            seed=SEED_004,
            section=_RR,
            quote=_Q_ZUCK_RESP,
            certainty=_V,
        )
        for name, endpoint, value in (
            ("cr", _E.CR_PERCENT, 5.1),
            ("pr", _E.PR_PERCENT, 45.8),
            ("sd", _E.SD_PERCENT, 30.5),
            ("pd", _E.PD_PERCENT, 6.8),
        )
    ),
    # ================= seed 004, Symptom Control =================
    _p(
        id="braat2019_symptom_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=79.0,
        population=_NET,
        seed=SEED_004,
        section="Symptom Control",
        quote="reported an overall response in 79% of patients; 44% had complete response and "
        "35% had partial response",
        certainty=_V,
    ),
    _p(
        id="jia_symptom_004",
        series="Jia and Wang",
        year=None,
        reference="ref. [53]",
        design="systematic review",
        n_patients=None,
        modality="tare",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=69.0,
        population="NET liver metastases with carcinoid syndrome",
        seed=SEED_004,
        section="Symptom Control",
        quote="69% of patients had improvement in their carcinoid syndrome",
        certainty=_V,
    ),
    _p(
        id="symptom_tae_004",
        series="ref. [59]",
        year=None,
        reference="ref. [59]",
        design="pooled literature range",
        n_patients=None,
        modality="tae",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=64.0,
        value_upper=93.0,
        population=_NET,
        seed=SEED_004,
        section="Symptom Control",
        quote=_Q_SYMPTOM_EMBO,
        certainty=_V,
    ),
    _p(
        id="symptom_tace_004",
        series="ref. [59]",
        year=None,
        reference="ref. [59]",
        design="pooled literature range",
        n_patients=None,
        modality="tace",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=60.0,
        value_upper=95.0,
        population=_NET,
        seed=SEED_004,
        section="Symptom Control",
        quote=_Q_SYMPTOM_EMBO,
        certainty=_V,
    ),
    # ================= seed 004, Survival =================
    _p(
        id="frilling_os_004",
        series="Frilling et al.",
        year=None,
        reference="ref. [52]",
        design="meta-analysis and systematic review",
        n_patients=None,
        n_studies=19,
        modality="tare",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=28.0,
        range_lower=14.0,
        range_upper=70.0,
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_OS_META,
        certainty=_S,
        note="seed 001 (§6.2) gives 28 months as Jia's median survival and 23 studies for Frilling",
    ),
    _p(
        id="jia_os_004",
        series="Jia and Wang",
        year=None,
        reference="ref. [53]",
        design="systematic review",
        n_patients=None,
        n_studies=11,
        modality="tare",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=32.0,
        range_lower=18.0,
        range_upper=57.0,
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_OS_META,
        certainty=_S,
        note="seed 001 (§6.2) gives Jia's median survival as 28 months; up to 19.8 % (77/388) "
        "had TAE or TACE before TARE",
    ),
    *(
        _p(
            id=f"jia_os_{site}_004",
            series="Jia and Wang",
            year=None,
            reference="ref. [53]",
            design="systematic review",
            n_patients=None,
            n_studies=11,
            modality="tare",
            device=None,
            endpoint=_E.MEDIAN_OS_MONTHS,
            value=value,
            stratum_kind="primary_site",
            stratum=site,
            population=_NET,
            seed=SEED_004,
            section="Survival",
            quote=_Q_JIA_PRIMARY_004,
            certainty=_V,
        )
        for site, value in (("small_intestine", 56.0), ("pancreas", 31.0), ("unknown", 28.0))
    ),
    *(
        _p(
            id=f"jia_os_{key}_004",
            series="Jia and Wang",
            year=None,
            reference="ref. [53]",
            design="systematic review",
            n_patients=None,
            n_studies=11,
            modality="tare",
            device=None,
            endpoint=_E.MEDIAN_OS_MONTHS,
            value=value,
            stratum_kind="grade",
            stratum=grade,
            population=_NET,
            seed=SEED_004,
            section="Survival",
            quote=_Q_JIA_GRADE_004,
            certainty=_V,
            note="'grade III' of the reviewed series: G3 NET and NEC not separated",
        )
        for key, grade, value in (
            ("g1", "NET G1", 71.0),
            ("g2", "NET G2", 56.0),
            ("g3", "NET G3/NEC", 28.0),
        )
    ),
    _p(
        id="chen2017_hpfs_resin_004",
        series="Chen et al.",
        year=2017,
        reference="ref. [54]",
        design="multicentre retrospective, propensity score",
        n_patients=43,
        modality="tare_resin",
        device="resin",
        endpoint=_E.MEDIAN_HPFS_MONTHS,
        value=14.9,
        stratum_kind="device",
        stratum="resin",
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_CHEN_HPFS,
        certainty=_V,
        source_id="tare_resin_glass_004",
        note="no significant difference between resin and glass",
    ),
    _p(
        id="chen2017_hpfs_glass_004",
        series="Chen et al.",
        year=2017,
        reference="ref. [54]",
        design="multicentre retrospective, propensity score",
        n_patients=21,
        modality="tare_glass",
        device="glass",
        endpoint=_E.MEDIAN_HPFS_MONTHS,
        value=23.4,
        stratum_kind="device",
        stratum="glass",
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_CHEN_HPFS,
        certainty=_V,
        source_id="tare_resin_glass_004",
        note="no significant difference between resin and glass",
    ),
    _p(
        id="chen2017_os_resin_004",
        series="Chen et al.",
        year=2017,
        reference="ref. [54]",
        design="multicentre retrospective, propensity score",
        n_patients=43,
        modality="tare_resin",
        device="resin",
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=48.2,
        stratum_kind="device",
        stratum="resin",
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_CHEN_OS,
        certainty=_V,
        source_id="tare_resin_glass_004",
    ),
    _p(
        id="chen2017_os_glass_004",
        series="Chen et al.",
        year=2017,
        reference="ref. [54]",
        design="multicentre retrospective, propensity score",
        n_patients=21,
        modality="tare_glass",
        device="glass",
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=51.6,
        stratum_kind="device",
        stratum="glass",
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_CHEN_OS,
        certainty=_V,
        source_id="tare_resin_glass_004",
    ),
    _p(
        id="tsang_os_004",
        series="Tsang et al.",
        year=None,
        reference="ref. [55]",
        design="retrospective, six regional centres (British Columbia)",
        n_patients=49,
        modality="tare",
        device="mixed",
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=27.2,
        ci_lower=8.0,
        ci_upper=46.5,
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote="The median OS of this group was 27.2 months (95% CI: 8.0–46.5)",
        certainty=_V,
    ),
    _p(
        id="braat2019_os_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=31.2,
        ci_lower=26.4,
        ci_upper=36.0,
        range_lower=1.7,
        range_upper=144.0,
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_BRAAT_OS,
        certainty=_V,
    ),
    *(
        _p(
            id=f"braat2019_os_{key}_004",
            series="Braat et al.",
            year=None,
            reference="ref. [48]",
            design="retrospective, multicentre (eight institutions)",
            n_patients=None,
            modality="tare_resin",
            device="resin",
            endpoint=_E.MEDIAN_OS_MONTHS,
            value=value,
            ci_lower=low,
            ci_upper=high,
            stratum_kind="grade",
            stratum=grade,
            population=_NET,
            seed=SEED_004,
            section="Survival",
            quote=_Q_BRAAT_GRADE,
            certainty=_V,
        )
        for key, grade, value, low, high in (
            ("g1", "NET G1", 37.2, 31.2, 44.4),
            ("g2", "NET G2", 28.8, 22.8, 36.0),
            ("g3", "NET G3/NEC", 10.8, 1.2, 22.8),
        )
    ),
    _p(
        id="zuckerman_hpfs_004",
        series="Zuckerman et al.",
        year=None,
        reference="ref. [56]",
        design="single academic centre, 2009-2015",
        n_patients=59,
        modality="tare",
        device="mixed",
        endpoint=_E.MEDIAN_HPFS_MONTHS,
        value=18.0,
        ci_lower=13.0,
        ci_upper=27.0,
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_ZUCK_SURV,
        certainty=_V,
    ),
    _p(
        id="zuckerman_os_004",
        series="Zuckerman et al.",
        year=None,
        reference="ref. [56]",
        design="single academic centre, 2009-2015",
        n_patients=59,
        modality="tare",
        device="mixed",
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=31.0,
        ci_lower=27.0,
        ci_upper=None,
        population=_NET,
        seed=SEED_004,
        section="Survival",
        quote=_Q_ZUCK_SURV,
        certainty=_V,
        note="upper confidence limit not reached",
    ),
    # ================= seed 004, Toxicity =================
    *(
        _p(
            id=f"jia_{key}_004",
            series="Jia and Wang",
            year=None,
            reference="ref. [53]",
            design="systematic review",
            n_patients=None,
            modality="tare",
            device=None,
            endpoint=_E.TOXICITY_PERCENT,
            event=event,
            value=value,
            statistic="median across studies",
            range_lower=low,
            range_upper=high,
            population=_NET,
            seed=SEED_004,
            section="Toxicity",
            quote=_Q_JIA_AE,
            certainty=_V,
        )
        for key, event, value, low, high in (
            ("abdominal_pain", "abdominal pain", 32.6, 2.7, 100.0),
            ("nausea", "nausea/vomiting", 32.5, 3.2, 100.0),
            ("fatigue", "fatigue", 30.4, 6.5, 63.0),
        )
    ),
    _p(
        id="braat2019_lymphocytopenia_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.TOXICITY_PERCENT,
        event="lymphocytopenia",
        value=6.7,
        population=_NET,
        seed=SEED_004,
        section="Toxicity",
        quote=_Q_HEME,
        certainty=_V,
    ),
    _p(
        id="braat2019_thrombocytopenia_004",
        series="Braat et al.",
        year=None,
        reference="ref. [48]",
        design="retrospective, multicentre (eight institutions)",
        n_patients=244,
        modality="tare_resin",
        device="resin",
        endpoint=_E.TOXICITY_PERCENT,
        event="thrombocytopenia",
        value=3.0,
        population=_NET,
        seed=SEED_004,
        section="Toxicity",
        quote=_Q_HEME,
        certainty=_V,
    ),
    _p(
        id="serious_complications_004",
        series="refs. [53,67,68]",
        year=None,
        reference="refs. [53,67,68]",
        design="pooled literature",
        n_patients=None,
        modality="tare",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="serious complications (non-target embolization)",
        value=1.0,
        qualifier="<",
        population=_NET,
        seed=SEED_004,
        section="Toxicity",
        quote="More serious complications are less common (<1%)",
        certainty=_V,
    ),
    _p(
        id="infection_tare_004",
        series="refs. [13,69]",
        year=None,
        reference="refs. [13,69]",
        design="pooled literature",
        n_patients=None,
        modality="tare",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="infection",
        value=10.0,
        qualifier="~",
        population="NET liver metastases (higher with prior biliary instrumentation)",
        seed=SEED_004,
        section="Toxicity",
        quote=_Q_INFECTION,
        certainty=_V,
        source_id="tare_infection_004",
    ),
    _p(
        id="infection_tae_tace_004",
        series="refs. [13,69]",
        year=None,
        reference="refs. [13,69]",
        design="pooled literature",
        n_patients=None,
        modality="tae_tace",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="infection",
        value=20.0,
        qualifier="~",
        population="NET liver metastases (higher with prior biliary instrumentation)",
        seed=SEED_004,
        section="Toxicity",
        quote=_Q_INFECTION,
        certainty=_V,
        source_id="tare_infection_004",
    ),
    _p(
        id="su_cirrhosis_like_004",
        series="Su et al.",
        year=None,
        reference="ref. [70]",
        design="retrospective, follow-up > 2 years",
        n_patients=39,
        modality="tare_glass",
        device="glass",
        endpoint=_E.TOXICITY_PERCENT,
        event="cirrhosis-like morphology",
        value=56.4,
        population="NET liver metastases, bilobar TARE",
        seed=SEED_004,
        section="Toxicity",
        quote="This developed in 56.4% (22/39) of patients who received bilobar TARE",
        certainty=_V,
        source_id="tare_chronic_004",
    ),
    _p(
        id="su_time_to_cirrhosis_like_004",
        series="Su et al.",
        year=None,
        reference="ref. [70]",
        design="retrospective, follow-up > 2 years",
        n_patients=39,
        modality="tare_glass",
        device="glass",
        endpoint=_E.MEDIAN_TIME_TO_TOXICITY_YEARS,
        event="cirrhosis-like morphology",
        value=1.8,
        population="NET liver metastases, bilobar TARE",
        seed=SEED_004,
        section="Toxicity",
        quote="the median time to cirrhosis-like morphology was 1.8 years",
        certainty=_V,
        source_id="tare_chronic_004",
    ),
    _p(
        id="su_ascites_004",
        series="Su et al.",
        year=None,
        reference="ref. [70]",
        design="retrospective, follow-up > 2 years",
        n_patients=39,
        modality="tare_glass",
        device="glass",
        endpoint=_E.TOXICITY_PERCENT,
        event="ascites",
        value=41.0,
        population="NET liver metastases, bilobar TARE",
        seed=SEED_004,
        section="Toxicity",
        quote="41% (16/39) of patients developed ascites and 15.4% developed varices",
        certainty=_V,
        source_id="tare_chronic_004",
    ),
    _p(
        id="su_varices_004",
        series="Su et al.",
        year=None,
        reference="ref. [70]",
        design="retrospective, follow-up > 2 years",
        n_patients=39,
        modality="tare_glass",
        device="glass",
        endpoint=_E.TOXICITY_PERCENT,
        event="varices",
        value=15.4,
        population="NET liver metastases, bilobar TARE",
        seed=SEED_004,
        section="Toxicity",
        quote="41% (16/39) of patients developed ascites and 15.4% developed varices",
        certainty=_V,
        source_id="tare_chronic_004",
    ),
    _p(
        id="tomozawa_cirrhosis_like_004",
        series="Tomozawa et al.",
        year=None,
        reference="ref. [72]",
        design="retrospective, follow-up > 1 year",
        n_patients=52,
        modality="tare_resin",
        device="resin",
        endpoint=_E.TOXICITY_PERCENT,
        event="cirrhosis-like morphology or portal hypertension",
        value=29.0,
        population=_NET,
        seed=SEED_004,
        section="Toxicity",
        quote="new imaging changes of cirrhosis-like morphology or portal hypertension "
        "developed in 29% (15/52) of patients",
        certainty=_V,
        source_id="tare_chronic_004",
    ),
    *(
        _p(
            id=f"tomozawa_bilobar_{key}_004",
            series="Tomozawa et al.",
            year=None,
            reference="ref. [72]",
            design="retrospective, follow-up > 1 year",
            n_patients=29,
            modality="tare_resin",
            device="resin",
            endpoint=_E.TOXICITY_PERCENT,
            event=event,
            value=value,
            stratum_kind="subgroup",
            stratum="bilobar TARE",
            population=_NET,
            seed=SEED_004,
            section="Toxicity",
            quote=_Q_TOMOZAWA_BILOBAR,
            certainty=_V,
            source_id="tare_chronic_004",
            note="not statistically significant vs unilobar",
        )
        for key, event, value in (
            ("cirrhosis_like", "cirrhosis-like morphology", 20.7),
            ("ascites", "ascites", 17.2),
            ("splenomegaly", "splenomegaly", 20.7),
            ("varices", "varices", 6.9),
        )
    ),
    _p(
        id="zuckerman_hepatic_failure_death_004",
        series="Zuckerman et al.",
        year=None,
        reference="ref. [56]",
        design="single academic centre",
        n_patients=51,
        modality="tare_resin",
        device="resin",
        endpoint=_E.TOXICITY_PERCENT,
        event="treatment-related death from hepatic failure",
        value=round(300 / 51, 1),
        population=_NET,
        seed=SEED_004,
        section="Toxicity",
        quote="three potentially treatment-related deaths secondary to hepatic failure out of "
        "51 patients",
        certainty=_V,
        source_id="net_normal_liver_004",
        note="5.9 % computed from 3/51",
    ),
    _p(
        id="zuckerman_normal_liver_no_tox_004",
        series="Zuckerman et al.",
        year=None,
        reference="ref. [56]",
        design="single centre, post-treatment PET-MRI dosimetry",
        n_patients=None,
        modality="tare_resin",
        device="resin",
        endpoint=_E.MEAN_NORMAL_LIVER_DOSE_GY,
        value=25.4,
        statistic="mean",
        stratum_kind="toxicity",
        stratum="no hepatotoxicity",
        population=_NET,
        seed=SEED_004,
        section="Toxicity",
        quote=_Q_ZUCK_DOSE,
        certainty=_V,
        source_id="net_normal_liver_004",
        note="10 patients with dosimetry in all",
    ),
    _p(
        id="zuckerman_normal_liver_tox_004",
        series="Zuckerman et al.",
        year=None,
        reference="ref. [56]",
        design="single centre, post-treatment PET-MRI dosimetry",
        n_patients=3,
        modality="tare_resin",
        device="resin",
        endpoint=_E.MEAN_NORMAL_LIVER_DOSE_GY,
        value=59.1,
        statistic="mean",
        stratum_kind="toxicity",
        stratum="hepatotoxicity",
        population=_NET,
        seed=SEED_004,
        section="Toxicity",
        quote=_Q_ZUCK_DOSE,
        certainty=_V,
        source_id="net_normal_liver_004",
        note="hepatic fibrosis n = 2, death from hepatic failure n = 1",
    ),
    # ================= seed 004, Dosimetry =================
    _p(
        id="chansanti_response_threshold_004",
        series="Chansanti et al.",
        year=2017,
        reference="ref. [46]",
        design="small study, partition model on 99mTc-MAA SPECT/CT",
        n_patients=15,
        unit_of_analysis="lesion",
        modality="tare_resin",
        device="resin",
        endpoint=_E.RESPONSE_DOSE_THRESHOLD_GY,
        value=191.3,
        criterion="mRECIST",
        population=_NET,
        seed=SEED_004,
        section="Dosimetry",
        quote="an estimated tumor-absorbed dose ≥191.3\u2009Gy predicted response by modified "
        "Response Evaluation Criteria in Solid Tumors (mRECIST)",
        certainty=_V,
        source_id="net_resin_response_004",
        note="the seed prints '93% specificity and 83% specificity' (one is presumably "
        "sensitivity)",
    ),
    _p(
        id="chansanti_no_response_threshold_004",
        series="Chansanti et al.",
        year=2017,
        reference="ref. [46]",
        design="small study, partition model on 99mTc-MAA SPECT/CT",
        n_patients=15,
        unit_of_analysis="lesion",
        modality="tare_resin",
        device="resin",
        endpoint=_E.NO_RESPONSE_DOSE_THRESHOLD_GY,
        value=72.8,
        criterion="mRECIST",
        population=_NET,
        seed=SEED_004,
        section="Dosimetry",
        quote="An absorbed tumor dose less than 72.8\u2009Gy predicted no response",
        certainty=_V,
        source_id="net_resin_response_004",
    ),
    _p(
        id="chansanti_response_above_004",
        series="Chansanti et al.",
        year=2017,
        reference="ref. [46]",
        design="small study, partition model on 99mTc-MAA SPECT/CT",
        n_patients=None,
        unit_of_analysis="lesion",
        modality="tare_resin",
        device="resin",
        endpoint=_E.ORR_PERCENT,
        value=96.2,
        criterion="mRECIST",
        stratum_kind="tumour_dose",
        stratum=">= 191.3 Gy",
        population=_NET,
        seed=SEED_004,
        section="Dosimetry",
        quote=_Q_CHANSANTI_RATES,
        certainty=_V,
        source_id="net_resin_response_004",
        note="25 of 26 tumours",
    ),
    _p(
        id="chansanti_response_below_004",
        series="Chansanti et al.",
        year=2017,
        reference="ref. [46]",
        design="small study, partition model on 99mTc-MAA SPECT/CT",
        n_patients=None,
        unit_of_analysis="lesion",
        modality="tare_resin",
        device="resin",
        endpoint=_E.ORR_PERCENT,
        value=26.3,
        criterion="mRECIST",
        stratum_kind="tumour_dose",
        stratum="< 191.3 Gy",
        population=_NET,
        seed=SEED_004,
        section="Dosimetry",
        quote=_Q_CHANSANTI_RATES,
        certainty=_V,
        source_id="net_resin_response_004",
        note="5 of 19 tumours",
    ),
    # ================= seed 004, Combination with Chemotherapy =================
    _p(
        id="king_orr_004",
        series="King et al.",
        year=2008,
        reference="ref. [77]",
        design="prospective, TARE with 7-day 5-FU infusion",
        n_patients=34,
        modality="tare",
        device=None,
        endpoint=_E.ORR_PERCENT,
        value=50.0,
        criterion="RECIST",
        population="progressive NET liver metastases, TARE + 5-fluorouracil",
        seed=SEED_004,
        section="Combination with Chemotherapy",
        quote=_Q_KING_RESP,
        certainty=_S,
        note="18 % CR + 32 % PR; seed 000's table gives King 2008 CR 18 %, PR 15 %, SD 15 %, "
        "radiologic response 65 %",
    ),
    _p(
        id="king_symptom3_004",
        series="King et al.",
        year=2008,
        reference="ref. [77]",
        design="prospective, TARE with 7-day 5-FU infusion",
        n_patients=34,
        modality="tare",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=55.0,
        timepoint_months=3,
        population="progressive NET liver metastases, TARE + 5-fluorouracil",
        seed=SEED_004,
        section="Combination with Chemotherapy",
        quote=_Q_KING_SYMPTOM,
        certainty=_V,
    ),
    _p(
        id="king_symptom6_004",
        series="King et al.",
        year=2008,
        reference="ref. [77]",
        design="prospective, TARE with 7-day 5-FU infusion",
        n_patients=34,
        modality="tare",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=50.0,
        timepoint_months=6,
        population="progressive NET liver metastases, TARE + 5-fluorouracil",
        seed=SEED_004,
        section="Combination with Chemotherapy",
        quote=_Q_KING_SYMPTOM,
        certainty=_V,
    ),
    # ================= seed 004, Sequencing with PRRT =================
    _p(
        id="braat_prrt_orr_004",
        series="Braat et al.",
        year=None,
        reference="ref. [83]",
        design="multicentre retrospective",
        n_patients=44,
        modality="tare",
        device=None,
        endpoint=_E.ORR_PERCENT,
        value=16.0,
        timepoint_months=3,
        criterion="RECIST 1.1",
        stratum_kind="prior_prrt",
        stratum="prior PRRT",
        population="NET liver metastases after PRRT (median 353 days)",
        seed=SEED_004,
        section="Sequencing with Peptide Receptor Radionuclide Therapy",
        quote="By RECIST 1.1 at 3 months, the ORR was 16% and DCR was 91%",
        certainty=_V,
        source_id="tare_after_prrt_004",
    ),
    _p(
        id="braat_prrt_dcr_004",
        series="Braat et al.",
        year=None,
        reference="ref. [83]",
        design="multicentre retrospective",
        n_patients=44,
        modality="tare",
        device=None,
        endpoint=_E.DCR_PERCENT,
        value=91.0,
        timepoint_months=3,
        criterion="RECIST 1.1",
        stratum_kind="prior_prrt",
        stratum="prior PRRT",
        population="NET liver metastases after PRRT (median 353 days)",
        seed=SEED_004,
        section="Sequencing with Peptide Receptor Radionuclide Therapy",
        quote="By RECIST 1.1 at 3 months, the ORR was 16% and DCR was 91%",
        certainty=_V,
        source_id="tare_after_prrt_004",
    ),
    _p(
        id="braat_prrt_reild_004",
        series="Braat et al.",
        year=None,
        reference="ref. [83]",
        design="multicentre retrospective",
        n_patients=44,
        modality="tare",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="REILD",
        value=round(300 / 44, 1),
        stratum_kind="prior_prrt",
        stratum="prior PRRT",
        population="NET liver metastases after PRRT (median 353 days)",
        seed=SEED_004,
        section="Sequencing with Peptide Receptor Radionuclide Therapy",
        quote="Three patients developed radioembolization-induced liver disease and one died "
        "20 weeks after TARE",
        certainty=_V,
        source_id="tare_after_prrt_004",
        note="6.8 % computed from 3/44",
    ),
    _p(
        id="prrt_after_embolization_hepatotoxicity_004",
        series="ref. [82]",
        year=None,
        reference="ref. [82]",
        design="small case series",
        n_patients=17,
        modality="prrt",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="hepatotoxicity",
        value=round(1000 / 17) / 10,
        stratum_kind="subgroup",
        stratum="prior embolotherapy",
        population="heavily pretreated U.S. patients, embolotherapy then PRRT",
        seed=SEED_004,
        section="Sequencing with Peptide Receptor Radionuclide Therapy",
        quote="10 of 17 heavily pretreated U.S. patients with embolotherapy followed by PRRT "
        "developed hepatotoxicity",
        certainty=_V,
        source_id="tare_after_prrt_004",
        note="58.8 % computed from 10/17",
    ),
    # ================= seed 001, §6.1 TAE and TACE =================
    _p(
        id="tae_tace_post_embolization_001",
        series="refs. [49,50]",
        year=None,
        reference="refs. [49,50] (paragraph)",
        design="review statement",
        n_patients=None,
        modality="tae_tace",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="post-embolization syndrome",
        value=80.0,
        value_upper=86.0,
        population=_NET,
        seed=SEED_001,
        section="§6.1 TAE and TACE",
        quote="Overall, 80–86% of patients will exhibit post-procedural symptoms, mostly in the "
        "form of a post-embolization syndrome",
        certainty=_V,
    ),
    _p(
        id="tae_tace_major_complications_001",
        series="refs. [49,50]",
        year=None,
        reference="refs. [49,50]",
        design="review statement",
        n_patients=None,
        modality="tae_tace",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="major complications",
        value=3.0,
        value_upper=17.0,
        population=_NET,
        seed=SEED_001,
        section="§6.1 TAE and TACE",
        quote="Major complications may occur in 3–17% of patients",
        certainty=_V,
        note="liver failure, ischemic cholecystitis, acute carcinoid syndrome, liver abscess",
    ),
    _p(
        id="tae_tace_symptom_001",
        series="ref. [50]",
        year=None,
        reference="ref. [50]",
        design="review statement",
        n_patients=None,
        modality="tae_tace",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=50.0,
        value_upper=90.0,
        population=_NET,
        seed=SEED_001,
        section="§6.1 TAE and TACE",
        quote="Symptomatic improvement is expected in 50–90% of patients",
        certainty=_V,
    ),
    _p(
        id="tae_tace_radiologic_001",
        series="refs. [50,51]",
        year=None,
        reference="refs. [50,51]",
        design="review statement",
        n_patients=None,
        modality="tae_tace",
        device=None,
        endpoint=_E.RADIOLOGIC_RESPONSE_PERCENT,
        value=80.0,
        value_upper=100.0,
        population=_NET,
        seed=SEED_001,
        section="§6.1 TAE and TACE",
        quote="80–100% of patients will also show a radiologic response",
        certainty=_V,
    ),
    _p(
        id="tae_tace_hpfs_responders_001",
        series="ref. [52]",
        year=None,
        reference="ref. [52]",
        design="review statement",
        n_patients=None,
        modality="tae_tace",
        device=None,
        endpoint=_E.MEDIAN_HPFS_MONTHS,
        value=10.0,
        qualifier=">",
        stratum_kind="response",
        stratum="responders",
        population=_NET,
        seed=SEED_001,
        section="§6.1 TAE and TACE",
        quote="In responders, hepatic progression-free survival is over 10 months",
        certainty=_V,
    ),
    # ================= seed 001, §6.2 SIRT =================
    _p(
        id="jia_dcr_001",
        series="Jia et al.",
        year=None,
        reference="ref. [56]",
        design="meta-analysis, 11 studies and 7 abstracts",
        n_patients=870,
        n_studies=18,
        modality="tare",
        device=None,
        endpoint=_E.DCR_PERCENT,
        value=86.0,
        statistic="median across studies",
        timepoint_months=3,
        population=_NET,
        seed=SEED_001,
        section="§6.2 SIRT",
        quote=_Q_JIA_001,
        certainty=_V,
        same_as="jia_dcr_004",
    ),
    _p(
        id="jia_os_001",
        series="Jia et al.",
        year=None,
        reference="ref. [56]",
        design="meta-analysis, 11 studies and 7 abstracts",
        n_patients=870,
        n_studies=18,
        modality="tare",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=28.0,
        population=_NET,
        seed=SEED_001,
        section="§6.2 SIRT",
        quote=_Q_JIA_001,
        certainty=_S,
        note="seed 004 (Survival) gives 32 months for Jia and Wang and 28 months for Frilling",
    ),
    *(
        _p(
            id=f"jia_os_{site}_001",
            series="Jia et al.",
            year=None,
            reference="ref. [56]",
            design="meta-analysis, 11 studies and 7 abstracts",
            n_patients=None,
            modality="tare",
            device=None,
            endpoint=_E.MEDIAN_OS_MONTHS,
            value=value,
            stratum_kind="primary_site",
            stratum=site,
            population=_NET,
            seed=SEED_001,
            section="§6.2 SIRT",
            quote=_Q_JIA_PRIMARY_001,
            certainty=_V,
            same_as=f"jia_os_{site}_004",
        )
        for site, value in (("small_intestine", 56.0), ("pancreas", 31.0), ("unknown", 28.0))
    ),
    *(
        _p(
            id=f"jia_os_{key}_001",
            series="Jia et al.",
            year=None,
            reference="ref. [56]",
            design="meta-analysis, 11 studies and 7 abstracts",
            n_patients=None,
            modality="tare",
            device=None,
            endpoint=_E.MEDIAN_OS_MONTHS,
            value=value,
            stratum_kind="grade",
            stratum=grade,
            population=_NET,
            seed=SEED_001,
            section="§6.2 SIRT",
            quote=_Q_JIA_GRADE_001,
            certainty=_V,
            same_as=f"jia_os_{key}_004",
        )
        for key, grade, value in (
            ("g1", "NET G1", 71.0),
            ("g2", "NET G2", 56.0),
            ("g3", "NET G3/NEC", 28.0),
        )
    ),
    _p(
        id="frilling_dcr_001",
        series="Frilling et al.",
        year=None,
        reference="ref. [61]",
        design="meta-analysis",
        n_patients=None,
        n_studies=23,
        modality="tare",
        device=None,
        endpoint=_E.DCR_PERCENT,
        value=88.0,
        statistic="mean",
        population=_NET,
        seed=SEED_001,
        section="§6.2 SIRT",
        quote=_Q_FRILLING_001,
        certainty=_S,
        note="seed 004 (Survival) counts 19 studies for Frilling",
    ),
    _p(
        id="frilling_pfs_001",
        series="Frilling et al.",
        year=None,
        reference="ref. [61]",
        design="meta-analysis",
        n_patients=None,
        n_studies=23,
        modality="tare",
        device=None,
        endpoint=_E.MEDIAN_PFS_MONTHS,
        value=41.0,
        population=_NET,
        seed=SEED_001,
        section="§6.2 SIRT",
        quote=_Q_FRILLING_001,
        certainty=_S,
        note="seed 004 (Survival) counts 19 studies for Frilling",
    ),
    _p(
        id="braat_prrt_orr_001",
        series="Braat et al.",
        year=None,
        reference="ref. [62]",
        design="retrospective",
        n_patients=44,
        modality="tare",
        device=None,
        endpoint=_E.ORR_PERCENT,
        value=16.0,
        timepoint_months=3,
        stratum_kind="prior_prrt",
        stratum="prior PRRT",
        population="NET after PRRT (median 353 days)",
        seed=SEED_001,
        section="§6.2 SIRT",
        quote="An objective response rate of 16% and a disease control rate of 91% were "
        "observed after 3 months",
        certainty=_V,
        source_id="tare_after_prrt_004",
        same_as="braat_prrt_orr_004",
    ),
    _p(
        id="braat_prrt_clinical_response_001",
        series="Braat et al.",
        year=None,
        reference="ref. [62]",
        design="retrospective",
        n_patients=23,
        modality="tare",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=65.0,
        timepoint_months=3,
        stratum_kind="prior_prrt",
        stratum="prior PRRT",
        population="symptomatic NET patients after PRRT",
        seed=SEED_001,
        section="§6.2 SIRT",
        quote="65% (15/23) of symptomatic patients showed a clinical response after 3 months",
        certainty=_V,
        source_id="tare_after_prrt_004",
    ),
    _p(
        id="braat_prrt_os_001",
        series="Braat et al.",
        year=None,
        reference="ref. [62]",
        design="retrospective",
        n_patients=44,
        modality="tare",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=42.0,
        stratum_kind="prior_prrt",
        stratum="prior PRRT",
        population="NET after PRRT (median 353 days)",
        seed=SEED_001,
        section="§6.2 SIRT",
        quote="a median overall survival of 3.5 years after radioembolization was found",
        certainty=_V,
        source_id="tare_after_prrt_004",
        note="3.5 years = 42 months",
    ),
    *(
        _p(
            id=f"braat_prrt_{key}_001",
            series="Braat et al.",
            year=None,
            reference="ref. [62]",
            design="retrospective",
            n_patients=44,
            modality="tare",
            device=None,
            endpoint=_E.TOXICITY_PERCENT,
            event=event,
            value=value,
            qualifier=qualifier,
            timepoint_months=3,
            stratum_kind="prior_prrt",
            stratum="prior PRRT",
            population="NET after PRRT (median 353 days)",
            seed=SEED_001,
            section="§6.2 SIRT",
            quote=_Q_BRAAT_PRRT_TOX_001,
            certainty=_V,
            source_id="tare_after_prrt_004",
        )
        for key, event, value, qualifier in (
            ("clinical_toxicity", "clinical toxicity", 26.0, "="),
            ("heme_g3", "grade 3-4 hematological toxicity (excl. lymphocytopenia)", 10.0, "<"),
            ("lymphocytopenia", "lymphocytopenia", 42.0, "="),
        )
    ),
    _p(
        id="braat_prrt_complications_001",
        series="Braat et al.",
        year=None,
        reference="ref. [62]",
        design="retrospective",
        n_patients=44,
        modality="tare",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="radioembolization-related complications",
        value=5.0,
        stratum_kind="prior_prrt",
        stratum="prior PRRT",
        population="NET after PRRT (median 353 days)",
        seed=SEED_001,
        section="§6.2 SIRT",
        quote="radioembolization-related complications occurred in 5% of patients",
        certainty=_V,
        source_id="tare_after_prrt_004",
        note="one fatal REILD (seed 004 reports 3 REILD in all)",
    ),
    # ================= seed 000, series tables =================
    _p(
        id="tace_table_rr_000",
        series="pooled series (TACE table)",
        year=None,
        reference="poster table",
        design="summary of larger published series",
        n_patients=1467,
        modality="tae_tace",
        device=None,
        endpoint=_E.ORR_PERCENT,
        value=52.0,
        statistic="mean",
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="1467 pts – Mean RR 52%, Symptom Response >80%, Tumor Marker Response >70%",
        certainty=_V,
        note="'RR' taken as objective response rate",
    ),
    _p(
        id="tace_table_symptom_000",
        series="pooled series (TACE table)",
        year=None,
        reference="poster table",
        design="summary of larger published series",
        n_patients=1467,
        modality="tae_tace",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=80.0,
        qualifier=">",
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="1467 pts – Mean RR 52%, Symptom Response >80%, Tumor Marker Response >70%",
        certainty=_V,
    ),
    _p(
        id="dong2005_os_000",
        series="Dong",
        year=2005,
        reference="ref. 15 (ASCO abstract)",
        design="series",
        n_patients=125,
        modality="tace",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=36.0,
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Dong 2005\t125\tTACE\t-\t-\t3 yr\t-",
        certainty=_V,
        note="'3 yr' = 36 months",
    ),
    _p(
        id="ho2007_os_000",
        series="Ho et al.",
        year=2007,
        reference="ref. 16",
        design="series",
        n_patients=46,
        modality="tae_tace",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=33.0,
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="2007\t46\tTAE TACE\t-\t-\t33m\t-",
        certainty=_V,
        note="the seed spells 'Ho' with Cyrillic letters; the quote starts after the name",
    ),
    _p(
        id="gupta2005_orr_000",
        series="Gupta et al.",
        year=2005,
        reference="ref. 17",
        design="series",
        n_patients=123,
        modality="tae_tace",
        device=None,
        endpoint=_E.ORR_PERCENT,
        value=66.7,
        criterion="WHO",
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Gupta 2005\t123\tTAE TACE\t66.7% WHO\tnr\t33.8m\t@8%",
        certainty=_V,
        note="column 'Response CR+PR'",
    ),
    _p(
        id="gupta2005_os_000",
        series="Gupta et al.",
        year=2005,
        reference="ref. 17",
        design="series",
        n_patients=123,
        modality="tae_tace",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=33.8,
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Gupta 2005\t123\tTAE TACE\t66.7% WHO\tnr\t33.8m\t@8%",
        certainty=_V,
    ),
    _p(
        id="gupta2005_hepatic_toxicity_000",
        series="Gupta et al.",
        year=2005,
        reference="ref. 17",
        design="series",
        n_patients=123,
        modality="tae_tace",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="hepatic toxicity",
        value=8.0,
        qualifier="~",
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Gupta 2005\t123\tTAE TACE\t66.7% WHO\tnr\t33.8m\t@8%",
        certainty=_U,
        note="printed '@8%'; read as about 8 %",
    ),
    _p(
        id="bloomston2007_symptom_000",
        series="Bloomston et al.",
        year=2007,
        reference="ref. 18",
        design="series",
        n_patients=122,
        modality="tace",
        device=None,
        endpoint=_E.SYMPTOM_RESPONSE_PERCENT,
        value=92.0,
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Bloomston 2007\t122\tTACE\tnr\t92%\t33.3m\t@3%",
        certainty=_V,
    ),
    _p(
        id="bloomston2007_os_000",
        series="Bloomston et al.",
        year=2007,
        reference="ref. 18",
        design="series",
        n_patients=122,
        modality="tace",
        device=None,
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=33.3,
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Bloomston 2007\t122\tTACE\tnr\t92%\t33.3m\t@3%",
        certainty=_V,
    ),
    _p(
        id="bloomston2007_hepatic_toxicity_000",
        series="Bloomston et al.",
        year=2007,
        reference="ref. 18",
        design="series",
        n_patients=122,
        modality="tace",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="hepatic toxicity",
        value=3.0,
        qualifier="~",
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Bloomston 2007\t122\tTACE\tnr\t92%\t33.3m\t@3%",
        certainty=_U,
        note="printed '@3%'; read as about 3 %",
    ),
    _p(
        id="ruutiainen2007_hepatic_toxicity_000",
        series="Ruutiainen et al.",
        year=2007,
        reference="ref. 14",
        design="series",
        n_patients=67,
        modality="tae_tace",
        device=None,
        endpoint=_E.TOXICITY_PERCENT,
        event="hepatic toxicity",
        value=4.0,
        population=_NET,
        seed=SEED_000,
        section=_TACE_TABLE,
        quote="Ruutiainen 2007\t67\tTAE TACE\tTTP 6m 12m\t93% 92%\t3yr 5yr\t4%",
        certainty=_U,
        note="the other cells of this row (TTP 6m 12m, 93% 92%, 3yr 5yr) are not "
        "interpretable without the original",
    ),
    _p(
        id="king2008_radiologic_000",
        series="King et al.",
        year=2008,
        reference="ref. 20",
        design="phase IV",
        n_patients=34,
        modality="tare",
        device=None,
        endpoint=_E.RADIOLOGIC_RESPONSE_PERCENT,
        value=65.0,
        population=_NET,
        seed=SEED_000,
        section=_RE_TABLE,
        quote="King 2008 Ph IV\t34\t18%\t15%\t15%\t65%\t55%\t59% @35.2m",
        certainty=_U,
        note="'Rad Response' is not defined; seed 004 gives King's ORR as 50 %",
    ),
    _p(
        id="king2008_os_rate_000",
        series="King et al.",
        year=2008,
        reference="ref. 20",
        design="phase IV",
        n_patients=34,
        modality="tare",
        device=None,
        endpoint=_E.OS_RATE_PERCENT,
        value=59.0,
        timepoint_months=35.2,
        population=_NET,
        seed=SEED_000,
        section=_RE_TABLE,
        quote="King 2008 Ph IV\t34\t18%\t15%\t15%\t65%\t55%\t59% @35.2m",
        certainty=_S,
        note="column 'Survival %/@': 59 % at 35.2 months",
    ),
    _p(
        id="rhee2008_pr_000",
        series="Rhee et al.",
        year=2008,
        reference="ref. 21",
        design="multi-institutional",
        n_patients=42,
        modality="tare",
        device=None,
        endpoint=_E.PR_PERCENT,
        value=52.0,
        population=_NET,
        seed=SEED_000,
        section=_RE_TABLE,
        quote="Rhee 2008\t42\t0\t52%\t41%\t93%\tnr\t57% @36m",
        certainty=_V,
    ),
    _p(
        id="rhee2008_sd_000",
        series="Rhee et al.",
        year=2008,
        reference="ref. 21",
        design="multi-institutional",
        n_patients=42,
        modality="tare",
        device=None,
        endpoint=_E.SD_PERCENT,
        value=41.0,
        population=_NET,
        seed=SEED_000,
        section=_RE_TABLE,
        quote="Rhee 2008\t42\t0\t52%\t41%\t93%\tnr\t57% @36m",
        certainty=_V,
    ),
    _p(
        id="rhee2008_radiologic_000",
        series="Rhee et al.",
        year=2008,
        reference="ref. 21",
        design="multi-institutional",
        n_patients=42,
        modality="tare",
        device=None,
        endpoint=_E.RADIOLOGIC_RESPONSE_PERCENT,
        value=93.0,
        population=_NET,
        seed=SEED_000,
        section=_RE_TABLE,
        quote="Rhee 2008\t42\t0\t52%\t41%\t93%\tnr\t57% @36m",
        certainty=_U,
        note="'Rad Response' is not defined (here PR + SD)",
    ),
    _p(
        id="rhee2008_os_rate_000",
        series="Rhee et al.",
        year=2008,
        reference="ref. 21",
        design="multi-institutional",
        n_patients=42,
        modality="tare",
        device=None,
        endpoint=_E.OS_RATE_PERCENT,
        value=57.0,
        timepoint_months=36.0,
        population=_NET,
        seed=SEED_000,
        section=_RE_TABLE,
        quote="Rhee 2008\t42\t0\t52%\t41%\t93%\tnr\t57% @36m",
        certainty=_S,
        note="column 'Survival %/@': 57 % at 36 months",
    ),
    _p(
        id="kennedy2008_os_000",
        series="Kennedy et al.",
        year=2008,
        reference="ref. 19",
        design="retrospective review, 185 procedures",
        n_patients=148,
        modality="tare_resin",
        device="resin",
        endpoint=_E.MEDIAN_OS_MONTHS,
        value=70.0,
        population=_NET,
        seed=SEED_000,
        section="'Radioembolization' and series table",
        quote="The median survival was 70 months.",
        certainty=_V,
        note="table: '70m (mean f/up 42 months)'",
    ),
    _p(
        id="kennedy2008_orr_table_000",
        series="Kennedy et al.",
        year=2008,
        reference="ref. 19",
        design="retrospective review, 185 procedures",
        n_patients=148,
        modality="tare_resin",
        device="resin",
        endpoint=_E.RADIOLOGIC_RESPONSE_PERCENT,
        value=63.2,
        population=_NET,
        seed=SEED_000,
        section=_RE_TABLE,
        quote="Kennedy 2008\t148\t2.7%\t60.5%\t23%\t63.2%\tnr",
        certainty=_V,
        same_as="kennedy2008_orr_004",
        note="CR 2.7 % + PR 60.5 % = 63.2 %, the ORR of seed 004",
    ),
    _p(
        id="kennedy2008_pr_text_000",
        series="Kennedy et al.",
        year=2008,
        reference="ref. 19",
        design="retrospective review, 185 procedures",
        n_patients=148,
        modality="tare_resin",
        device="resin",
        endpoint=_E.PR_PERCENT,
        value=66.7,
        population=_NET,
        seed=SEED_000,
        section="'Radioembolization'",
        quote="Kennedy et al observed a complete response in 3%, partial response in 66.7%, "
        "stable disease in 25%, and progressive disease in 5.3% of patients",
        certainty=_S,
        note="the same seed's table and seed 004 give CR 2.7 %, PR 60.5 %, SD 22.7-23 %",
    ),
)


_BY_ID: Final = {r.id: r for r in PUBLISHED_OUTCOMES}
if len(_BY_ID) != len(PUBLISHED_OUTCOMES):  # pragma: no cover - guards against copy-paste ids
    raise RuntimeError("duplicate id in netlm.outcomes.evidence_library")


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
