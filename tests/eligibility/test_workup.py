"""The work-up recommendations: each item appears when it should, and not otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DELETE, make_case
from netlm.eligibility import Assessor
from netlm.eligibility.result import Modality, Verdict, WorkupItem

RADIO = {Modality.TARE_RESIN, Modality.TARE_GLASS, Modality.RADIATION_SEGMENTECTOMY}


def _workup(assessor: Assessor, **changes: Any) -> dict[str, WorkupItem]:
    items = assessor.assess(make_case(**changes)).workup
    ids = [w.id for w in items]
    assert len(ids) == len(set(ids)), f"an item is listed twice: {ids}"
    return {w.id: w for w in items}


def test_complete_case_needs_no_workup(assessor: Assessor) -> None:
    assert _workup(assessor) == {}


def test_every_item_cites_a_source(assessor: Assessor) -> None:
    items = _workup(
        assessor,
        tumour__ki67_percent=25,
        tumour__differentiation="unknown",
        tumour__sstr_imaging=DELETE,
        liver__tumour_volume_ml=DELETE,
        liver__lesion_count=3,
        labs__inr=DELETE,
        workup__lung_shunt_fraction=DELETE,
        tumour__functional_syndrome="carcinoid",
        history__carcinoid_heart_disease="unknown",
        liver__resectable_percent=DELETE,
    )
    assert set(items) == {
        "pathology_review",
        "sstr_pet",
        "fdg_pet",
        "volumetry",
        "lesion_mapping",
        "liver_function_tests",
        "maa_angiography",
        "echocardiography",
        "surgical_review",
    }
    for item in items.values():
        assert item.sources, item.id
        assert item.message, item.id


# --------------------------------------------------------------------------- grade
def test_ki67_requested_when_missing(assessor: Assessor) -> None:
    assert "ki67" in _workup(assessor, tumour__ki67_percent=DELETE)
    assert "ki67" not in _workup(assessor)


@pytest.mark.parametrize(
    ("changes", "present"),
    [
        ({"tumour__ki67_percent": 25, "tumour__differentiation": "unknown"}, True),
        ({"tumour__ki67_percent": 25, "tumour__differentiation": DELETE}, True),
        ({"tumour__mitoses_per_2mm2": 21, "tumour__differentiation": "unknown"}, True),
        ({"tumour__ki67_percent": 25, "tumour__differentiation": "well"}, False),  # NET G3
        ({"tumour__ki67_percent": 25, "tumour__differentiation": "poor"}, False),  # NEC
        ({"tumour__ki67_percent": 20, "tumour__differentiation": "unknown"}, False),  # G2
    ],
)
def test_pathology_review(assessor: Assessor, changes: dict[str, Any], present: bool) -> None:
    assert ("pathology_review" in _workup(assessor, **changes)) is present


# --------------------------------------------------------------------------- imaging
@pytest.mark.parametrize(
    ("sstr", "present"),
    [
        (DELETE, True),
        ({"modality": "ga68_dotatate_pet"}, True),  # result not recorded
        ({"modality": "in111_pentetreotide", "positive": True, "krenning_score": 3}, True),
        ({"modality": "tc99m_tektrotyd", "positive": True}, True),
        ({"modality": "ga68_dotatate_pet", "positive": True, "krenning_score": 3}, False),
        ({"modality": "cu64_dotatate_pet", "positive": True}, False),
        ({"modality": "ga68_dotatoc_pet", "positive": False}, False),
    ],
)
def test_sstr_pet(assessor: Assessor, sstr: Any, present: bool) -> None:
    items = _workup(assessor, tumour__sstr_imaging=sstr)
    assert ("sstr_pet" in items) is present


def test_sstr_pet_when_missing_is_for_prrt(assessor: Assessor) -> None:
    item = _workup(assessor, tumour__sstr_imaging=DELETE)["sstr_pet"]
    assert set(item.for_modalities) == {Modality.PRRT, Modality.PRRT_INTRAARTERIAL}


def test_sstr_pet_after_scintigraphy_names_the_tracer(assessor: Assessor) -> None:
    item = _workup(
        assessor,
        tumour__sstr_imaging={"modality": "in111_pentetreotide", "positive": True},
    )["sstr_pet"]
    assert "in111_pentetreotide" in item.message


@pytest.mark.parametrize(
    ("ki67", "fdg", "present"),
    [
        (9.9, {"performed": False}, False),
        (10, {"performed": False}, True),
        (35, {"performed": False}, True),
        (10, DELETE, True),  # not recorded = not done
        (10, {}, True),  # performed unknown
        (10, {"performed": True, "positive": False}, False),
        (35, {"performed": True, "positive": True}, False),
        (2, DELETE, False),
    ],
)
def test_fdg_pet(assessor: Assessor, ki67: float, fdg: Any, present: bool) -> None:
    changes: dict[str, Any] = {"tumour__ki67_percent": ki67, "tumour__fdg_pet": fdg}
    if ki67 > 20:
        changes["tumour__differentiation"] = "well"
    items = _workup(assessor, **changes)
    assert ("fdg_pet" in items) is present
    if present:
        assert "10 %" in items["fdg_pet"].message


def test_fdg_pet_not_requested_without_ki67(assessor: Assessor) -> None:
    items = _workup(assessor, tumour__ki67_percent=DELETE, tumour__fdg_pet=DELETE)
    assert "fdg_pet" not in items
    assert "ki67" in items


@pytest.mark.parametrize(
    ("changes", "present"),
    [
        ({"liver__tumour_volume_ml": DELETE}, True),
        ({"liver__volume_ml": DELETE}, True),
        ({"liver__involvement_method": "visual_estimate"}, True),  # volumes given, method says not
        (
            {
                "liver__volume_ml": DELETE,
                "liver__tumour_volume_ml": DELETE,
                "liver__involvement_percent": 30,
                "liver__involvement_method": DELETE,
            },
            True,  # a bare percentage counts as a visual estimate
        ),
        (
            {
                "liver__volume_ml": DELETE,
                "liver__tumour_volume_ml": DELETE,
                "liver__involvement_percent": 30,
                "liver__involvement_method": "visual_estimate",
            },
            True,
        ),
        (
            {
                "liver__volume_ml": DELETE,
                "liver__tumour_volume_ml": DELETE,
                "liver__involvement_percent": 30,
                "liver__involvement_method": "volumetry",
            },
            False,
        ),
        ({}, False),
    ],
)
def test_volumetry(assessor: Assessor, changes: dict[str, Any], present: bool) -> None:
    assert ("volumetry" in _workup(assessor, **changes)) is present


@pytest.mark.parametrize(
    ("changes", "present"),
    [
        ({"liver__lesion_count": 3}, True),  # one of three mapped
        ({"liver__lesions": []}, True),
        ({"liver__lesion_count": "too_numerous"}, True),
        (
            {
                "liver__lesion_count": 2,
                "liver__lesions": [
                    {"id": "L1", "segment": 6, "longest_diameter_mm": 20},
                    {"id": "L2", "segment": 7, "longest_diameter_mm": 12},
                ],
            },
            False,
        ),
        ({"liver__lesion_count": DELETE}, False),  # the list is the count
        ({}, False),
    ],
)
def test_lesion_mapping(assessor: Assessor, changes: dict[str, Any], present: bool) -> None:
    assert ("lesion_mapping" in _workup(assessor, **changes)) is present


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("labs__bilirubin", "bilirubin"),
        ("labs__albumin", "albumin"),
        ("labs__inr", "INR"),
        ("labs__platelets_10e9_per_l", "platelets"),
    ],
)
def test_liver_function_tests(assessor: Assessor, field: str, name: str) -> None:
    items = _workup(assessor, **{field: DELETE})
    assert name in items["liver_function_tests"].message


def test_liver_function_tests_not_for_other_labs(assessor: Assessor) -> None:
    assert "liver_function_tests" not in _workup(assessor, labs__creatinine=DELETE)


# --------------------------------------------------------------------------- MAA angiography
def test_maa_angiography_when_lsf_missing(assessor: Assessor) -> None:
    item = _workup(assessor, workup__lung_shunt_fraction=DELETE)["maa_angiography"]
    assert set(item.for_modalities) == RADIO


def test_no_maa_angiography_when_lsf_known(assessor: Assessor) -> None:
    assert "maa_angiography" not in _workup(assessor)


@pytest.mark.parametrize(
    "closing",
    [
        {"patient__ecog": 3},  # contraindicated
        {"tumour__extrahepatic_disease": "extensive"},  # not liver-dominant
        {"liver__biliary_dilatation": True},
    ],
)
def test_no_maa_angiography_when_radioembolization_is_closed(
    assessor: Assessor, closing: dict[str, Any]
) -> None:
    result = assessor.assess(make_case(workup__lung_shunt_fraction=DELETE, **closing))
    for m in RADIO:
        assert result.option(m).verdict in (Verdict.CONTRAINDICATED, Verdict.NOT_SUITABLE)
    assert "maa_angiography" not in {w.id for w in result.workup}


def test_maa_angiography_only_for_the_open_options(assessor: Assessor) -> None:
    # bilirubin 2.5: lobar TARE contraindicated, segmentectomy still open
    items = _workup(
        assessor,
        workup__lung_shunt_fraction=DELETE,
        labs__bilirubin={"value": 2.5, "unit": "mg/dL"},
    )
    assert items["maa_angiography"].for_modalities == (Modality.RADIATION_SEGMENTECTOMY,)


def test_maa_angiography_while_tare_needs_other_information(assessor: Assessor) -> None:
    result = assessor.assess(make_case(workup__lung_shunt_fraction=DELETE, labs__ast=DELETE))
    assert result.option("tare_resin").verdict is Verdict.NEEDS_INFORMATION
    assert "maa_angiography" in {w.id for w in result.workup}


# --------------------------------------------------------------------------- echocardiography
@pytest.mark.parametrize(
    ("changes", "present"),
    [
        (
            {
                "tumour__functional_syndrome": "carcinoid",
                "history__carcinoid_heart_disease": "unknown",
            },
            True,
        ),
        (
            {
                "tumour__functional_syndrome": "carcinoid",
                "history__carcinoid_heart_disease": DELETE,
            },
            True,
        ),
        (
            {
                "tumour__functional_syndrome": "carcinoid",
                "history__carcinoid_heart_disease": "absent",
            },
            False,
        ),
        (
            {
                "tumour__functional_syndrome": "carcinoid",
                "history__carcinoid_heart_disease": "present",
            },
            False,
        ),
        ({"history__carcinoid_heart_disease": "unknown"}, False),  # no syndrome, no NT-proBNP
        ({"labs__nt_probnp": {"value": 260, "unit": "pg/mL"}}, True),
        ({"labs__nt_probnp": {"value": 259, "unit": "pg/mL"}}, False),
        ({"labs__nt_probnp": {"value": 260, "unit": "ng/L"}}, True),  # ng/L = pg/mL
        (
            {
                "labs__nt_probnp": {"value": 900, "unit": "pg/mL"},
                "history__carcinoid_heart_disease": "present",
            },
            False,  # already known
        ),
        (
            {
                "labs__nt_probnp": {"value": 260, "unit": "pg/mL"},
                "history__carcinoid_heart_disease": "unknown",
            },
            True,
        ),
    ],
)
def test_echocardiography(assessor: Assessor, changes: dict[str, Any], present: bool) -> None:
    assert ("echocardiography" in _workup(assessor, **changes)) is present


def test_echocardiography_gives_the_reason(assessor: Assessor) -> None:
    by_bnp = _workup(assessor, labs__nt_probnp={"value": 400, "unit": "pg/mL"})
    assert "NT-proBNP 400 pg/mL" in by_bnp["echocardiography"].message
    by_syndrome = _workup(
        assessor,
        tumour__functional_syndrome="carcinoid",
        history__carcinoid_heart_disease="unknown",
    )
    assert "carcinoid syndrome" in by_syndrome["echocardiography"].message


# --------------------------------------------------------------------------- surgical review
def test_surgical_review_when_resectable_share_missing(assessor: Assessor) -> None:
    result = assessor.assess(make_case(liver__resectable_percent=DELETE))
    assert "liver.resectable_percent" in result.option("resection").missing_information
    item = {w.id: w for w in result.workup}["surgical_review"]
    assert item.for_modalities == (Modality.RESECTION,)


def test_no_surgical_review_when_resectable_share_known(assessor: Assessor) -> None:
    assert "surgical_review" not in _workup(assessor)
    assert "surgical_review" not in _workup(assessor, liver__resectable_percent=40)


def test_no_surgical_review_when_resection_is_excluded_anyway(assessor: Assessor) -> None:
    result = assessor.assess(
        make_case(liver__resectable_percent=DELETE, tumour__extrahepatic_disease="extensive")
    )
    assert result.option("resection").verdict is Verdict.CONTRAINDICATED
    assert "surgical_review" not in {w.id for w in result.workup}
