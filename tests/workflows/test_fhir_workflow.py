"""``netlm fhir export --case``: a case file and its plan files as one Bundle (issue #13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netlm import examples
from netlm.case import parse_case
from netlm.workflows.fhir import case_and_plans_bundle


def _procedures(bundle: Any) -> list[Any]:
    return [e.resource for e in bundle.entry or [] if e.resource.__resource_type__ == "Procedure"]


def test_each_plan_file_adds_one_planned_session(tmp_path: Path) -> None:
    case = parse_case(examples.read_text("case-bilobar-tare.yaml"))
    plan = tmp_path / "plan.yaml"
    plan.write_text(examples.read_text("plan-partition-glass.yaml"), encoding="utf-8")
    alone = _procedures(case_and_plans_bundle(case))
    with_plan = _procedures(case_and_plans_bundle(case, [plan, plan]))
    assert len(with_plan) == len(alone) + 2
    assert [p.status for p in with_plan].count("preparation") == 2
