"""``netlm users``: user accounts of the registry from the shell.

``create``, ``disable``, ``enable``, ``set-role``, ``reset-password``,
``revoke-tokens`` and ``list``.  Passwords come from ``$NETLM_USER_PASSWORD``
or a hidden prompt (asked twice), never from the command line, and must pass
the password policy (:func:`netlm.store.passwords.password_problems`).
Disabling a user, changing its role or password, and ``revoke-tokens`` end
every session and API token of that user at once (a running server notices
within its ``auth_cache_s``, 5 s by default).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

from netlm.commands.common import ActorOption, DbOption, TextJsonFormat, actor_name, fail
from netlm.errors import InputError, NetlmError

if TYPE_CHECKING:
    from netlm.store.repository import Role, Store, UserOut

#: Environment variable with the password for ``create`` and ``reset-password``.
USER_PASSWORD_ENV = "NETLM_USER_PASSWORD"

users_app = typer.Typer(
    help="User accounts: create, disable, set-role, reset-password, revoke-tokens, list.",
    no_args_is_help=True,
)

UsernameArg = Annotated[str, typer.Argument(metavar="USERNAME", help="The user's name.")]


def _password(username: str) -> str:
    secret = os.environ.get(USER_PASSWORD_ENV)
    if secret:
        return secret
    prompted: str = typer.prompt(
        f"Password for {username!r}", hide_input=True, confirmation_prompt=True
    )
    return prompted


def _store(db: str | None) -> Store:
    """The registry (imported here: the registry's libraries load only for these commands)."""
    from netlm.store.repository import Store

    return Store(db, upgrade=False)


def _role(value: str, field: str) -> Role:
    """``value`` as a registry role, or an error naming ``field`` and the roles there are."""
    from netlm.store.repository import Role

    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InputError([(field, f"{value!r} is not a role; use one of {roles}")]) from None


def _show(user: UserOut, what: str) -> None:
    state = "disabled" if user.disabled_at else "active"
    typer.echo(f"user {user.username!r} ({user.role.value}, {state}): {what}")


@users_app.command("create")
def users_create(
    username: UsernameArg,
    role: Annotated[str, typer.Option("--role", help="viewer, clinician, physicist or admin.")],
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    """Create a user (password from $NETLM_USER_PASSWORD or a prompt)."""
    try:
        with _store(db) as store:
            user = store.create_user(
                username, _password(username), _role(role, "--role"), actor=actor_name(actor)
            )
    except NetlmError as exc:
        raise fail(exc) from None
    _show(user, "created")


@users_app.command("disable")
def users_disable(username: UsernameArg, db: DbOption = None, actor: ActorOption = None) -> None:
    """Disable a user: no more log-ins; its sessions and tokens end now."""
    try:
        with _store(db) as store:
            user = store.disable_user(username, actor=actor_name(actor))
    except NetlmError as exc:
        raise fail(exc) from None
    _show(user, "disabled; sessions and tokens ended")


@users_app.command("enable")
def users_enable(username: UsernameArg, db: DbOption = None, actor: ActorOption = None) -> None:
    """Let a disabled user log in again."""
    try:
        with _store(db) as store:
            user = store.enable_user(username, actor=actor_name(actor))
    except NetlmError as exc:
        raise fail(exc) from None
    _show(user, "enabled")


@users_app.command("set-role")
def users_set_role(
    username: UsernameArg,
    role: Annotated[
        str,
        typer.Argument(metavar="ROLE", help="The new role: viewer, clinician, physicist or admin."),
    ],
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    """Give a user another role; its sessions and tokens end now."""
    try:
        with _store(db) as store:
            user = store.set_role(username, _role(role, "ROLE"), actor=actor_name(actor))
    except NetlmError as exc:
        raise fail(exc) from None
    _show(user, "role set; sessions and tokens ended")


@users_app.command("reset-password")
def users_reset_password(
    username: UsernameArg, db: DbOption = None, actor: ActorOption = None
) -> None:
    """Set a new password (from $NETLM_USER_PASSWORD or a prompt); sessions and tokens end now."""
    try:
        with _store(db) as store:
            store.get_user(username)
            user = store.set_password(username, _password(username), actor=actor_name(actor))
    except NetlmError as exc:
        raise fail(exc) from None
    _show(user, "password reset; sessions and tokens ended")


@users_app.command("revoke-tokens")
def users_revoke_tokens(
    username: UsernameArg, db: DbOption = None, actor: ActorOption = None
) -> None:
    """End every session and API token of a user now."""
    try:
        with _store(db) as store:
            ended = store.revoke_user_credentials(username, actor=actor_name(actor))
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(f"user {username!r}: {ended} session(s) and token(s) ended")


@users_app.command("list")
def users_list(
    db: DbOption = None,
    output_format: Annotated[
        TextJsonFormat, typer.Option("--format", help="text or json.")
    ] = TextJsonFormat.text,
) -> None:
    """Every user with role and state."""
    try:
        with _store(db) as store:
            users = store.list_users()
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is TextJsonFormat.json:
        typer.echo(json.dumps([u.model_dump(mode="json") for u in users], indent=2))
        return
    for user in users:
        state = "disabled" if user.disabled_at else "active"
        typer.echo(f"{user.username}\t{user.role.value}\t{state}")
