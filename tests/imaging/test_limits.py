"""Image limits checked from the header before reading; truncated files refused (issue #12)."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from pydicom.dataset import Dataset

from netlm.imaging.io import ImagingError, read_image, read_masks
from netlm.imaging.limits import (
    DEFAULT_IMAGE_LIMITS,
    ImageLimitError,
    ImageLimits,
    check_image_file,
    dicom_problem,
    image_limits,
    itk_file_problem,
)


def write(path: Path, array: np.ndarray) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((2.0, 2.0, 2.0))
    sitk.WriteImage(image, str(path))
    return path


def random_volume(shape: tuple[int, int, int] = (20, 24, 28)) -> np.ndarray:
    return np.random.default_rng(7).random(shape, dtype=np.float32)


def test_a_whole_nifti_is_read(tmp_path: Path) -> None:
    array = random_volume()
    volume = read_image(write(tmp_path / "pet.nii.gz", array), unit="Bq/mL")
    assert np.array_equal(volume.array, array)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_a_truncated_nii_gz_is_refused_not_filled_with_zeros(tmp_path: Path, keep: float) -> None:
    whole = write(tmp_path / "whole.nii.gz", random_volume()).read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole[: int(len(whole) * keep)])
    with pytest.raises(ImagingError, match=r"cut\.nii\.gz: is truncated"):
        read_image(cut, unit="Bq/mL")


def test_a_truncated_uncompressed_nii_is_refused(tmp_path: Path) -> None:
    whole = write(tmp_path / "whole.nii", random_volume()).read_bytes()
    cut = tmp_path / "cut.nii"
    cut.write_bytes(whole[:-100])
    with pytest.raises(ImagingError, match="is truncated: 53760 bytes of pixel data expected"):
        read_image(cut, unit="Bq/mL")


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    """A tiny .nii.gz whose header claims 2048**3 float voxels is never decompressed."""
    header = nib.Nifti1Header()
    header.set_data_shape((2048, 2048, 2048))
    header.set_data_dtype(np.float32)
    header["vox_offset"] = 352
    raw = header.binaryblock + b"\0" * 4 + b"\0" * 1024**2
    bomb = tmp_path / "bomb.nii.gz"
    bomb.write_bytes(gzip.compress(raw))
    assert bomb.stat().st_size < 10_000
    with pytest.raises(ImagingError, match="declares 8589934592 voxels"):
        read_image(bomb, unit="Bq/mL")


@pytest.mark.parametrize(("max_voxels", "ok"), [(20 * 24 * 28, True), (20 * 24 * 28 - 1, False)])
def test_the_voxel_limit_boundary(tmp_path: Path, max_voxels: int, ok: bool) -> None:
    path = write(tmp_path / "ct.nii.gz", random_volume())
    with image_limits(ImageLimits(max_voxels=max_voxels)):
        if ok:
            assert read_image(path, unit="HU").array.size == max_voxels
        else:
            with pytest.raises(ImagingError, match=f"at most {max_voxels}"):
                read_image(path, unit="HU")
    assert itk_file_problem(path) is None  # the defaults are back after the block


@pytest.mark.parametrize(("max_bytes", "ok"), [(53760, True), (53759, False)])
def test_the_byte_limit_boundary(tmp_path: Path, max_bytes: int, ok: bool) -> None:
    path = write(tmp_path / "ct.nrrd", random_volume())  # 13440 float32 voxels = 53760 bytes
    problem = itk_file_problem(path, ImageLimits(max_bytes=max_bytes))
    assert (problem is None) is ok
    if not ok:
        assert problem == "its header declares 53760 bytes of pixel data; netlm reads at most 53759"


@pytest.mark.parametrize(("labels", "ok"), [(255, True), (256, False)])
def test_the_label_count_limit(tmp_path: Path, labels: int, ok: bool) -> None:
    array = (np.arange(16 * 16 * 16, dtype=np.int16) % (labels + 1)).reshape(16, 16, 16)
    path = write(tmp_path / "labels.nii.gz", array)
    assert DEFAULT_IMAGE_LIMITS.max_labels == 255
    if ok:
        assert len(read_masks(path)) == labels
    else:
        with pytest.raises(ImagingError, match="holds 256 labels; netlm reads at most 255"):
            read_masks(path)


def test_a_dicom_series_is_sized_from_its_headers() -> None:
    header = Dataset()
    header.Rows, header.Columns, header.NumberOfFrames, header.BitsAllocated = 512, 512, 2049, 16
    assert dicom_problem([header]) == (
        "the series declares 537133056 voxels; netlm reads at most 536870912"
    )
    header.NumberOfFrames = 2048
    assert dicom_problem([header]) is None
    slices = []
    for _ in range(3):
        one = Dataset()
        one.Rows, one.Columns, one.BitsAllocated = 100, 100, 16
        slices.append(one)
    assert dicom_problem(slices, ImageLimits(max_voxels=29_999)) is not None
    assert dicom_problem(slices, ImageLimits(max_voxels=30_000)) is None


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="Argument 'max_labels' must be a positive integer"):
        ImageLimits(max_labels=0)


# --------------------------------------------------------------------------- uploads
def _dicom(path: Path, modality: str, sequence: str, items: int) -> Path:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = generate_uid()
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.Modality = modality
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    setattr(ds, sequence, [Dataset() for _ in range(items)])
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(("items", "ok"), [(3, True), (4, False)])
@pytest.mark.parametrize(
    ("modality", "sequence"), [("SEG", "SegmentSequence"), ("RTSTRUCT", "StructureSetROISequence")]
)
def test_uploaded_dicom_label_maps_count_segments_and_rois_from_the_header(
    tmp_path: Path, modality: str, sequence: str, items: int, ok: bool
) -> None:
    path = _dicom(tmp_path / "labels.dcm", modality, sequence, items)
    limits = ImageLimits(max_labels=3)
    check_image_file(path, limits)  # not a label map: labels are not counted
    if ok:
        check_image_file(path, limits, label_map=True)
        return
    with pytest.raises(ImageLimitError, match=r"holds 4 labels.*--max-labels") as caught:
        check_image_file(path, limits, label_map=True)
    assert caught.value.limit == "max_labels" and caught.value.fields == ["file"]


def test_uploads_name_the_limit_and_leave_other_files_alone(tmp_path: Path) -> None:
    image = write(tmp_path / "ct.nii.gz", np.zeros((8, 8, 8), np.int16))  # 512 voxels, 1024 B
    check_image_file(image, ImageLimits(max_voxels=512, max_bytes=1024))
    with pytest.raises(ImageLimitError, match="max_voxels; `netlm serve --max-image-voxels`"):
        check_image_file(image, ImageLimits(max_voxels=511))
    with pytest.raises(ImageLimitError, match="max_bytes; `netlm serve --max-image-bytes`"):
        check_image_file(image, ImageLimits(max_bytes=1023))
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7 not an image")
    check_image_file(tmp_path / "report.pdf", ImageLimits(max_voxels=1))
    (tmp_path / "broken.nii").write_bytes(b"\0" * 40)
    with pytest.raises(ImageLimitError, match="no image header") as caught:
        check_image_file(tmp_path / "broken.nii")
    assert caught.value.limit is None
