"""The plan and follow-up forms generated from the models (issue #15), through the live app.

Each form must build the document its file format holds: the plan or response
stored from the form equals the one stored from the bundled example file; a
field's problem is shown next to its input (422) and nothing is stored; the
CSRF token and the override rule (physicists only) hold as for the YAML box.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import PASSWORDS, csrf_of, session_client

from netlm.api import create_app
from netlm.api.forms.plan import (
    PLAN_ADVANCED,
    PLAN_MODELS,
    TERRITORIES,
    TUMOURS,
    plan_from_form,
    plan_inputs,
)
from netlm.api.forms.plan import plan_form_values as form_values
from netlm.api.forms.response import (
    OBSERVATION_ADVANCED,
    RESPONSE_ADVANCED,
    lesion_table,
    response_document_from_form,
    response_rows,
    response_values,
    timepoint_rows,
)
from netlm.documents import parse_document
from netlm.examples import bundled_examples
from netlm.response.io import response_from_mapping
from netlm.response.model import Observation, ResponseFile, TimePoint
from netlm.response.report import assess_response
from netlm.sirt.plan import PlanTerritory, PlanTumour, plan_from_mapping
from netlm.store.repository import Role, Store

PLANS = dict(bundled_examples("plan-"))
RESPONSE = dict(bundled_examples("response-"))["response-recist.yaml"]


def _example_for(text: str, external_id: str) -> dict[str, Any]:
    document = parse_document(text)
    assert isinstance(document, dict)
    document["case"] = external_id
    return document


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[Any, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'forms.db'}")
    for role in Role:
        store.create_user(role.value, PASSWORDS[role], role, actor="test")
    try:
        yield create_app(store, secret_key="structured-forms-" * 3, files_dir=tmp_path / "f"), store
    finally:
        store.close()


def _patient(client: TestClient, external_id: str) -> int:
    r = client.post(
        "/patients",
        data={"csrf_token": csrf_of(client), "external_id": external_id},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return int(r.headers["location"].split("/")[2])


def _field_errors(html: str) -> dict[str, list[str]]:
    """The messages shown next to each input (by the input each message describes)."""
    found: dict[str, list[str]] = {}
    for name, message in re.findall(
        r'<div class="field-error" id="error-([^"]+)" role="alert">([^<]*)<', html
    ):
        found.setdefault(unescape(name), []).append(unescape(message))
    return found


# --------------------------------------------------------------------------- the model
@pytest.mark.parametrize(("prefix", "model"), PLAN_MODELS)
def test_every_plan_field_has_an_input_or_the_yaml_box(prefix: str, model: Any) -> None:
    names = {i.name for i in plan_inputs()}
    for field in model.model_fields:
        alias = model.model_fields[field].alias or field
        path = f"{prefix}{alias}"
        if prefix == "" and alias in ("patient", "physics", "optimise", "override"):
            continue  # their fields are checked one by one
        if path == "prescription":
            assert {"prescription.target", "prescription.value"} <= names
        elif path == "territories":
            assert {c.field for c in TERRITORIES.columns} >= set(PlanTerritory.model_fields) - {
                "tumours",
                "prescription",
            }
            assert {c.field for c in TUMOURS.columns} >= set(PlanTumour.model_fields)
        else:
            assert path in names or path in PLAN_ADVANCED, f"{path} has no input"


def test_every_response_field_has_an_input_or_the_yaml_box() -> None:
    columns = {c.field for c in lesion_table(0).columns}
    assert columns | OBSERVATION_ADVANCED == set(Observation.model_fields)
    point = {i.name.split(".", 1)[1] for r in timepoint_rows(0) for i in r.inputs}
    assert point | {"lesions"} == set(TimePoint.model_fields)
    top = {i.name for r in response_rows() for i in r.inputs} | {"criteria", "timepoints"}
    aliases = {f.alias or n for n, f in ResponseFile.model_fields.items()}
    assert top | RESPONSE_ADVANCED == aliases


@pytest.mark.parametrize("name", sorted(PLANS))
def test_plan_form_reads_back_every_bundled_plan(name: str) -> None:
    document = parse_document(PLANS[name])
    values, extra = form_values(document)
    plan, read = plan_from_form({**values, "document": extra})
    assert read.problems == []
    assert plan == plan_from_mapping(document)


def test_response_form_reads_back_the_bundled_file() -> None:
    document = parse_document(RESPONSE)
    values, extra = response_values(document)
    read = response_document_from_form({**values, "document": extra}, "EX-001")
    assert read.problems == []
    assert response_from_mapping(read.document) == response_from_mapping(document)


# --------------------------------------------------------------------------- plans
def _stored_plan_document(store: Store, patient_id: int) -> dict[str, Any]:
    (plan,) = store.list_plans(patient_id)
    return plan.document


@pytest.mark.parametrize("name", sorted(PLANS))
def test_plan_form_stores_what_the_yaml_box_stores(app: tuple[Any, Store], name: str) -> None:
    application, store = app
    client = session_client(application, Role.PHYSICIST)
    by_form, by_yaml = _patient(client, "EX-FORM"), _patient(client, "EX-YAML")
    page = client.get(f"/patients/{by_form}/plans/new")
    assert page.status_code == 200
    assert '<label for="whole_liver_volume_ml">Whole-liver volume (mL)' in page.text
    assert 'id="override.reason"' in page.text  # a physicist sees the override block

    values, extra = form_values(_example_for(PLANS[name], "EX-FORM"))
    r = client.post(
        f"/patients/{by_form}/plans",
        data={**values, "document": extra, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, _field_errors(r.text) or r.text
    text = re.sub(r"(?m)^case: .*$", "case: EX-YAML", PLANS[name])
    r = client.post(
        f"/patients/{by_yaml}/plans",
        data={"document": text, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    from_form = _stored_plan_document(store, by_form)
    from_yaml = _stored_plan_document(store, by_yaml)
    assert {**from_form, "case": None} == {**from_yaml, "case": None}
    assert plan_from_mapping(from_form) == plan_from_mapping(_example_for(PLANS[name], "EX-FORM"))


def test_plan_form_shows_each_problem_beside_its_input(app: tuple[Any, Store]) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)
    pid = _patient(client, "EX-BAD")
    values, extra = form_values(_example_for(PLANS["plan-partition-glass.yaml"], "EX-BAD"))
    bad = {
        **values,
        "document": extra,
        "lung_shunt_fraction": "1.4",  # the model's limit
        "whole_liver_volume_ml": "lots",  # not a number
        TERRITORIES.name(0, "tumour_volume_ml"): "2000",  # larger than its territory
        TERRITORIES.name(1, "name"): "left_lobe",  # a second territory without volume
        "treatment_start": "2026-12-03T10:00",  # no time zone
        "csrf_token": csrf_of(client),
    }
    r = client.post(f"/patients/{pid}/plans", data=bad, follow_redirects=False)
    assert r.status_code == 422
    errors = _field_errors(r.text)
    assert errors["whole_liver_volume_ml"] == ["must be a number"]
    assert "less than 1" in errors["lung_shunt_fraction"][0]
    assert "larger than the perfused" in errors[TERRITORIES.name(0, "tumour_volume_ml")][0]
    assert errors[TERRITORIES.name(1, "volume_ml")] == ["is required"]
    assert "time zone" in errors["treatment_start"][0]
    assert 'id="plan-errors"' in r.text
    # what was typed is shown again
    assert 'value="lots"' in r.text and 'value="left_lobe"' in r.text
    assert store.list_plans(pid) == []


def test_plan_form_prescription_and_tumours_rows(app: tuple[Any, Store]) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)
    pid = _patient(client, "EX-ROWS")
    values, extra = form_values(_example_for(PLANS["plan-bsa-resin-bilobar.yaml"], "EX-ROWS"))
    assert values[TUMOURS.name(1, "name")] == "S5/6"
    assert values[TUMOURS.name(1, "territory")] == "right_lobe"
    wrong = {**values, "document": extra, TUMOURS.name(1, "territory"): "left_lobe"}
    wrong |= {"prescription.target": "tumour_dose_gy", "prescription.value": ""}
    r = client.post(f"/patients/{pid}/plans", data={**wrong, "csrf_token": csrf_of(client)})
    assert r.status_code == 422
    errors = _field_errors(r.text)
    assert errors[TUMOURS.name(1, "territory")] == ["name a territory of the territories table"]
    assert errors["prescription.value"] == ["give the prescribed value"]
    # the BSA method takes no dose target: named at the prescription
    fixed = {**values, "document": extra, "prescription.target": "tumour_dose_gy"}
    fixed["prescription.value"] = "120"
    r = client.post(f"/patients/{pid}/plans", data={**fixed, "csrf_token": csrf_of(client)})
    assert r.status_code == 422
    assert "BSA method takes no dose target" in _field_errors(r.text)["prescription.target"][0]
    assert store.list_plans(pid) == []


def test_plan_form_needs_the_csrf_token(app: tuple[Any, Store]) -> None:
    application, store = app
    client = session_client(application, Role.PHYSICIST)
    pid = _patient(client, "EX-CSRF")
    values, extra = form_values(_example_for(PLANS["plan-partition-glass.yaml"], "EX-CSRF"))
    r = client.post(f"/patients/{pid}/plans", data={**values, "document": extra})
    assert r.status_code == 403
    r = client.post(
        f"/patients/{pid}/plans", data={**values, "document": extra, "csrf_token": "forged"}
    )
    assert r.status_code == 403
    assert store.list_plans(pid) == []


def test_only_a_physicist_saves_an_override_from_the_form(app: tuple[Any, Store]) -> None:
    application, store = app
    clinician = session_client(application, Role.CLINICIAN)
    pid = _patient(clinician, "EX-OVR")
    page = clinician.get(f"/patients/{pid}/plans/new")
    assert 'id="override.reason"' not in page.text  # not offered to a clinician
    values, extra = form_values(_example_for(PLANS["plan-partition-glass.yaml"], "EX-OVR"))
    override = {
        **values,
        "document": extra,
        "override.reason": "tumour board accepted the lung dose for palliation",
        "override.approved_by": "Dr Physicist",
        "override.limits": "lung_dose_single",
    }
    r = clinician.post(
        f"/patients/{pid}/plans", data={**override, "csrf_token": csrf_of(clinician)}
    )
    assert r.status_code == 403
    assert store.list_plans(pid) == []
    # the same override in the YAML box is refused the same way
    yaml_override = {
        **values,
        "document": extra + "override:\n  reason: lung dose accepted by the board\n"
        "  approved_by: Dr Physicist\n",
    }
    r = clinician.post(
        f"/patients/{pid}/plans", data={**yaml_override, "csrf_token": csrf_of(clinician)}
    )
    assert r.status_code == 403
    physicist = session_client(application, Role.PHYSICIST)
    r = physicist.post(
        f"/patients/{pid}/plans",
        data={**override, "csrf_token": csrf_of(physicist)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (saved,) = store.list_plans(pid)
    assert saved.document["override"]["limits"] == ["lung_dose_single"]
    assert saved.document["override"]["approved_by"] == "Dr Physicist"


# --------------------------------------------------------------------------- follow-up
def test_response_form_stores_what_the_yaml_box_stores(app: tuple[Any, Store]) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)
    by_form, by_yaml = _patient(client, "EX-001"), _patient(client, "EX-002")
    values, extra = response_values(_example_for(RESPONSE, "EX-001"))
    r = client.post(
        f"/patients/{by_form}/response",
        data={**values, "document": extra, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, _field_errors(r.text) or r.text
    text = re.sub(r"(?m)^case: .*$", "case: EX-002", RESPONSE)
    r = client.post(
        f"/patients/{by_yaml}/response",
        data={"document": text, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303

    def stored(pid: int) -> list[tuple[Any, ...]]:
        return [
            (p.date, p.criterion, p.overall, {**p.details, "inputs_digest": None})
            for p in store.response_timepoints(pid)
        ]

    assert stored(by_form) == stored(by_yaml)
    assert len(stored(by_form)) == 8  # 2 follow-ups x 4 criteria
    # the form's document is the example file's, digest and all
    expected = assess_response(response_from_mapping(_example_for(RESPONSE, "EX-001")))
    digests = {p.details["inputs_digest"] for p in store.response_timepoints(by_form)}
    assert digests == {expected.inputs_digest}
    # each stored time point keeps its lesions; the next form shows the recorded series and
    # names the lesions of its last time point again
    page = client.get(f"/patients/{by_form}/response/new")
    baseline, follow_up, following = lesion_table(0), lesion_table(1), lesion_table(3)
    for row, lesion in enumerate(("T1", "T2", "N1", "NT1")):
        assert f'name="{baseline.name(row, "id")}" value="{lesion}"' in page.text
        assert f'name="{follow_up.name(row, "id")}" value="{lesion}"' in page.text
        assert f'name="{following.name(row, "id")}" value="{lesion}"' in page.text
    assert f'name="{baseline.name(4, "id")}" value=""' in page.text  # NEW1 was not at baseline
    assert f'name="{lesion_table(2).name(4, "id")}" value="NEW1"' in page.text
    assert f'name="{following.name(4, "id")}" value="NEW1"' in page.text
    assert f'name="{baseline.name(2, "organ")}" value="lymph_node"' in page.text
    for criterion in ("recist1.1", "mrecist", "who", "choi"):
        assert (
            f'id="criteria.{criterion}" name="criteria.{criterion}" value="on" checked' in page.text
        )
    assert 'id="criteria.easl" name="criteria.easl" value="on">' in page.text


def test_response_form_prefills_the_lesions_of_the_case(app: tuple[Any, Store]) -> None:
    application, _ = app
    client = session_client(application, Role.CLINICIAN)
    pid = _patient(client, "EX-CASE")
    form = {
        "patient.id": "EX-CASE",
        "liver.lesions[0].id": "L7",
        "liver.lesions[0].segment": "7",
        "liver.lesions[1].id": "L2",
        "csrf_token": csrf_of(client),
    }
    assert (
        client.post(f"/patients/{pid}/case", data=form, follow_redirects=False).status_code == 303
    )
    page = client.get(f"/patients/{pid}/response/new")
    assert page.status_code == 200
    baseline, follow_up = lesion_table(0), lesion_table(1)
    for row, lesion in enumerate(("L7", "L2")):
        assert f'name="{baseline.name(row, "id")}" value="{lesion}"' in page.text
        assert f'name="{follow_up.name(row, "id")}" value="{lesion}"' in page.text
    assert page.text.count('<option value="target" selected>') == 2  # the two baseline rows
    assert f'<label for="{baseline.name(0, "id")}"' not in page.text  # cells are aria-labelled
    assert 'aria-label="Baseline lesion 1: Longest diameter (mm)"' in page.text


def test_response_form_errors_beside_the_field_and_nothing_stored(
    app: tuple[Any, Store],
) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)
    pid = _patient(client, "EX-001")
    values, extra = response_values(_example_for(RESPONSE, "EX-001"))
    table = lesion_table(1)
    bad = {
        **values,
        "document": extra,
        table.name(0, "longest_mm"): "50.25",  # two decimals
        table.name(1, "longest_mm"): "thirty",
        lesion_table(2).name(5, "longest_mm"): "12",  # a row without its id
        "csrf_token": csrf_of(client),
    }
    r = client.post(f"/patients/{pid}/response", data=bad)
    assert r.status_code == 422
    errors = _field_errors(r.text)
    assert errors[table.name(1, "longest_mm")] == ["must be a number"]
    assert errors[lesion_table(2).name(5, "id")] == ["give the lesion id"]
    assert store.response_timepoints(pid) == []
    # the model's own problems land beside their cell too
    del bad[table.name(1, "longest_mm")], bad[lesion_table(2).name(5, "longest_mm")]
    r = client.post(f"/patients/{pid}/response", data=bad)
    assert r.status_code == 422
    assert "more than one decimal" in _field_errors(r.text)[table.name(0, "longest_mm")][0]
    # a follow-up lesion never declared at baseline is named at its id
    unknown = {**values, "document": extra, "csrf_token": csrf_of(client)}
    unknown[table.name(0, "id")] = "T9"
    r = client.post(f"/patients/{pid}/response", data=unknown)
    assert r.status_code == 422
    assert "T9" in _field_errors(r.text)[table.name(0, "id")][0]
    assert store.response_timepoints(pid) == []


def test_response_form_needs_the_csrf_token_and_a_writer(app: tuple[Any, Store]) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)
    pid = _patient(client, "EX-001")
    values, extra = response_values(_example_for(RESPONSE, "EX-001"))
    r = client.post(f"/patients/{pid}/response", data={**values, "document": extra})
    assert r.status_code == 403
    viewer = session_client(application, Role.VIEWER)
    assert viewer.get(f"/patients/{pid}/response/new").status_code == 403
    r = viewer.post(
        f"/patients/{pid}/response",
        data={**values, "document": extra, "csrf_token": csrf_of(viewer)},
    )
    assert r.status_code == 403
    assert store.response_timepoints(pid) == []


def test_plan_table_problems_name_their_cells() -> None:
    values, extra = form_values(parse_document(PLANS["plan-bsa-resin-bilobar.yaml"]))
    form = {**values, "document": extra}
    form[TERRITORIES.name(0, "prescription_target")] = "activity_gbq"  # no value
    form[TUMOURS.name(0, "volume_ml")] = "0"  # the model wants > 0
    form[TUMOURS.name(1, "tumour_to_normal_ratio")] = "high"
    plan, read = plan_from_form(form)
    assert plan is None
    problems = dict(read.problems)
    assert problems[TERRITORIES.name(0, "prescription_value")] == "give the prescribed value"
    assert "greater than 0" in problems[TUMOURS.name(0, "volume_ml")]
    assert problems[TUMOURS.name(1, "tumour_to_normal_ratio")] == "must be a number"
    form[TERRITORIES.name(0, "prescription_value")] = "1.6"
    form[TUMOURS.name(0, "volume_ml")] = "210"
    form[TUMOURS.name(1, "tumour_to_normal_ratio")] = "2.2"
    plan, read = plan_from_form(form)
    assert read.problems == [] and plan is not None
    rx = plan.territories[0].prescription
    assert rx is not None and rx.target == ("activity_gbq", 1.6)


def _series(points: int, external_id: str = "EX-001") -> dict[str, Any]:
    """The bundled response example for ``external_id``, with its first ``points`` time points."""
    document = _example_for(RESPONSE, external_id)
    document["timepoints"] = document["timepoints"][:points]
    return document


def _post_series(client: TestClient, pid: int, document: dict[str, Any]) -> Any:
    values, extra = response_values(document)
    return client.post(
        f"/patients/{pid}/response",
        data={**values, "document": extra, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )


def test_follow_up_form_lists_the_recorded_series_and_adds_the_next(
    app: tuple[Any, Store],
) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)
    pid = _patient(client, "EX-001")
    assert _post_series(client, pid, _series(2)).status_code == 303
    assert len(store.response_timepoints(pid)) == 4  # one follow-up x 4 criteria
    page = client.get(f"/patients/{pid}/response/new").text
    listed = re.search(r'<section id="recorded".*?</section>', page, re.S)
    assert listed is not None
    rows = re.findall(r"<tr><td>([\d-]+)</td><td>([^<]+)</td>", listed.group(0))
    assert rows == [("2026-01-05", "Baseline"), ("2026-04-02", "Follow-up 1")]
    assert "RECIST 1.1: <strong>SD</strong>" in listed.group(0)
    # the recorded time points fill the form, measurements and all; the next one names the lesions
    assert 'name="timepoints[0].date" value="2026-01-05"' in page
    assert 'name="timepoints[1].date" value="2026-04-02"' in page
    assert f'name="{lesion_table(1).name(0, "longest_mm")}" value="50"' in page
    assert "Follow-up 1 · recorded</legend>" in page
    assert 'name="timepoints[2].date" value=""' in page
    for row, lesion in enumerate(("T1", "T2", "N1", "NT1")):
        assert f'name="{lesion_table(2).name(row, "id")}" value="{lesion}"' in page

    # the next time point added to the series shown: the recorded one is skipped, not doubled
    assert _post_series(client, pid, _series(3)).status_code == 303
    stored = store.response_timepoints(pid)
    assert sorted((p.date.isoformat(), p.criterion) for p in stored) == sorted(
        (d, c)
        for d in ("2026-04-02", "2026-07-01")
        for c in ("recist1.1", "mrecist", "who", "choi")
    )
    kept = {p.date.isoformat(): p.details for p in stored}
    assert kept["2026-07-01"]["baseline"]["date"] == "2026-01-05"
    assert [x["id"] for x in kept["2026-07-01"]["timepoint"]["lesions"]][-1] == "NEW1"
    # sent again unchanged: nothing new
    assert _post_series(client, pid, _series(3)).status_code == 303
    assert len(store.response_timepoints(pid)) == 8


def test_changing_a_recorded_time_point_is_refused_and_named(app: tuple[Any, Store]) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)
    pid = _patient(client, "EX-001")
    assert _post_series(client, pid, _series(2)).status_code == 303
    before = store.response_timepoints(pid)

    changed = _series(3)
    changed["timepoints"][1]["lesions"][0]["longest_mm"] = 51  # T1 was recorded at 50 mm
    r = _post_series(client, pid, changed)
    assert r.status_code == 422
    (message,) = _field_errors(r.text)["timepoints[1].date"]
    assert "2026-04-02 is already recorded with other measurements" in message
    assert store.response_timepoints(pid) == before  # the new 2026-07-01 was not stored either

    # the same follow-up against another baseline would change its recorded response
    rebased = _series(2)
    rebased["timepoints"][0]["date"] = "2026-01-03"
    # targets 100 + 60 + 17 = 177 mm -> 94 mm: -47 %, PR (recorded: 116 -> 94 mm, -19 %, SD)
    rebased["timepoints"][0]["lesions"][0]["longest_mm"] = 100
    rebased["timepoints"][0]["lesions"][1]["longest_mm"] = 60
    r = _post_series(client, pid, rebased)
    assert r.status_code == 422
    messages = _field_errors(r.text)["timepoints[1].date"]
    assert any("RECIST 1.1 response of 2026-04-02 is recorded as SD" in m for m in messages)
    assert any("would make it PR" in m for m in messages)
    assert store.response_timepoints(pid) == before
