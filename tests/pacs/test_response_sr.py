"""Response assessments as a TID 1500 SR: valid, read back equal, sent to a real Orthanc.

The SR of a response file must pass dciodvfy, hold every lesion measurement of
the file per time point (read back with highdicom, equal to the input), each
criterion's responses per time point and the best overall response equal to
:func:`netlm.response.report.assess_response`, reference the scans given (the
bundled CT, dated as the first follow-up) and be filed in their study; stored
by STOW-RS and found again by QIDO-RS.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
import pytest
import yaml
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from netlm.cli import main
from netlm.imaging.io import ImagingError
from netlm.imaging.response_sr import (
    CRITERION_CODES,
    LESION_MEASUREMENTS,
    read_evidence,
    response_code,
    write_response_sr,
)
from netlm.pacs import PacsConfig, find_series, find_studies, pull_series
from netlm.response.io import response_from_mapping
from netlm.response.model import ResponseFile
from netlm.response.report import assess_response

from .series import CT_DICOM, DCIODVFY, dciodvfy_errors

PATIENT = "NETLM-RESP-1"
#: The date of the scans given as evidence: the first follow-up.
CT_DATE = dt.date(2026, 4, 2)

DOCUMENT: dict[str, Any] = {
    "schema": "netlm/response/v1",
    "case": PATIENT,
    "reference_date": "2026-01-10",
    "criteria": ["recist1.1", "mrecist", "who", "percist1.0"],
    "timepoints": [
        {
            "date": "2026-01-05",
            "lesions": [
                {
                    "id": "T1",
                    "organ": "liver",
                    "role": "target",
                    "longest_mm": 58,
                    "perpendicular_mm": 44,
                    "viable_mm": 52,
                    "mean_hu": 92,
                    "sul_peak": 9.4,
                },
                {"id": "T2", "organ": "liver", "role": "target", "longest_mm": 41.5},
                {"id": "N1", "organ": "lymph_node", "role": "target", "short_axis_mm": 17},
                {"id": "NT1", "organ": "bone", "role": "non_target", "status": "present"},
            ],
        },
        {
            "date": CT_DATE.isoformat(),
            "lesions": [
                {
                    "id": "T1",
                    "longest_mm": 40,
                    "perpendicular_mm": 30,
                    "viable_mm": 20,
                    "sul_peak": 4.1,
                },
                {"id": "T2", "longest_mm": 28.3},
                {"id": "N1", "short_axis_mm": 9},
                {"id": "NT1", "status": "present"},
            ],
        },
        {
            "date": "2026-07-01",
            "lesions": [
                {"id": "T1", "longest_mm": 55, "viable_mm": 41, "sul_peak": 8.0},
                {"id": "T2", "status": "too_small_to_measure"},
                {"id": "N1", "short_axis_mm": 8},
                {"id": "NT1", "status": "present"},
                {"id": "NEW1", "organ": "liver", "role": "new", "status": "confirmed"},
            ],
        },
    ],
}


def _doc(**changes: Any) -> ResponseFile:
    return response_from_mapping({**DOCUMENT, **changes})


def _ct(folder: Path, patient: str = PATIENT) -> Path:
    """The bundled CT as a new study of ``patient`` dated :data:`CT_DATE`."""
    folder.mkdir(parents=True)
    study, series = generate_uid(), generate_uid()
    for file in sorted(CT_DICOM.iterdir()):
        ds = pydicom.dcmread(file)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientID, ds.PatientName = patient, "Response^Test"
        ds.PatientBirthDate, ds.PatientSex = "19600101", "F"
        ds.StudyDate, ds.StudyTime = CT_DATE.strftime("%Y%m%d"), "101500"
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "ACC-RESP-1", ""
        ds.save_as(folder / f"{file.name}.dcm")
    return folder


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _ct(tmp_path_factory.mktemp("response-ct") / "ct")


def _groups(sr: Any) -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], Any]]:
    """Lesion groups and criterion groups by (tracking identifier, time point id)."""
    lesions, criteria = {}, {}
    for group in sr.content.get_image_measurement_groups():
        point = _time_point_id(group)
        if group.method is None:
            lesions[(group.tracking_identifier, point)] = group
        else:
            criteria[(group.tracking_identifier, point)] = group
    return lesions, criteria


def _time_point_id(group: Any) -> str:
    for item in group[0].ContentSequence:
        if item.name.value == "126070":  # Subject Time Point Id.
            return str(item.TextValue)
    return ""


def _value(group: Any, name: Any) -> float | None:
    found = [m for m in group.get_measurements(name=name)]
    assert len(found) <= 1
    return found[0].value if found else None


def _evaluation(group: Any, name: Any) -> str | None:
    found = group.get_qualitative_evaluations(name=name)
    assert len(found) <= 1
    return str(found[0].value.value) if found else None


def _check(path: Path, doc: ResponseFile, sources: list[Dataset]) -> Any:
    """Read ``path`` back and compare it with ``doc`` and its assessment."""
    if DCIODVFY is not None:
        assert not dciodvfy_errors(path)
    sr = hd.sr.srread(path)
    report = assess_response(doc)
    lesions, criteria = _groups(sr)
    expected = {(o.id, tp.date.isoformat()) for tp in doc.timepoints for o in tp.lesions}
    assert set(lesions) == expected
    tracking = {}
    for tp in doc.timepoints:
        for o in tp.lesions:
            group = lesions[(o.id, tp.date.isoformat())]
            for key, (name, _, unit) in LESION_MEASUREMENTS.items():
                value = getattr(o, key)
                found = _value(group, name)
                assert found == (None if value is None else pytest.approx(value)), (o.id, key)
                if value is not None:
                    unit_found = group.get_measurements(name=name)[0].unit.value
                    assert unit_found == unit.value
            # One tracking UID per lesion, the same at every time point.
            assert tracking.setdefault(o.id, group.tracking_uid) == group.tracking_uid
            dated = tp.date == CT_DATE
            referenced = {s.referenced_sop_instance_uid for s in group.source_images}
            assert referenced == ({str(s.SOPInstanceUID) for s in sources} if dated else set())
    assert len(set(tracking.values())) == len(tracking)
    liver = lesions[("T1", "2026-01-05")].finding_sites[0].value
    assert (liver.value, liver.scheme_designator) == ("10200004", "SCT")
    baseline = _evaluation(lesions[("NT1", "2026-01-05")], codes.DCM.BaselineCategory)
    assert baseline == codes.DCM.NonTargetLesionAtBaseline.value
    for result in report.results:
        for point in result.timepoints:
            group = criteria[(f"{result.label} response", point.date.isoformat())]
            method = group.method
            assert method.value == CRITERION_CODES[result.criterion].value
            overall = _evaluation(group, codes.DCM.CurrentResponse)
            assert overall == response_code(point.overall.value).value
            if point.measure is not None:
                measures = [
                    m for m in group.get_measurements() if m.name.value.startswith("measure-")
                ]
                assert measures[0].value == pytest.approx(float(point.measure))
        best = criteria[(f"{result.label} best overall response", "")]
        found = _evaluation(best, codes.DCM.BestOverallResponse)
        assert found == response_code(result.best_overall.response.value).value
    return sr


def test_response_sr_holds_the_measurements_and_responses(ct: Path, tmp_path: Path) -> None:
    doc = _doc()
    sources = read_evidence([ct])
    path = write_response_sr(doc, tmp_path / "response.dcm", evidence=sources)
    sr = _check(path, doc, sources)
    # Filed in the scans' study; every scan listed as evidence.
    assert sr.StudyInstanceUID == sources[0].StudyInstanceUID and sr.PatientID == PATIENT
    evidence = {
        item.ReferencedSOPInstanceUID
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for item in series.ReferencedSOPSequence
    }
    assert evidence == {str(s.SOPInstanceUID) for s in sources}
    # Known answers of the file: RECIST 1.1 sum at the first follow-up 40 + 28.3 + 9 mm,
    # PR (-32.3 % from 113.5 mm); PD at the last (new lesion); best overall response PR.
    recist = assess_response(doc).result("recist1.1")
    assert float(recist.timepoints[1].measure or 0) == pytest.approx(77.3)
    assert [p.overall.value for p in recist.timepoints[1:]] == ["PR", "PD"]
    assert recist.best_overall.response.value == "PR"
    _, criteria = _groups(sr)
    group = criteria[("RECIST 1.1 response", CT_DATE.isoformat())]
    assert _evaluation(group, codes.DCM.CurrentResponse) == "PR"
    assert _evaluation(group, LESION_MEASUREMENTS["longest_mm"][0]) is None
    comment = [i.TextValue for i in sr.ContentSequence if i.name.value == codes.DCM.Comment.value]
    assert "2026-01-05, 2026-07-01" in comment[0]


def test_response_sr_without_images_makes_a_study_for_the_case(tmp_path: Path) -> None:
    doc = _doc()
    sr = _check(write_response_sr(doc, tmp_path / "r.dcm"), doc, [])
    assert sr.PatientID == PATIENT
    assert "CurrentRequestedProcedureEvidenceSequence" not in sr
    assert "PertinentOtherEvidenceSequence" not in sr
    with pytest.raises(ImagingError, match="names no patient"):
        write_response_sr(_doc(case=None), tmp_path / "x.dcm")


def test_response_sr_is_filed_in_a_study_given(tmp_path: Path) -> None:
    # As a QIDO-RS study result: patient and study attributes, no instance.
    study = Dataset()
    study.PatientID, study.PatientName = PATIENT, "Response^Test"
    study.PatientBirthDate, study.PatientSex = "19600101", "F"
    study.StudyInstanceUID, study.StudyID = generate_uid(), "7"
    study.StudyDate, study.StudyTime, study.AccessionNumber = "20260701", "090000", "ACC-7"
    study.ReferringPhysicianName = ""
    doc = _doc()
    sr = _check(write_response_sr(doc, tmp_path / "r.dcm", study=study), doc, [])
    assert (sr.StudyInstanceUID, sr.AccessionNumber) == (study.StudyInstanceUID, "ACC-7")
    assert "CurrentRequestedProcedureEvidenceSequence" not in sr


def test_response_sr_refuses_images_of_another_patient(tmp_path: Path) -> None:
    other = read_evidence([_ct(tmp_path / "other", patient="SOMEONE-ELSE")])
    with pytest.raises(ImagingError, match="SOMEONE-ELSE"):
        write_response_sr(_doc(), tmp_path / "x.dcm", evidence=other)


def test_cli_writes_the_sr_and_pacs_push_stores_it(
    orthanc: str, ct: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = tmp_path / "response.yaml"
    response.write_text(yaml.safe_dump(DOCUMENT, sort_keys=False))
    out = tmp_path / "response-sr.dcm"
    args = ["response", str(response), "--sr", str(out), "--sr-images", str(ct), "-f", "json"]
    assert main(args) == 0
    capsys.readouterr()
    url = f"{orthanc}/dicom-web"
    assert main(["pacs", "push", "--url", url, str(ct), str(out)]) == 0
    config = PacsConfig(url=url)
    studies = find_studies(config, patient_id=PATIENT)
    study = pydicom.dcmread(out, stop_before_pixels=True).StudyInstanceUID
    assert [s.study_uid for s in studies] == [study]
    series = {s.modality: s for s in find_series(config, study)}
    assert set(series) == {"CT", "SR"}
    files = pull_series(config, study, series["SR"].series_uid, tmp_path / "back")
    assert len(files) == 1
    _check(files[0], _doc(), read_evidence([ct]))


def test_cli_refuses_sr_images_without_sr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = tmp_path / "response.yaml"
    response.write_text(json.dumps(DOCUMENT))
    capsys.readouterr()
    assert main(["response", str(response), "--sr-images", str(tmp_path)]) == 2
    assert "--sr-images needs --sr" in capsys.readouterr().err
