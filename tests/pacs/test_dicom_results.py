"""SEG, SR and Encapsulated PDF of a dose, without a PACS (``dose images --dicom-results``).

Each object must pass dciodvfy, reference the activity series and its Frame
of Reference, hold what the dose computed, and refuse what it cannot represent.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import yaml
from pydicom.uid import generate_uid

from netlm.cli import main
from netlm.errors import GeometryError
from netlm.imaging.io import ImagingError, read_image, write_image
from netlm.imaging.pdf import read_encapsulated_pdf, write_encapsulated_pdf
from netlm.imaging.seg import NETLM_SCHEME, write_seg
from netlm.imaging.sr import write_dose_sr
from netlm.voxel.phantom import Phantom, liver_phantom

from .series import (
    DCIODVFY,
    PATIENT,
    PHANTOM_SHAPE,
    dciodvfy_errors,
    pet_series,
    referenced_uids,
)
from .test_response_sr import DOCUMENT as RESPONSE


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(shape_ijk=PHANTOM_SHAPE, spacing_mm=(6.0, 6.0, 6.0), seed=0)


@pytest.fixture(scope="module")
def results(phantom: Phantom, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("results")
    pet = pet_series(folder / "pet", phantom, generate_uid())
    liver = np.asarray(phantom.masks["liver"].array, dtype=bool)
    perfused = liver.copy()
    perfused[:, :, : liver.shape[2] // 2] = False  # the liver's half with the larger i
    masks = [
        write_image(phantom.masks["liver"], folder / "liver.nii.gz"),
        write_image(phantom.masks["tumour_1"], folder / "tumour.nii.gz"),
        write_image(phantom.masks["liver"].with_array(perfused), folder / "perfused.nii.gz"),
    ]
    out = folder / "out"
    response = folder / "response.yaml"
    response.write_text(yaml.safe_dump({**RESPONSE, "case": PATIENT}, sort_keys=False))
    args = ["dose", "images", "--activity", str(pet), "--out", str(out), "--dicom-results"]
    args += [a for m in masks for a in ("--masks", str(m))]
    args += ["--response", str(response)]
    assert main([*args, "--format", "json"]) == 0
    return {"pet": pet, "out": out, "masks": masks, "perfused": perfused}


def test_dicom_results_are_written_valid_and_referenced(
    results: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    out = results["out"]
    pet = results["pet"]
    assert isinstance(out, Path) and isinstance(pet, Path)
    document = json.loads((out / "dose-statistics.json").read_text())
    header = pydicom.dcmread(next(pet.iterdir()), stop_before_pixels=True)
    for name in ("seg.dcm", "sr.dcm", "dosimetry-report-pdf.dcm", "rtdose.dcm", "response-sr.dcm"):
        ds = pydicom.dcmread(out / name, stop_before_pixels=True)
        assert ds.StudyInstanceUID == header.StudyInstanceUID, name
        assert ds.PatientID == header.PatientID, name
        if DCIODVFY is not None:
            assert not dciodvfy_errors(out / name), name
    # Every reference resolves: the activity series' instances, or the results themselves.
    sources = {
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in pet.iterdir()
    }
    names = ("seg.dcm", "sr.dcm", "dosimetry-report-pdf.dcm", "rtdose.dcm", "response-sr.dcm")
    written = {n: pydicom.dcmread(out / n) for n in names}
    own = {str(ds.SOPInstanceUID) for ds in written.values()}
    own_series = {str(ds.SeriesInstanceUID) for ds in written.values()}
    for name, ds in written.items():
        refs, ref_series = referenced_uids(ds)
        assert refs <= sources | own, (name, refs - sources - own)
        assert ref_series <= {header.SeriesInstanceUID} | own_series, name
        assert not [e for e in ds.iterall() if e.keyword == "ReferencedRTPlanSequence"], name
    assert referenced_uids(written["rtdose.dcm"])[0] == sources
    seg = hd.seg.segread(out / "seg.dcm")
    assert seg.FrameOfReferenceUID == header.FrameOfReferenceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == header.SeriesInstanceUID
    labels = {seg.get_segment_description(n).segment_label: n for n in seg.segment_numbers}
    assert set(labels) == set(document["vois"]) == {"liver", "tumour", "perfused", "normal_liver"}
    perfused = seg.get_segment_description(labels["perfused"]).segmented_property_type
    assert (perfused.value, perfused.scheme_designator) == ("perfused-territory", "99NETLM")
    for ds in (pydicom.dcmread(out / "seg.dcm"), pydicom.dcmread(out / "sr.dcm")):
        schemes = {s.CodingSchemeDesignator for s in ds.CodingSchemeIdentificationSequence}
        assert NETLM_SCHEME[0] in schemes
    volume = seg.get_volume(segment_numbers=[labels["perfused"]], combine_segments=True)
    assert int(np.count_nonzero(volume.array)) == int(np.count_nonzero(results["perfused"]))
    assert read_encapsulated_pdf(out / "dosimetry-report-pdf.dcm").startswith(b"%PDF-")
    # The patient's response file, filed with the dose: the PET series as its evidence.
    response = hd.sr.srread(out / "response-sr.dcm")
    evidence = {
        series.SeriesInstanceUID
        for study in response.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
    }
    assert evidence == {header.SeriesInstanceUID}
    assert len(response.content.get_image_measurement_groups()) > 0


def test_dicom_results_need_a_dicom_activity(
    phantom: Phantom, results: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_image(phantom.activity, tmp_path / "pet.nii.gz")
    masks = results["masks"]
    assert isinstance(masks, list)
    args = ["dose", "images", "--activity", str(image), "--out", str(tmp_path / "o")]
    args += [a for m in masks for a in ("--masks", str(m))]
    args += ["--activity-unit", "Bq/mL", "--assume-implant-time-reference", "--dicom-results"]
    capsys.readouterr()
    assert main(args) == 2
    assert "DICOM results need a DICOM activity series" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before the dose maps are written


def test_a_response_of_another_patient_is_refused_before_any_output(
    results: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its response SR could not be filed with these images: refused by field, nothing written."""
    masks = results["masks"]
    assert isinstance(masks, list)
    response = tmp_path / "response.yaml"
    response.write_text(yaml.safe_dump({**RESPONSE, "case": "OTHER-1"}, sort_keys=False))
    args = ["dose", "images", "--activity", str(results["pet"]), "--out", str(tmp_path / "o")]
    args += [a for m in masks for a in ("--masks", str(m))]
    args += ["--dicom-results", "--response", str(response)]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"response.case: 'OTHER-1' is not the images' patient '{PATIENT}'" in err
    assert not (tmp_path / "o").exists()


def test_seg_refuses_other_frames_empty_masks_and_mixed_grids(
    phantom: Phantom, results: dict[str, object], tmp_path: Path
) -> None:
    pet = results["pet"]
    assert isinstance(pet, Path)
    grid = read_image(pet)
    liver = grid.with_array(np.asarray(phantom.masks["liver"].array, dtype=np.uint8))
    other = dataclasses.replace(liver, frame_of_reference_uid=generate_uid())
    with pytest.raises(GeometryError, match="frame of reference"):
        write_seg({"liver": other}, pet, tmp_path / "seg.dcm")
    with pytest.raises(ImagingError, match="select no voxel"):
        write_seg({"liver": liver, "x": liver.with_array(liver.array * 0)}, pet, tmp_path / "s.dcm")
    shifted = dataclasses.replace(liver, origin_mm=(1.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="not on the grid"):
        write_seg({"liver": liver, "shifted": shifted}, pet, tmp_path / "s.dcm")


def test_sr_refuses_a_voi_without_a_segment(results: dict[str, object], tmp_path: Path) -> None:
    out = results["out"]
    assert isinstance(out, Path)
    document = json.loads((out / "dose-statistics.json").read_text())
    document["vois"]["lung"] = document["vois"]["liver"]
    with pytest.raises(ImagingError, match="'lung' has no segment"):
        write_dose_sr(document, pydicom.dcmread(out / "seg.dcm"), tmp_path / "sr.dcm")


def test_encapsulated_pdf_keeps_an_odd_length_and_refuses_bad_input(
    results: dict[str, object], tmp_path: Path
) -> None:
    out = results["out"]
    assert isinstance(out, Path)
    rtdose = pydicom.dcmread(out / "rtdose.dcm", stop_before_pixels=True)
    pdf = tmp_path / "odd.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n" + b"x" * (1 - len(b"%PDF-1.4\n%%EOF\n") % 2))
    assert len(pdf.read_bytes()) % 2 == 1
    written = write_encapsulated_pdf(pdf, tmp_path / "pdf.dcm", sources=[rtdose], title="t")
    assert read_encapsulated_pdf(written) == pdf.read_bytes()
    text = tmp_path / "not.pdf"
    text.write_text("hello")
    with pytest.raises(ImagingError, match="not a PDF"):
        write_encapsulated_pdf(text, tmp_path / "x.dcm", sources=[rtdose], title="t")
    other = pydicom.dcmread(out / "rtdose.dcm", stop_before_pixels=True)
    other.StudyInstanceUID = generate_uid()
    with pytest.raises(ImagingError, match="studies"):
        write_encapsulated_pdf(pdf, tmp_path / "x.dcm", sources=[rtdose, other], title="t")


def test_a_seg_in_another_frame_needs_its_own_registration(
    phantom: Phantom,
    results: dict[str, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dose's SEG (in the PET's frame) as the masks of an activity image in another frame."""
    import netlm.imaging.io as io
    from netlm.errors import InputError
    from netlm.imaging.registration import RigidTransform, declared_frame
    from netlm.workflows.dose import compute_dose

    out, pet = results["out"], results["pet"]
    assert isinstance(out, Path) and isinstance(pet, Path)
    seg = out / "seg.dcm"
    seg_frame = str(
        pydicom.dcmread(next(pet.iterdir()), stop_before_pixels=True).FrameOfReferenceUID
    )
    assert declared_frame(seg) == seg_frame
    activity = write_image(phantom.activity, tmp_path / "activity.nii.gz")
    other = generate_uid()
    real = io.read_image

    def with_frame(path: Path, **kw: object) -> object:
        image = real(path, **kw)  # type: ignore[arg-type]
        return (
            dataclasses.replace(image, frame_of_reference_uid=other) if path == activity else image
        )

    monkeypatch.setattr(io, "read_image", with_frame)
    common: dict[str, object] = {"activity_unit": "Bq/mL", "assume_implant_time_reference": True}
    with pytest.raises(InputError) as info:
        compute_dose(activity, [seg], None, **common)  # type: ignore[arg-type]
    field, message = info.value.problems[0]
    assert field == "masks" and seg_frame in message and other in message
    wrong = RigidTransform((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), moving_frame=generate_uid())
    with pytest.raises(InputError) as info:
        compute_dose(activity, [seg], None, mask_registration=wrong, **common)  # type: ignore[arg-type]
    assert info.value.problems[0][0] == "mask_registration"
    same = RigidTransform((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), moving_frame=seg_frame)
    result = compute_dose(activity, [seg], tmp_path / "o", mask_registration=same, **common)  # type: ignore[arg-type]
    # Brought through the identity: the same voxels, now in the activity image's frame.
    assert all(m.frame_of_reference_uid == other for m in result.masks.values())
    np.testing.assert_array_equal(result.masks["perfused"].array, results["perfused"])
    recorded = json.loads((tmp_path / "o" / "dose-statistics.json").read_text())["registration"]
    assert (
        sorted(recorded["masks"]["applied_to"])
        == sorted(result.masks)
        == sorted(["liver", "tumour", "perfused", "normal_liver"])
    )
    assert recorded["masks"]["moving_frame"] == seg_frame


def test_a_dicom_activity_without_a_study_uid_is_refused_before_any_output(
    phantom: Phantom, results: dict[str, object], tmp_path: Path
) -> None:
    """Its RT Dose could not be filed in the images' study: refused by field, nothing written."""
    from netlm.errors import InputError
    from netlm.workflows.dose import compute_dose

    pet = pet_series(tmp_path / "pet", phantom, "")
    masks = results["masks"]
    assert isinstance(masks, list)
    with pytest.raises(InputError) as info:
        compute_dose(pet, masks, tmp_path / "out")
    field, message = info.value.problems[0]
    assert field == "activity" and "StudyInstanceUID is empty" in message
    assert not (tmp_path / "out").exists()
    # Without outputs (no RT Dose to file) the dose is still computed.
    assert compute_dose(pet, masks, None).document["vois"]["liver"]["mean_gy"] > 0
