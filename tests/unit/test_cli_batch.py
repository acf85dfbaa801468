"""`rag ask --file` (issue #10.8): a bad line is an error object in its place, the later lines
are answered, and the exit status says some input was bad. The answer engine is the real one
over FakeChatClient / FakeRetriever (plumbing: no model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import cli
from tests.unit.test_answer_plumbing import FakeChatClient, engine

LINES = ['{"question": "How do experts route?", "qid": "a"}', "[1, 2", '{"question": ""}', "",
         '{"question": "What do tasks share?", "qid": "b"}']  # fmt: skip


def test_ask_file_answers_the_good_lines_and_reports_the_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(LINES) + "\n")
    chat = FakeChatClient(["Experts route tokens to blocks [2].", "Tasks share skills [1]."])
    monkeypatch.setattr(cli, "_with_engine", lambda settings, work: work(engine(chat)))
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "d"))
    status = cli.main(["ask", "--json", "--file", str(qfile)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 2
    assert [(r.get("qid"), r.get("line")) for r in rows] == [
        ("a", None),
        (None, 2),
        (None, 3),
        ("b", None),
    ]
    assert rows[1]["error"].startswith("not JSON") and "empty" in rows[2]["error"]
    assert "skills" in rows[3]["answer"] and not chat.replies  # both good lines answered


def test_ask_file_of_only_bad_lines_never_starts_the_model(tmp_path: Path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"q": 1}\nnot json\n')
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(tmp_path / "none"),
        "RAG_LLM_BASE_URL": "http://127.0.0.1:9/v1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "--json", "--file", str(qfile)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert [json.loads(r)["line"] for r in done.stdout.splitlines()] == [1, 2]
