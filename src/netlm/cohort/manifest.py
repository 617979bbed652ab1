"""The cohort manifest, ``netlm/cohort-manifest/v1``: which files belong to which patient.

A manifest lists one row per patient: an id, the case file, and optionally a
radioembolization plan, a response file, an activity image (90Y PET/SPECT or
99mTc-MAA SPECT), masks (one binary mask file per volume of interest) and a CT.
Paths are relative to the manifest file (absolute paths are kept as given).

Two spellings of the same content are read:

YAML (or JSON)::

    schema: netlm/cohort-manifest/v1
    patients:
      - patient_id: P001
        case: cases/P001.yaml
        plan: plans/P001.yaml            # optional
        response: responses/P001.yaml    # optional
        activity_image: images/P001-activity.nii.gz
        masks: {liver: images/P001-liver.nii.gz, tumour: images/P001-tumour.nii.gz}
        ct: images/P001-ct.nii.gz

CSV (a header row, then one row per patient; empty cells are absent fields;
``masks`` is ``name=path`` pairs separated by ``;``; lines starting with ``#``
are comments)::

    patient_id,case,plan,response,activity_image,masks,ct
    P001,cases/P001.yaml,plans/P001.yaml,,,,

A malformed manifest raises :class:`ManifestError`, one problem per row and
field: ``patients[3].case`` in YAML (0-based, like every netlm field path) and
``line 5.case`` in CSV (the line number an editor shows).  Whether the files
exist is checked only when asked (``check_files=True``): in a cohort run a
missing file fails that patient, not the whole run.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from netlm.documents import decode, format_for, parse_document, read_bytes
from netlm.errors import InputError

MANIFEST_SCHEMA: Final = "netlm/cohort-manifest/v1"

#: Manifest columns in file order; ``patient_id`` and ``case`` are required.
COLUMNS: Final[tuple[str, ...]] = (
    "patient_id",
    "case",
    "plan",
    "response",
    "activity_image",
    "masks",
    "ct",
)
#: The single-path file fields of a row (``masks`` is a mapping of paths).
FILE_FIELDS: Final[tuple[str, ...]] = ("case", "plan", "response", "activity_image", "ct")

_MASK_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_MAX_ID: Final = 128


class ManifestError(InputError):
    """A cohort manifest (``netlm/cohort-manifest/v1``) is malformed."""

    what = "cohort manifest"


@dataclass(frozen=True)
class PatientEntry:
    """One patient of a cohort: absolute paths of the patient's input files.

    Attributes
    ----------
    patient_id
        The patient's id in the cohort (unique within the manifest).
    case
        The case file (``netlm/case/v1``).
    plan, response, activity_image, ct
        Optional files (``netlm/sirt-plan/v1``, ``netlm/response/v1``, images).
    masks
        Volume-of-interest name to binary mask file, in manifest order.
    row
        Where the row is in the manifest (``patients[3]`` or ``line 5``), for messages.
    """

    patient_id: str
    case: Path
    plan: Path | None = None
    response: Path | None = None
    activity_image: Path | None = None
    masks: tuple[tuple[str, Path], ...] = ()
    ct: Path | None = None
    row: str = ""

    def files(self) -> Iterator[tuple[str, Path]]:
        """Every input file as ``(field, path)``; masks as ``masks.<name>``."""
        for name in FILE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                yield name, value
        for voi, path in self.masks:
            yield f"masks.{voi}", path

    def path_of(self, name: str) -> Path | None:
        """The path of field ``name`` (``case``, ``ct``, ``masks.liver`` ...), or None."""
        if name.startswith("masks."):
            return dict(self.masks).get(name.removeprefix("masks."))
        if name not in FILE_FIELDS:
            raise KeyError(name)
        value: Path | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class Manifest:
    """A validated cohort manifest.

    Attributes
    ----------
    patients
        The rows, in file order.
    source
        The manifest file, when it was read from one.
    """

    patients: tuple[PatientEntry, ...]
    source: Path | None = None
    name: str | None = field(default=None)

    def __len__(self) -> int:
        return len(self.patients)

    def __iter__(self) -> Iterator[PatientEntry]:
        return iter(self.patients)

    def patient(self, patient_id: str) -> PatientEntry:
        """The row of ``patient_id``.

        Raises
        ------
        KeyError
            If the manifest has no such patient.
        """
        for p in self.patients:
            if p.patient_id == patient_id:
                return p
        raise KeyError(patient_id)

    def missing_files(self) -> list[tuple[str, str]]:
        """``(row.field, message)`` for every listed file that is not a readable file."""
        problems: list[tuple[str, str]] = []
        for p in self.patients:
            for name, path in p.files():
                if not path.is_file():
                    problems.append(
                        (f"{p.row}.{name}", f"patient {p.patient_id}: no such file {path}")
                    )
        return problems


# ------------------------------------------------------------------------- reading
def _as_text(value: object, where: str, problems: list[tuple[str, str]]) -> str | None:
    """A non-blank string field, or None when absent/empty; records a problem otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.append((where, f"must be a text, not {type(value).__name__}"))
        return None
    text = str(value)
    if not text.strip():
        return None
    if text != text.strip():
        problems.append((where, f"has leading or trailing spaces: {text!r}"))
        return None
    return text


def _resolve(base: Path, text: str) -> Path:
    p = Path(text)
    return p if p.is_absolute() else base / p


def _masks(
    value: object, where: str, base: Path, problems: list[tuple[str, str]]
) -> tuple[tuple[str, Path], ...]:
    pairs: list[tuple[str, object]] = []
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    if isinstance(value, str):
        for item in value.split(";"):
            if not item.strip():
                continue
            name, sep, path = item.partition("=")
            if not sep:
                problems.append((where, f"{item.strip()!r} is not name=path"))
                continue
            pairs.append((name.strip(), path.strip()))
    elif isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    else:
        problems.append(
            (
                where,
                f"must be a mapping of name to path (or name=path;...), not {type(value).__name__}",
            )
        )
        return ()
    out: list[tuple[str, Path]] = []
    for name, raw in pairs:
        if not _MASK_NAME.match(name):
            problems.append(
                (f"{where}.{name}", "mask names start with a letter: letters, digits, _ . -")
            )
            continue
        text = _as_text(raw, f"{where}.{name}", problems)
        if text is None:
            problems.append((f"{where}.{name}", "needs a path"))
            continue
        if name in dict(out):
            problems.append((f"{where}.{name}", "mask name repeated"))
            continue
        out.append((name, _resolve(base, text)))
    return tuple(out)


def _entry(
    row: Mapping[str, object], where: str, base: Path, problems: list[tuple[str, str]]
) -> PatientEntry | None:
    before = len(problems)
    unknown = [k for k in row if k not in COLUMNS]
    for k in unknown:
        problems.append((f"{where}.{k}", f"unknown field (use {', '.join(COLUMNS)})"))
    pid = _as_text(row.get("patient_id"), f"{where}.patient_id", problems)
    if pid is None and len(problems) == before:
        problems.append((f"{where}.patient_id", "is required"))
    elif pid is not None and (
        len(pid) > _MAX_ID or any(not ch.isprintable() for ch in pid) or "," in pid
    ):
        problems.append(
            (f"{where}.patient_id", f"must be 1..{_MAX_ID} printable characters without commas")
        )
        pid = None
    paths: dict[str, Path | None] = {}
    for name in FILE_FIELDS:
        text = _as_text(row.get(name), f"{where}.{name}", problems)
        paths[name] = None if text is None else _resolve(base, text)
    if paths["case"] is None and not any(p[0] == f"{where}.case" for p in problems):
        problems.append((f"{where}.case", f"is required (patient {pid})" if pid else "is required"))
    masks = _masks(row.get("masks"), f"{where}.masks", base, problems)
    if len(problems) > before or pid is None or paths["case"] is None:
        return None
    return PatientEntry(
        patient_id=pid,
        case=paths["case"],
        plan=paths["plan"],
        response=paths["response"],
        activity_image=paths["activity_image"],
        masks=masks,
        ct=paths["ct"],
        row=where,
    )


def _check_unique(entries: Sequence[PatientEntry], problems: list[tuple[str, str]]) -> None:
    first: dict[str, str] = {}
    for e in entries:
        if e.patient_id in first:
            problems.append(
                (
                    f"{e.row}.patient_id",
                    f"patient {e.patient_id} is listed twice (first at {first[e.patient_id]})",
                )
            )
        else:
            first[e.patient_id] = e.row


def manifest_from_mapping(data: object, *, base_dir: str | Path) -> Manifest:
    """Validate a parsed YAML/JSON manifest; relative paths resolve against ``base_dir``.

    Raises
    ------
    ManifestError
        With one ``(patients[i].field, message)`` per problem.

    Examples
    --------
    >>> m = manifest_from_mapping(
    ...     {"schema": "netlm/cohort-manifest/v1",
    ...      "patients": [{"patient_id": "P1", "case": "cases/P1.yaml"}]},
    ...     base_dir="/data/cohort")
    >>> m.patients[0].case.as_posix()
    '/data/cohort/cases/P1.yaml'
    >>> manifest_from_mapping(
    ...     {"schema": "netlm/cohort-manifest/v1", "patients": [{"patient_id": "P1"}]},
    ...     base_dir=".")
    Traceback (most recent call last):
    ...
    netlm.cohort.manifest.ManifestError: invalid cohort manifest: patients[0].case: is required...
    """
    base = Path(base_dir)
    if not isinstance(data, Mapping):
        raise ManifestError([("", f"a manifest must be a mapping, not {type(data).__name__}")])
    if data.get("schema") != MANIFEST_SCHEMA:
        raise ManifestError([("schema", f"must be {MANIFEST_SCHEMA!r}")])
    problems: list[tuple[str, str]] = []
    for k in data:
        if k not in ("schema", "name", "patients"):
            problems.append((str(k), "unknown field (use schema, name, patients)"))
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        problems.append(("name", "must be a text"))
    rows = data.get("patients")
    if not isinstance(rows, list) or not rows:
        problems.append(("patients", "give a list of at least one patient"))
        raise ManifestError(problems)
    entries: list[PatientEntry] = []
    for i, row in enumerate(rows):
        where = f"patients[{i}]"
        if not isinstance(row, Mapping):
            problems.append((where, f"must be a mapping, not {type(row).__name__}"))
            continue
        entry = _entry(row, where, base, problems)
        if entry is not None:
            entries.append(entry)
    _check_unique(entries, problems)
    if problems:
        raise ManifestError(problems)
    return Manifest(patients=tuple(entries), name=name if isinstance(name, str) else None)


def parse_manifest_csv(text: str, *, base_dir: str | Path) -> Manifest:
    """Validate a CSV manifest; relative paths resolve against ``base_dir``.

    Raises
    ------
    ManifestError
        With one ``(line N.field, message)`` per problem.

    Examples
    --------
    >>> m = parse_manifest_csv(
    ...     "patient_id,case,masks\\nP1,c/P1.yaml,liver=m/P1-liver.nii.gz\\n", base_dir="/d")
    >>> m.patients[0].masks[0][0], m.patients[0].masks[0][1].as_posix()
    ('liver', '/d/m/P1-liver.nii.gz')
    """
    base = Path(base_dir)
    # Comment lines become empty lines, so that reader.line_num stays the file's line.
    cleaned = "\n".join("" if line.lstrip().startswith("#") else line for line in text.splitlines())
    reader = csv.reader(io.StringIO(cleaned))
    records: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ManifestError([(f"line {reader.line_num}", f"not valid CSV: {exc}")]) from None
    if not records:
        raise ManifestError([("", "the CSV manifest is empty (expected a header row)")])
    header_line, header = records[0][0], [h.strip() for h in records[0][1]]
    problems: list[tuple[str, str]] = []
    for h in header:
        if h not in COLUMNS:
            problems.append(
                (f"line {header_line}.{h}", f"unknown column (use {', '.join(COLUMNS)})")
            )
    for required in ("patient_id", "case"):
        if required not in header:
            problems.append((f"line {header_line}", f"the header needs a {required} column"))
    for h in sorted({h for h in header if header.count(h) > 1}):
        problems.append((f"line {header_line}.{h}", "column repeated"))
    if problems:
        raise ManifestError(problems)
    entries: list[PatientEntry] = []
    for line_no, cells in records[1:]:
        where = f"line {line_no}"
        if len(cells) != len(header):
            problems.append((where, f"has {len(cells)} cells, the header {len(header)}"))
            continue
        row = {h: (c if c.strip() else None) for h, c in zip(header, cells, strict=True)}
        entry = _entry(row, where, base, problems)
        if entry is not None:
            entries.append(entry)
    if not entries and not problems:
        problems.append(("", "the CSV manifest lists no patient"))
    _check_unique(entries, problems)
    if problems:
        raise ManifestError(problems)
    return Manifest(patients=tuple(entries))


def load_manifest(path: str | Path, *, check_files: bool = False) -> Manifest:
    """Read a manifest: ``.csv`` is CSV, ``.json`` JSON, anything else YAML.

    Parameters
    ----------
    path
        The manifest file; relative paths in it resolve against its folder.
    check_files
        Also require every listed file to exist (a problem per missing file).

    Raises
    ------
    ManifestError
        If the file cannot be read or is malformed.
    """
    p = Path(path)
    raw = read_bytes(p, error=ManifestError)
    base = p.parent.resolve()
    if p.suffix.lower() == ".csv":
        manifest = parse_manifest_csv(decode(raw, error=ManifestError), base_dir=base)
    else:
        data = parse_document(raw, format=format_for(p), error=ManifestError)
        manifest = manifest_from_mapping(data, base_dir=base)
    manifest = Manifest(patients=manifest.patients, source=p.resolve(), name=manifest.name)
    if check_files:
        missing = manifest.missing_files()
        if missing:
            raise ManifestError(missing)
    return manifest


# ------------------------------------------------------------------------- writing
def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # pragma: no cover - another drive on Windows
        return path.as_posix()


def manifest_rows(manifest: Manifest, base_dir: str | Path) -> list[dict[str, Any]]:
    """The manifest as plain rows with paths relative to ``base_dir`` (absent fields left out)."""
    base = Path(base_dir).resolve()
    rows: list[dict[str, Any]] = []
    for p in manifest.patients:
        row: dict[str, Any] = {"patient_id": p.patient_id}
        for name in FILE_FIELDS:
            value = getattr(p, name)
            if value is not None:
                row[name] = _relative(value, base)
        if p.masks:
            row["masks"] = {name: _relative(path, base) for name, path in p.masks}
        rows.append({k: row[k] for k in COLUMNS if k in row})
    return rows


def write_manifest(
    manifest: Manifest, path: str | Path, *, format: Literal["yaml", "csv"] | None = None
) -> Path:
    """Write ``manifest`` to ``path`` with paths relative to its folder.

    The format follows the suffix (``.csv`` is CSV, anything else YAML) unless
    ``format`` is given.  The output is deterministic: the same manifest gives
    the same bytes.
    """
    p = Path(path)
    fmt = format or ("csv" if p.suffix.lower() == ".csv" else "yaml")
    rows = manifest_rows(manifest, p.parent)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            masks = row.get("masks", {})
            cells = dict(row, masks=";".join(f"{k}={v}" for k, v in masks.items()))
            writer.writerow([cells.get(c, "") for c in COLUMNS])
        text = buffer.getvalue()
    else:
        doc: dict[str, Any] = {"schema": MANIFEST_SCHEMA}
        if manifest.name:
            doc["name"] = manifest.name
        doc["patients"] = rows
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p
