"""``/health``: liveness, with no authentication and no database access."""

from __future__ import annotations

from fastapi import APIRouter

from netlm import __version__
from netlm.api.config import API_PREFIX
from netlm.api.roles import GuardedRoute
from netlm.api.schemas import Health

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.get("/health", tags=["service"])
def health() -> Health:
    """Liveness: no authentication, no database access."""
    return Health(version=__version__)
