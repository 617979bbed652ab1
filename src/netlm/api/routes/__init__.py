"""The JSON API under ``/api/v1``: one router per resource, listed by :func:`api_routers`.

==================  ==========================================================
module              routes
==================  ==========================================================
``service``         ``/health``
``auth``            ``/auth/token``, ``/auth/tokens``, ``/auth/password``, ``/auth/me``
``users``           ``/users``, ``/audit`` (admins)
``patients``        ``/patients``, exports (JSON, FHIR), ``/patients/{id}/case``
``assessments``     ``/patients/{id}/assessments``, ``/assessments/...`` (and PDF)
``plans``           ``/patients/{id}/plans``, ``/plans/...`` (solve, approve, PDF)
``images``          ``/patients/{id}/images`` (upload, download, viewer), ``/dose``
``record``          treatments, labs, response time points and files, toxicities
==================  ==========================================================

A handler checks nothing a role or a model already checks, and calls the
registry or a workflow (:mod:`netlm.workflows`); errors are netlm errors,
answered by :mod:`netlm.api.error_handlers`.
"""

from __future__ import annotations

from fastapi import APIRouter

from netlm.api.routes import (
    assessments,
    auth,
    images,
    patients,
    plans,
    record,
    service,
    users,
)

#: The resource modules in the order of the OpenAPI document.
RESOURCES = (service, auth, users, patients, assessments, plans, images, record)


def api_routers() -> tuple[APIRouter, ...]:
    """The ``/api/v1`` routers, one per resource, each holding its routes with their full paths.

    The app includes each one directly (not inside a parent router), so that
    :func:`netlm.api.roles.iter_api_routes` sees every route.
    """
    return tuple(module.router for module in RESOURCES)
