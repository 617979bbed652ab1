"""The shape of an eligibility rule and the context it reads.

A rule is a small named function: given the case context and one modality it
returns a message when it fires, ``None`` when it does not, and raises
:class:`MissingData` (through :meth:`Context.need`) when the case lacks what it
needs.  Its id, modalities, effect, parameters and sources are declared once,
with the function, by :meth:`RuleBook.rule`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from netlm.case.model import Case
from netlm.clinical import (
    AlbiResult,
    BurdenResult,
    ChildPughResult,
    GradeResult,
    WhoGrade,
)
from netlm.eligibility.model import Effect, Modality
from netlm.eligibility.profile import Parameters
from netlm.evidence import SOURCES

T = TypeVar("T")


class MissingData(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside a rule when a case field it needs is absent."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = tuple(fields)
        super().__init__(", ".join(self.fields))


@dataclass(frozen=True)
class Context:
    """Everything a rule may read: the case, the profile and derived scores."""

    case: Case
    p: Parameters
    grade: GradeResult
    child_pugh: ChildPughResult
    albi: AlbiResult
    burden: BurdenResult

    def need(self, value: T | None, field_path: str) -> T:
        """Return ``value``, or signal that ``field_path`` is missing."""
        if value is None:
            raise MissingData((field_path,))
        return value

    def need_all(self, **values: object) -> None:
        """Signal every missing one of several values at once (keyword = field path)."""
        missing = [name.replace("__", ".") for name, v in values.items() if v is None]
        if missing:
            raise MissingData(missing)

    # -- derived facts used by many rules ------------------------------------
    def burden_percent(self) -> float:
        """Tumour burden in percent of liver volume, or signal what is missing."""
        if self.burden.percent is None:
            raise MissingData(("liver.tumour_volume_ml", "liver.involvement_percent"))
        return self.burden.percent

    def who_grade(self) -> WhoGrade:
        """The WHO 2019 grade, or signal what is missing.

        An undetermined NET G3 vs NEC is returned as such (rules decide what it
        means for them); no indices at all is missing information.
        """
        if self.grade.grade is None:
            raise MissingData(("tumour.ki67_percent", "tumour.mitoses_per_2mm2"))
        return self.grade.grade

    def lesion_count(self) -> int | None:
        """Number of liver lesions; ``None`` means too numerous to count."""
        total = self.case.liver.lesion_total
        if total is None:
            raise MissingData(("liver.lesion_count",))
        return None if total == "too_numerous" else int(total)

    def lesion_diameters_mm(self) -> list[tuple[str, float]]:
        """(id, longest diameter) of every listed lesion, or signal what is missing."""
        lesions = self.case.liver.lesions
        if not lesions:
            raise MissingData(("liver.lesions",))
        missing = [
            f"liver.lesions[{i}].longest_diameter_mm"
            for i, lesion in enumerate(lesions)
            if lesion.longest_diameter_mm is None
        ]
        if missing:
            raise MissingData(missing)
        return [(lesion.id, float(lesion.longest_diameter_mm or 0.0)) for lesion in lesions]

    def measured_lesions_mm(self) -> list[tuple[str, float]]:
        """(id, longest diameter) of the listed lesions that have a diameter."""
        return [
            (lesion.id, float(lesion.longest_diameter_mm))
            for lesion in self.case.liver.lesions
            if lesion.longest_diameter_mm is not None
        ]

    def all_lesions_listed(self) -> bool:
        """Whether the lesion list covers every lesion counted."""
        total = self.case.liver.lesion_total
        return isinstance(total, int) and total == len(self.case.liver.lesions)


Check = Callable[[Context, Modality], "str | None"]


@dataclass(frozen=True)
class Rule:
    """One eligibility rule.

    Attributes
    ----------
    id
        Stable identifier, ``<area>.<what>`` (e.g. ``tare.bilirubin``).
    modalities
        The modalities it is evaluated for.
    effect
        What it does to the verdict when it fires.
    summary
        One line for ``netlm rules``.
    source_ids
        Ids in :data:`netlm.evidence.SOURCES`; at least one.
    parameters
        Names of the profile parameters it reads.
    check
        The function that decides.
    modality_sources
        Extra source ids cited only for one modality (e.g. each ablation
        technique's own zone size); ``source_ids`` are cited for all.
    """

    id: str
    modalities: tuple[Modality, ...]
    effect: Effect
    summary: str
    source_ids: tuple[str, ...]
    parameters: tuple[str, ...]
    check: Check = field(compare=False, repr=False)
    modality_sources: Mapping[Modality, tuple[str, ...]] = field(default_factory=dict)

    def sources_for(self, modality: Modality) -> tuple[str, ...]:
        """The source ids a finding of this rule for ``modality`` cites."""
        return (*self.modality_sources.get(modality, ()), *self.source_ids)

    @property
    def all_source_ids(self) -> tuple[str, ...]:
        """Every source id the rule can cite, for listings."""
        extra = [s for ids in self.modality_sources.values() for s in ids]
        return tuple(dict.fromkeys((*extra, *self.source_ids)))


class RuleBook:
    """Collects rules declared with the :meth:`rule` decorator."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(self._rules)

    def rule(
        self,
        id: str,
        modalities: Iterable[Modality],
        effect: Effect,
        summary: str,
        *,
        sources: Iterable[str],
        parameters: Iterable[str] = (),
        modality_sources: Mapping[Modality, Iterable[str]] | None = None,
    ) -> Callable[[Check], Check]:
        """Declare a rule; the decorated function is its check."""
        source_ids = tuple(sources)
        per_modality = {m: tuple(ids) for m, ids in (modality_sources or {}).items()}
        modalities = tuple(modalities)
        for m in modalities:
            if not source_ids and not per_modality.get(m):
                raise ValueError(f"rule {id!r} has no source for {m.value}")
        for sid in (*source_ids, *(s for ids in per_modality.values() for s in ids)):
            if sid not in SOURCES:
                raise ValueError(f"rule {id!r} cites unknown source {sid!r}")
        params = tuple(parameters)
        for name in params:
            if name not in Parameters.model_fields:
                raise ValueError(f"rule {id!r} reads unknown parameter {name!r}")

        def register(check: Check) -> Check:
            self._rules.append(
                Rule(
                    id=id,
                    modalities=tuple(modalities),
                    effect=effect,
                    summary=summary,
                    source_ids=source_ids,
                    parameters=params,
                    check=check,
                    modality_sources=per_modality,
                )
            )
            return check

        return register


def fmt(value: float) -> str:
    """Format a number for a message without spurious decimals.

    Examples
    --------
    >>> fmt(2.0), fmt(2.25), fmt(0.0700001)
    ('2', '2.25', '0.07')
    """
    return f"{value:.4g}" if abs(value) < 10000 else f"{value:.0f}"
