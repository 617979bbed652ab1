"""Argument checks shared by the clinical scores (one place, one wording)."""

from __future__ import annotations

import math


def check_number(
    name: str,
    value: float | None,
    problems: list[tuple[str, str]],
    *,
    positive: bool = False,
    high: float | None = None,
    required: bool = False,
) -> None:
    """Append ``(name, message)`` to ``problems`` unless ``value`` is acceptable.

    Acceptable: ``None`` (unless ``required``) or a finite number >= 0 (> 0 when
    ``positive``) and <= ``high`` when given.  Booleans are not numbers.
    """
    if value is None:
        if required:
            problems.append((name, "is required"))
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append((name, f"must be a number, not {type(value).__name__}"))
    elif not math.isfinite(value):
        problems.append((name, f"must be a finite number, not {value!r}"))
    elif positive and value <= 0:
        problems.append((name, f"must be > 0, not {value:g}"))
    elif value < 0:
        problems.append((name, f"must be >= 0, not {value:g}"))
    elif high is not None and value > high:
        problems.append((name, f"must be <= {high:g}, not {value:g}"))
