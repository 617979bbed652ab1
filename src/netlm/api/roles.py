"""Who may call what: the role sets, the request's :class:`Principal` and :class:`GuardedRoute`.

Every route declares its roles with :func:`allow` (published in the OpenAPI
document as ``x-netlm-roles``); :class:`GuardedRoute` enforces them before the
request body is read, and :func:`netlm.api.app.create_app` refuses a route that
declares none (:func:`route_roles` is ``None`` only for the public routes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import Response
from fastapi.routing import APIRoute

from netlm.store.repository import Role

#: Why a plan with a safety override is refused to anyone but a physicist.
OVERRIDE_REFUSED = "only a physicist can record a safety override"
#: The OpenAPI extension key that carries a route's allowed roles.
ROLES_KEY = "x-netlm-roles"

ALL_ROLES: frozenset[Role] = frozenset(Role)
WRITERS: frozenset[Role] = frozenset({Role.CLINICIAN, Role.PHYSICIST, Role.ADMIN})
PHYSICISTS: frozenset[Role] = frozenset({Role.PHYSICIST})
ADMINS: frozenset[Role] = frozenset({Role.ADMIN})


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


def iter_api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every route of ``app``'s JSON API and pages, with its full path."""
    routers: list[APIRouter] = app.state.netlm_routers
    for router in routers:
        for r in router.routes:
            if isinstance(r, APIRoute):
                yield r
            else:  # e.g. a router included in a router: its routes would go unchecked
                raise TypeError(f"the router of {r!r} holds a route that is not an APIRoute")
