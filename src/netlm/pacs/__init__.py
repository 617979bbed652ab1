"""Exchange with a PACS over DICOMweb (QIDO-RS, WADO-RS, STOW-RS).

:mod:`netlm.pacs.client` wraps ``dicomweb-client``: a :class:`PacsConfig`
(base URL, bearer token or basic authentication, TLS verification) and
:func:`find_studies`, :func:`find_series`, :func:`pull_series` and
:func:`push_files`; :mod:`netlm.pacs.dimse` does the same over DIMSE
(C-FIND, C-MOVE, C-STORE with pynetdicom) for a :class:`~netlm.pacs.dimse.DimseConfig`.
"""

from netlm.pacs.client import (
    PacsConfig,
    PacsError,
    SeriesInfo,
    StudyInfo,
    find_series,
    find_studies,
    pull_series,
    push_files,
)

__all__ = [
    "PacsConfig",
    "PacsError",
    "SeriesInfo",
    "StudyInfo",
    "find_series",
    "find_studies",
    "pull_series",
    "push_files",
]
