"""Sources and published outcomes are data (#13): YAML tables, a typed loader, a centre's file."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from netlm.errors import DocumentError, SourcesError
from netlm.evidence import SOURCES, Certainty, Population, Source, get_source, load_sources
from netlm.evidence.records import builtin_table, parse_table
from netlm.evidence.sources import SEED_001, SOURCES_SCHEMA, builtin_sources
from netlm.outcomes.evidence_library import PUBLISHED_OUTCOMES, PublishedOutcome

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "netlm" / "evidence" / "data"
SCRIPT = ROOT / "scripts" / "convert_sources_to_yaml.py"

#: The commit before #13 item 5, whose Python literals the YAML was converted from.
BASE_COMMIT = "d2e9744"


def _script() -> ModuleType:
    name = "_convert_sources_to_yaml"
    if name not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _git_show(path: str, out: Path) -> Path:
    try:
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{BASE_COMMIT}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with {BASE_COMMIT} not available (shallow clone or sdist)")
    out.write_text(text, encoding="utf-8")
    return out


# --------------------------------------------------------------------- conversion
def _fields(record: Any) -> dict[str, Any]:
    """Field values, enums as their values (the old module's enums are other classes)."""
    return {
        name: getattr(getattr(record, name), "value", getattr(record, name))
        for name in type(record).model_fields
    }


def test_yaml_sources_equal_the_python_records_field_by_field(tmp_path: Path) -> None:
    old = _script().load_old_module(
        _git_show("src/netlm/evidence/sources.py", tmp_path / "old_sources.py"), "_old_sources_t"
    )
    assert len(old._ALL) == 98
    for record in old._ALL:
        new = SOURCES[record.id]
        assert _fields(new) == _fields(record), record.id
    # Same order, and no record lost (later branches may add more).
    assert [s.id for s in builtin_sources()][: len(old._ALL)] == [s.id for s in old._ALL]


def test_yaml_outcomes_equal_the_python_records_field_by_field(tmp_path: Path) -> None:
    path = _git_show("src/netlm/outcomes/evidence_library.py", tmp_path / "old_library.py")
    old = _script().load_old_module(path, "_old_library_t")
    assert len(old.PUBLISHED_OUTCOMES) == len(PUBLISHED_OUTCOMES) == 117
    for before, after in zip(old.PUBLISHED_OUTCOMES, PUBLISHED_OUTCOMES, strict=True):
        assert _fields(after) == _fields(before), before.id
        for name in type(before).model_fields:  # int stays int, float stays float
            kinds = (type(getattr(after, name)).__name__, type(getattr(before, name)).__name__)
            assert kinds[0] == kinds[1], (before.id, name)


def test_published_numbers_survive_the_move() -> None:
    by_id = {r.id: r for r in PUBLISHED_OUTCOMES}
    kennedy = by_id["kennedy2008_orr_004"]
    assert (kennedy.value, kennedy.n_patients, kennedy.year) == (63.2, 148, 2008)
    assert kennedy.quote == "finding an ORR of 63.2% (60.5% PR; 22.7% SD; 4.9% PD)"
    # The seed's thin spaces (U+2009) are kept, or the quote would not occur in the seed.
    chen = "no difference between 90Y"
    quotes = [r.quote for r in PUBLISHED_OUTCOMES if r.quote.startswith(chen)]
    assert len(quotes) == 2
    assert all("resin (n\u2009=\u200943)" in q for q in quotes)
    assert get_source("tace_001").seed == SEED_001


def test_builtin_tables_are_parsed_once() -> None:
    assert builtin_sources() is builtin_sources()
    assert all(SOURCES[s.id] is s for s in builtin_sources())


def test_yaml_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["netlm"]
    assert "evidence/data/*.yaml" in globs
    shipped = {p.name for p in DATA.iterdir() if p.is_file()}
    assert shipped == {"sources.yaml", "outcomes.yaml"}


def test_conversion_merges_a_branch_addition_after_its_neighbour(tmp_path: Path) -> None:
    target = tmp_path / "sources.yaml"
    target.write_bytes(builtin_table("sources.yaml"))
    old = tmp_path / "branch_sources.py"
    old.write_text(
        "from typing import Final\n"
        "from netlm.evidence.sources import Certainty, Population, SEED_001, Source\n\n"
        "def _s(id, seed, section, reference, population, certainty):\n"
        "    return Source(id=id, seed=seed, section=section, reference=reference,\n"
        "                  population=population, certainty=certainty)\n\n"
        "_ALL: Final = (\n"
        "    # --- pathology and staging ---\n"
        '    _s("who2019_grading", None,\n'
        '       "WHO Classification of Tumours, Digestive System, 5th ed. (2019)",\n'
        '       "Nagtegaal ID et al., Histopathology 2020;76:182-188 (WHO 2019 GEP-NEN grading)",\n'
        "       Population.NET, Certainty.VERIFIED),\n"
        '    _s("fhir_observation_mapping", None, "HL7 FHIR R4, Observation",\n'
        '       "LOINC codes for laboratory values", Population.GENERAL, Certainty.UNVERIFIED),\n'
        ")\n",
        encoding="utf-8",
    )
    script = _script()
    merged = script.merge_sources(old, target)
    records = parse_table(merged.encode(), schema=SOURCES_SCHEMA, key="sources", model=Source)
    ids = [r.id for r in records]
    assert ids[:2] == ["who2019_grading", "fhir_observation_mapping"]
    assert ids[2:] == list(SOURCES)[1:]
    assert records[1].population is Population.GENERAL
    # The section comments of the file are kept.
    original = builtin_table("sources.yaml").decode()
    assert merged.count("  # ---") == original.count("  # ---")
    # Re-running adds nothing.
    target.write_text(merged, encoding="utf-8")
    assert script.merge_sources(old, target) == merged
    # A record whose content differs from the YAML stops the merge, naming it.
    old.write_text(
        old.read_text(encoding="utf-8").replace("5th ed. (2019)", "4th ed. (2010)"),
        encoding="utf-8",
    )
    with pytest.raises(SystemExit, match="who2019_grading"):
        script.merge_sources(old, target)


# --------------------------------------------------------------------- a centre's file
CENTRE = {
    "schema": "netlm/sources/v1",
    "sources": [
        {
            "id": "centre_x_lung_protocol",
            "seed": None,
            "section": "Centre X radiation protection protocol RP-12, section 4",
            "reference": "local audit of lung shunt studies 2019-2024",
            "population": "NET",
            "certainty": "U",
        },
        {
            "id": "centre_x_tace_audit",
            "seed": SEED_001,
            "section": "§6.1 TAE and TACE",
            "reference": "Centre X TACE audit 2024",
            "population": "NET",
            "certainty": "S",
        },
    ],
}


def _write(tmp_path: Path, document: Any, name: str = "centre.yaml") -> Path:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(document), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _edited(**changes: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(CENTRE))
    document["sources"][1].update(changes)
    return document


@pytest.mark.parametrize("name", ["centre.yaml", "centre.json"])
def test_centre_sources_load(tmp_path: Path, name: str) -> None:
    loaded = load_sources(_write(tmp_path, CENTRE, name))
    assert list(loaded) == ["centre_x_lung_protocol", "centre_x_tace_audit"]
    audit = loaded["centre_x_tace_audit"]
    assert audit.certainty is Certainty.SECONDARY
    assert audit.cite().startswith("seed 001 (Cazzato 2021), §6.1 TAE and TACE; Centre X")
    assert "centre_x_lung_protocol" not in SOURCES  # built-ins are not changed


@pytest.fixture
def builtin_snapshot() -> Iterator[None]:
    before = dict(SOURCES)
    yield
    assert before == SOURCES


@pytest.mark.usefixtures("builtin_snapshot")
@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        (_edited(id="tace_001"), "sources[1].id", "'tace_001' is a built-in source id"),
        (_edited(id="centre_x_lung_protocol"), "sources[1].id", "first given at sources[0]"),
        (_edited(quote="x"), "sources[1].quote", "unknown field"),
        (_edited(population="everyone"), "sources[1].population", "Input should be"),
        (_edited(certainty="V+"), "sources[1].certainty", "Input should be"),
        (_edited(seed="005_x.txt"), "sources[1].seed", "is not a seed document"),
        (_edited(id="Centre X"), "sources[1].id", "pattern"),
        (_edited(section=""), "sources[1].section", "at least 1 character"),
        ({**CENTRE, "schema": "netlm/case/v1"}, "schema", "must be 'netlm/sources/v1'"),
        ({**CENTRE, "rules": []}, "rules", "unknown field"),
        ({"schema": "netlm/sources/v1"}, "sources", "is required"),
    ],
)
def test_centre_sources_refused_naming_the_field(
    tmp_path: Path, document: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SourcesError) as caught:
        load_sources(_write(tmp_path, document))
    assert field in caught.value.fields, caught.value
    assert words in str(caught.value)


def test_centre_record_that_is_valid_is_accepted_beside_a_bad_one(tmp_path: Path) -> None:
    # Boundary of the collision rule: a near-miss of a built-in id is the centre's own.
    loaded = load_sources(_write(tmp_path, _edited(id="tace_001_centre_x")))
    assert "tace_001_centre_x" in loaded


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("schema: netlm/sources/v1\nschema: netlm/sources/v1\nsources: []\n", "duplicate key"),
        ("schema: !!python/object:os.system x\nsources: []\n", "tags"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_centre_sources_go_through_the_hardened_reader(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "centre.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesError, match=words):
        load_sources(path)


def test_missing_centre_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read"):
        load_sources(tmp_path / "absent.yaml")


def test_table_errors_default_to_document_error() -> None:
    with pytest.raises(DocumentError, match=r"outcomes\[0\]\.value"):
        parse_table(
            b"schema: s\noutcomes:\n  - {id: a}\n",
            schema="s",
            key="outcomes",
            model=PublishedOutcome,
        )
