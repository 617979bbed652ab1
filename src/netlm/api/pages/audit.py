"""``/audit``: the audit log, for admins (latest entries first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from netlm.api.config import StoreDep
from netlm.api.roles import ADMINS, GuardedRoute, allow
from netlm.api.templating import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse, **allow(ADMINS))
def audit(
    request: Request,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> Response:
    entries = list(reversed(store.audit_log(limit=limit)))
    return render(request, "audit.html", title="Audit log", entries=entries)
