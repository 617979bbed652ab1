"""Pulling the series a dose needs from a PACS, and sending its results back.

:func:`pull_for_dose` picks the activity series (90Y PET ``PT``, or SPECT
``NM``) of a study — by its Series Instance UID, or as the one series of the
modality; several candidates are an error listing them, never a silent pick —
and, when asked, a CT and SEG mask series, and retrieves them into a work
folder, one sub-folder per series.  :func:`pull_chosen_series` retrieves
series a user picked (the web app's "import study from PACS"), and
:func:`send_dose_results` sends a stored dose's RT Dose, SEG, SR and PDF report
back to the study it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from netlm.errors import InputError
from netlm.pacs.client import PacsConfig, SeriesInfo, find_series, pull_series, push_files

__all__ = [
    "ACTIVITY_MODALITIES",
    "PulledSeries",
    "pull_chosen_series",
    "pull_for_dose",
    "select_series",
    "send_dose_results",
]

#: Modalities of an activity image, in the order they are looked for.
ACTIVITY_MODALITIES: Final = ("PT", "NM")


@dataclass(frozen=True)
class PulledSeries:
    """The folders a dose reads, pulled from the PACS."""

    activity: Path
    ct: Path | None
    masks: tuple[Path, ...]


def _describe(series: list[SeriesInfo]) -> str:
    return "; ".join(
        f"{s.series_uid} ({s.modality}, {s.description or 'no description'}, "
        f"{s.number_of_instances if s.number_of_instances is not None else '?'} instances)"
        for s in series
    )


def select_series(
    config: PacsConfig,
    study_uid: str,
    *,
    field: str,
    series_uid: str | None = None,
    modalities: tuple[str, ...] = (),
) -> SeriesInfo:
    """The one series of ``study_uid`` with ``series_uid``, or of the first modality found.

    Raises
    ------
    InputError
        (named ``field``) No such series, or several series of the modality.
    """
    if series_uid is not None:
        found = find_series(config, study_uid, series_uid=series_uid)
        if not found:
            raise InputError([(field, f"study {study_uid} has no series {series_uid}")])
        return found[0]
    for modality in modalities:
        found = find_series(config, study_uid, modality=modality)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InputError(
                [
                    (
                        field,
                        f"study {study_uid} has {len(found)} {modality} series; choose one by "
                        f"its UID: {_describe(found)}",
                    )
                ]
            )
    raise InputError(
        [(field, f"study {study_uid} has no series of modality {' or '.join(modalities)}")]
    )


def pull_for_dose(
    config: PacsConfig,
    study_uid: str,
    folder: Path,
    *,
    activity_series: str | None = None,
    activity_modality: str | None = None,
    ct_series: str | None = None,
    with_ct: bool = False,
    mask_series: tuple[str, ...] = (),
) -> PulledSeries:
    """Retrieve the activity series (and CT, SEG masks when asked) of a study into ``folder``.

    Parameters
    ----------
    activity_series, activity_modality
        The activity series by UID, or the one series of that modality
        (default: ``PT``, else ``NM``).
    ct_series, with_ct
        A CT series by UID, or (``with_ct``) the study's one CT series.
    mask_series
        UIDs of SEG (or RTSTRUCT) series holding the VOIs.
    """
    modalities = (activity_modality,) if activity_modality else ACTIVITY_MODALITIES
    activity = select_series(
        config,
        study_uid,
        field="activity_series",
        series_uid=activity_series,
        modalities=modalities,
    )
    if activity.modality not in ACTIVITY_MODALITIES:
        raise InputError(
            [("activity_series", f"{activity.series_uid} is {activity.modality}, not PT or NM")]
        )
    activity_folder = folder / f"activity-{activity.series_uid}"
    pull_series(config, study_uid, activity.series_uid, activity_folder)
    ct_folder: Path | None = None
    if ct_series is not None or with_ct:
        ct = select_series(
            config, study_uid, field="ct_series", series_uid=ct_series, modalities=("CT",)
        )
        ct_folder = folder / f"ct-{ct.series_uid}"
        pull_series(config, study_uid, ct.series_uid, ct_folder)
    masks: list[Path] = []
    for uid in mask_series:
        info = select_series(config, study_uid, field="mask_series", series_uid=uid)
        if info.modality not in ("SEG", "RTSTRUCT"):
            raise InputError([("mask_series", f"{uid} is {info.modality}, not SEG or RTSTRUCT")])
        masks.extend(pull_series(config, study_uid, uid, folder / f"masks-{uid}"))
    return PulledSeries(activity=activity_folder, ct=ct_folder, masks=tuple(masks))


def pull_chosen_series(
    config: PacsConfig, study_uid: str, series_uids: tuple[str, ...], folder: Path
) -> list[tuple[SeriesInfo, Path]]:
    """Retrieve the series ``series_uids`` of ``study_uid``, each into ``folder/<UID>/``.

    Every series is looked up first (QIDO-RS), so that an unknown UID is refused
    before anything is retrieved.

    Raises
    ------
    InputError
        (``series``) No series chosen, or one the study does not hold.
    """
    if not series_uids:
        raise InputError([("series", "choose at least one series to import")])
    chosen = [
        select_series(config, study_uid, field="series", series_uid=uid) for uid in series_uids
    ]
    pulled: list[tuple[SeriesInfo, Path]] = []
    for info in chosen:
        target = folder / info.series_uid
        pull_series(config, study_uid, info.series_uid, target)
        pulled.append((info, target))
    return pulled


def send_dose_results(config: PacsConfig, dose_folder: Path, activity_series: Path) -> list[str]:
    """Send a stored dose's RT Dose, SEG, SR and Encapsulated PDF to the PACS (STOW-RS).

    ``dose_folder`` is where :func:`netlm.workflows.dose.compute_dose` wrote the
    dose of the DICOM series ``activity_series``; SEG, SR and PDF are written
    there first (:func:`netlm.workflows.dicom_results.write_dicom_results`), in
    the activity's study and Frame of Reference.

    Returns
    -------
    list of str
        The SOP Instance UIDs the PACS stored.
    """
    from netlm.workflows.dicom_results import stored_dose_result, write_dicom_results

    result = stored_dose_result(dose_folder, activity_series)
    files = write_dicom_results(result, activity_series, dose_folder)
    return push_files(config, files)
