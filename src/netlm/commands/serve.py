"""``netlm serve``: the web application and API on localhost.

``netlm serve`` opens the registry (the embedded SQLite file unless ``--db``
names another database), optionally creates a first admin account
(``--create-admin NAME``; the password comes from ``$NETLM_ADMIN_PASSWORD`` or
a prompt, never from the command line), and serves :func:`netlm.api.create_app`
with uvicorn.  The access log of uvicorn is off: it would write query strings
(a patient search) to the log; netlm's own request log has route templates
and ids only.

The registry, FastAPI and uvicorn are imported when the command runs, not when
the CLI starts.  Demo seeding (``--demo``) is :func:`netlm.workflows.demo.seed_demo`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netlm.commands.common import fail, stderr_console
from netlm.errors import NetlmError, NotFoundError, StoreError

if TYPE_CHECKING:
    from netlm.store.repository import Store

#: Environment variable with the first admin's password (read when the command runs).
ADMIN_PASSWORD_ENV = "NETLM_ADMIN_PASSWORD"
#: Environment variable with the key that signs session cookies (sessions then survive
#: a restart); a random key is made when it is not set.
SECRET_KEY_ENV = "NETLM_SECRET_KEY"


def database_url(db: str | None) -> str | None:
    """A database URL from ``--db``: a URL as given, anything else a SQLite file path.

    Examples
    --------
    >>> database_url("postgresql://netlm@db/netlm")
    'postgresql://netlm@db/netlm'
    >>> database_url("/tmp/registry.db")
    'sqlite:////tmp/registry.db'
    >>> database_url(None) is None
    True
    """
    if db is None:
        return None
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().absolute()}"


def ensure_admin(store: Store, username: str, password: str | None) -> bool:
    """Create the admin ``username`` unless a user of that name exists.

    Returns whether a user was created.  The password comes from ``password``,
    else ``$NETLM_ADMIN_PASSWORD``, else a hidden prompt (asked twice).
    """
    from netlm.store.repository import Role

    try:
        existing = store.get_user(username)
    except NotFoundError:
        pass
    else:
        if existing.role is not Role.ADMIN:
            raise StoreError(
                f"user {username!r} exists with the role {existing.role.value}, not admin"
            )
        return False
    secret = password or os.environ.get(ADMIN_PASSWORD_ENV)
    if not secret:
        secret = typer.prompt(
            f"Password for the admin {username!r}", hide_input=True, confirmation_prompt=True
        )
    store.create_user(username, secret, Role.ADMIN, actor="netlm serve")
    return True


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configure_logging(level: str = "info") -> None:
    """Log lines with time, level and logger; WeasyPrint's page-by-page progress is muted."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (localhost by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL or SQLite file (default: $NETLM_DATABASE_URL, else the "
            "embedded SQLite file in netlm's data folder).",
        ),
    ] = None,
    create_admin: Annotated[
        str | None,
        typer.Option(
            "--create-admin",
            help=f"Create this admin user first (password from ${ADMIN_PASSWORD_ENV} or a "
            "prompt); nothing happens if it exists.",
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed the bundled example patients first.")
    ] = False,
    files_dir: Annotated[
        Path | None,
        typer.Option(
            "--files-dir",
            help="Folder for uploaded images and computed doses (default: beside the SQLite file).",
        ),
    ] = None,
    secure_cookies: Annotated[
        bool,
        typer.Option(help="Mark the session cookie Secure (when served behind HTTPS)."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the netlm web application and API (OpenAPI at /api/v1/docs)."""
    import uvicorn

    from netlm.api import create_app
    from netlm.store.repository import Store
    from netlm.workflows.demo import seed_demo

    console = stderr_console()
    configure_logging(log_level)
    try:
        store = Store(database_url(db))
        if create_admin is not None and ensure_admin(store, create_admin, None):
            console.print(f"created the admin user {create_admin!r}", markup=False)
        if demo:
            added = seed_demo(store)
            console.print(f"seeded {len(added)} example patient(s)")
    except NetlmError as exc:
        raise fail(exc) from None
    if not _loopback(host) and not secure_cookies:
        console.print(
            f"[yellow]warning:[/] listening on {host} without --secure-cookies: put netlm "
            "behind an HTTPS reverse proxy before anyone logs in over a network"
        )
    app = create_app(
        store,
        secret_key=os.environ.get(SECRET_KEY_ENV) or None,
        files_dir=files_dir,
        secure_cookies=secure_cookies,
    )
    console.print(f"netlm on http://{host}:{port}/  (registry {store.url})", markup=False)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,
            log_config=None,
            log_level=log_level.lower(),
            timeout_graceful_shutdown=10,
        )
    finally:
        store.close()


if __name__ == "__main__":  # pragma: no cover - ``python -m netlm.commands.serve``
    typer.run(serve_command)
