"""The image pages of the web app: upload, dose, registration confirmation, PACS import and send.

Everything goes through the live app as a browser would (session cookie, CSRF
token in each form, multipart uploads), against a real SQLite registry and,
for the PACS, the real Orthanc of ``tests/pacs/conftest.py``.  Known truth: a
local-deposition dose without a CT is D = a·C/ρ of the phantom's activity at
implant; the page's dose is the API's for the same request; the results sent
to the PACS come back from Orthanc as the VOIs and statistics computed.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from test_api import PASSWORDS, session_client
from test_viewer import PET

from conftest import SHARED
from netlm.api import create_app
from netlm.imaging.io import read_image, write_image
from netlm.imaging.limits import ImageLimits
from netlm.pacs import PacsConfig, find_series, pull_series, push_files
from netlm.store.repository import Role, Store
from netlm.voxel.phantom import Phantom, liver_phantom
from pacs.conftest import orthanc  # noqa: F401 - the real Orthanc fixture
from pacs.series import (
    DCIODVFY,
    PATIENT,
    PHANTOM_SHAPE,
    PHYSICS,
    dciodvfy_errors,
    pet_series,
    save_slice,
    slice_geometry,
    study_attributes,
)

CT_DICOM = SHARED / "data" / "abdomen-ct" / "ct-dicom"


@dataclass
class Site:
    app: Any
    store: Store
    files: Path


def make_site(
    folder: Path, pacs: PacsConfig | None = None, image_limits: ImageLimits | None = None
) -> Site:
    store = Store(f"sqlite:///{folder / 'registry.db'}")
    for role in Role:
        store.create_user(role.value, PASSWORDS[role], role, actor="test")
    app = create_app(
        store,
        secret_key="image-pages-" * 4,
        files_dir=folder / "files",
        pacs=pacs,
        image_limits=image_limits,
    )
    return Site(app, store, folder / "files")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = make_site(tmp_path)
    yield made
    made.store.close()


def csrf(client: TestClient, patient_id: int) -> str:
    page = client.get(f"/patients/{patient_id}")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def new_patient(site: Site, external_id: str) -> int:
    return site.store.create_patient(external_id, actor="test").id


def upload(
    client: TestClient,
    pid: int,
    *,
    files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    masks: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    kind: str = "y90_pet",
) -> Any:
    parts = [("files", (n, b, "application/octet-stream")) for n, b in files]
    parts += [("mask_files", (n, b, "application/octet-stream")) for n, b in masks]
    return client.post(
        f"/patients/{pid}/images/upload",
        data={"csrf_token": csrf(client, pid), "kind": kind, "description": "test upload"},
        files=parts,
        follow_redirects=False,
    )


def dose_form(client: TestClient, pid: int, **fields: Any) -> Any:
    masks = fields.pop("mask_image_ids")
    data: dict[str, Any] = {"csrf_token": csrf(client, pid), "method": "ldm", **fields}
    data["mask_image_ids"] = [str(m) for m in masks]
    return client.post(f"/patients/{pid}/dose", data=data, follow_redirects=False)


def bearer(site: Site, role: Role) -> dict[str, str]:
    """API headers of ``role`` (a client without the browser session's cookie)."""
    r = TestClient(site.app).post(
        "/api/v1/auth/token", json={"username": role.value, "password": PASSWORDS[role]}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def ids_of(site: Site, pid: int, kind: str) -> list[int]:
    return [i.id for i in site.store.images(pid) if i.kind == kind]


def upload_pet_and_other_frame_ct(
    site: Site, phantom: Phantom, folder: Path, external_id: str
) -> tuple[TestClient, int, dict[str, Any]]:
    """As a physicist, upload a new patient's PET series with its liver and tumour masks and
    a CT series of the same study in another frame of reference.

    Returns the physicist's client, the patient id and the dose request on those images.
    """
    study = generate_uid()
    pet = pet_series(folder / "pet", phantom, study)
    ct = phantom_ct_series(folder / "ct", phantom, study)
    masks = [
        write_image(phantom.masks[key], folder / f"{name}.nii.gz")
        for key, name in {"liver": "liver", "tumour_1": "tumour"}.items()
    ]
    client = session_client(site.app, Role.PHYSICIST)
    pid = new_patient(site, external_id)
    r = upload(
        client,
        pid,
        files=[(f.name, f.read_bytes()) for f in sorted(pet.iterdir())],
        masks=[(m.name, m.read_bytes()) for m in masks],
    )
    assert r.status_code == 303, r.text
    r = upload(
        client, pid, files=[(f.name, f.read_bytes()) for f in sorted(ct.iterdir())], kind="ct"
    )
    assert r.status_code == 303, r.text
    (pet_id,) = ids_of(site, pid, "y90_pet")
    (ct_id,) = ids_of(site, pid, "ct")
    request = {
        "activity_image_id": pet_id,
        "ct_image_id": ct_id,
        "mask_image_ids": ids_of(site, pid, "segmentation"),
    }
    return client, pid, request


# --------------------------------------------------------------------------- upload and dose
def test_upload_from_the_page_and_dose_equal_to_the_api(site: Site) -> None:
    client = session_client(site.app, Role.CLINICIAN)
    pid = new_patient(site, "IMG-1")
    pet = (PET / "patient_1_Y90_PET.nrrd").read_bytes()
    seg = (PET / "patient_1_Segmentation.seg.nrrd").read_bytes()
    r = upload(
        client,
        pid,
        files=[("patient_1_Y90_PET.nrrd", pet)],
        masks=[("patient_1_Segmentation.seg.nrrd", seg)],
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/patients/{pid}?images=2#images"
    (pet_id,) = ids_of(site, pid, "y90_pet")
    (seg_id,) = ids_of(site, pid, "segmentation")
    board = client.get(f"/patients/{pid}")
    assert f'id="image-{pet_id}"' in board.text and 'id="dose-form"' in board.text
    assert f'<option value="{pet_id}">' in board.text

    r = dose_form(client, pid, activity_image_id=pet_id, mask_image_ids=[seg_id], activity_gbq=1.4)
    assert r.status_code == 303, r.text
    (dose_id,) = ids_of(site, pid, "rtdose")
    assert r.headers["location"] == f"/patients/{pid}/doses/{dose_id}"
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert (
        f'id="viewer-{dose_id}"' in page.text
        and "script-src 'self'" in page.headers["content-security-policy"]
    )

    assert 'id="send-form"' not in page.text  # no PACS configured: nothing to send to
    refused = client.post(
        f"/patients/{pid}/doses/{dose_id}/send",
        data={"csrf_token": csrf(client, pid)},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "--pacs-url" in refused.text

    # The API computes the same dose from the same request: one pipeline.
    api = TestClient(site.app).post(
        f"/api/v1/patients/{pid}/dose",
        json={"activity_image_id": pet_id, "mask_image_ids": [seg_id], "activity_gbq": 1.4},
        headers=bearer(site, Role.CLINICIAN),
    )
    assert api.status_code == 201, api.text
    by_api = api.json()["statistics"]["vois"]
    folder = Path(next(i.path for i in site.store.images(pid) if i.id == dose_id) or "").parent
    by_page = json.loads((folder / "dose-statistics.json").read_text())["vois"]
    assert set(by_page) == set(by_api) and by_page
    for name, stats in by_page.items():
        assert stats["mean_gy"] == pytest.approx(by_api[name]["mean_gy"], rel=1e-12)
        assert f'data-voi="{name}"' in page.text
    # Dose is linear in activity: twice the activity, twice every VOI's mean dose.
    r = dose_form(client, pid, activity_image_id=pet_id, mask_image_ids=[seg_id], activity_gbq=2.8)
    assert r.status_code == 303, r.text
    doubled = Path(site.store.images(pid)[-1].path or "").parent
    twice = json.loads((doubled / "dose-statistics.json").read_text())["vois"]
    for name, stats in by_page.items():
        assert twice[name]["mean_gy"] == pytest.approx(2 * stats["mean_gy"], rel=1e-9)


def test_a_zipped_dicom_series_is_stored_as_one_image(site: Site) -> None:
    client = session_client(site.app, Role.PHYSICIST)
    pid = new_patient(site, "IMG-ZIP")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for file in sorted(CT_DICOM.iterdir()):
            zipped.write(file, f"series/{file.name}")
    r = upload(client, pid, files=[("ct.zip", buffer.getvalue())], kind="ct")
    assert r.status_code == 303, r.text
    (image,) = site.store.images(pid)
    assert image.kind == "ct" and image.path is not None and Path(image.path).is_dir()
    stored = read_image(Path(image.path))
    original = read_image(CT_DICOM)
    assert stored.same_grid(original)
    np.testing.assert_array_equal(stored.array, original.array)
    # The series downloads as a zip of its files.
    download = client.get(f"/api/v1/patients/{pid}/images/{image.id}/file")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as back:
        assert len(back.namelist()) == len(list(CT_DICOM.iterdir()))
    # Several DICOM files at once are one series too.
    files = [(f.name, f.read_bytes()) for f in sorted(CT_DICOM.iterdir())]
    assert upload(client, pid, files=files, kind="ct").status_code == 303
    second = site.store.images(pid)[-1]
    assert read_image(Path(second.path or "")).same_grid(original)


@pytest.mark.parametrize(
    ("files", "masks", "field"),
    [
        ([("notes.txt", b"not an image")], [], "files"),
        ([("broken.zip", b"PK\x03\x04 broken")], [], "files"),
        ([], [("liver.nii.gz", b"not a mask")], "mask_files"),
        ([], [], "files"),
    ],
)
def test_bad_uploads_are_refused_by_field_and_nothing_is_kept(
    site: Site, files: list[tuple[str, bytes]], masks: list[tuple[str, bytes]], field: str
) -> None:
    client = session_client(site.app, Role.CLINICIAN)
    pid = new_patient(site, "IMG-BAD")
    # A good PET with a bad mask: the PET is not kept either.
    good = [("pet.nrrd", (PET / "patient_1_Y90_PET.nrrd").read_bytes())] if masks else []
    r = upload(client, pid, files=files or good, masks=masks)
    assert r.status_code == 422
    assert f"<code>{field}</code>" in r.text
    assert site.store.images(pid) == []
    folder = site.files / f"patient-{pid}"
    assert not folder.exists() or not any(folder.iterdir())


def test_writers_only_and_csrf_checked(site: Site) -> None:
    pid = new_patient(site, "IMG-ROLES")
    viewer = session_client(site.app, Role.VIEWER)
    page = viewer.get(f"/patients/{pid}")
    assert 'id="upload-form"' not in page.text and 'id="dose-form"' not in page.text
    token = csrf(viewer, pid)
    r = viewer.post(
        f"/patients/{pid}/images/upload",
        data={"csrf_token": token, "kind": "ct"},
        files=[("files", ("a.nrrd", b"x", "application/octet-stream"))],
    )
    assert r.status_code == 403
    clinician = session_client(site.app, Role.CLINICIAN)
    r = clinician.post(
        f"/patients/{pid}/images/upload",
        data={"csrf_token": "forged", "kind": "ct"},
        files=[("files", ("a.nrrd", b"x", "application/octet-stream"))],
    )
    assert r.status_code == 403 and site.store.images(pid) == []
    assert viewer.get(f"/patients/{pid}/pacs").status_code == 403
    # Without a PACS the import page says how to set one, and nothing can be sent.
    page = clinician.get(f"/patients/{pid}/pacs")
    assert page.status_code == 200 and "--pacs-url" in page.text


# --------------------------------------------------------------------------- the PACS
#: Where the phantom's CT lies in its own frame of reference, against the PET's (LPS mm):
#: the registration must find this shift.
CT_SHIFT_MM = (12.0, -6.0, 18.0)
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def phantom_ct_series(folder: Path, phantom: Phantom, study: str) -> Path:
    """The phantom's CT as a DICOM series in its own frame of reference, shifted by CT_SHIFT_MM."""
    folder.mkdir(parents=True)
    volume = phantom.ct
    hu = np.asarray(volume.array, dtype=np.float64)
    series, frame = generate_uid(), generate_uid()
    for k in range(hu.shape[0]):
        ds = Dataset()
        study_attributes(ds, study)
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 3, k + 1
        ds.SeriesDescription = "phantom CT"
        ds.SeriesInstanceUID, ds.FrameOfReferenceUID = series, frame
        slice_geometry(ds, volume, k, CT_SHIFT_MM)
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, -1024, "HU"
        stored = np.rint(hu[k] + 1024).astype("<u2")
        save_slice(ds, stored, CT_STORAGE, folder / f"ct{k:03d}.dcm")
    return folder


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(shape_ijk=PHANTOM_SHAPE, spacing_mm=(6.0, 6.0, 6.0), seed=0)


@pytest.fixture(scope="module")
def pacs_study(
    orthanc: str,  # noqa: F811
    phantom: Phantom,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The phantom's CT and 90Y PET, in two frames of reference, in one study in Orthanc."""
    folder = tmp_path_factory.mktemp("web-study")
    uid = generate_uid()
    ct = phantom_ct_series(folder / "ct", phantom, uid)
    pet = pet_series(folder / "pet", phantom, uid)
    config = PacsConfig(url=f"{orthanc}/dicom-web")
    push_files(config, [*sorted(ct.iterdir()), *sorted(pet.iterdir())])
    masks = {
        f"{name}.nii.gz": write_image(phantom.masks[key], folder / f"{name}.nii.gz").read_bytes()
        for key, name in {"liver": "liver", "tumour_1": "tumour", "lung": "lung"}.items()
    }
    return {"config": config, "uid": uid, "masks": masks, "pet": pet, "ct": ct}


def write_masks(study: dict[str, Any], folder: Path) -> list[str]:
    folder.mkdir(exist_ok=True)
    for name, data in study["masks"].items():
        (folder / name).write_bytes(data)
    return list(study["masks"])


def test_pacs_import_dose_registration_and_send_back(
    tmp_path: Path, phantom: Phantom, pacs_study: dict[str, Any]
) -> None:
    config: PacsConfig = pacs_study["config"]
    site = make_site(tmp_path, pacs=config)
    try:
        client = session_client(site.app, Role.PHYSICIST)
        pid = new_patient(site, PATIENT)
        # Search by the patient's identifier (the form's default) and by accession number.
        page = client.get(f"/patients/{pid}/pacs")
        assert f'value="{PATIENT}"' in page.text
        found = client.get(f"/patients/{pid}/pacs", params={"pacs_patient_id": PATIENT})
        assert found.status_code == 200 and pacs_study["uid"] in found.text
        by_accession = client.get(f"/patients/{pid}/pacs", params={"accession": "ACC-PACS-1"})
        assert pacs_study["uid"] in by_accession.text
        series = {
            s.modality: s.series_uid
            for s in find_series(config, pacs_study["uid"])
            if s.modality in ("CT", "PT")
        }
        assert all(f'value="{pacs_study["uid"]}/{u}"' in found.text for u in series.values())

        token = re.search(r'name="csrf-token" content="([^"]+)"', found.text)
        assert token is not None
        r = client.post(
            f"/patients/{pid}/pacs/import",
            data={
                "csrf_token": token.group(1),
                "series": [f"{pacs_study['uid']}/{u}" for u in series.values()],
                f"kind-{series['PT']}": "y90_pet",
                f"kind-{series['CT']}": "ct",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        images = {i.kind: i for i in site.store.images(pid)}
        assert images["ct"].series_uid == series["CT"]
        assert images["y90_pet"].series_uid == series["PT"]
        pulled = read_image(Path(images["y90_pet"].path or ""))
        np.testing.assert_array_equal(pulled.array, read_image(pacs_study["pet"]).array)

        r = upload(client, pid, masks=list(pacs_study["masks"].items()))
        assert r.status_code == 303, r.text
        masks = ids_of(site, pid, "segmentation")
        pet_id, ct_id = images["y90_pet"].id, images["ct"].id

        # Without a CT: known truth, D = a·C/ρ of the activity at implant.
        r = dose_form(client, pid, activity_image_id=pet_id, mask_image_ids=masks)
        assert r.status_code == 303, r.text
        (plain_id,) = ids_of(site, pid, "rtdose")
        liver = np.asarray(phantom.masks["liver"].array, dtype=bool)
        truth = float(np.asarray(phantom.activity.array, dtype=np.float64)[liver].mean())
        truth *= PHYSICS.dose_constant_gy_kg_per_gbq / 1e6 / PHYSICS.tissue_density_g_per_ml
        plain = Path(site.store.images(pid)[-1].path or "").parent
        stats = json.loads((plain / "dose-statistics.json").read_text())
        assert stats["vois"]["liver"]["mean_gy"] == pytest.approx(truth, rel=1e-3)

        # With the CT of another frame: the registration is proposed, nothing is computed.
        r = dose_form(
            client, pid, activity_image_id=pet_id, ct_image_id=ct_id, mask_image_ids=masks
        )
        assert r.status_code == 303, r.text
        proposal = r.headers["location"]
        assert re.fullmatch(rf"/patients/{pid}/registrations/[0-9a-f]{{16}}", proposal)
        assert ids_of(site, pid, "rtdose") == [plain_id]
        shown = client.get(proposal)
        assert shown.status_code == 200
        assert 'id="translation"' in shown.text and 'id="metric"' in shown.text
        assert 'data-layers="ct,activity"' in shown.text
        assert "script-src 'self'" in shown.headers["content-security-policy"]
        ct_layer = client.get(f"{proposal}/ct.nii.gz")
        assert ct_layer.status_code == 200 and ct_layer.content[:2] == b"\x1f\x8b"
        # The API proposes it too (202; tests/api/test_registration_api.py), and its
        # proposal for the same pair replaces the page's; the page confirms it alike.
        by_api = TestClient(site.app).post(
            f"/api/v1/patients/{pid}/dose",
            json={"activity_image_id": pet_id, "mask_image_ids": masks, "ct_image_id": ct_id},
            headers=bearer(site, Role.PHYSICIST),
        )
        assert by_api.status_code == 202, by_api.text
        assert ids_of(site, pid, "rtdose") == [plain_id]
        assert client.get(proposal).status_code == 404
        proposal = f"/patients/{pid}/registrations/{by_api.json()['id']}"

        csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
        assert csrf_token is not None
        r = client.post(
            f"{proposal}/confirm",
            data={"csrf_token": csrf_token.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        dose_ids = ids_of(site, pid, "rtdose")
        assert (
            len(dose_ids) == 2 and r.headers["location"] == f"/patients/{pid}/doses/{dose_ids[1]}"
        )
        registered = Path(site.store.images(pid)[-1].path or "").parent
        record = json.loads((registered / "dose-statistics.json").read_text())["registration"]
        assert record["ct"]["confirmed_by"] == "physicist"
        assert record["ct"]["method"] == "mattes-mi-rigid"
        # Known truth: the CT lies CT_SHIFT_MM from the PET, unrotated.
        np.testing.assert_allclose(record["ct"]["translation_mm"], CT_SHIFT_MM, atol=3.0)
        np.testing.assert_allclose(record["ct"]["rotation_rad"], 0.0, atol=0.02)
        # ... and the dose is the one with the phantom's CT on the PET grid (one frame).
        from netlm.workflows.dose import compute_dose

        same_frame = compute_dose(
            Path(images["y90_pet"].path or ""),
            [tmp_path / "masks" / n for n in write_masks(pacs_study, tmp_path / "masks")],
            ct_path=write_image(phantom.ct, tmp_path / "phantom-ct.nii.gz"),
        ).document["vois"]
        with_ct = json.loads((registered / "dose-statistics.json").read_text())["vois"]
        assert with_ct["liver"]["mean_gy"] == pytest.approx(
            same_frame["liver"]["mean_gy"], rel=0.01
        )
        assert client.get(proposal).status_code == 404  # used once
        page = client.get(r.headers["location"])
        assert "confirmed by physicist" in page.text and 'id="send-form"' in page.text

        # A server whose image limits the dose grid exceeds reads nothing and sends nothing.
        before = {s.series_uid for s in find_series(config, pacs_study["uid"])}
        voxels = int(read_image(plain / "dose.nii.gz").array.size)
        strict = create_app(
            site.store,
            secret_key="image-pages-" * 4,
            files_dir=site.files,
            pacs=config,
            image_limits=ImageLimits(max_voxels=voxels - 1),
        )
        strict_client = session_client(strict, Role.PHYSICIST)
        strict_page = strict_client.get(f"/patients/{pid}/doses/{plain_id}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', strict_page)
        assert token is not None
        r = strict_client.post(
            f"/patients/{pid}/doses/{plain_id}/send",
            data={"csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 422 and f"netlm reads at most {voxels - 1}" in r.text
        assert str(site.files) not in r.text
        assert {s.series_uid for s in find_series(config, pacs_study["uid"])} == before

        # Send the plain dose's results; they come back from Orthanc as computed.
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        r = client.post(
            f"/patients/{pid}/doses/{plain_id}/send",
            data={"csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/patients/{pid}/doses/{plain_id}?sent=4"
        new = {
            s.modality: s
            for s in find_series(config, pacs_study["uid"])
            if s.series_uid not in before
        }
        assert set(new) == {"RTDOSE", "SEG", "SR", "DOC"}
        back = {
            m: pull_series(config, pacs_study["uid"], s.series_uid, tmp_path / m)[0]
            for m, s in new.items()
        }
        seg = hd.seg.segread(back["SEG"])
        labels = {seg.get_segment_description(n).segment_label for n in seg.segment_numbers}
        assert labels == set(stats["vois"])
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series["PT"]
        sr = hd.sr.srread(back["SR"])
        groups = sr.content.get_volumetric_roi_measurement_groups()
        assert {g.tracking_identifier for g in groups} == set(stats["vois"])
        rtdose = pydicom.dcmread(back["RTDOSE"])
        assert rtdose.StudyInstanceUID == pacs_study["uid"]
        if DCIODVFY is not None:
            for modality, file in back.items():
                assert not dciodvfy_errors(file), modality
        sent = [a for a in site.store.audit_log(patient_id=pid) if a.action == "send"]
        assert len(sent) == 1 and sent[0].actor == "physicist"
        assert sent[0].details["instances"] == 4 and sent[0].details["rtdose_image_id"] == plain_id
    finally:
        site.store.close()


def test_a_pacs_series_over_the_servers_image_limits_is_not_kept(
    tmp_path: Path, pacs_study: dict[str, Any]
) -> None:
    """The pulled PET is read within the server's limits: one voxel less refuses it."""
    config: PacsConfig = pacs_study["config"]
    voxels = int(read_image(pacs_study["pet"]).array.size)
    site = make_site(tmp_path, pacs=config, image_limits=ImageLimits(max_voxels=voxels - 1))
    try:
        client = session_client(site.app, Role.PHYSICIST)
        pid = new_patient(site, PATIENT)
        pet = next(s for s in find_series(config, pacs_study["uid"]) if s.modality == "PT")
        page = client.get(f"/patients/{pid}/pacs", params={"pacs_patient_id": PATIENT})
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token is not None
        r = client.post(
            f"/patients/{pid}/pacs/import",
            data={
                "csrf_token": token.group(1),
                "series": [f"{pacs_study['uid']}/{pet.series_uid}"],
                f"kind-{pet.series_uid}": "y90_pet",
            },
            follow_redirects=False,
        )
        assert r.status_code == 422, r.text
        assert f"the series declares {voxels} voxels; netlm reads at most {voxels - 1}" in r.text
        assert str(tmp_path) not in r.text  # no server path in the answer
        assert site.store.images(pid) == []
        assert not [p for p in site.files.rglob("*") if p.is_file()]
    finally:
        site.store.close()


# --------------------------------------------------------------------------- server settings
def test_serve_settings_give_the_app_its_pacs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netlm.commands.serve import _app, server_pacs
    from netlm.errors import InputError

    assert server_pacs(None) is None and server_pacs({"url": None}) is None
    monkeypatch.setenv("NETLM_PACS_TOKEN", "t0ken")
    config = server_pacs({"url": "https://pacs.example/dicom-web", "insecure": True})
    assert (config.url, config.token, config.verify) == (
        "https://pacs.example/dicom-web",
        "t0ken",
        False,
    )
    monkeypatch.delenv("NETLM_PACS_TOKEN")
    monkeypatch.setenv("NETLM_PACS_PASSWORD", "secret")
    basic = server_pacs({"url": "http://pacs/dicom-web", "user": "netlm"})
    assert (basic.username, basic.password, basic.token) == ("netlm", "secret", None)
    with pytest.raises(InputError) as caught:
        server_pacs({"url": "ftp://pacs"})
    assert caught.value.fields == ["pacs.url"]
    # A worker's app (settings from the parent process) carries the PACS.
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        settings = {
            "secret_key": "worker-secret-" * 4,
            "files_dir": str(tmp_path / "files"),
            "secure_cookies": False,
            "max_body_bytes": 1 << 20,
            "max_upload_bytes": 1 << 30,
            "token_ttl_days": 1.0,
            "allow_own_override_approval": False,
            "allowed_hosts": None,
            "pacs": {"url": "http://pacs/dicom-web", "user": "netlm"},
        }
        app = _app(store, settings, auth_cache_s=0.0)
        assert app.state.netlm.pacs == basic
    finally:
        store.close()


def test_masks_drawn_on_the_ct_come_through_the_confirmed_registration(
    site: Site, phantom: Phantom, tmp_path: Path
) -> None:
    """A PET and a CT in two frames, the VOIs a DICOM SEG drawn on the CT: refused without
    the CT; with it, resampled through the confirmed registration onto the PET grid."""
    from netlm.imaging.seg import write_seg

    study = generate_uid()
    pet = pet_series(tmp_path / "pet", phantom, study)
    ct = phantom_ct_series(tmp_path / "ct", phantom, study)
    ct_grid = read_image(ct)
    on_ct = {
        name: ct_grid.with_array(np.asarray(phantom.masks[key].array, dtype=bool), unit="label")
        for key, name in {"liver": "liver", "tumour_1": "tumour"}.items()
    }
    seg = write_seg(on_ct, ct, tmp_path / "seg-on-ct.dcm")
    client = session_client(site.app, Role.PHYSICIST)
    pid = new_patient(site, "IMG-SEG-ON-CT")
    files = [(f.name, f.read_bytes()) for f in sorted(pet.iterdir())]
    assert upload(client, pid, files=files, masks=[(seg.name, seg.read_bytes())]).status_code == 303
    files = [(f.name, f.read_bytes()) for f in sorted(ct.iterdir())]
    assert upload(client, pid, files=files, kind="ct").status_code == 303
    (pet_id,) = ids_of(site, pid, "y90_pet")
    (ct_id,) = ids_of(site, pid, "ct")
    masks = ids_of(site, pid, "segmentation")

    refused = dose_form(client, pid, activity_image_id=pet_id, mask_image_ids=masks)
    assert refused.status_code == 422 and "frame of reference" in refused.text
    assert ids_of(site, pid, "rtdose") == []

    r = dose_form(client, pid, activity_image_id=pet_id, ct_image_id=ct_id, mask_image_ids=masks)
    assert r.status_code == 303 and "/registrations/" in r.headers["location"], r.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(r.headers["location"]).text)
    assert token is not None
    r = client.post(
        f"{r.headers['location']}/confirm",
        data={"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    folder = Path(site.store.images(pid)[-1].path or "").parent
    document = json.loads((folder / "dose-statistics.json").read_text())
    # The masks drawn on the CT went through the CT's confirmed registration.
    assert set(document["registration"]["ct"]["applied_to"]) >= {"ct", "liver", "tumour"}
    assert document["registration"]["ct"]["confirmed_by"]
    # Known truth: the VOIs land on the phantom's own liver and tumour on the PET grid
    # (unregistered, they would lie 2, 1 and 3 voxels away).
    bits = np.asarray(read_image(folder / "vois.nii.gz").array).astype(np.uint64)
    for key, name in {"liver": "liver", "tumour_1": "tumour"}.items():
        truth = np.asarray(phantom.masks[key].array, dtype=bool)
        index = np.uint64(document["voi_labels"].index(name))
        found = ((bits >> index) & np.uint64(1)).astype(bool)
        dice = 2 * (found & truth).sum() / (found.sum() + truth.sum())
        assert dice > 0.95, (name, dice)
