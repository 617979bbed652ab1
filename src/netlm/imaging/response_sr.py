"""Response assessments per lesion and time point as a DICOM Structured Report (TID 1500).

:func:`write_response_sr` writes a Comprehensive SR holding a TID 1500
Imaging Measurement Report of a ``netlm/response/v1`` file and its
assessment (:func:`netlm.response.report.assess_response`):

* per **lesion and time point**, a *Measurement and Qualitative Evaluation
  Group* (TID 1501): the lesion's id as Tracking Identifier (one Tracking
  Unique Identifier per lesion, the same at every time point), the Time Point
  Context (TID 1502: the scan date as Subject Time Point Identifier,
  Baseline or Posttreatment, its order), the organ as Finding Site where
  SNOMED CT has it, and the measurements of the file (longest diameter, short
  axis, perpendicular and viable diameters in mm, mean attenuation in HU,
  SULpeak, SUVmax) with the lesion's baseline category (target / non-target,
  DCM 112074/112075; new lesions a private code) and status;
* per **criterion and time point**, a group with the criterion as
  Measurement Method (CID 6147: RECIST 1.1 DCM 126081, WHO DCM 112029;
  netlm's private codes for mRECIST, EASL, Choi, modified Choi, PERCIST 1.0),
  the criterion's measure (sum of diameters, of products, SULpeak...) and its
  change from baseline and from the nadir (%), and as qualitative
  evaluations the target response (DCM 112041-112044), the non-target
  response (DCM 112045-112047), whether new lesions were seen and the
  overall response (DCM 112048 Current Response);
* per **criterion**, a group with its **best overall response** (DCM 112049)
  and, when the file asks for confirmation, whether it was confirmed.

Response categories without a DICOM code (the overall CR/PR/SD/PD/NE,
non-CR/non-PD, NA and PERCIST's CMR/PMR/SMD/PMD) use netlm's private scheme
``99NETLM`` (:data:`netlm.imaging.seg.NETLM_SCHEME`), declared in the file.

**Image references.**  A response file carries dates and measurements, not
image UIDs.  The report references what the caller has: ``evidence``, DICOM
instances of the scans (e.g. pulled from the PACS), are listed in the
evidence sequences, and those whose Study Date is a time point's date are the
*source images* of that time point's lesion groups.  A time point without
such images is identified by its date alone (and the report says so in its
``Comment`` text item).  The report is filed in the study of the latest
follow-up's images, else in ``study`` (patient and study attributes, e.g. a
QIDO-RS result), else in a new study of the patient ``case`` of the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from netlm.imaging.errors import ImagingError
from netlm.imaging.seg import private_code as _private
from netlm.imaging.seg import save_derived
from netlm.imaging.sr import measurement_report, new_sr

if TYPE_CHECKING:
    from netlm.response.model import Observation, ResponseFile
    from netlm.response.report import ResponseReport
    from netlm.response.result import CriterionResult, TimepointResult

__all__ = [
    "COMPREHENSIVE_SR_STORAGE",
    "CRITERION_CODES",
    "LESION_MEASUREMENTS",
    "RESPONSE_CODES",
    "read_evidence",
    "response_code",
    "write_response_sr",
]


#: SOP Class UID of Comprehensive SR Storage.
COMPREHENSIVE_SR_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.88.33"

_MM: Final = Code("mm", "UCUM", "mm")
_PERCENT: Final = Code("%", "UCUM", "%")

#: Response criterion -> Measurement Method code (CID 6147 where DICOM has one).
CRITERION_CODES: Final[Mapping[str, Code]] = {
    "recist1.1": codes.DCM.RECIST1Point1,
    "who": codes.DCM.WHO,
    "mrecist": _private("mrecist", "modified RECIST (mRECIST)"),
    "easl": _private("easl", "EASL"),
    "choi": _private("choi", "Choi"),
    "mchoi": _private("mchoi", "modified Choi"),
    "percist1.0": _private("percist1.0", "PERCIST 1.0"),
}

#: The measure of each criterion (``TimepointResult.measure``): code meaning.
_MEASURE_NAMES: Final[Mapping[str, str]] = {
    "recist1.1": "RECIST 1.1 sum of diameters",
    "mrecist": "mRECIST sum of viable diameters",
    "who": "WHO sum of products of diameters",
    "easl": "EASL sum of enhancing areas",
    "choi": "Choi sum of diameters",
    "mchoi": "modified Choi sum of diameters",
    "percist1.0": "PERCIST SULpeak of the hottest lesion",
}

#: Units of the criteria's measures (``TimepointResult.unit``) in UCUM.
_UNITS: Final[Mapping[str, Code]] = {
    "mm": _MM,
    "mm²": Code("mm2", "UCUM", "mm2"),
    "HU": Code("[hnsf'U]", "UCUM", "Hounsfield unit"),
    "SUL": Code("g/ml{SUVlbm}", "UCUM", "Standardized Uptake Value lean body mass"),
}

#: Observation field -> (concept name, derivation or None, unit).
LESION_MEASUREMENTS: Final[Mapping[str, tuple[Code, Code | None, Code]]] = {
    "longest_mm": (codes.SCT.LongAxis, None, _MM),
    "short_axis_mm": (codes.SCT.ShortAxis, None, _MM),
    "perpendicular_mm": (codes.SCT.PerpendicularAxis, None, _MM),
    "viable_mm": (_private("viable-long-axis", "Longest viable (enhancing) diameter"), None, _MM),
    "viable_perpendicular_mm": (
        _private("viable-perpendicular-axis", "Viable diameter perpendicular to the longest"),
        None,
        _MM,
    ),
    "mean_hu": (codes.DCM.AttenuationCoefficient, codes.SCT.Mean, _UNITS["HU"]),
    "sul_peak": (_private("SULpeak", "SULpeak"), None, _UNITS["SUL"]),
    "suv_max": (
        _private("SUVmax", "SUVmax"),
        None,
        Code("g/ml{SUVbw}", "UCUM", "Standardized Uptake Value body weight"),
    ),
}

_TARGET_RESPONSE: Final = _private("target-response", "Target lesion response")
_NON_TARGET_RESPONSE: Final = _private("non-target-response", "Non-target lesion response")
_NEW_LESIONS: Final = _private("new-lesions", "New lesions")
_CONFIRMED: Final = _private("response-confirmed", "Best overall response confirmed")
_CATEGORY: Final = _private("criterion-category", "Response category of the criterion")
_STATUS: Final = _private("lesion-status", "Lesion status at the time point")
_CHANGE_BASELINE: Final = _private("change-from-baseline", "Change from baseline")
_CHANGE_NADIR: Final = _private("change-from-nadir", "Change from nadir")
_NEW_LESION: Final = _private("new-lesion", "New lesion")
_PROCEDURE: Final = _private("tumour-response", "Tumour response assessment")

#: Overall responses and the criteria's own categories (``Response`` values, PERCIST).
RESPONSE_CODES: Final[Mapping[str, Code]] = {
    "CR": _private("CR", "Complete response"),
    "PR": _private("PR", "Partial response"),
    "SD": _private("SD", "Stable disease"),
    "PD": _private("PD", "Progressive disease"),
    "NE": _private("NE", "Not evaluable"),
    "non-CR/non-PD": _private("non-CR/non-PD", "Non-CR/non-PD"),
    "NA": _private("NA", "Not applicable"),
    "CMR": _private("CMR", "Complete metabolic response"),
    "PMR": _private("PMR", "Partial metabolic response"),
    "SMD": _private("SMD", "Stable metabolic disease"),
    "PMD": _private("PMD", "Progressive metabolic disease"),
}

#: Target / non-target responses with a DICOM code (CID 6143/6144).
_TARGET_CODES: Final[Mapping[str, Code]] = {
    "CR": codes.DCM.TargetLesionCompleteResponse,
    "PR": codes.DCM.TargetLesionPartialResponse,
    "SD": codes.DCM.TargetLesionStableDisease,
    "PD": codes.DCM.TargetLesionProgressiveDisease,
}
_NON_TARGET_CODES: Final[Mapping[str, Code]] = {
    "CR": codes.DCM.NonTargetLesionCompleteResponse,
    "non-CR/non-PD": codes.DCM.NonTargetLesionIncompleteResponseOrStableDisease,
    "PD": codes.DCM.NonTargetLesionProgressiveDisease,
}

#: Organ names of response files -> SNOMED CT finding site.
_ORGANS: Final[Mapping[str, Code]] = {
    "liver": codes.SCT.Liver,
    "hepatic": codes.SCT.Liver,
    "intrahepatic": codes.SCT.Liver,
    "lymph_node": codes.SCT.LymphNode,
    "lymph node": codes.SCT.LymphNode,
    "node": codes.SCT.LymphNode,
    "lung": codes.SCT.Lung,
    "bone": codes.SCT.Bone,
    "pancreas": codes.SCT.Pancreas,
    "adrenal": codes.SCT.AdrenalGland,
    "spleen": codes.SCT.Spleen,
    "kidney": codes.SCT.Kidney,
}


def response_code(value: str) -> Code:
    """The code of a response category (``CR``, ``non-CR/non-PD``, ``PMR``...).

    Examples
    --------
    >>> response_code("PR").meaning, response_code("PMD").scheme_designator
    ('Partial response', '99NETLM')
    """
    try:
        return RESPONSE_CODES[value]
    except KeyError:
        raise ImagingError(f"write_response_sr: unknown response category {value!r}") from None


def _role_code(observation: Observation) -> Code:
    role = observation.role.value if observation.role is not None else None
    found: Code = {
        "target": codes.DCM.TargetLesionAtBaseline,
        "non_target": codes.DCM.NonTargetLesionAtBaseline,
    }.get(role or "", _NEW_LESION)
    return found


def _unit(unit: str) -> Code:
    try:
        return _UNITS[unit]
    except KeyError:
        raise ImagingError(f"write_response_sr: unknown unit {unit!r} of a response") from None


def _number(value: Decimal | float) -> float:
    return float(value)


def _time_point(hd: Any, date: str, order: int) -> Any:
    return hd.sr.TimePointContext(
        time_point="baseline" if order == 1 else f"follow-up {order - 1}",
        time_point_type=codes.UMLS.Baseline if order == 1 else codes.DCM.Posttreatment,
        time_point_order=order,
        subject_time_point_identifier=date,
    )


def _lesion_group(
    hd: Any,
    observation: Observation,
    tracking_uid: str,
    date: str,
    order: int,
    sources: Sequence[Dataset],
) -> Any:
    measurements = [
        hd.sr.Measurement(
            name=LESION_MEASUREMENTS[key][0],
            value=float(value),
            unit=LESION_MEASUREMENTS[key][2],
            derivation=LESION_MEASUREMENTS[key][1],
        )
        for key in LESION_MEASUREMENTS
        if (value := getattr(observation, key)) is not None
    ]
    evaluations = [hd.sr.QualitativeEvaluation(codes.DCM.BaselineCategory, _role_code(observation))]
    if observation.status is not None:
        status = observation.status.value
        evaluations.append(
            hd.sr.QualitativeEvaluation(_STATUS, _private(status, status.replace("_", " ")))
        )
    organ = _ORGANS.get((observation.organ or "").strip().lower())
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid, identifier=observation.id),
        time_point_context=_time_point(hd, date, order),
        finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(organ)] if organ is not None else None,
        measurements=measurements or None,
        qualitative_evaluations=evaluations,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(s) for s in sources]
        or None,
    )


def _criterion_group(
    hd: Any,
    result: CriterionResult,
    point: TimepointResult,
    tracking_uid: str,
    order: int,
) -> Any:
    criterion = result.criterion
    measurements = []
    if point.measure is not None:
        measurements.append(
            hd.sr.Measurement(
                name=_private(f"measure-{criterion}", _MEASURE_NAMES[criterion]),
                value=_number(point.measure),
                unit=_unit(point.unit),
            )
        )
    for name, value in (
        (_CHANGE_BASELINE, point.change_from_baseline_percent),
        (_CHANGE_NADIR, point.change_from_nadir_percent),
    ):
        if value is not None:
            measurements.append(hd.sr.Measurement(name=name, value=_number(value), unit=_PERCENT))
    evaluations = []
    if point.target is not None:
        target = point.target.value
        evaluations.append(
            hd.sr.QualitativeEvaluation(
                _TARGET_RESPONSE, _TARGET_CODES.get(target) or response_code(target)
            )
        )
    if point.non_target is not None:
        other = point.non_target.value
        evaluations.append(
            hd.sr.QualitativeEvaluation(
                _NON_TARGET_RESPONSE, _NON_TARGET_CODES.get(other) or response_code(other)
            )
        )
    if order > 1:
        evaluations.append(
            hd.sr.QualitativeEvaluation(
                _NEW_LESIONS, codes.SCT.Yes if point.new_lesions else codes.SCT.No
            )
        )
    evaluations.append(
        hd.sr.QualitativeEvaluation(codes.DCM.CurrentResponse, response_code(point.overall.value))
    )
    if point.category is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(_CATEGORY, response_code(point.category)))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=tracking_uid, identifier=f"{result.label} response"[:64]
        ),
        time_point_context=_time_point(hd, point.date.isoformat(), order),
        method=CRITERION_CODES[criterion],
        measurements=measurements or None,
        qualitative_evaluations=evaluations,
    )


def _best_group(hd: Any, result: CriterionResult, tracking_uid: str) -> Any:
    best = result.best_overall
    evaluations = [
        hd.sr.QualitativeEvaluation(codes.DCM.BestOverallResponse, response_code(best.response))
    ]
    if best.category is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(_CATEGORY, response_code(best.category)))
    if best.confirmed is not None:
        evaluations.append(
            hd.sr.QualitativeEvaluation(
                _CONFIRMED, codes.SCT.Yes if best.confirmed else codes.SCT.No
            )
        )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=tracking_uid, identifier=f"{result.label} best overall response"[:64]
        ),
        method=CRITERION_CODES[result.criterion],
        qualitative_evaluations=evaluations,
    )


def _new_study(case: str | None) -> Dataset:
    if not case:
        raise ImagingError(
            "write_response_sr: the response file names no patient (case) and no DICOM "
            "images or study were given; give one of them"
        )
    ds = Dataset()
    ds.PatientID = case[:64]
    ds.PatientName = ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = generate_uid()
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.StudyDate = ""
    ds.StudyTime = ""
    ds.ReferringPhysicianName = ""
    return ds


def _sources_by_date(evidence: Sequence[Dataset]) -> dict[str, list[Dataset]]:
    by_date: dict[str, list[Dataset]] = {}
    for ds in evidence:
        missing = [
            k
            for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
            if k not in ds
        ]
        if missing:
            raise ImagingError(
                f"write_response_sr: an evidence instance has no {', '.join(missing)}"
            )
        date = str(ds.get("StudyDate", "") or "")
        if len(date) == 8:
            by_date.setdefault(f"{date[:4]}-{date[4:6]}-{date[6:]}", []).append(ds)
    return by_date


def read_evidence(paths: Sequence[str | Path]) -> list[Dataset]:
    """The DICOM headers of the files given, and of the DICOM files in the folders given.

    Raises
    ------
    ImagingError
        A path that does not exist, or one that holds no DICOM file.
    """
    from netlm.imaging.dicom import _files_below, _read_dicom_header

    found: list[Dataset] = []
    for entry in paths:
        path = Path(entry)
        if not path.exists():
            raise ImagingError(f"{path}: no such file or folder")
        files = _files_below(path) if path.is_dir() else [path]
        headers = [h for h in (_read_dicom_header(f) for f in files) if h is not None]
        if not headers:
            raise ImagingError(f"{path}: holds no DICOM file")
        found.extend(headers)
    return found


def _drop_reference(sr: Dataset, instance_uid: str) -> None:
    """Remove the stand-in instance ``instance_uid`` from the SR's evidence sequences."""
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        studies = []
        for study_item in sr.get(keyword, []):
            series_items = []
            for series_item in study_item.ReferencedSeriesSequence:
                kept = [
                    i
                    for i in series_item.ReferencedSOPSequence
                    if i.ReferencedSOPInstanceUID != instance_uid
                ]
                if kept:
                    series_item.ReferencedSOPSequence = kept
                    series_items.append(series_item)
            if series_items:
                study_item.ReferencedSeriesSequence = series_items
                studies.append(study_item)
        if studies:
            setattr(sr, keyword, studies)
        elif keyword in sr:
            delattr(sr, keyword)


def write_response_sr(
    doc: ResponseFile,
    path: str | Path,
    *,
    report: ResponseReport | None = None,
    evidence: Sequence[Dataset] = (),
    study: Dataset | None = None,
    series_number: int = 5,
) -> Path:
    """Write the response assessment of ``doc`` as a TID 1500 measurement report.

    Parameters
    ----------
    doc
        The response file (:func:`netlm.response.io.load_response`): its
        lesion measurements per time point.
    path
        The file to write.
    report
        Its assessment (:func:`netlm.response.report.assess_response`);
        default: assessed by the criteria the file names.
    evidence
        DICOM instances of the scans (headers suffice), all of the file's
        patient: listed as evidence; those whose Study Date is a time point's
        date are the source images of that time point's lesion groups.
    study
        Patient and study to file the report in when ``evidence`` holds no
        image of a follow-up (e.g. a QIDO-RS study result).
    series_number
        Series Number of the new series.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ImagingError
        Evidence of another patient than ``case`` or without UIDs; no patient
        at all (no evidence, no study, no ``case``); a response category or
        unit with no code.
    """
    import highdicom as hd

    from netlm.response.report import assess_response

    report = report if report is not None else assess_response(doc)
    by_date = _sources_by_date(evidence)
    patients = {str(ds.get("PatientID", "")) for ds in evidence}
    if len(patients) > 1 or (doc.case is not None and patients - {doc.case}):
        raise ImagingError(
            f"write_response_sr: the images are of patient(s) {sorted(patients)}, "
            f"the response file of {doc.case!r}; give one patient's images"
        )
    dates = [tp.date.isoformat() for tp in doc.timepoints]
    # Filed in the latest time point's study that has images, else ``study``, else a new one.
    latest = next((by_date[d][0] for d in reversed(dates) if d in by_date), None)
    if latest is not None:
        anchor = latest
    elif study is not None:
        anchor = study
    elif evidence:
        anchor = evidence[0]
    else:
        anchor = _new_study(doc.case)

    seed = report.inputs_digest
    lesion_uids: dict[str, str] = {}
    groups = []
    for order, tp in enumerate(doc.timepoints, start=1):
        date = tp.date.isoformat()
        for observation in tp.lesions:
            uid = lesion_uids.setdefault(
                observation.id, generate_uid(entropy_srcs=[seed, "lesion", observation.id])
            )
            groups.append(_lesion_group(hd, observation, uid, date, order, by_date.get(date, ())))
    for result in report.results:
        uid = generate_uid(entropy_srcs=[seed, "criterion", result.criterion])
        for order, point in enumerate(result.timepoints, start=1):
            groups.append(_criterion_group(hd, result, point, uid, order))
        groups.append(
            _best_group(hd, result, generate_uid(entropy_srcs=[seed, "best", result.criterion]))
        )
    content = measurement_report(hd, _PROCEDURE, groups)
    without = [d for d in dates if d not in by_date]
    if without:
        note = hd.sr.TextContentItem(
            name=codes.DCM.Comment,
            value=(
                "No DICOM images were given for the time point(s) "
                + ", ".join(without)
                + ": identified by their scan date only (Subject Time Point Identifier)."
            )[:1024],
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        )
        content.ContentSequence.append(note)
    placeholder = None
    if "SOPInstanceUID" not in anchor:
        # highdicom takes patient and study from its first evidence item, which must be an
        # instance: a stand-in for the study, removed from the evidence afterwards.
        anchor = Dataset(anchor)
        anchor.SOPClassUID = COMPREHENSIVE_SR_STORAGE
        anchor.SOPInstanceUID = placeholder = generate_uid()
        anchor.SeriesInstanceUID = generate_uid()
    sr = new_sr(
        hd.sr.ComprehensiveSR,
        [anchor, *[ds for ds in evidence if ds is not anchor]],
        content,
        series_number,
        "netlm tumour response",
    )
    if placeholder is not None:
        _drop_reference(sr, placeholder)
    return save_derived(sr, path)
