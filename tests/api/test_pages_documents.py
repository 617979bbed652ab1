"""The web form's free YAML field is read by the same hardened reader (issue #10)."""

from __future__ import annotations

import pytest

from netlm.api.forms.case import EXTRA_FIELD, case_from_form


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("history:\n  biliary_intervention: stent\n  biliary_intervention: none\n",
         "history.biliary_intervention: duplicate key 'biliary_intervention' at line 3"),
        ("liver: !!python/object/apply:os.system ['true']\n", "tags such as"),
        ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)), "once aliases are expanded"),
    ],
)  # fmt: skip
def test_free_yaml_field_refuses_what_files_refuse(extra: str, fragment: str) -> None:
    case, _, problems = case_from_form({"patient.id": "W-1", EXTRA_FIELD: extra})
    assert case is None
    assert any(field == EXTRA_FIELD and fragment in message for field, message in problems)
