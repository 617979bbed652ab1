"""Source records: seed document and section, original reference, population.

Seed documents (clinical reviews the project started from):

* ``000`` Moriarty et al., "Imaging and Interventional Radiology management of
  Neuroendocrine Tumor Liver Metastases", Mater Misericordiae, Dublin (poster).
* ``001`` Cazzato et al., "Liver-Directed Therapy for Neuroendocrine
  Metastases", Cancers 2021;13:6368.
* ``002`` Kumari et al., Semin Intervent Radiol 2024;41:270-277.
* ``003`` Sze, "Liver-directed therapies for patients with metastatic NET",
  Stanford talk.
* ``004`` El-Haddad et al., "Radioembolization for Metastatic Neuroendocrine
  Tumors", Digestive Disease Interventions 2021;5:103-112.

Certainty follows ``shared/reference/eligibility.md``: ``V`` seen in the cited
source, ``S`` secondary source only, ``U`` not verified (the number is a
named, overridable parameter and the output says so).

The records are data: ``netlm/evidence/data/sources.yaml`` (schema
``netlm/sources/v1``), read once per process through :mod:`netlm.documents`
into :data:`SOURCES`.  A centre keeps its own sources (a local protocol, an
institutional audit) in a file of the same schema and loads it with
:func:`load_sources`; a rule profile names it with ``sources_file`` so that
its parameters can cite those ids.  A centre's id may not reuse a built-in
one.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from netlm.documents import format_for, read_bytes
from netlm.errors import SourcesError
from netlm.evidence.records import builtin_table, parse_table

SEED_000: Final = "000_52eb0598e8e69c14.txt"
SEED_001: Final = "001_f3eb24f8bc741c7e.txt"
SEED_002: Final = "002_c1cae61a3fce8186.txt"
SEED_003: Final = "003_e559fa06e68dc69d.txt"
SEED_004: Final = "004_c8b933ee614b5a74.txt"

#: Schema of a sources file (the built-in one and a centre's own).
SOURCES_SCHEMA: Final = "netlm/sources/v1"

_SEEDS: Final = (SEED_000, SEED_001, SEED_002, SEED_003, SEED_004)


class Population(StrEnum):
    """Whose patients the evidence comes from."""

    NET = "NET"
    HCC = "HCC"
    CRLM = "CRLM"
    MIXED = "mixed liver tumours"
    DEVICE_LABEL = "device label"
    GUIDELINE = "guideline / consensus"
    GENERAL = "general (not disease-specific)"


class Certainty(StrEnum):
    """How sure we are that the source says what the rule says."""

    VERIFIED = "V"
    SECONDARY = "S"
    UNVERIFIED = "U"


class Source(BaseModel):
    """One cited source.

    Attributes
    ----------
    id
        Stable identifier used by rules and parameters: lower-case letters,
        digits and ``_``.
    seed
        File name of the seed document under ``shared/seeds/`` (one of
        ``SEED_000`` ... ``SEED_004``), or ``None`` when the source is outside
        the seeds.
    section
        Section, table or slide of the seed (or of the reference) that says it.
    reference
        The original publication the statement comes from.
    population
        Whose patients the evidence comes from.
    certainty
        ``V``, ``S`` or ``U`` (see module docstring).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=80)
    seed: str | None
    section: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    population: Population
    certainty: Certainty

    @field_validator("seed")
    @classmethod
    def _known_seed(cls, value: str | None) -> str | None:
        if value is not None and value not in _SEEDS:
            raise ValueError(
                f"{value!r} is not a seed document ({', '.join(_SEEDS)}); "
                "use null for a source outside the seeds"
            )
        return value

    def cite(self) -> str:
        """A one-line citation a clinician can follow.

        Examples
        --------
        >>> get_source("tare_exclusion_004").cite()  # doctest: +ELLIPSIS
        'seed 004 (El-Haddad 2021), Patient Selection > Exclusion Criteria; ...'
        """
        where = (
            f"seed {self.seed[:3]} ({_SEED_SHORT[self.seed[:3]]}), {self.section}"
            if (self.seed)
            else self.section
        )
        return f"{where}; {self.reference} [{self.population.value}; {self.certainty.value}]"


_SEED_SHORT: Final[dict[str, str]] = {
    "000": "Moriarty, Dublin",
    "001": "Cazzato 2021",
    "002": "Kumari 2024",
    "003": "Sze, Stanford",
    "004": "El-Haddad 2021",
}


@functools.cache
def builtin_sources() -> tuple[Source, ...]:
    """The sources netlm ships (``data/sources.yaml``), in file order; parsed once."""
    return parse_table(
        builtin_table("sources.yaml"), schema=SOURCES_SCHEMA, key="sources", model=Source
    )


#: Every source netlm cites, by id.
SOURCES: Final[dict[str, Source]] = {s.id: s for s in builtin_sources()}


def get_source(source_id: str) -> Source:
    """Return the source with id ``source_id``.

    Raises
    ------
    KeyError
        If no such source exists (a rule must not ship without one).
    """
    try:
        return SOURCES[source_id]
    except KeyError:
        raise KeyError(f"unknown source id {source_id!r}") from None


def load_sources(path: str | Path) -> dict[str, Source]:
    """Load a centre's own sources file (YAML or JSON, schema ``netlm/sources/v1``).

    The file has the layout of ``netlm/evidence/data/sources.yaml``::

        schema: netlm/sources/v1
        sources:
          - id: centre_lung_protocol_2025
            seed: null
            section: Radiation protection protocol RP-12, section 4
            reference: local audit of 212 lung shunt studies, 2019-2024
            population: NET
            certainty: U

    Parameters
    ----------
    path
        The file; ``.json`` is read as JSON, anything else as YAML, by
        :mod:`netlm.documents`.

    Returns
    -------
    dict
        The centre's sources by id (the built-in :data:`SOURCES` are not
        included and not changed).

    Raises
    ------
    SourcesError
        If the file cannot be read or parsed, a record has a missing, unknown
        or invalid field (the error names ``sources[i].field``), an id is given
        twice, or an id is already a built-in source id.
    """
    p = Path(path)
    records = parse_table(
        read_bytes(p, error=SourcesError),
        schema=SOURCES_SCHEMA,
        key="sources",
        model=Source,
        format=format_for(p),
        error=SourcesError,
    )
    taken = [
        (f"sources[{i}].id", f"{r.id!r} is a built-in source id; a centre's source needs its own")
        for i, r in enumerate(records)
        if r.id in SOURCES
    ]
    if taken:
        raise SourcesError(taken)
    return {r.id: r for r in records}
