"""What the request handlers share: the paths of the API, :class:`ApiConfig` and its defaults.

One :class:`ApiConfig` is built by :func:`netlm.api.app.create_app` and kept on
``app.state.netlm``; handlers reach it with :func:`config_of` and the registry
with the :data:`StoreDep` dependency.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from itsdangerous import URLSafeTimedSerializer

from netlm.api.limits import DEFAULT_MAX_BODY_BYTES
from netlm.api.roles import Principal
from netlm.store.repository import DEFAULT_SESSION_TTL, DEFAULT_TOKEN_TTL, Store

if TYPE_CHECKING:  # SimpleITK is imported when an image is first checked
    from netlm.imaging.limits import ImageLimits
    from netlm.pacs import PacsConfig

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


def is_public(path: str) -> bool:
    """Whether ``path`` is answered without authentication."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_api(path: str) -> bool:
    """Whether ``path`` belongs to the JSON API (answered in JSON, not with a page)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


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
    #: The DICOMweb PACS the web pages import studies from and send results to (none: off).
    pacs: PacsConfig | None = None
    #: Image limits for uploads and dose computations (None: netlm.imaging.limits defaults).
    image_limits: ImageLimits | None = None
    #: Resolved credentials (see :class:`netlm.api.security.AuthMiddleware`); emptied
    #: whenever a user's sessions or tokens end, so that the change holds at once here.
    auth_cache: dict[tuple[str | None, str | None], tuple[float, Principal]] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def credentials_changed(self) -> None:
        """Forget every cached session and token (after a log-out, revocation, role change)."""
        self.auth_cache.clear()


def config_of(request: Request) -> ApiConfig:
    """The app's :class:`ApiConfig`."""
    config: ApiConfig = request.app.state.netlm
    return config


async def store_of(request: Request) -> Store:
    """Dependency: the registry (async, so that FastAPI needs no worker thread for it)."""
    return config_of(request).store


StoreDep = Annotated[Store, Depends(store_of)]

_T = TypeVar("_T")


def dose_work(
    request: Request, work: Callable[..., _T], patient_id: int, what: Any, *, actor: str
) -> functools.partial[_T]:
    """``work(store, files_dir, patient_id, what, actor=…, kernel_cache_dir=…, limits=…)``
    bound to the server's registry, files folder, kernel cache and image limits.

    ``work`` is a dose workflow (:func:`netlm.workflows.images.compute_patient_dose`,
    :func:`netlm.workflows.registration.start_dose`,
    :func:`netlm.workflows.registration.confirm_registration`); the server caches
    dose-voxel kernels in ``$XDG_CACHE_HOME/netlm/kernels``.
    """
    from netlm.voxel.kernels import default_kernel_cache_dir

    config = config_of(request)
    return functools.partial(
        work,
        config.store,
        config.files_dir,
        patient_id,
        what,
        actor=actor,
        kernel_cache_dir=default_kernel_cache_dir(os.environ, Path.home()),
        limits=config.image_limits,
    )
