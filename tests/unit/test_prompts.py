"""Prompt templates load from prompts/ and their placeholders are checked."""

from pathlib import Path

import pytest

from rag.answer.prompts import ABSTAIN_PHRASE, load_prompts
from rag.errors import ConfigError
from rag.resources import prompts_dir


def test_shipped_prompts_load_and_carry_the_abstention_phrase() -> None:
    p = load_prompts()
    assert ABSTAIN_PHRASE in p.system_text()
    assert "{" not in p.system_text()


def test_a_template_with_a_wrong_placeholder_is_refused(tmp_path: Path) -> None:
    for f in prompts_dir().glob("*.md"):
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "sources.md").write_text("Sources: {sources}\nQ: {qestion}")
    with pytest.raises(ConfigError, match="sources.md"):
        load_prompts(tmp_path)


def test_a_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        load_prompts(tmp_path)
