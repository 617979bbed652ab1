"""``/admin/users``: user management for admins (create, change role or password, disable).

Forms are checked by the JSON API's request models
(:class:`~netlm.api.schemas.UserCreate`, :class:`~netlm.api.schemas.UserChange`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from netlm.api.config import StoreDep, config_of
from netlm.api.pages.common import FormDep, form_model, problems_by_field, redirect
from netlm.api.roles import ADMINS, GuardedRoute, UserDep, allow
from netlm.api.schemas import UserChange, UserCreate
from netlm.api.security import change_user_account
from netlm.api.templating import render
from netlm.errors import InputError, NotFoundError, StoreError
from netlm.store.repository import Role, Store

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


def _users_page(
    request: Request,
    store: Store,
    status_code: int = 200,
    *,
    errors: Mapping[str, Sequence[str]] | None = None,
    values: Mapping[str, str] | None = None,
    target: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "users.html",
        status_code,
        title="Users",
        users=store.list_users(),
        roles=[r.value for r in Role],
        errors=dict(errors or {}),
        values=dict(values or {}),
        target=target,
        notice=notice,
    )


@router.get("/admin/users", response_class=HTMLResponse, **allow(ADMINS))
def users(
    request: Request,
    store: StoreDep,
    done: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return _users_page(request, store, notice=done)


@router.post("/admin/users", response_class=HTMLResponse, **allow(ADMINS))
def create_user(request: Request, store: StoreDep, user: UserDep, form: FormDep) -> Response:
    values = {k: form.get(k, "") for k in ("username", "password", "role")}
    body, errors = form_model(UserCreate, values)
    if body is not None:
        try:
            created = store.create_user(
                body.username, body.password, body.role, actor=user.username
            )
        except InputError as exc:
            errors = problems_by_field(exc.problems)
        except StoreError as exc:
            errors = {"username": [str(exc)]}
        else:
            return redirect(f"/admin/users?done=created+{created.username}")
    values.pop("password")
    return _users_page(request, store, 422, errors=errors, values=values, target="new")


@router.post("/admin/users/{username}", response_class=HTMLResponse, **allow(ADMINS))
def change_user(
    request: Request,
    store: StoreDep,
    user: UserDep,
    username: Annotated[str, PathParam(min_length=1, max_length=64)],
    form: FormDep,
) -> Response:
    status = form.get("status", "")
    values: dict[str, Any] = {
        "role": form.get("role") or None,
        "password": form.get("password") or None,
        "disabled": {"active": False, "disabled": True}.get(status),
    }
    errors: dict[str, list[str]] = {}
    if status not in ("", "active", "disabled"):
        errors["status"] = ["choose active or disabled"]
    body, model_errors = form_model(UserChange, values)
    errors.update(model_errors)
    if body is not None and not errors:
        try:
            change_user_account(config_of(request), store, user, username, body)
        except NotFoundError:
            raise
        except InputError as exc:
            errors = problems_by_field(exc.problems)
        else:
            return redirect(f"/admin/users?done=changed+{username}")
    return _users_page(request, store, 422, errors=errors, target=username)
