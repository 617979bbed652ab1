"""The tumour-board assessment: a verdict with reasons and sources for every modality.

The rules (one module per clinical area under ``rules/``), the rule profiles that set
their parameters, the engine, the recommended order of the options and the work-up
still needed; ``result.py`` is what an assessment returns.
"""

from netlm.eligibility.engine import Assessor, assess, decide
from netlm.eligibility.profile import RuleProfile, default_profile, load_profile
from netlm.eligibility.result import (
    Assessment,
    Effect,
    Finding,
    Modality,
    ModalityOption,
    RankedOption,
    Verdict,
    WorkupItem,
)
from netlm.eligibility.rules import Rule, all_rules

__all__ = [
    "Assessment",
    "Assessor",
    "Effect",
    "Finding",
    "Modality",
    "ModalityOption",
    "RankedOption",
    "Rule",
    "RuleProfile",
    "Verdict",
    "WorkupItem",
    "all_rules",
    "assess",
    "decide",
    "default_profile",
    "load_profile",
]
