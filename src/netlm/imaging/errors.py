"""What the image readers raise and warn, and how their messages write numbers.

:class:`ImagingError` (a file cannot be read, or holds something netlm cannot
use) and :class:`ImagingWarning` (read, but worth a look) are raised by every
module of :mod:`netlm.imaging`; :mod:`netlm.imaging.io` re-exports both.  The
helpers write millimetres and LPS points the same way in every message.
"""

from __future__ import annotations

from collections.abc import Iterable

from netlm.errors import NetlmError

__all__ = ["ImagingError", "ImagingWarning"]


class ImagingError(NetlmError, ValueError):
    """An image or mask file cannot be read, or holds something netlm cannot use.

    The message names the file (or folder) and says what is wrong with it.
    """


class ImagingWarning(UserWarning):
    """An image or mask was read, but something about it deserves a look.

    For example a mask part of which lies outside the reference image (the
    outside part is dropped), or segments with the same name.
    """


def _fmt(value: float) -> str:
    """A coordinate in mm for a message: three decimals at most, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _fmt_point(point: Iterable[float]) -> str:
    return "(" + ", ".join(_fmt(float(v)) for v in point) + ")"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # SimpleITK puts the useful sentence last, after the source location.
    return lines[-1] if lines else type(exc).__name__
