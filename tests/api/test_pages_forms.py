"""The board page's answer, the lesion table and the user pages, without a browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api import PASSWORDS, csrf_of, session_client

from netlm.api import create_app
from netlm.api.forms.case import case_from_form, lesion_input
from netlm.case import parse_case
from netlm.eligibility import Assessor
from netlm.eligibility.result import Verdict
from netlm.examples import bundled_examples
from netlm.report.board import OFFERABLE, UNAVAILABLE, board_summary
from netlm.report.html import board_context
from netlm.store.repository import Role, Store


@pytest.mark.parametrize("name", sorted(n for n, _ in bundled_examples("case-")))
def test_board_summary_partitions_the_options_in_the_recommended_order(name: str) -> None:
    case = parse_case(dict(bundled_examples("case-"))[name])
    assessment = Assessor().assess(case)
    summary = board_summary(assessment, board_context(assessment, case=case))
    groups = (summary.offered, summary.pending, summary.unavailable)
    # every option exactly once, each group in rank order, offered before the rest
    shown = [o.option.modality for g in groups for o in g]
    assert sorted(shown) == sorted(o.modality for o in assessment.options)
    for group in groups:
        ranks = [o.ranked.rank for o in group]
        assert ranks == sorted(ranks)
    assert {o.option.verdict for o in summary.offered} <= OFFERABLE
    assert {o.option.verdict for o in summary.pending} <= {Verdict.NEEDS_INFORMATION}
    assert {o.option.verdict for o in summary.unavailable} <= UNAVAILABLE
    assert len(summary.unavailable) == sum(o.verdict in UNAVAILABLE for o in assessment.options)
    assert len(summary.offered) == sum(o.verdict in OFFERABLE for o in assessment.options)
    labels = [label for label, _ in summary.patient_line]
    assert {"Primary", "WHO 2019 grade", "SSTR imaging", "Child-Pugh"} <= set(labels)
    # an assessment recorded before the recommended order existed gets the same order
    old = assessment.model_copy(update={"recommended_order": ()})
    again = board_summary(old, board_context(old, case=case))
    assert [o.option.modality for o in again.offered] == [
        o.option.modality for o in summary.offered
    ]


def test_lesion_errors_name_the_row_of_the_form_even_after_an_empty_row() -> None:
    form = {
        "patient.id": "LT-1",
        lesion_input(0, "id"): "L1",
        lesion_input(0, "segment"): "7",
        lesion_input(0, "longest_diameter_mm"): "30",
        # row 1 left empty
        lesion_input(2, "id"): "L2",
        lesion_input(2, "longest_diameter_mm"): "400",
        lesion_input(2, "abuts"): "hepatic_vein, capsule",
        lesion_input(3, "id"): "L3",
        lesion_input(3, "longest_diameter_mm"): "ten",
    }
    case, document, problems = case_from_form(form)
    assert case is None
    fields = dict(problems)
    assert "must be a number" in fields[lesion_input(3, "longest_diameter_mm")]
    assert "350" in fields[lesion_input(2, "longest_diameter_mm")]  # the model's limit
    assert lesion_input(1, "longest_diameter_mm") not in fields
    assert document["liver"]["lesions"][1]["abuts"] == ["hepatic_vein", "capsule"]

    form[lesion_input(2, "longest_diameter_mm")] = "35"
    form[lesion_input(3, "longest_diameter_mm")] = "10"
    case, _, problems = case_from_form(form)
    assert problems == [] and case is not None
    assert [x.id for x in case.liver.lesions] == ["L1", "L2", "L3"]
    assert case.liver.lesions[0].segment == 7


def test_lesion_table_replaces_yaml_lesions_only_when_filled() -> None:
    yaml_box = "liver:\n  lesions:\n    - {id: Y1, segment: 2}\n"
    case, _, _ = case_from_form({"patient.id": "LT-2", "extra_yaml": yaml_box})
    assert case is not None and [x.id for x in case.liver.lesions] == ["Y1"]
    form = {"patient.id": "LT-2", "extra_yaml": yaml_box, lesion_input(0, "id"): "T1"}
    case, _, _ = case_from_form(form)
    assert case is not None and [x.id for x in case.liver.lesions] == ["T1"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[object, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'users.db'}")
    for role in Role:
        store.create_user(role.value, PASSWORDS[role], role, actor="test")
    try:
        yield create_app(store, secret_key="pages-forms-" * 4, files_dir=tmp_path / "f"), store
    finally:
        store.close()


def test_user_pages_are_for_admins_and_need_the_form_token(app: tuple[object, Store]) -> None:
    application, store = app
    viewer = session_client(application, Role.VIEWER)  # type: ignore[arg-type]
    assert viewer.get("/admin/users").status_code == 403
    token = csrf_of(viewer)
    refused = viewer.post(
        "/admin/users",
        data={"csrf_token": token, "username": "mallory", "password": "x" * 20, "role": "admin"},
    )
    assert refused.status_code == 403
    admin = session_client(application, Role.ADMIN)  # type: ignore[arg-type]
    page = admin.get("/admin/users")
    assert page.status_code == 200 and 'id="user-viewer"' in page.text
    no_token = admin.post(
        "/admin/users", data={"username": "carol", "password": "x" * 20, "role": "viewer"}
    )
    assert no_token.status_code == 403
    with pytest.raises(LookupError):
        store.get_user("carol")

    token = csrf_of(admin)
    weak = admin.post(
        "/admin/users",
        data={"csrf_token": token, "username": "carol", "password": "carol", "role": "viewer"},
    )
    assert weak.status_code == 422
    assert re.search(r'id="error-password"[^>]*>[^<]*at least 12 characters', weak.text)
    made = admin.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "carol",
            "password": "mosaic-harbour-81",
            "role": "viewer",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303 and store.get_user("carol").role is Role.VIEWER

    changed = admin.post(
        "/admin/users/carol",
        data={"csrf_token": token, "role": "physicist", "status": "active", "password": ""},
        follow_redirects=False,
    )
    assert changed.status_code == 303 and store.get_user("carol").role is Role.PHYSICIST
    short = admin.post(
        "/admin/users/carol",
        data={"csrf_token": token, "role": "physicist", "status": "active", "password": "abc"},
    )
    assert short.status_code == 422 and "password" in short.text
    assert store.authenticate("carol", "mosaic-harbour-81") is not None  # unchanged
    admin.post(
        "/admin/users/carol",
        data={"csrf_token": token, "role": "physicist", "status": "disabled", "password": ""},
    )
    assert not store.get_user("carol").active


def test_own_password_change_checks_the_current_one_and_the_copy(
    app: tuple[object, Store],
) -> None:
    application, store = app
    client = session_client(application, Role.CLINICIAN)  # type: ignore[arg-type]
    token = csrf_of(client)
    new = "granite-willow-64"
    assert (
        client.post(
            "/account/password",
            data={
                "current_password": PASSWORDS[Role.CLINICIAN],
                "new_password": new,
                "confirm_password": new,
            },
        ).status_code
        == 403
    )  # no form token
    wrong = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "nope",
            "new_password": new,
            "confirm_password": new,
        },
    )
    assert wrong.status_code == 422 and 'id="error-current_password"' in wrong.text
    typo = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORDS[Role.CLINICIAN],
            "new_password": new,
            "confirm_password": new + "x",
        },
    )
    assert typo.status_code == 422 and 'id="error-confirm_password"' in typo.text
    assert store.authenticate("clinician", PASSWORDS[Role.CLINICIAN]) is not None
    done = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORDS[Role.CLINICIAN],
            "new_password": new,
            "confirm_password": new,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?changed=1"
    assert store.authenticate("clinician", new) is not None
    assert client.get("/patients", follow_redirects=False).status_code in (303, 307, 401)


def test_case_form_shows_a_stored_case_without_empty_fields() -> None:
    from netlm.api.forms.case import LESION_TABLE, case_form_values

    case = parse_case(dict(bundled_examples("case-"))["case-bilobar-tare.yaml"])
    stored = case.model_dump(mode="json")  # every unset field as null, as the registry keeps it
    assert stored["history"]["prior_treatments"][0]["activity_gbq"] is None
    values, extra = case_form_values(stored)
    assert "prior_treatments" in extra and "null" not in extra
    assert values[LESION_TABLE.name(2, "abuts")] == "left_portal_vein"
    assert values["labs.bilirubin.unit"] == "mg/dL"
