"""Users, passwords, API tokens, browser sessions and log-in throttling.

Part of :class:`~netlm.store.repository.Store` (see there for the rules every
write follows).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from netlm.errors import InputError, NotFoundError, PermissionDeniedError, StoreError
from netlm.store import tables as m
from netlm.store.base import StoreBase, _lock_identifiers
from netlm.store.checks import _check_actor, _check_id, _Checker
from netlm.store.digests import _token_digest
from netlm.store.identifiers import lookalike, skeleton, skeleton_key
from netlm.store.models import (
    DEFAULT_SESSION_TTL,
    DEFAULT_TOKEN_TTL,
    ApiTokenOut,
    Role,
    UserOut,
    _token_out,
    _user_out,
)
from netlm.store.passwords import password_problems

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}")

_Credential = TypeVar("_Credential", m.ApiToken, m.WebSession)


class AccountsMixin(StoreBase):
    """Users and their credentials: the part of the store the web API authenticates with."""

    def create_user(self, username: str, password: str, role: Role | str, *, actor: str) -> UserOut:
        """Register a user with an argon2 password hash.

        Raises
        ------
        InputError
            Bad username, a password the policy refuses
            (:func:`netlm.store.passwords.password_problems`: at least
            :data:`~netlm.store.passwords.MIN_PASSWORD_LENGTH` characters, not the
            user name, not a common password), or an unknown role.
        StoreError
            If the username is taken, or looks like a taken one (same UTS #39
            skeleton, :func:`netlm.store.identifiers.lookalike`: ``admin`` / ``adrnin``).
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        if not isinstance(username, str) or not _USERNAME.fullmatch(username):
            check.fail(
                "username",
                f"{username!r} is not a username (2-64 characters: letters, digits, '_', '.', "
                "'@', '-', starting with a letter or digit)",
            )
        for problem in password_problems(password, username if isinstance(username, str) else None):
            check.fail("password", problem)
        role_name = check.choice(
            "role", str(role) if isinstance(role, Role) else role, {r.value for r in Role}
        )
        check.done()
        password_hash = self._hasher.hash(password)
        with self._write() as session:
            taken = session.scalar(sa.select(m.User.id).where(m.User.username == username))
            if taken is not None:
                raise StoreError(f"user {username!r} already exists")
            _lock_identifiers(session)
            key = skeleton_key(username)
            similar = lookalike(
                username,
                session.scalars(sa.select(m.User.username).where(m.User.username_skeleton == key)),
            )
            if similar is not None:
                raise StoreError(
                    f"the username {username!r} looks like existing user {similar!r}: both "
                    f"read as {skeleton(similar)!r} (Unicode confusables, UTS #39)"
                )
            user = m.User(
                username=username,
                username_skeleton=key,
                password_hash=password_hash,
                role=role_name,
            )
            self._insert(
                session,
                user,
                actor=actor,
                action="create",
                record_type="user",
                patient_id=None,
                details={"username": username, "role": role_name},
            )
            return _user_out(user)

    def authenticate(self, username: str, password: str) -> UserOut | None:
        """The user if ``password`` is right, else ``None`` (same work either way)."""
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        with self._read() as session:
            user = session.scalars(
                sa.select(m.User).where(m.User.username == username)
            ).one_or_none()
        if user is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
            stored = self._dummy_hash
        else:
            stored = user.password_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled_at is not None:
            return None
        return _user_out(user)

    def create_token(
        self, username: str, *, actor: str, ttl: dt.timedelta = DEFAULT_TOKEN_TTL
    ) -> str:
        """A new API token for ``username``; only its SHA-256 is stored.

        ``ttl``: lifetime (:data:`DEFAULT_TOKEN_TTL` when omitted); every token expires.
        """
        actor = _check_actor(actor)
        if not isinstance(ttl, dt.timedelta) or ttl <= dt.timedelta(0):
            raise InputError([("ttl", "must be a positive time span")])
        token = secrets.token_urlsafe(32)
        self._issue_credential(username, token, ttl=ttl, actor=actor)
        return token

    def user_for_token(self, token: str) -> UserOut | None:
        """The user an unexpired, unrevoked token belongs to, else ``None``."""
        found = self._live_credential(m.ApiToken, token)
        return None if found is None else _user_out(found[0])

    def revoke_token(self, token: str, *, actor: str) -> bool:
        """Revoke a token; ``False`` if it was unknown or already revoked."""
        return self._end_credential(m.ApiToken, token, actor=actor)

    def create_session(
        self, username: str, *, address: str = "-", ttl: dt.timedelta = DEFAULT_SESSION_TTL
    ) -> tuple[str, str]:
        """Open a browser session for ``username`` (audited as a log-in).

        Returns the session id (for the cookie; only its SHA-256 is stored) and
        the session's CSRF token.
        """
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._issue_credential(
            username, session_id, ttl=ttl, actor=username, csrf_token=csrf, address=address
        )
        return session_id, csrf

    def session_user(self, session_id: str) -> tuple[UserOut, str] | None:
        """The user and CSRF token of a live session, else ``None`` (ended, expired, disabled)."""
        found = self._live_credential(m.WebSession, session_id)
        return None if found is None else (_user_out(found[0]), found[1].csrf_token)

    def _issue_credential(
        self,
        username: str,
        secret: str,
        *,
        ttl: dt.timedelta,
        actor: str,
        csrf_token: str | None = None,
        address: str = "-",
    ) -> None:
        """Store the SHA-256 of a new API token, or with ``csrf_token`` of a browser session.

        A token is audited as created (``create api_token``), a session as the
        user's log-in from ``address``.

        Raises
        ------
        NotFoundError
            If there is no such user.
        StoreError
            If the user is disabled.
        """
        with self._write() as session:
            user = self._user_row(session, username)
            if user.disabled_at is not None:
                raise StoreError(f"user {username!r} is disabled")
            now = self._now()
            fields: dict[str, Any] = {
                "user_id": user.id,
                "expires_at": now + ttl,
                "created_at": now,
                "created_by": actor,
            }
            row: m.ApiToken | m.WebSession
            if csrf_token is None:
                row = m.ApiToken(token_sha256=_token_digest(secret), **fields)
                action, record_type = "create", "api_token"
                details = {"username": username, "expires_at": (now + ttl).isoformat()}
            else:
                row = m.WebSession(
                    session_sha256=_token_digest(secret), csrf_token=csrf_token, **fields
                )
                action, record_type = "login", "user"
                details = {"via": "session", "address": address[:64]}
            session.add(row)
            session.flush()
            self._audit(
                session,
                at=now,
                actor=actor,
                action=action,
                record_type=record_type,
                record_id=row.id if csrf_token is None else user.id,
                patient_id=None,
                details=details,
            )

    def _live_credential(
        self, model: type[_Credential], secret: object
    ) -> tuple[m.User, _Credential] | None:
        """The user and row of a live API token or browser session (by its secret), else ``None``.

        ``None`` also when the credential is revoked or expired, or its user disabled.
        """
        if not isinstance(secret, str) or not secret:
            return None
        with self._read() as session:
            found = session.execute(
                sa.select(m.User, model)
                .join(model, model.user_id == m.User.id)
                .where(self._by_secret(model, secret))
            ).one_or_none()
        if found is None:
            return None
        user, row = found
        expires_at = row.expires_at
        if row.revoked_at is not None or (expires_at is not None and expires_at <= self._now()):
            return None
        if user.disabled_at is not None:
            return None
        return user, row

    def end_session(self, session_id: str, *, actor: str) -> bool:
        """Log a session out; ``False`` if it was unknown or already ended."""
        return self._end_credential(m.WebSession, session_id, actor=actor)

    @staticmethod
    def _by_secret(model: type[_Credential], secret: str) -> sa.ColumnElement[bool]:
        """The condition that finds an API token or browser session by its secret's SHA-256."""
        digest = _token_digest(secret)
        if model is m.ApiToken:
            return m.ApiToken.token_sha256 == digest
        return m.WebSession.session_sha256 == digest

    def _end_credential(self, model: type[_Credential], secret: object, *, actor: str) -> bool:
        """Revoke an API token (audited ``revoke``) or end a session (the user's ``logout``).

        ``False`` if the secret is unknown or the credential already ended.
        """
        actor = _check_actor(actor)
        if not isinstance(secret, str) or not secret:
            return False
        with self._write() as session:
            row = session.scalars(
                sa.select(model).where(self._by_secret(model, secret))
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = self._now()
            session.flush()
            token = isinstance(row, m.ApiToken)
            self._audit(
                session,
                at=row.revoked_at,
                actor=actor,
                action="revoke" if token else "logout",
                record_type="api_token" if token else "user",
                record_id=row.id if token else row.user_id,
                patient_id=None,
            )
            return True

    @staticmethod
    def _user_row(session: Session, username: str) -> m.User:
        user = session.scalars(sa.select(m.User).where(m.User.username == username)).one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} not found")
        return user

    @staticmethod
    def _end_credentials(session: Session, user_id: int, now: dt.datetime) -> int:
        """End every live session and token of a user; how many were ended."""
        ended = 0
        for model in (m.WebSession, m.ApiToken):
            result = session.execute(
                sa.update(model)
                .where(model.user_id == user_id, model.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            ended += int(getattr(result, "rowcount", 0) or 0)
        return ended

    def _change_user(
        self, username: str, *, actor: str, action: str, details: Mapping[str, Any], change: Any
    ) -> UserOut:
        """Apply ``change(user_row)``, end the user's sessions and tokens, audit ``action``."""
        with self._write() as session:
            user = self._user_row(session, username)
            now = self._now()
            change(user)
            ended = self._end_credentials(session, user.id, now)
            session.flush()
            self._audit(
                session,
                at=now,
                actor=actor,
                action=action,
                record_type="user",
                record_id=user.id,
                patient_id=None,
                details={"username": username, **details, "credentials_ended": ended},
            )
            return _user_out(user)

    def set_password(self, username: str, password: str, *, actor: str) -> UserOut:
        """Change a user's password; the user's sessions and tokens end at once.

        Raises
        ------
        InputError
            If the password policy refuses the password.
        NotFoundError
            If there is no such user.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        for problem in password_problems(password, username):
            check.fail("password", problem)
        check.done()
        password_hash = self._hasher.hash(password)

        def change(user: m.User) -> None:
            user.password_hash = password_hash

        return self._change_user(
            username, actor=actor, action="set_password", details={}, change=change
        )

    def set_role(self, username: str, role: Role | str, *, actor: str) -> UserOut:
        """Give a user another role; the user's sessions and tokens end at once."""
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        role_name = check.choice(
            "role", str(role) if isinstance(role, Role) else role, {r.value for r in Role}
        )
        check.done()

        def change(user: m.User) -> None:
            user.role = role_name

        return self._change_user(
            username, actor=actor, action="set_role", details={"role": role_name}, change=change
        )

    def disable_user(self, username: str, *, actor: str) -> UserOut:
        """Disable a user: no more log-ins; its sessions and tokens end at once."""
        actor = _check_actor(actor)
        now = self._now()

        def change(user: m.User) -> None:
            if user.disabled_at is None:
                user.disabled_at = now

        return self._change_user(username, actor=actor, action="disable", details={}, change=change)

    def enable_user(self, username: str, *, actor: str) -> UserOut:
        """Let a disabled user log in again (old sessions and tokens stay ended)."""
        actor = _check_actor(actor)

        def change(user: m.User) -> None:
            user.disabled_at = None

        return self._change_user(username, actor=actor, action="enable", details={}, change=change)

    def revoke_user_credentials(self, username: str, *, actor: str) -> int:
        """End every session and token of a user now; how many were live."""
        actor = _check_actor(actor)
        with self._write() as session:
            user = self._user_row(session, username)
            now = self._now()
            ended = self._end_credentials(session, user.id, now)
            self._audit(
                session,
                at=now,
                actor=actor,
                action="revoke_credentials",
                record_type="user",
                record_id=user.id,
                patient_id=None,
                details={"username": username, "credentials_ended": ended},
            )
            return ended

    def list_tokens(self, username: str | None = None) -> list[ApiTokenOut]:
        """API tokens (of ``username``, else everyone's), newest first; never the tokens."""
        with self._read() as session:
            stmt = sa.select(m.ApiToken, m.User.username).join(
                m.User, m.User.id == m.ApiToken.user_id
            )
            if username is not None:
                stmt = stmt.where(m.User.username == username)
            rows = session.execute(stmt.order_by(m.ApiToken.id.desc())).all()
        return [_token_out(t, name) for t, name in rows]

    def token_record(self, token: str) -> ApiTokenOut | None:
        """The record of an API token (by the token itself), or ``None`` if unknown."""
        if not isinstance(token, str) or not token:
            return None
        with self._read() as session:
            found = session.execute(
                sa.select(m.ApiToken, m.User.username)
                .join(m.User, m.User.id == m.ApiToken.user_id)
                .where(self._by_secret(m.ApiToken, token))
            ).one_or_none()
        if found is None:
            return None
        row, name = found
        return _token_out(row, name)

    def revoke_token_id(
        self, token_id: int, *, actor: str, owner: str | None = None
    ) -> ApiTokenOut:
        """Revoke the token numbered ``token_id`` (only ``owner``'s, when given).

        Raises
        ------
        NotFoundError
            If there is no such token (or it is not ``owner``'s).
        """
        actor = _check_actor(actor)
        token_id = _check_id(token_id, "token_id")
        with self._write() as session:
            found = session.execute(
                sa.select(m.ApiToken, m.User.username)
                .join(m.User, m.User.id == m.ApiToken.user_id)
                .where(m.ApiToken.id == token_id)
            ).one_or_none()
            if found is None or (owner is not None and found[1] != owner):
                raise NotFoundError(f"token {token_id} not found")
            row, name = found
            if row.revoked_at is None:
                row.revoked_at = self._now()
                self._audit(
                    session,
                    at=row.revoked_at,
                    actor=actor,
                    action="revoke",
                    record_type="api_token",
                    record_id=row.id,
                    patient_id=None,
                    details={"username": name},
                )
            return _token_out(row, name)

    def login_retry_after(self, username: str, address: str) -> float:
        """Seconds until ``username`` may try to log in from ``address`` (0: now)."""
        policy = self.login_throttle
        now = self._now()
        since = now - dt.timedelta(seconds=policy.window_s)
        wait = 0.0
        with self._read() as session:
            for column, value, limit in (
                (m.LoginFailure.username, username[:200], policy.max_failures_per_user),
                (m.LoginFailure.address, address[:64], policy.max_failures_per_address),
            ):
                count, last = session.execute(
                    sa.select(sa.func.count(), sa.func.max(m.LoginFailure.at)).where(
                        column == value, m.LoginFailure.at > since
                    )
                ).one()
                delay = policy.delay_s(int(count), limit)
                if delay > 0 and last is not None:
                    last_at = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
                    wait = max(wait, (last_at - now).total_seconds() + delay)
        return max(wait, 0.0)

    def record_login_failure(self, username: str, address: str, *, via: str) -> None:
        """Count a refused log-in for the throttle and audit it (user name as typed)."""
        with self._write() as session:
            now = self._now()
            session.add(m.LoginFailure(username=username[:200], address=address[:64], at=now))
            user_id = session.scalar(sa.select(m.User.id).where(m.User.username == username))
            self._audit(
                session,
                at=now,
                actor="anonymous",  # nobody proved who they are; the name tried is in details
                action="login_failed",
                record_type="user",
                record_id=user_id,
                patient_id=None,
                details={"username": username[:200], "address": address[:64], "via": via},
            )

    def record_login(self, username: str, address: str, *, via: str) -> None:
        """Clear the user's failure count after a successful log-in; audit a token log-in
        (``via="token"``; a browser log-in is audited when its session is created)."""
        with self._write() as session:
            session.execute(sa.delete(m.LoginFailure).where(m.LoginFailure.username == username))
            if via == "token":  # a browser log-in is audited by create_session
                user = self._user_row(session, username)
                self._audit(
                    session,
                    at=self._now(),
                    actor=username,
                    action="login",
                    record_type="user",
                    record_id=user.id,
                    patient_id=None,
                    details={"via": via, "address": address[:64]},
                )

    def get_user(self, username: str) -> UserOut:
        """The user called ``username``.

        Raises
        ------
        NotFoundError
            If there is none.
        """
        with self._read() as session:
            user = session.scalars(
                sa.select(m.User).where(m.User.username == username)
            ).one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} not found")
        return _user_out(user)

    def list_users(self) -> list[UserOut]:
        """Every user, by id."""
        with self._read() as session:
            return [_user_out(u) for u in session.scalars(sa.select(m.User).order_by(m.User.id))]

    def require_role(self, username: str, *roles: Role | str) -> UserOut:
        """The user, if it has one of ``roles``.

        Raises
        ------
        PermissionDeniedError
            If the user is unknown or has another role.
        """
        wanted = {Role(r) for r in roles}
        try:
            user = self.get_user(username)
        except NotFoundError:
            raise PermissionDeniedError(f"{username!r} is not a registered user") from None
        if user.role not in wanted:
            names = " or ".join(sorted(r.value for r in wanted))
            raise PermissionDeniedError(
                f"{username!r} has the role {user.role.value}; this needs {names}"
            )
        return user
