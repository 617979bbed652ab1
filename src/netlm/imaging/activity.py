"""Activity images: their unit, decay, and the time of implant of 90Y voxel dosimetry.

A permanent implant's absorbed dose is C · A0 / m with A0 the activity *at
implant* (``shared/reference/dosimetry.md``, Voxel dosimetry: "A_i the voxel's
share of the activity at implant"; Nuclear data: A(t) = A0 · 2^(−t/T½)).  A
post-treatment PET or SPECT is taken hours or days later and its values refer
to some other moment: the series start (DICOM Decay Correction ``START``), the
acquisition (``NONE``) or the administration (``ADMIN``).  Read at face value,
a PET 24 h after implant gives every dose 23 % low (48 h: 40 %).

:func:`activity_at_implant` brings an activity image to the implant time and
returns an :class:`ActivityReference` that records how: the unit read, the
moment the values referred to, the implant time, the factor applied and its
basis.  It never guesses: a DICOM file must say how it is decay-corrected and
when the radiopharmaceutical was given (or the caller gives the implant time);
an image without times (NIfTI, NRRD) needs the implant and scan times, or an
explicit, recorded assumption that its values already are the activity at
implant.  Decay uses :func:`netlm.sirt.physics.decay_factor`, netlm's one decay
function, with the 90Y half-life of :class:`~netlm.sirt.physics.Physics`.

:func:`to_bq_per_ml` converts an activity image (concentration, activity per
voxel, or counts with a calibration) to Bq/mL with the factors of
:mod:`netlm.units`; :func:`decay_correct` brings an image to any moment.  Both
are re-exported by :mod:`netlm.imaging.io`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from netlm.errors import InputError, UnitError
from netlm.imaging.errors import ImagingError
from netlm.sirt.physics import decay_factor, hours_between
from netlm.units import MIN_PER_H, S_PER_H, convert
from netlm.volume import ImageVolume

__all__ = [
    "ACTIVITY_MISMATCH_TOLERANCE",
    "HALF_LIFE_TOLERANCE",
    "ActivityReference",
    "activity_at_implant",
    "activity_mismatch",
    "decay_correct",
    "to_bq_per_ml",
]

#: Relative difference between an image's activity at implant and the recorded
#: injected activity above which netlm warns (source ``image_activity_check``,
#: [U]: no source gives a number; part of the activity may lie outside the field
#: of view or stay in the vial and catheter).
ACTIVITY_MISMATCH_TOLERANCE: Final = 0.10

#: Relative difference between the half-life a DICOM file gives and the 90Y
#: half-life above which the image is refused as not a 90Y activity image
#: (source ``y90_half_life``: tools use 64.05-64.2 h, within 0.2 %).
HALF_LIFE_TOLERANCE: Final = 0.02

#: Source ids of the convention (netlm.evidence).
SOURCE_IDS: Final = ("voxel_dose_time_reference", "y90_half_life", "image_activity_check")

#: Spellings of activity-concentration units and the factor to Bq/mL (from
#: netlm.units, the one unit table).
_CONCENTRATION_TO_BQ_PER_ML: Final[dict[str, float]] = {
    spelling: convert(1.0, canonical, "Bq/mL", analyte="activity_concentration")
    for spelling, canonical in (
        ("bq/ml", "Bq/mL"),
        ("bqml", "Bq/mL"),
        ("bq/cc", "Bq/mL"),
        ("bq/cm3", "Bq/mL"),
        ("kbq/ml", "kBq/mL"),
        ("kbq/cc", "kBq/mL"),
        ("mbq/ml", "MBq/mL"),
        ("mbq/cc", "MBq/mL"),
    )
}

#: Spellings of activity per voxel and the factor to Bq (netlm.units).
_ACTIVITY_TO_BQ: Final[dict[str, float]] = {
    spelling: convert(1.0, spelling, "Bq", analyte="voxel_activity")
    for spelling in ("bq", "kbq", "mbq")
}

_COUNT_UNITS: Final[frozenset[str]] = frozenset({"counts", "cnts", "count"})


@dataclass(frozen=True)
class ActivityReference:
    """How the values of an activity image were brought to the implant time.

    Attributes
    ----------
    basis
        In words: where the times come from and what was done.
    decay_factor
        The factor the values were multiplied by (1 when they already referred
        to the implant).
    reference_time
        The moment the image's values referred to as read (ISO 8601), if known.
    implant_time
        The implant (administration) time the values now refer to, if known.
    interval_h
        Hours from the implant to ``reference_time``.
    half_life_h
        Half-life used for the decay correction.
    assumed
        True when the image's values were *assumed* to be the activity at
        implant (no times were given), on the caller's explicit request.
    """

    basis: str
    decay_factor: float
    reference_time: str | None
    implant_time: str | None
    interval_h: float | None
    half_life_h: float
    assumed: bool = False

    def as_dict(self) -> dict[str, object]:
        """The record as a JSON-ready mapping."""
        return dataclasses.asdict(self)


def _parse(text: object) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _interval_h(start: dt.datetime, end: dt.datetime, notes: list[str]) -> float:
    """Hours from ``start`` to ``end``; two zone-less DICOM times count on the file's clock."""
    naive = [m for m in (start, end) if m.tzinfo is None or m.utcoffset() is None]
    if not naive:
        return hours_between(start, end)
    if len(naive) == 2:
        notes.append("the DICOM times carry no time zone: interval taken on the file's own clock")
        return (end - start).total_seconds() / S_PER_H
    aware = start if start not in naive else end
    zone = aware.tzinfo
    notes.append(
        f"the DICOM times carry no time zone: read in the zone of the implant time ({aware:%z})"
    )
    return hours_between(
        start if start.tzinfo else start.replace(tzinfo=zone),
        end if end.tzinfo else end.replace(tzinfo=zone),
    )


def _check_half_life(volume: ImageVolume, half_life_h: float) -> None:
    from_file = volume.metadata.get("radionuclide_half_life_s")
    if not isinstance(from_file, int | float) or from_file <= 0:
        return
    file_h = float(from_file) / S_PER_H
    if abs(file_h / half_life_h - 1.0) > HALF_LIFE_TOLERANCE:
        raise InputError(
            [
                (
                    "activity",
                    f"the DICOM file gives a half-life of {file_h:.4g} h (Radionuclide Half "
                    f"Life), not 90Y's {half_life_h:g} h: its values are not a 90Y activity "
                    "(or were decay-corrected with another radionuclide); give the injected "
                    "activity (--activity-gbq) to scale the image instead",
                )
            ]
        )


def _dicom_reference(
    volume: ImageVolume, implant_time: dt.datetime | None, half_life_h: float
) -> ActivityReference:
    meta = volume.metadata
    correction = str(meta.get("decay_correction", "") or "").upper()
    if correction not in ("START", "NONE", "ADMIN"):
        raise InputError(
            [
                (
                    "activity",
                    "the DICOM file does not say how its values are decay-corrected "
                    f"(Decay Correction {correction or 'absent'}; START, NONE or ADMIN needed); "
                    "give the injected activity (--activity-gbq) to scale the image",
                )
            ]
        )
    _check_half_life(volume, half_life_h)
    administered = _parse(meta.get("administration_time"))
    implant = implant_time or administered
    if implant is None:
        raise InputError(
            [
                (
                    "implant_time",
                    "the DICOM file gives no administration time (Radiopharmaceutical Start "
                    "Date Time); give the implant time (--implant-time)",
                )
            ]
        )
    notes: list[str] = []
    if correction == "ADMIN":
        if administered is None:
            raise InputError(
                [
                    (
                        "activity",
                        "Decay Correction ADMIN, but the file gives no administration time "
                        "the values refer to; give the injected activity (--activity-gbq)",
                    )
                ]
            )
        reference = administered
        what = "administration (Decay Correction ADMIN)"
    else:
        stated = volume.reference_time or _parse(meta.get("reference_time_local"))
        if stated is None:
            raise InputError(
                [
                    (
                        "activity",
                        f"Decay Correction {correction}, but the file gives no series or "
                        "acquisition time the values refer to; give the injected activity "
                        "(--activity-gbq)",
                    )
                ]
            )
        reference = stated
        what = str(meta.get("reference_time_basis") or f"Decay Correction {correction}")
    interval = _interval_h(implant, reference, notes)
    if interval < -1.0 / MIN_PER_H:
        raise InputError(
            [
                (
                    "implant_time",
                    f"the image's values refer to {reference.isoformat()}, "
                    f"{-interval:.2f} h before the implant ({implant.isoformat()}); a "
                    "post-treatment image cannot precede the implant",
                )
            ]
        )
    source = "--implant-time" if implant_time is not None else "Radiopharmaceutical Start"
    if implant_time is not None and administered is not None:
        differs = abs(_interval_h(administered, implant_time, [])) * MIN_PER_H
        if differs > 1.0:
            notes.append(
                f"--implant-time differs from the file's administration time by {differs:.0f} min"
            )
    factor = decay_factor(-interval, half_life_h)
    basis = (
        f"DICOM: values at the {what}, {interval:.3f} h after the implant ({source}); "
        f"decay-corrected to the implant by 2^({interval:.3f}/{half_life_h:g})"
    )
    return ActivityReference(
        basis="; ".join([basis, *notes]),
        decay_factor=factor,
        reference_time=reference.isoformat(),
        implant_time=implant.isoformat(),
        interval_h=interval,
        half_life_h=half_life_h,
    )


def _given_reference(
    implant_time: dt.datetime | None,
    scan_time: dt.datetime | None,
    assume_implant_reference: bool,
    half_life_h: float,
) -> ActivityReference:
    if implant_time is not None and scan_time is not None:
        interval = hours_between(implant_time, scan_time)
        if interval < 0:
            raise InputError(
                [
                    (
                        "scan_time",
                        f"{scan_time.isoformat()} is {-interval:.2f} h before the implant "
                        f"({implant_time.isoformat()}); a post-treatment image cannot precede it",
                    )
                ]
            )
        return ActivityReference(
            basis=(
                f"given: values at the scan time, {interval:.3f} h after the implant; "
                f"decay-corrected to the implant by 2^({interval:.3f}/{half_life_h:g})"
            ),
            decay_factor=decay_factor(-interval, half_life_h),
            reference_time=scan_time.isoformat(),
            implant_time=implant_time.isoformat(),
            interval_h=interval,
            half_life_h=half_life_h,
        )
    if (implant_time is None) != (scan_time is None):
        missing = "scan_time" if scan_time is None else "implant_time"
        raise InputError(
            [(missing, "give both the implant time and the scan time (ISO 8601 with offset)")]
        )
    if assume_implant_reference:
        return ActivityReference(
            basis=(
                "assumed (--assume-implant-time-reference): the image's values are taken to be "
                "the activity at implant; no decay correction"
            ),
            decay_factor=1.0,
            reference_time=None,
            implant_time=None,
            interval_h=None,
            half_life_h=half_life_h,
            assumed=True,
        )
    raise InputError(
        [
            (
                "implant_time",
                "the image does not say when its activity was measured: give the implant and "
                "scan times (--implant-time, --scan-time), the injected activity "
                "(--activity-gbq), or state that the values are the activity at implant "
                "(--assume-implant-time-reference)",
            )
        ]
    )


def activity_at_implant(
    volume: ImageVolume,
    *,
    half_life_h: float,
    implant_time: dt.datetime | None = None,
    scan_time: dt.datetime | None = None,
    assume_implant_reference: bool = False,
) -> tuple[ImageVolume, ActivityReference]:
    """The activity image decay-corrected to the implant, and how that was done.

    Parameters
    ----------
    volume
        An activity image in Bq/mL (see :func:`to_bq_per_ml`).
    half_life_h
        The 90Y half-life (``Physics().y90_half_life_h``).
    implant_time
        The implant (administration) time, time-zone aware.  For DICOM it
        replaces the file's Radiopharmaceutical Start Date Time.
    scan_time
        For images without times (NIfTI, NRRD): the moment the values refer to
        (the scan's decay-correction reference), time-zone aware.  Refused for
        DICOM, whose file says it.
    assume_implant_reference
        For images without times: take the values to be the activity at
        implant, recorded as an assumption.

    Returns
    -------
    tuple
        The image (values × factor, ``reference_time`` the implant when known)
        and the :class:`ActivityReference`.

    Raises
    ------
    InputError
        The needed times are absent (the field says which), a time has no
        zone, the image precedes the implant, the DICOM decay correction is
        unknown or its half-life is not 90Y's.

    Examples
    --------
    >>> t0 = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    >>> img = ImageVolume(np.full((1, 1, 1), 1000.0), (4.0, 4.0, 4.0), unit="Bq/mL")
    >>> at, ref = activity_at_implant(img, half_life_h=64.1, implant_time=t0,
    ...                               scan_time=t0 + dt.timedelta(hours=64.1))
    >>> float(at.array[0, 0, 0]), ref.decay_factor
    (2000.0, 2.0)
    """
    if not math.isfinite(half_life_h) or half_life_h <= 0:
        raise InputError([("half_life_h", f"must be a positive number, not {half_life_h!r}")])
    for name, value in (("implant_time", implant_time), ("scan_time", scan_time)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise InputError(
                [(name, f"{value.isoformat()} has no time zone; give one (e.g. +01:00 or Z)")]
            )
    if volume.metadata.get("format") == "DICOM":
        if scan_time is not None:
            raise InputError(
                [("scan_time", "the DICOM file states its own time; give no scan time")]
            )
        reference = _dicom_reference(volume, implant_time, half_life_h)
    else:
        reference = _given_reference(implant_time, scan_time, assume_implant_reference, half_life_h)
    array = np.asarray(volume.array, dtype=np.float64) * reference.decay_factor
    corrected = dataclasses.replace(
        volume,
        array=array,
        reference_time=_parse(reference.implant_time) or volume.reference_time,
        metadata={**volume.metadata, "activity_reference": reference.basis},
    )
    return corrected, reference


def activity_mismatch(image_gbq: float, recorded_gbq: float) -> float:
    """Relative difference of the image's activity from the recorded one.

    Examples
    --------
    >>> round(activity_mismatch(1.12, 1.4), 3)
    -0.2
    """
    if not math.isfinite(recorded_gbq) or recorded_gbq <= 0:
        raise InputError([("activity_gbq", f"must be > 0, not {recorded_gbq!r}")])
    return image_gbq / recorded_gbq - 1.0


def _require_aware(name: str, when: object) -> dt.datetime:
    if not isinstance(when, dt.datetime):
        raise ImagingError(f"Argument {name!r} must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ImagingError(
            f"Argument {name!r} ({when.isoformat()}) has no time zone; give one "
            "(e.g. +01:00 or Z) so that decay is computed over the right interval"
        )
    return when


def to_bq_per_ml(
    volume: ImageVolume,
    *,
    unit: str | None = None,
    calibration_bq_per_count: float | None = None,
) -> ImageVolume:
    """The same image with values in Bq/mL.

    Parameters
    ----------
    volume
        An activity image: concentration (``Bq/mL``, ``kBq/mL``, ``MBq/mL``,
        DICOM ``BQML``), activity per voxel (``Bq``, ``kBq``, ``MBq``) or
        ``counts`` per voxel.
    unit
        The unit of ``volume``'s values when ``volume.unit`` is empty (NRRD,
        NIfTI); when both are given they must agree.
    calibration_bq_per_count
        For counts: the activity in Bq that one count stands for (from a
        phantom, or the administered activity over the counts in the field of
        view).  Bq/mL = counts × calibration / voxel volume in mL.

    Raises
    ------
    UnitError
        The unit is unknown or not an activity; counts without calibration; a
        calibration for values that are not counts; ``unit`` disagrees with
        ``volume.unit``.

    Examples
    --------
    >>> import numpy as np
    >>> v = ImageVolume(np.full((1, 1, 1), 2.0), (10.0, 10.0, 10.0), unit="kBq/mL")
    >>> float(to_bq_per_ml(v).array[0, 0, 0])
    2000.0
    >>> c = ImageVolume(np.full((1, 1, 1), 50.0), (10.0, 10.0, 10.0), unit="counts")
    >>> float(to_bq_per_ml(c, calibration_bq_per_count=4.0).array[0, 0, 0])
    200.0
    """
    given = (unit or "").strip()
    stated = volume.unit.strip()
    if given and stated and given.lower() != stated.lower():
        raise UnitError(f"Argument 'unit' is {given!r}, but the volume is in {stated!r}")
    source_unit = stated or given
    if not source_unit:
        raise UnitError("the volume has no unit; give it with Argument 'unit' (e.g. 'Bq/mL')")
    key = source_unit.lower().replace(" ", "")
    if calibration_bq_per_count is not None and key not in _COUNT_UNITS:
        raise UnitError(
            f"Argument 'calibration_bq_per_count' applies to counts, not to {source_unit!r}"
        )
    values = volume.array.astype(np.float64)
    metadata = dict(volume.metadata)
    metadata["converted_from_unit"] = source_unit
    if key in _CONCENTRATION_TO_BQ_PER_ML:
        values *= _CONCENTRATION_TO_BQ_PER_ML[key]
    elif key in _ACTIVITY_TO_BQ:
        values *= _ACTIVITY_TO_BQ[key] / volume.voxel_volume_ml
    elif key in _COUNT_UNITS:
        if calibration_bq_per_count is None:
            raise UnitError(
                "counts need Argument 'calibration_bq_per_count' (Bq per count, from a phantom "
                "or the administered activity)"
            )
        if not math.isfinite(calibration_bq_per_count) or calibration_bq_per_count <= 0:
            raise UnitError(
                "Argument 'calibration_bq_per_count' must be a positive number, "
                f"not {calibration_bq_per_count}"
            )
        values *= calibration_bq_per_count / volume.voxel_volume_ml
        metadata["calibration_bq_per_count"] = calibration_bq_per_count
    else:
        raise UnitError(
            f"{source_unit!r} is not an activity unit netlm converts to Bq/mL "
            "(Bq/mL, kBq/mL, MBq/mL, BQML, Bq, kBq, MBq, counts)"
        )
    return dataclasses.replace(volume, array=values, unit="Bq/mL", metadata=metadata)


def decay_correct(
    volume: ImageVolume, to_time: dt.datetime, half_life_h: float | None = None
) -> ImageVolume:
    """The activity image at ``to_time`` instead of ``volume.reference_time``.

    Same semantics as :func:`netlm.sirt.physics.activity_at`: values scale by
    ``2 ** (-(to_time - reference_time) / half_life)``, both ways in time, with
    the interval computed in UTC.

    Parameters
    ----------
    volume
        An activity image (``Bq/mL``, ``kBq/mL``, ``MBq/mL``, ``Bq``, ``counts``)
        with a time-zone aware ``reference_time``.
    to_time
        The moment the values should refer to; time-zone aware.
    half_life_h
        Half-life in hours; by default the one the DICOM file gave
        (``metadata["radionuclide_half_life_s"]``).

    Raises
    ------
    ImagingError
        A naive datetime (the message names the argument); no reference time;
        no half-life; a half-life that is not a positive number.
    UnitError
        ``volume`` is not an activity image.

    Examples
    --------
    >>> import numpy as np
    >>> t0 = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    >>> v = ImageVolume(np.full((1, 1, 1), 8.0), (1.0, 1.0, 1.0), unit="Bq/mL", reference_time=t0)
    >>> later = decay_correct(v, t0 + dt.timedelta(hours=3 * 64.1), half_life_h=64.1)
    >>> round(float(later.array[0, 0, 0]), 12)
    1.0
    >>> later.reference_time == t0 + dt.timedelta(hours=192.3)
    True
    """
    _require_aware("to_time", to_time)
    if volume.reference_time is None:
        note = volume.metadata.get("reference_time_note")
        raise ImagingError(
            "Argument 'volume' has no reference_time, the moment its values refer to"
            + (f" ({note})" if note else "; set it with dataclasses.replace(volume, ...)")
        )
    _require_aware("volume.reference_time", volume.reference_time)
    key = volume.unit.lower().replace(" ", "")
    if not (key in _CONCENTRATION_TO_BQ_PER_ML or key in _ACTIVITY_TO_BQ or key in _COUNT_UNITS):
        raise UnitError(
            f"decay correction applies to activity images, not to values in {volume.unit!r}"
            + (" (give the unit when reading, e.g. unit='Bq/mL')" if not volume.unit else "")
        )
    if half_life_h is None:
        from_file = volume.metadata.get("radionuclide_half_life_s")
        if not isinstance(from_file, int | float):
            raise ImagingError(
                "Argument 'half_life_h' is needed: the volume does not record its radionuclide's "
                "half-life"
            )
        half_life_h = float(from_file) / S_PER_H
    if not math.isfinite(half_life_h) or half_life_h <= 0:
        raise ImagingError(f"Argument 'half_life_h' must be a positive number, not {half_life_h}")
    factor = decay_factor(hours_between(volume.reference_time, to_time), half_life_h)
    metadata = dict(volume.metadata)
    metadata["decay_corrected_from"] = volume.reference_time.isoformat()
    metadata["decay_half_life_h"] = half_life_h
    return dataclasses.replace(
        volume,
        array=volume.array.astype(np.float64) * factor,
        reference_time=to_time,
        metadata=metadata,
    )
