"""Issue #10.9: `-k -1` dropped the last hit, `-k 0` meant 5 and `-k 100000` was unbounded.
A number of papers is 1…50 for search and 1…10 for an answer, refused with exit 2 otherwise,
by the CLI before any work and by the retriever and the engine for every other caller."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import ConfigError
from tests.unit.test_answer_plumbing import HITS, FakeChatClient, engine


@pytest.mark.parametrize(
    ("args", "limit"),
    [(["search", "-k", "-1", "x"], 50), (["search", "-k", "0", "x"], 50),
     (["search", "-k", "100000", "x"], 50), (["ask", "-k", "11", "x"], 10),
     (["chat", "-k", "0"], 10)],
)  # fmt: skip
def test_a_bad_k_is_one_line_and_exit_2(tmp_path: Path, args: list[str], limit: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env={**os.environ, "RAG_DATA_DIR": str(tmp_path / "d")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr
        == f"error: -k {args[2]} is not valid: give a number of papers from 1 to {limit}\n"
    )
    assert not (tmp_path / "d").exists()  # refused before the store was touched


@pytest.mark.parametrize("k", [0, -1, 11])
def test_the_engine_refuses_a_bad_number_of_sources(k: int) -> None:
    with pytest.raises(ConfigError, match=f"-k {k} is not valid"):
        engine(FakeChatClient(["x"])).ask("How do experts route?", max_sources=k)
    answer = engine(FakeChatClient(["Experts route tokens [2]."])).ask("How?", max_sources=1)
    assert [s.hit.title for s in answer.sources] == [HITS[0].title]
