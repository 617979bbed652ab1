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
        assert rule.source_ids, rule.id
        for sid in rule.source_ids:
            src = get_source(sid)
            assert src.section and src.reference and src.population
