"""Patient and user identifiers that cannot be mistaken for one another.

An identifier is stored in Unicode NFC form (:func:`normalise`) and refused
(:func:`identifier_problem`) when it holds an invisible or format character
(zero-width space, soft hyphen, byte-order mark: Unicode category Cf), a
bidirectional control (right-to-left override and friends), or letters of more
than one script (Latin "A" beside Cyrillic "А"), the look-alikes of Unicode
Technical Standard #39 (mixed-script confusables).  Without these checks
``"EX-001"`` and ``"EX-001\\u200b"`` are two patients that look the same.
"""

from __future__ import annotations

import unicodedata

#: Characters that change the display order of text (Unicode bidirectional controls).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


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
    return None


__all__ = ["BIDI_CONTROLS", "identifier_problem", "normalise"]
