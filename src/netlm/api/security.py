"""Who is calling: sessions, CSRF, throttled log-ins, credential changes, the auth middleware.

Scripts send ``Authorization: Bearer <token>``; browsers carry a signed,
HttpOnly, SameSite=Lax cookie naming a server-side session (the registry holds
the session, so a log-out, a password or role change or disabling the user ends
it on every worker).  A cookie-authenticated API request that changes anything
repeats the session's CSRF token in the ``X-CSRF-Token`` header.  Failed
log-ins are throttled per user name and client address, logged and audited.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from netlm.api.config import (
    CSRF_HEADER,
    DOCS_PATH,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    ApiConfig,
    is_api,
    is_public,
)
from netlm.api.roles import Principal
from netlm.api.schemas import PasswordChange, UserChange
from netlm.api.templating import error_page
from netlm.errors import InputError
from netlm.store.repository import Role, Store, UserOut

log = logging.getLogger("netlm.api")

_AUTH_CACHE_ENTRIES = 10_000
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_address(request: Request) -> str:
    """The client's address as the server sees it (the proxy's, unless uvicorn trusts it)."""
    return request.client.host if request.client else "-"


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
