"""The DICOM results of a dose, for a PACS: SEG, SR and an Encapsulated PDF beside the RT Dose.

:func:`write_dicom_results` takes what :func:`netlm.workflows.dose.compute_dose`
computed from a DICOM activity series (and wrote into ``out``: ``rtdose.dcm``,
``dose-statistics.json``, ``dvh.png``) and adds, all in the activity's study
and Frame of Reference:

* ``seg.dcm`` — the VOIs on the dose grid (:func:`netlm.imaging.seg.write_seg`);
* ``sr.dcm`` — the per-VOI statistics, TID 1500 (:func:`netlm.imaging.sr.write_dose_sr`);
* ``dosimetry-report.pdf`` and ``dosimetry-report-pdf.dcm`` — a one-page
  dosimetry report (WeasyPrint) and its Encapsulated PDF
  (:func:`netlm.imaging.pdf.write_encapsulated_pdf`);
* ``response-sr.dcm`` — where a response file of the patient is given, its
  lesion measurements and responses per time point, TID 1500
  (:func:`netlm.imaging.response_sr.write_response_sr`), in the activity's
  study with the activity series as evidence.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pydicom
from pydicom.errors import InvalidDicomError

from netlm.errors import InputError, NetlmError
from netlm.voxel.result import DoseResult

if TYPE_CHECKING:
    from netlm.response.model import ResponseFile

__all__ = ["DICOM_RESULTS", "RESPONSE_SR", "dosimetry_report_html", "write_dicom_results"]

#: The DICOM files written, in the order they are sent to a PACS.
DICOM_RESULTS: Final = ("rtdose.dcm", "seg.dcm", "sr.dcm", "dosimetry-report-pdf.dcm")
#: Written after them when a response file is given.
RESPONSE_SR: Final = "response-sr.dcm"


def _number(value: Any, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "–"


def dosimetry_report_html(document: dict[str, Any], dvh_png: Path | None = None) -> str:
    """A one-page HTML dosimetry report of a dose's statistics document (values escaped)."""
    rows = []
    for name, s in document.get("vois", {}).items():
        rb = s.get("radiobiology") or {}
        cells = [
            html.escape(str(name)),
            _number(s.get("volume_ml")),
            _number(s.get("mean_gy")),
            _number(s.get("d50_gy")),
            _number(s.get("d70_gy")),
            _number(s.get("d90_gy")),
            _number(s.get("v100_percent")),
            _number(s.get("v120_percent")),
            _number(rb.get("eud_gy")),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    figure = ""
    if dvh_png is not None and dvh_png.is_file():
        data = base64.b64encode(dvh_png.read_bytes()).decode("ascii")
        figure = f'<img alt="DVH" style="width:16cm" src="data:image/png;base64,{data}">'
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in document.get("warnings", []))
    activity = document.get("activity", {})
    basis = html.escape(str((activity.get("reference") or {}).get("basis", "")))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>netlm dosimetry</title>"
        "<style>body{font-family:'DejaVu Sans',sans-serif;font-size:10pt}"
        "table{border-collapse:collapse}td,th{border:1px solid #888;padding:2px 6px}</style>"
        "</head><body><h1>90Y absorbed dose</h1>"
        f"<p>Method {html.escape(str(document.get('method', '')).upper())}; "
        f"total activity at implant {_number(document.get('total_activity_gbq'), 3)} GBq; "
        f"density {html.escape(str(document.get('density', '')))}.</p>"
        f"<p>Activity time reference: {basis}</p>"
        "<table><tr><th>VOI</th><th>mL</th><th>mean Gy</th><th>D50</th><th>D70</th>"
        "<th>D90</th><th>V100 %</th><th>V120 %</th><th>EUD Gy</th></tr>"
        + "".join(rows)
        + "</table>"
        + figure
        + (f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else "")
        + "<p>Doses computed by netlm; to be checked by a medical physicist.</p></body></html>"
    )


def check_dicom_activity(activity: Path, response: ResponseFile | None = None) -> None:
    """Refuse what :func:`write_dicom_results` would refuse, before any dose is computed.

    It derives its SEG and SR from the activity series, which a NIfTI or NRRD
    image does not have, and writes the response SR only for the images'
    patient; learning either only after the dose maps are written would leave a
    half-written output folder.  Only headers are read, up to the first DICOM
    file.

    Raises
    ------
    InputError
        ``activity`` holds no DICOM file, or its first DICOM file is unreadable;
        ``response`` names another patient than the images.
    """
    if not activity.exists():
        return  # the dose reader names the missing file
    files = (
        sorted(p for p in activity.rglob("*") if p.is_file()) if activity.is_dir() else [activity]
    )
    for file in files:
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except InvalidDicomError:
            continue
        except Exception as exc:  # pydicom raises many types for a damaged file
            raise InputError([("activity", f"{file}: unreadable DICOM file: {exc}")]) from None
        _check_response_patient(response, str(header.get("PatientID", "")))
        return
    raise InputError(
        [
            (
                "activity",
                f"DICOM results need a DICOM activity series: {activity} holds no DICOM file",
            )
        ]
    )


def _check_response_patient(response: ResponseFile | None, patient: str) -> None:
    """Refuse a response file of another patient than the images' ``patient``."""
    if response is not None and response.case is not None and response.case != patient:
        raise InputError(
            [("response.case", f"{response.case!r} is not the images' patient {patient!r}")]
        )


def write_dicom_results(
    result: DoseResult,
    activity_series: Path,
    out: Path,
    *,
    response: ResponseFile | None = None,
) -> list[Path]:
    """Write SEG, SR and Encapsulated PDF of ``result`` into ``out``; the DICOM files of the dose.

    ``out`` must be the folder :func:`~netlm.workflows.dose.compute_dose`
    wrote (its ``rtdose.dcm`` and ``dvh.png`` are used), and
    ``activity_series`` the DICOM activity series the dose was computed from.
    With ``response`` (the patient's response file) its assessment is
    written as ``response-sr.dcm`` too.

    Returns
    -------
    list of Path
        ``rtdose.dcm``, ``seg.dcm``, ``sr.dcm``, ``dosimetry-report-pdf.dcm``
        (and ``response-sr.dcm``).

    Raises
    ------
    InputError
        The activity image is not a DICOM series, or ``out`` holds no RT Dose;
        (``response``) the response file is of another patient.
    """
    from netlm.imaging.pdf import write_encapsulated_pdf
    from netlm.imaging.seg import read_source_series, write_seg
    from netlm.imaging.sr import write_dose_sr
    from netlm.report.pdf import html_to_pdf

    rtdose_path = out / "rtdose.dcm"
    if not rtdose_path.is_file():
        raise InputError([("out", f"{out} holds no rtdose.dcm; compute the dose into it first")])
    try:
        sources = read_source_series(activity_series)
    except NetlmError as error:  # a non-DICOM activity image
        raise InputError(
            [("activity", f"DICOM results need a DICOM activity series: {error}")]
        ) from None
    seg_path = write_seg(result.masks, activity_series, out / "seg.dcm")
    seg = pydicom.dcmread(seg_path)
    rtdose = pydicom.dcmread(rtdose_path, stop_before_pixels=True)
    sr_path = write_dose_sr(result.document, seg, out / "sr.dcm", evidence=[rtdose, *sources])
    sr = pydicom.dcmread(sr_path)
    pdf = html_to_pdf(
        dosimetry_report_html(result.document, out / "dvh.png"), out / "dosimetry-report.pdf"
    )
    pdf_dcm = write_encapsulated_pdf(
        pdf,
        out / "dosimetry-report-pdf.dcm",
        sources=[rtdose, seg, sr],
        title="netlm 90Y dosimetry report",
    )
    files = [rtdose_path, seg_path, sr_path, pdf_dcm]
    if response is not None:
        from netlm.imaging.response_sr import write_response_sr

        _check_response_patient(response, str(sources[0].get("PatientID", "")))
        files.append(write_response_sr(response, out / RESPONSE_SR, evidence=sources))
    return files


def stored_dose_result(out: Path, activity_series: Path) -> DoseResult:
    """The :class:`~netlm.voxel.result.DoseResult` of a dose computed earlier into ``out``.

    Reads what :func:`~netlm.workflows.dose.compute_dose` wrote there
    (``dose-statistics.json``, the dose map and ``vois.nii.gz``, one bit per
    VOI) and puts the dose and the VOIs back on the grid of ``activity_series``
    (the DICOM series the dose was computed from), so that
    :func:`write_dicom_results` can write SEG, SR and PDF for a dose computed
    by the server some time ago (the web app's "send to PACS").

    Raises
    ------
    InputError
        ``out`` holds no readable dose outputs, more VOIs than ``vois.nii.gz``
        holds, or outputs on another grid than the activity series.
    """
    import json

    import numpy as np

    from netlm.imaging.io import read_image
    from netlm.workflows.dose import dose_map_name

    try:
        document = json.loads((out / "dose-statistics.json").read_text(encoding="utf-8"))
        names = list(document["voi_labels"])
        dose_file = out / dose_map_name(True)
        if not dose_file.is_file():
            dose_file = out / dose_map_name(False)
        dose = read_image(dose_file)
        bits = np.asarray(read_image(out / "vois.nii.gz").array).astype(np.uint64)
    except (OSError, ValueError, KeyError, TypeError, NetlmError) as exc:
        raise InputError([("out", f"{out} holds no dose outputs to send ({exc})")]) from None
    if set(names) != set(document.get("vois", {})):
        raise InputError([("out", f"{out}: the VOI map does not hold every VOI of the dose")])
    activity = read_image(activity_series)
    if activity.array.shape != bits.shape or not dose.same_grid(activity, tolerance_mm=0.01):
        raise InputError([("activity", f"{activity_series} is not the grid of the dose in {out}")])
    masks = {
        name: activity.with_array(
            ((bits >> np.uint64(i)) & np.uint64(1)).astype(bool), unit="label"
        )
        for i, name in enumerate(names)
    }
    return DoseResult(
        document=document, dose=activity.with_array(dose.array, unit="Gy"), masks=masks
    )
