"""Resection and transplantation rules (seed 001 §1-2; Milan-NET).

The tables drive one parametrized test each and feed the rule-coverage
meta-test; the explicit tests below check the clinical boundaries, verdict
precedence and what the findings report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import DELETE, fired, make_case
from netlm.case import Case
from netlm.eligibility import Assessor, Effect, ModalityOption, Verdict, load_profile
from netlm.evidence.sources import SEED_001

RESECTION = "resection"
TRANSPLANT = "transplant"

#: Milan-NET otherwise met: the base case with disease stable for 6 months.
STABLE = {"tumour__liver_disease_course": "stable", "tumour__months_stable": 6}


def involvement(tumour_ml: float) -> dict[str, Any]:
    """A 1000 mL liver holding ``tumour_ml`` of tumour: involvement is ``tumour_ml / 10`` %."""
    return {"liver__volume_ml": 1000, "liver__tumour_volume_ml": tumour_ml}


TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    # G3 (Ki-67 > 20 %, well differentiated) and NEC are not resected.
    ("resection.grade", RESECTION, {"tumour__ki67_percent": 25}),
    ("resection.grade", RESECTION, {"tumour__differentiation": "poor"}),
    ("resection.performance_status", RESECTION, {"patient__ecog": 3}),
    ("resection.performance_status", RESECTION, {"patient__ecog": 4}),
    ("resection.extrahepatic", RESECTION, {"tumour__extrahepatic_disease": "extensive"}),
    (
        "resection.extrahepatic",
        RESECTION,
        {"tumour__extrahepatic_disease": "limited", "tumour__extrahepatic_resectable": False},
    ),
    (
        "resection.extrahepatic_limited",
        RESECTION,
        {"tumour__extrahepatic_disease": "limited", "tumour__extrahepatic_resectable": True},
    ),
    ("resection.resectable_fraction", RESECTION, {"liver__resectable_percent": 89.9}),
    ("resection.resectable_fraction", RESECTION, {"liver__resectable_percent": 50}),
    # The criterion is > 90 % removable: exactly 90 % is not enough.
    ("resection.resectable_fraction", RESECTION, {"liver__resectable_percent": 90}),
    ("resection.curative", RESECTION, {}),
    ("transplant.age", TRANSPLANT, {"patient__age_years": 55}),
    ("transplant.age", TRANSPLANT, {"patient__age_years": 70}),
    ("transplant.primary_portal", TRANSPLANT, {"tumour__primary_site": "rectum"}),
    ("transplant.primary_portal", TRANSPLANT, {"tumour__primary_site": "lung"}),
    ("transplant.primary_portal", TRANSPLANT, {"tumour__primary_site": "unknown"}),
    ("transplant.primary_resected", TRANSPLANT, {"tumour__primary_resected": False}),
    ("transplant.involvement", TRANSPLANT, involvement(500)),
    ("transplant.involvement", TRANSPLANT, {"liver__tumour_volume_ml": 1200}),
    ("transplant.stable_disease", TRANSPLANT, {}),  # base case: progressive
    ("transplant.stable_disease", TRANSPLANT, {"tumour__liver_disease_course": "new"}),
    ("transplant.stable_disease", TRANSPLANT, {**STABLE, "tumour__months_stable": 5.9}),
    ("transplant.ki67", TRANSPLANT, {"tumour__ki67_percent": 10}),
    ("transplant.grade", TRANSPLANT, {"tumour__ki67_percent": 25}),
    ("transplant.grade", TRANSPLANT, {"tumour__differentiation": "poor"}),
    ("transplant.extrahepatic", TRANSPLANT, {"tumour__extrahepatic_disease": "limited"}),
    ("transplant.extrahepatic", TRANSPLANT, {"tumour__extrahepatic_disease": "extensive"}),
    ("transplant.evidence", TRANSPLANT, {}),
    ("transplant.evidence", TRANSPLANT, STABLE),
]

QUIET: list[tuple[str, str, dict[str, Any]]] = [
    ("resection.grade", RESECTION, {}),  # G1
    ("resection.grade", RESECTION, {"tumour__ki67_percent": 20}),  # G2 upper end
    ("resection.performance_status", RESECTION, {}),
    ("resection.performance_status", RESECTION, {"patient__ecog": 2}),
    ("resection.extrahepatic", RESECTION, {}),
    (
        "resection.extrahepatic",
        RESECTION,
        {"tumour__extrahepatic_disease": "limited", "tumour__extrahepatic_resectable": True},
    ),
    ("resection.extrahepatic_limited", RESECTION, {}),
    (
        "resection.extrahepatic_limited",
        RESECTION,
        {"tumour__extrahepatic_disease": "limited", "tumour__extrahepatic_resectable": False},
    ),
    ("resection.resectable_fraction", RESECTION, {}),
    ("resection.resectable_fraction", RESECTION, {"liver__resectable_percent": 90.1}),
    ("resection.curative", RESECTION, {"liver__resectable_percent": 99.9}),
    (
        "resection.curative",
        RESECTION,
        {"tumour__extrahepatic_disease": "limited", "tumour__extrahepatic_resectable": True},
    ),
    ("transplant.age", TRANSPLANT, {"patient__age_years": 54.9}),
    ("transplant.primary_portal", TRANSPLANT, {}),  # small intestine
    ("transplant.primary_portal", TRANSPLANT, {"tumour__primary_site": "pancreas"}),
    ("transplant.primary_portal", TRANSPLANT, {"tumour__primary_site": "stomach"}),
    ("transplant.primary_portal", TRANSPLANT, {"tumour__primary_site": "appendix"}),
    ("transplant.primary_portal", TRANSPLANT, {"tumour__primary_site": "colon"}),
    ("transplant.primary_resected", TRANSPLANT, {}),
    ("transplant.involvement", TRANSPLANT, involvement(499)),
    ("transplant.involvement", TRANSPLANT, {}),  # 400 / 1600 = 25 %
    ("transplant.stable_disease", TRANSPLANT, STABLE),
    ("transplant.stable_disease", TRANSPLANT, {**STABLE, "tumour__months_stable": 24}),
    ("transplant.ki67", TRANSPLANT, {"tumour__ki67_percent": 9.9}),
    ("transplant.grade", TRANSPLANT, {}),
    ("transplant.grade", TRANSPLANT, {"tumour__ki67_percent": 20}),
    ("transplant.extrahepatic", TRANSPLANT, {}),
    # The debated-evidence caution belongs to transplantation only.
    ("transplant.evidence", RESECTION, {}),
]


def _ids(table: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{rule}-{modality}-{i}" for i, (rule, modality, _c) in enumerate(table)]


# --------------------------------------------------------------------------- helpers
def option(assessor: Assessor, modality: str, **changes: Any) -> ModalityOption:
    return assessor.assess(make_case(**changes)).option(modality)


def finding_message(opt: ModalityOption, rule_id: str) -> str:
    matches = [f.message for f in opt.findings if f.rule_id == rule_id]
    assert matches, f"{rule_id} did not fire; findings: {[f.rule_id for f in opt.findings]}"
    return matches[0]


def unevaluated(opt: ModalityOption) -> dict[str, tuple[str, ...]]:
    return {u.rule_id: u.fields for u in opt.unevaluated_rules}


# --------------------------------------------------------------------------- resection
def test_base_case_is_resectable_and_potentially_curative(assessor: Assessor) -> None:
    opt = option(assessor, RESECTION)
    assert opt.verdict is Verdict.ELIGIBLE
    curative = [f for f in opt.findings if f.rule_id == "resection.curative"]
    assert [f.effect for f in curative] == [Effect.FAVOURS]


@pytest.mark.parametrize(("ecog", "fires"), [(0, False), (2, False), (3, True), (4, True)])
def test_resection_ecog_limit_is_2(assessor: Assessor, ecog: int, fires: bool) -> None:
    opt = option(assessor, RESECTION, patient__ecog=ecog)
    assert ("resection.performance_status" in {f.rule_id for f in opt.findings}) is fires
    if fires:
        assert opt.verdict is Verdict.CONTRAINDICATED
        assert f"ECOG {ecog} > 2" in finding_message(opt, "resection.performance_status")
    else:
        assert opt.verdict is Verdict.ELIGIBLE


def test_missing_ecog_needs_information_with_provisional_verdict(assessor: Assessor) -> None:
    opt = option(assessor, RESECTION, patient__ecog=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "patient.ecog" in opt.missing_information
    assert unevaluated(opt)["resection.performance_status"] == ("patient.ecog",)
    # Everything else is benign: if ECOG turns out acceptable, resection is eligible.
    assert opt.provisional_verdict is Verdict.ELIGIBLE


def test_missing_ecog_does_not_hide_an_unmet_indication(assessor: Assessor) -> None:
    # NET G3 (well differentiated, Ki-67 25 %) is not resected whatever the ECOG.
    opt = option(assessor, RESECTION, patient__ecog=DELETE, tumour__ki67_percent=25)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert opt.provisional_verdict is Verdict.NOT_SUITABLE
    assert opt.missing_information == ()
    assert "resection.performance_status" in unevaluated(opt)


@pytest.mark.parametrize(
    ("changes", "grade"),
    [
        ({"tumour__ki67_percent": 25}, "NET G3"),
        ({"tumour__mitoses_per_2mm2": 21}, "NET G3"),
        ({"tumour__differentiation": "poor"}, "NEC"),
        ({"tumour__differentiation": "poor", "tumour__ki67_percent": 2}, "NEC"),
    ],
)
def test_resection_not_for_g3_or_nec(
    assessor: Assessor, changes: dict[str, Any], grade: str
) -> None:
    opt = option(assessor, RESECTION, **changes)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert finding_message(opt, "resection.grade").startswith(f"{grade}:")


@pytest.mark.parametrize(
    "changes",
    [
        {"tumour__ki67_percent": 25, "tumour__differentiation": "unknown"},
        {"tumour__ki67_percent": 25, "tumour__differentiation": DELETE},
    ],
)
def test_resection_g3_vs_nec_undetermined_needs_differentiation(
    assessor: Assessor, changes: dict[str, Any]
) -> None:
    opt = option(assessor, RESECTION, **changes)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.differentiation" in opt.missing_information
    assert unevaluated(opt)["resection.grade"] == ("tumour.differentiation",)
    assert "resection.grade" not in {f.rule_id for f in opt.findings}


def test_resection_grade_without_indices_needs_them(assessor: Assessor) -> None:
    opt = option(assessor, RESECTION, tumour__ki67_percent=DELETE, tumour__mitoses_per_2mm2=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert {"tumour.ki67_percent", "tumour.mitoses_per_2mm2"} <= set(opt.missing_information)


def test_extensive_extrahepatic_disease_contraindicates_resection(assessor: Assessor) -> None:
    opt = option(assessor, RESECTION, tumour__extrahepatic_disease="extensive")
    assert opt.verdict is Verdict.CONTRAINDICATED
    assert "extensive extrahepatic" in finding_message(opt, "resection.extrahepatic")
    assert "resection.curative" not in {f.rule_id for f in opt.findings}


def test_limited_extrahepatic_disease_depends_on_its_resectability(assessor: Assessor) -> None:
    limited = {"tumour__extrahepatic_disease": "limited"}
    unknown = option(assessor, RESECTION, **limited)
    assert unknown.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.extrahepatic_resectable" in unknown.missing_information

    no = option(assessor, RESECTION, **limited, tumour__extrahepatic_resectable=False)
    assert no.verdict is Verdict.CONTRAINDICATED
    assert "cannot be resected" in finding_message(no, "resection.extrahepatic")

    yes = option(assessor, RESECTION, **limited, tumour__extrahepatic_resectable=True)
    assert yes.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert {f.rule_id for f in yes.findings} == {"resection.extrahepatic_limited"}


@pytest.mark.parametrize(
    ("percent", "fires"), [(50, True), (89.9, True), (90, True), (90.1, False), (100, False)]
)
def test_resectable_fraction_boundary(assessor: Assessor, percent: float, fires: bool) -> None:
    # resection_debulking: more than 90 % of the metastases must be removable.
    opt = option(assessor, RESECTION, liver__resectable_percent=percent)
    assert ("resection.resectable_fraction" in {f.rule_id for f in opt.findings}) is fires
    assert (opt.verdict is Verdict.NOT_SUITABLE) is fires
    if fires:
        msg = finding_message(opt, "resection.resectable_fraction")
        assert f"only {percent:g} %" in msg
        assert "requires > 90 %" in msg


def test_missing_resectable_percent_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, RESECTION, liver__resectable_percent=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.resectable_percent" in opt.missing_information
    # Without the surgeon's estimate resection is not called curative either.
    assert "resection.curative" not in {f.rule_id for f in opt.findings}


# --------------------------------------------------------------------------- transplant
def test_milan_net_candidate_is_eligible_with_caution(assessor: Assessor) -> None:
    opt = option(assessor, TRANSPLANT, **STABLE)
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert [f.rule_id for f in opt.findings] == ["transplant.evidence"]
    # The criteria version is named in the output.
    assert "Milan-NET" in finding_message(opt, "transplant.evidence")


@pytest.mark.parametrize(("age", "fires"), [(54.9, False), (55, True), (60, True)])
def test_milan_net_age_default_is_below_55(assessor: Assessor, age: float, fires: bool) -> None:
    opt = option(assessor, TRANSPLANT, patient__age_years=age, **STABLE)
    assert ("transplant.age" in {f.rule_id for f in opt.findings}) is fires
    if fires:
        assert opt.verdict is Verdict.NOT_SUITABLE
        msg = finding_message(opt, "transplant.age")
        assert f"age {age:g} years" in msg
        assert "requires age < 55" in msg
    else:
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Assessor:
    """A centre using the later Milan-NET summaries: age <= 60."""
    path: Path = tmp_path_factory.mktemp("profiles") / "centre.yaml"
    path.write_text(
        "schema: netlm/rule-profile/v1\n"
        "id: centre\n"
        "name: x\n"
        'version: "1"\n'
        "extends: default\n"
        "parameters:\n"
        "  transplant_age_limit_years: 60\n"
        "  transplant_age_limit_inclusive: true\n",
        encoding="utf-8",
    )
    return Assessor(load_profile(path))


@pytest.mark.parametrize(("age", "fires"), [(55, False), (60, False), (60.1, True)])
def test_milan_net_age_60_inclusive_profile(centre: Assessor, age: float, fires: bool) -> None:
    opt = option(centre, TRANSPLANT, patient__age_years=age, **STABLE)
    assert ("transplant.age" in {f.rule_id for f in opt.findings}) is fires
    if fires:
        finding = next(f for f in opt.findings if f.rule_id == "transplant.age")
        assert f"age {age:g} years" in finding.message
        assert "requires age <= 60" in finding.message
        # The finding reports the thresholds it used, from the centre's profile.
        assert finding.parameters["transplant_age_limit_years"] == 60
        assert finding.parameters["transplant_age_limit_inclusive"] is True
        assert opt.verdict is Verdict.NOT_SUITABLE
    else:
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_centre_profile_changes_only_what_it_overrides(centre: Assessor) -> None:
    assert centre.profile.id == "centre"
    assert centre.profile.parameters.transplant_ki67_limit_percent == 10
    assert centre.profile.digest != Assessor().profile.digest
    # The Ki-67 limit is still the default one.
    assert "transplant.ki67" in fired(centre, make_case(tumour__ki67_percent=10), TRANSPLANT)


@pytest.mark.parametrize(
    ("site", "portal"),
    [
        ("pancreas", True),
        ("small_intestine", True),
        ("stomach", True),
        ("appendix", True),
        ("colon", True),
        ("rectum", False),
        ("lung", False),
        ("thymus", False),
        ("unknown", False),
        ("other", False),
    ],
)
def test_milan_net_requires_portal_drained_primary(
    assessor: Assessor, site: str, portal: bool
) -> None:
    opt = option(assessor, TRANSPLANT, tumour__primary_site=site, **STABLE)
    assert ("transplant.primary_portal" in {f.rule_id for f in opt.findings}) is not portal
    if not portal:
        assert f"primary site {site} is not portal-drained" in finding_message(
            opt, "transplant.primary_portal"
        )
        assert opt.verdict is Verdict.NOT_SUITABLE


def test_milan_net_requires_resected_primary(assessor: Assessor) -> None:
    opt = option(assessor, TRANSPLANT, tumour__primary_resected=False, **STABLE)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "not yet resected" in finding_message(opt, "transplant.primary_resected")


@pytest.mark.parametrize(("tumour_ml", "fires"), [(499, False), (500, True), (800, True)])
def test_milan_net_involvement_below_50_percent(
    assessor: Assessor, tumour_ml: float, fires: bool
) -> None:
    opt = option(assessor, TRANSPLANT, **involvement(tumour_ml), **STABLE)
    assert ("transplant.involvement" in {f.rule_id for f in opt.findings}) is fires
    if fires:
        assert opt.verdict is Verdict.NOT_SUITABLE
        msg = finding_message(opt, "transplant.involvement")
        assert f"liver involvement {tumour_ml / 10:g} %" in msg
        assert "requires < 50 %" in msg
    else:
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_milan_net_involvement_from_a_visual_estimate(assessor: Assessor) -> None:
    estimate = {
        "liver__tumour_volume_ml": DELETE,
        "liver__involvement_percent": 50,
        "liver__involvement_method": "visual_estimate",
    }
    assert "transplant.involvement" in fired(assessor, make_case(**estimate, **STABLE), TRANSPLANT)
    below = {**estimate, "liver__involvement_percent": 49.9}
    assert "transplant.involvement" not in fired(assessor, make_case(**below, **STABLE), TRANSPLANT)


def test_milan_net_involvement_unknown_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, TRANSPLANT, liver__tumour_volume_ml=DELETE, **STABLE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert {"liver.tumour_volume_ml", "liver.involvement_percent"} <= set(opt.missing_information)


@pytest.mark.parametrize(
    ("course", "months", "fires"),
    [
        ("stable", 6, False),
        ("stable", 5.9, True),
        ("stable", 0, True),
        ("progressive", 12, True),
        ("new", 12, True),
    ],
)
def test_milan_net_stable_for_six_months(
    assessor: Assessor, course: str, months: float, fires: bool
) -> None:
    opt = option(
        assessor,
        TRANSPLANT,
        tumour__liver_disease_course=course,
        tumour__months_stable=months,
    )
    assert ("transplant.stable_disease" in {f.rule_id for f in opt.findings}) is fires
    if fires:
        msg = finding_message(opt, "transplant.stable_disease")
        if course == "stable":
            assert f"stable for {months:g} months" in msg
            assert ">= 6 months" in msg
        else:
            assert f"liver disease is {course}" in msg


def test_stable_disease_without_duration_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, TRANSPLANT, **{**STABLE, "tumour__months_stable": DELETE})
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.months_stable" in opt.missing_information


@pytest.mark.parametrize(("ki67", "fires"), [(9.9, False), (10, True), (15, True)])
def test_milan_net_ki67_below_10(assessor: Assessor, ki67: float, fires: bool) -> None:
    opt = option(assessor, TRANSPLANT, tumour__ki67_percent=ki67, **STABLE)
    assert ("transplant.ki67" in {f.rule_id for f in opt.findings}) is fires
    if fires:
        assert opt.verdict is Verdict.NOT_SUITABLE
        msg = finding_message(opt, "transplant.ki67")
        assert f"Ki-67 {ki67:g} %" in msg
        assert "requires < 10 %" in msg
    else:
        # Ki-67 9.9 % is NET G2: still within Milan-NET.
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_milan_net_undetermined_g3_vs_nec_needs_differentiation(assessor: Assessor) -> None:
    # > 20 mitoses with unknown differentiation: NET G3 vs NEC cannot be told apart.
    # Ki-67 5 % keeps the Ki-67 criterion met, so only the grade is open.
    opt = option(
        assessor,
        TRANSPLANT,
        tumour__ki67_percent=5,
        tumour__mitoses_per_2mm2=25,
        tumour__differentiation="unknown",
        **STABLE,
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.differentiation" in opt.missing_information
    assert unevaluated(opt)["transplant.grade"] == ("tumour.differentiation",)


def test_milan_net_high_ki67_is_not_suitable_even_with_grade_undetermined(
    assessor: Assessor,
) -> None:
    opt = option(
        assessor,
        TRANSPLANT,
        tumour__ki67_percent=25,
        tumour__differentiation="unknown",
        **STABLE,
    )
    # Ki-67 25 % fails Milan-NET whatever pathology review finds.
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "transplant.ki67" in {f.rule_id for f in opt.findings}
    assert unevaluated(opt)["transplant.grade"] == ("tumour.differentiation",)
    assert opt.missing_information == ()


@pytest.mark.parametrize("differentiation", ["unknown", DELETE])
def test_milan_net_needs_confirmed_well_differentiation(
    assessor: Assessor, differentiation: object
) -> None:
    opt = option(assessor, TRANSPLANT, tumour__differentiation=differentiation, **STABLE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.differentiation" in opt.missing_information


def test_milan_net_nec_message_names_the_grade(assessor: Assessor) -> None:
    opt = option(assessor, TRANSPLANT, tumour__differentiation="poor", **STABLE)
    assert opt.verdict is Verdict.NOT_SUITABLE
    msg = finding_message(opt, "transplant.grade")
    assert msg.startswith("NEC;")
    assert "well-differentiated G1/G2" in msg


@pytest.mark.parametrize("extent", ["limited", "extensive"])
def test_milan_net_excludes_any_extrahepatic_disease(assessor: Assessor, extent: str) -> None:
    opt = option(
        assessor,
        TRANSPLANT,
        tumour__extrahepatic_disease=extent,
        tumour__extrahepatic_resectable=True,
        **STABLE,
    )
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert f"{extent} extrahepatic disease" in finding_message(opt, "transplant.extrahepatic")


def test_transplant_is_never_plain_eligible(assessor: Assessor) -> None:
    # The debated evidence is always stated, so the best verdict is with caution.
    for changes in ({}, STABLE):
        opt = option(assessor, TRANSPLANT, **changes)
        assert opt.verdict is not Verdict.ELIGIBLE
        assert "transplant.evidence" in {f.rule_id for f in opt.findings}


# --------------------------------------------------------------------------- sources
def _findings(case: Case, assessor: Assessor, modality: str) -> list[Any]:
    return list(assessor.assess(case).option(modality).findings)


def test_surgery_findings_carry_sources_and_population(assessor: Assessor) -> None:
    case = make_case(
        patient__age_years=70,
        patient__ecog=3,
        tumour__ki67_percent=25,
        liver__resectable_percent=50,
    )
    findings = _findings(case, assessor, RESECTION) + _findings(case, assessor, TRANSPLANT)
    assert len(findings) >= 6
    for f in findings:
        assert f.sources, f.rule_id
        for src in f.sources:
            assert src.seed or src.reference, (f.rule_id, src.id)
            assert src.population, (f.rule_id, src.id)
        assert f.population == tuple(dict.fromkeys(s.population.value for s in f.sources))

    age = next(f for f in findings if f.rule_id == "transplant.age")
    milan = next(s for s in age.sources if s.id == "milan_net_001")
    assert milan.seed == SEED_001
    assert "Mazzaferro" in milan.reference
    assert age.population == ("NET",)
    assert age.parameters["transplant_age_limit_years"] == 55
    assert age.parameters["transplant_age_limit_inclusive"] is False

    grade = next(f for f in findings if f.rule_id == "resection.grade")
    assert {s.id for s in grade.sources} == {"resection_001", "who2019_grading"}
