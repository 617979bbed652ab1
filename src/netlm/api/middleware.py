"""Per-request logging without PHI and the security headers of every answer.

One log line per request: method, route template
(``/api/v1/patients/{patient_id}``), numeric ids, status, duration, acting user
and role.  Never a query string, a request body, a patient's external id or an
exception message (which can quote a case value); errors are logged by type and
traceback frames (:func:`log_exception`).
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netlm.api.config import PUBLIC_PREFIXES
from netlm.units import MS_PER_S

log = logging.getLogger("netlm.api")


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def _numeric_ids(scope: Scope) -> str:
    params = scope.get("path_params") or {}
    ids = [f"{k}={v}" for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool)]
    return " ".join(ids)


def log_exception(exc: BaseException, where: str) -> str:
    """Log an unexpected error without its message (which may quote patient data).

    Returns the error id also given to the client.
    """
    error_id = uuid.uuid4().hex[:12]
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled %s in %s (error id %s)\n%s", type(exc).__name__, where, error_id, frames)
    return error_id


#: The Content-Security-Policy of every answer: no scripts at all.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)
#: The policy of the pages that show the image viewer (``partials/viewer.html``): the same,
#: but scripts from the server's own static files (the vendored NiiVue, ``viewer.js``);
#: never inline, eval'd or from elsewhere.  No workers or WebAssembly: NiiVue needs neither
#: to show NIfTI.
VIEWER_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'none'", "script-src 'self'"
)

#: Headers on every answer (the static files may be cached): patient data is not cached,
#: framed, sniffed or scripted (pages with the image viewer set their own policy).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
)


#: Strict-Transport-Security, sent when the server runs behind HTTPS (``secure_cookies``).
HSTS_HEADER = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def _with_security_headers(
    message: Message, headers: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS
) -> Message:
    present = {name.lower() for name, _ in message.get("headers", [])}
    extra = [(k, v) for k, v in headers if k not in present]
    out: Message = dict(message)
    out["headers"] = [*message.get("headers", []), *extra]
    return out


class RequestLogMiddleware:
    """One log line per request, without PHI; security headers; any escaped exception a 500."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        extra = (HSTS_HEADER,) if hsts else ()
        self.headers = SECURITY_HEADERS + extra
        self.static_headers = tuple(h for h in self.headers if h[0] != b"cache-control")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_code = 500
        started = False
        path: str = scope["path"]
        headers = self.static_headers if path.startswith(PUBLIC_PREFIXES) else self.headers

        async def send_and_record(message: Message) -> None:
            nonlocal status_code, started
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
                started = True
                message = _with_security_headers(message, headers)
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        except Exception as exc:
            error_id = log_exception(exc, f"{scope['method']} {route_template(scope)}")
            if not started:
                response = JSONResponse(
                    {"detail": "internal error", "error_id": error_id}, status_code=500
                )
                await response(scope, receive, send_and_record)
            status_code = 500
        finally:
            principal = scope.get("state", {}).get("principal")
            who = f"{principal.username}/{principal.role.value}" if principal else "-"
            log.info(
                "%s %s %s -> %d %.1f ms user=%s",
                scope["method"],
                route_template(scope),
                _numeric_ids(scope),
                status_code,
                MS_PER_S * (time.perf_counter() - start),
                who,
            )
