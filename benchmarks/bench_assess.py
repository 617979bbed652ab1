"""Benchmark: tumour-board assessments per second on generated cases.

Run with ``python benchmarks/bench_assess.py [N]``.  Reports the throughput
of one :class:`~netlm.eligibility.Assessor` reused for every case, and the
ratio against a baseline measured in the same run: a fresh ``Assessor`` per
case (which re-reads the profile file and re-indexes the rules).  The ratio,
not the absolute figure, is what to compare between machines.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from netlm.case import Case, case_from_mapping
from netlm.eligibility import Assessor


def generate_case(rng: random.Random, index: int) -> Case:
    """A random but plausible case (seeded)."""
    n_lesions = rng.choice([1, 2, 3, 5, 9, 14])
    liver_ml = rng.uniform(1200, 2600)
    lesions: list[dict[str, Any]] = [
        {
            "id": f"L{i}",
            "segment": rng.randint(1, 8),
            "longest_diameter_mm": round(rng.uniform(8, 90), 1),
            "enhancement": rng.choice(["hypervascular", "hypervascular", "hypovascular"]),
            "abuts": rng.choice([[], [], ["hepatic_vein"], ["bile_duct"]]),
        }
        for i in range(n_lesions)
    ]
    doc: dict[str, Any] = {
        "schema": "netlm/case/v1",
        "patient": {
            "id": f"B-{index}",
            "age_years": rng.randint(30, 85),
            "ecog": rng.randint(0, 3),
        },
        "tumour": {
            "primary_site": rng.choice(["pancreas", "small_intestine", "lung", "unknown"]),
            "primary_resected": rng.random() < 0.6,
            "differentiation": rng.choice(["well", "well", "poor", "unknown"]),
            "ki67_percent": round(rng.uniform(0.5, 40), 1),
            "functional_syndrome": rng.choice(["none", "carcinoid"]),
            "symptoms_refractory_to_ssa": rng.random() < 0.3,
            "sstr_imaging": rng.choice(
                [{"positive": True, "krenning_score": 3}, {"positive": False}]
            ),
            "extrahepatic_disease": rng.choice(["none", "limited", "extensive"]),
            "liver_disease_course": rng.choice(["stable", "progressive", "new"]),
            "months_stable": rng.randint(0, 24),
        },
        "liver": {
            "volume_ml": round(liver_ml),
            "tumour_volume_ml": round(liver_ml * rng.uniform(0.01, 0.8)),
            "distribution": rng.choice(["unilobar_right", "unilobar_left", "bilobar"]),
            "lesion_count": n_lesions,
            "lesions": lesions,
            "portal_vein_thrombosis": rng.random() < 0.1,
            "biliary_dilatation": rng.random() < 0.05,
            "ascites": rng.choice(["none", "none", "mild"]),
            "encephalopathy": "none",
        },
        "labs": {
            "bilirubin": {"value": round(rng.uniform(0.3, 3.5), 2), "unit": "mg/dL", "uln": 1.2},
            "albumin": {"value": round(rng.uniform(28, 48)), "unit": "g/L"},
            "inr": round(rng.uniform(0.9, 2.0), 2),
            "ast": {"value": rng.randint(15, 300), "unit": "U/L", "uln": 40},
            "alt": {"value": rng.randint(15, 300), "unit": "U/L", "uln": 40},
            "creatinine": {"value": round(rng.uniform(0.5, 2.5), 2), "unit": "mg/dL"},
            "egfr_ml_min": rng.randint(30, 110),
            "platelets_10e9_per_l": rng.randint(40, 400),
        },
        "history": {
            "biliary_intervention": rng.choice(["none", "none", "sphincterotomy", "metal_stent"]),
            "contrast_allergy": "none",
            "irreversible_coagulopathy": False,
            "cardiac_arrhythmia": rng.random() < 0.1,
            "prior_treatments": rng.choice([[], [{"type": "prrt", "cycles": 4}]]),
        },
        "workup": {"lung_shunt_fraction": round(rng.uniform(0.02, 0.25), 3)},
    }
    return case_from_mapping(doc)


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main(n: int = 2000) -> None:
    rng = random.Random(20261121)
    cases = [generate_case(rng, i) for i in range(n)]

    assessor = Assessor()
    assessor.assess(cases[0])  # warm-up
    t0 = time.perf_counter()
    for case in cases:
        assessor.assess(case)
    warm = time.perf_counter() - t0

    n_cold = max(1, n // 10)
    t0 = time.perf_counter()
    for case in cases[:n_cold]:
        Assessor().assess(case)
    cold = time.perf_counter() - t0

    warm_rate, cold_rate = _rate(n, warm), _rate(n_cold, cold)
    print(f"cases: {n}, rules: {len(assessor.rules)}")
    print(f"reused Assessor:        {warm_rate:8.0f} assessments/s")
    print(f"new Assessor per case:  {cold_rate:8.0f} assessments/s (baseline)")
    print(f"speed-up from loading rules and profile once: {warm_rate / cold_rate:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
