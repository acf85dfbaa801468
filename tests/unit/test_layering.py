"""The layering the code promises: the core (rag/*) never imports its users (the CLI, the chat
UI, the eval harness); the UI and the eval never import the CLI or each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USERS = ("rag.cli", "rag.ui", "rag.eval", "ui", "eval")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{f.relative_to(ROOT)} imports {name}"
        for f in files
        for name in sorted(imported(f))
        if any(name == x or name.startswith(x + ".") for x in forbidden)
    ]


def core_files() -> list[Path]:
    return [f for f in (ROOT / "rag").rglob("*.py") if f.name != "cli.py"]


def test_the_core_never_imports_the_cli_the_ui_or_the_eval() -> None:
    assert len(core_files()) > 20
    assert offenders(core_files(), USERS) == []


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [("ui", ("rag.cli", "rag.eval", "eval")), ("eval", ("rag.cli", "rag.ui", "ui"))],
)
def test_ui_and_eval_sit_beside_each_other_below_the_cli(folder: str, forbidden) -> None:
    assert offenders(sorted((ROOT / folder).glob("*.py")), forbidden) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rag.ui.app import main\n")
    assert imported(bad) >= {"rag.ui.app"}
