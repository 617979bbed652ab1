"""Digests of what the registry stores: canonical JSON, cases, plans and secrets.

A digest is the SHA-256 (hex) of a canonical text, so that a stored result can
be compared byte for byte with a recomputed one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from netlm.case import Case
from netlm.sirt.plan import Plan


def canonical_json(document: Any) -> str:
    """Sorted keys, no whitespace, no NaN: the text that digests are taken of."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def document_digest(document: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``document``."""
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def case_digest(case: Case) -> str:
    """SHA-256 of the validated case, exactly as an assessment's ``inputs_digest``."""
    canonical = case.model_dump_json(by_alias=True, exclude_none=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plan_digest(plan: Plan) -> str:
    canonical = plan.model_dump_json(by_alias=True, exclude_none=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
