"""Hostile input: Schemathesis generates requests from the OpenAPI document; no 5xx allowed.

The app is called in-process (ASGI) with an admin's bearer token for the
operations every role may use, and a physicist's for plan approval, over a
registry holding the bundled example patients, so that generated ids hit real
records too.  Each operation gets a bounded number of examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.pytest import from_fixture

from netlm.api import create_app
from netlm.api.roles import ROLES_KEY
from netlm.store.repository import Role, Store
from netlm.workflows.demo import seed_demo

#: Examples per operation (Hypothesis); the suite stays within a minute or two.
EXAMPLES_PER_OPERATION = 25
PASSWORD = "fuzzing-password-1"

TOKENS: dict[Role, str] = {}
#: The registry under test (to restore credentials the fuzzer ended).
STORES: list[Store] = []
#: Status codes seen per path template.
STATUSES: dict[str, set[int]] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    store = Store(f"sqlite:///{folder / 'fuzz.db'}")
    seed_demo(store)
    for role in (Role.ADMIN, Role.PHYSICIST):
        store.create_user(role.value, PASSWORD, role, actor="test")
        TOKENS[role] = store.create_token(role.value, actor="test")
    STORES.append(store)
    app = create_app(
        store, secret_key="fuzz-" * 10, files_dir=folder / "files", max_upload_bytes=1 << 20
    )
    yield schemathesis.openapi.from_asgi(
        "/api/v1/openapi.json", app, headers={"Authorization": f"Bearer {TOKENS[Role.ADMIN]}"}
    )
    STORES.clear()
    store.close()


def restore_credentials() -> None:
    """Undo what fuzzed calls did to the test users (revoked tokens, changed role, disabled)."""
    store = STORES[0]
    for role, token in TOKENS.items():
        if store.user_for_token(token) is not None:
            continue
        user = store.get_user(role.value)
        if not user.active:
            store.enable_user(role.value, actor="test")
        if user.role is not role:
            store.set_role(role.value, role, actor="test")
        TOKENS[role] = store.create_token(role.value, actor="test")


schema = from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any) -> None:
    roles = case.operation.definition.raw.get(ROLES_KEY, [])
    role = Role.ADMIN if Role.ADMIN.value in roles or not roles else Role(roles[0])
    restore_credentials()  # token revocation, role changes and disabling are fuzzed too
    response = case.call(headers={"Authorization": f"Bearer {TOKENS[role]}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    if case.path != "/api/v1/auth/token":  # the token must have been accepted
        assert response.status_code != 401, (case.method, case.formatted_path)
    STATUSES.setdefault(case.path, set()).add(response.status_code)


def test_generated_requests_reached_the_handlers() -> None:
    """The fuzzing above got past authentication and validation for most operations."""
    if not STATUSES:
        pytest.skip("run together with test_no_server_errors")
    succeeded = [path for path, codes in STATUSES.items() if any(c < 300 for c in codes)]
    assert len(succeeded) >= len(STATUSES) // 2, STATUSES
