"""What every page module shares: path parameters, redirects, the CSRF-checked form.

:data:`FormDep` is the posted form after its CSRF token was checked against
the session (403 otherwise); :func:`form_model` and :func:`problems_by_field`
turn a form and the registry's problems into messages by input.
"""

from __future__ import annotations

import secrets
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from netlm.api.config import CSRF_FORM_FIELD, ApiConfig
from netlm.api.roles import principal_of
from netlm.errors import InputError

if typing.TYPE_CHECKING:
    from netlm.pacs import PacsConfig

PatientId = Annotated[int, PathParam(ge=1, le=2**62)]
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]


def redirect(url: str) -> RedirectResponse:
    """A "see other" (303) redirect: where a page goes after a form was posted."""
    return RedirectResponse(url, status_code=303)


async def form_data(request: Request) -> dict[str, str]:
    """The posted form (text fields), after checking its CSRF token against the session."""
    form = await request.form()
    user = principal_of(request)
    token = form.get(CSRF_FORM_FIELD)
    if (
        user is None
        or user.csrf is None
        or not isinstance(token, str)
        or not same_token(token, user.csrf)
    ):
        raise HTTPException(403, "the form is stale or was not sent from this site; reload it")
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def same_token(a: str, b: str) -> bool:
    """Whether two tokens are equal (compared in constant time)."""
    return secrets.compare_digest(a.encode(), b.encode())


FormDep = Annotated[dict[str, str], Depends(form_data)]

Model = typing.TypeVar("Model", bound=BaseModel)


def form_model(
    model: type[Model], values: Mapping[str, Any]
) -> tuple[Model | None, dict[str, list[str]]]:
    """``model`` validated from form values (the API's request model), or messages by field."""
    try:
        return model.model_validate(dict(values)), {}
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for e in exc.errors():
            name = ".".join(str(part) for part in e["loc"]) or "form"
            errors.setdefault(name, []).append(str(e["msg"]))
        return None, errors


def problems_by_field(problems: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Store problems ((field, message) pairs) by field, for messages next to the inputs."""
    errors: dict[str, list[str]] = {}
    for name, message in problems:
        errors.setdefault(name or "form", []).append(message)
    return errors


def pacs_of(config: ApiConfig) -> PacsConfig:
    """The server's PACS (``netlm serve --pacs-url``).

    Raises
    ------
    InputError
        (``pacs``) No PACS is configured.
    """
    if config.pacs is None:
        raise InputError(
            [("pacs", "no PACS is configured for this server (netlm serve --pacs-url URL)")]
        )
    return config.pacs
