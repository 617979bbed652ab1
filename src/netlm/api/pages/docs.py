"""The API reference page, rendered from the OpenAPI document (no scripts, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from netlm.api.config import DOCS_PATH, OPENAPI_PATH
from netlm.api.roles import ALL_ROLES, ROLES_KEY, GuardedRoute, allow
from netlm.api.templating import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get(DOCS_PATH, response_class=HTMLResponse, **allow(ALL_ROLES))
def api_docs(request: Request) -> Response:
    """The API reference, rendered here from the OpenAPI document (no scripts, no CDN)."""
    document = request.app.openapi()
    groups: dict[str, list[dict[str, str]]] = {}
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(
                {
                    "id": str(op.get("operationId", f"{method}-{path}")),
                    "method": method.upper(),
                    "path": path,
                    "summary": str(op.get("summary", "")),
                    "description": str(op.get("description", "")),
                    "roles": ", ".join(op.get(ROLES_KEY, ["public"])),
                }
            )
    return render(
        request,
        "api_docs.html",
        title="API reference",
        groups=sorted(groups.items()),
        version=document.get("info", {}).get("version", ""),
        openapi_path=OPENAPI_PATH,
        openapi_version=document.get("openapi", ""),
    )
