"""The netlm web API and web application: :func:`create_app`.

Everything a user can see or change goes through the registry
(:class:`netlm.store.repository.Store`); the app adds HTTP around it:

- a JSON API under :data:`~netlm.api.config.API_PREFIX` (``/api/v1``) with its
  OpenAPI document at ``/api/v1/openapi.json`` (and a browsable version at
  ``/api/v1/docs``), one router per resource (:mod:`netlm.api.routes`);
- the server-rendered web application at ``/``, one router per resource
  (:mod:`netlm.api.pages`), its forms generated from the models (:mod:`netlm.api.forms`).

The parts, one concern each:

- :mod:`netlm.api.config`: paths, defaults and :class:`~netlm.api.config.ApiConfig`;
- :mod:`netlm.api.roles`: role sets, the request's principal, guarded routes;
- :mod:`netlm.api.security`: sessions, CSRF, throttled log-ins, the auth middleware;
- :mod:`netlm.api.middleware`: request logging without PHI, security headers;
- :mod:`netlm.api.error_handlers`: netlm errors to HTTP statuses;
- :mod:`netlm.api.limits`: body size, JSON depth and scrubbed messages;
- :mod:`netlm.api.schemas`: the JSON request and answer models;
- :mod:`netlm.api.files`: uploads and downloads;
- :mod:`netlm.api.templating`: the Jinja2 pages' rendering.

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

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from itsdangerous import URLSafeTimedSerializer
from starlette.middleware.trustedhost import TrustedHostMiddleware

from netlm import __version__
from netlm.api import pages
from netlm.api.config import (
    DEFAULT_AUTH_CACHE_S,
    DEFAULT_MAX_UPLOAD_BYTES,
    OPENAPI_PATH,
    SESSION_COOKIE,
    ApiConfig,
    is_public,
)
from netlm.api.error_handlers import install_error_handlers
from netlm.api.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from netlm.api.middleware import RequestLogMiddleware
from netlm.api.roles import ROLES_KEY, iter_api_routes, route_roles
from netlm.api.routes import api_routers
from netlm.api.security import AuthMiddleware
from netlm.store.backup import default_files_dir
from netlm.store.repository import DEFAULT_TOKEN_TTL, Store

if TYPE_CHECKING:
    from netlm.imaging.limits import ImageLimits
    from netlm.pacs import PacsConfig

__all__ = ["create_app"]


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
    pacs: PacsConfig | None = None,
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
    pacs
        The DICOMweb PACS of the web pages' "import study from PACS" and "send to
        PACS" (:mod:`netlm.api.pages.pacs`, :mod:`netlm.api.pages.images`); without
        one those pages say so.
    image_limits
        Largest image an upload may hold and a dose computation reads (voxels,
        decompressed bytes, labels per label map; :class:`netlm.imaging.limits.ImageLimits`,
        its defaults when omitted).  An upload over a limit is answered 413 and not kept.
    """
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
        pacs=pacs,
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
    routers = api_routers()
    for router in routers:
        app.include_router(router)
    app.state.netlm_routers = [*routers, *pages.install(app)]
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
