"""The sources behind every rule, threshold and constant in netlm.

A :class:`Source` names the seed document (by file name under the project's
``shared/seeds/``) and its section, the original reference that section cites,
the population the evidence comes from, and how sure we are of it.  Rules and
profile parameters refer to sources by id; a rule whose source is not in
:data:`SOURCES` does not load.  The records are data
(``netlm/evidence/data/sources.yaml``); a centre adds its own with
:func:`load_sources`.
"""

from netlm.evidence.sources import (
    SOURCES,
    Certainty,
    Population,
    Source,
    get_source,
    load_sources,
)

__all__ = ["SOURCES", "Certainty", "Population", "Source", "get_source", "load_sources"]
