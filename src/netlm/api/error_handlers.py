"""How errors become answers: netlm errors to HTTP statuses, JSON for the API, pages otherwise.

- :class:`~netlm.errors.InputError`: 422, one ``{field, message}`` per problem;
- :class:`~netlm.errors.NotFoundError`: 404;
- :class:`~netlm.errors.PermissionDeniedError`: 403;
- :class:`~netlm.errors.UnsafePlanError`: 409 with the violations;
- :class:`~netlm.errors.StoreError`: 409 (a refused change), 503 when the database fails;
- any other :class:`~netlm.errors.NetlmError`: 422.

Workflows (:mod:`netlm.workflows`) raise these errors, never HTTP ones; the
messages are scrubbed of paths and URLs (:func:`netlm.api.limits.scrub`), and a
database failure is logged with an error id and answered without its words.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from netlm.api.config import is_api
from netlm.api.limits import scrub
from netlm.api.middleware import log, log_exception, route_template
from netlm.api.templating import error_page
from netlm.errors import (
    InputError,
    NetlmError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    UnsafePlanError,
)


def _problems(exc: InputError) -> list[dict[str, str]]:
    return [{"field": path, "message": scrub(message)} for path, message in exc.problems]


def _database_failure(exc: BaseException) -> bool:
    """Whether a StoreError comes from the database itself (not a refused duplicate)."""
    import sqlalchemy as sa

    cause = exc.__cause__
    return isinstance(cause, sa.exc.DBAPIError) and not isinstance(cause, sa.exc.IntegrityError)


def install_error_handlers(app: FastAPI) -> None:
    """Map netlm errors to HTTP: input 422, not found 404, role 403, unsafe plan 409."""

    def route(request: Request) -> str:
        return f"{request.method} {route_template(request.scope)}"

    async def on_input_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        log.info("%s: %s with %d problem(s)", route(request), type(exc).__name__, len(exc.problems))
        if not is_api(request.url.path):
            return error_page(request, 422, f"invalid {exc.what}", _problems(exc))
        return JSONResponse(
            {"detail": f"invalid {exc.what}", "problems": _problems(exc)}, status_code=422
        )

    async def on_not_found(request: Request, exc: Exception) -> Response:
        log.info("%s: not found", route(request))
        detail = scrub(str(exc)) or "not found"
        if not is_api(request.url.path):
            return error_page(request, 404, detail)
        return JSONResponse({"detail": detail}, status_code=404)

    async def on_permission(request: Request, exc: Exception) -> Response:
        log.info("%s: permission denied", route(request))
        if not is_api(request.url.path):
            return error_page(request, 403, str(exc) or "permission denied")
        return JSONResponse({"detail": str(exc) or "permission denied"}, status_code=403)

    async def on_unsafe(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UnsafePlanError)
        log.info("%s: unsafe plan refused (%d violation(s))", route(request), len(exc.violations))
        body = {"detail": "unsafe plan refused", "violations": exc.violations}
        if not is_api(request.url.path):
            return error_page(
                request,
                409,
                "unsafe plan refused",
                [{"field": "", "message": v} for v in exc.violations],
            )
        return JSONResponse(body, status_code=409)

    async def on_store_error(request: Request, exc: Exception) -> Response:
        if _database_failure(exc):  # the database's own words can name hosts and files
            error_id = log_exception(exc, route(request))
            detail = f"the registry database is unavailable (error id {error_id})"
            if not is_api(request.url.path):
                return error_page(request, 503, detail)
            return JSONResponse({"detail": detail, "error_id": error_id}, status_code=503)
        log.info("%s: %s", route(request), type(exc).__name__)
        if not is_api(request.url.path):
            return error_page(request, 409, scrub(str(exc)))
        return JSONResponse({"detail": scrub(str(exc))}, status_code=409)

    async def on_netlm_error(request: Request, exc: Exception) -> Response:
        log.info("%s: %s", route(request), type(exc).__name__)
        if not is_api(request.url.path):
            return error_page(request, 422, scrub(str(exc)))
        return JSONResponse({"detail": scrub(str(exc))}, status_code=422)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if is_api(request.url.path):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        if exc.status_code == 401:
            return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
        return error_page(request, exc.status_code, str(exc.detail))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        log.info("%s: request validation failed", route(request))
        if is_api(request.url.path):  # without the "input" FastAPI echoes: it can be large
            errors = [
                {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": str(e.get("msg"))}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg"))}
            for e in exc.errors()
        ]
        return error_page(request, 422, "invalid request", problems)

    app.add_exception_handler(InputError, on_input_error)
    app.add_exception_handler(NotFoundError, on_not_found)
    app.add_exception_handler(PermissionDeniedError, on_permission)
    app.add_exception_handler(UnsafePlanError, on_unsafe)
    app.add_exception_handler(StoreError, on_store_error)
    app.add_exception_handler(NetlmError, on_netlm_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
