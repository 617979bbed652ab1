"""SEG, RT Dose and SR derived from the bundled CT series (issue #14).

The bundled CT keeps its SOP Class and Instance UIDs only in the file meta
(the dataset's are empty) and has empty Study and Series Instance UIDs.  The
writers take the two SOP UIDs from the file meta, refuse a series without
study or series UID (naming it), and refuse masks that are not on the CT's
own voxel grid instead of resampling them.  Each object written must pass
dciodvfy and reference only what exists: the CT's series, its instances, its
Frame of Reference, and no RT Plan.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from conftest import SHARED
from netlm.errors import GeometryError
from netlm.imaging.io import ImagingError, read_image, resample_to
from netlm.imaging.rtdose import referenced_images_of, write_rt_dose
from netlm.imaging.seg import read_source_series, write_seg
from netlm.imaging.sr import write_dose_sr
from netlm.volume import ImageVolume

from .series import CT_DICOM, DCIODVFY, dciodvfy_errors, referenced_uids, study_attributes

#: The bundled CT's segmentation (TotalSegmentator, liver = label 5), as NIfTI (RAS).
CT_SEG = SHARED / "data" / "abdomen-ct" / "example_seg_dicom.nii.gz"
LIVER = 5


def _copy_ct(folder: Path, *, study: str | None, series: str | None) -> Path:
    """The bundled CT with only the study and series UIDs (and patient) filled in."""
    folder.mkdir(parents=True)
    for file in sorted(CT_DICOM.iterdir()):
        ds = pydicom.dcmread(file)
        if study is not None:
            study_attributes(ds, study)
        if series is not None:
            ds.SeriesInstanceUID = series
        ds.save_as(folder / f"{file.name}.dcm")
    return folder


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_ct(
        tmp_path_factory.mktemp("ct") / "ct", study=generate_uid(), series=generate_uid()
    )


@pytest.fixture(scope="module")
def ct_grid(ct: Path) -> ImageVolume:
    return read_image(ct)


@pytest.fixture(scope="module")
def masks(ct_grid: ImageVolume) -> dict[str, ImageVolume]:
    """The liver, and a 15-voxel-wide tumour inside it, on the CT's grid."""
    seg = read_image(CT_SEG)
    # The NIfTI holds the same voxels with its rows in the other order (RAS): flipping
    # them is an exact re-indexing onto the CT's grid, not a resampling.
    flipped = seg.array[:, ::-1, :]
    last_row = (
        np.asarray(seg.origin_mm)
        + (seg.array.shape[1] - 1)
        * seg.spacing_mm[1]
        * np.asarray(seg.direction).reshape(3, 3)[:, 1]
    )
    np.testing.assert_allclose(last_row, ct_grid.origin_mm, atol=1e-3)
    liver = flipped == LIVER
    assert liver.sum() > 100_000
    k, j, i = (int(np.median(a)) for a in np.nonzero(liver))
    tumour = np.zeros_like(liver)
    tumour[k - 2 : k + 3, j - 7 : j + 8, i - 7 : i + 8] = True
    tumour &= liver
    return {
        "liver": ct_grid.with_array(liver, unit="label"),
        "tumour": ct_grid.with_array(tumour, unit="label"),
    }


@pytest.fixture(scope="module")
def written(
    ct: Path,
    ct_grid: ImageVolume,
    masks: dict[str, ImageVolume],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("results")
    _, jj, ii = np.meshgrid(*(np.arange(n) for n in ct_grid.array.shape), indexing="ij")
    dose = ct_grid.with_array(
        200.0 * np.exp(-(((jj - 300) / 80.0) ** 2 + ((ii - 150) / 80.0) ** 2)), unit="Gy"
    )
    rtdose = write_rt_dose(
        dose,
        out / "rtdose.dcm",
        reference_dicom=ct,
        bits_allocated=16,
        referenced_images=referenced_images_of(ct),
    )
    seg = write_seg(masks, ct, out / "seg.dcm")
    document = {
        "vois": {
            name: {
                "mean_gy": float(dose.array[mask.array].mean()),
                "volume_ml": float(mask.array.sum() * np.prod(ct_grid.spacing_mm) / 1000.0),
            }
            for name, mask in masks.items()
        }
    }
    seg_ds = pydicom.dcmread(seg)
    rtdose_ds = pydicom.dcmread(rtdose, stop_before_pixels=True)
    sr = write_dose_sr(
        document, seg_ds, out / "sr.dcm", evidence=[rtdose_ds, *read_source_series(ct)]
    )
    return {"rtdose": rtdose, "seg": seg, "sr": sr, "document": document}


def _ct_uids(ct: Path) -> tuple[set[str], str, str, str]:
    """SOP Instance UIDs (from the file meta), series, study and frame of the CT copy."""
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(ct.iterdir())]
    assert all(not h.SOPInstanceUID for h in headers)  # the dataset's are empty
    uids = {str(h.file_meta.MediaStorageSOPInstanceUID) for h in headers}
    first = headers[0]
    return (
        uids,
        str(first.SeriesInstanceUID),
        str(first.StudyInstanceUID),
        str(first.FrameOfReferenceUID),
    )


@pytest.mark.parametrize("name", ["rtdose", "seg", "sr"])
def test_results_on_the_bundled_ct_pass_dciodvfy(written: dict[str, Any], name: str) -> None:
    if DCIODVFY is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    assert dciodvfy_errors(written[name]) == []


def test_results_reference_the_ct_series_and_frame_and_no_rt_plan(
    ct: Path, written: dict[str, Any], masks: dict[str, ImageVolume]
) -> None:
    instances, series, study, frame = _ct_uids(ct)
    assert len(instances) == 20
    rtdose = pydicom.dcmread(written["rtdose"], stop_before_pixels=True)
    seg = hd.seg.segread(written["seg"])
    sr = hd.sr.srread(written["sr"])
    for ds in (rtdose, seg, sr):
        assert ds.StudyInstanceUID == study
        assert ds.SOPClassUID and ds.SOPInstanceUID
        assert not [e for e in ds.iterall() if e.keyword == "ReferencedRTPlanSequence"]
    assert rtdose.FrameOfReferenceUID == seg.FrameOfReferenceUID == frame

    # RT Dose: a plan overview of the 20 CT images, not a plan UID nothing has.
    assert rtdose.DoseSummationType == "PLAN_OVERVIEW"
    refs, ref_series = referenced_uids(rtdose)
    assert refs == instances and ref_series == set()

    # SEG: the CT's series and each of its instances, by the UIDs of the file meta.
    # (and the study's own Referenced Study Sequence, copied from the CT's General Study).
    refs, ref_series = referenced_uids(seg)
    assert ref_series == {series}
    study_refs = {str(r.ReferencedSOPInstanceUID) for r in seg.ReferencedStudySequence}
    assert study_refs == {"1.2.840.113619.6.95.31.0.3.4.1.4285.13.30543134"}
    assert refs == instances | study_refs
    labels = {seg.get_segment_description(n).segment_label: n for n in seg.segment_numbers}
    for name, mask in masks.items():
        back = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=sorted(instances, key=lambda u: _position(ct, u)),
            segment_numbers=[labels[name]],
        )
        np.testing.assert_array_equal(back[..., 0] > 0, mask.array)

    # SR: evidence and references are the SEG, the RT Dose and the CT images only.
    refs, ref_series = referenced_uids(sr)
    assert refs <= instances | study_refs | {seg.SOPInstanceUID, rtdose.SOPInstanceUID}
    assert {seg.SOPInstanceUID, rtdose.SOPInstanceUID} <= refs
    assert ref_series == {series, seg.SeriesInstanceUID, rtdose.SeriesInstanceUID}
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert sorted(g.tracking_identifier for g in groups) == sorted(written["document"]["vois"])


def _position(ct: Path, uid: str) -> float:
    for file in ct.iterdir():
        ds = pydicom.dcmread(file, stop_before_pixels=True)
        if ds.file_meta.MediaStorageSOPInstanceUID == uid:
            return float(ds.ImagePositionPatient[2])
    raise AssertionError(uid)


@pytest.mark.parametrize(
    ("study", "series", "keyword"),
    [(None, "1.2.3.4", "StudyInstanceUID"), ("1.2.3.4", None, "SeriesInstanceUID")],
)
def test_a_ct_without_study_or_series_uid_is_refused(
    tmp_path: Path,
    masks: dict[str, ImageVolume],
    study: str | None,
    series: str | None,
    keyword: str,
) -> None:
    ct = _copy_ct(tmp_path / "ct", study=study, series=series)
    with pytest.raises(ImagingError, match=f"{keyword} is empty"):
        read_source_series(ct)
    with pytest.raises(ImagingError, match=f"{keyword} is empty"):
        write_seg(masks, ct, tmp_path / "seg.dcm")
    assert not (tmp_path / "seg.dcm").exists()


def test_the_bundled_ct_as_it_is_is_refused_by_every_writer(
    tmp_path: Path, ct_grid: ImageVolume, masks: dict[str, ImageVolume]
) -> None:
    with pytest.raises(ImagingError, match="StudyInstanceUID is empty"):
        write_seg(masks, CT_DICOM, tmp_path / "seg.dcm")
    dose = ct_grid.with_array(np.ones(ct_grid.array.shape), unit="Gy")
    with pytest.raises(ImagingError, match="StudyInstanceUID is empty"):
        write_rt_dose(dose, tmp_path / "d.dcm", reference_dicom=CT_DICOM)
    assert list(tmp_path.iterdir()) == []
    # The SOP UIDs of the plan overview come from the file meta.
    assert len(referenced_images_of(CT_DICOM)) == 20


def test_masks_off_the_ct_grid_are_refused_not_resampled(
    ct: Path, ct_grid: ImageVolume, masks: dict[str, ImageVolume], tmp_path: Path
) -> None:
    as_read = read_image(CT_SEG)  # the same voxels in another index order
    with pytest.raises(GeometryError, match="not on the grid of the source series"):
        write_seg({"liver": as_read.with_array(as_read.array == LIVER)}, ct, tmp_path / "a.dcm")
    coarse = dataclasses.replace(
        ct_grid.with_array(np.zeros((10, 256, 256), dtype=bool)),
        spacing_mm=tuple(2 * s for s in ct_grid.spacing_mm),
    )
    liver = resample_to(masks["liver"], coarse, kind="label")
    with pytest.raises(GeometryError, match="not on the grid of the source series"):
        write_seg({"liver": liver}, ct, tmp_path / "b.dcm")
    shifted = dataclasses.replace(
        masks["liver"], origin_mm=(ct_grid.origin_mm[0] + 1.0, *ct_grid.origin_mm[1:])
    )
    with pytest.raises(GeometryError, match="not on the grid of the source series"):
        write_seg({"liver": shifted}, ct, tmp_path / "c.dcm")
    assert list(tmp_path.iterdir()) == []
