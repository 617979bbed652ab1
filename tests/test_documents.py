"""The hardened document reader (netlm.documents): what it refuses, and that it
refuses it with an InputError naming the line and field, never a traceback."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netlm
from netlm.case import parse_case
from netlm.cohort.manifest import ManifestError, load_manifest
from netlm.documents import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    load_document,
    parse_document,
    read_bytes,
)
from netlm.eligibility import load_profile
from netlm.errors import CaseError, DocumentError, PlanError, ProfileError, ResponseError
from netlm.response.io import parse_response
from netlm.sirt.plan import parse_plan

EXAMPLES = Path(netlm.__file__).parent / "examples"

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CASE_WITH_ANASTOMOSIS = """\
schema: netlm/case/v1
patient: {id: DUP-1}
history:
  biliary_intervention: bilioenteric_anastomosis
  contrast_allergy: none
  biliary_intervention: none
"""

# A 9 x 9 "billion laughs": 9**9 (387 million) strings once the aliases are expanded.
ALIAS_BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def _problems(call: Any, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(DocumentError) as info:
        call(*args, **kwargs)
    return info.value.problems


# --------------------------------------------------------------------------- duplicate keys
def test_duplicate_case_key_is_refused_naming_key_and_both_lines() -> None:
    # Today a second `biliary_intervention: none` silently erased the anastomosis.
    with pytest.raises(CaseError) as info:
        parse_case(CASE_WITH_ANASTOMOSIS)
    [(field, message)] = info.value.problems
    assert field == "history.biliary_intervention"
    assert "duplicate key 'biliary_intervention'" in message
    assert "line 6" in message and "line 4" in message


def test_duplicate_case_key_in_json_names_both_lines() -> None:
    text = '{"schema": "netlm/case/v1",\n "patient": {"id": "A",\n  "ecog": 0,\n  "ecog": 3}}'
    with pytest.raises(CaseError) as info:
        parse_case(text, format="json")
    [(field, message)] = info.value.problems
    assert field == "patient.ecog"
    assert "line 4" in message and "first given at line 3" in message


def test_duplicate_lesion_measurement_in_a_response_file_is_refused() -> None:
    # A second longest_mm on T1 turned a partial response into progression.
    text = """\
schema: netlm/response/v1
case: R1
timepoints:
  - date: 2026-01-05
    lesions:
      - {id: T1, organ: liver, role: target, longest_mm: 50}
  - date: 2026-04-02
    lesions:
      - {id: T1, longest_mm: 30,
         longest_mm: 80}
"""
    with pytest.raises(ResponseError) as info:
        parse_response(text)
    [(field, message)] = info.value.problems
    assert field == "timepoints[1].lesions[0].longest_mm"
    assert "line 10" in message and "line 9" in message


def test_duplicate_key_in_plan_profile_and_manifest(tmp_path: Path) -> None:
    plan = (EXAMPLES / "plan-bsa-resin-bilobar.yaml").read_text(encoding="utf-8")
    with pytest.raises(PlanError, match="duplicate key 'device'"):
        parse_plan(plan + "device: glass\n")
    profile = tmp_path / "centre.yaml"
    profile.write_text(
        "schema: netlm/rule-profile/v1\nid: c\nname: c\nversion: '1'\nextends: default\n"
        "parameters:\n  tare_max_bilirubin_mg_dl: 2\n  tare_max_bilirubin_mg_dl: 3\n"
    )
    with pytest.raises(ProfileError, match=r"duplicate key .* at line 8 \(first given at line 7"):
        load_profile(profile)
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(
        "schema: netlm/cohort-manifest/v1\npatients:\n"
        "  - {patient_id: P1, case: a.yaml, case: b.yaml}\n"
    )
    with pytest.raises(ManifestError, match="duplicate key 'case'"):
        load_manifest(manifest)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 2\na: 3\n",
        "a: {x: 1, x: 1}\n",  # even the same value twice
        "1: a\n1.0: b\n",  # equal keys once read
        "a: &x 1\n? a\n: 2\n",
    ],
)
def test_duplicate_yaml_keys(text: str) -> None:
    [(_, message)] = _problems(parse_document, text)
    assert "duplicate key" in message


def test_same_key_in_different_mappings_is_fine() -> None:
    assert parse_document("a: {x: 1}\nb: {x: 2}\n") == {"a": {"x": 1}, "b": {"x": 2}}
    assert parse_document('[{"x": 1}, {"x": 2}]', format="json") == [{"x": 1}, {"x": 2}]


# --------------------------------------------------------------------------- tags and oddities
@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: !!str 5\n", 2),
        ("!!python/object/apply:os.system ['true']", 1),
        ("a: !!bool xx\n", 1),  # KeyError in PyYAML's constructor
        ("a: !!int ''\n", 1),  # IndexError
        ("a: !!timestamp x\n", 1),  # AttributeError
        ("a: !custom 1\n", 1),
        ("a: !!set {x, y}\n", 1),
        ("a: !!binary aGVsbG8=\n", 1),
    ],
)
def test_yaml_tags_are_refused_with_the_line(text: str, line: int) -> None:
    [(_, message)] = _problems(parse_document, text)
    assert f"line {line}:" in message and "tags" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("base: &b {x: 1}\nc:\n  <<: *b\n", "merge keys"),
        ("start: 1:30\n", "base-60"),
        ("a: 1\n---\nb: 2\n", "second document"),
        ("a: *nowhere\n", "no anchor"),
        ("a: &x [1, *x]\n", "a cycle"),
        ("? [1, 2]\n: x\n", "a key must be a plain value"),
        ("a: &k [1]\nb: {*k : 1}\n", "a key must be a plain value"),
        ("a: 2026-02-30\n", "as a date"),
        ("a: =\n", "not a plain value"),
        ("a: [1, 2\n", "not valid YAML"),
        ("a: b: c\n", "not valid YAML"),
        ("a: \x07\n", "not valid YAML"),
    ],
)
def test_yaml_refusals(text: str, fragment: str) -> None:
    [(_, message)] = _problems(parse_document, text)
    assert fragment in message
    assert "line " in message


def test_plain_yaml_values_read_as_before() -> None:
    text = "a: 1\nb: 2.5\nc: true\nd: ~\ne: 2026-01-05\nf: '1:30'\ng: [x, 'y']\nh: &v 7\ni: *v\n"
    assert parse_document(text) == yaml.safe_load(text)
    assert parse_document("") is None and parse_document("# nothing\n") is None


# --------------------------------------------------------------------------- alias bombs
def test_alias_bomb_is_refused_and_memory_stays_small() -> None:
    assert len(ALIAS_BOMB) < 600
    tracemalloc.start()
    try:
        with pytest.raises(CaseError) as info:
            parse_case(ALIAS_BOMB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"more than {MAX_NODES} values" in info.value.problems[0][1]
    assert peak < 20 * 1024 * 1024  # today: 1.7 GB


def test_alias_count_limit() -> None:
    head = "a: &a 1\nl: ["
    assert parse_document(head + ", ".join(["*a"] * MAX_ALIASES) + "]\n")["l"] == [1] * MAX_ALIASES
    [(_, message)] = _problems(parse_document, head + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]")
    assert f"more than {MAX_ALIASES} YAML aliases" in message


# --------------------------------------------------------------------------- nesting
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_nesting_limit_boundary(fmt: str) -> None:
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    value = parse_document(deepest, format=fmt)  # type: ignore[arg-type]
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []
    too_deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    [(_, message)] = _problems(parse_document, too_deep, format=fmt)
    assert f"nested more than {MAX_DEPTH} levels" in message


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_absurd_nesting_is_an_error_not_a_recursion_error(fmt: str) -> None:
    text = '{"a": ' * 100_000 + "1" + "}" * 100_000
    with pytest.raises(CaseError, match="nested more than"):
        parse_case(text, format=fmt)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- size, encoding
def test_size_limit_boundary(tmp_path: Path) -> None:
    body = "a: 1\n"
    exact = body + "#" * (MAX_DOCUMENT_BYTES - len(body) - 1) + "\n"
    assert len(exact.encode()) == MAX_DOCUMENT_BYTES
    path = tmp_path / "big.yaml"
    path.write_text(exact)
    assert load_document(path) == {"a": 1}
    path.write_text(exact + "\n")
    [(_, message)] = _problems(load_document, path)
    assert "larger than 4 MiB" in message
    with pytest.raises(CaseError, match="larger than"):
        parse_case((exact + "\n").encode())


def test_non_utf8_names_the_line() -> None:
    data = b"schema: netlm/case/v1\npatient: {id: \xe9}\n"
    with pytest.raises(CaseError) as info:
        parse_case(data)
    assert "line 2: not UTF-8" in info.value.problems[0][1]


def test_byte_order_mark_is_accepted() -> None:
    assert parse_document(b'\xef\xbb\xbf{"a": 1}', format="json") == {"a": 1}
    assert parse_document("\ufeffa: 1") == {"a": 1}


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    [(field, message)] = _problems(read_bytes, tmp_path / "absent.yaml")
    assert field == "" and "cannot read" in message


# --------------------------------------------------------------------------- JSON
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ('{"a": 1,}', "expecting a key"),
        ('{"a" 1}', "expecting ':'"),
        ("[1 2]", "expecting ',' or ']'"),
        ('{"a": 1} 2', "extra data"),
        ('{"a": tru}', "expecting a value"),
        ("[1e400]", "beyond the range"),
        ("9" * 5000, "too many digits"),
        ('"abc', "unterminated"),
        ('{"a": "\x01"}', "invalid control character"),
    ],
)
def test_malformed_json(text: str, fragment: str) -> None:
    [(_, message)] = _problems(parse_document, text, format="json")
    assert "not valid JSON" in message and fragment in message.lower()


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=30,
)


@FUZZ
@given(_json_values, st.sampled_from([None, 0, 2]))
def test_json_reads_what_the_standard_library_reads(value: Any, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    assert parse_document(text, format="json") == json.loads(text)


@FUZZ
@given(_json_values)
def test_yaml_reads_what_safe_dump_wrote(value: Any) -> None:
    text = yaml.safe_dump(value)
    assert parse_document(text) == yaml.safe_load(text)


# --------------------------------------------------------------------------- never a traceback
_YAML_TOKENS = st.sampled_from(
    [
        "a", "b", ":", ": ", "- ", "\n", "  ", "[", "]", "{", "}", ",", "&x ", "*x", "&y ",
        "*y", "!!str ", "!!python/object ", "!x ", "<<: ", "? ", "---\n", "...\n", "'", '"',
        "|", ">", "#", "1:30", "0x1F", "2026-02-30", "~", "=", "\t", "%YAML 1.1\n", "\x00",
    ]
)  # fmt: skip


def _only_document_errors(text: str | bytes, fmt: str) -> None:
    problems: list[tuple[str, str]] = []
    try:
        parse_document(text, format=fmt)  # type: ignore[arg-type]
    except DocumentError as exc:
        problems = exc.problems
    assert all(isinstance(m, str) and m for _, m in problems)


@FUZZ
@given(st.lists(_YAML_TOKENS, max_size=40).map("".join))
def test_yaml_token_soup_gives_data_or_a_document_error(text: str) -> None:
    _only_document_errors(text, "yaml")


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200), st.sampled_from(["yaml", "json"]))
def test_arbitrary_input_gives_data_or_a_document_error(text: str | bytes, fmt: str) -> None:
    _only_document_errors(text, fmt)


@FUZZ
@given(
    st.lists(
        st.sampled_from(['{"a": ', '{"a": 1, "a": 2}', "[", "]", "{", "}", ",", ":", '"x"', "1"]),
        max_size=40,
    ).map("".join)
)
def test_json_token_soup_gives_data_or_a_document_error(text: str) -> None:
    _only_document_errors(text, "json")


def test_pure_python_loader_refuses_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # CSafeLoader is preferred when PyYAML has libyaml; the checks do not depend on it.
    import netlm.documents

    monkeypatch.setattr(netlm.documents, "_LOADER", yaml.SafeLoader)
    assert parse_document("a: [1, {b: 2026-01-05}]\n") == yaml.safe_load("a: [1, {b: 2026-01-05}]")
    for text, fragment in (
        (CASE_WITH_ANASTOMOSIS, "duplicate key 'biliary_intervention' at line 6"),
        ("a: !!bool xx\n", "tags such as '!!bool'"),
        (ALIAS_BOMB, "once aliases are expanded"),
        ("[" * 200 + "]" * 200, "nest"),
    ):
        [(_, message)] = _problems(parse_document, text)
        assert fragment in message


def test_value_limit_counts_each_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A large, nested document without aliases is read whole (nothing is counted
    # twice), and the limit is exact.  A small limit keeps the test quick.
    import netlm.documents

    limit = 600
    monkeypatch.setattr(netlm.documents, "MAX_NODES", limit)
    # 6 values a row (2 mappings, 2 keys, a list, a number), plus the outer list.
    rows = ",".join('{"a": {"b": [1]}}' for _ in range(limit // 6 - 1))
    assert len(parse_document(f"[{rows}]")) == limit // 6 - 1
    too_many = ",".join(["1"] * limit)  # plus the list itself
    [(_, message)] = _problems(parse_document, f"[{too_many}]")
    assert f"more than {limit} values" in message
    assert len(parse_document(f"[{too_many[2:]}]")) == limit - 1


def test_an_anchor_defined_twice_is_refused() -> None:
    [(_, message)] = _problems(parse_document, "a: &x 1\nb: &x 2\nc: *x\n")
    assert "anchor &x is defined twice" in message
