"""The generic machinery of the web forms: model fields → inputs, form values → document.

:func:`field_input` derives an :class:`Input` from a pydantic field (its
kind, choices and unit); :class:`Row` and :class:`Table` lay inputs out;
:func:`convert` reads one typed value, :func:`get_path`/:func:`set_path`/
:func:`delete_path` address a document by an input's name, and
:func:`place_problems` puts each problem next to its input.
"""

from __future__ import annotations

import datetime as dt
import math
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from netlm.documents import parse_document
from netlm.errors import DocumentError
from netlm.units import units_for

Kind = Literal["text", "int", "float", "bool", "choice", "date", "datetime", "count", "list"]
Problems = list[tuple[str, str]]


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Input:
    """One input of a form, named by its field path in the document (``labs.inr``).

    ``labels`` are the words shown for ``choices`` (the choices themselves by
    default); ``blank`` offers an empty choice (a laboratory unit has none: its
    canonical unit comes first); ``unit`` is shown beside the input; ``label`` is
    the input's accessible name when it is not the first of its row.
    """

    name: str
    kind: Kind
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    labels: tuple[str, ...] = ()
    unit: str = ""
    blank: bool = True
    label: str = ""


@dataclass(frozen=True)
class Row:
    """A labelled line of the form: one input, or a value with its unit and limits."""

    label: str
    inputs: tuple[Input, ...]
    hint: str = ""


@dataclass(frozen=True)
class Column:
    """One column of a table of records (lesions, territories): a field of the record."""

    field: str
    label: str
    input: Input


@dataclass(frozen=True)
class Table:
    """A list of records in the document (``territories``) edited as rows of inputs.

    The input of row ``r`` and column ``c`` is named ``{path}[{r}].{c}``;
    empty rows are skipped, and at most ``max_rows`` rows are read.
    """

    path: str
    columns: tuple[Column, ...]
    max_rows: int = 200

    def name(self, row: int, column: str) -> str:
        """The input name of a cell: the record field's path in the document."""
        return f"{self.path}[{row}].{column}"

    def cell(self, row: int, column: Column) -> Input:
        """The input of a cell (the column's input, named for its row)."""
        return replace(column.input, name=self.name(row, column.field))

    def rows(self, form: Mapping[str, str]) -> int:
        """How many rows a form holds (up to the last row with a value)."""
        rows = 0
        for row in range(self.max_rows):
            if any(form.get(self.name(row, c.field), "").strip() for c in self.columns):
                rows = row + 1
        return rows

    def names(self, rows: int) -> set[str]:
        """Every input name of the first ``rows`` rows."""
        return {self.name(r, c.field) for r in range(rows) for c in self.columns}

    def read(
        self, form: Mapping[str, str], problems: Problems, *, skip: Callable[[dict[str, str]], bool]
    ) -> list[tuple[int, dict[str, Any]]]:
        """(form row, record) of every row that ``skip`` does not skip; bad cells go to
        ``problems`` under their input's name."""
        records: list[tuple[int, dict[str, Any]]] = []
        for row in range(self.rows(form)):
            raw = {c.field: form.get(self.name(row, c.field), "").strip() for c in self.columns}
            if not any(raw.values()) or skip(raw):
                continue
            record: dict[str, Any] = {}
            for column in self.columns:
                text = raw[column.field]
                if not text:
                    continue
                value, error = convert(text, column.input)
                if error is not None:
                    problems.append((self.name(row, column.field), error))
                    continue
                record[column.field] = value
            records.append((row, record))
        return records

    def values(self, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """The form values that show ``records``."""
        return {
            self.name(r, c.field): shown(record.get(c.field))
            for r, record in enumerate(records)
            for c in self.columns
        }

    def fits(self, records: object) -> bool:
        """Whether ``records`` can be shown in the table (else they stay in the YAML box):
        each field a column, each value one input's (a list only in a list column)."""
        kinds = {c.field: c.input.kind for c in self.columns}
        return (
            isinstance(records, list)
            and len(records) <= self.max_rows
            and all(
                isinstance(x, dict)
                and set(x) <= set(kinds)
                and all(
                    flat(v) or (kinds[k] == "list" and isinstance(v, list) and all(map(flat, v)))
                    for k, v in x.items()
                )
                for x in records
            )
        )


def flat(value: object) -> bool:
    """Whether ``value`` fits one input (no list or mapping)."""
    return value is None or isinstance(value, str | int | float | bool | dt.date)


def unwrap(annotation: Any) -> list[Any]:
    """The types of an annotation, without ``None`` (``float | None`` → ``[float]``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for t in typing.get_args(annotation) if t is not type(None) for a in unwrap(t)]
    if typing.get_origin(annotation) is typing.Annotated:
        return unwrap(typing.get_args(annotation)[0])
    return [annotation]


def resolve(model: type[BaseModel], path: str) -> tuple[Any, Any]:
    """(model class, field annotation) of a dotted path in ``model``."""
    node: Any = model
    parts = path.split(".")
    for part in parts[:-1]:
        (node,) = unwrap(node.model_fields[part].annotation)
        if typing.get_origin(node) is tuple:  # a list of records: the record's model
            node = typing.get_args(node)[0]
    return node, node.model_fields[parts[-1]].annotation


#: Units shown for a field, by the end of its name (the project's unit-in-name convention).
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_gy_kg_per_gbq", "Gy·kg/GBq"),
    ("_g_per_ml", "g/mL"),
    ("_ml", "mL"),
    ("_gy", "Gy"),
    ("_gbq", "GBq"),
    ("_kg", "kg"),
    ("_cm", "cm"),
    ("_mm", "mm"),
    ("_h", "h"),
)


def unit_of(name: str) -> str:
    """The unit a field's name states (``whole_liver_volume_ml`` → ``mL``), or ``""``.

    Examples
    --------
    >>> unit_of("territories[0].volume_ml"), unit_of("physics.tissue_density_g_per_ml")
    ('mL', 'g/mL')
    >>> unit_of("lung_shunt_fraction")
    ''
    """
    last = name.rsplit(".", 1)[-1]
    return next((unit for suffix, unit in UNIT_SUFFIXES if last.endswith(suffix)), "")


def words(name: str) -> str:
    """A field name as words (``longest_mm`` → "Longest mm")."""
    return name.replace("_", " ").capitalize()


def labelled(name: str, text: str) -> str:
    """``text`` with the unit of field ``name`` (``"Volume (mL)"``), if it has one."""
    unit = unit_of(name)
    return f"{text} ({unit})" if unit else text


def input_for(annotation: Any, name: str, *, model: Any = None) -> Input:
    """The input of a field with ``annotation``, named ``name``."""
    options = unwrap(annotation)
    last = name.rsplit(".", 1)[-1]
    canonical = getattr(model, "CANONICAL", None)
    if last == "unit" and isinstance(canonical, str):  # a laboratory value's unit
        analyte = getattr(model, "ANALYTE", "")
        units = units_for(analyte) if analyte else frozenset({canonical})
        choices = (canonical, *sorted(units - {canonical}))
        return Input(name, "choice", choices, labels=choices, blank=False)
    if len(options) == 2 and int in options:
        return Input(name, "count", placeholder="number or too_numerous")
    (kind,) = options
    if typing.get_origin(kind) is tuple:
        (item,) = typing.get_args(kind)[:1]
        if typing.get_origin(item) is Literal:
            return Input(name, "list", tuple(str(v) for v in typing.get_args(item)))
        if isinstance(item, type) and issubclass(item, Enum):
            values = tuple(str(m.value) for m in item)
            return Input(name, "list", values, placeholder=f"comma-separated, e.g. {values[0]}")
        return Input(name, "list", placeholder="comma-separated")
    unit = unit_of(name)
    if kind is bool:
        return Input(name, "bool")
    if kind is int:
        return Input(name, "int", unit=unit)
    if kind is float:
        return Input(name, "float", unit=unit)
    if kind is dt.datetime:
        return Input(name, "datetime", placeholder="YYYY-MM-DDTHH:MM+01:00")
    if kind is dt.date:
        return Input(name, "date")
    if isinstance(kind, type) and issubclass(kind, Enum):
        return Input(name, "choice", tuple(str(m.value) for m in kind))
    if typing.get_origin(kind) is Literal:
        return Input(name, "choice", tuple(str(v) for v in typing.get_args(kind)))
    return Input(name, "text", unit=unit)


def field_input(model: type[BaseModel], path: str, name: str | None = None) -> Input:
    """The input of the field at ``path`` in ``model``, named ``name`` (``path`` by default)."""
    owner, annotation = resolve(model, path)
    return input_for(annotation, name or path, model=owner)


def column(model: type[BaseModel], field: str, label: str) -> Column:
    """A table column for ``field`` of the record ``model``."""
    return Column(field, label, field_input(model, field))


# --------------------------------------------------------------------------- documents
def get_path(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted path, making the mappings on the way."""
    *parents, last = path.split(".")
    node = document
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def delete_path(document: dict[str, Any], path: str) -> None:
    """Remove the value at a dotted path, if there is one."""
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(last, None)


def prune(document: Any) -> Any:
    """Drop empty mappings left behind when the form's fields are taken out, and empty
    (``null``) fields, in records of lists too (a stored case's prior treatments).

    Examples
    --------
    >>> prune({"a": {"b": None}, "c": [{"d": None, "e": 1}], "f": 0})
    {'c': [{'e': 1}], 'f': 0}
    """
    if isinstance(document, dict):
        pruned = {k: prune(v) for k, v in document.items()}
        return {k: v for k, v in pruned.items() if v != {} and v is not None}
    if isinstance(document, list):
        return [prune(v) for v in document]
    return document


def shown(value: Any) -> str:
    """A document value as the text of its input."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(shown(v) for v in value)
    return str(value)


def convert(raw: str, item: Input) -> tuple[Any, str | None]:
    """The typed value of a form input, or an error message."""
    if item.kind in ("int", "float", "count"):
        if item.kind == "count" and raw == "too_numerous":
            return raw, None
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            return None, "must be a number" + (" or too_numerous" if item.kind == "count" else "")
        if not math.isfinite(number):
            return None, "must be a finite number"
        if item.kind in ("int", "count"):
            if not number.is_integer():
                return None, "must be a whole number"
            return int(number), None
        return number, None
    if item.kind == "bool":
        if raw not in ("true", "false"):
            return None, "choose yes or no"
        return raw == "true", None
    if item.kind == "choice" and raw not in item.choices:
        return None, f"choose one of {', '.join(item.choices)}"
    if item.kind == "datetime":
        try:
            return dt.datetime.fromisoformat(raw), None
        except ValueError:
            return None, "give the date and time as YYYY-MM-DDTHH:MM with the zone (+01:00)"
    if item.kind == "list":
        words = [w for w in raw.replace(",", " ").split() if w]
        unknown = [w for w in words if item.choices and w not in item.choices]
        if unknown:
            return None, f"{', '.join(unknown)}: choose from {', '.join(item.choices)}"
        return words, None
    return raw, None


def read_extra(text: str, field: str, problems: Problems) -> dict[str, Any]:
    """The mapping typed into a form's YAML box (read by :mod:`netlm.documents`)."""
    if not text.strip():
        return {}
    try:
        loaded = parse_document(text)
    except DocumentError as exc:
        problems += [(field, f"{f}: {m}" if f else m) for f, m in exc.problems]
        return {}
    if isinstance(loaded, dict) and all(isinstance(k, str) for k in loaded):
        return loaded
    if loaded is not None:
        problems.append((field, "must be a mapping of field names to values"))
    return {}


def read_inputs(
    form: Mapping[str, str],
    inputs: Iterable[Input],
    document: dict[str, Any],
    problems: Problems,
) -> None:
    """Put every filled input into ``document`` (replacing what the YAML box said)."""
    for item, value in filled(form, inputs, problems):
        set_path(document, item.name, value)


def filled(
    form: Mapping[str, str], inputs: Iterable[Input], problems: Problems
) -> Iterator[tuple[Input, Any]]:
    """Each filled input of ``inputs`` with its typed value (:func:`convert`); an input
    whose text does not convert is a problem named by the input, and left out."""
    for item in inputs:
        raw = form.get(item.name, "").strip()
        if not raw:
            continue
        value, error = convert(raw, item)
        if error is not None:
            problems.append((item.name, error))
            continue
        yield item, value


def dump_extra(rest: Mapping[str, Any]) -> str:
    """The YAML of what the form does not show (empty when nothing is left)."""
    rest = prune(dict(rest))
    return yaml.safe_dump(rest, sort_keys=False, allow_unicode=True) if rest else ""


def place_problems(
    problems: Iterable[tuple[str, str]], names: set[str]
) -> tuple[dict[str, list[str]], Problems]:
    """Problems by form input (shown next to it) and the rest (shown with the YAML box)."""
    by_field: dict[str, list[str]] = {}
    rest: Problems = []
    for path, message in problems:
        target = path if path in names else None
        if target is None and f"{path}.value" in names:
            target = f"{path}.value"
        if target is None:
            rest.append((path, message))
        else:
            by_field.setdefault(target, []).append(message)
    return by_field, rest


def record_index(path: str, prefix: str) -> tuple[int, str] | None:
    """(index, rest of the path) of ``prefix[index].rest``, or None."""
    if not path.startswith(f"{prefix}["):
        return None
    index, _, rest = path[len(prefix) + 1 :].partition("]")
    if not index.isdigit():
        return None
    return int(index), rest.lstrip(".")


def row_problem(
    problem: tuple[str, str], table: Table, used: Sequence[int], *, path: str | None = None
) -> tuple[str, str] | None:
    """A document problem of a record shown in ``table`` (``path`` is the records' path in the
    document, the table's by default), named by the input of its row and column; None when
    the problem is not about a column of a shown record."""
    found = record_index(problem[0], path or table.path)
    if found is None or found[0] >= len(used):
        return None
    index, rest = found
    field = rest.split("[", 1)[0].split(".", 1)[0]
    if field not in {c.field for c in table.columns}:
        field = table.columns[0].field
    return table.name(used[index], field), problem[1]
