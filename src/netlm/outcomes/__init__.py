"""Learning from treated cohorts: survival, dose-response, toxicity over time, published evidence.

The analyses read a cohort folder (``netlm/cohort-data/v1``, CSV or Parquet, via
:mod:`netlm.outcomes.io`), not the registry (:mod:`netlm.store`), and return
results; they draw nothing (plots: :mod:`netlm.report.figures`).
"""
