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


class GeometryError(NetlmError, ValueError):
    """Images or masks whose grids, frames of reference or extents do not fit together."""


class InputError(NetlmError, ValueError):
    """An input document is malformed, or one of its values is impossible or implausible.

    Parameters
    ----------
    problems
        One ``(field_path, message)`` pair per problem, e.g.
        ``("labs.bilirubin.value", "40 mg/dL is implausible (> 30 mg/dL)")``.
    """

    what = "input"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        if not problems:
            raise ValueError(f"{type(self).__name__} needs at least one problem")
        self.problems = list(problems)
        lines = [f"{path}: {message}" if path else message for path, message in self.problems]
        super().__init__(f"invalid {self.what}: " + "; ".join(lines))

    @property
    def fields(self) -> list[str]:
        """The field paths that have a problem, in order."""
        return [path for path, _ in self.problems]


class DocumentError(InputError):
    """A YAML or JSON document cannot be read safely (see :mod:`netlm.documents`).

    The loaders of each document type re-raise it as their own error
    (:class:`CaseError`, :class:`PlanError`...); this type is what
    :func:`netlm.documents.parse_document` raises when no other is asked for.
    """

    what = "document"


class CaseError(InputError):
    """A case file (``netlm/case/v1``) is malformed or holds an impossible value."""

    what = "case"


class PlanError(InputError):
    """A radioembolization plan (``netlm/sirt-plan/v1``) is malformed or impossible."""

    what = "plan"


class ResponseError(InputError):
    """A response file (``netlm/response/v1``) is malformed or inconsistent."""

    what = "response file"


class SourcesError(InputError):
    """A sources file (``netlm/sources/v1``) is malformed or reuses a built-in source id."""

    what = "sources file"


class UnsafePlanError(NetlmError):
    """A plan breaks a hard safety limit and carries no override with a reason.

    Parameters
    ----------
    violations
        One line per broken limit (limit, value, source).
    """

    def __init__(self, violations: list[str]) -> None:
        self.violations = list(violations)
        super().__init__(
            "unsafe plan refused: "
            + "; ".join(self.violations)
            + " (an override needs a reason and the approving physicist)"
        )


class ProfileError(NetlmError, ValueError):
    """A rule profile is malformed or names an unknown parameter."""


class StoreError(NetlmError):
    """A registry (database) operation was refused or could not be completed.

    Nothing is half-written: the transaction that raised it was rolled back.
    """


class NotFoundError(StoreError, LookupError):
    """A record the caller named (patient, case, plan, user...) does not exist."""


class PermissionDeniedError(StoreError):
    """The acting user's role does not allow the operation (e.g. approving a plan)."""
