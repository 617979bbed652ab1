"""Log-in, log-out, own password: ``/login``, ``/logout``, ``/``, ``/account/password``.

The log-in form carries a pre-session token (a cookie and a form field, double
submit) against login CSRF; failed log-ins are throttled as for the API
(:func:`netlm.api.security.attempt_login`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from netlm.api.config import SESSION_COOKIE, StoreDep, config_of
from netlm.api.pages.common import FormDep, form_model, problems_by_field, redirect, same_token
from netlm.api.roles import ALL_ROLES, GuardedRoute, UserDep, allow, principal_of
from netlm.api.schemas import PasswordChange
from netlm.api.security import (
    attempt_login,
    change_own_password,
    client_address,
    new_session,
    session_id_of,
    set_session_cookie,
    too_many_attempts,
)
from netlm.api.templating import render
from netlm.errors import InputError

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)

#: The pre-session cookie and form field that close login CSRF (double submit).
LOGIN_CSRF_COOKIE = "netlm_login"
LOGIN_CSRF_FIELD = "login_csrf"


def _login_form(
    request: Request, status_code: int, headers: Mapping[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """The log-in page with a fresh pre-session token (in the form and in a cookie)."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status_code,
        headers=headers,
        title="Log in",
        login_csrf=token,
        **context,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=config_of(request).secure_cookies,
        path="/login",
    )
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/patients"


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=500)] = None,
    changed: Annotated[int | None, Query(ge=1, le=1)] = None,
) -> Response:
    if principal_of(request) is not None:
        return redirect(_safe_next(next))
    notice = "Password changed; log in with the new one." if changed else None
    return _login_form(request, 200, next=_safe_next(next), notice=notice)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await request.form()
    username, password, target = (form.get(k) for k in ("username", "password", "next"))
    typed = username if isinstance(username, str) else ""
    back = _safe_next(target if isinstance(target, str) else None)
    config = config_of(request)
    given, expected = form.get(LOGIN_CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)
    if not (isinstance(given, str) and expected and same_token(given, expected)):
        # login CSRF: only a form this site handed out may log a browser in
        return _login_form(
            request, 403, error="The log-in form expired; please log in again.", next=back
        )
    user, wait = None, 0.0
    if isinstance(username, str) and isinstance(password, str):
        user, wait = await run_in_threadpool(
            attempt_login, config, username, password, client_address(request), via="page"
        )
    if wait > 0:
        refusal = too_many_attempts(wait)
        return _login_form(
            request,
            429,
            error=str(refusal.detail),
            username=typed,
            next=back,
            headers=refusal.headers,
        )
    if user is None:
        return _login_form(
            request, 401, error="Wrong user name or password.", username=typed, next=back
        )
    cookie, _ = await run_in_threadpool(new_session, config, user.username, client_address(request))
    response = redirect(back)
    set_session_cookie(response, config, cookie)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", **allow(ALL_ROLES))
def logout(request: Request, user: UserDep, form: FormDep) -> Response:
    """End the session on the server (the cookie is worthless from now on)."""
    config = config_of(request)
    session_id = session_id_of(config, request.cookies.get(SESSION_COOKIE))
    if session_id is not None:
        config.store.end_session(session_id, actor=user.username)
        config.credentials_changed()
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", **allow(ALL_ROLES))
def home() -> Response:
    return redirect("/patients")


@router.get("/account/password", response_class=HTMLResponse, **allow(ALL_ROLES))
def password_page(request: Request) -> Response:
    return render(request, "password.html", title="Change password", errors={})


@router.post("/account/password", response_class=HTMLResponse, **allow(ALL_ROLES))
def change_password(request: Request, store: StoreDep, user: UserDep, form: FormDep) -> Response:
    values = {k: form.get(k, "") for k in ("current_password", "new_password")}
    body, errors = form_model(PasswordChange, values)
    if body is not None and form.get("confirm_password", "") != body.new_password:
        body, errors = None, {"confirm_password": ["does not match the new password"]}
    if body is not None:
        try:
            change_own_password(config_of(request), store, user, body)
        except InputError as exc:
            errors = problems_by_field(
                ("new_password" if f == "password" else f, m) for f, m in exc.problems
            )
        else:  # every session of the user has ended: log in with the new password
            response = redirect("/login?changed=1")
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
    return render(request, "password.html", 422, title="Change password", errors=errors)
