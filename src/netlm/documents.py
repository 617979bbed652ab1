"""The one hardened reader for every document a user hands netlm.

Case files, plan files, response files, rule profiles and cohort manifests all
arrive as YAML or JSON text.  This module turns that text into plain Python
data (dicts, lists, strings, numbers, dates) or refuses it with an
:class:`~netlm.errors.InputError` whose problems name the line and, where one
is known, the field.  Whatever the input, the caller gets data or that error:
never a traceback, never a silently different document.

What is refused, and why
------------------------
* **Duplicate keys** (YAML and JSON).  Both parsers keep the last value
  silently, so a second ``biliary_intervention: none`` would erase a
  bilioenteric anastomosis.  The error names the key and both lines.
* **YAML tags** (``!!str``, ``!!python/object``, ``!custom``), **merge keys**
  (``<<``) and **sexagesimal numbers** (``1:30`` is 90 in YAML 1.1): each makes
  the value differ from what the text shows.  Only plain YAML values are read:
  text, numbers, booleans, null and dates.
* **Alias bombs**: at most :data:`MAX_ALIASES` aliases, and at most
  :data:`MAX_NODES` values once aliases are expanded; an alias to a node that
  contains it (a cycle) is refused.  Memory stays bounded by the file size.
* **Deep nesting** beyond :data:`MAX_DEPTH` levels, checked while reading, so
  neither the parser nor later validation can overflow the stack.
* **Large files** over :data:`MAX_DOCUMENT_BYTES`, refused before they are read
  in full; **non-UTF-8** bytes; **several YAML documents** in one file; empty
  JSON; JSON numbers beyond the float range.  (An
  empty YAML document reads as ``None``: each loader says what it expected.)

The reader only parses; what the data means is for the document's own loader
(``netlm.case.io``, ``netlm.sirt.plan``, ...), which is also where a wrong type
for a field is reported.

Examples
--------
>>> parse_document("patient: {id: A1, ecog: 1}")
{'patient': {'id': 'A1', 'ecog': 1}}
>>> parse_document("history:\\n  biliary_intervention: stent\\n  biliary_intervention: none\\n")
Traceback (most recent call last):
...
netlm.errors.DocumentError: invalid document: history.biliary_intervention: duplicate key \
'biliary_intervention' at line 3 (first given at line 2)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from json import decoder as _json_decoder
from json.decoder import JSONDecodeError
from pathlib import Path
from typing import IO, Any, Final, Literal, NoReturn

import yaml

from netlm.errors import DocumentError, InputError
from netlm.validation import field_path, short_repr

#: Largest document accepted, in bytes (4 MiB).  A case file is a few kB; the
#: largest real documents, cohort manifests, stay well below this.
MAX_DOCUMENT_BYTES: Final[int] = 4 * 1024 * 1024

#: Deepest nesting of mappings and lists accepted.  netlm's documents nest at
#: most about six levels deep.
MAX_DEPTH: Final[int] = 64

#: Most YAML aliases (``*name``) one document may use.
MAX_ALIASES: Final[int] = 100

#: Most values one document may hold once YAML aliases are expanded.
MAX_NODES: Final[int] = 250_000

Format = Literal["yaml", "json"]

Problems = list[tuple[str, str]]
ErrorFactory = Callable[[Problems], InputError]

_LOADER: Final[type[yaml.SafeLoader]] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The standard library's JSON string reader (C when available); not in typeshed.
_scanstring: Final[Callable[[str, int, bool], tuple[str, int]]] = _json_decoder.scanstring  # type: ignore[attr-defined]

_TAG = "tag:yaml.org,2002:"
#: The scalar kinds a document may hold (plain YAML resolves to these).
_SCALAR_TAGS: Final[dict[str, str]] = {
    _TAG + "null": "null",
    _TAG + "bool": "boolean",
    _TAG + "int": "integer",
    _TAG + "float": "number",
    _TAG + "str": "text",
    _TAG + "timestamp": "date",
}


def format_for(path: str | Path) -> Format:
    """The format a file's name implies: ``.json`` is JSON, anything else YAML."""
    return "json" if Path(path).suffix.lower() == ".json" else "yaml"


# --------------------------------------------------------------------- reading bytes
def read_bytes(
    path: str | Path, *, error: ErrorFactory = DocumentError, limit: int = MAX_DOCUMENT_BYTES
) -> bytes:
    """Read a file, refusing one larger than ``limit`` bytes without reading it all.

    Raises
    ------
    InputError
        (of the type ``error`` makes) if the file cannot be read or is too large.
    """
    p = Path(path)
    try:
        with p.open("rb") as handle:
            return read_stream(handle, error=error, limit=limit)
    except OSError as exc:
        raise error([("", f"cannot read {p}: {exc.strerror or exc}")]) from None


def read_stream(
    stream: IO[bytes], *, error: ErrorFactory = DocumentError, limit: int = MAX_DOCUMENT_BYTES
) -> bytes:
    """Read a binary stream (e.g. stdin) up to ``limit`` bytes; more is an error."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise error([("", _too_large(limit))])
    return data


def _too_large(limit: int) -> str:
    return f"the document is larger than {limit // (1024 * 1024)} MiB ({limit} bytes), refused"


def decode(data: str | bytes, *, error: ErrorFactory = DocumentError) -> str:
    """UTF-8 text of ``data`` (a leading byte-order mark is dropped).

    Raises
    ------
    InputError
        If the bytes are not UTF-8 (naming the line and byte) or the text is
        larger than :data:`MAX_DOCUMENT_BYTES`.
    """
    if isinstance(data, bytes):
        if len(data) > MAX_DOCUMENT_BYTES:
            raise error([("", _too_large(MAX_DOCUMENT_BYTES))])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise error(
                [("", f"line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})")]
            ) from None
    else:
        if len(data) > MAX_DOCUMENT_BYTES:  # characters: at least as many bytes
            raise error([("", _too_large(MAX_DOCUMENT_BYTES))])
        text = data
    return text[1:] if text.startswith("\ufeff") else text


# --------------------------------------------------------------------- entry points
def parse_document(
    data: str | bytes, *, format: Format = "yaml", error: ErrorFactory = DocumentError
) -> Any:
    """Parse one YAML or JSON document into plain Python data.

    Parameters
    ----------
    data
        The document, as text or as UTF-8 bytes.
    format
        ``"yaml"`` or ``"json"``.  JSON is parsed by a JSON parser so that its
        errors point at JSON positions.
    error
        Makes the exception raised (``CaseError``, ``PlanError``...) from a list
        of ``(field path, message)`` problems.

    Raises
    ------
    InputError
        Of the type ``error`` makes, for anything listed in the module docstring.
    """
    text = decode(data, error=error)
    try:
        if format == "json":
            value = _JsonReader(text).read()
        elif format == "yaml":
            value = _read_yaml(text)
        else:
            raise DocumentError([("", f"unknown format {format!r} (use 'yaml' or 'json')")])
    except DocumentError as exc:
        if type(exc) is error:
            raise
        raise error(exc.problems) from None
    return value


def load_document(path: str | Path, *, error: ErrorFactory = DocumentError) -> Any:
    """Read and parse a file; ``.json`` is JSON, anything else YAML."""
    return parse_document(read_bytes(path, error=error), format=format_for(path), error=error)


def _fail(line: int | None, message: str, path: tuple[int | str, ...] = ()) -> NoReturn:
    where = f"line {line}: " if line is not None else ""
    raise DocumentError([(field_path(path), where + message)])


def _shown_key(key: object) -> str:
    return short_repr(key) or f"a long {type(key).__name__}"


# --------------------------------------------------------------------- YAML
@dataclass
class _Frame:
    """A mapping or list being built."""

    value: dict[Any, Any] | list[Any]
    path: tuple[int | str, ...]
    anchor: str | None
    size: int = 1
    key: Any = None
    has_key: bool = False
    key_lines: dict[Any, int] = field(default_factory=dict)


@dataclass
class _YamlState:
    stack: list[_Frame] = field(default_factory=list)
    anchors: dict[str, tuple[Any, int, bool]] = field(default_factory=dict)
    open_anchors: set[str] = field(default_factory=set)
    nodes: int = 0
    aliases: int = 0
    documents: int = 0
    result: Any = None


_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def _read_yaml(text: str) -> Any:
    loader: Any = _LOADER(text)  # PyYAML's classes are untyped
    state = _YamlState()
    try:
        while loader.check_event():
            _on_event(loader, state, loader.get_event())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        if mark is not None:
            _fail(mark.line + 1, f"not valid YAML, {what} (column {mark.column + 1})")
        _fail(None, f"not valid YAML, {what}")
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        _fail(line, f"not valid YAML, character {exc.character!r} is not allowed")
    except yaml.YAMLError as exc:
        _fail(None, f"not valid YAML, {exc}")
    finally:
        loader.dispose()
    return state.result  # None for an empty document: the loaders say what they expected


def _on_event(loader: Any, state: _YamlState, event: yaml.Event) -> None:
    if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
        return
    line = event.start_mark.line + 1 if event.start_mark is not None else 0
    if isinstance(event, yaml.DocumentStartEvent):
        state.documents += 1
        if state.documents > 1:
            _fail(line, "not valid YAML here, a second document ('---'); a file holds exactly one")
        return
    path = _child_path(state)
    if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and event.tag is not None:
        shown = "!!" + event.tag[len(_TAG) :] if event.tag.startswith(_TAG) else event.tag
        _fail(
            line,
            f"not valid YAML here, tags such as {shown!r} are not accepted; write the plain value",
            path,
        )
    if isinstance(event, yaml.AliasEvent):
        state.aliases += 1
        if state.aliases > MAX_ALIASES:
            _fail(line, f"more than {MAX_ALIASES} YAML aliases (*name); refused", path)
        name = event.anchor
        if name in state.open_anchors:
            _fail(
                line,
                f"not valid YAML here, alias *{name} refers to a node that contains it (a cycle)",
                path,
            )
        if name not in state.anchors:
            _fail(
                line, f"not valid YAML, alias *{name} refers to no anchor (&{name}) before it", path
            )
        value, size, collection = state.anchors[name]
        _count(state, size, line)
        _add(state, value, size, line, collection=collection)
    elif isinstance(event, yaml.ScalarEvent):
        _anchor(state, event.anchor, line, path)
        _count(state, 1, line)
        value = _scalar(loader, event, line, path)
        if event.anchor is not None:
            state.anchors[event.anchor] = (value, 1, False)
        _add(state, value, 1, line, collection=False)
    elif isinstance(event, yaml.CollectionStartEvent):
        if state.stack and isinstance(state.stack[-1].value, dict) and not state.stack[-1].has_key:
            _fail(
                line, "a key must be a plain value (text or a number), not a list or mapping", path
            )
        if len(state.stack) >= MAX_DEPTH:
            _fail(line, f"nested more than {MAX_DEPTH} levels deep; refused")
        _anchor(state, event.anchor, line, path)
        _count(state, 1, line)
        container: dict[Any, Any] | list[Any] = (
            {} if isinstance(event, yaml.MappingStartEvent) else []
        )
        state.stack.append(_Frame(value=container, path=path, anchor=event.anchor))
        if event.anchor is not None:
            state.open_anchors.add(event.anchor)
    elif isinstance(event, yaml.CollectionEndEvent):
        frame = state.stack.pop()
        if frame.anchor is not None:
            state.open_anchors.discard(frame.anchor)
            state.anchors[frame.anchor] = (frame.value, frame.size, True)
        _add(state, frame.value, frame.size, line, collection=True)


def _child_path(state: _YamlState) -> tuple[int | str, ...]:
    """Field path of the node that comes next."""
    if not state.stack:
        return ()
    top = state.stack[-1]
    if isinstance(top.value, list):
        return (*top.path, len(top.value))
    if top.has_key:
        return (*top.path, top.key if isinstance(top.key, (int, str)) else str(top.key))
    return top.path


def _scalar(loader: Any, event: Any, line: int, path: tuple[int | str, ...]) -> Any:
    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == _TAG + "str":
        return event.value
    if tag == _TAG + "merge":
        _fail(
            line,
            "not valid YAML here, merge keys ('<<') are not accepted; write the fields out",
            path,
        )
    kind = _SCALAR_TAGS.get(tag)
    if kind is None:
        _fail(line, f"{event.value!r} is not a plain value (resolves to {tag}); quote it", path)
    if kind in {"integer", "number"} and _SEXAGESIMAL.match(event.value.replace(" ", "")):
        _fail(
            line,
            f"not valid YAML here, {event.value!r} is a base-60 number in YAML 1.1; "
            "quote it if it is text",
            path,
        )
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        return loader.yaml_constructors[tag](loader, node)
    except (ValueError, TypeError, LookupError, AttributeError, OverflowError, yaml.YAMLError):
        shown = short_repr(event.value) or "the value"
        _fail(line, f"cannot read {shown} as a {kind}", path)


def _count(state: _YamlState, size: int, line: int) -> None:
    """Count ``size`` more values (an alias counts every value it stands for)."""
    state.nodes += size
    if state.nodes > MAX_NODES:
        _fail(line, f"more than {MAX_NODES} values once aliases are expanded; refused")


def _anchor(state: _YamlState, name: str | None, line: int, path: tuple[int | str, ...]) -> None:
    if name is not None and (name in state.anchors or name in state.open_anchors):
        _fail(line, f"not valid YAML here, anchor &{name} is defined twice", path)


def _add(state: _YamlState, value: Any, size: int, line: int, *, collection: bool) -> None:
    """Put a finished value (``size`` values in all) into the mapping or list being built."""
    if not state.stack:
        state.result = value
        return
    top = state.stack[-1]
    top.size += size
    if isinstance(top.value, list):
        top.value.append(value)
        return
    if top.has_key:
        top.value[top.key] = value
        top.key, top.has_key = None, False
        return
    if collection:
        _fail(
            line,
            "a key must be a plain value (text or a number), not a list or mapping",
            top.path,
        )
    try:
        first = top.key_lines.get(value)
    except TypeError:  # pragma: no cover - scalars are hashable
        _fail(line, "a key must be a plain value (text or a number)", top.path)
    key_path = (*top.path, value if isinstance(value, (int, str)) else str(value))
    if first is not None:
        _fail(
            None,
            f"duplicate key {_shown_key(value)} at line {line} (first given at line {first})",
            key_path,
        )
    top.key_lines[value] = line
    top.key, top.has_key = value, True


# --------------------------------------------------------------------- JSON
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")


class _JsonReader:
    """A strict JSON reader (RFC 8259) that knows where each key is."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.nodes = 0

    def read(self) -> Any:
        if not self.text.strip():
            _fail(None, "not valid JSON, the document is empty")
        value, end = self._value(self._ws(0), (), 0)
        end = self._ws(end)
        if end != len(self.text):
            self._fail_at(end, "extra data after the JSON document")
        return value

    def _line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def _fail_at(self, pos: int, message: str, path: tuple[int | str, ...] = ()) -> NoReturn:
        column = pos - self.text.rfind("\n", 0, pos)
        _fail(self._line(pos), f"not valid JSON, {message} (column {column})", path)

    def _ws(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        return match.end() if match else pos

    def _string(self, pos: int, path: tuple[int | str, ...]) -> tuple[str, int]:
        try:
            return _scanstring(self.text, pos + 1, True)
        except JSONDecodeError as exc:
            self._fail_at(exc.pos, exc.msg.lower(), path)

    def _value(self, pos: int, path: tuple[int | str, ...], depth: int) -> tuple[Any, int]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self._fail_at(pos, f"more than {MAX_NODES} values; refused", path)
        text = self.text
        char = text[pos : pos + 1]
        if char == '"':
            return self._string(pos, path)
        if char in {"{", "["}:
            if depth >= MAX_DEPTH:
                _fail(self._line(pos), f"nested more than {MAX_DEPTH} levels deep; refused")
            if char == "{":
                return self._object(pos, path, depth + 1)
            return self._array(pos, path, depth + 1)
        for literal, value in (("null", None), ("true", True), ("false", False)):
            if text.startswith(literal, pos):
                return value, pos + len(literal)
        match = _NUMBER.match(text, pos)
        if match is not None and match.end() > pos:
            integer, fraction, exponent = match.groups()
            if fraction or exponent:
                number: int | float = float(match.group(0))
                if number in {float("inf"), float("-inf")}:
                    self._fail_at(pos, f"{match.group(0)} is beyond the range of numbers", path)
                return number, match.end()
            try:
                return int(integer), match.end()
            except ValueError:  # more digits than Python converts (4300)
                self._fail_at(pos, "a number with too many digits", path)
        for constant in ("NaN", "Infinity", "-Infinity"):
            # Not JSON, but Python's json reads them; the models refuse them by field.
            if text.startswith(constant, pos):
                return float(constant), pos + len(constant)
        self._fail_at(pos, "expecting a value", path)

    def _object(
        self, pos: int, path: tuple[int | str, ...], depth: int
    ) -> tuple[dict[str, Any], int]:
        text = self.text
        result: dict[str, Any] = {}
        lines: dict[str, int] = {}
        pos = self._ws(pos + 1)
        if text[pos : pos + 1] == "}":
            return result, pos + 1
        while True:
            if text[pos : pos + 1] != '"':
                self._fail_at(pos, "expecting a key in double quotes", path)
            line = self._line(pos)
            key, pos = self._string(pos, path)
            if key in lines:
                _fail(
                    None,
                    f"duplicate key {_shown_key(key)} at line {line} "
                    f"(first given at line {lines[key]})",
                    (*path, key),
                )
            lines[key] = line
            pos = self._ws(pos)
            if text[pos : pos + 1] != ":":
                self._fail_at(pos, "expecting ':' after a key", path)
            value, pos = self._value(self._ws(pos + 1), (*path, key), depth)
            result[key] = value
            pos = self._ws(pos)
            char = text[pos : pos + 1]
            if char == "}":
                return result, pos + 1
            if char != ",":
                self._fail_at(pos, "expecting ',' or '}'", path)
            pos = self._ws(pos + 1)

    def _array(self, pos: int, path: tuple[int | str, ...], depth: int) -> tuple[list[Any], int]:
        text = self.text
        result: list[Any] = []
        pos = self._ws(pos + 1)
        if text[pos : pos + 1] == "]":
            return result, pos + 1
        while True:
            value, pos = self._value(pos, (*path, len(result)), depth)
            result.append(value)
            pos = self._ws(pos)
            char = text[pos : pos + 1]
            if char == "]":
                return result, pos + 1
            if char != ",":
                self._fail_at(pos, "expecting ',' or ']'", path)
            pos = self._ws(pos + 1)
