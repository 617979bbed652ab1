"""The netlm exception hierarchy.

Every error a user can cause with bad input is a :class:`NetlmError`; the ones
that are about a value are also :class:`ValueError`, so callers that only know
the standard library still catch them.
"""

from __future__ import annotations


class NetlmError(Exception):
    """Base class of every error netlm raises on purpose."""


class UnitError(NetlmError, ValueError):
    """A quantity came with a unit netlm does not know, or one that does not fit."""


class CaseError(NetlmError, ValueError):
    """A case file is malformed, or one of its values is impossible or implausible.

    Parameters
    ----------
    problems
        One ``(field_path, message)`` pair per problem, e.g.
        ``("labs.bilirubin.value", "40 mg/dL is implausible (> 30 mg/dL)")``.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        if not problems:
            raise ValueError("CaseError needs at least one problem")
        self.problems = list(problems)
        lines = [f"{path}: {message}" if path else message for path, message in self.problems]
        super().__init__("invalid case: " + "; ".join(lines))

    @property
    def fields(self) -> list[str]:
        """The field paths that have a problem, in order."""
        return [path for path, _ in self.problems]


class ProfileError(NetlmError, ValueError):
    """A rule profile is malformed or names an unknown parameter."""
