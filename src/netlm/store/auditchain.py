"""The audit log as a hash chain: :func:`link` and :func:`verify_chain`.

Every audit entry gets a link in ``audit_chain``: the SHA-256 of the previous
link and the entry's canonical text (id, time, actor, action, record, patient,
details).  Changing, deleting or inserting an entry behind the application's
back (e.g. by the owner of a SQLite file, or a database superuser who turns the
append-only triggers off) breaks the chain from there on, and
``netlm db verify-audit`` says where.  Links are appended in commit order
(PostgreSQL writers take a transaction-scoped advisory lock; SQLite writers are
serialised anyway), so the chain is ordered by the link's own id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

#: The first link's "previous" hash.
GENESIS = "0" * 64
#: PostgreSQL advisory lock key that serialises appends to the chain ("netlm-au").
ADVISORY_LOCK_KEY = 0x6E65746C6D2D6175


def entry_text(
    *,
    entry_id: int,
    at: dt.datetime,
    actor: str,
    action: str,
    record_type: str,
    record_id: int | None,
    patient_id: int | None,
    details: Mapping[str, Any] | None,
) -> str:
    """The canonical text of an audit entry (what its link hashes)."""
    when = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return json.dumps(
        [
            entry_id,
            when.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            actor,
            action,
            record_type,
            record_id,
            patient_id,
            dict(details or {}),
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def link(previous: str, text: str) -> str:
    """The link after ``previous`` for an entry whose canonical text is ``text``.

    Examples
    --------
    >>> link(GENESIS, "[]") == link(GENESIS, "[]") != link(GENESIS, "[1]")
    True
    """
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found."""

    entries: int
    links: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(
    links: Iterable[tuple[int, str]], entries: Mapping[int, str], *, limit: int = 100
) -> ChainReport:
    """Check ``links`` (audit id, hash; in chain order) against ``entries`` (id -> text).

    Reports (at most ``limit``) entries that were changed, links whose entry was
    deleted, and entries without a link (added behind the application's back).
    """
    problems: list[str] = []
    previous = GENESIS
    seen: set[int] = set()
    count = 0
    for audit_id, stored in links:
        count += 1
        seen.add(audit_id)
        text = entries.get(audit_id)
        if text is None:
            problems.append(f"audit entry {audit_id} was deleted")
        elif link(previous, text) != stored:
            problems.append(f"audit entry {audit_id} was changed (or an earlier link removed)")
        previous = stored
        if len(problems) >= limit:
            break
    for audit_id in sorted(set(entries) - seen):
        if len(problems) >= limit:
            break
        problems.append(f"audit entry {audit_id} has no link: written behind netlm's back")
    return ChainReport(entries=len(entries), links=count, problems=tuple(problems))


__all__ = [
    "ADVISORY_LOCK_KEY",
    "GENESIS",
    "ChainReport",
    "entry_text",
    "link",
    "verify_chain",
]
