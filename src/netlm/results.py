"""Results in a notebook: ``to_dict()`` and ``to_pandas()``.

Every result model of netlm (an :class:`~netlm.eligibility.result.Assessment`, a
:class:`~netlm.sirt.planner.PlanResult`, dose statistics and DVHs, a
:class:`~netlm.response.report.ResponseReport`, a cohort run) is a
:class:`ResultModel`: ``to_dict()`` is its JSON document (the same one ``--format
json`` prints), ``to_pandas()`` a :class:`pandas.DataFrame` of its natural table (one
row per option, per territory, per time point...), described by each class's
:meth:`~ResultModel.table_rows`.

pandas is not needed by the core (``pip install netlm``): it is imported when
``to_pandas()`` is called (``pip install "netlm[cohort]"`` installs it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ResultModel", "frame"]


def frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A :class:`pandas.DataFrame` with one row per mapping (columns in first-seen order).

    Examples
    --------
    >>> frame([{"voi": "tumour", "mean_gy": 120.0}, {"voi": "liver", "mean_gy": 40.0}])
          voi  mean_gy
    0  tumour    120.0
    1   liver     40.0
    """
    try:
        import pandas as pd
    except ModuleNotFoundError as exc:  # pragma: no cover - the test environment has pandas
        raise ModuleNotFoundError(
            'to_pandas() needs pandas, which is not installed: pip install "netlm[cohort]"',
            name=exc.name,
        ) from None
    records = [dict(row) for row in rows]
    columns: dict[str, None] = {}
    for row in records:
        columns.update(dict.fromkeys(row))
    return pd.DataFrame.from_records(records, columns=list(columns))


class ResultModel(BaseModel):
    """A result: its JSON document (:meth:`to_dict`) and its table (:meth:`to_pandas`)."""

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready Python values (the ``--format json`` document)."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        """The ``--format json`` document as text (indented by two spaces)."""
        return self.model_dump_json(by_alias=True, indent=2)

    def table_rows(self) -> list[dict[str, Any]]:
        """The rows of :meth:`to_pandas` (plain values, one mapping per row).

        By default one row: the result's fields that are single values.
        """
        return [{k: v for k, v in self.to_dict().items() if not isinstance(v, dict | list)}]

    def to_pandas(self) -> pd.DataFrame:
        """The result's table as a :class:`pandas.DataFrame` (see :meth:`table_rows`)."""
        return frame(self.table_rows())
