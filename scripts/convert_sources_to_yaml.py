"""Convert netlm's Python source records to the YAML under ``src/netlm/evidence/data/``.

Kept for this merge cycle only (issue #13, "Data is data"); delete it once no
branch adds ``_s(...)`` records to ``src/netlm/evidence/sources.py`` any more.

When merging a branch that still adds ``_s(...)`` records to the old
``sources.py`` (a conflict there): keep the new ``sources.py`` (the loader),
then merge that branch's records into the YAML, e.g. for ``main``::

    git show main:src/netlm/evidence/sources.py > /tmp/sources_main.py
    PYTHONPATH=src python scripts/convert_sources_to_yaml.py sources /tmp/sources_main.py
    pytest tests/evidence tests/eligibility/test_profile.py

Usage (from the repository root, with netlm importable)::

    # Merge the records of an old-style sources.py (e.g. another branch's copy)
    # into sources.yaml: new ids are inserted after the record that precedes
    # them in the Python file; an id already in the YAML must have the same
    # content, else the script stops and names it.
    git show h-fhir:src/netlm/evidence/sources.py > /tmp/sources_fhir.py
    python scripts/convert_sources_to_yaml.py sources /tmp/sources_fhir.py

    # Write sources.yaml from scratch from an old-style sources.py (one-off).
    python scripts/convert_sources_to_yaml.py sources --fresh OLD_SOURCES_PY

    # Write outcomes.yaml from an old-style outcomes/evidence_library.py (one-off).
    python scripts/convert_sources_to_yaml.py outcomes OLD_EVIDENCE_LIBRARY_PY

The old files are executed (they are this project's own code), not imported,
so they may be copies taken from any branch.  ``tests/evidence`` checks the
YAML against the records it loads.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import io
import sys
import tokenize
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "netlm" / "evidence" / "data"
SOURCES_YAML = DATA / "sources.yaml"
OUTCOMES_YAML = DATA / "outcomes.yaml"

SOURCES_HEADER = """\
# Every source netlm cites: seed document and section, original reference,
# population and certainty (V seen in the source, S secondary only, U not
# verified).  Read by netlm.evidence.sources; the fields are those of
# netlm.evidence.Source.  Ids are stable: rules and profiles cite them.
schema: netlm/sources/v1
sources:
"""

OUTCOMES_HEADER = """\
# Published outcome figures of liver-directed therapy for NET liver metastases,
# one record per figure and seed, with the seed's own words in `quote` (the
# tests check each quote occurs in the seed text).  Read by
# netlm.outcomes.evidence_library; the fields are those of PublishedOutcome.
# Quotes keep the seed's characters exactly, thin spaces (U+2009) included.
schema: netlm/published-outcomes/v1
outcomes:
"""


def load_old_module(path: Path, name: str) -> ModuleType:
    """Execute an old-style module file under a private name."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _block(record: dict[str, Any]) -> str:
    """One record as a YAML list item (two-space indent under the list key)."""
    text = yaml.safe_dump(
        [record], sort_keys=False, allow_unicode=True, width=96, default_flow_style=False
    )
    return "".join(f"  {line}\n" if line else "\n" for line in text.splitlines())


def _source_fields(source: Any) -> dict[str, Any]:
    data: dict[str, Any] = source.model_dump(mode="json")
    return data


def _old_sources(path: Path) -> tuple[list[Any], dict[int, list[str]]]:
    """The records of an old-style sources.py and the comment lines before each."""
    module = load_old_module(path, "_netlm_old_sources")
    records = list(module._ALL)
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    calls: list[int] = []
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(target, ast.Name) and target.id == "_ALL":
            assert isinstance(node, ast.AnnAssign)
            assert isinstance(node.value, ast.Tuple)
            calls = [element.lineno for element in node.value.elts]
    if len(calls) != len(records):
        raise SystemExit(f"{path}: _ALL holds {len(records)} records but {len(calls)} entries")
    comments: dict[int, list[str]] = {}
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    in_all = [t for t in tokens if t.type == tokenize.COMMENT and calls[0] - 2 <= t.start[0]]
    for token in in_all:
        if token.start[0] > calls[-1]:
            break
        index = next(i for i, line in enumerate(calls) if line > token.start[0])
        comments.setdefault(index, []).append(token.string)
    return records, comments


def fresh_sources(path: Path) -> str:
    """The text of a sources.yaml holding the records of old-style ``path``."""
    records, comments = _old_sources(path)
    out = [SOURCES_HEADER]
    for index, record in enumerate(records):
        out.extend(f"  {c}\n" for c in comments.get(index, ()))
        out.append(_block(_source_fields(record)))
    return "".join(out)


def _split_yaml(text: str) -> tuple[str, list[tuple[str | None, str]]]:
    """Header and ``(id, block text)`` pieces of sources.yaml (comments: id ``None``)."""
    lines = text.splitlines(keepends=True)
    start = lines.index("sources:\n") + 1
    header = "".join(lines[:start])
    pieces: list[tuple[str | None, str]] = []
    for line in lines[start:]:
        if line.startswith("  - id: "):
            pieces.append((str(yaml.safe_load(line[len("  - id: ") :])), line))
        elif line.startswith("  #") or not pieces or pieces[-1][0] is None:
            pieces.append((None, line))
        else:
            key, block = pieces[-1]
            pieces[-1] = (key, block + line)
    return header, pieces


def merge_sources(path: Path, target: Path = SOURCES_YAML) -> str:
    """The text of ``target`` with the records of old-style ``path`` merged in."""
    records, _ = _old_sources(path)
    text = target.read_text(encoding="utf-8")
    header, pieces = _split_yaml(text)
    existing = yaml.safe_load(text)["sources"]
    known = {entry["id"]: entry for entry in existing}
    previous: str | None = None
    added = 0
    for record in records:
        fields = _source_fields(record)
        if fields["id"] in known:
            if known[fields["id"]] != fields:
                raise SystemExit(
                    f"source {fields['id']!r} differs between {path} and {target}: "
                    "resolve it by hand"
                )
        else:
            at = len(pieces)
            if previous is not None:
                at = next(i for i, (key, _) in enumerate(pieces) if key == previous) + 1
            pieces.insert(at, (fields["id"], _block(fields)))
            known[fields["id"]] = fields
            added += 1
        previous = fields["id"]
    print(f"{added} new source(s) from {path}", file=sys.stderr)
    return header + "".join(block for _, block in pieces)


def outcomes_yaml(path: Path) -> str:
    """The text of an outcomes.yaml holding the records of old-style ``path``."""
    module = load_old_module(path, "_netlm_old_evidence_library")
    out = [OUTCOMES_HEADER.rstrip("\n") + "\n"]
    where: tuple[str, str] | None = None
    for record in module.PUBLISHED_OUTCOMES:
        fields: dict[str, Any] = record.model_dump(mode="json", exclude_defaults=True)
        if (record.seed, record.section) != where:
            where = (record.seed, record.section)
            out.append(f"  # --- seed {record.seed[:3]}, {record.section} ---\n")
        out.append(_block(fields))
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sources = sub.add_parser("sources", help="merge (or, with --fresh, write) sources.yaml")
    sources.add_argument("python_files", nargs="+", type=Path)
    sources.add_argument("--fresh", action="store_true", help="write sources.yaml from scratch")
    sources.add_argument("--yaml", type=Path, default=SOURCES_YAML, help="the YAML to write")
    outcomes = sub.add_parser("outcomes", help="write outcomes.yaml")
    outcomes.add_argument("python_file", type=Path)
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    if args.what == "outcomes":
        OUTCOMES_YAML.write_text(outcomes_yaml(args.python_file), encoding="utf-8")
        return 0
    files: list[Path] = list(args.python_files)
    if args.fresh:
        args.yaml.write_text(fresh_sources(files.pop(0)), encoding="utf-8")
    for path in files:
        args.yaml.write_text(merge_sources(path, args.yaml), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
