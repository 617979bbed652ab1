"""PACS -> pull -> dose -> SEG + RT Dose + SR + PDF pushed back, against a real Orthanc.

The bundled abdominal CT and a 90Y PET synthesised from the liver phantom
(Bq/mL, decay-corrected to the series start 24 h after the implant, with the
administration time and the 90Y half-life) are stored in one study by STOW-RS
(``netlm pacs push``), found by QIDO-RS and retrieved by WADO-RS.  Known truth:
the dose by local deposition, D = a·C/ρ for the phantom's activity at implant.
The results sent back are queried from Orthanc, retrieved again and read with
highdicom/pydicom; each must reference the PET series and its Frame of
Reference, hold the VOIs and statistics computed, and pass dciodvfy.
"""

from __future__ import annotations

import http.server
import io
import json
import threading
from pathlib import Path
from typing import Any, ClassVar

import highdicom as hd
import numpy as np
import pydicom
import pytest
import yaml
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

import netlm
from netlm.cli import main
from netlm.errors import InputError
from netlm.imaging.io import read_image, write_image
from netlm.imaging.pdf import read_encapsulated_pdf
from netlm.imaging.rtdose import RT_DOSE_STORAGE
from netlm.imaging.sr import MEASUREMENT_CODES
from netlm.pacs import PacsConfig, PacsError, find_series, find_studies, pull_series
from netlm.voxel.phantom import Phantom, liver_phantom
from netlm.workflows.pacs import pull_for_dose

from .conftest import TEST_USER
from .series import (
    DCIODVFY,
    NK,
    PATIENT,
    PET_STORAGE,
    PHANTOM_SHAPE,
    PHYSICS,
    ct_series,
    dciodvfy_errors,
    pet_series,
    referenced_uids,
)


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(shape_ijk=PHANTOM_SHAPE, spacing_mm=(6.0, 6.0, 6.0), seed=0)


@pytest.fixture(scope="module")
def study(
    orthanc: str, phantom: Phantom, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """CT and PET in one new study, stored in Orthanc with ``netlm pacs push``."""
    folder = tmp_path_factory.mktemp("study")
    uid = generate_uid()
    ct = ct_series(folder / "ct", uid)
    pet = pet_series(folder / "pet", phantom, uid)
    url = f"{orthanc}/dicom-web"
    assert main(["pacs", "push", "--url", url, str(ct), str(pet)]) == 0
    masks = [
        write_image(phantom.masks[k], folder / f"{v}.nii.gz")
        for k, v in {"liver": "liver", "tumour_1": "tumour", "lung": "lung"}.items()
    ]
    pet_header = pydicom.dcmread(next(pet.iterdir()), stop_before_pixels=True)
    return {
        "url": url,
        "uid": uid,
        "ct": ct,
        "pet": pet,
        "masks": masks,
        "pet_series": str(pet_header.SeriesInstanceUID),
        "pet_frame": str(pet_header.FrameOfReferenceUID),
    }


def test_push_find_and_pull_round_trip(
    study: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    url = study["url"]
    assert main(["pacs", "find", "--url", url, "--patient-id", PATIENT, "-f", "json"]) == 0
    studies = json.loads(capsys.readouterr().out)
    assert [s["study_uid"] for s in studies] == [study["uid"]]
    assert studies[0]["accession_number"] == "ACC-PACS-1"
    assert main(["pacs", "find", "--url", url, "--study", study["uid"], "-f", "json"]) == 0
    # Other tests add results to the study: only the pushed images count here.
    series = [s for s in json.loads(capsys.readouterr().out) if s["modality"] in ("CT", "PT")]
    assert sorted(s["modality"] for s in series) == ["CT", "PT"]
    counts = {s["modality"]: s["number_of_instances"] for s in series}
    assert counts == {"CT": len(list(study["ct"].iterdir())), "PT": NK}

    ct_uid = next(s["series_uid"] for s in series if s["modality"] == "CT")
    args = ["pacs", "pull", "--url", url, "--study", study["uid"], "--modality", "CT"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    pulled = read_image(tmp_path / ct_uid)
    original = read_image(study["ct"])
    assert pulled.same_grid(original)
    np.testing.assert_array_equal(pulled.array, original.array)


def test_dose_from_the_pacs_and_results_sent_back(
    study: dict[str, Any], phantom: Phantom, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    out = tmp_path / "dose"
    args = ["dose", "images", "--pacs", study["url"], "--study", study["uid"], "--out", str(out)]
    args += [a for m in study["masks"] for a in ("--masks", str(m))]
    config = PacsConfig(url=study["url"])
    before = {s.series_uid for s in find_series(config, study["uid"])}
    assert main([*args, "--push", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)

    # The dose is the implant's (PET 24 h later, decay-corrected to its start).
    liver = np.asarray(phantom.masks["liver"].array, dtype=bool)
    truth = float(np.asarray(phantom.activity.array, dtype=np.float64)[liver].mean())
    truth *= PHYSICS.dose_constant_gy_kg_per_gbq / 1e6 / PHYSICS.tissue_density_g_per_ml
    assert document["vois"]["liver"]["mean_gy"] == pytest.approx(truth, rel=1e-3)
    assert (out / "pacs" / f"activity-{study['pet_series']}").is_dir()

    new = [s for s in find_series(config, study["uid"]) if s.series_uid not in before]
    found = {s.modality: s for s in new}
    assert len(new) == 4 and set(found) == {"RTDOSE", "SEG", "SR", "DOC"}
    back: dict[str, Path] = {}
    for modality in ("RTDOSE", "SEG", "SR", "DOC"):
        files = pull_series(config, study["uid"], found[modality].series_uid, tmp_path / modality)
        assert len(files) == 1
        back[modality] = files[0]
        if DCIODVFY is not None:
            errors = dciodvfy_errors(files[0])
            assert not errors, (modality, errors)
    pet_uids = [
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
        for f in sorted(study["pet"].iterdir())
    ]

    # Every reference of every result resolves to what was used: the instances of the PET
    # series pulled for the dose (out/pacs/activity-*) or the results themselves; every
    # Referenced Series Sequence names the pulled PET series or a result series, each of
    # which the PACS holds; no object names an RT Plan (none exists).
    pulled = out / "pacs" / f"activity-{study['pet_series']}"
    pulled_uids = {
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in pulled.iterdir()
    }
    assert pulled_uids == set(pet_uids)
    results = {m: pydicom.dcmread(f) for m, f in back.items()}
    result_uids = {str(ds.SOPInstanceUID) for ds in results.values()}
    held = {s.series_uid for s in find_series(config, study["uid"])}
    for modality, ds in results.items():
        refs, ref_series = referenced_uids(ds)
        assert refs <= pulled_uids | result_uids, (modality, refs - pulled_uids - result_uids)
        assert ref_series <= held, (modality, ref_series - held)
        assert ref_series <= {study["pet_series"]} | {
            str(r.SeriesInstanceUID) for r in results.values()
        }
        assert not [e for e in ds.iterall() if e.keyword == "ReferencedRTPlanSequence"], modality
        if "FrameOfReferenceUID" in ds:
            assert ds.FrameOfReferenceUID == study["pet_frame"], modality
    assert referenced_uids(results["SEG"])[1] == {study["pet_series"]}
    assert referenced_uids(results["RTDOSE"])[0] == pulled_uids  # the plan overview's images

    # RT Dose: the PET's frame and study, no RT Plan that does not exist.
    rtdose = pydicom.dcmread(back["RTDOSE"])
    assert rtdose.SOPClassUID == RT_DOSE_STORAGE
    assert rtdose.FrameOfReferenceUID == study["pet_frame"]
    assert "ReferencedRTPlanSequence" not in rtdose

    # SEG: one segment per VOI, each equal to its mask, on the PET's slices and frame.
    seg = hd.seg.segread(back["SEG"])
    assert seg.FrameOfReferenceUID == study["pet_frame"]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == study["pet_series"]
    labels = {seg.get_segment_description(n).segment_label: n for n in seg.segment_numbers}
    assert set(labels) == set(document["vois"]) == {"liver", "tumour", "lung", "normal_liver"}
    arrays = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=pet_uids, segment_numbers=[labels["liver"], labels["lung"]]
    )
    np.testing.assert_array_equal(arrays[..., 0] > 0, liver)
    np.testing.assert_array_equal(
        arrays[..., 1] > 0, np.asarray(phantom.masks["lung"].array, dtype=bool)
    )
    liver_type = seg.get_segment_description(labels["liver"]).segmented_property_type
    assert (liver_type.value, liver_type.scheme_designator) == ("10200004", "SCT")

    # SR: TID 1500, one volumetric group per VOI referencing its segment, values as computed.
    sr = hd.sr.srread(back["SR"])
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(document["vois"])
    for group in groups:
        name = group.tracking_identifier
        assert group.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert group.referenced_segment.referenced_segment_numbers == [labels[name]]
        means = group.get_measurements(name=codes.DCM.AbsorbedDose)
        assert len(means) == 1 and means[0].unit.value == "Gy"
        assert means[0].value == pytest.approx(document["vois"][name]["mean_gy"], rel=1e-6)
        d90 = group.get_measurements(name=MEASUREMENT_CODES["d90_gy"][0])
        assert d90[0].value == pytest.approx(document["vois"][name]["d90_gy"], rel=1e-6)
        for key in ("v100_percent", "v120_percent"):  # the V100/V120
            (volume,) = group.get_measurements(name=MEASUREMENT_CODES[key][0])
            assert volume.unit.value == "%"
            assert volume.value == pytest.approx(document["vois"][name][key], abs=1e-9)
    evidence = {
        item.ReferencedSOPInstanceUID
        for s in sr.CurrentRequestedProcedureEvidenceSequence
        for series in s.ReferencedSeriesSequence
        for item in series.ReferencedSOPSequence
    }
    assert {seg.SOPInstanceUID, rtdose.SOPInstanceUID, *pet_uids} <= evidence

    # Encapsulated PDF: the report written, in the study, made from RT Dose, SEG and SR.
    pdf = pydicom.dcmread(back["DOC"])
    assert pdf.StudyInstanceUID == study["uid"] and pdf.PatientID == PATIENT
    assert read_encapsulated_pdf(back["DOC"]) == (out / "dosimetry-report.pdf").read_bytes()
    sources = {item.ReferencedSOPInstanceUID for item in pdf.SourceInstanceSequence}
    assert sources == {rtdose.SOPInstanceUID, seg.SOPInstanceUID, sr.SOPInstanceUID}


def test_several_activity_series_are_listed_not_picked(
    orthanc: str, phantom: Phantom, tmp_path: Path
) -> None:
    uid = generate_uid()
    first = pet_series(tmp_path / "a", phantom, uid)
    second = pet_series(tmp_path / "b", phantom, uid, delay_h=48.0)
    url = f"{orthanc}/dicom-web"
    assert main(["pacs", "push", "--url", url, str(first), str(second)]) == 0
    config = PacsConfig(url=url)
    with pytest.raises(InputError) as caught:
        pull_for_dose(config, uid, tmp_path / "work")
    assert caught.value.fields == ["activity_series"]
    assert "2 PT series" in str(caught.value.problems)
    chosen = str(pydicom.dcmread(next(second.iterdir())).SeriesInstanceUID)
    pulled = pull_for_dose(config, uid, tmp_path / "work", activity_series=chosen)
    assert len(list(pulled.activity.iterdir())) == NK
    with pytest.raises(InputError, match="no series"):
        pull_for_dose(config, uid, tmp_path / "work", activity_series=generate_uid())
    with pytest.raises(InputError, match="no series of modality CT"):
        pull_for_dose(config, uid, tmp_path / "work", activity_series=chosen, with_ct=True)


def test_unreachable_pacs_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = PacsConfig(url="http://127.0.0.1:9/dicom-web", timeout_s=5, max_attempts=1)
    with pytest.raises(PacsError, match=r"127\.0\.0\.1:9/dicom-web: study search failed"):
        find_studies(config, patient_id="x")
    args = ["pacs", "find", "--url", "http://127.0.0.1:9/dicom-web", "--patient-id", "x"]
    assert main(args) == 2
    assert "study search failed" in capsys.readouterr().err


def test_unknown_study_and_missing_options_are_named(
    orthanc: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{orthanc}/dicom-web"
    base = ["dose", "images", "--out", str(tmp_path), "--masks", str(tmp_path / "m.nii.gz")]
    assert main([*base, "--pacs", url]) == 2
    assert "--study" in capsys.readouterr().err
    assert main([*base, "--activity", str(tmp_path), "--push"]) == 2
    assert "push" in capsys.readouterr().err
    assert main([*base, "--pacs", url, "--study", generate_uid()]) == 2
    assert "activity_series" in capsys.readouterr().err


def test_basic_authentication(orthanc_with_user: str) -> None:
    url = f"{orthanc_with_user}/dicom-web"
    user, password = TEST_USER
    assert find_studies(PacsConfig(url=url, username=user, password=password), patient_id="x") == []
    wrong = PacsConfig(url=url, username=user, password="wrong", max_attempts=1)
    with pytest.raises(PacsError, match="HTTP 401"):
        find_studies(wrong, patient_id="x")
    with pytest.raises(PacsError, match="HTTP 401"):
        find_studies(PacsConfig(url=url, max_attempts=1), patient_id="x")


class _Recorder(http.server.BaseHTTPRequestHandler):
    headers_seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).headers_seen.append(dict(self.headers))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_bearer_token_is_sent() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
        assert find_studies(PacsConfig(url=url, token="t0ken"), accession_number="A1") == []
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.headers_seen[-1]["Authorization"] == "Bearer t0ken"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "ftp://pacs"}, "pacs.url"),
        ({"url": "http://pacs", "token": "t", "username": "u", "password": "p"}, "pacs.token"),
        ({"url": "http://pacs", "username": "u"}, "pacs.password"),
        ({"url": "http://pacs", "verify": Path("/no/such/ca.pem")}, "pacs.ca_bundle"),
        ({"url": "http://pacs", "timeout_s": 0}, "pacs.timeout_s"),
        ({"url": "http://pacs", "max_attempts": 0}, "pacs.max_attempts"),
    ],
)
def test_bad_connection_settings_are_named(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        PacsConfig(**kwargs)
    assert caught.value.fields == [field]


def test_insecure_and_a_ca_bundle_exclude_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    args = ["pacs", "find", "--url", "https://pacs", "--patient-id", "x", "--insecure"]
    assert main([*args, "--ca-bundle", str(bundle)]) == 2
    assert "insecure" in capsys.readouterr().err


def test_board_summary_pdf_is_sent_to_the_study(
    study: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = Path(netlm.__file__).parent / "examples" / "case-oligometastatic.yaml"
    pdf = tmp_path / "board.pdf"
    assert main(["assess", str(case), "--pdf", str(pdf)]) == 0
    url = study["url"]
    kept = tmp_path / "board-pdf.dcm"
    args = ["pacs", "push-pdf", "--url", url, str(pdf), "--study", study["uid"]]
    assert main([*args, "--title", "Tumour board summary", "--out", str(kept)]) == 0
    docs = [s for s in find_series(PacsConfig(url=url), study["uid"], modality="DOC")]
    titles = {}
    for s in docs:
        (back,) = pull_series(
            PacsConfig(url=url), study["uid"], s.series_uid, tmp_path / s.series_uid
        )
        ds = pydicom.dcmread(back)
        titles[str(ds.DocumentTitle)] = back
        assert ds.PatientID == PATIENT and ds.AccessionNumber == "ACC-PACS-1"
    assert read_encapsulated_pdf(titles["Tumour board summary"]) == pdf.read_bytes()
    if DCIODVFY is not None:
        assert not dciodvfy_errors(kept)
    capsys.readouterr()
    assert main([*args[:-1], generate_uid()]) == 2
    assert "has no study" in capsys.readouterr().err


def test_the_seg_sent_back_serves_as_the_masks_of_a_new_dose(
    study: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, uid = study["url"], study["uid"]
    first = ["dose", "images", "--pacs", url, "--study", uid, "--out", str(tmp_path / "a")]
    first += [a for m in study["masks"] for a in ("--masks", str(m))]
    assert main([*first, "--push", "--format", "json"]) == 0
    expected = json.loads(capsys.readouterr().out)["vois"]
    segs = find_series(PacsConfig(url=url), uid, modality="SEG")
    assert segs
    seg_uid = segs[-1].series_uid
    args = ["dose", "images", "--pacs", url, "--study", uid, "--out", str(tmp_path / "b")]
    args += ["--activity-series", study["pet_series"], "--mask-series", seg_uid]
    assert main([*args, "--format", "json"]) == 0
    vois = json.loads(capsys.readouterr().out)["vois"]
    # Every VOI of the SEG comes back with the same voxels and dose.
    for name in ("liver", "tumour", "lung"):
        assert vois[name]["voxel_count"] == expected[name]["voxel_count"]
        assert vois[name]["mean_gy"] == pytest.approx(expected[name]["mean_gy"], rel=1e-9)


def test_workup_pulls_its_spect_like_a_local_folder(
    study: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [a for m in study["masks"] for a in ("--masks", str(m))]
    common += ["--liver", "liver", "--tumour", "tumour", "--lung", "lung"]
    common += ["--tumour-dose-gy", "150"]
    local, pulled = tmp_path / "local.yaml", tmp_path / "pulled.yaml"
    assert main(["workup", "--spect", str(study["pet"]), *common, "--out", str(local)]) == 0
    url, uid = study["url"], study["uid"]
    args = ["workup", "--pacs", url, "--study", uid, "--spect-series", study["pet_series"]]
    assert main([*args, *common, "--out", str(pulled), "--work-dir", str(tmp_path / "w")]) == 0
    assert (tmp_path / "w" / f"activity-{study['pet_series']}").is_dir()
    assert yaml.safe_load(pulled.read_text()) == yaml.safe_load(local.read_text())
    # The study's one NM series is looked for by default; there is none.
    capsys.readouterr()
    assert main([*args[:5], *common, "--out", str(pulled)]) == 2
    assert "no series of modality NM" in capsys.readouterr().err


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.HTTPServer:
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_server_cannot_choose_the_file_names(tmp_path: Path) -> None:
    ds = pydicom.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = PET_STORAGE, "../../escaped"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3", "1.2.3.4"
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = PET_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    body = b"--xyz\r\nContent-Type: application/dicom\r\n\r\n" + buffer.getvalue()
    body += b"\r\n--xyz--\r\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header(
                "Content-Type", 'multipart/related; type="application/dicom"; boundary=xyz'
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = _serve(Handler)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
        with pytest.raises(PacsError, match="invalid SOP Instance UID"):
            pull_series(PacsConfig(url=url), "1.2.3", "1.2.3.4", tmp_path / "in")
    finally:
        server.shutdown()
        server.server_close()
    assert not list(tmp_path.rglob("*escaped*"))
