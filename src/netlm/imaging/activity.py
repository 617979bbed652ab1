"""Activity images at the time of implant: the time convention of 90Y voxel dosimetry.

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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from netlm.errors import InputError
from netlm.sirt.physics import decay_factor, hours_between
from netlm.units import MIN_PER_H, S_PER_H
from netlm.volume import ImageVolume

__all__ = [
    "ACTIVITY_MISMATCH_TOLERANCE",
    "HALF_LIFE_TOLERANCE",
    "ActivityReference",
    "activity_at_implant",
    "activity_mismatch",
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
        An activity image in Bq/mL (see :func:`netlm.imaging.io.to_bq_per_ml`).
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
