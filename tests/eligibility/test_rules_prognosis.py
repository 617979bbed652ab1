"""Prognostic cautions: FDG-avid disease, extrahepatic disease before embolization."""

from __future__ import annotations

from typing import Any

from conftest import make_case
from netlm.eligibility import Assessor, Verdict

FDG_POSITIVE = {"tumour__fdg_pet": {"performed": True, "positive": True}}
FDG_NEGATIVE = {"tumour__fdg_pet": {"performed": True, "positive": False}}

TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    ("prognosis.fdg_avid", "resection", FDG_POSITIVE),
    ("prognosis.fdg_avid", "ablation_mwa", FDG_POSITIVE),
    ("prognosis.embolization_extrahepatic", "tae", {"tumour__extrahepatic_disease": "limited"}),
    ("prognosis.embolization_extrahepatic", "ctace", {"tumour__extrahepatic_disease": "extensive"}),
]
QUIET: list[tuple[str, str, dict[str, Any]]] = [
    ("prognosis.fdg_avid", "resection", FDG_NEGATIVE),
    ("prognosis.fdg_avid", "resection", {}),
    ("prognosis.fdg_avid", "tare_resin", FDG_POSITIVE),  # aggressive disease may suit TARE
    ("prognosis.embolization_extrahepatic", "tae", {}),
    (
        "prognosis.embolization_extrahepatic",
        "tare_resin",
        {"tumour__extrahepatic_disease": "limited"},
    ),
]


def test_fdg_avid_lowers_an_eligible_resection_to_caution(assessor: Assessor) -> None:
    assert assessor.assess(make_case()).option("resection").verdict is Verdict.ELIGIBLE
    verdict = assessor.assess(make_case(**FDG_POSITIVE)).option("resection").verdict
    assert verdict is Verdict.ELIGIBLE_WITH_CAUTION
