"""Shared test helpers: a complete, unremarkable case and dotted-path edits of it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from netlm.case import Case, case_from_mapping
from netlm.eligibility import Assessor, Modality
from netlm.eligibility.profile import RuleProfile, default_profile

# Reproducible property tests: the same examples on every machine and in CI.
settings.register_profile("netlm", derandomize=True, deadline=None)
settings.load_profile("netlm")

#: The repository's own copy of the shared examples, images and reference tables
#: (tests/data/README.md lists each with its licence): tests need nothing beside the clone.
SHARED = Path(__file__).resolve().parent / "data" / "shared"

DELETE = object()

#: A complete case in which no contraindication is present: one 20 mm lesion in
#: segment 6, normal labs, progressive liver-only G1 disease, work-up done.
BASE: dict[str, Any] = {
    "schema": "netlm/case/v1",
    "patient": {
        "id": "T-1",
        "age_years": 50,
        "sex": "female",
        "ecog": 0,
        "height_cm": 170,
        "weight_kg": 70,
        "anaesthesia_contraindicated": False,
        "pulmonary_function": "normal",
        "life_expectancy_months": 120,
        "pregnant": False,
    },
    "tumour": {
        "primary_site": "small_intestine",
        "primary_resected": True,
        "differentiation": "well",
        "ki67_percent": 2,
        "mitoses_per_2mm2": 1,
        "functional_syndrome": "none",
        "symptoms_refractory_to_ssa": False,
        "sstr_imaging": {"modality": "ga68_dotatate_pet", "positive": True, "krenning_score": 3},
        "fdg_pet": {"performed": False},
        "extrahepatic_disease": "none",
        "liver_disease_course": "progressive",
        "months_stable": 0,
    },
    "liver": {
        "volume_ml": 1600,
        "tumour_volume_ml": 400,
        "involvement_method": "volumetry",
        "distribution": "unilobar_right",
        "lesion_count": 1,
        "lesions": [
            {"id": "L1", "segment": 6, "longest_diameter_mm": 20, "enhancement": "hypervascular"}
        ],
        "portal_vein_thrombosis": False,
        "biliary_dilatation": False,
        "ascites": "none",
        "encephalopathy": "none",
        "chronic_liver_disease": False,
        "resectable_percent": 100,
    },
    "labs": {
        "bilirubin": {"value": 0.8, "unit": "mg/dL", "uln": 1.2},
        "albumin": {"value": 4.0, "unit": "g/dL"},
        "inr": 1.0,
        "ast": {"value": 30, "unit": "U/L", "uln": 40},
        "alt": {"value": 30, "unit": "U/L", "uln": 40},
        "creatinine": {"value": 0.8, "unit": "mg/dL"},
        "egfr_ml_min": 90,
        "platelets_10e9_per_l": 220,
    },
    "history": {
        "biliary_intervention": "none",
        "contrast_allergy": "none",
        "irreversible_coagulopathy": False,
        "cardiac_arrhythmia": False,
        "carcinoid_heart_disease": "absent",
        "prior_treatments": [],
    },
    "workup": {
        "lung_shunt_fraction": 0.05,
        "lung_shunt_method": "spect_ct",
        "extrahepatic_collaterals": "none",
        "tumour_to_normal_ratio": 3.0,
    },
}


def edited(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` (default :data:`BASE`) with dotted-path changes.

    Keys use ``__`` for dots: ``labs__inr=1.9``; the value :data:`DELETE`
    removes the field.
    """
    doc = copy.deepcopy(BASE if base is None else base)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return doc


def make_case(**changes: Any) -> Case:
    """:data:`BASE` with dotted-path changes, validated."""
    return case_from_mapping(edited(**changes))


@pytest.fixture(scope="session")
def assessor() -> Assessor:
    return Assessor()


def fired(assessor: Assessor, case: Case, modality: Modality | str) -> set[str]:
    """Ids of the rules that fired for ``modality``."""
    return {f.rule_id for f in assessor.assess(case).option(modality).findings}


def ask_profile() -> RuleProfile:
    """The default profile with ``missing_findings: ask`` (netlm 0.1 behaviour)."""
    base = default_profile()
    parameters = base.parameters.model_copy(update={"missing_findings": "ask"})
    return base.model_copy(update={"id": "default-ask", "parameters": parameters})


@pytest.fixture(scope="session")
def ask_assessor() -> Assessor:
    """An assessor that assumes nothing: every unrecorded field needs information."""
    return Assessor(ask_profile())
