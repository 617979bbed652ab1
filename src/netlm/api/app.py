"""The netlm web API and web application: :func:`create_app`.

Everything a user can see or change goes through the registry
(:class:`netlm.store.repository.Store`); this module adds HTTP around it:

- a JSON API under :data:`API_PREFIX` (``/api/v1``) with its OpenAPI document at
  ``/api/v1/openapi.json`` (and a browsable version at ``/api/v1/docs``);
- the server-rendered web application (:mod:`netlm.api.pages`) at ``/``.

Authentication
    Scripts send ``Authorization: Bearer <token>`` (``POST /api/v1/auth/token``
    exchanges a user name and password for one; tokens expire, and are listed
    and revoked at ``/api/v1/auth/tokens``).  Browsers log in on ``/login``
    (the form carries a pre-session token against login CSRF) and carry a
    signed, HttpOnly, SameSite=Lax cookie naming a server-side session; log-out,
    a password or role change and disabling the user end it at once.  Every
    form holds a CSRF token, and a cookie-authenticated API request that
    changes anything must repeat the token in the ``X-CSRF-Token`` header.
    Failed log-ins are throttled per user name and client address (429 with
    ``Retry-After``), logged and audited.

Limits
    Bodies are limited before parsing and JSON is checked for depth, finite
    numbers and valid Unicode (:mod:`netlm.api.limits`); error answers carry no
    database URL or server path.  Everything except
    ``/api/v1/health``, the two log-in endpoints and the static files (style
    sheet) needs an authenticated user, the OpenAPI document included.

Roles
    ``viewer`` reads; ``clinician``, ``physicist`` and ``admin`` write; only a
    ``physicist`` approves a plan or records a safety override; user
    management and the audit log are for ``admin``.  Every route declares its
    roles (``x-netlm-roles`` in the OpenAPI document), and
    :func:`create_app` refuses to build an app with an undeclared route.

Logs
    One line per request: method, route template (``/api/v1/patients/{patient_id}``),
    numeric ids, status, duration, acting user and role.  Never a query string,
    a request body, a patient's external id or an exception message (which
    can quote a case value); errors are logged by type and traceback frames.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    HTTPException,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netlm import __version__
from netlm.api.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware, check_upload, scrub
from netlm.case import case_from_mapping
from netlm.errors import (
    InputError,
    NetlmError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    UnsafePlanError,
)
from netlm.response.report import ResponseReport
from netlm.sirt.plan import plan_from_mapping
from netlm.store.repository import (
    CTCAE_VERSIONS,
    DEFAULT_SESSION_TTL,
    DEFAULT_TOKEN_TTL,
    IMAGE_KINDS,
    LAB_ANALYTES,
    RESPONSE_CATEGORIES,
    RESPONSE_CRITERIA,
    TREATMENT_MODALITIES,
    ApiTokenOut,
    AssessmentOut,
    AuditOut,
    CaseVersionOut,
    ImageOut,
    LabOut,
    PatientOut,
    PlanOut,
    PlanResultOut,
    ResponseOut,
    Role,
    Store,
    ToxicityOut,
    TreatmentOut,
    UserOut,
)
from netlm.voxel.dvh import DvhCurve, compartment_dvh
from netlm.workflows.response import record_response

if TYPE_CHECKING:  # SimpleITK is imported when an image is first checked
    from netlm.imaging.limits import ImageLimits

log = logging.getLogger("netlm.api")

#: Where the JSON API lives; its OpenAPI document is ``{API_PREFIX}/openapi.json``.
API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
#: The API reference page (rendered by the server from the OpenAPI document; no scripts).
DOCS_PATH = f"{API_PREFIX}/docs"
SESSION_COOKIE = "netlm_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
#: A browser session lasts this long after log-in (seconds).
SESSION_MAX_AGE_S = int(DEFAULT_SESSION_TTL.total_seconds())
#: Largest accepted upload (an image series or a mask), in bytes.
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
#: How long a resolved token or session is trusted before the registry is asked again
#: (seconds): a revoked token or a changed role takes effect within this time.
DEFAULT_AUTH_CACHE_S = 5.0
_AUTH_CACHE_ENTRIES = 10_000
#: Why a plan with a safety override is refused to anyone but a physicist.
OVERRIDE_REFUSED = "only a physicist can record a safety override"
#: The OpenAPI extension key that carries a route's allowed roles.
ROLES_KEY = "x-netlm-roles"

ALL_ROLES: frozenset[Role] = frozenset(Role)
WRITERS: frozenset[Role] = frozenset({Role.CLINICIAN, Role.PHYSICIST, Role.ADMIN})
PHYSICISTS: frozenset[Role] = frozenset({Role.PHYSICIST})
ADMINS: frozenset[Role] = frozenset({Role.ADMIN})

#: Paths that need no authentication (exact), and prefixes of such paths.
PUBLIC_PATHS = frozenset(
    {
        f"{API_PREFIX}/health",
        f"{API_PREFIX}/auth/token",
        "/login",
        "/favicon.ico",
    }
)
PUBLIC_PREFIXES = ("/static/",)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --------------------------------------------------------------------------- configuration
@dataclasses.dataclass(frozen=True)
class ApiConfig:
    """What the request handlers share, kept on ``app.state.netlm``."""

    store: Store
    serializer: URLSafeTimedSerializer
    files_dir: Path
    secure_cookies: bool = False
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    auth_cache_s: float = DEFAULT_AUTH_CACHE_S
    token_ttl: dt.timedelta = DEFAULT_TOKEN_TTL
    allow_own_override_approval: bool = False
    #: Image limits for uploads and dose computations (None: netlm.imaging.limits defaults).
    image_limits: ImageLimits | None = None
    #: Resolved credentials (see :class:`AuthMiddleware`); emptied whenever a user's
    #: sessions or tokens end, so that the change holds at once in this process.
    auth_cache: dict[tuple[str | None, str | None], tuple[float, Principal]] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def credentials_changed(self) -> None:
        """Forget every cached session and token (after a log-out, revocation, role change)."""
        self.auth_cache.clear()


def client_address(request: Request) -> str:
    """The client's address as the server sees it (the proxy's, unless uvicorn trusts it)."""
    return request.client.host if request.client else "-"


@dataclasses.dataclass(frozen=True)
class Principal:
    """The authenticated user of one request."""

    username: str
    role: Role
    via: Literal["token", "session"]
    csrf: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    @property
    def can_approve(self) -> bool:
        return self.role in PHYSICISTS


def config_of(request: Request) -> ApiConfig:
    config: ApiConfig = request.app.state.netlm
    return config


async def store_of(request: Request) -> Store:
    """Dependency: the registry (async, so that FastAPI needs no worker thread for it)."""
    return config_of(request).store


def principal_of(request: Request) -> Principal | None:
    """The request's authenticated user, or ``None`` (public paths only)."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


async def current_principal(request: Request) -> Principal:
    """Dependency: the authenticated user (the middleware has already refused anonymous calls)."""
    principal = principal_of(request)
    if principal is None:  # pragma: no cover - the middleware answers first
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required")
    return principal


StoreDep = Annotated[Store, Depends(store_of)]
UserDep = Annotated[Principal, Depends(current_principal)]


def allow(roles: frozenset[Role]) -> dict[str, Any]:
    """Route keyword arguments declaring the roles that may call it.

    The roles are enforced by :class:`GuardedRoute` and published in the
    OpenAPI document as ``x-netlm-roles``.
    """
    return {
        "openapi_extra": {
            ROLES_KEY: sorted(r.value for r in roles),
            "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        }
    }


def route_roles(route: APIRoute) -> frozenset[Role] | None:
    """The roles a route allows, or ``None`` for a public route."""
    extra = route.openapi_extra or {}
    names = extra.get(ROLES_KEY)
    return None if names is None else frozenset(Role(n) for n in names)


def _role_names(roles: frozenset[Role]) -> str:
    return " or ".join(sorted(r.value for r in roles))


class GuardedRoute(APIRoute):
    """An API route that checks the caller's role before it reads the request body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed = route_roles(self)

        async def guarded(request: Request) -> Response:
            if allowed is not None:
                principal = principal_of(request)
                if principal is None:
                    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required")
                if principal.role not in allowed:
                    raise HTTPException(
                        status.HTTP_403_FORBIDDEN,
                        f"this needs the role {_role_names(allowed)}; "
                        f"you are {principal.role.value}",
                    )
            return await handler(request)

        return guarded


# --------------------------------------------------------------------------- sessions
def new_session(config: ApiConfig, username: str, address: str = "-") -> tuple[str, str]:
    """Open a server-side session for ``username``: the signed cookie value and its CSRF token.

    The cookie carries only the random session id; the registry holds the
    session (who, CSRF token, expiry, whether it ended), so a log-out, a
    password or role change or disabling the user ends it on every worker.
    """
    session_id, csrf = config.store.create_session(
        username, address=address, ttl=dt.timedelta(seconds=SESSION_MAX_AGE_S)
    )
    return config.serializer.dumps({"s": session_id}), csrf


def session_id_of(config: ApiConfig, cookie: str | None) -> str | None:
    """The session id in a signed cookie value, or ``None`` when it is not one of ours."""
    if not cookie:
        return None
    try:
        data = config.serializer.loads(cookie, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not (isinstance(data, dict) and isinstance(data.get("s"), str)):
        return None
    session_id: str = data["s"]
    return session_id


def set_session_cookie(response: Response, config: ApiConfig, cookie: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=config.secure_cookies,
        path="/",
    )


def _resolve_principal(
    config: ApiConfig, authorization: str | None, cookie: str | None
) -> tuple[Principal | None, str]:
    """The user behind a bearer token or a session cookie, or ``None`` and why not."""
    store = config.store
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            return None, "malformed Authorization header (use 'Bearer <token>')"
        user = store.user_for_token(token)
        if user is None:
            return None, "invalid or expired token"
        return Principal(user.username, Role(user.role), "token"), ""
    if cookie:
        session_id = session_id_of(config, cookie)
        found = None if session_id is None else store.session_user(session_id)
        if found is None:
            return None, "session expired or ended; log in again"
        user, csrf = found
        return Principal(user.username, Role(user.role), "session", csrf), ""
    return None, "authentication required"


def attempt_login(
    config: ApiConfig, username: str, password: str, address: str, *, via: str
) -> tuple[UserOut | None, float]:
    """Check a log-in under the throttle: the user (or ``None``) and seconds to wait (or 0).

    A refused log-in is counted (per user name and per address), logged with the
    user name and address, and audited; while the throttle holds, the password
    is not even checked.
    """
    store = config.store
    name = username[:200]
    wait = store.login_retry_after(name, address)
    if wait > 0:
        log.warning("log-in throttled: user=%r address=%s retry after %.0f s", name, address, wait)
        return None, wait
    user = store.authenticate(name, password) if len(password) <= 1024 else None
    if user is None:
        store.record_login_failure(name, address, via=via)
        log.warning("failed log-in: user=%r address=%s via=%s", name, address, via)
        return None, 0.0
    store.record_login(user.username, address, via=via)
    return user, 0.0


def too_many_attempts(wait_s: float) -> HTTPException:
    """The 429 answer of a throttled log-in, with ``Retry-After`` in whole seconds."""
    seconds = max(int(wait_s + 0.999), 1)
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many failed log-ins; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class AuthMiddleware:
    """Resolve the caller before routing; refuse anonymous calls to anything not public.

    Refusing here, before the router parses a body, means an anonymous caller
    learns nothing about a route (not even whether its body would be valid).
    """

    def __init__(self, app: ASGIApp, config: ApiConfig) -> None:
        self.app = app
        self.config = config
        self._cache = config.auth_cache

    async def _principal(
        self, authorization: str | None, cookie: str | None
    ) -> tuple[Principal | None, str]:
        """The caller, from the short-lived cache or the registry (in a worker thread)."""
        key = (authorization, cookie)
        ttl = self.config.auth_cache_s
        now = time.monotonic()
        if ttl > 0 and (authorization or cookie):
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1], ""
        principal, problem = await run_in_threadpool(
            _resolve_principal, self.config, authorization, cookie
        )
        if ttl > 0 and principal is not None:
            if len(self._cache) >= _AUTH_CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = (now + ttl, principal)
        return principal, problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        principal, problem = await self._principal(
            request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE)
        )
        scope.setdefault("state", {})["principal"] = principal
        path: str = scope["path"]
        method: str = scope["method"]
        if principal is None and not is_public(path):
            response: Response
            if path == DOCS_PATH and method in _SAFE_METHODS:
                response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
            elif is_api(path):
                response = JSONResponse(
                    {"detail": problem},
                    status_code=status.HTTP_401_UNAUTHORIZED,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            elif method in _SAFE_METHODS:
                response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
            else:
                from netlm.api.pages import error_page

                response = error_page(request, status.HTTP_401_UNAUTHORIZED, f"{problem}.")
            if request.cookies.get(SESSION_COOKIE):
                response.delete_cookie(SESSION_COOKIE, path="/")
            await response(scope, receive, send)
            return
        if (
            principal is not None
            and principal.via == "session"
            and is_api(path)
            and method not in _SAFE_METHODS
        ):
            given = request.headers.get(CSRF_HEADER, "")
            if not (
                principal.csrf
                and secrets.compare_digest(given.encode("latin-1"), principal.csrf.encode())
            ):
                denied = JSONResponse(
                    {"detail": f"missing or wrong {CSRF_HEADER} header"},
                    status_code=status.HTTP_403_FORBIDDEN,
                )
                await denied(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --------------------------------------------------------------------------- logging
def _route_template(scope: Scope) -> str:
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
            error_id = log_exception(exc, f"{scope['method']} {_route_template(scope)}")
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
                _route_template(scope),
                _numeric_ids(scope),
                status_code,
                1000 * (time.perf_counter() - start),
                who,
            )


# --------------------------------------------------------------------------- errors
def _problems(exc: InputError) -> list[dict[str, str]]:
    return [{"field": path, "message": scrub(message)} for path, message in exc.problems]


def _database_failure(exc: BaseException) -> bool:
    """Whether a StoreError comes from the database itself (not a refused duplicate)."""
    import sqlalchemy as sa

    cause = exc.__cause__
    return isinstance(cause, sa.exc.DBAPIError) and not isinstance(cause, sa.exc.IntegrityError)


def install_error_handlers(app: FastAPI) -> None:
    """Map netlm errors to HTTP: input 422, not found 404, role 403, unsafe plan 409."""
    from netlm.api import pages

    def route(request: Request) -> str:
        return f"{request.method} {_route_template(request.scope)}"

    async def on_input_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        log.info("%s: %s with %d problem(s)", route(request), type(exc).__name__, len(exc.problems))
        if not is_api(request.url.path):
            return pages.error_page(request, 422, f"invalid {exc.what}", _problems(exc))
        return JSONResponse(
            {"detail": f"invalid {exc.what}", "problems": _problems(exc)}, status_code=422
        )

    async def on_not_found(request: Request, exc: Exception) -> Response:
        log.info("%s: not found", route(request))
        detail = scrub(str(exc)) or "not found"
        if not is_api(request.url.path):
            return pages.error_page(request, 404, detail)
        return JSONResponse({"detail": detail}, status_code=404)

    async def on_permission(request: Request, exc: Exception) -> Response:
        log.info("%s: permission denied", route(request))
        if not is_api(request.url.path):
            return pages.error_page(request, 403, str(exc) or "permission denied")
        return JSONResponse({"detail": str(exc) or "permission denied"}, status_code=403)

    async def on_unsafe(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UnsafePlanError)
        log.info("%s: unsafe plan refused (%d violation(s))", route(request), len(exc.violations))
        body = {"detail": "unsafe plan refused", "violations": exc.violations}
        if not is_api(request.url.path):
            return pages.error_page(
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
                return pages.error_page(request, 503, detail)
            return JSONResponse({"detail": detail, "error_id": error_id}, status_code=503)
        log.info("%s: %s", route(request), type(exc).__name__)
        if not is_api(request.url.path):
            return pages.error_page(request, 409, scrub(str(exc)))
        return JSONResponse({"detail": scrub(str(exc))}, status_code=409)

    async def on_netlm_error(request: Request, exc: Exception) -> Response:
        log.info("%s: %s", route(request), type(exc).__name__)
        if not is_api(request.url.path):
            return pages.error_page(request, 422, scrub(str(exc)))
        return JSONResponse({"detail": scrub(str(exc))}, status_code=422)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if is_api(request.url.path):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        if exc.status_code == 401:
            return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
        return pages.error_page(request, exc.status_code, str(exc.detail))

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
        return pages.error_page(request, 422, "invalid request", problems)

    app.add_exception_handler(InputError, on_input_error)
    app.add_exception_handler(NotFoundError, on_not_found)
    app.add_exception_handler(PermissionDeniedError, on_permission)
    app.add_exception_handler(UnsafePlanError, on_unsafe)
    app.add_exception_handler(StoreError, on_store_error)
    app.add_exception_handler(NetlmError, on_netlm_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)


# --------------------------------------------------------------------------- API models
class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class TokenRequest(_In):
    username: Annotated[str, Field(min_length=1, max_length=150)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    username: str
    role: Role
    expires_at: dt.datetime


class PasswordChange(_In):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserChange(_In):
    """An admin's change to a user; each ends the user's sessions and tokens."""

    role: Role | None = None
    disabled: bool | None = None
    password: Annotated[str | None, Field(min_length=1, max_length=1024)] = None


class Me(BaseModel):
    username: str
    role: Role
    can_write: bool
    can_approve: bool


class UserCreate(_In):
    username: Annotated[str, Field(min_length=1, max_length=150)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    role: Role


class PatientCreate(_In):
    external_id: Annotated[str, Field(min_length=1, max_length=128)]


def _one_of(values: frozenset[str]) -> dict[str, Any]:
    return {"json_schema_extra": {"enum": sorted(values)}}


class TreatmentIn(_In):
    modality: Annotated[str, Field(min_length=1, max_length=64, **_one_of(TREATMENT_MODALITIES))]
    date: dt.date
    details: dict[str, Any] = Field(default_factory=dict)


class LabIn(_In):
    date: dt.date
    analyte: Annotated[str, Field(min_length=1, max_length=64, **_one_of(LAB_ANALYTES))]
    value: float
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    uln: float | None = None
    lln: float | None = None


class ResponseTimepointIn(_In):
    date: dt.date
    criterion: Annotated[str, Field(min_length=1, max_length=32, **_one_of(RESPONSE_CRITERIA))]
    overall: Annotated[str, Field(min_length=1, max_length=32, **_one_of(RESPONSE_CATEGORIES))]
    details: dict[str, Any] = Field(default_factory=dict)


class ToxicityIn(_In):
    date: dt.date
    term: Annotated[str, Field(min_length=1, max_length=200)]
    grade: Annotated[int, Field(ge=0, le=5, description="CTCAE grade 0-5.")]
    ctcae_version: Annotated[str, Field(max_length=8, **_one_of(CTCAE_VERSIONS))] = "5.0"


class DoseRequest(_In):
    """Voxel dosimetry from images already uploaded for the patient."""

    activity_image_id: int = Field(description="90Y PET or SPECT (or MAA SPECT) image record.")
    mask_image_ids: Annotated[list[int], Field(min_length=1, max_length=32)]
    ct_image_id: int | None = Field(default=None, description="CT for density (HU -> g/mL).")
    ct_registration: dict[str, Any] | None = Field(
        default=None,
        description="A CT in another frame of reference: the confirmed rigid transform "
        "(as written by 'netlm dose register'); without it such a CT is refused.",
    )
    method: Literal["ldm", "dvk"] = "ldm"
    activity_gbq: Annotated[float | None, Field(gt=0, le=30)] = Field(
        default=None, description="Scale the image to this activity at implant (GBq)."
    )
    implant_time: AwareDatetime | None = Field(
        default=None, description="Implant time (DICOM: replaces the file's administration time)."
    )
    scan_time: AwareDatetime | None = Field(
        default=None, description="NIfTI/NRRD: the time the image's values refer to."
    )
    assume_implant_time_reference: bool = Field(
        default=False,
        description="NIfTI/NRRD without times: the values are the activity at implant (recorded).",
    )


class DoseOut(BaseModel):
    rtdose_image_id: int
    statistics: dict[str, Any]


class Reproduced(BaseModel):
    assessment_id: int
    reproducible: bool


class ApprovalIn(_In):
    result_id: int = Field(ge=1, le=2**62, description="The plan result the physicist reviewed.")


class SoftDelete(_In):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


# --------------------------------------------------------------------------- helpers
def temporary_file_response(
    make: Callable[[Path], object], filename: str, media_type: str
) -> FileResponse:
    """Write a file with ``make(path)`` in a temporary folder and send it; the folder goes after."""
    folder = Path(tempfile.mkdtemp(prefix="netlm-download-"))
    try:
        path = folder / filename
        make(path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None, default: str = "upload") -> str:
    """A file name without folders or odd characters (at most 100 characters)."""
    base = _SAFE_NAME.sub("_", Path(name or "").name).strip("._") or default
    return base[-100:]


def save_upload(upload: UploadFile, folder: Path, limit_bytes: int) -> Path:
    """Stream ``upload`` into a new sub-folder of ``folder``; refuse more than ``limit_bytes``.

    The file keeps its (sanitised) name, which readers use: a mask file
    ``liver.nii.gz`` is the mask ``liver``.  Folders are created 0700, the file 0600.
    """
    target = folder / uuid.uuid4().hex[:16] / safe_filename(upload.filename)
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # patient data: owner only
    for part in (folder, target.parent):
        part.mkdir(mode=0o700, exist_ok=True)
    written = 0
    try:
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            while chunk := upload.file.read(1024 * 1024):
                written += len(chunk)
                if written > limit_bytes:
                    raise HTTPException(413, f"upload larger than {limit_bytes} bytes")
                out.write(chunk)
        if written == 0:
            raise InputError([("file", "the uploaded file is empty")])
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return target


def iter_api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every route of ``app``'s JSON API and pages, with its full path."""
    routers: list[APIRouter] = app.state.netlm_routers
    for router in routers:
        for r in router.routes:
            if isinstance(r, APIRoute):
                yield r


# --------------------------------------------------------------------------- services
def patient_files_dir(config: ApiConfig, patient_id: int) -> Path:
    """The folder of a patient's uploads and computed files."""
    return config.files_dir / f"patient-{patient_id}"


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def image_file(config: ApiConfig, patient_id: int, image_id: int) -> tuple[ImageOut, Path]:
    """One of the patient's images and its file (only files this server stored are served).

    Raises
    ------
    NotFoundError
        If the patient has no such image, or its file is not one the server holds.
    """
    for image in config.store.images(patient_id):
        if image.id == image_id:
            if image.path is None:
                raise NotFoundError(f"image {image_id} is a reference without a file")
            path = Path(image.path)
            if not (_inside(path, config.files_dir) and path.is_file()):
                raise NotFoundError(f"the file of image {image_id} is not held by this server")
            return image, path
    raise NotFoundError(f"patient {patient_id} has no image {image_id}")


def compute_patient_dose(
    config: ApiConfig, patient_id: int, request: DoseRequest, *, actor: str
) -> DoseOut:
    """Voxel dosimetry on the patient's stored images; the RT Dose becomes a new image record."""
    from netlm.imaging.limits import DEFAULT_IMAGE_LIMITS, image_limits
    from netlm.voxel.kernels import default_kernel_cache_dir
    from netlm.workflows.dose import compute_dose

    def path_of(image_id: int, field: str) -> Path:
        try:
            return image_file(config, patient_id, image_id)[1]
        except NotFoundError as exc:
            raise InputError([(field, str(exc))]) from None

    activity = path_of(request.activity_image_id, "activity_image_id")
    masks = [path_of(i, f"mask_image_ids[{n}]") for n, i in enumerate(request.mask_image_ids)]
    ct = None if request.ct_image_id is None else path_of(request.ct_image_id, "ct_image_id")
    transform = None
    if request.ct_registration is not None:
        from netlm.imaging.registration import RigidTransform

        transform = RigidTransform.from_mapping(request.ct_registration)
    out = patient_files_dir(config, patient_id) / f"dose-{uuid.uuid4().hex[:12]}"
    try:
        with image_limits(config.image_limits or DEFAULT_IMAGE_LIMITS):
            document = compute_dose(
                activity,
                masks,
                out,
                ct_path=ct,
                method=request.method,
                activity_gbq=request.activity_gbq,
                implant_time=request.implant_time,
                scan_time=request.scan_time,
                assume_implant_time_reference=request.assume_implant_time_reference,
                kernel_cache_dir=default_kernel_cache_dir(os.environ, Path.home()),
                ct_registration=transform,
            ).document
        image = config.store.add_image(
            patient_id,
            kind="rtdose",
            path=str(out / "rtdose.dcm"),
            description=(
                f"netlm 90Y absorbed dose ({request.method.upper()}) from image "
                f"{request.activity_image_id}"
            ),
            actor=actor,
        )
    except NetlmError:
        shutil.rmtree(out, ignore_errors=True)
        raise
    except (RuntimeError, OSError, ValueError, MemoryError) as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise InputError(
            [("activity_image_id", f"the images could not be used ({type(exc).__name__})")]
        ) from None
    return DoseOut(rtdose_image_id=image.id, statistics=document)


def voxel_dvh(rtdose_path: Path) -> tuple[list[DvhCurve], dict[str, Any]] | None:
    """The DVH curves and statistics written beside a computed RT Dose, if readable."""
    folder = rtdose_path.parent
    try:
        stats = json.loads((folder / "dose-statistics.json").read_text(encoding="utf-8"))
        rows: dict[str, tuple[list[float], list[float]]] = {}
        with (folder / "dvh.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                levels, volumes = rows.setdefault(row["voi"], ([], []))
                levels.append(float(row["dose_gy"]))
                volumes.append(float(row["volume_percent"]))
    except (OSError, ValueError, KeyError):
        return None
    curves = [
        DvhCurve(
            label=name,
            dose_gy=np.asarray(levels),
            volume_percent=np.asarray(volumes),
            volume_ml=float(stats.get("vois", {}).get(name, {}).get("volume_ml", 0.0)),
        )
        for name, (levels, volumes) in rows.items()
    ]
    return curves, stats


def solve_stored_plan(store: Store, user: Principal, plan_id: int) -> PlanResultOut:
    """Solve a stored plan as ``user``; only a physicist applies a safety override."""
    if store.get_plan(plan_id).document.get("override") and not user.can_approve:
        raise HTTPException(403, "only a physicist can apply a safety override; ask one to solve")
    return store.solve_plan(plan_id, actor=user.username)


def plan_report_inputs(
    store: Store, plan_id: int
) -> tuple[PlanOut, PlanResultOut | None, list[DvhCurve]]:
    """A plan, the result its report shows (the approved one, else the latest) and its DVHs."""
    plan = store.get_plan(plan_id)
    result_id = plan.approved_result_id or plan.latest_result_id
    if result_id is None:
        return plan, None, []
    result = store.get_plan_result(result_id)
    return plan, result, compartment_dvh(result.to_result())


# --------------------------------------------------------------------------- the JSON API
PatientId = Annotated[int, PathParam(ge=1, le=2**62, description="Registry patient number.")]
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]
Document = Annotated[
    dict[str, Any],
    Body(description="The document as JSON (its `schema` field names the format)."),
]


def change_own_password(
    config: ApiConfig, store: Store, user: Principal, body: PasswordChange
) -> UserOut:
    """Change ``user``'s own password (``POST /auth/password`` and the password page).

    The current password must be right; the store's password policy applies;
    every session and token of the user ends at once.

    Raises
    ------
    InputError
        ``current_password`` is wrong, or the policy refuses ``password``.
    """
    if store.authenticate(user.username, body.current_password) is None:
        raise InputError([("current_password", "is wrong")])
    changed = store.set_password(user.username, body.new_password, actor=user.username)
    config.credentials_changed()
    return changed


def change_user_account(
    config: ApiConfig, store: Store, user: Principal, username: str, body: UserChange
) -> UserOut:
    """An admin's change of ``username`` (``PATCH /users/{name}`` and the users page).

    Password, role and disabled state, each through the store (its password
    policy included); the user's sessions and tokens end at once.

    Raises
    ------
    NotFoundError
        There is no such user.
    InputError
        The policy refuses the password.
    """
    store.get_user(username)
    changed = None
    if body.password is not None:
        changed = store.set_password(username, body.password, actor=user.username)
    if body.role is not None:
        changed = store.set_role(username, body.role, actor=user.username)
    if body.disabled is True:
        changed = store.disable_user(username, actor=user.username)
    elif body.disabled is False:
        changed = store.enable_user(username, actor=user.username)
    config.credentials_changed()
    return changed or store.get_user(username)


def build_api_router() -> APIRouter:
    """The ``/api/v1`` routes."""
    api = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)
    pdf: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/pdf": {}}, "description": "A PDF report."}
    }

    # ---------------------------------------------------------------- service and auth
    @api.get("/health", tags=["service"])
    def health() -> Health:
        """Liveness: no authentication, no database access."""
        return Health(version=__version__)

    @api.post(
        "/auth/token",
        tags=["auth"],
        responses={
            401: {"description": "Wrong user name or password."},
            429: {"description": "Too many failed log-ins (see Retry-After)."},
        },
    )
    def login_token(request: Request, store: StoreDep, body: TokenRequest) -> TokenOut:
        """Exchange a user name and password for a bearer token (it expires; see ``expires_at``).

        Failed log-ins are throttled per user name and per client address: after
        a handful, the answer is 429 with ``Retry-After``, growing with each
        further failure.
        """
        config = config_of(request)
        user, wait = attempt_login(
            config, body.username, body.password, client_address(request), via="token"
        )
        if wait > 0:
            raise too_many_attempts(wait)
        if user is None:
            raise HTTPException(401, "wrong user name or password")
        token = store.create_token(user.username, actor=user.username, ttl=config.token_ttl)
        record = store.token_record(token)
        expires_at = record.expires_at if record is not None else None
        if expires_at is None:  # pragma: no cover - every token made here expires
            raise HTTPException(500, "the new token has no expiry")
        return TokenOut(
            access_token=token, username=user.username, role=user.role, expires_at=expires_at
        )

    @api.get("/auth/tokens", tags=["auth"], **allow(ALL_ROLES))
    def list_tokens(
        store: StoreDep,
        user: UserDep,
        username: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[ApiTokenOut]:
        """The caller's API tokens (an admin: anyone's, or everyone's without ``username``)."""
        if user.role is not Role.ADMIN:
            if username not in (None, user.username):
                raise HTTPException(403, "only an admin lists another user's tokens")
            username = user.username
        return store.list_tokens(username)

    @api.delete("/auth/tokens/{token_id}", tags=["auth"], **allow(ALL_ROLES))
    def revoke_token(
        request: Request, store: StoreDep, user: UserDep, token_id: RecordId
    ) -> ApiTokenOut:
        """Revoke one of the caller's tokens (an admin: anyone's); it stops working at once."""
        owner = None if user.role is Role.ADMIN else user.username
        revoked = store.revoke_token_id(token_id, actor=user.username, owner=owner)
        config_of(request).credentials_changed()
        return revoked

    @api.post("/auth/password", tags=["auth"], **allow(ALL_ROLES))
    def change_password(
        request: Request, store: StoreDep, user: UserDep, body: PasswordChange
    ) -> UserOut:
        """Change the caller's own password; every session and token of the caller ends."""
        return change_own_password(config_of(request), store, user, body)

    @api.get("/auth/me", tags=["auth"], **allow(ALL_ROLES))
    def me(user: UserDep) -> Me:
        """Who the caller is, and what the role allows."""
        return Me(
            username=user.username,
            role=user.role,
            can_write=user.can_write,
            can_approve=user.can_approve,
        )

    # ---------------------------------------------------------------- users and audit
    @api.get("/users", tags=["users"], **allow(ADMINS))
    def list_users(store: StoreDep) -> list[UserOut]:
        """Every user."""
        return store.list_users()

    @api.post("/users", tags=["users"], status_code=201, **allow(ADMINS))
    def create_user(store: StoreDep, user: UserDep, body: UserCreate) -> UserOut:
        """Register a user with a role (argon2-hashed password)."""
        return store.create_user(body.username, body.password, body.role, actor=user.username)

    @api.get("/users/{username}", tags=["users"], **allow(ADMINS))
    def get_user(
        store: StoreDep, username: Annotated[str, PathParam(min_length=1, max_length=64)]
    ) -> UserOut:
        """One user."""
        return store.get_user(username)

    @api.patch("/users/{username}", tags=["users"], **allow(ADMINS))
    def change_user(
        request: Request,
        store: StoreDep,
        user: UserDep,
        username: Annotated[str, PathParam(min_length=1, max_length=64)],
        body: UserChange,
    ) -> UserOut:
        """Change a user's role, password or disabled state; the user's sessions and tokens
        end at once."""
        return change_user_account(config_of(request), store, user, username, body)

    @api.get("/audit", tags=["users"], **allow(ADMINS))
    def audit(
        store: StoreDep,
        record_type: Annotated[str | None, Query(max_length=64)] = None,
        record_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        patient_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[AuditOut]:
        """The newest audit entries (oldest first)."""
        return store.audit_log(
            record_type=record_type, record_id=record_id, patient_id=patient_id, limit=limit
        )

    # ---------------------------------------------------------------- patients and cases
    @api.get("/patients", tags=["patients"], **allow(ALL_ROLES))
    def list_patients(
        store: StoreDep,
        search: Annotated[str | None, Query(max_length=200)] = None,
        include_deleted: bool = False,
    ) -> list[PatientOut]:
        """Patients by registry number; ``search`` matches part of the patient id."""
        return store.list_patients(search or None, include_deleted=include_deleted)

    @api.post("/patients", tags=["patients"], status_code=201, **allow(WRITERS))
    def create_patient(store: StoreDep, user: UserDep, body: PatientCreate) -> PatientOut:
        """Register a patient under the centre's identifier (``patient.id`` of case files)."""
        return store.create_patient(body.external_id, actor=user.username)

    @api.get("/patients/{patient_id}", tags=["patients"], **allow(ALL_ROLES))
    def get_patient(store: StoreDep, user: UserDep, patient_id: PatientId) -> PatientOut:
        """One patient (deleted ones too); the read is audited."""
        patient = store.get_patient(patient_id)
        store.record_read(patient_id, actor=user.username, what="patient")
        return patient

    @api.delete("/patients/{patient_id}", tags=["patients"], **allow(WRITERS))
    def delete_patient(
        store: StoreDep, user: UserDep, patient_id: PatientId, body: SoftDelete
    ) -> PatientOut:
        """Soft-delete a patient with a reason (nothing is removed; export still works)."""
        store.soft_delete_patient(patient_id, body.reason, actor=user.username)
        return store.get_patient(patient_id)

    @api.get("/patients/{patient_id}/export", tags=["patients"], **allow(ALL_ROLES))
    def export_patient(store: StoreDep, user: UserDep, patient_id: PatientId) -> dict[str, Any]:
        """The patient's whole record as one document (the export is audited)."""
        return store.export_patient(patient_id, actor=user.username)

    @api.get("/patients/{patient_id}/fhir", tags=["patients"], **allow(ALL_ROLES))
    def export_patient_fhir(
        store: StoreDep, user: UserDep, patient_id: PatientId
    ) -> dict[str, Any]:
        """The patient as a FHIR R4 Bundle, mCODE profiles (the export is audited)."""
        from netlm.fhir import bundle_json, registry_bundle

        document = store.export_patient(patient_id, actor=user.username)
        result: dict[str, Any] = json.loads(bundle_json(registry_bundle(document), indent=None))
        return result

    @api.get("/patients/{patient_id}/case", tags=["cases"], **allow(ALL_ROLES))
    def get_case(
        store: StoreDep,
        user: UserDep,
        patient_id: PatientId,
        version: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    ) -> CaseVersionOut:
        """The patient's case (latest version unless ``version``); the read is audited."""
        case = store.case_version(patient_id, version)
        store.record_read(patient_id, actor=user.username, what="case")
        return case

    @api.put(
        "/patients/{patient_id}/case",
        tags=["cases"],
        status_code=201,
        responses={409: {"description": "The case moved on since base_version / If-Match."}},
        **allow(WRITERS),
    )
    def save_case(
        store: StoreDep,
        user: UserDep,
        patient_id: PatientId,
        body: Document,
        base_version: Annotated[
            int | None,
            Query(ge=0, le=2**31, description="The version the edit started from (0: none)."),
        ] = None,
        if_match: Annotated[
            str | None,
            Header(max_length=64, description='The version the edit started from, as `"3"`.'),
        ] = None,
    ) -> CaseVersionOut:
        """Store a ``netlm/case/v1`` document as the patient's next case version.

        A bad case is refused with 422 and one ``{field, message}`` per problem.
        With ``base_version`` (or ``If-Match: "<version>"``) an edit of a case
        that has changed since is refused with 409 and nothing is stored.
        """
        if if_match is not None:
            tag = if_match.strip().removeprefix("W/").strip('"')
            if not tag.isdigit() or (base_version is not None and int(tag) != base_version):
                raise InputError(
                    [("If-Match", f'must be "<version>" (agreeing with base_version): {if_match}')]
                )
            base_version = int(tag)
        return store.save_case(
            patient_id, case_from_mapping(body), actor=user.username, base_version=base_version
        )

    @api.get("/patients/{patient_id}/case/versions", tags=["cases"], **allow(ALL_ROLES))
    def case_versions(store: StoreDep, patient_id: PatientId) -> list[CaseVersionOut]:
        """Every stored version of the patient's case, oldest first."""
        return store.case_versions(patient_id)

    # ---------------------------------------------------------------- assessments
    @api.post(
        "/patients/{patient_id}/assessments",
        tags=["assessments"],
        status_code=201,
        **allow(WRITERS),
    )
    def run_assessment(store: StoreDep, user: UserDep, patient_id: PatientId) -> AssessmentOut:
        """Assess the patient's latest case for every treatment and store the result."""
        return store.run_assessment(patient_id, actor=user.username)

    @api.get("/patients/{patient_id}/assessments", tags=["assessments"], **allow(ALL_ROLES))
    def list_assessments(store: StoreDep, patient_id: PatientId) -> list[AssessmentOut]:
        """The patient's stored assessments, oldest first."""
        return store.assessments(patient_id)

    @api.get("/assessments/{assessment_id}", tags=["assessments"], **allow(ALL_ROLES))
    def get_assessment(store: StoreDep, assessment_id: RecordId) -> AssessmentOut:
        """One stored assessment with its provenance."""
        return store.get_assessment(assessment_id)

    @api.get("/assessments/{assessment_id}/reproduce", tags=["assessments"], **allow(ALL_ROLES))
    def reproduce_assessment(store: StoreDep, assessment_id: RecordId) -> Reproduced:
        """Re-run a stored assessment on its stored case and profile; identical result?"""
        return Reproduced(
            assessment_id=assessment_id, reproducible=store.reproduce_assessment(assessment_id)
        )

    @api.get(
        "/assessments/{assessment_id}/report.pdf",
        tags=["reports"],
        response_class=FileResponse,
        responses=pdf,
        **allow(ALL_ROLES),
    )
    def assessment_pdf(store: StoreDep, assessment_id: RecordId) -> FileResponse:
        """The tumour-board summary as a PDF."""
        from netlm.report.pdf import board_pdf

        record = store.get_assessment(assessment_id)
        case = store.case_version(record.patient_id, record.case_version).to_case()
        return temporary_file_response(
            lambda path: board_pdf(record.to_assessment(), path, case=case),
            f"assessment-{assessment_id}.pdf",
            "application/pdf",
        )

    # ---------------------------------------------------------------- plans
    @api.post("/patients/{patient_id}/plans", tags=["plans"], status_code=201, **allow(WRITERS))
    def save_plan(store: StoreDep, user: UserDep, patient_id: PatientId, body: Document) -> PlanOut:
        """Store a ``netlm/sirt-plan/v1`` plan; one with an ``override`` needs a physicist."""
        plan = plan_from_mapping(body)
        if plan.override is not None and not user.can_approve:
            raise HTTPException(403, OVERRIDE_REFUSED)
        return store.save_plan(patient_id, plan, actor=user.username)

    @api.get("/patients/{patient_id}/plans", tags=["plans"], **allow(ALL_ROLES))
    def list_plans(store: StoreDep, patient_id: PatientId) -> list[PlanOut]:
        """The patient's plans, oldest first."""
        return store.list_plans(patient_id)

    @api.get("/plans/{plan_id}", tags=["plans"], **allow(ALL_ROLES))
    def get_plan(store: StoreDep, plan_id: RecordId) -> PlanOut:
        """One plan with its status (draft, solved, approved)."""
        return store.get_plan(plan_id)

    @api.post(
        "/plans/{plan_id}/solve",
        tags=["plans"],
        status_code=201,
        responses={409: {"description": "The plan breaks a hard safety limit (violations)."}},
        **allow(WRITERS),
    )
    def solve_plan(store: StoreDep, user: UserDep, plan_id: RecordId) -> PlanResultOut:
        """Solve a plan (activity, doses, checks, vials) and store the result.

        Solving a plan that carries a safety override applies (and audits) the
        override, so it needs a physicist.
        """
        return solve_stored_plan(store, user, plan_id)

    @api.get("/plans/{plan_id}/results", tags=["plans"], **allow(ALL_ROLES))
    def plan_results(store: StoreDep, plan_id: RecordId) -> list[PlanResultOut]:
        """Every stored result of a plan, oldest first."""
        return store.plan_results(plan_id)

    @api.post(
        "/plans/{plan_id}/approve",
        tags=["plans"],
        responses={409: {"description": "Not the latest result, no result, or approved."}},
        **allow(PHYSICISTS),
    )
    def approve_plan(
        request: Request, store: StoreDep, user: UserDep, plan_id: RecordId, body: ApprovalIn
    ) -> PlanOut:
        """A physicist signs off the result they reviewed (once per plan).

        ``result_id`` must be the plan's latest result; if a newer one exists
        the answer is 409 and nothing is approved.  A physicist does not approve
        a plan whose safety override they wrote (403), unless the server allows it.
        """
        return store.approve_plan(
            plan_id,
            actor=user.username,
            result_id=body.result_id,
            allow_own_override=config_of(request).allow_own_override_approval,
        )

    @api.get(
        "/plans/{plan_id}/report.pdf",
        tags=["reports"],
        response_class=FileResponse,
        responses=pdf,
        **allow(ALL_ROLES),
    )
    def plan_report_pdf(store: StoreDep, plan_id: RecordId) -> FileResponse:
        """The dosimetry report of the approved (else the latest) result as a PDF."""
        from netlm.report.pdf import plan_pdf

        plan, result, curves = plan_report_inputs(store, plan_id)
        if result is None:
            raise HTTPException(409, f"plan {plan_id} has no result yet: solve it first")
        return temporary_file_response(
            lambda path: plan_pdf(
                result.to_result(),
                path,
                plan=plan.to_plan(),
                dvh_curves=curves,
                approved_by=plan.approved_by,
                approved_at=plan.approved_at,
            ),
            f"plan-{plan_id}.pdf",
            "application/pdf",
        )

    # ---------------------------------------------------------------- images and dose
    @api.post("/patients/{patient_id}/images", tags=["images"], status_code=201, **allow(WRITERS))
    def upload_image(
        request: Request,
        store: StoreDep,
        user: UserDep,
        patient_id: PatientId,
        kind: Annotated[str, Form(max_length=32, json_schema_extra={"enum": sorted(IMAGE_KINDS)})],
        file: Annotated[UploadFile | None, File(description="The image or mask file.")] = None,
        series_uid: Annotated[str | None, Form(max_length=64)] = None,
        description: Annotated[str, Form(max_length=10_000)] = "",
    ) -> ImageOut:
        """Upload an image or mask file (NIfTI, NRRD, DICOM, SEG, RTSTRUCT) or register a
        DICOM series by its Series Instance UID."""
        config = config_of(request)
        store.get_patient(patient_id)
        if kind not in IMAGE_KINDS:
            raise InputError([("kind", f"unknown kind {kind!r}; use one of {sorted(IMAGE_KINDS)}")])
        path = None
        if file is not None and (file.filename or file.size):
            path = save_upload(file, patient_files_dir(config, patient_id), config.max_upload_bytes)
        try:
            if path is not None:  # over an image limit: 413 naming it; damaged: 422
                check_upload(path, kind, config.image_limits)
            return store.add_image(
                patient_id,
                kind=kind,
                path=None if path is None else str(path),
                series_uid=series_uid or None,
                description=description,
                actor=user.username,
            )
        except BaseException:
            if path is not None:
                shutil.rmtree(path.parent, ignore_errors=True)
            raise

    @api.get("/patients/{patient_id}/images", tags=["images"], **allow(ALL_ROLES))
    def list_images(store: StoreDep, patient_id: PatientId) -> list[ImageOut]:
        """The patient's images, masks and computed doses."""
        return store.images(patient_id)

    @api.get(
        "/patients/{patient_id}/images/{image_id}/file",
        tags=["images"],
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}}},
        **allow(ALL_ROLES),
    )
    def download_image(request: Request, patient_id: PatientId, image_id: RecordId) -> FileResponse:
        """Download an uploaded file or a computed RT Dose (``application/dicom``)."""
        image, path = image_file(config_of(request), patient_id, image_id)
        media = "application/dicom" if image.kind == "rtdose" else "application/octet-stream"
        return FileResponse(path, media_type=media, filename=path.name)

    @api.get(
        "/patients/{patient_id}/images/{image_id}/viewer/{layer}.nii.gz",
        tags=["images"],
        response_class=FileResponse,
        responses={200: {"content": {"application/gzip": {}}}},
        **allow(ALL_ROLES),
    )
    def viewer_volume(
        request: Request,
        user: UserDep,
        patient_id: PatientId,
        image_id: RecordId,
        layer: Annotated[
            str, PathParam(description="ct, activity, dose, vois (outlines) or isodose (outlines).")
        ],
        levels: Annotated[
            str | None,
            Query(max_length=200, description="Isodose levels in Gy, comma-separated."),
        ] = None,
    ) -> FileResponse:
        """One volume of a computed dose for the image viewer, as NIfTI (the read is audited)."""
        from netlm.api.viewer import VIEWER_LAYERS, parse_levels, write_layer

        config = config_of(request)
        if layer not in VIEWER_LAYERS:
            raise InputError([("layer", f"use one of {', '.join(VIEWER_LAYERS)}, not {layer!r}")])
        chosen = parse_levels(levels)
        image, path = image_file(config, patient_id, image_id)
        if image.kind != "rtdose":
            raise NotFoundError(f"image {image_id} is not a computed dose")
        config.store.record_read(patient_id, actor=user.username, what=f"dose viewer {layer}")
        return temporary_file_response(
            lambda target: write_layer(config.files_dir, path, layer, target, levels=chosen),
            f"{layer}.nii.gz",
            "application/gzip",
        )

    @api.post("/patients/{patient_id}/dose", tags=["images"], status_code=201, **allow(WRITERS))
    def compute_dose(
        request: Request, user: UserDep, patient_id: PatientId, body: DoseRequest
    ) -> DoseOut:
        """Voxel dosimetry (local deposition or kernel) on the patient's uploaded images.

        Writes an RT Dose (a new image record of kind ``rtdose``, downloadable),
        the statistics of every mask and their DVHs.
        """
        return compute_patient_dose(config_of(request), patient_id, body, actor=user.username)

    # ---------------------------------------------------------------- clinical record
    @api.post(
        "/patients/{patient_id}/treatments", tags=["record"], status_code=201, **allow(WRITERS)
    )
    def add_treatment(
        store: StoreDep, user: UserDep, patient_id: PatientId, body: TreatmentIn
    ) -> TreatmentOut:
        """Record a treatment delivered on a date."""
        return store.add_treatment(
            patient_id,
            modality=body.modality,
            date=body.date,
            details=body.details,
            actor=user.username,
        )

    @api.get("/patients/{patient_id}/treatments", tags=["record"], **allow(ALL_ROLES))
    def list_treatments(store: StoreDep, patient_id: PatientId) -> list[TreatmentOut]:
        """The patient's treatments by date."""
        return store.treatments(patient_id)

    @api.post("/patients/{patient_id}/labs", tags=["record"], status_code=201, **allow(WRITERS))
    def add_lab(store: StoreDep, user: UserDep, patient_id: PatientId, body: LabIn) -> LabOut:
        """Record a laboratory value with its unit (and reference limits)."""
        return store.add_lab(
            patient_id,
            date=body.date,
            analyte=body.analyte,
            value=body.value,
            unit=body.unit,
            uln=body.uln,
            lln=body.lln,
            actor=user.username,
        )

    @api.get("/patients/{patient_id}/labs", tags=["record"], **allow(ALL_ROLES))
    def list_labs(
        store: StoreDep,
        patient_id: PatientId,
        analyte: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[LabOut]:
        """The patient's laboratory values by date."""
        return store.labs(patient_id, analyte)

    @api.post(
        "/patients/{patient_id}/response-timepoints",
        tags=["record"],
        status_code=201,
        **allow(WRITERS),
    )
    def add_response_timepoint(
        store: StoreDep, user: UserDep, patient_id: PatientId, body: ResponseTimepointIn
    ) -> ResponseOut:
        """Record one overall response by one criterion at a date."""
        return store.add_response_timepoint(
            patient_id,
            date=body.date,
            criterion=body.criterion,
            overall=body.overall,
            details=body.details,
            actor=user.username,
        )

    @api.get("/patients/{patient_id}/response-timepoints", tags=["record"], **allow(ALL_ROLES))
    def list_response_timepoints(store: StoreDep, patient_id: PatientId) -> list[ResponseOut]:
        """The patient's response time points by date."""
        return store.response_timepoints(patient_id)

    @api.post("/patients/{patient_id}/response", tags=["record"], status_code=201, **allow(WRITERS))
    def assess_patient_response(
        store: StoreDep, user: UserDep, patient_id: PatientId, body: Document
    ) -> ResponseReport:
        """Assess a ``netlm/response/v1`` file (RECIST 1.1, mRECIST, WHO, EASL, Choi, PERCIST)
        and store every follow-up time point of every criterion."""
        return record_response(store, patient_id, body, actor=user.username)

    @api.post(
        "/patients/{patient_id}/toxicities", tags=["record"], status_code=201, **allow(WRITERS)
    )
    def add_toxicity(
        store: StoreDep, user: UserDep, patient_id: PatientId, body: ToxicityIn
    ) -> ToxicityOut:
        """Record an adverse event with its CTCAE grade."""
        return store.add_toxicity_event(
            patient_id,
            date=body.date,
            term=body.term,
            grade=body.grade,
            ctcae_version=body.ctcae_version,
            actor=user.username,
        )

    @api.get("/patients/{patient_id}/toxicities", tags=["record"], **allow(ALL_ROLES))
    def list_toxicities(store: StoreDep, patient_id: PatientId) -> list[ToxicityOut]:
        """The patient's adverse events by date."""
        return store.toxicity_events(patient_id)

    return api


# --------------------------------------------------------------------------- the app
def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = doc.setdefault("components", {})
            components["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            }
            app.openapi_schema = doc
        return app.openapi_schema

    return schema


def _check_declared_roles(app: FastAPI) -> None:
    undeclared = [
        f"{sorted(r.methods or ())} {r.path}"
        for r in iter_api_routes(app)
        if route_roles(r) is None and not is_public(r.path)
    ]
    if undeclared:
        raise RuntimeError(f"routes without declared roles: {', '.join(undeclared)}")


def default_files_dir(url: str | None) -> Path:
    """Where uploads live: beside an SQLite database file (``<file>.files``); in netlm's
    data folder (``files/``) for a database server; a temporary folder for an
    in-memory database.

    Examples
    --------
    >>> default_files_dir("sqlite:////srv/netlm/netlm.db").as_posix()
    '/srv/netlm/netlm.db.files'
    """
    if url and url.startswith("sqlite"):
        db_path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
        if db_path and db_path != ":memory:" and "mode=memory" not in url:
            p = Path(db_path)
            return p.with_name(p.name + ".files")
        return Path(tempfile.mkdtemp(prefix="netlm-files-"))
    from netlm.store.db import data_dir

    return data_dir() / "files"


def create_app(
    store: Store | None = None,
    *,
    url: str | None = None,
    secret_key: str | None = None,
    files_dir: Path | None = None,
    secure_cookies: bool = False,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    auth_cache_s: float = DEFAULT_AUTH_CACHE_S,
    token_ttl: dt.timedelta = DEFAULT_TOKEN_TTL,
    allow_own_override_approval: bool = False,
    allowed_hosts: Sequence[str] | None = None,
    image_limits: ImageLimits | None = None,
) -> FastAPI:
    """Build the netlm web API and web application.

    Parameters
    ----------
    store
        The registry to serve; by default ``Store(url)`` (upgraded to the latest schema).
    url
        Database URL when no ``store`` is given (default: netlm's embedded SQLite file).
    secret_key
        Key that signs session cookies (at least 32 bytes); a random one by
        default.  Sessions and bearer tokens live in the database; the key only
        signs the session id in the cookie (``netlm serve`` keeps one in the data
        folder, see :func:`netlm.commands.serve.signing_key`).
    files_dir
        Folder for uploaded images and computed dose files (default: beside an
        SQLite database file, else a temporary folder).
    secure_cookies
        Mark the session cookie ``Secure`` (serve behind HTTPS).
    max_upload_bytes
        Largest accepted upload (a multipart body), counted while it is received.
    max_body_bytes
        Largest accepted JSON body or form post (1 MiB by default); a larger one
        is answered 413 before it is parsed.
    auth_cache_s
        How long a resolved token or session is reused without asking the
        registry (0: ask on every request).  Changes made through this app
        (log-out, revocation, role or password change, disabling) take effect
        at once; changes made elsewhere (``netlm users``, another worker
        process) within this time.
    token_ttl
        Lifetime of the API tokens ``POST /api/v1/auth/token`` hands out.
    allow_own_override_approval
        Let a physicist approve a plan whose safety override they wrote
        (default off: a second physicist approves).
    allowed_hosts
        Host names the server answers to (``Host`` header; ``*.example.org``
        allowed); other requests get 400.  Any host when omitted.
    image_limits
        Largest image an upload may hold and a dose computation reads (voxels,
        decompressed bytes, labels per label map; :class:`netlm.imaging.limits.ImageLimits`,
        its defaults when omitted).  An upload over a limit is answered 413 and not kept.
    """
    from netlm.api import pages

    if secret_key is not None and len(secret_key.encode()) < 32:
        raise ValueError("Argument 'secret_key' must be at least 32 bytes long.")
    if store is None:
        store = Store(url)
    if files_dir is None:
        files_dir = default_files_dir(getattr(store, "url", None) or url)
    config = ApiConfig(
        store=store,
        serializer=URLSafeTimedSerializer(
            secret_key or secrets.token_urlsafe(48), salt="netlm-session"
        ),
        files_dir=Path(files_dir),
        secure_cookies=secure_cookies,
        max_upload_bytes=max_upload_bytes,
        max_body_bytes=max_body_bytes,
        auth_cache_s=auth_cache_s,
        token_ttl=token_ttl,
        allow_own_override_approval=allow_own_override_approval,
        image_limits=image_limits,
    )
    app = FastAPI(
        title="netlm",
        version=__version__,
        description=(
            "Registry, tumour-board assessment, radioembolization planning and response "
            "assessment for neuroendocrine tumour liver metastases. Authenticate with "
            "`Authorization: Bearer <token>` from `POST /api/v1/auth/token`; every operation "
            f"lists the roles that may call it in `{ROLES_KEY}`."
        ),
        openapi_url=OPENAPI_PATH,
        docs_url=None,  # pages.api_docs: served from the package, no CDN scripts
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.netlm = config
    api = build_api_router()
    app.include_router(api)
    app.state.netlm_routers = [api, pages.install(app)]
    _check_declared_roles(app)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    app.add_middleware(AuthMiddleware, config=config)
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes
    )
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(RequestLogMiddleware, hsts=secure_cookies)
    return app


__all__ = [
    "ADMINS",
    "ALL_ROLES",
    "API_PREFIX",
    "CSRF_FORM_FIELD",
    "CSRF_HEADER",
    "PHYSICISTS",
    "SESSION_COOKIE",
    "WRITERS",
    "ApiConfig",
    "GuardedRoute",
    "Principal",
    "allow",
    "create_app",
    "iter_api_routes",
    "route_roles",
]
