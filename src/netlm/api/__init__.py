"""The netlm web API (JSON under ``/api/v1``) and the server-rendered web application.

Start it with ``netlm serve``; build it in Python with :func:`create_app`.
"""

from netlm.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
