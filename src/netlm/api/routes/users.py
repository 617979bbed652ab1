"""``/users`` and ``/audit``: user management and the audit log, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam

from netlm.api.config import API_PREFIX, StoreDep, config_of
from netlm.api.roles import ADMINS, GuardedRoute, UserDep, allow
from netlm.api.schemas import UserChange, UserCreate
from netlm.api.security import change_user_account
from netlm.store.repository import AuditOut, UserOut

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.get("/users", tags=["users"], **allow(ADMINS))
def list_users(store: StoreDep) -> list[UserOut]:
    """Every user."""
    return store.list_users()


@router.post("/users", tags=["users"], status_code=201, **allow(ADMINS))
def create_user(store: StoreDep, user: UserDep, body: UserCreate) -> UserOut:
    """Register a user with a role (argon2-hashed password)."""
    return store.create_user(body.username, body.password, body.role, actor=user.username)


@router.get("/users/{username}", tags=["users"], **allow(ADMINS))
def get_user(
    store: StoreDep, username: Annotated[str, PathParam(min_length=1, max_length=64)]
) -> UserOut:
    """One user."""
    return store.get_user(username)


@router.patch("/users/{username}", tags=["users"], **allow(ADMINS))
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


@router.get("/audit", tags=["users"], **allow(ADMINS))
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
