"""Issue #10.10: someone else's question file that is empty or misses fields gets one clear
line (exit 2), not a blank report or a ten-line validation dump."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rag.eval.data import load_questions

from rag.errors import ConfigError

GOOD = {"qid": "T1", "type": "lookup", "question": "What is QLoRA?", "gold_titles": ["QLoRA"],
        "answer_points": ["4-bit"]}  # fmt: skip


def write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "theirs.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_an_empty_question_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"theirs.jsonl holds no questions"):
        load_questions(write(tmp_path, "", "   "))


def test_missing_fields_are_one_line_naming_the_line_and_the_field(tmp_path: Path) -> None:
    bad = {k: v for k, v in GOOD.items() if k not in ("gold_titles", "answer_points")}
    with pytest.raises(ConfigError) as e:
        load_questions(write(tmp_path, GOOD, {**bad, "qid": "T2"}))
    msg = str(e.value)
    assert "\n" not in msg and "theirs.jsonl:2: not a question: field 'gold_titles' missing" in msg
    assert "(and 1 more)" in msg


def test_a_bad_type_is_named_too(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r":1: not a question: field 'type' bad \(Input should be"
    ):
        load_questions(write(tmp_path, {**GOOD, "type": "trivia"}))


def test_rag_eval_says_it_in_one_line_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, {"qid": "x", "type": "lookup", "question": "q"})
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", "--questions", str(path), "--retrieval-only",
         "--out", str(tmp_path / "out")],
        env={**os.environ, "RAG_DATA_DIR": str(tmp_path / "d")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "out").exists()  # no blank report
