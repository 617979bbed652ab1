"""The dose viewer's volumes (NIfTI from the stored dose outputs) and the pages that show it."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_api import PASSWORDS, session_client

from conftest import SHARED
from netlm.api import create_app
from netlm.api.viewer import ISODOSE_LEVELS_GY, outlines, parse_levels
from netlm.errors import InputError
from netlm.imaging.io import read_image
from netlm.store.repository import Role, Store

PET = SHARED / "data" / "y90-pet-maa-spect"


@dataclass
class Dosed:
    app: object
    store: Store
    client: TestClient
    headers: dict[Role, dict[str, str]]
    patient_id: int
    dose_id: int
    pet_id: int
    files: Path


def upload(client: TestClient, pid: int, kind: str, path: Path, headers: dict[str, str]) -> int:
    with path.open("rb") as handle:
        r = client.post(
            f"/api/v1/patients/{pid}/images",
            data={"kind": kind},
            files={"file": (path.name, handle, "application/octet-stream")},
            headers=headers,
        )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture(scope="module")
def dosed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dosed]:
    """A patient with the bundled 90Y PET, its segmentation and a dose computed by the server."""
    folder = tmp_path_factory.mktemp("viewer")
    store = Store(f"sqlite:///{folder / 'registry.db'}")
    for role in Role:
        store.create_user(role.value, PASSWORDS[role], role, actor="test")
    app = create_app(store, secret_key="viewer-secret-" * 4, files_dir=folder / "files")
    client = TestClient(app)
    headers = {}
    for role in Role:
        r = client.post(
            "/api/v1/auth/token", json={"username": role.value, "password": PASSWORDS[role]}
        )
        headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    clin = headers[Role.CLINICIAN]
    pid = client.post("/api/v1/patients", json={"external_id": "VW-1"}, headers=clin).json()["id"]
    pet = upload(client, pid, "y90_pet", PET / "patient_1_Y90_PET.nrrd", clin)
    seg = upload(client, pid, "segmentation", PET / "patient_1_Segmentation.seg.nrrd", clin)
    r = client.post(
        f"/api/v1/patients/{pid}/dose",
        json={"activity_image_id": pet, "mask_image_ids": [seg], "activity_gbq": 1.4},
        headers=clin,
    )
    assert r.status_code == 201, r.text
    yield Dosed(app, store, client, headers, pid, r.json()["rtdose_image_id"], pet, folder)
    client.close()
    store.close()


def layer_url(d: Dosed, layer: str, image_id: int | None = None) -> str:
    image = d.dose_id if image_id is None else image_id
    return f"/api/v1/patients/{d.patient_id}/images/{image}/viewer/{layer}.nii.gz"


def fetch_volume(d: Dosed, layer: str, tmp_path: Path, **params: str) -> np.ndarray:
    r = d.client.get(layer_url(d, layer), params=params, headers=d.headers[Role.VIEWER])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/gzip"
    assert gzip.decompress(r.content)[:4] in (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c")  # NIfTI-1
    path = tmp_path / f"{layer}.nii.gz"
    path.write_bytes(r.content)
    return read_image(path).array


def test_dose_layer_is_the_stored_dose_map(dosed: Dosed, tmp_path: Path) -> None:
    served = fetch_volume(dosed, "dose", tmp_path)
    folder = Path(dosed.store.images(dosed.patient_id)[-1].path or "").parent
    stored = read_image(folder / "dose.nii.gz").array
    assert served.shape == stored.shape
    assert np.allclose(served, stored, rtol=1e-6, atol=1e-6)
    pet = fetch_volume(dosed, "activity", tmp_path)
    assert pet.shape == stored.shape


def test_isodose_outlines_lie_on_the_level_borders(dosed: Dosed, tmp_path: Path) -> None:
    dose = fetch_volume(dosed, "dose", tmp_path)
    iso = fetch_volume(dosed, "isodose", tmp_path, levels="10,30")
    assert set(np.unique(iso)) <= {0, 1, 2}
    assert (iso == 1).any() and (iso == 2).any()
    # Every outline voxel is inside its level and touches (in-plane) a voxel outside it.
    assert np.all(dose[iso == 1] >= 10) and np.all(dose[iso == 2] >= 30)
    assert np.all(iso[dose < 10] == 0)
    # The default levels are used without ?levels.
    default = fetch_volume(dosed, "isodose", tmp_path)
    assert default.max() <= len(ISODOSE_LEVELS_GY)


def test_voi_outlines_of_every_voi(dosed: Dosed, tmp_path: Path) -> None:
    vois = fetch_volume(dosed, "vois", tmp_path)
    folder = Path(dosed.store.images(dosed.patient_id)[-1].path or "").parent
    import json

    names = json.loads((folder / "dose-statistics.json").read_text())["voi_labels"]
    assert (
        names
        and "vois.nii.gz" in json.loads((folder / "dose-statistics.json").read_text())["outputs"]
    )
    present = set(np.unique(vois)) - {0}
    assert present == set(range(1, len(names) + 1))


def test_outline_of_a_cube_is_its_in_plane_border() -> None:
    cube = np.zeros((5, 7, 7), dtype=bool)
    cube[1:4, 1:6, 1:6] = True
    border = outlines(cube)
    assert border[2, 1, 3] and border[2, 5, 3] and border[2, 3, 1]
    assert not border[2, 3, 3]  # the inside of each slice is not drawn
    assert not border[0].any() and int(border[2].sum()) == 16


@pytest.mark.parametrize("text", ["0,10", "abc", "-5", "1,2,3,4,5,6,7,8,9", "1e9"])
def test_bad_isodose_levels_are_refused(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_levels(text)
    assert info.value.problems[0][0] == "levels"


def test_viewer_reads_are_role_checked_audited_and_refused_for_other_images(
    dosed: Dosed,
) -> None:
    r = dosed.client.get(layer_url(dosed, "dose"))
    assert r.status_code == 401
    before = dosed.store.audit_log(patient_id=dosed.patient_id, limit=10_000)
    r = dosed.client.get(layer_url(dosed, "dose"), headers=dosed.headers[Role.VIEWER])
    assert r.status_code == 200
    entries = dosed.store.audit_log(patient_id=dosed.patient_id, limit=10_000)
    assert len(entries) == len(before) + 1
    assert "dose viewer dose" in str(entries[-1]) and "viewer" in str(entries[-1])
    refused = dosed.client.get(
        layer_url(dosed, "dose", dosed.pet_id), headers=dosed.headers[Role.VIEWER]
    )
    assert refused.status_code == 404
    bad = dosed.client.get(layer_url(dosed, "skull"), headers=dosed.headers[Role.VIEWER])
    assert bad.status_code == 422 and "layer" in bad.text
    assert (
        dosed.client.get(layer_url(dosed, "ct"), headers=dosed.headers[Role.VIEWER]).status_code
        == 404
    )  # the dose was computed without a CT


def test_pages_with_a_dose_show_the_viewer_and_allow_only_own_scripts(dosed: Dosed) -> None:
    client = session_client(dosed.app, Role.VIEWER)  # type: ignore[arg-type]
    page = client.get(f"/patients/{dosed.patient_id}")
    assert page.status_code == 200
    assert f'id="viewer-{dosed.dose_id}"' in page.text
    assert 'src="/static/vendor/niivue/niivue.umd.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy.split("script-src")[1]
    assert "http" not in page.text.split('id="viewer-')[1].split("</section>")[0]  # no CDN
    # A page without a dose keeps the policy without scripts.
    assert "script-src 'none'" in client.get("/patients").headers["content-security-policy"]
    vendored = client.get("/static/vendor/niivue/niivue.umd.js")
    assert vendored.status_code == 200 and "Niivue" in vendored.text
    assert client.get("/static/viewer.js").status_code == 200


def test_plan_page_shows_the_viewer_and_registration_records_are_checked(dosed: Dosed) -> None:
    from test_api import example

    clin = dosed.headers[Role.CLINICIAN]
    plan = example("plan-", "plan-partition-glass.yaml") | {"case": "VW-1"}
    r = dosed.client.post(f"/api/v1/patients/{dosed.patient_id}/plans", json=plan, headers=clin)
    assert r.status_code == 201, r.text
    client = session_client(dosed.app, Role.VIEWER)  # type: ignore[arg-type]
    page = client.get(f"/plans/{r.json()['id']}")
    assert page.status_code == 200 and f'id="viewer-{dosed.dose_id}"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # An implausible transform is refused by field before any dose is computed.
    bad = dosed.client.post(
        f"/api/v1/patients/{dosed.patient_id}/dose",
        json={
            "activity_image_id": dosed.pet_id,
            "mask_image_ids": [dosed.pet_id],
            "activity_gbq": 1.4,
            "ct_registration": {"translation_mm": [900, 0, 0]},
        },
        headers=clin,
    )
    assert bad.status_code == 422 and "registration.translation_mm" in bad.text


@pytest.mark.parametrize("layer", ["dose", "activity", "isodose", "vois"])
def test_viewer_layers_are_read_only_within_the_servers_image_limits(
    dosed: Dosed, layer: str
) -> None:
    """The same stored dose, served with limits just below and at the files' sizes."""
    from netlm.imaging.limits import ImageLimits

    folder = Path(dosed.store.images(dosed.patient_id)[-1].path or "").parent
    name = {"activity": "patient_1_Y90_PET.nrrd", "vois": "vois.nii.gz"}.get(layer, "dose.nii.gz")
    voxels = int(read_image(folder / "dose.nii.gz").array.size)  # every layer is on this grid
    token = dosed.headers[Role.VIEWER]
    for max_voxels, expected in ((voxels - 1, 413), (voxels, 200)):
        app = create_app(
            dosed.store,
            secret_key="viewer-secret-" * 4,
            files_dir=dosed.files / "files",
            image_limits=ImageLimits(max_voxels=max_voxels),
        )
        with TestClient(app) as client:
            r = client.get(layer_url(dosed, layer), headers=token)
        assert r.status_code == expected, r.text
        if expected == 413:
            detail = r.json()["detail"]
            assert detail.startswith(f"{name} its header declares {voxels} voxels")
            assert f"netlm reads at most {voxels - 1}" in detail
            assert detail.endswith("(max_voxels; `netlm serve --max-image-voxels`)")
            assert str(dosed.files) not in r.text


def test_a_viewer_layer_over_the_byte_limit_is_refused_by_it(dosed: Dosed) -> None:
    from netlm.imaging.limits import ImageLimits

    folder = Path(dosed.store.images(dosed.patient_id)[-1].path or "").parent
    dose = read_image(folder / "dose.nii.gz").array
    app = create_app(
        dosed.store,
        secret_key="viewer-secret-" * 4,
        files_dir=dosed.files / "files",
        image_limits=ImageLimits(max_bytes=dose.nbytes - 1),
    )
    with TestClient(app) as client:
        r = client.get(layer_url(dosed, "dose"), headers=dosed.headers[Role.VIEWER])
    assert r.status_code == 413
    assert f"declares {dose.nbytes} bytes of pixel data" in r.json()["detail"]
    assert "`netlm serve --max-image-bytes`" in r.json()["detail"]
