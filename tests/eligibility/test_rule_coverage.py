"""Every shipped rule has a test that triggers it and one that does not.

Each ``test_rules_*.py`` module in this folder declares two tables,
``TRIGGERS`` and ``QUIET``, of ``(rule_id, modality, changes)``; this test
checks that together they cover every rule netlm ships.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from netlm.eligibility import all_rules

HERE = Path(__file__).parent
MODULES = sorted(p.stem for p in HERE.glob("test_rules_*.py"))


def _tables(name: str) -> set[str]:
    ids: set[str] = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        ids |= {row[0] for row in getattr(module, name, [])}
    return ids


def test_rule_ids_are_unique() -> None:
    ids = [r.id for r in all_rules()]
    assert len(ids) == len(set(ids))


def test_every_rule_has_a_triggering_test() -> None:
    missing = sorted({r.id for r in all_rules()} - _tables("TRIGGERS"))
    assert not missing, f"rules without a triggering test: {missing}"


def test_every_rule_has_a_quiet_test() -> None:
    missing = sorted({r.id for r in all_rules()} - _tables("QUIET"))
    assert not missing, f"rules without a not-triggering test: {missing}"


def test_tables_name_only_real_rules() -> None:
    known = {r.id for r in all_rules()}
    unknown = sorted((_tables("TRIGGERS") | _tables("QUIET")) - known)
    assert not unknown, f"tables name unknown rules: {unknown}"


def test_every_rule_cites_a_source_and_population() -> None:
    from netlm.evidence import get_source

    for rule in all_rules():
        for modality in rule.modalities:
            assert rule.sources_for(modality), (rule.id, modality)
        for sid in rule.all_source_ids:
            src = get_source(sid)
            assert src.section and src.reference and src.population


def test_ablation_zone_findings_cite_their_own_technique() -> None:
    from conftest import make_case
    from netlm.eligibility import Assessor

    big = make_case(liver__lesions=[{"id": "L1", "segment": 6, "longest_diameter_mm": 70}])
    result = Assessor().assess(big)
    expected = {
        "ablation_laser": "ablation_laser_001",
        "ablation_rfa": "ablation_rfa_001",
        "ablation_mwa": "ablation_mwa_001",
        "ablation_ire": "ablation_ire_001",
        "ablation_cryo": "ablation_cryo_003",
    }
    for modality, source_id in expected.items():
        finding = next(
            f for f in result.option(modality).findings if f.rule_id == "ablation.zone_size"
        )
        cited = {s.id for s in finding.sources}
        assert source_id in cited
        assert cited & (set(expected.values()) - {source_id}) == set()
