"""The password policy of netlm's user accounts: :func:`password_problems`.

A password is refused when it is shorter than :data:`MIN_PASSWORD_LENGTH`
characters, is the user name (or contains it), or is a commonly used password:
one on the list shipped with netlm (``store/data/common-passwords.txt``), or
such a password followed only by digits and punctuation (``password123456!``).
This follows NIST SP 800-63B §5.1.1.2 (memorized secret verifiers: compare
against lists of commonly used and compromised values, and against
context-specific words such as the user name); the minimum length of 12 is the
service's own choice, above the NIST minimum of 8.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

#: Shortest password accepted (characters).
MIN_PASSWORD_LENGTH = 12
#: Longest password accepted (characters; argon2 hashes any length, this bounds the work).
MAX_PASSWORD_LENGTH = 1024

_TRAILING = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    text = resources.files("netlm.store").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def is_common(password: str) -> bool:
    """Whether ``password`` is on the common list, also without trailing digits and punctuation.

    Examples
    --------
    >>> is_common("Password123456!")
    True
    >>> is_common("violet-lantern-harbour")
    False
    """
    lowered = password.lower()
    common = common_passwords()
    base = _TRAILING.sub("", lowered)
    return lowered in common or (bool(base) and base in common)


def password_problems(password: object, username: str | None = None) -> list[str]:
    """Why ``password`` is refused for ``username`` (empty when it is acceptable).

    Examples
    --------
    >>> password_problems("short")
    ['must be at least 12 characters (got 5)']
    >>> password_problems("dr.smith-2024!", "dr.smith")
    ['must not contain the user name']
    >>> password_problems("qwertyuiop12345")
    ['is a commonly used password; choose another']
    >>> password_problems("violet-lantern-harbour", "dr.smith")
    []
    """
    if not isinstance(password, str):
        return [f"must be text, not {type(password).__name__}"]
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"must be at least {MIN_PASSWORD_LENGTH} characters (got {len(password)})"]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"is longer than {MAX_PASSWORD_LENGTH} characters"]
    problems = []
    name, lowered = (username or "").lower(), password.lower()
    if name and (lowered == name or (len(name) >= 4 and name in lowered)):
        problems.append("must not contain the user name")
    if is_common(password):
        problems.append("is a commonly used password; choose another")
    return problems


__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "common_passwords",
    "is_common",
    "password_problems",
]
