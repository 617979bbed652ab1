"""Mutated plans, response files and profiles give the document's own error, never
a traceback (issue #10: KeyError/AttributeError/RecursionError from `sirt plan`,
`response` and `--profile`)."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netlm
from netlm.eligibility import load_profile
from netlm.errors import PlanError, ProfileError, ResponseError, UnsafePlanError
from netlm.response.io import response_from_mapping
from netlm.response.report import assess_response
from netlm.sirt.plan import plan_from_mapping
from netlm.sirt.planner import solve

EXAMPLES = Path(netlm.__file__).parent / "examples"
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_ODD_VALUES = st.sampled_from(
    [None, True, 0, -1, 1e308, "", "x", [], {}, [1], {"a": 1}, "2026-13-01", 10**400]
).map(copy.deepcopy)  # a fresh object each time: no shared (cyclic) containers


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def _mutated(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(out)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = out
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()) and path[-1] != "schema":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_ODD_VALUES)
    return out


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


PLANS = [p.name for p in sorted(EXAMPLES.glob("plan-*.yaml"))]


@pytest.mark.parametrize("name", PLANS)
@FUZZ
@given(data=st.data())
def test_mutated_plans_give_a_plan_error(name: str, data: st.DataObject) -> None:
    doc = data.draw(_mutated(_load(name)))
    with contextlib.suppress(PlanError, UnsafePlanError):
        solve(plan_from_mapping(doc))


@FUZZ
@given(data=st.data())
def test_mutated_response_files_give_a_response_error(data: st.DataObject) -> None:
    doc = data.draw(_mutated(_load("response-recist.yaml")))
    with contextlib.suppress(ResponseError):
        assess_response(response_from_mapping(doc))


@FUZZ
@given(data=st.data())
def test_mutated_profiles_give_a_profile_error(data: st.DataObject, tmp_path_factory: Any) -> None:
    base = {
        "schema": "netlm/rule-profile/v1",
        "id": "c",
        "name": "c",
        "version": "1",
        "extends": "default",
        "parameters": {
            "albi_coefficient": {"value": -0.085, "sources": ["albi"], "note": "n"},
            "tare_bilirubin_limit_mg_dl": 3.0,
        },
    }
    path = tmp_path_factory.mktemp("p") / "profile.yaml"
    path.write_text(yaml.safe_dump(data.draw(_mutated(base))))
    with contextlib.suppress(ProfileError):
        load_profile(path)
