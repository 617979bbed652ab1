"""The example files shipped with netlm: cases, radioembolization plans, response files.

As pydicom's ``examples`` module, a small API over the files in this folder,
which is read through :mod:`importlib.resources` (so it works from a wheel or
a zip as well as from a source tree):

* ``case-*.yaml``: ``netlm/case/v1`` tumour-board cases,
* ``plan-*.yaml``: ``netlm/sirt-plan/v1`` radioembolization plans,
* ``response-*.yaml``: ``netlm/response/v1`` follow-up files.

``netlm demo`` assesses, solves and plots them; ``netlm serve --demo`` and
``netlm demo --seed-db`` store them in a registry
(:func:`netlm.workflows.demo.seed_demo`).

Examples
--------
>>> from netlm import examples
>>> "case-bilobar-tare.yaml" in examples.names("case-")
True
>>> [name for name, _ in examples.bundled_examples("plan-")][0]
'plan-bsa-resin-bilobar.yaml'
>>> "netlm/response/v1" in examples.read_text("response-recist.yaml")
True
"""

from __future__ import annotations

from importlib import resources

__all__ = ["bundled_examples", "names", "read_text"]

_SUFFIX = ".yaml"


def names(prefix: str = "") -> list[str]:
    """File names of the bundled examples starting with ``prefix`` (sorted)."""
    folder = resources.files(__name__)
    return sorted(
        item.name
        for item in folder.iterdir()
        if item.is_file() and item.name.startswith(prefix) and item.name.endswith(_SUFFIX)
    )


def read_text(name: str) -> str:
    """The text of the bundled example ``name`` (e.g. ``"plan-partition-glass.yaml"``).

    Raises
    ------
    FileNotFoundError
        When no bundled example has that name.
    """
    if name not in names():
        raise FileNotFoundError(f"no bundled example named {name!r}; there are {names()}")
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def bundled_examples(prefix: str = "case-") -> list[tuple[str, str]]:
    """(file name, text) of the bundled examples whose name starts with ``prefix``, sorted."""
    return [(name, read_text(name)) for name in names(prefix)]
