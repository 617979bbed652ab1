"""Verdict precedence, determinism and provenance of the assessment engine."""

from __future__ import annotations

import itertools

import pytest

from conftest import make_case
from netlm.eligibility import Assessor, Effect, Finding, Modality, Verdict, decide
from netlm.evidence import get_source

SEVERITY = [
    Verdict.CONTRAINDICATED,
    Verdict.NOT_SUITABLE,
    Verdict.NEEDS_INFORMATION,
    Verdict.ELIGIBLE_WITH_CAUTION,
    Verdict.ELIGIBLE,
]


def _finding(effect: Effect) -> Finding:
    return Finding(
        rule_id="x",
        modality=Modality.TAE,
        effect=effect,
        message="m",
        sources=(get_source("tace_001"),),
        population=("NET",),
    )


def _expected(effects: set[Effect], missing: bool) -> Verdict:
    """An independent statement of the precedence in the engine's docstring."""
    if Effect.CONTRAINDICATION in effects:
        return Verdict.CONTRAINDICATED
    if Effect.NOT_SUITABLE in effects:
        return Verdict.NOT_SUITABLE
    if missing:
        return Verdict.NEEDS_INFORMATION
    if Effect.RELATIVE_CONTRAINDICATION in effects or Effect.CAUTION in effects:
        return Verdict.ELIGIBLE_WITH_CAUTION
    return Verdict.ELIGIBLE


@pytest.mark.parametrize("missing", [False, True])
def test_verdict_precedence_over_every_combination_of_effects(missing: bool) -> None:
    effects = list(Effect)
    for n in range(len(effects) + 1):
        for combo in itertools.combinations(effects, n):
            verdict, provisional = decide([_finding(e) for e in combo], missing=missing)
            assert verdict is _expected(set(combo), missing), combo
            assert provisional is _expected(set(combo), False), combo


def test_favours_and_requirements_never_change_the_verdict() -> None:
    for effect in (Effect.FAVOURS, Effect.REQUIREMENT):
        assert decide([_finding(effect)], missing=False)[0] is Verdict.ELIGIBLE


def test_findings_are_ordered_by_severity(assessor: Assessor) -> None:
    case = make_case(
        liver__portal_vein_thrombosis=True,
        liver__distribution="bilobar",
        history__biliary_intervention="plastic_stent",
    )
    order = [f.effect for f in assessor.assess(case).option("tae").findings]
    ranks = [list(Effect).index(e) for e in order]
    assert ranks == sorted(ranks)


def test_assessment_is_deterministic_and_digest_tracks_the_input(assessor: Assessor) -> None:
    a = assessor.assess(make_case()).model_dump_json()
    b = Assessor().assess(make_case()).model_dump_json()
    assert a == b
    one = assessor.assess(make_case()).provenance.inputs_digest
    other = assessor.assess(make_case(labs__inr=1.1)).provenance.inputs_digest
    assert one != other and len(one) == 64


def test_same_value_in_other_units_is_the_same_assessment(assessor: Assessor) -> None:
    mg = make_case(labs__albumin={"value": 3.5, "unit": "g/dL"})
    gl = make_case(labs__albumin={"value": 35, "unit": "g/L"})
    a, b = assessor.assess(mg), assessor.assess(gl)
    assert [(o.modality, o.verdict) for o in a.options] == [
        (o.modality, o.verdict) for o in b.options
    ]
    assert a.liver_function.albi.score == pytest.approx(b.liver_function.albi.score)


def test_every_modality_is_assessed_once(assessor: Assessor) -> None:
    result = assessor.assess(make_case())
    assert [o.modality for o in result.options] == list(Modality)


def test_minimal_case_needs_information_everywhere_it_should(assessor: Assessor) -> None:
    from netlm.case import parse_case

    result = assessor.assess(parse_case("schema: netlm/case/v1\npatient: {id: M}"))
    for option in result.options:
        assert option.verdict is Verdict.NEEDS_INFORMATION, option.modality
        assert option.missing_information, option.modality
    ids = {w.id for w in result.workup}
    assert {"ki67", "sstr_pet", "volumetry", "lesion_mapping", "liver_function_tests"} <= ids
    assert result.liver_function.child_pugh.score is None
    assert result.tumour_burden_percent is None


def test_provenance_names_version_profile_and_rule_count(assessor: Assessor) -> None:
    prov = assessor.assess(make_case()).provenance
    assert prov.profile.id == "default"
    assert prov.rules_evaluated == len(assessor.rules)
    assert prov.ctcae_version == "5.0"


def test_engine_does_not_reload_rules_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import netlm.eligibility.engine as engine

    assessor = Assessor()
    calls = []
    monkeypatch.setattr(engine, "default_profile", lambda: calls.append(1))
    monkeypatch.setattr(engine, "all_rules", lambda: calls.append(1))
    for _ in range(3):
        assessor.assess(make_case())
    assert calls == []
