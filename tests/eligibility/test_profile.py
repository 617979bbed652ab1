"""Rule profiles: the shipped default, a centre's overrides, and bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import make_case
from netlm.eligibility import Assessor, default_profile, load_profile
from netlm.eligibility.profile import Parameters
from netlm.errors import ProfileError
from netlm.evidence import SOURCES

HEADER = "schema: netlm/rule-profile/v1\nid: centre\nname: Centre X\nversion: '2'\n"


def _profile(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(HEADER + body)
    return path


def test_default_profile_gives_every_parameter_with_a_known_source() -> None:
    profile = default_profile()
    assert set(profile.info) == set(Parameters.model_fields)
    for name, info in profile.info.items():
        assert info.sources, name
        assert all(s in SOURCES for s in info.sources), name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("albi_coefficient", -0.085),
        ("tare_bilirubin_limit_mg_dl", 2.0),
        ("transplant_age_limit_years", 55),
        ("prrt_platelets_min_10e9_per_l", 75),
        ("embolization_max_involvement_percent", 75),
        ("tare_max_involvement_percent", 70),
        ("lung_dose_limit_single_gy", 30),
        ("lung_dose_limit_cumulative_gy", 50),
        ("resin_lsf_max", 0.20),
        ("dose_constant_gy_kg_per_gbq", 49.67),
        ("ctcae_version", "5.0"),
    ],
)
def test_default_values_match_the_reference(name: str, expected: object) -> None:
    # shared/reference/eligibility.md and dosimetry.md: the defaults netlm ships.
    assert default_profile().value(name) == expected


def test_extending_profile_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = _profile(tmp_path, "extends: default\nparameters:\n  albi_coefficient: -0.0852\n")
    profile = load_profile(path)
    base = default_profile()
    assert profile.id == "centre" and profile.extends == "default"
    assert profile.parameters.albi_coefficient == -0.0852
    changed = {k for k, v in profile.parameters.model_dump().items() if v != base.value(k)}
    assert changed == {"albi_coefficient"}
    assert profile.digest != base.digest
    # provenance of the parameter is kept from the default
    assert profile.info["albi_coefficient"].sources == ("albi",)


def test_albi_coefficient_from_profile_reaches_the_assessment(tmp_path: Path) -> None:
    case = make_case()
    default_score = Assessor().assess(case).liver_function.albi.score
    path = _profile(tmp_path, "extends: default\nparameters:\n  albi_coefficient: -0.0852\n")
    result = Assessor(load_profile(path)).assess(case)
    assert result.liver_function.albi.coefficient == -0.0852
    # albumin 40 g/L: the score moves by 40 * -0.0002
    assert result.liver_function.albi.score == pytest.approx(default_score - 0.008)
    assert result.provenance.profile.id == "centre"
    assert result.provenance.profile.digest == load_profile(path).digest


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("extends: default\nparameters: {no_such_parameter: 1}\n", "unknown parameter"),
        ("extends: default\nparameters: {tare_max_ecog: many}\n", "tare_max_ecog"),
        ("extends: default\nparameters: {ctcae_version: '4.03'}\n", "ctcae_version"),
        ("extends: default\nparameters: {albi_coefficient: {sources: [albi]}}\n", "no 'value'"),
        (
            "extends: default\nparameters: {albi_coefficient: {value: -0.08, sources: [nope]}}\n",
            "unknown source",
        ),
        ("extends: other\n", "can only extend 'default'"),
        ("parameters: {albi_coefficient: -0.085}\n", "tare_max_ecog"),  # incomplete, no extends
        ("extends: default\nsurprise: 1\n", "unknown key"),
    ],
)
def test_bad_profiles_are_refused_with_the_reason(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(ProfileError, match=match):
        load_profile(_profile(tmp_path, body))


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read profile"):
        load_profile(tmp_path / "absent.yaml")


def test_schema_is_required(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("id: x\nname: x\nversion: '1'\nextends: default\n")
    with pytest.raises(ProfileError, match="schema"):
        load_profile(path)


def test_default_profile_is_parsed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from netlm.eligibility import profile as module

    module.default_profile.cache_clear()
    calls: list[int] = []
    real = module.parse_document

    def counting(data: bytes, **kwargs: Any) -> object:
        calls.append(1)
        return real(data, **kwargs)

    monkeypatch.setattr(module, "parse_document", counting)
    first = default_profile()
    for _ in range(5):
        Assessor()
    assert default_profile() is first
    assert len(calls) == 1


def test_edited_profile_file_is_parsed_again(tmp_path: Path) -> None:
    path = _profile(tmp_path, "extends: default\nparameters:\n  albi_coefficient: -0.0852\n")
    first = load_profile(path)
    assert load_profile(path) is first  # same path, same bytes: the cached parse
    path.write_text(HEADER + "extends: default\nparameters:\n  albi_coefficient: -0.0853\n")
    assert load_profile(path).parameters.albi_coefficient == -0.0853


def test_profile_parsed_with_the_c_loader_equals_the_python_loader() -> None:
    from importlib import resources

    import yaml

    text = resources.files("netlm.eligibility").joinpath("profiles/default.yaml").read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert yaml.load(text, Loader=loader) == yaml.load(text, Loader=yaml.SafeLoader)
