"""Request limits of the web service: body sizes, JSON shape, and error texts without secrets.

:class:`BodyLimitMiddleware` sits in front of every route, so an anonymous
client cannot make the server parse (or keep) more than the limits allow:

- a ``Content-Length`` over the limit is answered ``413`` without parsing the
  body; a body without one (chunked) is counted while it arrives and refused
  as soon as it passes the limit.  Before answering, the rest of an
  over-limit body is read and thrown away while the whole stays within the
  largest body the server accepts anyway (``max(max_body_bytes,
  max_upload_bytes)``; a longer one is not read): a reverse proxy that has
  sent the body then reads the ``413`` instead of a reset connection, which
  nginx turns into ``502 Bad Gateway`` (:func:`drain`);
- JSON bodies (``application/json``) and form posts may hold at most
  ``max_body_bytes`` (1 MiB by default); multipart uploads at most
  ``max_upload_bytes`` (the upload is spooled to disk while it is received);
- an uploaded image is checked against the server's image limits
  (:func:`check_upload`: voxels, decompressed bytes, labels; ``netlm serve
  --max-image-voxels/--max-image-bytes/--max-labels``) before it is recorded,
  and every other image the service reads (the viewer's layers, a dose sent
  to the PACS, a series pulled from it) is read under the same limits
  (:func:`image_reads`, :func:`under_image_limits`), each file checked from its
  header before its pixels are read;
- a JSON body is checked before any route sees it: valid UTF-8 and JSON,
  nested at most :data:`MAX_JSON_DEPTH` deep, numbers finite (``1e999`` and
  ``NaN`` are refused), no lone UTF-16 surrogates (``"\\ud800"``), which no
  database can store.  Each refusal is a short ``4xx`` answer naming the problem.

:func:`scrub` removes database URLs and server file paths from the text of an
error answer.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:  # SimpleITK is imported when an image is first checked
    from netlm.imaging.limits import ImageLimits

#: Largest JSON body or form post accepted by default (bytes).
DEFAULT_MAX_BODY_BYTES = 1024**2
#: Deepest nesting of arrays and objects accepted in a JSON body (a case file needs 6).
MAX_JSON_DEPTH = 32

_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s()<>\"']+")
_PATH = re.compile(r"(?<![\w.:/])(?:/[^\s/'\"<>()\[\]{},;]+){2,}/?")


async def drain(receive: Receive, received: int, bound: int) -> None:
    """Read and discard the rest of a request body while ``received`` stays within ``bound``.

    ``received``: the bytes already read (of a body that has more to come).
    Closing a connection with unread request bytes makes the kernel reset it,
    and a proxy still sending the body (nginx, README "Running the service")
    may then lose the answer and give its client ``502`` instead of the ``413``.
    """
    while received <= bound:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyTooLarge(HTTPException):
    """A request body over its limit (raised while it is being received)."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"request body larger than {limit_bytes} bytes")


def json_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """Whether ``body`` (JSON text) nests arrays and objects deeper than ``max_depth``.

    Strings are skipped, so brackets inside them do not count; nothing is parsed.

    Examples
    --------
    >>> json_depth_exceeds(b'{"a": [1, {"b": "[[[["}]}', 3)
    False
    >>> json_depth_exceeds(b"[[[1]]]", 2)
    True
    """
    depth = 0
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_body_problem(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a JSON request body is refused, or ``None`` when it is acceptable.

    Examples
    --------
    >>> json_body_problem(b'{"value": 1e999}')
    'body: the number 1e999 is out of range'
    >>> json_body_problem(b'{"id": "\\\\ud800"}')
    'body: text with a lone UTF-16 surrogate (\\\\ud800-\\\\udfff) is not accepted'
    >>> json_body_problem(b'{"id": "A1"}') is None
    True
    """
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"body: not UTF-8 (byte {exc.start})"
    if json_depth_exceeds(body, max_depth):
        return f"body: nested deeper than {max_depth} levels"
    try:
        document = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        return f"body: {exc}"
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return r"body: text with a lone UTF-16 surrogate (\ud800-\udfff) is not accepted"
    return None


def scrub(text: str) -> str:
    """``text`` without database URLs and absolute file paths (a path keeps its file name).

    Examples
    --------
    >>> scrub("database error (postgresql://netlm@db.internal/netlm): timeout")
    'database error (<database>): timeout'
    >>> scrub("cannot read /srv/netlm/files/patient-1/ct.nii.gz")
    'cannot read ct.nii.gz'
    """
    text = _URL.sub("<database>", text)
    return _PATH.sub(lambda m: m.group().rstrip("/").rsplit("/", 1)[-1], text)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class BodyLimitMiddleware:
    """Refuse request bodies over their limit, and JSON bodies of a shape no route accepts."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_upload_bytes: int,
        max_json_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_json_depth = max_json_depth
        #: An over-limit body is drained (:func:`drain`) while it stays within this.
        self.drain_bytes = max(max_body_bytes, max_upload_bytes)

    @staticmethod
    def _refuse(scope: Scope, status_code: int, detail: str) -> Response:
        path: str = scope.get("path", "")
        if path.startswith("/api/"):
            return JSONResponse({"detail": detail}, status_code=status_code)
        return PlainTextResponse(detail, status_code=status_code)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = _header(scope, b"content-type") or b""
        multipart = content_type.lower().startswith(b"multipart/")
        limit = self.max_upload_bytes if multipart else self.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await self._refuse(scope, 400, "malformed Content-Length header")(
                    scope, receive, send
                )
                return
            if length > limit:
                if length <= self.drain_bytes:
                    await drain(receive, 0, self.drain_bytes)
                await self._refuse(scope, 413, f"request body larger than {limit} bytes")(
                    scope, receive, send
                )
                return
        if _is_json(content_type):
            await self._json(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await drain(receive, received, self.drain_bytes)
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)

    async def _json(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the whole (bounded) JSON body, check it, then hand it on unchanged."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                if message.get("more_body", False):
                    await drain(receive, received, self.drain_bytes)
                await self._refuse(
                    scope, 413, f"request body larger than {self.max_body_bytes} bytes"
                )(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_body_problem(body, self.max_json_depth)
        if problem is not None:
            await self._refuse(scope, 422, problem)(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


#: Image kinds whose files are label maps (one mask per label): their labels are counted.
LABEL_MAP_KINDS = frozenset({"segmentation", "rtstruct"})


_T = TypeVar("_T")


@contextlib.contextmanager
def image_reads(limits: ImageLimits | None) -> Iterator[ImageLimits]:
    """Image reads in the block under the server's ``limits`` (the defaults when ``None``).

    Every reader of :mod:`netlm.imaging.io` checks a file's header against them
    before reading its pixels.  A file refused by
    :func:`netlm.imaging.limits.check_image_file` for a limit becomes ``413``
    whose detail names the file, the limit and the ``netlm serve`` option that
    sets it; a damaged one stays an :class:`~netlm.imaging.limits.ImageLimitError`
    (``422``).  Yields the limits in force.
    """
    from netlm.imaging.limits import DEFAULT_IMAGE_LIMITS, ImageLimitError, image_limits

    try:
        with image_limits(limits or DEFAULT_IMAGE_LIMITS) as chosen:
            yield chosen
    except ImageLimitError as exc:
        if exc.limit is None:
            raise
        raise HTTPException(413, exc.problems[0][1]) from None


def under_image_limits(limits: ImageLimits | None, work: Callable[[], _T]) -> Callable[[], _T]:
    """``work`` run under :func:`image_reads` in the thread that runs it (a worker thread
    does not inherit the request's context)."""

    def run() -> _T:
        with image_reads(limits):
            return work()

    return run


def check_upload(path: Path, kind: str, limits: ImageLimits | None) -> None:
    """Refuse an uploaded image over ``limits`` (the defaults when ``None``).

    Over a limit: ``413`` whose detail names the file, the limit and the
    ``netlm serve`` option that sets it; a damaged image (truncated, broken
    gzip): :class:`netlm.imaging.limits.ImageLimitError` (``422``, field
    ``file``).  The caller removes the file.
    """
    from netlm.imaging.limits import check_image_file

    with image_reads(limits) as chosen:
        check_image_file(path, chosen, label_map=kind in LABEL_MAP_KINDS)


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "LABEL_MAP_KINDS",
    "MAX_JSON_DEPTH",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "check_upload",
    "drain",
    "image_reads",
    "json_body_problem",
    "json_depth_exceeds",
    "scrub",
    "under_image_limits",
]
