"""Storing a study and masks uploaded from the board page as image records (all or nothing).

One NIfTI, NRRD or DICOM file is kept as it is, a zip of a DICOM series is
unpacked (names sanitised, sizes limited), several files are gathered into
one series folder; every file must read as an image (masks: as masks), under
the server's image limits, or nothing is kept.
"""

from __future__ import annotations

import contextlib
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final, cast

import fastapi
from starlette.datastructures import UploadFile

from netlm.api.config import ApiConfig
from netlm.api.files import safe_filename, save_upload
from netlm.api.limits import check_upload
from netlm.errors import InputError
from netlm.store.repository import IMAGE_KINDS, ImageOut
from netlm.workflows.images import check_image, check_masks, patient_files_dir

#: Kinds a study upload may take (computed results and masks have their own ways in).
STUDY_KINDS: Final = tuple(sorted(IMAGE_KINDS - {"rtdose", "dose_map", "segmentation", "rtstruct"}))
#: Most files one zip (or one upload of DICOM files) may hold.
MAX_SERIES_FILES: Final = 5000


def _save(upload: UploadFile, folder: Path, limit_bytes: int) -> Path:
    """:func:`~netlm.api.files.save_upload` for a file of a form read by Starlette."""
    return save_upload(cast(fastapi.UploadFile, upload), folder, limit_bytes)


def _limits(config: ApiConfig) -> contextlib.AbstractContextManager[object]:
    """Image reads under the server's limits (``netlm serve --max-image-*``)."""
    from netlm.imaging.limits import DEFAULT_IMAGE_LIMITS, image_limits

    return image_limits(config.image_limits or DEFAULT_IMAGE_LIMITS)


def _check_limits(config: ApiConfig, path: Path, kind: str, field: str) -> None:
    """An uploaded file over an image limit: ``413`` naming it; a damaged one: ``field``."""
    from netlm.imaging.limits import ImageLimitError

    try:
        check_upload(path, kind, config.image_limits)
    except ImageLimitError as exc:
        raise InputError([(field, message) for _, message in exc.problems]) from None


def _extract_zip(archive: Path, target: Path, limit_bytes: int) -> None:
    """Unpack ``archive``'s files flat into ``target`` (names sanitised, sizes limited)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if not members:
                raise InputError([("files", "the zip file holds no file")])
            if len(members) > MAX_SERIES_FILES:
                raise InputError([("files", f"the zip file holds over {MAX_SERIES_FILES} files")])
            if sum(m.file_size for m in members) > limit_bytes:
                raise InputError([("files", f"the zip file unpacks to over {limit_bytes} bytes")])
            target.mkdir(mode=0o700)
            for n, member in enumerate(members):
                name = f"{n:05d}-{safe_filename(member.filename, 'file')}"
                with zipped.open(member) as source, (target / name).open("xb") as out:
                    shutil.copyfileobj(source, out)
    except zipfile.BadZipFile:
        raise InputError([("files", "not a readable zip file")]) from None


def store_study_files(config: ApiConfig, patient_id: int, uploads: Sequence[UploadFile]) -> Path:
    """Store an uploaded study in the patient's folder: the path an image record names.

    One NIfTI, NRRD or DICOM file is stored as it is; a zip file is unpacked
    and several files are gathered into one folder (a DICOM series).  The
    result must read as one 3-D image, else nothing is kept.

    Raises
    ------
    InputError
        (``files``) No file, an unreadable zip, or no readable image.
    """
    files = [u for u in uploads if u.filename]
    if not files:
        raise InputError([("files", "choose the study's files (DICOM, a zip, NIfTI or NRRD)")])
    if len(files) > MAX_SERIES_FILES:
        raise InputError([("files", f"at most {MAX_SERIES_FILES} files at once")])
    root = patient_files_dir(config.files_dir, patient_id)
    saved = [_save(u, root, config.max_upload_bytes) for u in files]
    try:
        if len(saved) == 1 and saved[0].suffix.lower() == ".zip":
            path = saved[0].parent / "series"
            _extract_zip(saved[0], path, config.max_upload_bytes)
            saved[0].unlink()
            inside = sorted(path.iterdir())
            if len(inside) == 1:
                path = inside[0]
        elif len(saved) == 1:
            path = saved[0]
        else:
            path = saved[0].parent / "series"
            path.mkdir(mode=0o700)
            for n, file in enumerate(saved):
                file.rename(path / f"{n:05d}-{file.name}")
        with _limits(config):
            if path.is_file():
                _check_limits(config, path, "activity", "files")
            check_image(path, "files")
    except BaseException:
        for file in saved:
            shutil.rmtree(file.parent, ignore_errors=True)
        raise
    for file in saved[1:]:
        shutil.rmtree(file.parent, ignore_errors=True)
    return path


def store_upload(
    config: ApiConfig,
    patient_id: int,
    *,
    kind: str,
    description: str,
    study: Sequence[UploadFile],
    masks: Sequence[UploadFile],
    actor: str,
) -> list[ImageOut]:
    """Store an uploaded study and its masks as image records (all or nothing).

    Raises
    ------
    InputError
        Bad kind (``kind``), no or unreadable study (``files``), an unreadable
        mask (``mask_files``); nothing is stored then.
    """
    store = config.store
    store.get_patient(patient_id)
    study = [u for u in study if u.filename]
    masks = [u for u in masks if u.filename]
    if not study and not masks:
        raise InputError([("files", "choose a study or mask files to upload")])
    if study and kind not in STUDY_KINDS:
        raise InputError([("kind", f"unknown kind {kind!r}; use one of {', '.join(STUDY_KINDS)}")])
    written: list[Path] = []
    try:
        study_path = store_study_files(config, patient_id, study) if study else None
        if study_path is not None:
            written.append(study_path)
        mask_paths: list[Path] = []
        for upload in masks:
            path = _save(
                upload, patient_files_dir(config.files_dir, patient_id), config.max_upload_bytes
            )
            written.append(path)
            with _limits(config):
                _check_limits(config, path, "segmentation", "mask_files")
                check_masks(path, "mask_files")
            mask_paths.append(path)
        added: list[ImageOut] = []
        if study_path is not None:
            added.append(
                store.add_image(
                    patient_id,
                    kind=kind,
                    path=str(study_path),
                    description=description or f"uploaded {study_path.name}",
                    actor=actor,
                )
            )
        for path in mask_paths:
            added.append(
                store.add_image(
                    patient_id,
                    kind="segmentation",
                    path=str(path),
                    description=f"masks {path.name}",
                    actor=actor,
                )
            )
    except BaseException:
        root = patient_files_dir(config.files_dir, patient_id)
        for path in written:  # each upload lives in its own folder under the patient's
            shutil.rmtree(root / path.relative_to(root).parts[0], ignore_errors=True)
        raise
    return added
