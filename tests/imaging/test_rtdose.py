"""netlm.imaging.rtdose: RT Dose files that dciodvfy accepts and that read back exactly.

dicom3tools' dciodvfy (2022 builds, as in Debian bookworm) aborts on any Pixel
Data of 32 bits (``Assertion `bitsallocated <= bytesinword*8u' failed`` while
it reads the file, before any check).  A 32-bit file is therefore checked
twice: dciodvfy on the file itself must print no error, and may abort on that
assertion only; then dciodvfy on the same object with 16-bit pixel data (all
other attributes unchanged), which it reads to the end, must print no error.
Where a later dciodvfy reads 32-bit data, the first run is the whole check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from pydicom.uid import generate_uid

from conftest import SHARED
from netlm.errors import GeometryError, UnitError
from netlm.imaging.io import ImagingError, read_image
from netlm.imaging.rtdose import RT_DOSE_STORAGE, write_rt_dose
from netlm.volume import ImageVolume

DATA = SHARED / "data"
CT_DICOM = DATA / "abdomen-ct" / "ct-dicom"
DCIODVFY = shutil.which("dciodvfy")
KNOWN_ABORT = "bitsallocated <= bytesinword*8u"
WHEN = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CT series with patient, study and series UIDs filled in."""
    folder = tmp_path_factory.mktemp("ct")
    study, series = generate_uid(), generate_uid()
    for file in sorted(CT_DICOM.iterdir()):
        ds = pydicom.dcmread(file)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.PatientID = "NETLM-TEST"
        ds.PatientName = "Test^Netlm"
        ds.save_as(folder / f"{file.name}.dcm")
    return folder


@pytest.fixture(scope="module")
def ct(ct_series: Path) -> ImageVolume:
    return read_image(ct_series)


def _dose_on(grid: ImageVolume, seed: int = 0) -> ImageVolume:
    """A smooth dose with a hot spot, 0 to about 250 Gy, on ``grid``."""
    nk, nj, ni = grid.array.shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    centre = np.array([nk / 2, nj / 2, ni / 3])
    r2 = ((k - centre[0]) / max(nk / 3, 1)) ** 2 + ((j - centre[1]) / (nj / 5)) ** 2
    r2 = r2 + ((i - centre[2]) / (ni / 5)) ** 2
    noise = np.random.default_rng(seed).random(grid.array.shape)
    return grid.with_array(250.0 * np.exp(-r2) + noise, unit="Gy")


def _dciodvfy(path: Path) -> tuple[int, str]:
    assert DCIODVFY is not None
    done = subprocess.run(
        [DCIODVFY, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout + done.stderr


def _errors(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("Error")]


#: Attributes of the Plan Overview (Dose Summation Type PLAN_OVERVIEW, PS3.3
#: C.8.8.3), newer than the 2022 dciodvfy, which warns that it does not know them.
_PLAN_OVERVIEW_TAGS = (
    "(0x0008,0x1150)",
    "(0x0008,0x1155)",
    "(0x0008,0x1140)",
    "(0x3008,0x0022)",
    "(0x300a,0x0002)",
    "(0x300c,0x0114)",
    "(0x300c,0x0116)",
    "(0x300c,0x0117)",
    "(0x300c,0x0119)",
    "(0x3010,0x0077)",
    "(0x3010,0x0078)",
)


def _expected_warning(line: str) -> bool:
    """A DICOMDIR warning, or one about the Plan Overview that this dciodvfy predates."""
    return (
        "DICOMDIR" in line
        or "Unrecognized defined term <PLAN_OVERVIEW>" in line
        or (
            "not present in standard DICOM IOD" in line
            and any(f"- {tag} " in line for tag in _PLAN_OVERVIEW_TAGS)
        )
        or "this is a Standard Extended SOP Class" in line
    )


def _assert_valid(path: Path, tmp_path: Path) -> list[str]:
    """dciodvfy finds no error in ``path``; returns its warnings."""
    if DCIODVFY is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    rc, report = _dciodvfy(path)
    assert not _errors(report), report
    warnings_found = [line for line in report.splitlines() if line.startswith("Warning")]
    if rc != 0:
        assert KNOWN_ABORT in report, report
        # Check the same object with 16-bit pixel data, which dciodvfy reads to the end.
        ds = pydicom.dcmread(path)
        assert ds.BitsAllocated == 32
        stored = ds.pixel_array
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelData = (stored >> 16).astype("<u2").tobytes()
        twin = tmp_path / f"{path.stem}-16bit.dcm"
        ds.save_as(twin)
        rc, report = _dciodvfy(twin)
        assert rc == 0 and not _errors(report), report
        warnings_found = [line for line in report.splitlines() if line.startswith("Warning")]
    return warnings_found


def _geometry_from_pydicom(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    row, column = np.array(ds.ImageOrientationPatient[:3]), np.array(ds.ImageOrientationPatient[3:])
    normal = np.cross(row, column)
    offsets = np.array(ds.GridFrameOffsetVector, dtype=float)
    spacing = np.array([ds.PixelSpacing[1], ds.PixelSpacing[0], offsets[1] - offsets[0]])
    direction = np.column_stack([row, column, normal])
    return np.array(ds.ImagePositionPatient, dtype=float), spacing, direction


def _assert_reads_back(dose: ImageVolume, path: Path) -> pydicom.Dataset:
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == RT_DOSE_STORAGE
    assert (ds.Modality, ds.DoseUnits, ds.DoseType, ds.DoseSummationType) == (
        "RTDOSE",
        "GY",
        "PHYSICAL",
        "PLAN_OVERVIEW",
    )
    # No RT Plan object exists, so none is referenced (issue #11).
    assert "ReferencedRTPlanSequence" not in ds
    assert ds.PlanOverviewSequence[0].PlanOverviewIndex == 1
    assert (ds.BitsAllocated, ds.PixelRepresentation) == (32, 0)
    scaling = float(ds.DoseGridScaling)
    # pydicom: geometry from the header, values as stored × Dose Grid Scaling.
    origin, spacing, direction = _geometry_from_pydicom(ds)
    assert origin == pytest.approx(dose.origin_mm, abs=1e-3)
    assert spacing == pytest.approx(dose.spacing_mm, abs=1e-3)
    assert direction.ravel() == pytest.approx(dose.direction, abs=1e-6)
    assert ds.SliceThickness == pytest.approx(dose.spacing_mm[2], abs=1e-3)
    values = ds.pixel_array.astype(float) * scaling
    assert np.max(np.abs(values - dose.array)) <= scaling / 2 + 1e-9 * dose.array.max()
    # SimpleITK (GDCM): the same grid; it returns stored values without the scaling.
    image = sitk.ReadImage(str(path))
    assert image.GetOrigin() == pytest.approx(dose.origin_mm, abs=1e-3)
    assert image.GetSpacing() == pytest.approx(dose.spacing_mm, abs=1e-3)
    assert image.GetDirection() == pytest.approx(dose.direction, abs=1e-6)
    from_itk = sitk.GetArrayFromImage(image).astype(float) * scaling
    assert np.max(np.abs(from_itk - dose.array)) <= scaling / 2 + 1e-9 * dose.array.max()
    # netlm reads it back in Gy.
    again = read_image(path)
    assert again.unit == "Gy" and again.same_grid(dose)
    assert np.max(np.abs(again.array - dose.array)) <= scaling / 2 + 1e-9 * dose.array.max()
    return ds


def test_dose_on_the_ct_grid_joins_the_ct_study(
    ct: ImageVolume, ct_series: Path, tmp_path: Path
) -> None:
    dose = _dose_on(ct)
    path = write_rt_dose(dose, tmp_path / "dose.dcm", reference_dicom=ct_series, content_time=WHEN)
    warnings_found = _assert_valid(path, tmp_path)
    assert all(_expected_warning(line) for line in warnings_found), warnings_found
    ds = _assert_reads_back(dose, path)
    reference = pydicom.dcmread(next(ct_series.iterdir()), stop_before_pixels=True)
    assert ds.FrameOfReferenceUID == ct.frame_of_reference_uid
    assert ds.StudyInstanceUID == reference.StudyInstanceUID
    assert (ds.PatientID, str(ds.PatientName)) == ("NETLM-TEST", "Test^Netlm")
    assert ds.SeriesInstanceUID != reference.SeriesInstanceUID
    assert (ds.ContentDate, ds.ContentTime, ds.TimezoneOffsetFromUTC) == (
        "20260302",
        "143000",
        "+0100",
    )


def test_dose_on_an_oblique_synthetic_grid(tmp_path: Path) -> None:
    angle = np.deg2rad(20)
    rotation = np.array(
        [
            [np.cos(angle), -np.sin(angle), 0.0],
            [np.sin(angle), np.cos(angle), 0.0],
            [0.0, 0.0, 1.0],
        ]
    )
    grid = ImageVolume(
        np.zeros((12, 16, 20)),
        spacing_mm=(2.5, 3.0, 4.0),
        origin_mm=(-100.25, 50.5, -300.125),
        direction=tuple(float(v) for v in rotation.ravel()),
    )
    dose = _dose_on(grid, seed=1)
    path = write_rt_dose(
        dose,
        tmp_path / "oblique.dcm",
        patient={
            "name": "Phantom^Oblique",
            "id": "P-1",
            "sex": "O",
            "birth_date": dt.date(1970, 1, 2),
        },
        content_time=WHEN,
    )
    warnings_found = _assert_valid(path, tmp_path)
    assert all(_expected_warning(line) for line in warnings_found), warnings_found
    ds = _assert_reads_back(dose, path)
    assert (str(ds.PatientName), ds.PatientID, ds.PatientBirthDate) == (
        "Phantom^Oblique",
        "P-1",
        "19700102",
    )
    assert ds.FrameOfReferenceUID and ds.StudyInstanceUID


def test_a_left_handed_grid_is_written_in_reverse_slice_order(tmp_path: Path) -> None:
    grid = ImageVolume(
        np.zeros((6, 5, 4)),
        spacing_mm=(4.4, 4.4, 2.5),
        origin_mm=(0.0, 0.0, 100.0),
        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
    )
    dose = _dose_on(grid)
    path = write_rt_dose(dose, tmp_path / "flip.dcm", content_time=WHEN)
    again = read_image(path)
    assert again.origin_mm == pytest.approx((0.0, 0.0, 100.0 - 5 * 2.5))
    assert again.direction == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))
    scaling = float(pydicom.dcmread(path).DoseGridScaling)
    assert np.max(np.abs(again.array[::-1] - dose.array)) <= scaling


def test_sixteen_bit_dose_passes_dciodvfy_as_written(tmp_path: Path) -> None:
    if DCIODVFY is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    grid = ImageVolume(np.zeros((4, 5, 6)), spacing_mm=(2.0, 2.0, 2.0))
    dose = _dose_on(grid)
    path = write_rt_dose(dose, tmp_path / "d16.dcm", bits_allocated=16, content_time=WHEN)
    rc, report = _dciodvfy(path)
    assert rc == 0 and not _errors(report), report
    again = read_image(path)
    scaling = float(pydicom.dcmread(path).DoseGridScaling)
    assert np.max(np.abs(again.array - dose.array)) <= scaling / 2 + 1e-9


def test_reference_without_a_study_uid_is_refused(ct: ImageVolume, tmp_path: Path) -> None:
    """A dose in a study of its own would not travel with its images: refused, nothing written."""
    dose = _dose_on(ct)
    with pytest.raises(ImagingError, match="StudyInstanceUID is empty"):
        write_rt_dose(dose, tmp_path / "d.dcm", reference_dicom=CT_DICOM)
    assert not (tmp_path / "d.dcm").exists()


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"unit": "Bq/mL"}, UnitError, "'Gy'"),
        ({"array": -np.ones((2, 2, 2))}, ImagingError, "negative"),
        ({"array": np.full((2, 2, 2), np.nan)}, ImagingError, "NaN"),
        ({"frame_of_reference_uid": "1.2.3.4"}, GeometryError, "frame of reference"),
    ],
)
def test_bad_doses_are_refused(
    ct_series: Path, tmp_path: Path, change: dict[str, object], error: type, message: str
) -> None:
    dose = ImageVolume(np.ones((2, 2, 2)), (1.0, 1.0, 1.0), unit="Gy")
    dose = dataclasses.replace(dose, **change)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        write_rt_dose(dose, tmp_path / "bad.dcm", reference_dicom=ct_series)
    assert not (tmp_path / "bad.dcm").exists()


def test_rounding_noise_below_zero_is_written_as_zero(tmp_path: Path) -> None:
    values = np.array([[[100.0, -1e-9], [0.0, 50.0]]])
    dose = ImageVolume(values, (1.0, 1.0, 1.0), unit="Gy")
    again = read_image(write_rt_dose(dose, tmp_path / "d.dcm"))
    assert float(again.array.min()) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patient": {"weight": 70}}, "unknown keys"),
        ({"patient": {"sex": "X"}}, "sex"),
        ({"plan_uid": "not a uid"}, "plan_uid"),
        ({"bits_allocated": 8}, "bits_allocated"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    dose = ImageVolume(np.ones((2, 2, 2)), (1.0, 1.0, 1.0), unit="Gy")
    with pytest.raises(ImagingError, match=message):
        write_rt_dose(dose, tmp_path / "bad.dcm", **kwargs)  # type: ignore[arg-type]


def test_the_rt_dose_references_a_plan_only_when_one_is_named(tmp_path: Path) -> None:
    grid = ImageVolume(np.zeros((4, 5, 6)), spacing_mm=(2.0, 2.0, 2.0))
    dose = _dose_on(grid)
    image = ("1.2.840.10008.5.1.4.1.1.128", "1.2.826.0.1.3680043.8.498.1")
    plain = write_rt_dose(
        dose,
        tmp_path / "overview.dcm",
        bits_allocated=16,
        content_time=WHEN,
        referenced_images=[image],
        comments="activity at implant; factor 1.29",
    )
    ds = pydicom.dcmread(plain)
    assert ds.DoseSummationType == "PLAN_OVERVIEW" and "ReferencedRTPlanSequence" not in ds
    refs = ds.PlanOverviewSequence[0].ReferencedImageSequence
    assert [(r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID) for r in refs] == [image]
    assert ds.ImageComments == "activity at implant; factor 1.29"
    if DCIODVFY is not None:
        rc, report = _dciodvfy(plain)
        assert rc == 0 and not _errors(report), report
        found = [line for line in report.splitlines() if line.startswith("Warning")]
        assert all(_expected_warning(line) for line in found), found
    plan_uid = generate_uid()
    planned = write_rt_dose(
        dose, tmp_path / "plan.dcm", bits_allocated=16, content_time=WHEN, plan_uid=plan_uid
    )
    ds = pydicom.dcmread(planned)
    assert ds.DoseSummationType == "PLAN" and "PlanOverviewSequence" not in ds
    assert ds.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID == plan_uid
    if DCIODVFY is not None:
        rc, report = _dciodvfy(planned)
        assert rc == 0 and not _errors(report), report
    with pytest.raises(ImagingError, match="referenced_images"):
        write_rt_dose(dose, tmp_path / "bad.dcm", referenced_images=[("1.2", "not a uid")])
