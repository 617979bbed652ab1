"""Reading segmentations into boolean masks: :func:`read_masks`.

3D Slicer ``.seg.nrrd`` segmentations, label maps (NIfTI, NRRD, MetaImage),
DICOM Segmentation objects (highdicom) and RT Structure Sets (closed planar
contours filled per slice onto the reference grid).  Masks are boolean volumes
with unit ``"label"``, keyed by segment name; given a reference image they are
checked against its frame of reference and extent and resampled onto its grid
(nearest neighbour).  Re-exported by :mod:`netlm.imaging.io`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows

from netlm.errors import GeometryError
from netlm.imaging.dicom import _files_below, _read_dicom_header
from netlm.imaging.errors import ImagingError, ImagingWarning
from netlm.imaging.itk import (
    _check_frame_of_reference,
    _format_of,
    _geometry_from_sitk,
    _index_to_lps,
    _is_slicer_segmentation,
    _lps_to_index,
    _read_itk,
    resample_to,
)
from netlm.imaging.limits import label_count_problem
from netlm.volume import ImageVolume

__all__ = ["read_masks"]


def read_masks(
    path: str | Path,
    reference: ImageVolume | None = None,
    *,
    labels: Mapping[int, str] | None = None,
    outside: Literal["warn", "raise"] = "warn",
) -> dict[str, ImageVolume]:
    """Read the segments of a segmentation as boolean masks keyed by name.

    Parameters
    ----------
    path
        A 3D Slicer ``.seg.nrrd`` (names from the ``Segment{N}_Name`` fields;
        each segment is ``layer == label value``, so overlapping segments on
        separate layers are kept apart); a label map (NIfTI, NRRD, MetaImage:
        one mask per non-zero label); a DICOM Segmentation (names from the
        Segment Labels; fractional segments are thresholded at 0.5); or an RT
        Structure Set (closed planar contours, rasterised onto ``reference``).
        A folder must hold exactly one DICOM SEG or RTSTRUCT.
    reference
        The image the masks are for.  When given, each mask is checked against
        it and resampled onto its grid (nearest neighbour); required for an RT
        Structure Set.
    labels
        For a label map: ``{label value: name}``.  Only the labels named are
        returned, and only those present in the image; two labels given one
        name are joined into one mask.  Without it every non-zero label ``n``
        is returned as ``str(n)``.
    outside
        What to do when part of a mask lies outside ``reference``: ``"warn"``
        (an :class:`ImagingWarning`; that part is dropped) or ``"raise"``
        (a :class:`GeometryError`).  A mask that lies wholly outside is
        always a :class:`GeometryError`.

    Returns
    -------
    dict[str, ImageVolume]
        Boolean arrays, unit ``"label"``; on the grid of ``reference`` when one
        is given, else on the segmentation's own grid.

    Raises
    ------
    ImagingError
        The file is unreadable or not a segmentation; an RT Structure Set
        without ``reference``; contours not parallel to the reference slices.
    GeometryError
        The masks' frame of reference differs from the reference image's; a
        mask lies outside the reference image (wholly, or partly when
        ``outside="raise"``).

    Notes
    -----
    RT Structure Set contours are filled per slice with even-odd rule (a
    contour inside another in the same plane is a hole); each contour plane
    goes to the nearest reference slice, and reference slices without a
    contour stay empty (no interpolation between contour planes).  A voxel
    belongs to a contour when its centre lies inside the polygon.  A
    degenerate contour (fewer than three points, e.g. a single point, or
    points on one line: zero area) is skipped with an :class:`ImagingWarning`
    naming the ROI and the contour; the rest of the file is read.

    NIfTI, NRRD and MetaImage files carry no frame of reference: their masks
    are taken to be in the reference image's patient coordinates (3D Slicer
    keeps the LPS positions of the image it segmented), so only their extent
    is checked.
    """
    if outside not in ("warn", "raise"):
        raise ImagingError(f"Argument 'outside' must be 'warn' or 'raise', not {outside!r}")
    source = Path(path)
    if not source.exists():
        raise ImagingError(f"{source}: no such file or folder")
    if source.is_dir():
        source = _single_mask_file(source)
    fmt = _format_of(source)
    if fmt is not None:
        image = _read_itk(source)
        if _is_slicer_segmentation(image):
            if labels is not None:
                raise ImagingError(
                    f"{source}: Argument 'labels' applies to label maps; a 3D Slicer "
                    "segmentation names its segments itself"
                )
            grid, layers, segments = _slicer_segments(image, source)
        else:
            grid, layers, segments = _label_segments(image, source, fmt, labels)
        if reference is None:
            return _split_layers(grid, layers, segments)
        # Resample each label layer once and split it afterwards: nearest neighbour
        # picks the same source voxel for every segment, so the masks are those of
        # resampling each segment alone, at a fraction of the time and memory.
        return _fit_layers(grid, layers, segments, reference, source, outside)
    else:
        header = _read_dicom_header(source)
        modality = "" if header is None else str(header.get("Modality", ""))
        if labels is not None:
            raise ImagingError(f"{source}: Argument 'labels' applies to label maps only")
        if modality == "SEG":
            masks, frame = _dicom_seg_masks(source)
        elif modality == "RTSTRUCT":
            if reference is None:
                raise ImagingError(
                    f"{source}: an RT Structure Set holds contours, not a grid; "
                    "pass the image they were drawn on as reference="
                )
            return _rtstruct_masks(source, reference, outside)
        else:
            raise ImagingError(
                f"{source}: not a segmentation netlm reads (3D Slicer .seg.nrrd, a label map "
                "in NIfTI/NRRD/MetaImage, DICOM SEG or RTSTRUCT)"
            )
    if reference is None:
        return masks
    _check_frame_of_reference(str(source), frame, reference)
    return {
        name: _fit(mask, reference, f"{source}: segment {name!r}", outside)
        for name, mask in masks.items()
    }


def _single_mask_file(folder: Path) -> Path:
    found = []
    for file in _files_below(folder):
        header = _read_dicom_header(file)
        if header is not None and str(header.get("Modality", "")) in {"SEG", "RTSTRUCT"}:
            found.append(file)
    if len(found) != 1:
        raise ImagingError(
            f"{folder}: holds {len(found)} DICOM SEG/RTSTRUCT files; give the file itself"
            + (": " + ", ".join(f.name for f in found[:5]) if found else "")
        )
    return found[0]


def _mask_volume(
    array: np.ndarray,
    geometry: ImageVolume,
    *,
    frame: str | None,
    metadata: dict[str, object],
) -> ImageVolume:
    return ImageVolume(
        array=np.asarray(array, dtype=bool),
        spacing_mm=geometry.spacing_mm,
        origin_mm=geometry.origin_mm,
        direction=geometry.direction,
        unit="label",
        frame_of_reference_uid=frame,
        metadata=metadata,
    )


def _unique_name(name: str, taken: Mapping[str, object], tag: str, source: Path) -> str:
    if name not in taken:
        return name
    renamed = f"{name} [{tag}]"
    warnings.warn(
        f"{source}: two segments are named {name!r}; the second is returned as {renamed!r}",
        ImagingWarning,
        stacklevel=4,
    )
    return renamed


def _grid_of(image: Any) -> ImageVolume:
    spacing, origin, direction = _geometry_from_sitk(image)
    return ImageVolume(
        array=np.zeros((1, 1, 1), dtype=bool),
        spacing_mm=spacing,
        origin_mm=origin,
        direction=direction,
    )


@dataclasses.dataclass(frozen=True)
class _Segment:
    """One segment of a label-layer file: ``layers[layer]`` in ``values``."""

    name: str
    layer: int
    values: tuple[int, ...]
    metadata: dict[str, object]


def _select(layer: np.ndarray, values: Sequence[int]) -> np.ndarray:
    return np.isin(layer, values) if len(values) > 1 else layer == values[0]


def _split_layers(
    grid: ImageVolume, layers: Sequence[np.ndarray], segments: Sequence[_Segment]
) -> dict[str, ImageVolume]:
    return {
        s.name: _mask_volume(
            _select(layers[s.layer], s.values), grid, frame=None, metadata=s.metadata
        )
        for s in segments
    }


def _fit_layers(
    grid: ImageVolume,
    layers: Sequence[np.ndarray],
    segments: Sequence[_Segment],
    reference: ImageVolume,
    source: Path,
    outside: str,
) -> dict[str, ImageVolume]:
    """The segments on ``reference``'s grid, each label layer resampled once.

    Gives the masks of :func:`_fit` on each segment alone (same outside
    checks and messages, same nearest-neighbour voxels).
    """
    fitted: dict[str, ImageVolume] = {}
    for index, layer in enumerate(layers):
        mine = [s for s in segments if s.layer == index]
        if not mine:
            continue
        if any(0 in s.values for s in mine):  # 0 is also the value outside the grid
            for s in mine:
                mask = _mask_volume(_select(layer, s.values), grid, frame=None, metadata=s.metadata)
                fitted[s.name] = _fit(mask, reference, f"{source}: segment {s.name!r}", outside)
            continue
        volume = dataclasses.replace(grid, array=layer)
        target = grid
        if not volume.same_grid(reference):
            _report_layer_outside(volume, mine, reference, source, outside)
            layer, target = resample_to(volume, reference, kind="label").array, reference
        for s in mine:
            fitted[s.name] = _mask_volume(
                _select(layer, s.values),
                target,
                frame=reference.frame_of_reference_uid,
                metadata=s.metadata,
            )
    return {s.name: fitted[s.name] for s in segments}


def _report_layer_outside(
    layer: ImageVolume,
    segments: Sequence[_Segment],
    reference: ImageVolume,
    source: Path,
    outside: str,
) -> None:
    """:func:`_report_outside` for every segment of one label layer."""
    k, j, i = np.nonzero(layer.array)
    if not k.size:
        return
    limits = np.asarray(reference.shape_ijk, dtype=float) - 0.5
    # The reference grid's box is convex and the index map affine: when the
    # corners of the labelled voxels' bounding box lie inside, every voxel does.
    low, high = (i.min(), j.min(), k.min()), (i.max(), j.max(), k.max())
    corners = np.array(
        [
            [a, b, c]
            for a in (low[0], high[0])
            for b in (low[1], high[1])
            for c in (low[2], high[2])
        ],
        dtype=float,
    )
    index = _lps_to_index(reference, _index_to_lps(layer, corners))
    if np.all((index >= -0.5) & (index < limits)):
        return
    index = _lps_to_index(reference, _index_to_lps(layer, np.column_stack([i, j, k]).astype(float)))
    inside = np.all((index >= -0.5) & (index < limits), axis=1)
    values = layer.array[k, j, i]
    for s in segments:
        selected = _select(values, s.values)
        n_total = int(selected.sum())
        if n_total:
            n_outside = int((selected & ~inside).sum())
            _report_outside(f"{source}: segment {s.name!r}", n_outside, n_total, outside)


def _slicer_segments(
    image: Any, source: Path
) -> tuple[ImageVolume, list[np.ndarray], list[_Segment]]:
    if image.GetDimension() != 3:
        raise ImagingError(f"{source}: a {image.GetDimension()}-D segmentation; expected 3-D")
    meta = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    numbers = sorted(
        int(match.group(1))
        for key in meta
        if (match := re.fullmatch(r"Segment(\d+)_Name", key)) is not None
    )
    array = sitk.GetArrayFromImage(image)
    n_layers = 1 if array.ndim == 3 else array.shape[3]
    layers = [array] if array.ndim == 3 else [array[..., n] for n in range(n_layers)]
    segments: list[_Segment] = []
    taken: dict[str, object] = {}
    for number in numbers:
        prefix = f"Segment{number}_"
        name = meta[prefix + "Name"].strip()
        # Files from Slicer before 4.11 have one segment per layer, value 1.
        layer = int(meta.get(prefix + "Layer", number if n_layers > 1 else 0))
        label = int(meta.get(prefix + "LabelValue", 1))
        if layer >= n_layers:
            raise ImagingError(
                f"{source}: segment {name!r} is on layer {layer}, but the file has {n_layers}"
            )
        name = _unique_name(name, taken, meta.get(prefix + "ID", str(number)), source)
        taken[name] = None
        segments.append(
            _Segment(
                name=name,
                layer=layer,
                values=(label,),
                metadata={
                    "source": str(source),
                    "segment_id": meta.get(prefix + "ID", ""),
                    "layer": layer,
                    "label_value": label,
                },
            )
        )
    return _grid_of(image), layers, segments


def _label_segments(
    image: Any, source: Path, fmt: str, labels: Mapping[int, str] | None
) -> tuple[ImageVolume, list[np.ndarray], list[_Segment]]:
    if image.GetNumberOfComponentsPerPixel() != 1 or image.GetDimension() != 3:
        raise ImagingError(f"{source}: a label map must be a 3-D scalar image")
    array = sitk.GetArrayFromImage(image)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(np.mod(array, 1) == 0):
            raise ImagingError(f"{source}: not a label map (non-integer values)")
        array = array.astype(np.int64)
    if array.size and array.min() >= 0 and array.max() < 2**24:
        counts = np.bincount(array.ravel().astype(np.int64))
        present = [int(v) for v in np.nonzero(counts)[0] if v != 0]
    else:
        present = [int(v) for v in np.unique(array) if v != 0]
    problem = label_count_problem(len(present))
    if problem is not None:
        raise ImagingError(f"{source}: {problem}")
    if labels is None:
        wanted: dict[str, list[int]] = {str(v): [v] for v in present}
    else:
        wanted = {}
        for value, name in labels.items():
            if int(value) in present:
                wanted.setdefault(str(name), []).append(int(value))
    segments = [
        _Segment(
            name=name,
            layer=0,
            values=tuple(values),
            metadata={"source": str(source), "format": fmt, "label_values": values},
        )
        for name, values in wanted.items()
    ]
    return _grid_of(image), [array], segments


def _dicom_seg_masks(source: Path) -> tuple[dict[str, ImageVolume], str | None]:
    import highdicom as hd  # imported here: highdicom takes a second to import

    try:
        segmentation = hd.seg.segread(source)
        volume = segmentation.get_volume(combine_segments=False, skip_overlap_checks=True)
    except Exception as exc:  # highdicom raises ValueError, RuntimeError, AttributeError...
        raise ImagingError(f"{source}: cannot read the DICOM Segmentation: {exc}") from exc
    if volume is None:
        raise ImagingError(f"{source}: the segmentation frames do not form a regular 3-D grid")
    affine = np.asarray(volume.affine, dtype=float)
    # highdicom arrays are (slice, row, column); netlm's (k, j, i) are the same axes.
    axes = [affine[:3, 2], affine[:3, 1], affine[:3, 0]]
    spacing = [float(np.linalg.norm(a)) for a in axes]
    direction = np.column_stack([a / s for a, s in zip(axes, spacing, strict=True)])
    grid = ImageVolume(
        array=np.zeros((1, 1, 1), dtype=bool),
        spacing_mm=(spacing[0], spacing[1], spacing[2]),
        origin_mm=(float(affine[0, 3]), float(affine[1, 3]), float(affine[2, 3])),
        direction=tuple(float(v) for v in direction.ravel()),
    )
    frame = str(segmentation.get("FrameOfReferenceUID", "")) or None
    fractional = str(segmentation.get("SegmentationType", "")) == "FRACTIONAL"
    array = np.asarray(volume.array)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    masks: dict[str, ImageVolume] = {}
    numbers = list(segmentation.segment_numbers)
    for channel, number in enumerate(numbers):
        description = segmentation.get_segment_description(number)
        name = str(description.segment_label).strip() or f"segment {number}"
        values = array[..., channel]
        mask = values >= 0.5 if fractional else values > 0
        name = _unique_name(name, masks, str(number), source)
        masks[name] = _mask_volume(
            mask,
            grid,
            frame=frame,
            metadata={"source": str(source), "segment_number": number},
        )
    return masks, frame


def _fit(mask: ImageVolume, reference: ImageVolume, what: str, outside: str) -> ImageVolume:
    """``mask`` on the grid of ``reference``, after checking that it lies inside it."""
    if not mask.same_grid(reference):
        k, j, i = np.nonzero(mask.array)
        if k.size:
            points = _index_to_lps(mask, np.column_stack([i, j, k]).astype(float))
            index = _lps_to_index(reference, points)
            limits = np.asarray(reference.shape_ijk, dtype=float) - 0.5
            inside = np.all((index >= -0.5) & (index < limits), axis=1)
            _report_outside(what, int(inside.size - inside.sum()), int(inside.size), outside)
        mask = resample_to(mask, reference, kind="label")
    return dataclasses.replace(
        mask,
        frame_of_reference_uid=reference.frame_of_reference_uid or mask.frame_of_reference_uid,
    )


def _report_outside(what: str, n_outside: int, n_total: int, outside: str) -> None:
    if n_outside == 0:
        return
    if n_outside == n_total:
        raise GeometryError(f"{what}: lies wholly outside the reference image")
    message = (
        f"{what}: {n_outside} of {n_total} voxels ({100.0 * n_outside / n_total:.1f} %) lie "
        "outside the reference image"
    )
    if outside == "raise":
        raise GeometryError(message)
    warnings.warn(message + "; that part is dropped", ImagingWarning, stacklevel=4)


# --------------------------------------------------------------------------- RTSTRUCT
def _rtstruct_masks(source: Path, reference: ImageVolume, outside: str) -> dict[str, ImageVolume]:
    from matplotlib.path import Path as Polygon  # matplotlib is slow to import

    full = pydicom.dcmread(source)
    frames_of_roi: dict[int, str] = {}
    names: dict[int, str] = {}
    for roi in full.get("StructureSetROISequence", []):
        names[int(roi.ROINumber)] = str(roi.get("ROIName", "")).strip() or f"ROI {roi.ROINumber}"
        frames_of_roi[int(roi.ROINumber)] = str(roi.get("ReferencedFrameOfReferenceUID", ""))
    for item in full.get("ReferencedFrameOfReferenceSequence", []):
        _check_frame_of_reference(str(source), str(item.get("FrameOfReferenceUID", "")), reference)

    ni, nj, nk = reference.shape_ijk
    masks: dict[str, ImageVolume] = {}
    skipped: list[str] = []
    for roi_contour in full.get("ROIContourSequence", []):
        number = int(roi_contour.ReferencedROINumber)
        name = names.get(number, f"ROI {number}")
        _check_frame_of_reference(f"{source}: ROI {name!r}", frames_of_roi.get(number), reference)
        # Contours in one plane combine even-odd (holes); planes mapped to one slice are joined.
        planes: dict[tuple[int, float], np.ndarray] = {}
        n_inside = n_outside = 0
        closed = 0
        for position, contour in enumerate(roi_contour.get("ContourSequence", []), start=1):
            if str(contour.get("ContourGeometricType", "")) != "CLOSED_PLANAR":
                continue
            points = np.asarray([float(v) for v in contour.get("ContourData", [])], dtype=float)
            if points.size % 3:
                raise ImagingError(f"{source}: ROI {name!r} has a contour of {points.size} values")
            index = _lps_to_index(reference, points.reshape(-1, 3))
            k_values = index[:, 2]
            if index.shape[0] >= 3 and float(k_values.max() - k_values.min()) > 0.1:
                raise ImagingError(
                    f"{source}: ROI {name!r} has a contour that is not parallel to the slices "
                    "of the reference image; oblique contours are not supported"
                )
            degenerate = _degenerate_contour(index)
            if degenerate is not None:
                number_tag = contour.get("ContourNumber")
                label = f"contour {number_tag}" if number_tag is not None else "a contour"
                warnings.warn(
                    f"{source}: ROI {name!r} {label} (item {position} of its ContourSequence) "
                    f"{degenerate}: it encloses no area and is skipped",
                    ImagingWarning,
                    stacklevel=3,
                )
                continue
            closed += 1
            plane_k = float(k_values.mean())
            k = round(plane_k)
            fill, i0, j0 = _fill_polygon(Polygon, index[:, :2])
            if fill.size == 0:
                continue
            # Count the filled voxel centres inside and outside the reference grid.
            jj, ii = np.nonzero(fill)
            ii, jj = ii + i0, jj + j0
            in_plane = (ii >= 0) & (ii < ni) & (jj >= 0) & (jj < nj)
            in_slice = 0 <= k < nk
            n_in = int(in_plane.sum()) if in_slice else 0
            n_inside += n_in
            n_outside += int(ii.size) - n_in
            if not n_in:
                continue
            key = (k, round(plane_k, 3))
            plane = planes.get(key)
            if plane is None:
                plane = planes[key] = np.zeros((nj, ni), dtype=bool)
            plane[jj[in_plane], ii[in_plane]] ^= True
        if closed == 0:
            skipped.append(name)
            continue
        _report_outside(f"{source}: ROI {name!r}", n_outside, n_inside + n_outside, outside)
        array = np.zeros(reference.array.shape, dtype=bool)
        for (k, _), plane in planes.items():
            array[k] |= plane
        name = _unique_name(name, masks, str(number), source)
        masks[name] = _mask_volume(
            array,
            reference,
            frame=reference.frame_of_reference_uid or (frames_of_roi.get(number) or None),
            metadata={"source": str(source), "roi_number": number},
        )
    if skipped:
        warnings.warn(
            f"{source}: ROIs without closed planar contours are skipped: {', '.join(skipped)}",
            ImagingWarning,
            stacklevel=3,
        )
    return masks


def _degenerate_contour(index: np.ndarray) -> str | None:
    """Why a closed planar contour (vertices as continuous (i, j, k)) has no area, or None.

    Fewer than three points, or points on one line (shoelace area below 1e-9
    pixel²), enclose nothing; RT Structure Sets from some systems hold such
    contours (a single point marking a slice).
    """
    n = int(index.shape[0])
    if n < 3:
        return f"has {n} point{'s' if n != 1 else ''} (a closed contour needs at least 3)"
    i, j = index[:, 0], index[:, 1]
    area = 0.5 * abs(float(np.dot(i, np.roll(j, -1)) - np.dot(j, np.roll(i, -1))))
    if area < 1e-9:
        return f"has {n} points on one line (zero area)"
    return None


def _fill_polygon(polygon_class: Any, vertices: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Voxel centres inside a polygon given in continuous (i, j); the box's corner (i0, j0)."""
    i0 = math.ceil(float(vertices[:, 0].min()))
    i1 = math.floor(float(vertices[:, 0].max()))
    j0 = math.ceil(float(vertices[:, 1].min()))
    j1 = math.floor(float(vertices[:, 1].max()))
    if i1 < i0 or j1 < j0:
        return np.zeros((0, 0), dtype=bool), i0, j0
    jj, ii = np.mgrid[j0 : j1 + 1, i0 : i1 + 1]
    centres = np.column_stack([ii.ravel(), jj.ravel()]).astype(float)
    inside = polygon_class(vertices, closed=False).contains_points(centres)
    return np.asarray(inside, dtype=bool).reshape(ii.shape), i0, j0
