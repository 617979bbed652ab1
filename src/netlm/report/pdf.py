"""PDF reports (WeasyPrint) from the HTML templates of :mod:`netlm.report.html`.

:func:`board_pdf` writes the tumour-board summary (with the recommended order,
the assumptions and a sign-off block), :func:`plan_pdf` the radioembolization
dosimetry report, :func:`voxel_dose_pdf` the voxel dosimetry report and
:func:`response_pdf` the response assessment.  Every page carries two patient
identifiers (the patient id and the SHA-256 of the inputs: netlm's documents
hold no name or date of birth), the status ("draft — not approved", or
"approved by ..., time"), "Page X of Y", the netlm version and the digests.

Archiving: PDFs are written as **PDF/A-3b** by default (``pdfa=True``:
embedded fonts, sRGB output intent, XMP metadata with ``pdfaid:part`` 3 and
conformance B), so that a signed report can be filed as it is; ``pdfa=False``
writes a plain PDF.

Rendering never touches the network: the HTML holds its style sheet inline and
its figures as ``data:`` URIs, the base URL is the package's template folder,
and the URL fetcher refuses every URL that is not ``data:`` or a ``file:``
inside that folder (a template that asked for anything else would fail with
:class:`ReportError` rather than be fetched).  Fonts are the system's
(Liberation Sans or DejaVu Sans, through fontconfig).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

from netlm.case.model import Case
from netlm.eligibility.result import Assessment
from netlm.errors import NetlmError
from netlm.report.html import (
    TEMPLATE_FOLDER,
    TEMPLATE_PACKAGE,
    render_board_html,
    render_plan_html,
)
from netlm.sirt.plan import Plan
from netlm.sirt.planner import PlanResult
from netlm.voxel.dvh import DvhCurve

if TYPE_CHECKING:
    from netlm.response.report import ResponseReport
    from netlm.voxel.result import DoseResult

__all__ = [
    "PDFA_VARIANT",
    "ReportError",
    "board_pdf",
    "html_to_pdf",
    "plan_pdf",
    "response_pdf",
    "template_folder",
    "voxel_dose_pdf",
]

#: URL schemes a report may load.
ALLOWED_SCHEMES: Final = frozenset({"data", "file"})

#: The WeasyPrint variant of archive PDFs (ISO 19005-3, level B).
PDFA_VARIANT: Final = "pdf/a-3b"


class ReportError(NetlmError):
    """A report could not be rendered (e.g. it asked for a resource outside the package)."""


def template_folder() -> Path:
    """The folder of the report templates: the base URL of every report."""
    return Path(str(resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_FOLDER)))


def _check_url(url: str, folder: Path) -> None:
    """Refuse ``url`` unless it is ``data:`` or a ``file:`` inside ``folder``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise ReportError(f"a report may not load {url[:80]!r}: only data: and local files")
    if scheme == "file":
        target = Path(unquote(parts.path)).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise ReportError(f"a report may not load {target}: it is outside {folder}")


def _url_fetcher(folder: Path) -> Any:
    """A WeasyPrint URL fetcher that only loads ``data:`` and files inside ``folder``."""
    import weasyprint

    fetcher_class = getattr(weasyprint, "URLFetcher", None)
    if fetcher_class is not None:  # WeasyPrint >= 67: a class with a fetch() method

        def fetch(self: Any, url: str, headers: Any = None) -> Any:
            _check_url(url, folder)
            return fetcher_class.fetch(self, url, headers)

        local = type("LocalURLFetcher", (fetcher_class,), {"fetch": fetch})
        return local(allow_redirects=False, fail_on_errors=True)

    default = weasyprint.default_url_fetcher  # pragma: no cover - older WeasyPrint

    def fetch_function(url: str, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        _check_url(url, folder)
        return default(url, *args, **kwargs)

    return fetch_function  # pragma: no cover


def html_to_pdf(html: str, path: str | Path, *, pdfa: bool = True) -> Path:
    """Write ``html`` (a document from :mod:`netlm.report.html`) as a PDF to ``path``.

    With ``pdfa`` (the default) the file is PDF/A-3b (:data:`PDFA_VARIANT`).

    Raises
    ------
    ReportError
        If the document asks for a resource that is not ``data:`` or a file of
        the report package, or ``path`` cannot be written.
    """
    import weasyprint

    folder = template_folder()
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"cannot write {target}: {error.strerror or error}") from None
    fatal = getattr(getattr(weasyprint, "urls", None), "FatalURLFetchingError", ReportError)
    try:
        document = weasyprint.HTML(
            string=html,
            base_url=str(folder) + "/",
            url_fetcher=_url_fetcher(folder),
            media_type="print",
        )
        document.write_pdf(target, pdf_variant=PDFA_VARIANT if pdfa else None)
    except fatal as error:
        cause = error.__cause__
        if isinstance(cause, ReportError):
            raise cause from None
        raise ReportError(str(error)) from error
    except OSError as error:
        raise ReportError(f"cannot write {target}: {error.strerror or error}") from None
    return target


def board_pdf(
    assessment: Assessment,
    path: str | Path,
    *,
    case: Case | None = None,
    generated_at: dt.datetime | None = None,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
    pdfa: bool = True,
) -> Path:
    """Write the tumour-board summary of ``assessment`` as a PDF.

    Parameters are those of :func:`netlm.report.html.render_board_html`, and
    ``pdfa`` (PDF/A-3b, default) of :func:`html_to_pdf`; returns ``path``.
    """
    html = render_board_html(
        assessment,
        case=case,
        generated_at=generated_at,
        approved_by=approved_by,
        approved_at=approved_at,
    )
    return html_to_pdf(html, path, pdfa=pdfa)


def plan_pdf(
    result: PlanResult,
    path: str | Path,
    *,
    plan: Plan | None = None,
    dvh_curves: Sequence[DvhCurve] | None = None,
    approved_by: str | None = None,
    generated_at: dt.datetime | None = None,
    approved_at: dt.datetime | None = None,
    pdfa: bool = True,
) -> Path:
    """Write the radioembolization dosimetry report of ``result`` as a PDF.

    Parameters are those of :func:`netlm.report.html.render_plan_html`, and
    ``pdfa`` (PDF/A-3b, default) of :func:`html_to_pdf`; returns ``path``.
    """
    html = render_plan_html(
        result,
        plan=plan,
        dvh_curves=dvh_curves,
        approved_by=approved_by,
        generated_at=generated_at,
        approved_at=approved_at,
    )
    return html_to_pdf(html, path, pdfa=pdfa)


def voxel_dose_pdf(
    result: DoseResult,
    path: str | Path,
    *,
    patient_id: str | None = None,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
    generated_at: dt.datetime | None = None,
    pdfa: bool = True,
) -> Path:
    """Write the voxel dosimetry report of ``result`` (:func:`netlm.workflows.dose.compute_dose`).

    Parameters are those of :func:`netlm.report.imaging.render_voxel_dose_html`,
    and ``pdfa`` (PDF/A-3b, default) of :func:`html_to_pdf`; returns ``path``.
    """
    from netlm.report.imaging import render_voxel_dose_html

    html = render_voxel_dose_html(
        result,
        patient_id=patient_id,
        approved_by=approved_by,
        approved_at=approved_at,
        generated_at=generated_at,
    )
    return html_to_pdf(html, path, pdfa=pdfa)


def response_pdf(
    report: ResponseReport,
    path: str | Path,
    *,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
    generated_at: dt.datetime | None = None,
    pdfa: bool = True,
) -> Path:
    """Write the response assessment ``report`` (:func:`netlm.response.report.assess_response`).

    Parameters are those of :func:`netlm.report.imaging.render_response_html`,
    and ``pdfa`` (PDF/A-3b, default) of :func:`html_to_pdf`; returns ``path``.
    """
    from netlm.report.imaging import render_response_html

    html = render_response_html(
        report, approved_by=approved_by, approved_at=approved_at, generated_at=generated_at
    )
    return html_to_pdf(html, path, pdfa=pdfa)
