"""Errors of a cohort run: bad input, a task that cannot run here, a foreign results folder."""

from __future__ import annotations

from netlm.errors import InputError, NetlmError


class CohortInputError(InputError):
    """A patient's input for a cohort task is missing or unreadable (names the field)."""

    what = "cohort input"


class TaskUnavailableError(NetlmError):
    """A cohort task cannot run here (e.g. a module it needs is not installed)."""


class ResultsIndexError(NetlmError, ValueError):
    """The results folder holds results of another task or an unreadable results index."""
