"""The assessment engine: every rule for every modality, then one verdict each.

Verdict precedence, worst first: a proven contraindication makes the modality
``contraindicated``; otherwise an unmet indication makes it ``not_suitable``;
otherwise any rule that could not be evaluated for lack of data makes it
``needs_information`` (naming the fields); otherwise a relative contraindication
or caution makes it ``eligible_with_caution``; otherwise ``eligible``.
``favours`` and ``requirement`` findings never change the verdict.

Missing data (profile ``missing_findings``): with ``assume_absent`` (default)
an unrecorded *finding* that imaging, staging or the history would report
(:data:`~netlm.eligibility.rules.base.ASSUMABLE_FINDINGS`) is taken as absent,
and the option lists it under ``assumptions`` (so does the assessment and the
work-up); only missing *data* that would change the verdict and cannot be
inferred (bilirubin for TARE, Ki-67 for transplant...) make an option
``needs_information``.  With ``ask`` every unrecorded field needs information,
as in netlm 0.1.

An assumption does not lower ``eligible`` to ``eligible_with_caution``.  The
verdict with an assumption is exactly the provisional verdict ``ask`` gives
(the rules are evaluated with the finding absent, never more favourably), and
``caution`` keeps its meaning: a finding *present* in the record.  Downgrading
every option that rests on a routine confirmation (nearly all of them) would
bury the real cautions; instead each assumption is shown with the verdict, in
every output, and as a work-up item to confirm before treatment.

The engine loads its profile and rules once (:class:`Assessor`); assessing a
case reads no files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace

from netlm import __version__
from netlm.case.model import Case
from netlm.case.plausibility import unit_warnings
from netlm.clinical import albi, child_pugh, tumour_burden, who_2019_grade
from netlm.eligibility.ordering import recommend_order
from netlm.eligibility.profile import RuleProfile, default_profile
from netlm.eligibility.result import (
    CHILD_PUGH_SCORE,
    Assessment,
    Assumption,
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
from netlm.eligibility.rules import all_rules
from netlm.eligibility.rules.base import (
    ASSUMABLE_FINDINGS,
    Context,
    MissingData,
    Rule,
)
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


def _merge(
    assumed: Iterable[tuple[str, Assumption]], modalities: Sequence[Modality]
) -> tuple[Assumption, ...]:
    """One assumption per field, naming every rule (or score) that relied on it."""
    by_field: dict[str, tuple[Assumption, list[str]]] = {}
    for user, a in assumed:
        _, users = by_field.setdefault(a.field, (a, []))
        users += [u for u in (*a.used_by, user) if u not in users]
    return tuple(
        a.model_copy(update={"used_by": tuple(users), "for_modalities": tuple(modalities)})
        for a, users in by_field.values()
    )


def collect_assumptions(
    options: Iterable[ModalityOption], extra: Iterable[tuple[str, Assumption]] = ()
) -> tuple[Assumption, ...]:
    """Every option's assumptions merged by field, in the order of
    :data:`~netlm.eligibility.rules.base.ASSUMABLE_FINDINGS`."""
    merged: dict[str, tuple[Assumption, list[str], list[Modality]]] = {}
    entries = [
        (a, a.used_by, a.for_modalities) for a in (x for o in options for x in o.assumptions)
    ]
    entries += [(a, (user,), ()) for user, a in extra]
    for a, users, modalities in entries:
        _, u, m = merged.setdefault(a.field, (a, [], []))
        u += [x for x in users if x not in u]
        m += [x for x in modalities if x not in m]
    order = {name: i for i, name in enumerate(ASSUMABLE_FINDINGS)}
    return tuple(
        a.model_copy(update={"used_by": tuple(u), "for_modalities": tuple(m)})
        for a, u, m in sorted(merged.values(), key=lambda e: order.get(e[0].field, len(order)))
    )


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
        recorded = child_pugh(
            bilirubin_mg_dl=labs.bilirubin_mg_dl,
            albumin_g_dl=labs.albumin_g_dl,
            inr=labs.inr,
            ascites=liver.ascites.value if liver.ascites else None,
            encephalopathy=liver.encephalopathy.value if liver.encephalopathy else None,
        )
        ctx = Context(
            case=case,
            p=self.profile.parameters,
            grade=who_2019_grade(
                t.ki67_percent,
                t.mitoses_per_2mm2,
                t.differentiation.value if t.differentiation else None,
            ),
            child_pugh_recorded=recorded,
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
        if recorded.score is not None or not ctx.assumes:
            return ctx
        # Child-Pugh from its parts, with unrecorded findings assumed absent.
        try:
            ascites, enceph = ctx.need_all(
                liver__ascites=liver.ascites, liver__encephalopathy=liver.encephalopathy
            )
        except MissingData:
            return ctx
        finally:
            ctx.begin()
        assuming = child_pugh(
            bilirubin_mg_dl=labs.bilirubin_mg_dl,
            albumin_g_dl=labs.albumin_g_dl,
            inr=labs.inr,
            ascites=str(ascites),
            encephalopathy=str(enceph),
        )
        if assuming.score is None:
            return ctx
        return replace(ctx, child_pugh_assuming=assuming, _log=[])

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
        assumed: list[tuple[str, Assumption]] = []
        for rule in self._by_modality[modality]:
            ctx.begin()
            try:
                message = rule.check(ctx, modality)
            except MissingData as missing:
                unevaluated.append(MissingInformation(rule_id=rule.id, fields=missing.fields))
                continue
            assumed += [(rule.id, a) for a in ctx.assumptions()]
            if message:
                findings.append(self._finding(rule, modality, message))
        ctx.begin()
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
            assumptions=_merge(assumed, (modality,)),
        )

    def _score_assumptions(self, ctx: Context) -> list[tuple[str, Assumption]]:
        """The assumptions behind the Child-Pugh score shown in the assessment."""
        if ctx.child_pugh_assuming is None:
            return []
        ctx.begin()
        _ = ctx.child_pugh
        found = [(CHILD_PUGH_SCORE, a) for a in ctx.assumptions()]
        ctx.begin()
        return found

    def assess(self, case: Case) -> Assessment:
        """Assess ``case`` for every modality.

        The result is deterministic: the same case and profile give the same
        assessment, byte for byte, whatever the time or machine.
        """
        ctx = self.context(case)
        options = tuple(self._option(ctx, m) for m in Modality)
        canonical = case.model_dump_json(by_alias=True, exclude_none=True)
        shown_child_pugh = ctx.child_pugh_assuming or ctx.child_pugh_recorded
        return Assessment(
            case_id=case.patient.id,
            grade=ctx.grade,
            liver_function=LiverFunction(child_pugh=shown_child_pugh, albi=ctx.albi),
            tumour_burden_percent=ctx.burden.percent,
            tumour_burden=ctx.burden,
            options=options,
            workup=recommend_workup(ctx, options),
            recommended_order=recommend_order(options),
            provenance=Provenance(
                netlm_version=__version__,
                profile=self._profile_info,
                inputs_digest=hashlib.sha256(canonical.encode()).hexdigest(),
                rules_evaluated=len(self.rules),
                ctcae_version=self.profile.parameters.ctcae_version,
                missing_findings=self.profile.parameters.missing_findings,
            ),
            assumptions=collect_assumptions(options, self._score_assumptions(ctx)),
            warnings=unit_warnings(case),
        )


def assess(case: Case, profile: RuleProfile | None = None) -> Assessment:
    """Assess one case (convenience wrapper; use :class:`Assessor` for many)."""
    return Assessor(profile).assess(case)
