"""Cohort runs over many patients, locally or on a Dask cluster; synthetic cohorts."""
