"""``/auth``: bearer tokens for scripts (issued, listed, revoked), the password and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from netlm.api.config import API_PREFIX, StoreDep, config_of
from netlm.api.roles import ALL_ROLES, GuardedRoute, UserDep, allow
from netlm.api.schemas import Me, PasswordChange, RecordId, TokenOut, TokenRequest
from netlm.api.security import attempt_login, change_own_password, client_address, too_many_attempts
from netlm.store.repository import ApiTokenOut, Role, UserOut

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.post(
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


@router.get("/auth/tokens", tags=["auth"], **allow(ALL_ROLES))
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


@router.delete("/auth/tokens/{token_id}", tags=["auth"], **allow(ALL_ROLES))
def revoke_token(
    request: Request, store: StoreDep, user: UserDep, token_id: RecordId
) -> ApiTokenOut:
    """Revoke one of the caller's tokens (an admin: anyone's); it stops working at once."""
    owner = None if user.role is Role.ADMIN else user.username
    revoked = store.revoke_token_id(token_id, actor=user.username, owner=owner)
    config_of(request).credentials_changed()
    return revoked


@router.post("/auth/password", tags=["auth"], **allow(ALL_ROLES))
def change_password(
    request: Request, store: StoreDep, user: UserDep, body: PasswordChange
) -> UserOut:
    """Change the caller's own password; every session and token of the caller ends."""
    return change_own_password(config_of(request), store, user, body)


@router.get("/auth/me", tags=["auth"], **allow(ALL_ROLES))
def me(user: UserDep) -> Me:
    """Who the caller is, and what the role allows."""
    return Me(
        username=user.username,
        role=user.role,
        can_write=user.can_write,
        can_approve=user.can_approve,
    )
