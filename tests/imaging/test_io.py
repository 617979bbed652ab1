"""netlm.imaging.io on real data (90Y PET, MAA SPECT, Slicer segmentations, CT DICOM) and
synthetic DICOM with known truth (PET and NM series, DICOM SEG, RTSTRUCT)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from conftest import SHARED
from netlm.errors import GeometryError, UnitError
from netlm.imaging.io import (
    ImagingError,
    ImagingWarning,
    decay_correct,
    dicom_files,
    read_image,
    read_masks,
    resample_to,
    to_bq_per_ml,
)
from netlm.volume import ImageVolume

DATA = SHARED / "data"
Y90 = DATA / "y90-pet-maa-spect"
CT_DICOM = DATA / "abdomen-ct" / "ct-dicom"

PET_SPECT_STORAGE = {
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "NM": "1.2.840.10008.5.1.4.1.1.20",
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3",
}


# =========================================================================== fixtures
@pytest.fixture(scope="module")
def pet() -> ImageVolume:
    return read_image(Y90 / "patient_1_Y90_PET.nrrd", unit="Bq/mL")


@pytest.fixture(scope="module")
def ct() -> ImageVolume:
    return read_image(CT_DICOM)


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CT series with the UIDs its anonymisation emptied filled in (SEG needs them)."""
    folder = tmp_path_factory.mktemp("ct-uids")
    study, series = generate_uid(), generate_uid()
    for file in sorted(CT_DICOM.iterdir()):
        ds = pydicom.dcmread(file)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.SeriesNumber = 1
        ds.PatientID = "NETLM-TEST"
        ds.PatientName = "Test^Netlm"
        ds.save_as(folder / f"{file.name}.dcm")
    return folder


def _copy_series(source: Path, target: Path, skip: Sequence[str] = ()) -> Path:
    target.mkdir()
    for file in sorted(source.iterdir()):
        if file.name not in skip:
            shutil.copy(file, target / file.name)
    return target


def _z(file: Path) -> float:
    return float(pydicom.dcmread(file, stop_before_pixels=True).ImagePositionPatient[2])


def _save(ds: Dataset, path: Path, sop_class: str) -> Path:
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def _pixels(ds: Dataset, stored: np.ndarray) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape[-2:]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = stored.astype("<u2").tobytes()


# =========================================================================== real images
def test_pet_nrrd_has_the_documented_grid_and_about_1_12_gbq(pet: ImageVolume) -> None:
    assert pet.shape_ijk == (256, 256, 89)
    assert pet.spacing_mm == pytest.approx((2.344, 2.344, 2.78), abs=1e-3)
    assert pet.direction == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert pet.unit == "Bq/mL"
    activity = to_bq_per_ml(pet)
    total_gbq = float(activity.array.sum()) * activity.voxel_volume_ml / 1e9
    assert total_gbq == pytest.approx(1.12, rel=0.03)


def test_nrrd_without_a_unit_must_be_told_one() -> None:
    raw = read_image(Y90 / "patient_1_Y90_PET.nrrd")
    assert raw.unit == ""
    with pytest.raises(UnitError, match="unit"):
        to_bq_per_ml(raw)
    kbq = to_bq_per_ml(raw, unit="kBq/mL")
    assert float(kbq.array.max()) == pytest.approx(1e3 * float(raw.array.max()))


def test_slicer_segmentation_is_read_by_name_and_resampled_keeping_volumes(
    pet: ImageVolume,
) -> None:
    path = Y90 / "patient_1_Segmentation.seg.nrrd"
    native = read_masks(path)
    on_pet = read_masks(path, pet)
    expected = {"Liver", "Normal Tissue", *(f"Tumor {n}" for n in range(1, 7))}
    assert set(native) == set(on_pet) == expected
    liver = native["Liver"]
    assert liver.unit == "label" and liver.array.dtype == np.bool_
    assert liver.shape_ijk == (512, 512, 112)
    for name in ("Liver", "Normal Tissue", "Tumor 1", "Tumor 2"):
        mask = on_pet[name]
        assert mask.same_grid(pet)
        native_ml = float(native[name].array.sum()) * native[name].voxel_volume_ml
        resampled_ml = float(mask.array.sum()) * mask.voxel_volume_ml
        assert native_ml > 10
        assert resampled_ml == pytest.approx(native_ml, rel=0.03), name
    # Segments on one layer are told apart by label value; most activity is in the liver.
    assert not np.any(native["Tumor 1"].array & native["Tumor 2"].array)
    liver_gbq = float(pet.array[on_pet["Liver"].array].sum()) * pet.voxel_volume_ml / 1e9
    assert 0.85 < liver_gbq / 1.12 < 1.0


def test_spect_and_its_segmentation_on_another_grid() -> None:
    spect = read_image(Y90 / "patient_2_SPECT.nrrd", unit="counts")
    assert spect.shape_ijk == (128, 128, 160)
    assert spect.spacing_mm == pytest.approx((4.418, 4.418, 2.5), abs=1e-3)
    assert spect.direction[8] == -1.0  # slices run towards the feet
    path = Y90 / "patient_2_Segmentation.seg.nrrd"
    native = read_masks(path)
    on_spect = read_masks(path, spect)
    assert {"liver", "gallbladder", "Tumor 1", "Tumor 2", "perfused volume"} <= set(on_spect)
    for name in ("liver", "perfused volume", "Tumor 1"):
        native_ml = float(native[name].array.sum()) * native[name].voxel_volume_ml
        resampled_ml = float(on_spect[name].array.sum()) * spect.voxel_volume_ml
        assert resampled_ml == pytest.approx(native_ml, rel=0.03), name
    # MAA lodges in the liver: most counts lie inside it.
    counts = spect.array.astype(float)
    assert float(counts[on_spect["liver"].array].sum()) / float(counts.sum()) > 0.5


def test_slicer_segmentation_is_not_an_image() -> None:
    with pytest.raises(ImagingError, match=r"patient_1_Segmentation\.seg\.nrrd.*read_masks"):
        read_image(Y90 / "patient_1_Segmentation.seg.nrrd")


def test_ct_series_matches_simpleitk(ct: ImageVolume) -> None:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(CT_DICOM)))
    image = reader.Execute()
    assert ct.shape_ijk == (512, 512, 20)
    assert ct.unit == "HU"
    assert ct.metadata["modality"] == "CT"
    assert ct.frame_of_reference_uid
    assert ct.spacing_mm == pytest.approx(image.GetSpacing(), abs=1e-6)
    assert ct.origin_mm == pytest.approx(image.GetOrigin(), abs=1e-6)
    assert ct.direction == pytest.approx(image.GetDirection(), abs=1e-9)
    assert np.array_equal(ct.array, sitk.GetArrayFromImage(image))
    assert int(ct.array.min()) == -1024  # rescale intercept applied: air in HU


def test_nifti_ras_file_is_converted_to_lps() -> None:
    path = DATA / "abdomen-ct" / "example_ct_sm.nii.gz"
    volume = read_image(path, unit="HU")
    nifti = nib.load(path)
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    affine_lps = ras_to_lps @ nifti.affine[:3, :3]
    direction = np.asarray(volume.direction).reshape(3, 3)
    assert direction * np.asarray(volume.spacing_mm) == pytest.approx(affine_lps, abs=1e-4)
    assert volume.origin_mm == pytest.approx(ras_to_lps @ nifti.affine[:3, 3], abs=1e-4)
    # The file's i and j axes point to R and A: in LPS their directions are negative.
    assert direction[0, 0] < 0 and direction[1, 1] < 0 and direction[2, 2] > 0
    assert np.array_equal(volume.array, np.asarray(nifti.dataobj).transpose(2, 1, 0))


def test_nifti_label_map_lands_on_the_dicom_ct(ct: ImageVolume) -> None:
    path = DATA / "abdomen-ct" / "example_seg_dicom.nii.gz"
    masks = read_masks(path, ct, labels={5: "liver", 999: "absent"})
    assert set(masks) == {"liver"}
    liver = masks["liver"]
    assert liver.same_grid(ct)
    # The NIfTI stores the rows of the DICOM grid in reverse (RAS, j towards anterior).
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    assert np.array_equal(liver.array, labels[:, ::-1, :] == 5)
    assert liver.array.sum() > 1000


def test_label_map_without_names_gives_every_label() -> None:
    masks = read_masks(DATA / "abdomen-ct" / "example_seg.nii.gz")
    assert "5" in masks and "0" not in masks
    joined = read_masks(
        DATA / "abdomen-ct" / "example_seg.nii.gz", labels={2: "kidney", 3: "kidney"}
    )
    assert int(joined["kidney"].array.sum()) == int(masks["2"].array.sum() + masks["3"].array.sum())


# =========================================================================== DICOM errors
def test_dicom_files_are_the_dicom_files_below_a_folder_by_path(tmp_path: Path) -> None:
    # `netlm pacs push FOLDER` sends these: subfolders searched, hidden files and folders
    # and files that are not DICOM left out.
    files = sorted(CT_DICOM.iterdir())[:3]
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    shutil.copy(files[0], tmp_path / "z.dcm")
    shutil.copy(files[1], tmp_path / "b" / "a.dcm")
    shutil.copy(files[2], tmp_path / ".hidden" / "c.dcm")
    shutil.copy(files[2], tmp_path / ".d.dcm")
    (tmp_path / "notes.txt").write_text("not DICOM\n")
    assert dicom_files(tmp_path) == [tmp_path / "b" / "a.dcm", tmp_path / "z.dcm"]
    assert dicom_files(str(tmp_path / "b")) == [tmp_path / "b" / "a.dcm"]


def test_missing_slice_is_named(tmp_path: Path) -> None:
    files = sorted(CT_DICOM.iterdir(), key=_z)
    removed = files[9]
    folder = _copy_series(CT_DICOM, tmp_path / "gap", skip=[removed.name])
    z = f"{_z(removed):g}"
    with pytest.raises(GeometryError, match=rf"missing slice\(s\) at \(.*, {z}\) mm"):
        read_image(folder)


def test_two_slices_at_one_position(tmp_path: Path) -> None:
    folder = _copy_series(CT_DICOM, tmp_path / "dup")
    first = sorted(CT_DICOM.iterdir())[0]
    ds = pydicom.dcmread(first)
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(folder / "copy.dcm")
    with pytest.raises(GeometryError, match="two slices at one position"):
        read_image(folder)


def test_mixed_series_are_refused_and_can_be_chosen(ct_series: Path, tmp_path: Path) -> None:
    folder = _copy_series(ct_series, tmp_path / "mixed")
    other = sorted(folder.iterdir())[0]
    ds = pydicom.dcmread(other)
    ds.SeriesInstanceUID = other_uid = generate_uid()
    ds.save_as(other)
    with pytest.raises(ImagingError, match=rf"more than one series.*{other_uid}.*series_uid="):
        read_image(folder)
    alone = read_image(folder, series_uid=other_uid)
    assert alone.shape_ijk == (512, 512, 1)
    assert alone.spacing_mm[2] == pytest.approx(3.0)  # Slice Thickness of a single slice


def test_unsupported_transfer_syntax_is_explained(tmp_path: Path) -> None:
    ds = pydicom.dcmread(sorted(CT_DICOM.iterdir())[0])
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder at all
    path = tmp_path / "mpeg2.dcm"
    ds.save_as(path)
    with pytest.raises(ImagingError, match=r"mpeg2\.dcm: pixel data in transfer syntax MPEG2"):
        read_image(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an image at all", "not an image netlm reads"),
        (None, "without an image"),  # a DICOM file cut off in its header
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "broken.dcm"
    if content is None:
        content = sorted(CT_DICOM.iterdir())[0].read_bytes()[:700]
    path.write_bytes(content)
    with pytest.raises(ImagingError, match=rf"broken\.dcm.*{message}"):
        read_image(path)
    with pytest.raises(ImagingError, match="no such file"):
        read_image(tmp_path / "absent")


# =========================================================================== synthetic PET/NM
def _pet_series(folder: Path, *, timezone_offset: str | None) -> list[np.ndarray]:
    folder.mkdir()
    series, frame = generate_uid(), generate_uid()
    slopes = [0.5, 1.5, 2.0]
    stored = []
    for k in (2, 0, 1):  # written out of order
        ds = Dataset()
        ds.Modality = "PT"
        ds.SeriesInstanceUID = series
        ds.FrameOfReferenceUID = frame
        ds.ImagePositionPatient = [-10.0, -20.0, 30.0 + 3.27 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [2.0, 3.0]
        ds.RescaleSlope = slopes[k]
        ds.RescaleIntercept = 0
        ds.Units = "BQML"
        ds.DecayCorrection = "START"
        ds.SeriesDate = "20260301"
        ds.SeriesTime = "101500"
        ds.AcquisitionDate = "20260301"
        ds.AcquisitionTime = "102000"
        if timezone_offset:
            ds.TimezoneOffsetFromUTC = timezone_offset
        info = Dataset()
        info.Radiopharmaceutical = "Y-90 microspheres"
        info.RadionuclideHalfLife = 230760  # 64.1 h
        info.RadionuclideTotalDose = 1.4e9
        info.RadiopharmaceuticalStartDateTime = "20260228120000"
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "C-163A8", "SRT", "^90^Y"
        info.RadionuclideCodeSequence = [code]
        ds.RadiopharmaceuticalInformationSequence = [info]
        pixels = np.arange(20, dtype=np.uint16).reshape(4, 5) + 100 * k
        _pixels(ds, pixels)
        _save(ds, folder / f"slice{k}.dcm", PET_SPECT_STORAGE["PT"])
        stored.append((k, pixels * slopes[k]))
    return [values for _, values in sorted(stored, key=lambda item: item[0])]


def test_pet_series_in_bq_per_ml_with_its_reference_time(tmp_path: Path) -> None:
    expected = _pet_series(tmp_path / "pet", timezone_offset="+0100")
    volume = read_image(tmp_path / "pet")
    assert volume.unit == "Bq/mL"
    assert volume.shape_ijk == (5, 4, 3)
    assert volume.spacing_mm == pytest.approx((3.0, 2.0, 3.27))
    assert volume.origin_mm == pytest.approx((-10.0, -20.0, 30.0))
    assert np.allclose(volume.array, np.stack(expected))  # per-slice Rescale Slope
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert volume.reference_time == dt.datetime(2026, 3, 1, 10, 15, tzinfo=plus_one)
    assert volume.metadata["decay_correction"] == "START"
    assert volume.metadata["radionuclide_half_life_s"] == pytest.approx(230760)
    assert volume.metadata["injected_activity_bq"] == pytest.approx(1.4e9)
    assert volume.metadata["radionuclide"] == "^90^Y"
    # The half-life from the file serves decay correction.
    later = decay_correct(volume, volume.reference_time + dt.timedelta(hours=64.1))
    assert np.allclose(later.array, volume.array / 2)


def test_pet_times_without_a_zone(tmp_path: Path) -> None:
    _pet_series(tmp_path / "pet", timezone_offset=None)
    naive = read_image(tmp_path / "pet")
    assert naive.reference_time is None
    assert naive.metadata["reference_time_local"] == "2026-03-01T10:15:00"
    with pytest.raises(ImagingError, match="timezone="):
        decay_correct(naive, dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    zurich = read_image(tmp_path / "pet", timezone=ZoneInfo("Europe/Zurich"))
    assert zurich.reference_time == dt.datetime(2026, 3, 1, 9, 15, tzinfo=dt.UTC)


def _nm(path: Path, image_type: str) -> np.ndarray:
    ds = Dataset()
    ds.Modality = "NM"
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY", image_type, "EMISSION"]
    ds.NumberOfFrames = 6
    ds.FrameIncrementPointer = pydicom.tag.Tag("SliceVector")
    ds.SliceVector = list(range(1, 7))
    ds.NumberOfSlices = 6
    ds.PixelSpacing = [4.4, 4.4]
    ds.SpacingBetweenSlices = 4.4
    detector = Dataset()
    detector.ImagePositionPatient = [-10.0, -20.0, 30.0]
    detector.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.DetectorInformationSequence = [detector]
    stored = np.arange(6 * 4 * 5, dtype=np.uint16).reshape(6, 4, 5)
    _pixels(ds, stored)
    _save(ds, path, PET_SPECT_STORAGE["NM"])
    return stored


def test_nm_multiframe_spect(tmp_path: Path) -> None:
    stored = _nm(tmp_path / "spect.dcm", "RECON TOMO")
    volume = read_image(tmp_path / "spect.dcm")
    assert volume.unit == "counts"
    assert volume.shape_ijk == (5, 4, 6)
    assert volume.spacing_mm == pytest.approx((4.4, 4.4, 4.4))
    assert volume.origin_mm == pytest.approx((-10.0, -20.0, 30.0))
    assert np.array_equal(volume.array, stored)
    counts = to_bq_per_ml(volume, calibration_bq_per_count=2.0)
    assert float(counts.array[0, 0, 1]) == pytest.approx(2.0 / (4.4**3 / 1000))


def test_nm_projections_are_not_a_volume(tmp_path: Path) -> None:
    _nm(tmp_path / "tomo.dcm", "TOMO")
    with pytest.raises(ImagingError, match=r"tomo\.dcm: NM image of type 'TOMO'"):
        read_image(tmp_path / "tomo.dcm")


# =========================================================================== DICOM SEG
def test_dicom_seg_reads_back_the_mask(ct_series: Path, tmp_path: Path) -> None:
    sources = sorted(
        (pydicom.dcmread(file) for file in ct_series.iterdir()),
        key=lambda ds: float(ds.ImagePositionPatient[2]),
    )
    box = np.zeros((20, 512, 512), dtype=bool)
    box[5:12, 200:260, 150:300] = True
    spot = np.zeros_like(box)
    spot[8:10, 300:320, 300:330] = True
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=hd.sr.CodedConcept("91723000", "SCT", "Structure"),
            segmented_property_type=hd.sr.CodedConcept("10200004", "SCT", "Liver"),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, label in ((1, "box"), (2, "spot"))
    ]
    segmentation = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.stack([box, spot], axis=-1).astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="netlm tests",
        manufacturer_model_name="netlm",
        software_versions="0",
        device_serial_number="0",
    )
    path = tmp_path / "seg.dcm"
    segmentation.save_as(path)
    ct = read_image(ct_series)
    masks = read_masks(path, ct)
    assert set(masks) == {"box", "spot"}
    assert np.array_equal(masks["box"].array, box)
    assert np.array_equal(masks["spot"].array, spot)
    assert masks["box"].frame_of_reference_uid == ct.frame_of_reference_uid
    # On its own grid (empty frames left out) it holds the same voxels.
    native = read_masks(path)["box"]
    assert int(native.array.sum()) == int(box.sum())
    elsewhere = dataclasses.replace(ct, frame_of_reference_uid=generate_uid())
    with pytest.raises(GeometryError, match="frame of reference"):
        read_masks(path, elsewhere)


# =========================================================================== RTSTRUCT
def _square(x: tuple[float, float], y: tuple[float, float], z: float) -> list[float]:
    corners = [(x[0], y[0]), (x[1], y[0]), (x[1], y[1]), (x[0], y[1])]
    return [value for cx, cy in corners for value in (cx, cy, z)]


def _rtstruct(path: Path, frame: str, rois: dict[str, list[list[float]]]) -> Path:
    ds = Dataset()
    ds.Modality = "RTSTRUCT"
    ds.PatientID = "NETLM-TEST"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StructureSetLabel = "test"
    reference = Dataset()
    reference.FrameOfReferenceUID = frame
    ds.ReferencedFrameOfReferenceSequence = [reference]
    ds.StructureSetROISequence = []
    ds.ROIContourSequence = []
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = frame
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "MANUAL"
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ROIDisplayColor = [255, 0, 0]
        item.ContourSequence = []
        for points in contours:
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points) // 3
            contour.ContourData = points
            item.ContourSequence.append(contour)
        ds.ROIContourSequence.append(item)
    return _save(ds, path, PET_SPECT_STORAGE["RTSTRUCT"])


def test_rtstruct_square_is_filled_with_its_area(ct: ImageVolume, tmp_path: Path) -> None:
    z = [ct.origin_mm[2] + k * ct.spacing_mm[2] for k in (4, 5, 6)]
    frame = ct.frame_of_reference_uid or ""
    square = [_square((-50, 50), (-300, -200), zk) for zk in z]
    hole = _square((-20, 20), (-270, -230), z[1])
    path = _rtstruct(tmp_path / "rs.dcm", frame, {"square": square, "ring": [square[1], hole]})
    masks = read_masks(path, ct)
    pixel_mm2 = ct.spacing_mm[0] * ct.spacing_mm[1]
    row = 100 / ct.spacing_mm[0]  # voxels in one row of the square
    mask = masks["square"].array
    assert mask.shape == ct.array.shape
    assert [k for k in range(20) if mask[k].any()] == [4, 5, 6]
    for k in (4, 5, 6):
        assert abs(int(mask[k].sum()) - 100 * 100 / pixel_mm2) <= row + 1
    ring = masks["ring"].array
    assert abs(int(ring.sum()) - (100 * 100 - 40 * 40) / pixel_mm2) <= 2 * row + 1


def test_rtstruct_outside_the_image(ct: ImageVolume, tmp_path: Path) -> None:
    frame = ct.frame_of_reference_uid or ""
    z = ct.origin_mm[2] + 3 * ct.spacing_mm[2]
    partial = _rtstruct(tmp_path / "p.dcm", frame, {"edge": [_square((200, 300), (-300, -200), z)]})
    with pytest.warns(ImagingWarning, match=r"ROI 'edge'.*lie outside"):
        masks = read_masks(partial, ct)
    assert masks["edge"].array.sum() > 0
    with pytest.raises(GeometryError, match="lie outside"):
        read_masks(partial, ct, outside="raise")
    away = _rtstruct(tmp_path / "a.dcm", frame, {"away": [_square((400, 500), (-300, -200), z)]})
    with pytest.raises(GeometryError, match="wholly outside"):
        read_masks(away, ct)


def test_rtstruct_needs_the_reference_and_its_frame(ct: ImageVolume, tmp_path: Path) -> None:
    z = ct.origin_mm[2]
    other = _rtstruct(tmp_path / "o.dcm", generate_uid(), {"s": [_square((0, 10), (0, 10), z)]})
    with pytest.raises(GeometryError, match="frame of reference"):
        read_masks(other, ct)
    with pytest.raises(ImagingError, match="reference="):
        read_masks(other)


# =========================================================================== resampling
def test_resample_refuses_grids_that_do_not_meet(pet: ImageVolume) -> None:
    far = dataclasses.replace(pet, origin_mm=(5000.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="do not overlap"):
        resample_to(far, pet, kind="linear")
    with pytest.raises(ImagingError, match="Argument 'kind'"):
        resample_to(pet, pet, kind="cubic")  # type: ignore[arg-type]


def test_linear_resampling_keeps_a_constant_concentration() -> None:
    coarse = ImageVolume(np.full((10, 10, 10), 7.0), (4.0, 4.0, 4.0), unit="Bq/mL")
    fine = ImageVolume(np.zeros((20, 20, 20)), (1.0, 1.0, 1.0), origin_mm=(5.0, 5.0, 5.0))
    out = resample_to(coarse, fine, kind="linear")
    assert out.same_grid(fine) and out.unit == "Bq/mL"
    assert np.allclose(out.array, 7.0)


# =========================================================================== activity
@pytest.mark.parametrize(
    ("unit", "factor"),
    [("Bq/mL", 1.0), ("BQML", 1.0), ("kBq/mL", 1e3), ("MBq/mL", 1e6), ("Bq", 1 / 0.008)],
)
def test_to_bq_per_ml_units(unit: str, factor: float) -> None:
    volume = ImageVolume(np.full((2, 2, 2), 3.0), (2.0, 2.0, 2.0), unit=unit)
    assert np.allclose(to_bq_per_ml(volume).array, 3.0 * factor)


@pytest.mark.parametrize(
    ("unit", "calibration", "message"),
    [
        ("counts", None, "calibration_bq_per_count"),
        ("counts", -1.0, "positive"),
        ("Bq/mL", 2.0, "applies to counts"),
        ("HU", None, "not an activity unit"),
    ],
)
def test_to_bq_per_ml_refuses(unit: str, calibration: float | None, message: str) -> None:
    volume = ImageVolume(np.ones((1, 1, 1)), (1.0, 1.0, 1.0), unit=unit)
    with pytest.raises(UnitError, match=message):
        to_bq_per_ml(volume, calibration_bq_per_count=calibration)


def test_decay_correct_round_trip_and_naive_times() -> None:
    t0 = dt.datetime(2026, 3, 28, 12, tzinfo=ZoneInfo("Europe/Zurich"))
    volume = ImageVolume(
        np.full((1, 1, 1), 100.0), (1.0, 1.0, 1.0), unit="Bq/mL", reference_time=t0
    )
    later = decay_correct(volume, t0 + dt.timedelta(hours=30), half_life_h=64.1)
    back = decay_correct(later, t0, half_life_h=64.1)
    # Zurich moves its clocks on 29 March: 30 wall-clock hours are 29 elapsed hours.
    assert float(later.array[0, 0, 0]) == pytest.approx(100 * 2 ** (-29 / 64.1))
    assert float(back.array[0, 0, 0]) == pytest.approx(100.0)
    with pytest.raises(ImagingError, match=r"Argument 'to_time'.*no time zone"):
        decay_correct(volume, dt.datetime(2026, 3, 30), half_life_h=64.1)
    with pytest.raises(ImagingError, match="half_life_h"):
        decay_correct(volume, t0)
    naive = dataclasses.replace(volume, reference_time=dt.datetime(2026, 3, 28))
    with pytest.raises(ImagingError, match=r"volume\.reference_time"):
        decay_correct(naive, t0, half_life_h=64.1)
    with pytest.raises(UnitError, match="activity"):
        decay_correct(dataclasses.replace(volume, unit="HU"), t0, half_life_h=64.1)


def _masks_one_by_one(path: Path, reference: ImageVolume) -> dict[str, ImageVolume]:
    """The per-segment path: every mask resampled on its own (the old read_masks)."""
    from netlm.imaging.masks import _fit

    return {
        name: _fit(mask, reference, f"{path}: segment {name!r}", "warn")
        for name, mask in read_masks(path).items()
    }


@pytest.mark.parametrize(
    ("image", "segmentation"),
    [
        ("patient_1_Y90_PET.nrrd", "patient_1_Segmentation.seg.nrrd"),
        ("patient_2_SPECT.nrrd", "patient_2_Segmentation.seg.nrrd"),
    ],
)
def test_layers_resampled_once_give_the_masks_of_each_segment_alone(
    image: str, segmentation: str
) -> None:
    reference = read_image(Y90 / image, unit="Bq/mL")
    fast = read_masks(Y90 / segmentation, reference=reference)
    slow = _masks_one_by_one(Y90 / segmentation, reference)
    assert list(fast) == list(slow)
    for name, mask in fast.items():
        assert mask.same_grid(reference)
        assert mask.array.dtype == np.bool_
        assert np.array_equal(mask.array, slow[name].array), name
        assert mask.array.any(), name
        assert mask.metadata == slow[name].metadata


def test_layer_resampling_reports_each_segment_partly_outside(tmp_path: Path) -> None:
    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[2:4, 2:4, 2:4] = 1  # inside the reference
    labels[6:9, 6:9, 6:9] = 2  # its upper corner beyond the reference
    image = sitk.GetImageFromArray(labels)
    path = tmp_path / "labels.nrrd"
    sitk.WriteImage(image, str(path))
    reference = ImageVolume(
        array=np.zeros((8, 8, 8)), spacing_mm=(1.0, 1.0, 1.0), origin_mm=(0.5, 0.5, 0.5)
    )
    with pytest.warns(ImagingWarning, match=r"segment '2'") as caught:
        fast = read_masks(path, reference=reference)
    assert not any("segment '1'" in str(w.message) for w in caught)
    with pytest.warns(ImagingWarning, match=r"segment '2'"):
        slow = _masks_one_by_one(path, reference)
    for name in ("1", "2"):
        assert np.array_equal(fast[name].array, slow[name].array)
    with pytest.raises(GeometryError, match="segment '2'"):
        read_masks(path, reference=reference, outside="raise")
