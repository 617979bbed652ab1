"""Every shipped rule has a test that triggers it and one that does not.

Each ``test_rules_*.py`` module in this folder declares two tables,
``TRIGGERS`` and ``QUIET``, of ``(rule_id, modality, changes)``; this test
checks that together they cover every rule netlm ships, and runs every row:
a TRIGGERS row must fire, a QUIET row must be evaluated and not fire.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from conftest import fired, make_case
from netlm.eligibility import Assessor, all_rules

HERE = Path(__file__).parent
MODULES = sorted(p.stem for p in HERE.glob("test_rules_*.py"))


Row = tuple[str, str, dict[str, Any]]


def _rows(name: str) -> list[Row]:
    rows: list[Row] = []
    for module_name in MODULES:
        rows += getattr(importlib.import_module(module_name), name, [])
    return rows


def _tables(name: str) -> set[str]:
    return {row[0] for row in _rows(name)}


def _ids(rows: list[Row]) -> list[str]:
    return [f"{rule}-{modality}-{i}" for i, (rule, modality, _c) in enumerate(rows)]


TRIGGER_ROWS, QUIET_ROWS = _rows("TRIGGERS"), _rows("QUIET")


@pytest.mark.parametrize(("rule_id", "modality", "changes"), TRIGGER_ROWS, ids=_ids(TRIGGER_ROWS))
def test_rule_fires(
    assessor: Assessor, rule_id: str, modality: str, changes: dict[str, Any]
) -> None:
    assert rule_id in fired(assessor, make_case(**changes), modality)


@pytest.mark.parametrize(("rule_id", "modality", "changes"), QUIET_ROWS, ids=_ids(QUIET_ROWS))
def test_rule_stays_quiet(
    assessor: Assessor, rule_id: str, modality: str, changes: dict[str, Any]
) -> None:
    option = assessor.assess(make_case(**changes)).option(modality)
    assert rule_id not in {f.rule_id for f in option.findings}
    # Quiet because it was evaluated and not met, not because data were missing.
    assert rule_id not in {u.rule_id for u in option.unevaluated_rules}


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
