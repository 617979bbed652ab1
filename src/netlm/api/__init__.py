"""The netlm web API (JSON under ``/api/v1``) and the server-rendered web application.

Start it with ``netlm serve``; build it in Python with :func:`create_app`.  The
app is assembled in :mod:`netlm.api.app` from modules of one concern each
(configuration, roles, security, middleware, error handlers, schemas, one
router per resource in :mod:`netlm.api.routes`, one per page resource in
:mod:`netlm.api.pages` with its forms in :mod:`netlm.api.forms`); use cases
behind the routes live in :mod:`netlm.workflows`.
"""

from netlm.api.app import create_app
from netlm.api.config import API_PREFIX

__all__ = ["API_PREFIX", "create_app"]
