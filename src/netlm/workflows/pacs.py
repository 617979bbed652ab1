"""Pulling the series a dose needs from a PACS, and sending its results back.

:func:`pull_for_dose` picks the activity series (90Y PET ``PT``, or SPECT
``NM``) of a study — by its Series Instance UID, or as the one series of the
modality; several candidates are an error listing them, never a silent pick —
and, when asked, a CT and SEG mask series, and retrieves them into a work
folder, one sub-folder per series.  :func:`pull_chosen_series` retrieves
series a user picked, and :func:`send_dose_results` sends a stored dose's RT
Dose, SEG, SR and PDF report back to the study it came from.

The web app's "import study from PACS" and "send to PACS" run on the
registry: :func:`find_pacs_studies` searches, :func:`import_pacs_series`
stores the chosen series as a patient's images (all or nothing), and
:func:`send_dose_to_pacs` sends a patient's computed dose and audits it.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from netlm.errors import InputError, NotFoundError
from netlm.pacs.client import (
    PacsConfig,
    SeriesInfo,
    find_series,
    find_studies,
    pull_series,
    push_files,
)

if TYPE_CHECKING:  # the registry's use cases import it; a pull for a dose needs no registry
    from netlm.store.repository import ImageOut, Store

__all__ = [
    "ACTIVITY_MODALITIES",
    "MASK_KINDS",
    "MODALITY_KINDS",
    "PulledSeries",
    "find_pacs_studies",
    "import_pacs_series",
    "pull_chosen_series",
    "pull_for_dose",
    "select_series",
    "send_dose_results",
    "send_dose_to_pacs",
    "study_kind_for",
]

#: Modalities of an activity image, in the order they are looked for.
ACTIVITY_MODALITIES: Final = ("PT", "NM")
#: Image kinds of masks (a series of these kinds is read as masks, not as an image).
MASK_KINDS: Final = ("segmentation", "rtstruct")
#: The kind a PACS series becomes by its DICOM Modality (others: ``other``).
MODALITY_KINDS: Final = {
    "CT": "ct",
    "MR": "mr",
    "PT": "y90_pet",
    "NM": "spect",
    "SEG": "segmentation",
    "RTSTRUCT": "rtstruct",
    "RTDOSE": "rtdose",
    "US": "ultrasound",
    "XA": "angiography",
}
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def study_kind_for(modality: str) -> str:
    """The image kind a PACS series of ``modality`` is stored as.

    Examples
    --------
    >>> study_kind_for("PT"), study_kind_for("SEG"), study_kind_for("OT")
    ('y90_pet', 'segmentation', 'other')
    """
    return MODALITY_KINDS.get(modality.upper(), "other")


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


def find_pacs_studies(
    config: PacsConfig, *, patient_id: str | None, accession: str | None
) -> list[dict[str, Any]]:
    """Studies (each with its series) of the PACS matching a patient id or accession number.

    Raises
    ------
    InputError
        (``patient_id``) Neither a patient id nor an accession number.
    """
    if not (patient_id or accession):
        raise InputError([("patient_id", "give the patient's identifier or an accession number")])
    found = []
    for study in find_studies(
        config, patient_id=patient_id or None, accession_number=accession or None
    ):
        series = find_series(config, study.study_uid)
        found.append({"study": study, "series": series})
    return found


def import_pacs_series(
    config: PacsConfig,
    store: Store,
    files_dir: Path,
    patient_id: int,
    chosen: Sequence[str],
    kinds: Mapping[str, str],
    *,
    actor: str,
) -> list[ImageOut]:
    """Pull the chosen ``"<study UID>/<series UID>"`` series and store them as image records.

    Each series is kept as a folder of DICOM files (a SEG or RTSTRUCT as its
    one file) in the patient's folder and must read as an image (a mask
    series: as masks); ``kinds`` maps a series UID to the kind it is stored
    as (:func:`study_kind_for` its modality by default).  Nothing is stored
    unless every series is.

    Raises
    ------
    NotFoundError
        No such patient.
    InputError
        (``series``) No series, a malformed UID pair or an unreadable series;
        (``kind-<series UID>``) an unknown kind.
    """
    from netlm.store.repository import IMAGE_KINDS
    from netlm.workflows.images import check_image, check_masks, patient_files_dir

    store.get_patient(patient_id)
    by_study: dict[str, list[str]] = {}
    for value in chosen:
        study_uid, _, series_uid = value.partition("/")
        if not (_UID.match(study_uid) and _UID.match(series_uid)):
            raise InputError([("series", f"{value!r} is not a study/series UID pair")])
        by_study.setdefault(study_uid, []).append(series_uid)
    if not by_study:
        raise InputError([("series", "choose at least one series to import")])
    work = patient_files_dir(files_dir, patient_id) / f"pacs-{uuid.uuid4().hex[:16]}"
    pending: list[tuple[str, Path, str, str]] = []
    try:
        for study_uid, series_uids in by_study.items():
            for info, folder in pull_chosen_series(config, study_uid, tuple(series_uids), work):
                kind = kinds.get(info.series_uid) or study_kind_for(info.modality)
                if kind not in IMAGE_KINDS:
                    raise InputError([(f"kind-{info.series_uid}", f"unknown kind {kind!r}")])
                files = sorted(p for p in folder.iterdir() if p.is_file())
                path = files[0] if kind in MASK_KINDS and len(files) == 1 else folder
                if kind in MASK_KINDS:
                    if kind == "segmentation":
                        check_masks(path, "series")
                else:
                    check_image(path, "series")
                text = f"PACS {info.modality} series: {info.description or 'no description'}"
                pending.append((kind, path, info.series_uid, text))
        return [
            store.add_image(
                patient_id,
                kind=kind,
                path=str(path),
                series_uid=series_uid,
                description=text,
                actor=actor,
            )
            for kind, path, series_uid, text in pending
        ]
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def send_dose_to_pacs(
    config: PacsConfig,
    store: Store,
    files_dir: Path,
    patient_id: int,
    image_id: int,
    *,
    actor: str,
) -> int:
    """Send a computed dose's RT Dose, SEG, SR and PDF report to the PACS: instances stored.

    The dose must have been computed from a DICOM series the server holds for
    this patient (the results go to that series' study).  The sending is audited.

    Raises
    ------
    NotFoundError
        No such image, or it is not a computed dose.
    InputError
        (``activity``) The dose's activity image is no longer held.
    """
    from netlm.workflows.images import dose_document, image_file

    image, rtdose = image_file(store, files_dir, patient_id, image_id)
    if image.kind != "rtdose":
        raise NotFoundError(f"image {image_id} is not a computed dose")
    document = dose_document(rtdose)
    activity = str(document.get("activity_image") or "")
    source = next(
        (i for i in store.images(patient_id) if i.path is not None and i.path == activity),
        None,
    )
    if source is None:
        raise InputError([("activity", "the dose's activity image is no longer held")])
    sent = send_dose_results(config, rtdose.parent, Path(activity))
    store.record_sent(
        patient_id,
        actor=actor,
        what="dose results to PACS",
        details={
            "rtdose_image_id": image_id,
            "activity_image_id": source.id,
            "pacs": config.url,
            "instances": len(sent),
        },
    )
    return len(sent)
