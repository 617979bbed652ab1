"""Every eligibility rule, one module per clinical area."""

from __future__ import annotations

from netlm.eligibility.rules import (
    ablation,
    embolization,
    general,
    prognosis,
    prrt,
    radioembolization,
    surgery,
)
from netlm.eligibility.rules.base import Context, MissingData, Rule, RuleBook

__all__ = ["Context", "MissingData", "Rule", "RuleBook", "all_rules"]


def all_rules() -> tuple[Rule, ...]:
    """All rules netlm ships, in a stable order; rule ids are unique."""
    rules = (
        *surgery.book.rules,
        *ablation.book.rules,
        *embolization.book.rules,
        *radioembolization.book.rules,
        *prrt.book.rules,
        *prognosis.book.rules,
        *general.book.rules,
    )
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):  # pragma: no cover - caught by the tests
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise RuntimeError(f"duplicate rule ids: {dupes}")
    return rules
