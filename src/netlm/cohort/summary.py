"""What a cohort run returns: the patients computed, skipped, not applicable and failed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netlm.results import ResultModel


class PatientFailure(BaseModel):
    """One patient whose task failed."""

    model_config = ConfigDict(frozen=True)

    patient_id: str
    error_type: str
    fields: tuple[str, ...] = Field(description="Input fields the error names, if any.")
    message: str
    input_digest: str | None = Field(
        description="Digest of the inputs that failed; None when they could not be read."
    )


class CohortRunSummary(ResultModel):
    """What a cohort run did and where its results are.

    ``to_dict()`` is the ``netlm cohort run --format json`` summary; ``to_pandas()``
    reads the run's results (``results.parquet``: one row per patient).
    """

    model_config = ConfigDict(frozen=True)

    task: str
    manifest: str | None
    out_dir: str
    scheduler: str = Field(description="'inline', 'local cluster, N workers...' or an address.")
    patients: int
    computed: tuple[str, ...] = Field(description="Patients computed in this run (in order).")
    skipped: tuple[str, ...] = Field(description="Patients whose stored outcome was reused.")
    not_applicable: tuple[str, ...] = Field(
        description="Patients the manifest gives no file the task needs (e.g. no plan)."
    )
    succeeded: int = Field(description="Patients with a result in results.parquet.")
    failures: tuple[PatientFailure, ...] = Field(
        description="Every patient whose current outcome is a failure (this run or stored)."
    )
    results_parquet: str
    results_csv: str
    failures_csv: str
    elapsed_s: float
    netlm_version: str

    def to_pandas(self) -> Any:
        """The results table of the run (``results.parquet``) as a pandas DataFrame."""
        import pandas as pd

        return pd.read_parquet(self.results_parquet)

    @property
    def n_computed(self) -> int:
        return len(self.computed)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    @property
    def n_failed(self) -> int:
        return len(self.failures)
