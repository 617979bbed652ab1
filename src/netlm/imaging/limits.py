"""Size limits checked from an image's header before its pixels are read.

A small compressed file can claim an enormous image (a 0.5 MB ``.nii.gz`` of
zeros can decompress to gigabytes), and a truncated file can be read with its
missing part silently filled with zeros.  The readers of
:mod:`netlm.imaging` (:mod:`~netlm.imaging.itk`, :mod:`~netlm.imaging.dicom`,
:mod:`~netlm.imaging.masks`) therefore ask this module first:

- :func:`itk_file_problem`: voxels and bytes of pixel data from the header of
  a NIfTI/NRRD/MetaImage file (SimpleITK reads only the header); for a gzip
  file the stream is decompressed (and discarded) to check that it is
  complete and holds the pixel data the header promises, stopping as soon as
  it passes the byte limit; an uncompressed single file must be as long as
  its pixel data;
- :func:`dicom_problem`: voxels and bytes from the headers of a DICOM series;
- :func:`label_count_problem`: how many labels a label map may hold (each one
  becomes a mask as large as the image).

Each returns why the file is refused, or ``None``.  :func:`check_image_file`
does all three for one file as it arrives (an upload) and raises
:class:`ImageLimitError` naming the limit.  The limits are an
:class:`ImageLimits`; a service sets its own for a block of work with
:func:`image_limits` (``netlm serve --max-image-voxels``, ``--max-image-bytes``,
``--max-labels``).  They are the service's own defaults [U] (sized for a
512 × 512 × 2048 CT in 32-bit floats), not clinical thresholds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import math
import zlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows

from netlm.errors import InputError


@dataclasses.dataclass(frozen=True)
class ImageLimits:
    """The largest image netlm reads.

    Attributes
    ----------
    max_voxels
        Voxels in one image (default 2**29 = 512 × 512 × 2048).
    max_bytes
        Bytes of (decompressed) pixel data in one image (default 2 GiB).
    max_labels
        Distinct non-zero labels in one label map (default 255).
    """

    max_voxels: int = 2**29
    max_bytes: int = 2 * 1024**3
    max_labels: int = 255

    def __post_init__(self) -> None:
        for name in ("max_voxels", "max_bytes", "max_labels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Argument '{name}' must be a positive integer, not {value!r}.")


DEFAULT_IMAGE_LIMITS = ImageLimits()

#: Where a service sets each limit: the ``netlm serve`` option of each :class:`ImageLimits` field.
LIMIT_OPTIONS = {
    "max_voxels": "--max-image-voxels",
    "max_bytes": "--max-image-bytes",
    "max_labels": "--max-labels",
}


class ImageLimitError(InputError):
    """An image file refused before its pixels are read.

    ``limit`` names the :class:`ImageLimits` field it is over (``"max_voxels"``,
    ``"max_bytes"``, ``"max_labels"``), or is ``None`` when the file is damaged
    (truncated, not valid gzip).
    """

    what = "image"

    def __init__(self, field: str, message: str, *, limit: str | None) -> None:
        super().__init__([(field, message)])
        self.limit = limit


class _Refusal(NamedTuple):
    limit: str | None
    message: str


_ACTIVE: ContextVar[ImageLimits | None] = ContextVar("netlm_image_limits", default=None)
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1024**2
#: Files whose pixel data lie in another file (the header names it).
_DETACHED = (".nhdr", ".mhd")


def current_limits() -> ImageLimits:
    """The limits in force (the defaults unless :func:`image_limits` set others)."""
    return _ACTIVE.get() or DEFAULT_IMAGE_LIMITS


@contextlib.contextmanager
def image_limits(limits: ImageLimits) -> Iterator[ImageLimits]:
    """Use ``limits`` for every image read inside the ``with`` block (this thread/task)."""
    token = _ACTIVE.set(limits)
    try:
        yield limits
    finally:
        _ACTIVE.reset(token)


def _size_problem(shape: Iterable[int], item_bytes: int, limits: ImageLimits) -> _Refusal | None:
    dims = [int(n) for n in shape]
    voxels = math.prod(dims)
    if voxels > limits.max_voxels:
        return _Refusal(
            "max_voxels",
            f"its header declares {voxels} voxels ({' x '.join(map(str, dims))}); "
            f"netlm reads at most {limits.max_voxels}",
        )
    if voxels * item_bytes > limits.max_bytes:
        return _Refusal(
            "max_bytes",
            f"its header declares {voxels * item_bytes} bytes of pixel data; "
            f"netlm reads at most {limits.max_bytes}",
        )
    return None


def _item_bytes(pixel_id: int, components: int) -> int:
    """Bytes per voxel of a SimpleITK pixel type (from a one-voxel image)."""
    itk: Any = sitk  # SimpleITK has no type hints
    probe = itk.Image([1, 1, 1], pixel_id, components) if components > 1 else None
    if probe is None:
        probe = itk.Image([1, 1, 1], pixel_id)
    return int(sitk.GetArrayViewFromImage(probe).nbytes)


def _data_offset(head: bytes) -> int:
    """Where the pixel data start in a NIfTI-1/-2 or MetaImage (``LOCAL``) file; 0 if unknown."""
    for order in ("<", ">"):
        size = int(np.frombuffer(head[:4], dtype=f"{order}i4")[0]) if len(head) >= 4 else 0
        if size == 348 and len(head) >= 112:  # NIfTI-1: vox_offset, float32 at byte 108
            return int(np.frombuffer(head[108:112], dtype=f"{order}f4")[0])
        if size == 540 and len(head) >= 176:  # NIfTI-2: vox_offset, int64 at byte 168
            return int(np.frombuffer(head[168:176], dtype=f"{order}i8")[0])
    marker = head.find(b"ElementDataFile = LOCAL")
    if marker >= 0:
        end = head.find(b"\n", marker)
        return end + 1 if end >= 0 else 0
    return 0


def _gzip_problem(
    path: Path, offset: int, pixel_bytes: int, limits: ImageLimits
) -> _Refusal | None:
    """Decompress ``path`` (discarding the output) to check it is complete and not too large."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    total = 0
    ceiling = limits.max_bytes + 1024**2  # room for a header beside the pixel data
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            data = chunk
            while data:
                try:
                    out = decompressor.decompress(data, _CHUNK)
                except zlib.error as exc:
                    return _Refusal(None, f"is not a valid gzip file ({exc})")
                total += len(out)
                if total > ceiling:
                    return _Refusal(
                        "max_bytes", f"decompresses to more than {limits.max_bytes} bytes"
                    )
                data = decompressor.unconsumed_tail
                if decompressor.eof:
                    break
            if decompressor.eof:
                break
    if not decompressor.eof:
        return _Refusal(None, "is truncated: the compressed data end before the gzip stream does")
    if total < offset + pixel_bytes:
        found = max(total - offset, 0)
        return _Refusal(
            None, f"is truncated: {pixel_bytes} bytes of pixel data expected, {found} found"
        )
    return None


def itk_file_problem(path: Path, limits: ImageLimits | None = None) -> str | None:
    """Why a NIfTI/NRRD/MetaImage file is refused before reading, or ``None``.

    A header SimpleITK cannot read is left to the reader (which reports it).
    """
    refusal = _itk_refusal(path, limits or current_limits())
    return None if refusal is None else refusal.message


def _itk_refusal(path: Path, limits: ImageLimits, *, strict: bool = False) -> _Refusal | None:
    """Why the file is refused; an unreadable header is refused only when ``strict``."""
    itk: Any = sitk  # SimpleITK has no type hints
    reader = itk.ImageFileReader()
    reader.SetFileName(str(path))
    unreadable = _Refusal(None, "has no image header netlm can read (damaged or truncated)")
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return unreadable if strict else None
    components = int(reader.GetNumberOfComponents())
    try:
        item = _item_bytes(reader.GetPixelID(), components)
    except RuntimeError:
        return unreadable if strict else None
    shape = [int(n) for n in reader.GetSize()]
    problem = _size_problem(shape, item, limits)
    if problem is not None:
        return problem
    pixel_bytes = math.prod(shape) * item
    with path.open("rb") as handle:
        head = handle.read(65536)
    name = path.name.lower()
    if head[:2] == _GZIP_MAGIC:
        try:
            with gzip.open(path, "rb") as stream:
                offset = _data_offset(stream.read(65536))
        except (OSError, EOFError, zlib.error):
            offset = 0  # _gzip_problem names what is wrong with the stream
        return _gzip_problem(path, offset, pixel_bytes, limits)
    if not name.endswith(_DETACHED) and not name.endswith(".nrrd"):
        # NIfTI and MetaImage: a header, then the raw pixel data
        size, offset = path.stat().st_size, _data_offset(head)
        if size < offset + pixel_bytes:
            return _Refusal(
                None,
                f"is truncated: {pixel_bytes} bytes of pixel data expected, "
                f"{max(size - offset, 0)} found",
            )
    return None


def dicom_problem(headers: Iterable[Any], limits: ImageLimits | None = None) -> str | None:
    """Why a DICOM series (its headers, pixels not read) is refused, or ``None``."""
    refusal = _dicom_refusal(headers, limits or current_limits())
    return None if refusal is None else refusal.message


def _dicom_refusal(headers: Iterable[Any], limits: ImageLimits) -> _Refusal | None:
    voxels = 0
    nbytes = 0
    for header in headers:
        frames = int(header.get("NumberOfFrames", 1) or 1)
        rows, columns = int(header.get("Rows", 0) or 0), int(header.get("Columns", 0) or 0)
        samples = int(header.get("SamplesPerPixel", 1) or 1)
        bits = int(header.get("BitsAllocated", 16) or 16)
        count = rows * columns * frames
        voxels += count
        nbytes += count * samples * max(bits // 8, 1)
    if voxels > limits.max_voxels:
        return _Refusal(
            "max_voxels",
            f"the series declares {voxels} voxels; netlm reads at most {limits.max_voxels}",
        )
    if nbytes > limits.max_bytes:
        return _Refusal(
            "max_bytes",
            f"the series holds {nbytes} bytes of pixel data; "
            f"netlm reads at most {limits.max_bytes}",
        )
    return None


def label_count_problem(count: int, limits: ImageLimits | None = None) -> str | None:
    """Why a label map with ``count`` distinct non-zero labels is refused, or ``None``."""
    limits = limits or current_limits()
    if count > limits.max_labels:
        return f"holds {count} labels; netlm reads at most {limits.max_labels} per label map"
    return None


#: File names SimpleITK reads (the header is checked before the pixels).
_ITK_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".hdr")


def _dicom_header(path: Path) -> Any | None:
    import pydicom  # imported here: only DICOM uploads need it
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None  # left to the reader, which names what is wrong


def _label_count(path: Path) -> int:
    """Distinct non-zero values of a label map (its size was checked before)."""
    itk: Any = sitk  # SimpleITK has no type hints
    try:
        image = itk.ReadImage(str(path))
        array = sitk.GetArrayViewFromImage(image)  # a view: ``image`` must outlive it
    except RuntimeError:
        return 0  # left to the reader
    values = np.unique(array)
    return int(np.count_nonzero(values))


def _file_refusal(path: Path, limits: ImageLimits, label_map: bool) -> _Refusal | None:
    with path.open("rb") as handle:
        head = handle.read(132)
    if head[128:132] == b"DICM":
        header = _dicom_header(path)
        if header is None:
            return None
        refusal = _dicom_refusal([header], limits)
        if refusal is None and label_map:
            # a DICOM SEG holds one mask per segment, an RTSTRUCT one per ROI
            count = len(header.get("SegmentSequence", None) or []) or len(
                header.get("StructureSetROISequence", None) or []
            )
            problem = label_count_problem(count, limits)
            refusal = None if problem is None else _Refusal("max_labels", problem)
        return refusal
    name = path.name.lower()
    if not (name.endswith(_ITK_SUFFIXES) or head[:2] == _GZIP_MAGIC):
        return None  # not an image netlm reads (a report, a note)
    refusal = _itk_refusal(path, limits, strict=True)
    if refusal is None and label_map:
        problem = label_count_problem(_label_count(path), limits)
        refusal = None if problem is None else _Refusal("max_labels", problem)
    return refusal


def check_image_file(
    path: Path, limits: ImageLimits | None = None, *, label_map: bool = False, field: str = "file"
) -> None:
    """Refuse an image file over ``limits`` (default :func:`current_limits`) before use.

    For a file that arrives at a service (an upload): NIfTI, NRRD and
    MetaImage files are checked from the header (a header that cannot be read
    is refused) and, when gzip-compressed, by decompressing (and discarding)
    the stream (:func:`itk_file_problem`);
    DICOM files from their header (:func:`dicom_problem`).  With
    ``label_map`` (a segmentation) the labels are counted too: the distinct
    non-zero values of a label image (read only after its size passed), the
    segments of a DICOM SEG, the ROIs of an RTSTRUCT.  Other files (a PDF, a
    note) pass unchecked: netlm does not read their pixels.

    Raises
    ------
    ImageLimitError
        Naming ``field``, the limit (``limit``, see :data:`LIMIT_OPTIONS`) or the damage.
    """
    limits = limits or current_limits()
    refusal = _file_refusal(path, limits, label_map)
    if refusal is None:
        return
    message = f"{path.name} {refusal.message}"
    if refusal.limit is not None:
        message += f" ({refusal.limit}; `netlm serve {LIMIT_OPTIONS[refusal.limit]}`)"
    raise ImageLimitError(field, message, limit=refusal.limit)


__all__ = [
    "DEFAULT_IMAGE_LIMITS",
    "LIMIT_OPTIONS",
    "ImageLimitError",
    "ImageLimits",
    "check_image_file",
    "current_limits",
    "dicom_problem",
    "image_limits",
    "itk_file_problem",
    "label_count_problem",
]
