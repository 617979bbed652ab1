"""Cohort runs (a front door): one task over many patients, locally or on a Dask cluster,
with a results index per run folder; synthetic cohorts."""
