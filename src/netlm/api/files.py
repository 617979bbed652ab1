"""Files over HTTP: uploads streamed to the patient's folder, downloads made in a temporary one."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import HTTPException, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from netlm.errors import InputError

#: The OpenAPI ``responses`` of a route that answers a PDF report.
PDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "A PDF report."}
}


def temporary_file_response(
    make: Callable[[Path], object], filename: str, media_type: str
) -> FileResponse:
    """Write a file with ``make(path)`` in a temporary folder and send it; the folder goes after."""
    folder = Path(tempfile.mkdtemp(prefix="netlm-download-"))
    try:
        path = folder / filename
        make(path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None, default: str = "upload") -> str:
    """A file name without folders or odd characters (at most 100 characters)."""
    base = _SAFE_NAME.sub("_", Path(name or "").name).strip("._") or default
    return base[-100:]


def save_upload(upload: UploadFile, folder: Path, limit_bytes: int) -> Path:
    """Stream ``upload`` into a new sub-folder of ``folder``; refuse more than ``limit_bytes``.

    The file keeps its (sanitised) name, which readers use: a mask file
    ``liver.nii.gz`` is the mask ``liver``.  Folders are created 0700, the file 0600.
    """
    target = folder / uuid.uuid4().hex[:16] / safe_filename(upload.filename)
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # patient data: owner only
    for part in (folder, target.parent):
        part.mkdir(mode=0o700, exist_ok=True)
    written = 0
    try:
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            while chunk := upload.file.read(1024 * 1024):
                written += len(chunk)
                if written > limit_bytes:
                    raise HTTPException(413, f"upload larger than {limit_bytes} bytes")
                out.write(chunk)
        if written == 0:
            raise InputError([("file", "the uploaded file is empty")])
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return target
