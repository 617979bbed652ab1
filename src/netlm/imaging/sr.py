"""Dose statistics per VOI as a DICOM Structured Report (TID 1500), with highdicom.

:func:`write_dose_sr` writes a Comprehensive 3D SR holding a TID 1500
Imaging Measurement Report: one *Volumetric ROI measurements* group (TID 1411)
per VOI of the dose, each referencing its segment in the SEG of
:func:`netlm.imaging.seg.write_seg` (and through it the activity series and
its Frame of Reference), with the statistics of ``dose-statistics.json``.

Codes (:data:`MEASUREMENT_CODES`; UCUM units ``Gy``, ``%``, ``ml``):

======================  =============================================  ======
statistic               concept name (derivation)                      unit
======================  =============================================  ======
mean                    DCM 128513 Absorbed Dose (SCT 373098007 Mean)  Gy
D50, D70, D90           99NETLM D50/D70/D90: minimum dose to the most  Gy
                        irradiated 50/70/90 % of the VOI
V100, V120, V150, V205  99NETLM V100/V120/V150/V205: % of the VOI    %
                        receiving at least 100/120/150/205 Gy
EUD                     99NETLM EUD: equivalent uniform dose           Gy
                        (Niemierko, radiobiology preset)
mean BED                99NETLM BED (SCT 373098007 Mean)               Gy
volume                  SCT 118565006 Volume                           ml
======================  =============================================  ======

``99NETLM`` is netlm's private coding scheme, declared in the Coding Scheme
Identification Sequence of the file.  DICOM and SNOMED CT have no concept for
dose-at-volume and volume-at-dose of one VOI outside RT dose-volume
histograms, nor for a voxel-wise EUD, hence the private codes.  The procedure
reported is ``99NETLM y90-dosimetry`` (90Y post-implant dosimetry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from netlm import __version__
from netlm.imaging.errors import ImagingError
from netlm.imaging.seg import private_code as _private
from netlm.imaging.seg import save_derived, segment_code

__all__ = ["MEASUREMENT_CODES", "measurement_report", "new_sr", "write_dose_sr"]


_GY: Final = Code("Gy", "UCUM", "Gy")
_PERCENT: Final = Code("%", "UCUM", "%")
_ML: Final = Code("ml", "UCUM", "ml")

#: statistic key of ``dose-statistics.json`` -> (concept name, derivation or None, unit).
MEASUREMENT_CODES: Final[dict[str, tuple[Code, Code | None, Code]]] = {
    "volume_ml": (codes.SCT.Volume, None, _ML),
    "mean_gy": (codes.DCM.AbsorbedDose, codes.SCT.Mean, _GY),
    "d50_gy": (_private("D50", "Minimum dose to the most irradiated 50 % of the VOI"), None, _GY),
    "d70_gy": (_private("D70", "Minimum dose to the most irradiated 70 % of the VOI"), None, _GY),
    "d90_gy": (_private("D90", "Minimum dose to the most irradiated 90 % of the VOI"), None, _GY),
    "v100_percent": (_private("V100", "Volume fraction receiving at least 100 Gy"), None, _PERCENT),
    "v120_percent": (_private("V120", "Volume fraction receiving at least 120 Gy"), None, _PERCENT),
    "v150_percent": (_private("V150", "Volume fraction receiving at least 150 Gy"), None, _PERCENT),
    "v205_percent": (_private("V205", "Volume fraction receiving at least 205 Gy"), None, _PERCENT),
    "eud_gy": (_private("EUD", "Equivalent uniform dose"), None, _GY),
    "bed_mean_gy": (_private("BED", "Biologically effective dose"), codes.SCT.Mean, _GY),
}

_PROCEDURE: Final = _private("y90-dosimetry", "90Y post-implant dosimetry")


def _values(statistics: Mapping[str, Any]) -> dict[str, float]:
    radiobiology = statistics.get("radiobiology") or {}
    found: dict[str, float] = {}
    for key in MEASUREMENT_CODES:
        value = statistics.get(key, radiobiology.get(key))
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[key] = float(value)
    return found


def measurement_report(hd: Any, procedure: Code, groups: Sequence[Any]) -> Any:
    """The TID 1500 Measurement Report content item of ``groups``, observed by the netlm device.

    ``hd`` is the imported :mod:`highdicom` (imported lazily by the writers).
    """
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name="netlm", manufacturer_name="netlm", model_name="netlm"
        ),
    )
    return hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=procedure,
        imaging_measurements=groups,
    )[0]


def new_sr(
    sr_class: Any, evidence: Sequence[Dataset], content: Any, series_number: int, description: str
) -> Any:
    """A complete SR instance of ``sr_class`` (a highdicom SR class) in a new series by netlm.

    Patient and study are those of the first ``evidence`` item (an instance).
    """
    return sr_class(
        evidence=list(evidence),
        content=content,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="netlm",
        is_complete=True,
        series_description=description,
        software_versions=__version__,
    )


def write_dose_sr(
    document: Mapping[str, Any],
    seg: Dataset,
    path: str | Path,
    *,
    evidence: Sequence[Dataset] = (),
    series_number: int = 3,
) -> Path:
    """Write the per-VOI dose statistics of ``document`` as a TID 1500 SR.

    Parameters
    ----------
    document
        The statistics document of :func:`netlm.workflows.dose.compute_dose`
        (``vois``: statistics by VOI name, with ``radiobiology``).
    seg
        The SEG of the same VOIs (:func:`netlm.imaging.seg.write_seg`): each
        VOI is matched to the segment with its label.
    path
        The file to write.
    evidence
        Further instances the report rests on (the RT Dose, the activity
        images), listed in its evidence sequences.
    series_number
        Series Number of the new series.

    Raises
    ------
    ImagingError
        A VOI without a segment of that label, or without any statistic.
    """
    import highdicom as hd

    labels = {str(item.SegmentLabel): int(item.SegmentNumber) for item in seg.SegmentSequence}
    vois: Mapping[str, Mapping[str, Any]] = document.get("vois") or {}
    if not vois:
        raise ImagingError("write_dose_sr: the document has no VOI statistics")
    groups = []
    for name, statistics in vois.items():
        number = labels.get(name[:64])
        if number is None:
            raise ImagingError(
                f"write_dose_sr: VOI {name!r} has no segment of that label in the SEG "
                f"(labels {sorted(labels)})"
            )
        values = _values(statistics)
        if not values:
            raise ImagingError(f"write_dose_sr: VOI {name!r} has no statistic")
        measurements = [
            hd.sr.Measurement(
                name=MEASUREMENT_CODES[key][0],
                value=value,
                unit=MEASUREMENT_CODES[key][2],
                derivation=MEASUREMENT_CODES[key][1],
            )
            for key, value in values.items()
        ]
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=generate_uid(), identifier=name[:64]
                ),
                referenced_segment=hd.sr.ReferencedSegment.from_segmentation(seg, number),
                finding_type=segment_code(name)[1],
                measurements=measurements,
            )
        )
    sr = new_sr(
        hd.sr.Comprehensive3DSR,
        [seg, *evidence],
        measurement_report(hd, _PROCEDURE, groups),
        series_number,
        "netlm 90Y dose statistics",
    )
    return save_derived(sr, path)
