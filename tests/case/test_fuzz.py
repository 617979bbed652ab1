"""Property tests of the case boundary: whatever arrives, a Case or a CaseError.

Three properties, each over a few hundred derandomized examples:

1. arbitrary JSON-like documents (as YAML and as JSON), arbitrary text, arbitrary
   bytes and YAML-token soup give a :class:`Case` or a :class:`CaseError`;
2. the example cases and :data:`conftest.BASE`, mutated (a leaf replaced, a key
   deleted, an unknown key inserted, a number swapped for a string, a negative or
   a huge value, or a leaf rewritten as a raw YAML scalar such as ``!!bool x`` or
   ``0xFFF...``), do the same, and a Case that comes back has a non-blank id;
3. a case that parses survives re-serialisation: dump, parse again, equal.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import BASE, SHARED
from netlm.case import SCHEMA_ID, Case, case_from_mapping, parse_case
from netlm.errors import CaseError

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- helpers
def _outcome(text: str | bytes, fmt: str = "yaml") -> Case | None:
    """Parse; a CaseError is a fine outcome (None), anything else propagates."""
    try:
        case = parse_case(text, format=fmt)  # type: ignore[arg-type]
    except CaseError as exc:
        _check_error(exc)
        event("CaseError")
        return None
    _check_case(case)
    event("Case")
    return case


def _outcome_mapping(data: object) -> Case | None:
    try:
        case = case_from_mapping(data)
    except CaseError as exc:
        _check_error(exc)
        event("CaseError")
        return None
    _check_case(case)
    event("Case")
    return case


def _check_error(exc: CaseError) -> None:
    assert exc.problems
    for path, message in exc.problems:
        assert isinstance(path, str)
        assert isinstance(message, str)
        assert message
    assert str(exc).startswith("invalid case: ")


def _check_case(case: Case) -> None:
    assert isinstance(case, Case)
    assert case.schema_id == SCHEMA_ID
    assert isinstance(case.patient.id, str)
    assert case.patient.id.strip()


def _dump_yaml(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _dump_json(doc: Any) -> str:
    # Dates (from the YAML examples) become ISO strings; NaN/inf become JSON's
    # non-standard NaN/Infinity tokens, which json.loads accepts.
    return json.dumps(doc, default=str)


# --------------------------------------------------------------------------- strategies
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)

#: Key names the model knows, so that arbitrary documents reach the validators.
KNOWN_KEYS = sorted(
    {"schema", "patient", "tumour", "liver", "labs", "history", "workup"}
    | {k for section in BASE.values() if isinstance(section, dict) for k in section}
    | {"id", "value", "unit", "uln", "lln", "segment", "lesions", "type", "start", "end"}
)
CASE_SHAPED = st.fixed_dictionaries(
    {
        "schema": st.just(SCHEMA_ID) | st.text(max_size=15),
        "patient": JSON_LIKE
        | st.fixed_dictionaries(
            {"id": st.text(max_size=10)},
            optional={key: SCALARS for key in BASE["patient"] if key != "id"},
        ),
    },
    optional={
        section: st.dictionaries(
            st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), JSON_LIKE, max_size=5
        )
        for section in ("tumour", "liver", "labs", "history", "workup")
    },
)
DOCUMENTS = JSON_LIKE | CASE_SHAPED

#: Pieces of YAML syntax (tags, anchors, flow and block markers, odd ints) that
#: random text rarely produces.
YAML_TOKENS = [
    "schema: netlm/case/v1\n",
    "patient:",
    " {id: A}",
    "id:",
    "liver:",
    "labs:",
    "bilirubin:",
    "\n",
    "  ",
    "- ",
    "? ",
    ": ",
    ", ",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "&a ",
    "*a",
    "<<: ",
    "!!bool ",
    "!!int ",
    "!!float ",
    "!!str ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!python/object:os.system ",
    "~",
    "yes",
    "0x" + "F" * 40,
    "0b101",
    "0777",
    "1:30:00",
    "1e400",
    "1.0e+400",
    ".nan",
    "-.inf",
    "2024-02-30",
    "2024-01-01 10:00:00",
    "''",
    "1_000",
    "#",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\t",
    "\x85",
    "\ufeff",
]
YAML_SOUP = st.lists(st.sampled_from(YAML_TOKENS) | st.text(max_size=3), max_size=30).map("".join)


# --------------------------------------------------------------------------- property 1
@FUZZ
@given(DOCUMENTS)
def test_any_document_as_yaml_gives_case_or_case_error(doc: Any) -> None:
    _outcome(_dump_yaml(doc))
    _outcome(_dump_yaml(doc).encode("utf-8"))


@FUZZ
@given(DOCUMENTS)
def test_any_document_as_json_gives_case_or_case_error(doc: Any) -> None:
    _outcome(_dump_json(doc), "json")


@FUZZ
@given(DOCUMENTS)
def test_any_mapping_gives_case_or_case_error(doc: Any) -> None:
    _outcome_mapping(doc)


@FUZZ
@given(st.text())
def test_any_text_gives_case_or_case_error(text: str) -> None:
    _outcome(text)
    _outcome(text, "json")


@FUZZ
@given(st.binary())
def test_any_bytes_give_case_or_case_error(data: bytes) -> None:
    _outcome(data)
    _outcome(data, "json")


@FUZZ
@given(YAML_SOUP)
def test_yaml_token_soup_gives_case_or_case_error(text: str) -> None:
    _outcome(text)


# --------------------------------------------------------------------------- property 2
def _seeds() -> list[dict[str, Any]]:
    docs = [copy.deepcopy(BASE)]
    for path in sorted((SHARED / "examples").glob("case-*.yaml")):
        docs.append(yaml.safe_load(path.read_text(encoding="utf-8")))
    return docs


SEEDS = _seeds()


def _walk(node: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    """Every (path, node) below ``node``, containers and leaves, depth first."""
    found: list[tuple[Path_, Any]] = [(path, node)]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _walk(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _walk(child, (*path, index))
    return found


def _leaves(doc: Any) -> list[Path_]:
    return [p for p, n in _walk(doc) if p and not (isinstance(n, (dict, list)) and n)]


def _keys(doc: Any) -> list[Path_]:
    return [p for p, _ in _walk(doc) if p and isinstance(p[-1], str)]


def _mappings(doc: Any) -> list[Path_]:
    return [p for p, n in _walk(doc) if isinstance(n, dict)]


def _numbers(doc: Any) -> list[Path_]:
    return [
        p for p, n in _walk(doc) if p and isinstance(n, (int, float)) and not isinstance(n, bool)
    ]


def _get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _number_swaps(value: float) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(str(value)),
        st.text(max_size=10),
        st.just(-value),
        st.just(-abs(value) - 1),
        st.sampled_from([1e300, -1e300, 10**30, 2**63, 1e-300, 0, -0.0, math.nan, math.inf]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(),
        st.booleans(),
        st.none(),
    )


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """An example case (or BASE) with one to four random mutations."""
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "swap"]))
        if kind == "replace" and _leaves(doc):
            _set(doc, draw(st.sampled_from(_leaves(doc))), draw(JSON_LIKE))
        elif kind == "delete" and _keys(doc):
            path = draw(st.sampled_from(_keys(doc)))
            del _get(doc, path[:-1])[path[-1]]
        elif kind == "insert":
            target = _get(doc, draw(st.sampled_from(_mappings(doc))))
            target[draw(st.text(min_size=1, max_size=12))] = draw(JSON_LIKE)
        elif kind == "swap" and _numbers(doc):
            path = draw(st.sampled_from(_numbers(doc)))
            _set(doc, path, draw(_number_swaps(_get(doc, path))))
    return doc


#: YAML spellings of scalars that a Python value dumped by yaml.safe_dump never
#: produces: explicit tags on odd values, and ints in bases with no digit limit.
TAGS = ["!!bool", "!!int", "!!float", "!!timestamp", "!!str", "!!null", "!!binary"]
TAGGED_VALUES = ["''", "x", "-", "_", "+", "0", "1", "yes", "2024-01-01", ".nan", "0x1F", "1:30"]
RAW_SCALARS = st.one_of(
    st.builds(
        "{} {}".format,
        st.sampled_from(TAGS),
        st.sampled_from(TAGGED_VALUES) | st.text(alphabet="0123456789abx:._-+", max_size=6),
    ),
    st.builds("0x{}".format, st.integers(1, 5000).map("F".__mul__)),
    st.builds("0b{}".format, st.integers(1, 20000).map("1".__mul__)),
    st.builds("0{}".format, st.integers(1, 6000).map("7".__mul__)),
    st.builds("1{}".format, st.integers(1, 3000).map(":59".__mul__)),
    st.sampled_from(["1.0e+400", "-1.0e+400", ".inf", "-.Inf", ".NaN", "~", "''", "[]", "{}"]),
)
_RAW = "RAW-SCALAR-PLACEHOLDER"


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_raw_yaml_scalars_in_examples_give_case_or_case_error(
    seed: dict[str, Any], data: st.DataObject
) -> None:
    doc = copy.deepcopy(seed)
    path = data.draw(st.sampled_from(_leaves(doc)))
    _set(doc, path, _RAW)
    text = _dump_yaml(doc)
    assert _RAW in text
    _outcome(text.replace(_RAW, data.draw(RAW_SCALARS)))


@FUZZ
@given(mutated(), st.sampled_from(["yaml", "json", "mapping"]))
def test_mutated_examples_give_case_or_case_error(doc: dict[str, Any], how: str) -> None:
    if how == "yaml":
        _outcome(_dump_yaml(doc))
    elif how == "json":
        _outcome(_dump_json(doc), "json")
    else:
        _outcome_mapping(doc)


def test_unmutated_seeds_parse() -> None:
    assert len(SEEDS) >= 3
    for doc in SEEDS:
        case = parse_case(_dump_yaml(doc))
        _check_case(case)
        assert parse_case(_dump_json(doc), format="json") == case


# --------------------------------------------------------------------------- property 3
def _assert_round_trip(case: Case) -> None:
    dumped = case.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert case_from_mapping(dumped) == case
    assert parse_case(json.dumps(dumped), format="json") == case
    assert parse_case(_dump_yaml(dumped)) == case
    # A second round trip changes nothing more.
    again = case_from_mapping(dumped).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert again == dumped


@st.composite
def gently_mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A seed with numbers nudged and optional keys dropped: mostly still valid."""
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        if draw(st.booleans()) and _numbers(doc):
            path = draw(st.sampled_from(_numbers(doc)))
            value = _get(doc, path)
            factor = draw(st.floats(min_value=0.5, max_value=1.5))
            nudged = value * factor if isinstance(value, float) else round(value * factor)
            _set(doc, path, draw(st.sampled_from([nudged, str(nudged), value])))
        else:
            optional = [p for p in _keys(doc) if p not in {("schema",), ("patient",)}]
            optional = [p for p in optional if p != ("patient", "id")]
            if optional:
                path = draw(st.sampled_from(optional))
                del _get(doc, path[:-1])[path[-1]]
    return doc


@FUZZ
@given(gently_mutated())
def test_round_trip_of_gently_mutated_cases(doc: dict[str, Any]) -> None:
    case = _outcome(_dump_yaml(doc))
    if case is not None:
        _assert_round_trip(case)


@FUZZ
@given(mutated())
def test_round_trip_of_mutated_cases(doc: dict[str, Any]) -> None:
    case = _outcome_mapping(doc)
    if case is not None:
        _assert_round_trip(case)


def test_round_trip_of_the_seeds() -> None:
    for doc in SEEDS:
        case = case_from_mapping(doc)
        _assert_round_trip(case)
