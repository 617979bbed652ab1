"""PRRT rules: intravenous 177Lu-DOTATATE and intra-arterial PRRT (seed 001 §6.3, LUTIA).

LUTIA inclusion (eligibility.md): Ki-67 <= 20 %, >= 1 lesion >= 3 cm in each
lobe (Couinaud 2-4 left, 5-8 right; the caudate, segment 1, is neither),
burden <= 25 %, GFR >= 50, platelets >= 100, bilirubin <= ULN, albumin >= 3.0
g/dL, no prior liver-directed therapy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import DELETE, make_case
from netlm.eligibility import Assessor, Effect, ModalityOption, Verdict
from netlm.evidence.sources import SEED_001

SHARED_EXAMPLE_WHIPPLE = Path(__file__).resolve().parents[2] / (
    "src/netlm/examples/case-whipple-pvt.yaml"
)

IV = "prrt"
IA = "prrt_intraarterial"

NEGATIVE_SSTR = {"tumour__sstr_imaging": {"modality": "ga68_dotatate_pet", "positive": False}}
NEC = {"tumour__differentiation": "poor"}


def lesion(id: str, segment: int | None, mm: float | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": id}
    if segment is not None:
        doc["segment"] = segment
    if mm is not None:
        doc["longest_diameter_mm"] = mm
    return doc


def lobes(left: tuple[int, float], right: tuple[int, float]) -> dict[str, Any]:
    """Two listed lesions, (segment, diameter) each; nothing else in the liver."""
    return {
        "liver__distribution": "bilobar",
        "liver__lesion_count": 2,
        "liver__lesions": [lesion("L1", *left), lesion("L2", *right)],
    }


#: Meets every LUTIA criterion: a 30 mm lesion in segment 3 and one in segment 6,
#: burden 400/1600 = 25 %.
LUTIA = lobes((3, 30), (6, 30))


def prior(*types: str) -> dict[str, Any]:
    return {"history__prior_treatments": [{"type": t} for t in types]}


def bilirubin(value: float, uln: float, unit: str = "mg/dL") -> dict[str, Any]:
    return {"labs__bilirubin": {"value": value, "unit": unit, "uln": uln}}


def albumin(value: float, unit: str = "g/dL") -> dict[str, Any]:
    return {"labs__albumin": {"value": value, "unit": unit}}


def burden(tumour_ml: float) -> dict[str, Any]:
    """A 1000 mL liver holding ``tumour_ml`` of tumour: burden ``tumour_ml / 10`` %."""
    return {"liver__volume_ml": 1000, "liver__tumour_volume_ml": tumour_ml}


TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    ("prrt.sstr_imaging", IV, NEGATIVE_SSTR),
    ("prrt.sstr_imaging", IA, NEGATIVE_SSTR),
    (
        "prrt.sstr_imaging",
        IV,
        {"tumour__sstr_imaging": {"positive": False, "krenning_score": 1}},
    ),
    ("prrt.uptake", IV, {"tumour__sstr_imaging__krenning_score": 1}),
    ("prrt.uptake", IA, {"tumour__sstr_imaging__krenning_score": 0}),
    ("prrt.nec", IV, NEC),
    ("prrt.nec", IA, NEC),
    ("prrt.g3", IV, {"tumour__ki67_percent": 25}),
    ("prrt.g3", IV, {"tumour__mitoses_per_2mm2": 21}),
    ("prrt.platelets", IV, {"labs__platelets_10e9_per_l": 74.9}),
    ("prrt.renal", IV, {"labs__egfr_ml_min": 49.9}),
    ("prrt.schedule", IV, {}),
    ("prrt.extrahepatic", IV, {"tumour__extrahepatic_disease": "limited"}),
    ("prrt.extrahepatic", IV, {"tumour__extrahepatic_disease": "extensive"}),
    ("prrt.prior_prrt", IV, {"history__prior_treatments": [{"type": "prrt", "cycles": 4}]}),
    ("prrt.after_tare", IV, prior("tare")),
    ("prrt.after_tare", IA, prior("ssa", "tare")),
    ("prrt_ia.trials_only", IA, {}),
    ("prrt_ia.trials_only", IA, LUTIA),
    ("prrt_ia.lutia_ki67", IA, {"tumour__ki67_percent": 20.1}),
    ("prrt_ia.lutia_lesions", IA, {}),  # a single 20 mm lesion in segment 6
    ("prrt_ia.lutia_lesions", IA, lobes((3, 29.9), (6, 30))),
    ("prrt_ia.lutia_lesions", IA, lobes((1, 40), (6, 40))),  # caudate is not the left lobe
    ("prrt_ia.lutia_lesions", IA, lobes((2, 40), (1, 40))),  # nor the right lobe
    ("prrt_ia.lutia_lesions", IA, lobes((2, 40), (3, 40))),
    ("prrt_ia.lutia_burden", IA, {**LUTIA, **burden(251)}),
    ("prrt_ia.lutia_labs", IA, {"labs__egfr_ml_min": 49.9}),
    ("prrt_ia.lutia_labs", IA, {"labs__platelets_10e9_per_l": 99.9}),
    ("prrt_ia.lutia_labs", IA, bilirubin(1.3, 1.2)),
    ("prrt_ia.lutia_labs", IA, albumin(2.9)),
    ("prrt_ia.lutia_prior_ldt", IA, prior("tae")),
    ("prrt_ia.lutia_prior_ldt", IA, prior("ssa", "ablation")),
    ("prrt_ia.lutia_prior_ldt", IA, prior("prrt_intraarterial")),
]

QUIET: list[tuple[str, str, dict[str, Any]]] = [
    ("prrt.sstr_imaging", IV, {}),
    ("prrt.sstr_imaging", IA, {}),
    ("prrt.uptake", IV, {}),  # Krenning 3
    ("prrt.uptake", IV, {"tumour__sstr_imaging__krenning_score": 2}),
    ("prrt.uptake", IV, NEGATIVE_SSTR),  # the contraindication says it already
    ("prrt.nec", IV, {}),
    ("prrt.nec", IV, {"tumour__ki67_percent": 25}),  # well-differentiated NET G3
    ("prrt.g3", IV, {}),
    ("prrt.g3", IV, {"tumour__ki67_percent": 20}),  # G2 upper end
    ("prrt.g3", IV, NEC),
    ("prrt.g3", IA, {"tumour__ki67_percent": 25}),  # intravenous rule only
    ("prrt.platelets", IV, {"labs__platelets_10e9_per_l": 75}),
    ("prrt.platelets", IA, {"labs__platelets_10e9_per_l": 74.9}),
    ("prrt.renal", IV, {"labs__egfr_ml_min": 50}),
    ("prrt.schedule", IA, {}),
    ("prrt.extrahepatic", IV, {}),
    ("prrt.prior_prrt", IV, {}),
    ("prrt.prior_prrt", IV, prior("tare", "ssa")),
    ("prrt.after_tare", IV, {}),
    ("prrt.after_tare", IV, prior("prrt", "tae")),
    ("prrt_ia.trials_only", IV, {}),
    ("prrt_ia.lutia_ki67", IA, {"tumour__ki67_percent": 20}),
    ("prrt_ia.lutia_lesions", IA, LUTIA),
    ("prrt_ia.lutia_lesions", IA, lobes((4, 45), (5, 31))),
    ("prrt_ia.lutia_lesions", IA, lobes((2, 30), (8, 30))),
    ("prrt_ia.lutia_burden", IA, {**LUTIA, **burden(250)}),
    ("prrt_ia.lutia_burden", IA, LUTIA),
    ("prrt_ia.lutia_labs", IA, {}),
    (
        "prrt_ia.lutia_labs",
        IA,
        {
            "labs__egfr_ml_min": 50,
            "labs__platelets_10e9_per_l": 100,
            **bilirubin(1.2, 1.2),
            **albumin(3.0),
        },
    ),
    ("prrt_ia.lutia_prior_ldt", IA, {}),
    ("prrt_ia.lutia_prior_ldt", IA, prior("ssa", "prrt", "chemotherapy")),
]


# --------------------------------------------------------------------------- helpers
def option(assessor: Assessor, modality: str, **changes: Any) -> ModalityOption:
    return assessor.assess(make_case(**changes)).option(modality)


def ids(opt: ModalityOption) -> set[str]:
    return {f.rule_id for f in opt.findings}


def finding_message(opt: ModalityOption, rule_id: str) -> str:
    matches = [f.message for f in opt.findings if f.rule_id == rule_id]
    assert matches, f"{rule_id} did not fire; findings: {sorted(ids(opt))}"
    return matches[0]


def unevaluated(opt: ModalityOption) -> dict[str, tuple[str, ...]]:
    return {u.rule_id: u.fields for u in opt.unevaluated_rules}


# --------------------------------------------------------------------------- IV PRRT
def test_base_case_is_eligible_for_iv_prrt_with_its_schedule(assessor: Assessor) -> None:
    opt = option(assessor, IV)
    assert opt.verdict is Verdict.ELIGIBLE
    schedule = next(f for f in opt.findings if f.rule_id == "prrt.schedule")
    assert schedule.effect is Effect.REQUIREMENT
    assert "4 x 7.4 GBq" in schedule.message


@pytest.mark.parametrize("modality", [IV, IA])
def test_negative_sstr_imaging_contraindicates_prrt(assessor: Assessor, modality: str) -> None:
    opt = option(assessor, modality, **NEGATIVE_SSTR)
    assert opt.verdict is Verdict.CONTRAINDICATED
    assert "negative" in finding_message(opt, "prrt.sstr_imaging")
    # The uptake rule does not repeat it as an unmet indication.
    assert "prrt.uptake" not in ids(opt)


def test_missing_sstr_imaging_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, IV, tumour__sstr_imaging=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.sstr_imaging" in opt.missing_information

    unknown = option(assessor, IV, tumour__sstr_imaging__positive=DELETE)
    assert unknown.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.sstr_imaging.positive" in unknown.missing_information


@pytest.mark.parametrize(("score", "fires"), [(4, False), (2, False), (1, True), (0, True)])
def test_krenning_at_least_2(assessor: Assessor, score: int, fires: bool) -> None:
    opt = option(assessor, IV, tumour__sstr_imaging__krenning_score=score)
    assert ("prrt.uptake" in ids(opt)) is fires
    if fires:
        assert opt.verdict is Verdict.NOT_SUITABLE
        assert f"Krenning score {score} < 2" in finding_message(opt, "prrt.uptake")
    else:
        assert opt.verdict is Verdict.ELIGIBLE


def test_positive_imaging_without_krenning_score_needs_it(assessor: Assessor) -> None:
    opt = option(assessor, IV, tumour__sstr_imaging__krenning_score=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.sstr_imaging.krenning_score" in opt.missing_information


@pytest.mark.parametrize("modality", [IV, IA])
def test_nec_is_not_suitable_for_prrt(assessor: Assessor, modality: str) -> None:
    opt = option(assessor, modality, **NEC)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "neuroendocrine carcinoma" in finding_message(opt, "prrt.nec")


def test_g3_vs_nec_undetermined_needs_pathology(assessor: Assessor) -> None:
    opt = option(assessor, IV, tumour__ki67_percent=25, tumour__differentiation="unknown")
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.differentiation" in opt.missing_information
    assert unevaluated(opt)["prrt.nec"] == ("tumour.differentiation",)
    assert opt.provisional_verdict is Verdict.ELIGIBLE
    # Not yet known to be a NET G3 either.
    assert "prrt.g3" not in ids(opt)


def test_net_g3_is_eligible_with_caution(assessor: Assessor) -> None:
    opt = option(assessor, IV, tumour__ki67_percent=25)
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "NETTER-2" in finding_message(opt, "prrt.g3")
    assert "prrt.nec" not in ids(opt)


@pytest.mark.parametrize(("plt", "fires"), [(75, False), (74.9, True), (30, True)])
def test_platelet_floor_75(assessor: Assessor, plt: float, fires: bool) -> None:
    opt = option(assessor, IV, labs__platelets_10e9_per_l=plt)
    assert ("prrt.platelets" in ids(opt)) is fires
    if fires:
        assert f"platelets {plt:g} x 10^9/L < 75" in finding_message(opt, "prrt.platelets")
        assert opt.verdict is Verdict.CONTRAINDICATED  # issue #10: below the floor
    else:
        assert opt.verdict is Verdict.ELIGIBLE


@pytest.mark.parametrize(("egfr", "fires"), [(50, False), (49.9, True), (25, True)])
def test_egfr_at_least_50(assessor: Assessor, egfr: float, fires: bool) -> None:
    opt = option(assessor, IV, labs__egfr_ml_min=egfr)
    assert ("prrt.renal" in ids(opt)) is fires
    if fires:
        assert f"eGFR {egfr:g} mL/min < 50" in finding_message(opt, "prrt.renal")
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    else:
        assert opt.verdict is Verdict.ELIGIBLE


def test_missing_egfr_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, IV, labs__egfr_ml_min=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "labs.egfr_ml_min" in opt.missing_information


def test_extrahepatic_disease_favours_systemic_prrt(assessor: Assessor) -> None:
    opt = option(assessor, IV, tumour__extrahepatic_disease="extensive")
    favours = next(f for f in opt.findings if f.rule_id == "prrt.extrahepatic")
    assert favours.effect is Effect.FAVOURS
    assert favours.message.startswith("extensive extrahepatic disease")
    assert opt.verdict is Verdict.ELIGIBLE


def test_prior_prrt_counts_cycles(assessor: Assessor) -> None:
    opt = option(
        assessor,
        IV,
        history__prior_treatments=[{"type": "prrt", "cycles": 4}, {"type": "prrt"}],
    )
    # An entry without a cycle count counts as one cycle.
    assert finding_message(opt, "prrt.prior_prrt").startswith("5 prior PRRT cycle(s)")
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


@pytest.mark.parametrize("modality", [IV, IA])
def test_prrt_after_tare_cautions_hepatotoxicity(assessor: Assessor, modality: str) -> None:
    opt = option(assessor, modality, **LUTIA, **prior("tare"))
    assert "hepatotoxicity" in finding_message(opt, "prrt.after_tare")
    assert opt.verdict is not Verdict.ELIGIBLE


# --------------------------------------------------------------------------- IA PRRT (LUTIA)
def test_lutia_candidate_is_eligible_with_trial_caution(assessor: Assessor) -> None:
    opt = option(assessor, IA, **LUTIA)
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    # BASE is resectable with curative intent: a surgery-first requirement (issue #10).
    assert [f.rule_id for f in opt.findings if f.effect is not Effect.REQUIREMENT] == [
        "prrt_ia.trials_only"
    ]


@pytest.mark.parametrize(("ki67", "fires"), [(20, False), (20.1, True), (30, True)])
def test_lutia_ki67_at_most_20(assessor: Assessor, ki67: float, fires: bool) -> None:
    opt = option(assessor, IA, **LUTIA, tumour__ki67_percent=ki67)
    assert ("prrt_ia.lutia_ki67" in ids(opt)) is fires
    if fires:
        assert f"Ki-67 {ki67:g} % > 20 %" in finding_message(opt, "prrt_ia.lutia_ki67")
        assert opt.verdict is Verdict.NOT_SUITABLE


@pytest.mark.parametrize(
    ("left_segment", "right_segment", "lacking"),
    [
        (2, 5, None),
        (3, 6, None),
        (4, 7, None),
        (4, 8, None),
        (1, 6, "left"),
        (5, 6, "left"),
        (2, 1, "right"),
        (2, 3, "right"),
    ],
)
def test_lutia_lobes_by_couinaud_segment(
    assessor: Assessor, left_segment: int, right_segment: int, lacking: str | None
) -> None:
    opt = option(assessor, IA, **lobes((left_segment, 40), (right_segment, 40)))
    if lacking is None:
        assert "prrt_ia.lutia_lesions" not in ids(opt)
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    else:
        msg = finding_message(opt, "prrt_ia.lutia_lesions")
        assert msg.startswith(f"no lesion >= 30 mm in the {lacking} lobe")
        assert opt.verdict is Verdict.NOT_SUITABLE


@pytest.mark.parametrize(("left_mm", "fires"), [(30, False), (29.9, True)])
def test_lutia_lesion_size_at_least_30_mm(assessor: Assessor, left_mm: float, fires: bool) -> None:
    opt = option(assessor, IA, **lobes((3, left_mm), (6, 50)))
    assert ("prrt_ia.lutia_lesions" in ids(opt)) is fires


def test_lutia_names_both_lobes_when_neither_qualifies(assessor: Assessor) -> None:
    opt = option(assessor, IA, **lobes((3, 20), (6, 20)))
    assert "in the left and right lobe" in finding_message(opt, "prrt_ia.lutia_lesions")


def test_lutia_unlisted_lesions_could_qualify(assessor: Assessor) -> None:
    # Right lobe qualifies; one more lesion is counted but not listed.
    opt = option(
        assessor,
        IA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 6, 40)],
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "prrt_ia.lutia_lesions" in unevaluated(opt)


def test_lutia_lesion_without_segment_needs_it(assessor: Assessor) -> None:
    # A 40 mm lesion of unknown segment could be the missing left-lobe one.
    opt = option(
        assessor,
        IA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 6, 40), lesion("L2", None, 40)],
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.lesions[1].segment" in opt.missing_information


def test_lutia_small_lesion_without_segment_does_not_matter(assessor: Assessor) -> None:
    # L2 is 10 mm: wherever it lies it cannot be the left-lobe lesion >= 30 mm.
    opt = option(
        assessor,
        IA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 6, 40), lesion("L2", None, 10)],
    )
    assert "prrt_ia.lutia_lesions" in ids(opt)
    assert opt.verdict is Verdict.NOT_SUITABLE


def test_lutia_met_despite_an_unmeasured_extra_lesion(assessor: Assessor) -> None:
    # Both lobes already hold a measured lesion >= 30 mm: met whatever L3 measures.
    opt = option(
        assessor,
        IA,
        liver__distribution="bilobar",
        liver__lesion_count=3,
        liver__lesions=[lesion("L1", 3, 40), lesion("L2", 6, 40), lesion("L3", 7, None)],
    )
    assert "prrt_ia.lutia_lesions" not in unevaluated(opt)
    assert "prrt_ia.lutia_lesions" not in ids(opt)


def test_lutia_unmeasured_lesion_in_the_lacking_lobe_needs_its_diameter(
    assessor: Assessor,
) -> None:
    opt = option(
        assessor,
        IA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 6, 40), lesion("L2", 3, None)],
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.lesions[1].longest_diameter_mm" in opt.missing_information


def test_lutia_unmeasured_lesion_in_the_qualifying_lobe_does_not_matter(
    assessor: Assessor,
) -> None:
    # Left lobe qualifies (L1); L2, unmeasured, is also left: no right-lobe lesion exists.
    opt = option(
        assessor,
        IA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 3, 40), lesion("L2", 2, None)],
    )
    assert "prrt_ia.lutia_lesions" in ids(opt)
    assert opt.verdict is Verdict.NOT_SUITABLE


@pytest.mark.parametrize(("tumour_ml", "fires"), [(250, False), (251, True), (400, True)])
def test_lutia_burden_at_most_25(assessor: Assessor, tumour_ml: float, fires: bool) -> None:
    opt = option(assessor, IA, **LUTIA, **burden(tumour_ml))
    assert ("prrt_ia.lutia_burden" in ids(opt)) is fires
    if fires:
        msg = finding_message(opt, "prrt_ia.lutia_burden")
        assert f"tumour burden {tumour_ml / 10:g} % > 25 %" in msg
        assert opt.verdict is Verdict.NOT_SUITABLE
    else:
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_lutia_burden_unknown_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, IA, **LUTIA, liver__tumour_volume_ml=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.involvement_percent" in opt.missing_information


@pytest.mark.parametrize(
    ("changes", "fires", "text"),
    [
        ({"labs__egfr_ml_min": 50}, False, ""),
        ({"labs__egfr_ml_min": 49.9}, True, "eGFR 49.9 < 50 mL/min"),
        ({"labs__platelets_10e9_per_l": 100}, False, ""),
        ({"labs__platelets_10e9_per_l": 99.9}, True, "platelets 99.9 < 100 x 10^9/L"),
        (bilirubin(1.2, 1.2), False, ""),
        (bilirubin(1.21, 1.2), True, "bilirubin 1.21 > ULN 1.2 mg/dL"),
        (bilirubin(20.5, 20.5, "umol/L"), False, ""),
        (bilirubin(21, 20.5, "umol/L"), True, "bilirubin 21 > ULN 20.5 umol/L"),
        (albumin(3.0), False, ""),
        (albumin(2.9), True, "albumin 2.9 < 3 g/dL"),
        (albumin(30, "g/L"), False, ""),
        (albumin(29, "g/L"), True, "albumin 2.9 < 3 g/dL"),
    ],
)
def test_lutia_lab_boundaries(
    assessor: Assessor, changes: dict[str, Any], fires: bool, text: str
) -> None:
    opt = option(assessor, IA, **LUTIA, **changes)
    assert ("prrt_ia.lutia_labs" in ids(opt)) is fires
    if fires:
        assert text in finding_message(opt, "prrt_ia.lutia_labs")
        assert opt.verdict is Verdict.NOT_SUITABLE
    else:
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_lutia_labs_lists_every_failure(assessor: Assessor) -> None:
    opt = option(
        assessor,
        IA,
        labs__egfr_ml_min=40,
        labs__platelets_10e9_per_l=90,
        **bilirubin(2.0, 1.2),
        **albumin(2.5),
    )
    msg = finding_message(opt, "prrt_ia.lutia_labs")
    for part in ("eGFR 40", "platelets 90", "bilirubin 2 > ULN 1.2", "albumin 2.5"):
        assert part in msg


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"labs__bilirubin": {"value": 0.8, "unit": "mg/dL"}}, "labs.bilirubin.uln"),
        ({"labs__bilirubin": DELETE}, "labs.bilirubin"),
        ({"labs__albumin": DELETE}, "labs.albumin"),
        ({"labs__platelets_10e9_per_l": DELETE}, "labs.platelets_10e9_per_l"),
    ],
)
def test_lutia_labs_missing_needs_information(
    assessor: Assessor, changes: dict[str, Any], field: str
) -> None:
    opt = option(assessor, IA, **LUTIA, **changes)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert field in opt.missing_information
    assert field in unevaluated(opt)["prrt_ia.lutia_labs"]


@pytest.mark.parametrize(
    ("treatment", "fires"),
    [
        ("tare", True),
        ("tae", True),
        ("ctace", True),
        ("debtace", True),
        ("ablation", True),
        ({"type": "resection", "territory": "right_lobe"}, True),
        ({"type": "resection", "agent": "right hepatectomy"}, True),
        # issue #10: a resected primary is not liver-directed therapy
        ({"type": "resection", "agent": "pancreaticoduodenectomy"}, False),
        ({"type": "resection", "agent": "small bowel resection"}, False),
        ("prrt_intraarterial", True),
        ("ssa", False),
        ("prrt", False),
        ("chemotherapy", False),
        ("targeted", False),
    ],
)
def test_lutia_excludes_prior_liver_directed_therapy(
    assessor: Assessor, treatment: str | dict[str, str], fires: bool
) -> None:
    entry = treatment if isinstance(treatment, dict) else {"type": treatment}
    opt = option(assessor, IA, **LUTIA, history__prior_treatments=[entry])
    assert ("prrt_ia.lutia_prior_ldt" in ids(opt)) is fires
    assert "prrt_ia.lutia_prior_ldt" not in unevaluated(opt)
    if fires:
        msg = finding_message(opt, "prrt_ia.lutia_prior_ldt")
        assert f"prior liver-directed therapy ({entry['type']})" in msg
        assert opt.verdict is Verdict.NOT_SUITABLE


def test_lutia_resection_of_unknown_site_asks_which(assessor: Assessor) -> None:
    """A bare 'resection' may be the primary's: ask, do not count it (issue #10)."""
    opt = option(assessor, IA, **LUTIA, **prior("resection"))
    assert "prrt_ia.lutia_prior_ldt" not in ids(opt)
    assert unevaluated(opt)["prrt_ia.lutia_prior_ldt"] == ("history.prior_treatments[0].territory",)


def test_whipple_example_is_not_prior_liver_directed_therapy(assessor: Assessor) -> None:
    from netlm.case import load_case

    case = load_case(SHARED_EXAMPLE_WHIPPLE)
    opt = assessor.assess(case).option(IA)
    assert "prrt_ia.lutia_prior_ldt" not in ids(opt)
    assert "prrt_ia.lutia_prior_ldt" not in unevaluated(opt)


def test_lutia_prior_therapy_unknown_is_assumed_none(
    assessor: Assessor, ask_assessor: Assessor
) -> None:
    opt = option(assessor, IA, **LUTIA, history__prior_treatments=DELETE)
    assert opt.verdict is option(assessor, IA, **LUTIA).verdict
    assert [a.field for a in opt.assumptions] == ["history.prior_treatments"]
    strict = option(ask_assessor, IA, **LUTIA, history__prior_treatments=DELETE)
    assert strict.verdict is Verdict.NEEDS_INFORMATION
    assert "history.prior_treatments" in strict.missing_information


def test_intra_arterial_prrt_is_never_plain_eligible(assessor: Assessor) -> None:
    for changes in ({}, LUTIA):
        opt = option(assessor, IA, **changes)
        assert opt.verdict is not Verdict.ELIGIBLE
        assert "clinical trials only" in finding_message(opt, "prrt_ia.trials_only")


# --------------------------------------------------------------------------- sources
def test_prrt_findings_carry_sources_and_population(assessor: Assessor) -> None:
    case = make_case(
        labs__platelets_10e9_per_l=60,
        labs__egfr_ml_min=40,
        tumour__ki67_percent=25,
        **prior("tare"),
    )
    assessment = assessor.assess(case)
    findings = [*assessment.option(IV).findings, *assessment.option(IA).findings]
    assert len(findings) >= 8
    for f in findings:
        assert f.sources, f.rule_id
        for src in f.sources:
            assert src.seed or src.reference, (f.rule_id, src.id)
            assert src.population, (f.rule_id, src.id)
        assert f.population == tuple(dict.fromkeys(s.population.value for s in f.sources))

    platelets = next(f for f in findings if f.rule_id == "prrt.platelets")
    assert {s.id for s in platelets.sources} == {"netter1_eligibility", "lutia"}
    assert "NETTER-1" in platelets.sources[0].reference
    assert platelets.parameters == {"prrt_platelets_min_10e9_per_l": 75}

    schedule = next(f for f in findings if f.rule_id == "prrt.schedule")
    assert schedule.sources[0].seed == SEED_001
    assert schedule.population == ("NET",)
