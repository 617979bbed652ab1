"""The README's commands are the commands that ship (issues #15 and #12).

Every ``netlm ...`` line of the README's fenced ``bash`` blocks, and every
inline ``netlm ...`` command of its "Running the service" section, is parsed
by the real command line (Click's parser: every option and argument must
exist, take the value given and no required one may be missing) without
running it.  Shell variables set in a block (``E=...; D=...``) are expanded,
``VAR=value`` prefixes dropped; the example files the quick start names must
exist in the checkout.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main
from argon2 import PasswordHasher
from typer.core import TyperGroup
from typer.exceptions import TyperException

from netlm.cli import build_app
from netlm.commands.serve import NO_ADMIN_HINT, first_admin_hint
from netlm.store.passwords import password_problems
from netlm.store.repository import Store

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
#: ``netlm demo`` prints the command that opens the web application, with a password.
DEMO_SOURCE = "src/netlm/commands/demo.py"
#: Cheap hashing for the store test (as tests/store/conftest.py).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

_FENCE = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)=(\S*)$")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


def _block_commands(block: str) -> list[list[str]]:
    """The ``netlm`` commands of one shell block, as argument lists (variables expanded)."""
    joined = re.sub(r"\\\n\s*", " ", block)
    env: dict[str, str] = {}
    commands: list[list[str]] = []
    for line in joined.splitlines():
        line = line.split("  #", 1)[0].strip()
        for statement in filter(None, (s.strip() for s in line.split(";"))):
            words = shlex.split(statement.replace("$(date +%F)", "2026-01-01"))
            if len(words) == 1 and (m := _ASSIGN.match(words[0])):
                env[m.group(1)] = m.group(2)
                continue
            while words and _ASSIGN.match(words[0]):  # VAR=value netlm ...
                words.pop(0)
            if words and words[0] == "pip" and "&&" in words:
                words = words[words.index("&&") + 1 :]
            if words and words[0] == "netlm":
                expanded = [
                    re.sub(r"\$(\w+)", lambda v: env.get(v.group(1), v.group(0)), w) for w in words
                ]
                commands += _variants(expanded)
    return commands


def _expand(word: str, env: dict[str, str]) -> str:
    """``word`` with the block's shell variables (``$E``) replaced."""
    return re.sub(r"\$(\w+)", lambda v: env.get(v.group(1), v.group(0)), word)


def _variants(words: list[str]) -> list[list[str]]:
    """The commands a synopsis stands for: ``[--opt X]`` without and with it, ``a|b`` each.

    A synopsis with an elided part (``...``) stands for no whole command and gives none.
    """
    if "..." in words:
        return []
    text = " ".join(words)
    optional = re.compile(r"\[([^\[\]]+)\]")
    forms = [optional.sub("", text), optional.sub(r"\1", text)]
    out: list[list[str]] = []
    for form in dict.fromkeys(forms):
        split = form.split()
        alternatives = [i for i, w in enumerate(split) if "|" in w and "://" not in w]
        if not alternatives:
            out.append(split)
            continue
        i = alternatives[0]
        out += [[*split[:i], choice, *split[i + 1 :]] for choice in split[i].split("|")]
    return out


def _readme_commands() -> list[list[str]]:
    commands = [c for block in _FENCE.findall(README) for c in _block_commands(block)]
    inline = re.findall(r"`(netlm [^`]+)`", _section("Running the service"))
    # inline mentions of a command group alone (``netlm db``) name no command
    commands += [
        c for text in inline for c in _block_commands(text.replace("…", "x")) if len(c) > 2
    ]
    return commands


COMMANDS = _readme_commands()


def _parse(args: list[str]) -> str:
    """Parse ``netlm ARGS`` down to the leaf command, as running it would, without running it.

    Returns the leaf command's name; a usage error (unknown command or option, bad or
    missing value) raises :class:`typer.exceptions.TyperException`.
    """
    command = typer.main.get_command(build_app())
    ctx = command.make_context("netlm", list(args), resilient_parsing=False)
    while isinstance(command, TyperGroup):
        rest = [*ctx._protected_args, *ctx.args]
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None, f"no sub-command in {args}"
        command = sub
        ctx = sub.make_context(name, rest, parent=ctx)
    assert ctx.info_name is not None
    return ctx.info_name


def test_the_readme_has_the_quick_start_and_service_commands() -> None:
    """The extraction finds the commands a new user and an operator type."""
    words = {" ".join(c[1:3]) for c in COMMANDS}
    assert {"assess src/netlm/examples/case-bilobar-tare.yaml", "sirt plan", "dose images"} <= words
    assert {
        "users create",
        "db backup",
        "db restore",
        "db grant-runtime",
        "users revoke-tokens",
    } <= words
    assert any(c[:2] == ["netlm", "serve"] and "--demo" in c for c in COMMANDS)
    assert ["netlm", "demo"] in COMMANDS


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c)[:80] for c in COMMANDS])
def test_each_readme_command_parses(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Options and arguments exist and take the README's values (no stale option names)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NETLM_DATABASE_URL", raising=False)
    try:
        _parse(args[1:])
    except TyperException as exc:
        pytest.fail(f"README command {' '.join(args)!r} does not parse: {exc}")


def test_the_quick_start_example_files_exist() -> None:
    """The quick start's inputs are in the checkout (nothing beside it is needed)."""
    start = README.index("### Quick start")
    block = _FENCE.search(README, start)
    assert block is not None
    inputs = [
        w
        for c in _block_commands(block.group(1))
        for w in c
        if w.endswith((".yaml", ".nrrd")) and "/" in w
    ]
    assert len(inputs) == 4
    for path in inputs:
        assert (ROOT / path).is_file(), path


def test_quick_start_passwords_meet_the_password_policy() -> None:
    """The passwords the quick start and ``netlm demo`` suggest are long enough to be accepted."""
    found = re.findall(
        r"NETLM_(?:ADMIN|USER)_PASSWORD='([^']+)'.*?(?:--create-admin|users create) (\S+)", README
    )
    demo = re.search(r"NETLM_ADMIN_PASSWORD='([^']+)'", (ROOT / DEMO_SOURCE).read_text())
    assert demo is not None and len(found) >= 2
    for password, user in [*found, (demo.group(1), "admin")]:
        assert password_problems(password, user) == [], (user, password)


def test_serve_says_how_to_create_the_first_admin(tmp_path: Path) -> None:
    """Without an active admin ``netlm serve`` prints how to create one (issue #15)."""
    store = Store(f"sqlite:///{tmp_path / 'netlm.db'}", password_hasher=FAST_HASHER)
    try:
        assert first_admin_hint(store) == NO_ADMIN_HINT
        assert "--create-admin" in NO_ADMIN_HINT and "netlm users create" in NO_ADMIN_HINT
        store.create_user("physicist", "sign-the-plans-2026", "physicist", actor="test")
        assert first_admin_hint(store) == NO_ADMIN_HINT
        store.create_user("admin", "choose-a-password", "admin", actor="test")
        assert first_admin_hint(store) is None
        store.disable_user("admin", actor="test")
        assert first_admin_hint(store) == NO_ADMIN_HINT
    finally:
        store.close()
