"""The missing-data policy (#10): a decision, not a questionnaire.

Unrecorded *findings* (ASSUMABLE_FINDINGS) are assumed or inferred absent and
listed; missing *data* that would change the verdict still needs information;
``missing_findings: ask`` keeps netlm 0.1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import BASE, DELETE, SHARED, ask_profile, edited, make_case
from netlm.case import Case, case_from_mapping, load_case
from netlm.cli import main
from netlm.eligibility import Assessor, Modality, Verdict, default_profile, load_profile
from netlm.eligibility.result import CHILD_PUGH_SCORE, Assessment, AssumptionKind
from netlm.eligibility.rules.base import ASSUMABLE_FINDINGS, Context
from netlm.errors import ProfileError
from netlm.examples import bundled_examples
from netlm.report.board import render_markdown

CLOSED = (Verdict.CONTRAINDICATED, Verdict.NOT_SUITABLE)
#: Verdicts from worst (0) to best.
RANK = {v: i for i, v in enumerate(Verdict)}

#: Every finding of BASE that a referral letter commonly leaves out.
UNREPORTED: dict[str, Any] = {
    "liver__portal_vein_thrombosis": DELETE,
    "liver__biliary_dilatation": DELETE,
    "liver__ascites": DELETE,
    "liver__encephalopathy": DELETE,
    "history__biliary_intervention": DELETE,
    "history__contrast_allergy": DELETE,
    "history__irreversible_coagulopathy": DELETE,
    "history__cardiac_arrhythmia": DELETE,
    "history__prior_treatments": DELETE,
    "patient__anaesthesia_contraindicated": DELETE,
    "tumour__extrahepatic_disease": DELETE,
    "tumour__symptoms_refractory_to_ssa": DELETE,
}


def _fields(assessment: Assessment) -> set[str]:
    return {a.field for a in assessment.assumptions}


def _examples() -> list[tuple[str, Case]]:
    cases = [
        (name, case_from_mapping(yaml.safe_load(text))) for name, text in bundled_examples("case-")
    ]
    cases += [(p.name, load_case(p)) for p in sorted((SHARED / "examples").glob("case-*.yaml"))]
    return cases


# --------------------------------------------------------------------------- the table
def test_every_assumable_finding_is_a_case_field_with_a_stated_reason() -> None:
    case = make_case()
    for path, spec in ASSUMABLE_FINDINGS.items():
        assert spec.field == path
        node: object = case
        for part in path.split("."):
            node = getattr(node, part)  # raises if the field does not exist
        assert spec.reason and spec.confirm and spec.finding, path
        assert spec.sources, path


@pytest.mark.parametrize(
    "path",
    [
        "labs.bilirubin",
        "labs.inr",
        "labs.platelets_10e9_per_l",
        "labs.egfr_ml_min",
        "patient.ecog",
        "patient.age_years",
        "tumour.ki67_percent",
        "tumour.differentiation",
        "tumour.liver_disease_course",
        "liver.resectable_percent",
        "liver.tumour_volume_ml",
    ],
)
def test_measured_data_are_never_assumable(path: str) -> None:
    assert path not in ASSUMABLE_FINDINGS


# --------------------------------------------------------------------------- complete records
def test_complete_looking_record_gives_decisions_with_listed_assumptions(
    assessor: Assessor, ask_assessor: Assessor
) -> None:
    full = assessor.assess(make_case())
    result = assessor.assess(make_case(**UNREPORTED))
    strict = ask_assessor.assess(make_case(**UNREPORTED))
    for opt in result.options:
        assert opt.verdict is not Verdict.NEEDS_INFORMATION, opt.modality
        # The verdict is what the complete record gives, and what `ask` calls provisional.
        assert opt.verdict is full.option(opt.modality).verdict, opt.modality
        assert opt.verdict is strict.option(opt.modality).provisional_verdict, opt.modality
    assert sum(o.verdict is Verdict.NEEDS_INFORMATION for o in strict.options) >= 10
    # Progressive disease is an indication: refractory symptoms are never consulted.
    assert _fields(result) == {f.replace("__", ".") for f in UNREPORTED} - {
        "tumour.symptoms_refractory_to_ssa"
    }
    tare = result.option("tare_resin")
    assert "liver.biliary_dilatation" in {a.field for a in tare.assumptions}
    statement = next(a.statement for a in tare.assumptions if a.field.endswith("dilatation"))
    assert statement.startswith("assumed absent: intrahepatic biliary dilatation")
    assert "confirm" in statement
    # Every assumption of an open option is a work-up item.
    confirm = {w.id for w in result.workup if w.id.startswith("confirm:")}
    open_fields = {
        a.field for o in result.options if o.verdict not in CLOSED for a in o.assumptions
    }
    assert confirm == {f"confirm:{f}" for f in open_fields}
    assert result.provenance.missing_findings == "assume_absent"
    assert strict.provenance.missing_findings == "ask"


def test_base_record_assumes_nothing(assessor: Assessor) -> None:
    result = assessor.assess(make_case())
    assert result.assumptions == ()
    assert all(o.assumptions == () for o in result.options)
    assert not [w for w in result.workup if w.id.startswith("confirm:")]


@pytest.mark.parametrize(
    ("name", "case"), _examples(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_bundled_examples_ask_only_for_data(
    assessor: Assessor, ask_assessor: Assessor, name: str, case: Case
) -> None:
    result = assessor.assess(case)
    strict = ask_assessor.assess(case)
    for opt, old in zip(result.options, strict.options, strict=True):
        # Never more favourable than the provisional verdict of `ask` (an inference can
        # make it less favourable: a rule `ask` could not evaluate now fires).
        assert RANK[opt.provisional_verdict] <= RANK[old.provisional_verdict], (name, opt.modality)
        # Only data, never an assumable finding, are asked for.
        assert not set(opt.missing_information) & set(ASSUMABLE_FINDINGS), (name, opt.modality)
        assert set(opt.missing_information) <= set(old.missing_information)


def test_oligometastatic_example_no_longer_asks_for_findings(assessor: Assessor) -> None:
    case = load_case(SHARED / "examples" / "case-oligometastatic.yaml")
    result = assessor.assess(case)
    for m in ("ablation_rfa", "ablation_mwa"):
        opt = result.option(m)
        assert opt.verdict is Verdict.ELIGIBLE, m
        assert {a.field for a in opt.assumptions} == {
            "history.irreversible_coagulopathy",
            "patient.anaesthesia_contraindicated",
            "liver.biliary_dilatation",
            "liver.encephalopathy",  # the liver-reserve rules (issue #10) read it too
        }
    # Non-functioning, new disease: no indication yet (inferred, not asked).
    tae = result.option("tae")
    assert tae.verdict is Verdict.NOT_SUITABLE
    assert "tumour.symptoms_refractory_to_ssa" in {a.field for a in tae.assumptions}
    # Child-Pugh from its parts, encephalopathy assumed absent and said so.
    cp = result.liver_function.child_pugh
    assert (cp.child_pugh_class.value if cp.child_pugh_class else None, cp.score) == ("A", 5)
    enc = next(a for a in result.assumptions if a.field == "liver.encephalopathy")
    assert CHILD_PUGH_SCORE in enc.used_by


# --------------------------------------------------------------------------- inference
@pytest.mark.parametrize(
    ("inr", "plt", "inferred"),
    [
        (1.0, 230, True),
        (1.5, 50, True),
        (1.51, 230, False),
        (1.0, 49, False),
        (2.0, 30, False),
    ],
)
def test_coagulopathy_inferred_from_inr_and_platelets(
    assessor: Assessor, inr: float, plt: float, inferred: bool
) -> None:
    case = make_case(
        history__irreversible_coagulopathy=DELETE, labs__inr=inr, labs__platelets_10e9_per_l=plt
    )
    tace = assessor.assess(case).option("ctace")
    coag = [a for a in tace.assumptions if a.field == "history.irreversible_coagulopathy"]
    if inferred:
        assert "history.irreversible_coagulopathy" not in tace.missing_information
        assert coag and coag[0].kind is AssumptionKind.INFERRED_ABSENT
        assert f"INR {inr:g} <= 1.5" in coag[0].basis
        assert {s.id for s in coag[0].sources} >= {"sir2019_bleeding"}
    else:
        assert tace.verdict is Verdict.NEEDS_INFORMATION
        assert "history.irreversible_coagulopathy" in tace.missing_information
        assert not coag


def test_coagulopathy_not_inferred_without_labs(assessor: Assessor) -> None:
    case = make_case(history__irreversible_coagulopathy=DELETE, labs__inr=DELETE)
    tace = assessor.assess(case).option("ctace")
    assert {"labs.inr", "history.irreversible_coagulopathy"} <= set(tace.missing_information)


def test_tace_with_normal_inr_and_platelets_does_not_ask_for_coagulopathy(
    assessor: Assessor,
) -> None:
    # The example: INR 1.0 and platelets 230 given, coagulopathy not recorded.
    case = make_case(
        history__irreversible_coagulopathy=DELETE, labs__inr=1.0, labs__platelets_10e9_per_l=230
    )
    for m in ("tae", "ctace", "debtace"):
        assert assessor.assess(case).option(m).verdict is Verdict.ELIGIBLE, m


def test_refractory_symptoms_inferred_only_for_non_functioning_tumours(
    assessor: Assessor,
) -> None:
    stable = {
        "tumour__liver_disease_course": "stable",
        "tumour__symptoms_refractory_to_ssa": DELETE,
    }
    quiet = assessor.assess(make_case(**stable)).option("tae")
    assert quiet.verdict is Verdict.NOT_SUITABLE
    carcinoid = assessor.assess(
        make_case(**stable, tumour__functional_syndrome="carcinoid")
    ).option("tae")
    assert carcinoid.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.symptoms_refractory_to_ssa" in carcinoid.missing_information


# --------------------------------------------------------------------------- conditions
def test_extrahepatic_disease_assumed_only_after_whole_body_pet(assessor: Assessor) -> None:
    staged = assessor.assess(make_case(tumour__extrahepatic_disease=DELETE))
    assert staged.option("resection").verdict is Verdict.ELIGIBLE
    assert "tumour.extrahepatic_disease" in _fields(staged)
    unstaged = assessor.assess(
        make_case(tumour__extrahepatic_disease=DELETE, tumour__sstr_imaging=DELETE)
    )
    assert unstaged.option("resection").verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.extrahepatic_disease" in unstaged.option("resection").missing_information
    scintigraphy = assessor.assess(
        make_case(
            tumour__extrahepatic_disease=DELETE,
            tumour__sstr_imaging={
                "modality": "in111_pentetreotide",
                "positive": True,
                "krenning_score": 3,
            },
        )
    )
    assert scintigraphy.option("resection").verdict is Verdict.NEEDS_INFORMATION


@pytest.mark.parametrize(("ecog", "assumed"), [(0, True), (2, True), (3, False)])
def test_anaesthesia_assumed_only_with_acceptable_performance_status(
    assessor: Assessor, ecog: int, assumed: bool
) -> None:
    opt = assessor.assess(
        make_case(patient__anaesthesia_contraindicated=DELETE, patient__ecog=ecog)
    ).option("ablation_rfa")
    assert ("patient.anaesthesia_contraindicated" in {a.field for a in opt.assumptions}) is assumed
    assert ("patient.anaesthesia_contraindicated" in opt.missing_information) is not assumed


def test_imaging_findings_not_assumed_without_liver_imaging(assessor: Assessor) -> None:
    bare = {
        "liver": DELETE,
        "tumour__extrahepatic_disease": DELETE,
    }
    opt = assessor.assess(make_case(**bare)).option("tare_resin")
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.biliary_dilatation" in opt.missing_information


# --------------------------------------------------------------------------- data still needed
def test_missing_bilirubin_still_needs_information_for_tare(assessor: Assessor) -> None:
    result = assessor.assess(make_case(labs__bilirubin=DELETE, **UNREPORTED))
    for m in ("tare_resin", "tare_glass", "radiation_segmentectomy"):
        opt = result.option(m)
        assert opt.verdict is Verdict.NEEDS_INFORMATION, m
        assert opt.missing_information == ("labs.bilirubin",), m
        assert opt.provisional_verdict is Verdict.ELIGIBLE, m
        # The findings it could assume are still listed.
        assert "liver.biliary_dilatation" in {a.field for a in opt.assumptions}, m


def test_missing_ki67_still_needs_information_for_transplant(assessor: Assessor) -> None:
    changes = {
        "tumour__ki67_percent": DELETE,
        "tumour__mitoses_per_2mm2": DELETE,
        "tumour__liver_disease_course": "stable",
        "tumour__months_stable": 12,
    }
    opt = assessor.assess(make_case(**changes)).option("transplant")
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "tumour.ki67_percent" in opt.missing_information


def test_placeholder_need_for_data_still_raises() -> None:
    ctx = Assessor().context(make_case())
    with pytest.raises(Exception, match=r"tumour\.differentiation"):
        ctx.need(None, "tumour.differentiation")
    assert ctx.need(None, "liver.biliary_dilatation") is False
    ctx.begin()
    assert ctx.assumptions() == ()


# --------------------------------------------------------------------------- ask
def test_ask_mode_assumes_and_infers_nothing(ask_assessor: Assessor) -> None:
    result = ask_assessor.assess(make_case(**UNREPORTED))
    assert result.assumptions == ()
    assert all(o.assumptions == () for o in result.options)
    assert not [w for w in result.workup if w.id.startswith("confirm:")]
    assert result.liver_function.child_pugh.score is None
    tace = result.option("ctace")
    assert tace.verdict is Verdict.NEEDS_INFORMATION
    assert "history.irreversible_coagulopathy" in tace.missing_information


@pytest.mark.parametrize(
    ("name", "case"), _examples(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_ask_mode_asks_for_every_finding_the_default_assumes(
    assessor: Assessor, ask_assessor: Assessor, name: str, case: Case
) -> None:
    for opt, old in zip(
        assessor.assess(case).options, ask_assessor.assess(case).options, strict=True
    ):
        if opt.assumptions and old.verdict not in CLOSED:
            assert old.verdict is Verdict.NEEDS_INFORMATION
            assert {a.field for a in opt.assumptions} <= set(old.missing_information)


def test_profile_switch_from_a_centre_file(tmp_path: Path) -> None:
    path = tmp_path / "centre.yaml"
    path.write_text(
        "schema: netlm/rule-profile/v1\nid: strict\nname: Strict centre\nversion: '1'\n"
        "extends: default\nparameters:\n  missing_findings: ask\n"
    )
    profile = load_profile(path)
    assert profile.parameters.missing_findings == "ask"
    # The switch is part of the profile digest every result records.
    assert profile.digest == ask_profile().digest != default_profile().digest
    result = Assessor(profile).assess(make_case(**UNREPORTED))
    assert result.provenance.missing_findings == "ask"
    assert result.option("tare_resin").verdict is Verdict.NEEDS_INFORMATION


def test_profile_switch_refuses_unknown_values(tmp_path: Path) -> None:
    path = tmp_path / "centre.yaml"
    path.write_text(
        "schema: netlm/rule-profile/v1\nid: c\nname: C\nversion: '1'\n"
        "extends: default\nparameters:\n  missing_findings: guess\n"
    )
    with pytest.raises(ProfileError, match="missing_findings"):
        load_profile(path)


def test_context_defaults_to_the_profile_policy() -> None:
    assert Assessor().context(make_case()).assumes
    assert not Assessor(ask_profile()).context(make_case()).assumes
    assert isinstance(Assessor().context(make_case()), Context)


# --------------------------------------------------------------------------- outputs
def _unreported_file(tmp_path: Path) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(edited(**UNREPORTED)))
    return path


def test_json_output_lists_assumptions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", str(_unreported_file(tmp_path)), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["provenance"]["missing_findings"] == "assume_absent"
    tare = next(o for o in doc["options"] if o["modality"] == "tare_resin")
    entry = next(a for a in tare["assumptions"] if a["field"] == "liver.biliary_dilatation")
    assert entry["kind"] == "assumed_absent"
    assert entry["value"] == "false"
    assert "confirm" in entry["statement"]
    assert "liver.biliary_dilatation" in {a["field"] for a in doc["assumptions"]}


def test_text_and_markdown_outputs_list_assumptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _unreported_file(tmp_path)
    assert main(["assess", str(path)]) == 0
    text = capsys.readouterr().out
    assert "~ assumed absent (confirm)" in text
    assert "missing findings: assume_absent" in text
    assert main(["assess", str(path), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "## Assumed, not recorded" in md
    assert "assumed absent: intrahepatic biliary dilatation" in md
    assert "**inferred_absent** `history.irreversible_coagulopathy`" in md


def test_markdown_of_ask_mode_has_no_assumptions(ask_assessor: Assessor) -> None:
    md = render_markdown(ask_assessor.assess(make_case(**UNREPORTED)))
    assert "assumed absent" not in md
    assert "missing findings: ask" in md


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext")
def test_pdf_board_report_lists_assumptions(tmp_path: Path) -> None:
    pdf = tmp_path / "board.pdf"
    assert main(["assess", str(_unreported_file(tmp_path)), "--pdf", str(pdf)]) == 0
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    flat = " ".join(text.split())
    assert "absent: intrahepatic biliary dilatation" in flat
    assert "absent: irreversible coagulopathy" in flat
    assert "assume absent" in flat  # provenance: the policy
    assert "netlm missing-data policy" in flat  # the assumption's source, in the references


def test_verdict_is_never_more_favourable_than_ask_provisional(
    assessor: Assessor, ask_assessor: Assessor
) -> None:
    probes: list[dict[str, Any]] = [
        UNREPORTED,
        {**UNREPORTED, "labs__bilirubin": {"value": 2.5, "unit": "mg/dL"}},
        {**UNREPORTED, "liver__tumour_volume_ml": 1300},
        {**UNREPORTED, "history__contrast_allergy": "severe"},
        {**UNREPORTED, "liver__portal_vein_thrombosis": True},
        {**UNREPORTED, "tumour__ki67_percent": 25, "tumour__differentiation": DELETE},
    ]
    for changes in probes:
        case = make_case(**changes)
        for opt, old in zip(
            assessor.assess(case).options, ask_assessor.assess(case).options, strict=True
        ):
            shown = opt.verdict if opt.verdict is not Verdict.NEEDS_INFORMATION else None
            if shown is not None:
                assert RANK[shown] <= RANK[old.provisional_verdict], (changes, opt.modality)
            assert RANK[opt.provisional_verdict] <= RANK[old.provisional_verdict]


def test_modalities_listed_per_assumption(assessor: Assessor) -> None:
    result = assessor.assess(make_case(**UNREPORTED))
    dil = next(a for a in result.assumptions if a.field == "liver.biliary_dilatation")
    assert Modality.TARE_RESIN in dil.for_modalities
    assert Modality.ABLATION_RFA in dil.for_modalities
    assert "tare.biliary_dilatation" in dil.used_by
    assert Modality.TAE not in dil.for_modalities
    assert BASE["liver"]["biliary_dilatation"] is False  # the probe deletes a recorded "no"
