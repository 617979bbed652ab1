"""A centre's own sources, named by its profile's ``sources_file`` (#13)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import edited
from netlm.cli import main
from netlm.eligibility import default_profile, load_profile
from netlm.eligibility.profile import RuleProfile
from netlm.errors import ProfileError
from netlm.evidence import SOURCES, Certainty

HEADER = "schema: netlm/rule-profile/v1\nid: centre-x\nname: Centre X\nversion: '1'\n"
CITING = (
    "extends: default\n"
    "parameters:\n"
    "  lung_dose_limit_single_gy:\n"
    "    value: 25\n"
    "    sources: [centre_x_lung_protocol]\n"
)


def _sources(folder: Path, source_id: str = "centre_x_lung_protocol") -> Path:
    path = folder / "centre-sources.yaml"
    record = {
        "id": source_id,
        "seed": None,
        "section": "Centre X radiation protection protocol RP-12, section 4",
        "reference": "local audit of lung shunt studies 2019-2024",
        "population": "NET",
        "certainty": "U",
    }
    path.write_text(yaml.safe_dump({"schema": "netlm/sources/v1", "sources": [record]}))
    return path


def _profile(folder: Path, body: str) -> Path:
    path = folder / "profile.yaml"
    path.write_text(HEADER + body)
    return path


def test_profile_parameters_cite_the_centres_sources(tmp_path: Path) -> None:
    _sources(tmp_path)
    profile = load_profile(_profile(tmp_path, "sources_file: centre-sources.yaml\n" + CITING))
    assert profile.value("lung_dose_limit_single_gy") == 25
    assert profile.info["lung_dose_limit_single_gy"].sources == ("centre_x_lung_protocol",)
    own = profile.source("centre_x_lung_protocol")
    assert own.certainty is Certainty.UNVERIFIED
    assert profile.source("tace_001") is SOURCES["tace_001"]
    assert "centre_x_lung_protocol" not in SOURCES
    assert default_profile().sources == {}
    # The registry stores a profile as JSON and reads it back: the centre's sources travel.
    assert RuleProfile.model_validate(profile.model_dump(mode="json")) == profile


def test_without_the_sources_file_the_centre_id_is_unknown(tmp_path: Path) -> None:
    _sources(tmp_path)
    with pytest.raises(ProfileError, match="cites unknown source 'centre_x_lung_protocol'"):
        load_profile(_profile(tmp_path, CITING))


def test_sources_file_is_relative_to_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "centre"
    folder.mkdir()
    _sources(folder)
    path = _profile(folder, "sources_file: centre-sources.yaml\n" + CITING)
    monkeypatch.chdir(tmp_path)
    assert "centre_x_lung_protocol" in load_profile(path).sources


def test_a_centre_id_may_not_reuse_a_builtin_one(tmp_path: Path) -> None:
    _sources(tmp_path, source_id="lung_dose_limits")
    path = _profile(tmp_path, "sources_file: centre-sources.yaml\nextends: default\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert "sources[0].id" in message
    assert "'lung_dose_limits' is a built-in source id" in message
    assert "centre-sources.yaml" in message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("sources_file: absent.yaml\n", "cannot read"),
        ("sources_file: 3\n", "'sources_file' must be a file name"),
        ("sources_file: ''\n", "'sources_file' must be a file name"),
    ],
)
def test_bad_sources_file_entries_are_refused(tmp_path: Path, line: str, words: str) -> None:
    with pytest.raises(ProfileError, match=words):
        load_profile(_profile(tmp_path, line + "extends: default\n"))


def test_cli_assess_and_rules_take_a_profile_with_its_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sources(tmp_path)
    profile = _profile(tmp_path, "sources_file: centre-sources.yaml\n" + CITING)
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump(edited()))
    assert main(["assess", str(case), "--profile", str(profile), "--format", "json"]) == 0
    assert main(["rules", "--profile", str(profile), "--format", "json"]) == 0
    capsys.readouterr()
    _sources(tmp_path, source_id="tace_001")
    assert main(["assess", str(case), "--profile", str(profile)]) == 2
    assert "'tace_001' is a built-in source id" in capsys.readouterr().err
