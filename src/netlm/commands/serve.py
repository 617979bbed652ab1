"""``netlm serve``: the web application and API on localhost.

``netlm serve`` opens the registry (the embedded SQLite file unless ``--db``
names another database) and brings its schema up to date; a SQLite file that
does not exist is refused, naming it and ``netlm db upgrade`` (which creates
it), and nothing is created, except with ``--demo``, whose registry may be
new.  It optionally creates a first admin account
(``--create-admin NAME``; the password comes from ``$NETLM_ADMIN_PASSWORD`` or
a prompt, never from the command line), and serves :func:`netlm.api.create_app`
with uvicorn.  The access log of uvicorn is off: it would write query strings
(a patient search) to the log; netlm's own request log has route templates
and ids only.

The registry, FastAPI and uvicorn are imported when the command runs, not when
the CLI starts.  Demo seeding (``--demo``) is :func:`netlm.workflows.demo.seed_demo`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netlm.commands.common import DbOption, database_url, fail, stderr_console
from netlm.errors import NetlmError, NotFoundError, StoreError
from netlm.units import S_PER_DAY

if TYPE_CHECKING:
    from netlm.store.repository import Store

#: Largest image upload by default (bytes); the same as :func:`netlm.api.create_app`'s.
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3

#: Environment variable with the first admin's password (read when the command runs).
ADMIN_PASSWORD_ENV = "NETLM_ADMIN_PASSWORD"
#: Environment variable with the key that signs session cookies (at least
#: :data:`MIN_SECRET_KEY_BYTES` bytes); when it is not set, a random key is made once and
#: kept in the data folder (:data:`SECRET_KEY_FILE`, mode 0600), so a restart keeps sessions.
SECRET_KEY_ENV = "NETLM_SECRET_KEY"
#: The file in netlm's data folder that keeps the generated signing key.
SECRET_KEY_FILE = "secret-key"
#: Shortest signing key accepted (bytes).
MIN_SECRET_KEY_BYTES = 32


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


def signing_key(folder: Path | None = None) -> str:
    """The key that signs session cookies: ``$NETLM_SECRET_KEY``, else the data folder's key.

    A key shorter than :data:`MIN_SECRET_KEY_BYTES` bytes is refused.  Without
    ``$NETLM_SECRET_KEY`` a random key is created once in ``folder`` (netlm's
    data folder by default) as :data:`SECRET_KEY_FILE` with mode 0600 (the
    folder 0700 when it is created) and read on every later start.

    Raises
    ------
    StoreError
        If the key is too short, or the key file cannot be read or written.
    """
    explicit = os.environ.get(SECRET_KEY_ENV)
    source = f"${SECRET_KEY_ENV}"
    if explicit is None:
        from netlm.store.db import data_dir

        path = (folder if folder is not None else data_dir()) / SECRET_KEY_FILE
        source = str(path)
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                    handle.write(secrets.token_urlsafe(48) + "\n")
            explicit = path.read_text(encoding="ascii").strip()
        except FileExistsError:  # another worker made it first
            explicit = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"the signing key {source} cannot be used: {exc}") from None
    if len(explicit.encode()) < MIN_SECRET_KEY_BYTES:
        raise StoreError(
            f"the signing key from {source} is {len(explicit.encode())} bytes long; netlm needs "
            f"at least {MIN_SECRET_KEY_BYTES} (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`)"
        )
    return explicit


def connection_budget(store: Store, workers: int, pool_size: int, max_overflow: int) -> str | None:
    """Why ``workers`` processes may exhaust PostgreSQL's connections, or ``None``.

    Asks the server for ``max_connections``; see
    :func:`netlm.store.db.connection_budget_problem` for the rule.  ``None`` on SQLite.
    """
    import sqlalchemy as sa

    from netlm.store.db import connection_budget_problem

    if store.engine.dialect.name != "postgresql":
        return None
    try:
        with store.engine.connect() as connection:
            allowed = int(connection.execute(sa.text("SHOW max_connections")).scalar_one())
    except sa.exc.DBAPIError:  # advisory only: the server itself reports what is wrong
        return None
    return connection_budget_problem(allowed, workers, pool_size, max_overflow)


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
        level=level.upper(),
        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (localhost by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    db: DbOption = None,
    create_admin: Annotated[
        str | None,
        typer.Option(
            "--create-admin",
            help=f"Create this admin user first (password from ${ADMIN_PASSWORD_ENV} or a "
            "prompt); nothing happens if it exists.",
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Seed the bundled example patients first (a missing SQLite registry is "
            "created; without --demo it is refused: create it with `netlm db upgrade`).",
        ),
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
        typer.Option(
            help="Mark the cookies Secure and send Strict-Transport-Security (behind HTTPS)."
        ),
    ] = False,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            min=1024,
            help="Largest JSON body or form post (bytes); larger: 413. "
            "Default: netlm.api.limits.DEFAULT_MAX_BODY_BYTES (1 MiB).",
        ),
    ] = None,
    max_upload_bytes: Annotated[
        int,
        typer.Option(min=1024, help="Largest image upload (bytes), counted while received."),
    ] = DEFAULT_MAX_UPLOAD_BYTES,
    max_image_voxels: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most voxels in one uploaded image or one image a dose computation reads; "
            "larger: 413, nothing kept. Default: netlm.imaging.limits.ImageLimits (2**29).",
        ),
    ] = None,
    max_image_bytes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most bytes of (decompressed) pixel data in one image, checked from the header "
            "and the gzip stream before reading. Default: 2 GiB.",
        ),
    ] = None,
    max_labels: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most labels in one label map / DICOM SEG / RTSTRUCT (each becomes a mask). "
            "Default: 255.",
        ),
    ] = None,
    token_ttl_days: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            max=3650,
            help="Lifetime of API tokens made at log-in (days). "
            "Default: netlm.store.repository.DEFAULT_TOKEN_TTL (30 days).",
        ),
    ] = None,
    allow_own_override_approval: Annotated[
        bool,
        typer.Option(
            help="Let a physicist approve a plan whose safety override they wrote "
            "(default: a second physicist approves)."
        ),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name the server answers to (repeat; '*.example.org' allowed); "
            "requests for other hosts get 400. Default: any.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes (use PostgreSQL for more than one; sessions and "
            "throttling live in the registry, so any worker serves any request).",
        ),
    ] = 1,
    db_pool_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="PostgreSQL connections each worker keeps open (default: "
            "netlm.store.db.DEFAULT_POOL_SIZE, 5). Rule: workers x (pool size + overflow) "
            "<= max_connections - 3; netlm serve warns at start when it does not hold.",
        ),
    ] = None,
    db_max_overflow: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Connections each worker may open beyond its pool under load "
            "(default: netlm.store.db.DEFAULT_MAX_OVERFLOW, 10).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    pacs_url: Annotated[
        str | None,
        typer.Option(
            envvar="NETLM_PACS_URL",
            help="DICOMweb PACS of the web app's 'import study from PACS' and 'send to PACS' "
            "(e.g. https://pacs/dicom-web). Token from $NETLM_PACS_TOKEN, or basic "
            "authentication as --pacs-user with $NETLM_PACS_PASSWORD.",
        ),
    ] = None,
    pacs_user: Annotated[
        str | None,
        typer.Option(envvar="NETLM_PACS_USER", help="PACS user name (HTTP basic)."),
    ] = None,
    pacs_insecure: Annotated[
        bool, typer.Option(help="Do not verify the PACS's TLS certificate (test servers only).")
    ] = False,
    pacs_ca_bundle: Annotated[
        Path | None, typer.Option(help="CA bundle (PEM) to verify the PACS's TLS certificate.")
    ] = None,
) -> None:
    """Serve the netlm web application and API (OpenAPI at /api/v1/docs) on an existing
    registry, brought up to date first (create one with `netlm db upgrade`; --demo may
    start a new one)."""
    import uvicorn

    from netlm.api.limits import DEFAULT_MAX_BODY_BYTES
    from netlm.imaging.limits import DEFAULT_IMAGE_LIMITS
    from netlm.store.db import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE, missing_registry_problem
    from netlm.store.repository import DEFAULT_TOKEN_TTL, Store
    from netlm.workflows.demo import seed_demo

    console = stderr_console()
    configure_logging(log_level)
    pool_size = DEFAULT_POOL_SIZE if db_pool_size is None else db_pool_size
    max_overflow = DEFAULT_MAX_OVERFLOW if db_max_overflow is None else db_max_overflow
    os.umask(0o077)  # every file the server writes (registry, uploads, doses) is the owner's only
    try:
        missing = None if demo else missing_registry_problem(database_url(db))
        if missing is not None:  # before the signing key is made: nothing is created
            raise StoreError(missing)
        secret_key = signing_key()
        store = Store(database_url(db), create=demo, pool_size=pool_size, max_overflow=max_overflow)
        budget = connection_budget(store, workers, pool_size, max_overflow)
        if create_admin is not None and ensure_admin(store, create_admin, None):
            console.print(f"created the admin user {create_admin!r}", markup=False)
        if demo:
            added = seed_demo(store)
            console.print(f"seeded {len(added)} example patient(s)")
        hint = first_admin_hint(store)
        if hint is not None:
            console.print(hint, markup=False)
        pacs_settings = {
            "url": pacs_url,
            "user": pacs_user,
            "insecure": pacs_insecure,
            "ca_bundle": None if pacs_ca_bundle is None else str(pacs_ca_bundle),
        }
        server_pacs(pacs_settings)  # refuse bad settings before serving
    except NetlmError as exc:
        raise fail(exc) from None
    if budget is not None:
        console.print(f"[yellow]warning:[/] {budget}: lower --workers or --db-pool-size")
    if not _loopback(host) and not secure_cookies:
        console.print(
            f"[yellow]warning:[/] listening on {host} without --secure-cookies: put netlm "
            "behind an HTTPS reverse proxy before anyone logs in over a network"
        )
    settings: dict[str, Any] = {
        "url": database_url(db),
        "secret_key": secret_key,
        "files_dir": None if files_dir is None else str(files_dir),
        "secure_cookies": secure_cookies,
        "max_body_bytes": DEFAULT_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes,
        "max_upload_bytes": max_upload_bytes,
        "image_limits": {
            "max_voxels": max_image_voxels or DEFAULT_IMAGE_LIMITS.max_voxels,
            "max_bytes": max_image_bytes or DEFAULT_IMAGE_LIMITS.max_bytes,
            "max_labels": max_labels or DEFAULT_IMAGE_LIMITS.max_labels,
        },
        "token_ttl_days": (
            DEFAULT_TOKEN_TTL.total_seconds() / S_PER_DAY
            if token_ttl_days is None
            else token_ttl_days
        ),
        "allow_own_override_approval": allow_own_override_approval,
        "allowed_hosts": allowed_host or None,
        "db_pool_size": pool_size,
        "db_max_overflow": max_overflow,
        "log_level": log_level,
        "pacs": pacs_settings,
    }
    console.print(
        f"netlm on http://{host}:{port}/  (registry {store.url}, {workers} worker(s))",
        markup=False,
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_config": None,
        "log_level": log_level.lower(),
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        # Each worker process builds its own app (app_from_environment); sessions and the
        # log-in throttle live in the registry, so any worker serves any request.
        store.close()
        os.environ[SERVE_SETTINGS_ENV] = json.dumps(settings)
        uvicorn.run(
            f"{__name__}:app_from_environment",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            **options,
        )
        return
    try:
        uvicorn.run(_app(store, settings, auth_cache_s=None), **options)
    finally:
        store.close()


#: What ``netlm serve`` prints when the registry has no active admin: nobody could
#: manage users from the web application, so it says how to create the first one.
NO_ADMIN_HINT = (
    "no active admin user yet: stop the server and start it again with --create-admin NAME "
    "(password from $NETLM_ADMIN_PASSWORD or a prompt; at least 12 characters, not "
    "containing the name), or run `netlm users create NAME --role admin` with the same --db"
)


def first_admin_hint(store: Store) -> str | None:
    """:data:`NO_ADMIN_HINT` when ``store`` has no active admin, else ``None``.

    Without an active admin nobody can manage users from the web application.
    """
    from netlm.store.repository import Role

    if any(u.active and u.role == Role.ADMIN for u in store.list_users()):
        return None
    return NO_ADMIN_HINT


#: How long a worker may take to answer the supervisor's health check (seconds): a worker
#: still importing netlm on a busy machine must not be killed and restarted in a loop.
WORKER_HEALTHCHECK_S = 60

#: Environment variable through which ``netlm serve --workers N`` hands its settings
#: to the worker processes.
SERVE_SETTINGS_ENV = "NETLM_SERVE_SETTINGS"


def server_pacs(settings: dict[str, Any] | None) -> Any:
    """The web app's PACS (:class:`netlm.pacs.PacsConfig`) from the serve settings, or ``None``.

    The token (``$NETLM_PACS_TOKEN``) and password (``$NETLM_PACS_PASSWORD``)
    are read from the environment here, in each worker, never from the settings.
    """
    if not settings or not settings.get("url"):
        return None
    from netlm.commands.pacs import pacs_config

    bundle = settings.get("ca_bundle")
    return pacs_config(
        settings["url"],
        os.environ.get("NETLM_PACS_TOKEN") or None,
        settings.get("user"),
        os.environ.get("NETLM_PACS_PASSWORD") if settings.get("user") else None,
        bool(settings.get("insecure")),
        None if bundle is None else Path(bundle),
    )


def _app(store: Store, settings: dict[str, Any], *, auth_cache_s: float | None) -> Any:
    from netlm.api import create_app
    from netlm.imaging.limits import ImageLimits

    extra: dict[str, Any] = {} if auth_cache_s is None else {"auth_cache_s": auth_cache_s}
    return create_app(
        store,
        secret_key=settings["secret_key"],
        files_dir=None if settings["files_dir"] is None else Path(settings["files_dir"]),
        secure_cookies=settings["secure_cookies"],
        max_body_bytes=settings["max_body_bytes"],
        max_upload_bytes=settings["max_upload_bytes"],
        token_ttl=dt.timedelta(days=settings["token_ttl_days"]),
        allow_own_override_approval=settings["allow_own_override_approval"],
        allowed_hosts=settings["allowed_hosts"],
        pacs=server_pacs(settings.get("pacs")),
        image_limits=ImageLimits(**settings.get("image_limits", {})),
        **extra,
    )


def app_from_environment() -> Any:
    """The app of one ``netlm serve --workers N`` worker process (settings from the parent).

    Credentials are not cached between requests (``auth_cache_s=0``), so a log-out or
    revocation handled by one worker holds at once on every other.
    """
    from netlm.store.repository import Store

    settings = json.loads(os.environ[SERVE_SETTINGS_ENV])
    configure_logging(settings["log_level"])
    store = Store(
        settings["url"],
        create=False,  # the parent process opened it
        pool_size=settings["db_pool_size"],
        max_overflow=settings["db_max_overflow"],
    )
    return _app(store, settings, auth_cache_s=0.0)


if __name__ == "__main__":  # pragma: no cover - ``python -m netlm.commands.serve``
    typer.run(serve_command)
