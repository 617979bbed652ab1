"""Prognostic rules that temper curative-intent local treatment (seeds 000, 001 §3)."""

from __future__ import annotations

from netlm.case.model import ExtrahepaticDisease
from netlm.eligibility.result import ABLATION, EMBOLIZATION, Effect, Modality
from netlm.eligibility.rules.base import Context, RuleBook

book = RuleBook()


@book.rule(
    "prognosis.fdg_avid",
    (Modality.RESECTION, Modality.TRANSPLANT, *ABLATION),
    Effect.CAUTION,
    "FDG-avid disease is prognostically worse",
    sources=("fdg_prognosis_001",),
)
def _fdg_avid(ctx: Context, m: Modality) -> str | None:
    fdg = ctx.case.tumour.fdg_pet
    if fdg is not None and fdg.performed and fdg.positive:
        return "FDG-avid disease: worse prognosis, weigh curative-intent local treatment carefully"
    return None


@book.rule(
    "prognosis.embolization_extrahepatic",
    EMBOLIZATION,
    Effect.CAUTION,
    "Extrahepatic disease predicts poor survival after hepatic artery embolization",
    sources=("tace_burden_mortality",),
)
def _embolization_extrahepatic(ctx: Context, m: Modality) -> str | None:
    ehd = ctx.case.tumour.extrahepatic_disease
    if ehd in (ExtrahepaticDisease.LIMITED, ExtrahepaticDisease.EXTENSIVE):
        return f"{ehd.value} extrahepatic disease: poorer survival after hepatic embolization"
    return None
