"""The Jinja2 templates of the web application: :func:`render`, :func:`error_page`.

Page templates live in ``netlm/api/templates``; the report partials of
:mod:`netlm.report.html` are loaded beside them, so a page section and the PDF
say the same thing.  Every page gets the user and the session's CSRF token.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from netlm.api.roles import principal_of
from netlm.report.html import install_filters


@functools.cache
def environment() -> Environment:
    """The page templates (``netlm/api/templates``) and the report partials, with filters."""
    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader("netlm.api", "templates"), PackageLoader("netlm.report", "templates")]
        ),
        autoescape=select_autoescape(("html", "htm", "xml"), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return install_filters(env)


def render_partials(names: Sequence[str], context: Mapping[str, Any]) -> Markup:
    """Report partials rendered with their own context (board and plan contexts differ)."""
    source = "".join(f'{{% include "partials/{n}.html" %}}' for n in names)
    return Markup(environment().from_string(source).render(dict(context)))


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page, with the user, the CSRF token and the title every page shows."""
    user = principal_of(request)
    context.setdefault("title", "netlm")
    html = (
        environment()
        .get_template(template)
        .render(user=user, csrf=user.csrf if user else None, **context)
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)


def error_page(
    request: Request,
    status_code: int,
    message: str,
    problems: Sequence[Mapping[str, str]] | None = None,
) -> HTMLResponse:
    """The HTML answer to a refused or failed page request."""
    titles = {
        401: "Please log in",
        403: "Not allowed",
        404: "Not found",
        409: "Refused",
        413: "Too large",
        422: "Invalid input",
    }
    return render(
        request,
        "error.html",
        status_code,
        title=titles.get(status_code, "Error"),
        message=message,
        problems=list(problems or ()),
    )
