"""The web app's image use cases as workflows (issue #13): registration proposals, PACS
import and sending.  They raise netlm errors naming the field, and leave nothing behind.

The full round trips (a CT in another frame proposed, confirmed and dosed; series
pulled from a real Orthanc) run through the pages in tests/api/test_image_pages.py
and tests/pacs; these tests hold the workflows' own refusals, without HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from netlm.errors import InputError, NotFoundError
from netlm.pacs import PacsConfig
from netlm.store.repository import Store
from netlm.workflows import registration
from netlm.workflows.images import DoseRequest, patient_files_dir
from netlm.workflows.pacs import (
    MODALITY_KINDS,
    find_pacs_studies,
    import_pacs_series,
    send_dose_to_pacs,
    study_kind_for,
)
from netlm.workflows.registration import (
    PROPOSAL_FILE,
    confirm_registration,
    pending_proposals,
    proposal_folder,
    read_proposal,
    reject_registration,
    start_dose,
)

#: A PACS nobody answers at (port 9, discard): a workflow that refuses its input first
#: never contacts it.
NOWHERE = PacsConfig(url="http://127.0.0.1:9/dicom-web", timeout_s=1, max_attempts=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    registry = Store(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        yield registry
    finally:
        registry.close()


@pytest.fixture
def patient_id(store: Store) -> int:
    return store.create_patient("WF-IMG-1", actor="tester").id


def test_no_proposal_is_not_found(tmp_path: Path, store: Store, patient_id: int) -> None:
    with pytest.raises(NotFoundError, match="no registration 0123456789abcdef waits"):
        read_proposal(tmp_path, patient_id, "0123456789abcdef")
    with pytest.raises(NotFoundError):
        confirm_registration(store, tmp_path, patient_id, "0123456789abcdef", actor="tester")
    assert store.images(patient_id) == []


def test_a_stored_proposal_reads_back(tmp_path: Path, patient_id: int) -> None:
    folder = proposal_folder(tmp_path, patient_id, "00000000000000aa")
    assert folder.parent == patient_files_dir(tmp_path, patient_id)
    folder.mkdir(parents=True)
    record = {"request": {"activity_image_id": 1}, "transform": {"translation_mm": [1, 2, 3]}}
    (folder / PROPOSAL_FILE).write_text(json.dumps(record), encoding="utf-8")
    assert read_proposal(tmp_path, patient_id, "00000000000000aa") == record
    (folder / PROPOSAL_FILE).write_text("{broken", encoding="utf-8")
    with pytest.raises(NotFoundError):
        read_proposal(tmp_path, patient_id, "00000000000000aa")


def test_one_confirmation_at_a_time_and_a_failed_one_leaves_it_pending(
    tmp_path: Path, store: Store, patient_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second confirmation or a rejection while one confirmation computes finds nothing
    waiting (a double click, a client's retry); the computation failing gives it back."""
    proposal = "00000000000000bb"
    folder = proposal_folder(tmp_path, patient_id, proposal)
    folder.mkdir(parents=True)
    record = {
        "status": "pending",
        "request": {"activity_image_id": 1, "mask_image_ids": [2], "ct_image_id": 3},
        "transform": {"translation_mm": [1.0, 2.0, 3.0], "confirmed_by": None},
    }
    (folder / PROPOSAL_FILE).write_text(json.dumps(record), encoding="utf-8")
    used: list[dict[str, object] | None] = []

    def failing_dose(*args: object, **kwargs: object) -> None:
        request = args[3]
        assert isinstance(request, DoseRequest)
        used.append(request.ct_registration)
        with pytest.raises(NotFoundError, match="another request is confirming or rejecting"):
            confirm_registration(store, tmp_path, patient_id, proposal, actor="second")
        with pytest.raises(NotFoundError, match="another request is confirming or rejecting"):
            reject_registration(store, tmp_path, patient_id, proposal, actor="second")
        assert pending_proposals(tmp_path, patient_id) == []
        raise InputError([("activity_image_id", "the images could not be used")])

    monkeypatch.setattr(registration, "compute_patient_dose", failing_dose)
    with pytest.raises(InputError, match="could not be used"):
        confirm_registration(store, tmp_path, patient_id, proposal, actor="first")
    assert used == [{"translation_mm": [1.0, 2.0, 3.0], "confirmed_by": "first"}]
    assert read_proposal(tmp_path, patient_id, proposal) == record  # given back, pending
    assert sorted(p.name for p in folder.iterdir()) == [PROPOSAL_FILE]

    rejected = reject_registration(store, tmp_path, patient_id, proposal, actor="first")
    assert (rejected["status"], rejected["rejected_by"]) == ("rejected", "first")
    with pytest.raises(NotFoundError, match="rejected by first"):
        confirm_registration(store, tmp_path, patient_id, proposal, actor="first")
    assert len(used) == 1 and store.images(patient_id) == []
    assert [e.action for e in store.audit_log(patient_id=patient_id)][-1:] == ["reject"]


def test_start_dose_refuses_an_image_of_no_one(
    tmp_path: Path, store: Store, patient_id: int
) -> None:
    request = DoseRequest(activity_image_id=999, mask_image_ids=[998], ct_image_id=997)
    with pytest.raises(InputError) as caught:
        start_dose(store, tmp_path / "files", patient_id, request, actor="tester")
    assert caught.value.fields == ["activity_image_id"]
    assert not (tmp_path / "files").exists()  # no proposal folder left behind
    with pytest.raises(NotFoundError):
        start_dose(store, tmp_path / "files", patient_id + 1, request, actor="tester")


@pytest.mark.parametrize(
    ("chosen", "kinds", "field"),
    [
        ([], {}, "series"),
        (["1.2.3"], {}, "series"),  # no series UID
        (["1.2.3/abc"], {}, "series"),  # not a UID
        (["../1.2/1.3"], {}, "series"),  # no path tricks
    ],
)
def test_import_refuses_bad_choices_before_asking_the_pacs(
    tmp_path: Path,
    store: Store,
    patient_id: int,
    chosen: list[str],
    kinds: dict[str, str],
    field: str,
) -> None:
    files = tmp_path / "files"
    with pytest.raises(InputError) as caught:
        import_pacs_series(NOWHERE, store, files, patient_id, chosen, kinds, actor="tester")
    assert caught.value.fields == [field]
    assert store.images(patient_id) == [] and not files.exists()


def test_import_and_send_need_the_patient_and_the_dose(
    tmp_path: Path, store: Store, patient_id: int
) -> None:
    with pytest.raises(NotFoundError):
        import_pacs_series(NOWHERE, store, tmp_path, patient_id + 1, ["1.2/1.3"], {}, actor="x")
    with pytest.raises(NotFoundError, match="has no image 5"):
        send_dose_to_pacs(NOWHERE, store, tmp_path, patient_id, 5, actor="tester")
    # Nothing was sent, so nothing was audited as sent.
    assert [e for e in store.audit_log() if e.action == "send"] == []


def test_a_search_needs_a_patient_id_or_an_accession_number() -> None:
    with pytest.raises(InputError) as caught:
        find_pacs_studies(NOWHERE, patient_id="", accession=None)
    assert caught.value.fields == ["patient_id"]


@pytest.mark.parametrize(("modality", "kind"), [*MODALITY_KINDS.items(), ("pt", "y90_pet")])
def test_every_modality_becomes_an_image_kind(modality: str, kind: str) -> None:
    from netlm.store.repository import IMAGE_KINDS

    assert study_kind_for(modality) == kind and kind in IMAGE_KINDS


def _store_proposal(
    files: Path, patient_id: int, proposal_id: str, record: dict[str, object]
) -> None:
    folder = proposal_folder(files, patient_id, proposal_id)
    folder.mkdir(parents=True)
    (folder / PROPOSAL_FILE).write_text(json.dumps(record), encoding="utf-8")


def test_only_confirmed_transforms_that_were_not_rejected_are_usable(
    tmp_path: Path, store: Store, patient_id: int
) -> None:
    from netlm.imaging.registration import RigidTransform
    from netlm.workflows.registration import (
        check_usable_transform,
        pending_proposals,
        reject_registration,
    )

    proposed = RigidTransform((0.0, 0.0, 0.1), (12.0, -6.0, 18.0), (1.0, 2.0, 3.0)).as_dict()
    request = {"activity_image_id": 1, "ct_image_id": 2}
    _store_proposal(
        tmp_path, patient_id, "00000000000000aa", {"request": request, "transform": proposed}
    )
    assert [p["id"] for p in pending_proposals(tmp_path, patient_id)] == ["00000000000000aa"]
    with pytest.raises(InputError) as info:
        check_usable_transform(tmp_path, patient_id, proposed)  # nobody confirmed it
    assert info.value.problems[0][0] == "ct_registration"
    confirmed = {**proposed, "confirmed_by": "physicist"}
    check_usable_transform(tmp_path, patient_id, confirmed)  # pending: usable once confirmed

    rejected = reject_registration(
        store, tmp_path, patient_id, "00000000000000aa", actor="physicist", reason="shifted"
    )
    assert rejected["status"] == "rejected" and rejected["reason"] == "shifted"
    assert pending_proposals(tmp_path, patient_id) == []
    with pytest.raises(NotFoundError, match="rejected by physicist"):
        read_proposal(tmp_path, patient_id, "00000000000000aa")
    # The same motion written otherwise (the matrix alone moves points alike) is refused...
    same = {"translation_mm": proposed["translation_mm"], "rotation_rad": proposed["rotation_rad"]}
    same |= {"centre_mm": proposed["centre_mm"], "confirmed_by": "someone else"}
    with pytest.raises(InputError, match="rejected by physicist"):
        check_usable_transform(tmp_path, patient_id, same)
    # ... one 0.1 mm away is another transform; for another patient it was never rejected.
    other = {**same, "translation_mm": [12.1, -6.0, 18.0]}
    check_usable_transform(tmp_path, patient_id, other)
    check_usable_transform(tmp_path, patient_id + 1, same)
    entries = [e for e in store.audit_log(patient_id=patient_id) if e.action == "reject"]
    assert [(e.actor, e.details["proposal"]) for e in entries] == [
        ("physicist", "00000000000000aa")
    ]


def test_a_proposal_record_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    """A rejected proposal's record must stay readable (its transform is refused by it): a
    write that fails half-way leaves the old record and no stray file."""
    from netlm.workflows.proposals import stored_record, write_record

    folder = proposal_folder(tmp_path, 7, "00000000000000bb")
    folder.mkdir(parents=True)
    old = {"status": "rejected", "transform": {"translation_mm": [1, 2, 3]}}
    write_record(folder, old)
    assert stored_record(tmp_path, 7, "00000000000000bb") == old
    with pytest.raises(TypeError):
        write_record(folder, {"status": "pending", "transform": object()})  # not JSON
    assert stored_record(tmp_path, 7, "00000000000000bb") == old
    assert sorted(p.name for p in folder.iterdir()) == [PROPOSAL_FILE]
