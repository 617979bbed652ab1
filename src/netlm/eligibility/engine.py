"""The assessment engine: every rule for every modality, then one verdict each.

Verdict precedence, worst first: a proven contraindication makes the modality
``contraindicated``; otherwise an unmet indication makes it ``not_suitable``;
otherwise any rule that could not be evaluated for lack of data makes it
``needs_information`` (naming the fields); otherwise a relative contraindication
or caution makes it ``eligible_with_caution``; otherwise ``eligible``.
``favours`` and ``requirement`` findings never change the verdict.

The engine loads its profile and rules once (:class:`Assessor`); assessing a
case reads no files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from netlm import __version__
from netlm.case.model import Case
from netlm.case.plausibility import unit_warnings
from netlm.clinical import albi, child_pugh, tumour_burden, who_2019_grade
from netlm.eligibility.model import (
    Assessment,
    Effect,
    Finding,
    LiverFunction,
    MissingInformation,
    Modality,
    ModalityOption,
    ProfileInfo,
    Provenance,
    Verdict,
)
from netlm.eligibility.profile import RuleProfile, default_profile
from netlm.eligibility.rules import all_rules
from netlm.eligibility.rules.base import Context, MissingData, Rule
from netlm.eligibility.workup import recommend_workup
from netlm.evidence import get_source

_ORDER = {
    Effect.CONTRAINDICATION: 0,
    Effect.NOT_SUITABLE: 1,
    Effect.RELATIVE_CONTRAINDICATION: 2,
    Effect.CAUTION: 3,
    Effect.REQUIREMENT: 4,
    Effect.FAVOURS: 5,
}


def decide(findings: Iterable[Finding], missing: bool) -> tuple[Verdict, Verdict]:
    """(verdict, provisional verdict) from the findings and whether data are missing.

    Examples
    --------
    >>> decide([], missing=False)
    (<Verdict.ELIGIBLE: 'eligible'>, <Verdict.ELIGIBLE: 'eligible'>)
    >>> decide([], missing=True)[0].value
    'needs_information'
    """
    effects = {f.effect for f in findings}
    if Effect.CONTRAINDICATION in effects:
        provisional = Verdict.CONTRAINDICATED
    elif Effect.NOT_SUITABLE in effects:
        provisional = Verdict.NOT_SUITABLE
    elif effects & {Effect.RELATIVE_CONTRAINDICATION, Effect.CAUTION}:
        provisional = Verdict.ELIGIBLE_WITH_CAUTION
    else:
        provisional = Verdict.ELIGIBLE
    if missing and provisional not in (Verdict.CONTRAINDICATED, Verdict.NOT_SUITABLE):
        return Verdict.NEEDS_INFORMATION, provisional
    return provisional, provisional


class Assessor:
    """Assesses cases against one rule profile.

    Parameters
    ----------
    profile
        The rule profile; the shipped default when omitted.
    rules
        The rules to evaluate; all of netlm's when omitted.

    Examples
    --------
    >>> from netlm.case import parse_case
    >>> case = parse_case("schema: netlm/case/v1\\npatient: {id: A1}")
    >>> Assessor().assess(case).option("resection").verdict.value
    'needs_information'
    """

    def __init__(
        self, profile: RuleProfile | None = None, rules: Sequence[Rule] | None = None
    ) -> None:
        self.profile = profile if profile is not None else default_profile()
        self.rules: tuple[Rule, ...] = tuple(rules) if rules is not None else all_rules()
        self._by_modality: dict[Modality, tuple[Rule, ...]] = {
            m: tuple(r for r in self.rules if m in r.modalities) for m in Modality
        }
        self._profile_info = ProfileInfo(
            id=self.profile.id,
            name=self.profile.name,
            version=self.profile.version,
            digest=self.profile.digest,
        )

    def context(self, case: Case) -> Context:
        """Derived scores of ``case`` under this profile."""
        t, liver, labs = case.tumour, case.liver, case.labs
        return Context(
            case=case,
            p=self.profile.parameters,
            grade=who_2019_grade(
                t.ki67_percent,
                t.mitoses_per_2mm2,
                t.differentiation.value if t.differentiation else None,
            ),
            child_pugh=child_pugh(
                bilirubin_mg_dl=labs.bilirubin_mg_dl,
                albumin_g_dl=labs.albumin_g_dl,
                inr=labs.inr,
                ascites=liver.ascites.value if liver.ascites else None,
                encephalopathy=liver.encephalopathy.value if liver.encephalopathy else None,
            ),
            albi=albi(
                bilirubin_mg_dl=labs.bilirubin_mg_dl,
                albumin_g_dl=labs.albumin_g_dl,
                albumin_coefficient=self.profile.parameters.albi_coefficient,
            ),
            burden=tumour_burden(
                liver_volume_ml=liver.volume_ml,
                tumour_volume_ml=liver.tumour_volume_ml,
                involvement_percent=liver.involvement_percent,
                involvement_method=(
                    liver.involvement_method.value if liver.involvement_method else None
                ),
            ),
        )

    def _finding(self, rule: Rule, modality: Modality, message: str) -> Finding:
        sources = tuple(get_source(s) for s in rule.sources_for(modality))
        population = tuple(dict.fromkeys(s.population.value for s in sources))
        return Finding(
            rule_id=rule.id,
            modality=modality,
            effect=rule.effect,
            message=message,
            sources=sources,
            population=population,
            parameters={name: self.profile.value(name) for name in rule.parameters},
        )

    def _option(self, ctx: Context, modality: Modality) -> ModalityOption:
        findings: list[Finding] = []
        unevaluated: list[MissingInformation] = []
        for rule in self._by_modality[modality]:
            try:
                message = rule.check(ctx, modality)
            except MissingData as missing:
                unevaluated.append(MissingInformation(rule_id=rule.id, fields=missing.fields))
                continue
            if message:
                findings.append(self._finding(rule, modality, message))
        findings.sort(key=lambda f: _ORDER[f.effect])
        verdict, provisional = decide(findings, missing=bool(unevaluated))
        fields = tuple(dict.fromkeys(f for u in unevaluated for f in u.fields))
        return ModalityOption(
            modality=modality,
            label=modality.label,
            verdict=verdict,
            provisional_verdict=provisional,
            findings=tuple(findings),
            missing_information=fields if verdict is Verdict.NEEDS_INFORMATION else (),
            unevaluated_rules=tuple(unevaluated),
        )

    def assess(self, case: Case) -> Assessment:
        """Assess ``case`` for every modality.

        The result is deterministic: the same case and profile give the same
        assessment, byte for byte, whatever the time or machine.
        """
        ctx = self.context(case)
        options = tuple(self._option(ctx, m) for m in Modality)
        canonical = case.model_dump_json(by_alias=True, exclude_none=True)
        return Assessment(
            case_id=case.patient.id,
            grade=ctx.grade,
            liver_function=LiverFunction(child_pugh=ctx.child_pugh, albi=ctx.albi),
            tumour_burden_percent=ctx.burden.percent,
            tumour_burden=ctx.burden,
            options=options,
            workup=recommend_workup(ctx, options),
            provenance=Provenance(
                netlm_version=__version__,
                profile=self._profile_info,
                inputs_digest=hashlib.sha256(canonical.encode()).hexdigest(),
                rules_evaluated=len(self.rules),
                ctcae_version=self.profile.parameters.ctcae_version,
            ),
            warnings=unit_warnings(case),
        )


def assess(case: Case, profile: RuleProfile | None = None) -> Assessment:
    """Assess one case (convenience wrapper; use :class:`Assessor` for many)."""
    return Assessor(profile).assess(case)
