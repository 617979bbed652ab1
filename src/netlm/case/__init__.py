"""Patient cases in the ``netlm/case/v1`` format: models, parsing (``io.py``) and
plausibility warnings (likely unit mix-ups)."""

from netlm.case.io import case_from_mapping, load_case, parse_case
from netlm.case.model import SCHEMA_ID, Case

__all__ = ["SCHEMA_ID", "Case", "case_from_mapping", "load_case", "parse_case"]
