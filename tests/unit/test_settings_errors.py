"""Issue #10.7: a bad setting is one line naming the variable, the value and what is allowed,
with exit status 2 (the README's "misuse"); an empty or file RAG_DATA_DIR is such a setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import ConfigError


def load_settings():  # imported late so this file also runs against code without it
    from rag.settings import load_settings

    return load_settings()


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("RAG_RETRIEVAL_TOP_K", "abc", "RAG_RETRIEVAL_TOP_K='abc' is not valid: expected an integer between 1 and 50"),
        ("RAG_RETRIEVAL_TOP_K", "0", "RAG_RETRIEVAL_TOP_K='0' is not valid: expected an integer between 1 and 50"),
        ("RAG_RETRIEVAL_MODE", "fast", "RAG_RETRIEVAL_MODE='fast' is not valid: expected one of hybrid, dense, bm25"),
        ("RAG_LLM_TIMEOUT_S", "-1", "RAG_LLM_TIMEOUT_S='-1' is not valid: expected a number above 0"),
        ("RAG_UI_PORT", "x", "RAG_UI_PORT='x' is not valid: expected an integer"),
        ("RAG_DATA_DIR", "", "RAG_DATA_DIR='' is not valid: it is empty; give a directory"),
        ("RAG_DATA_DIR", "  ", "RAG_DATA_DIR='  ' is not valid: it is empty; give a directory"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_data_dir_that_is_a_file_is_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "f").write_text("")
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "f"))
    with pytest.raises(ConfigError, match="it is a file, not a directory"):
        load_settings()


@pytest.mark.parametrize("env", [{"RAG_RETRIEVAL_TOP_K": "abc"}, {"RAG_DATA_DIR": ""}])
def test_the_cli_prints_one_line_and_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "info"],
        env={**os.environ, "RAG_DATA_DIR": str(tmp_path / "d"), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: RAG_") and done.stderr.count("\n") == 1, done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written into the current directory
