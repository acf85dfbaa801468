"""Saved chats in one SQLite file: turns round-trip as records (a reopened chat renders the same
answer and keeps what a follow-up needs), rename/delete, and concurrent writers from two threads
and two processes lose nothing."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from rag.ui.history import History, title_for
from rag.ui.records import DONE, STOPPED, TurnRecord, from_dict, to_dict

from rag.answer import citations as cit
from rag.errors import HistoryError
from tests.unit.test_ui_render import answer, source

WRITES = 40


def done_record(rid: str = "k1t1", question: str = "What is QLoRA?") -> TurnRecord:
    sources = [source(1, "QLoRA"), source(2, "LoRA")]
    sentence = cit.Sentence("QLoRA finetunes 4-bit models [1].", (1,), cit.Support.SUPPORTED, 0.8)
    a = answer([sentence], sources, question=question)
    return TurnRecord(rid, question, question, DONE, sources, a)


def test_a_record_survives_json_with_its_answer_and_sources() -> None:
    rec = from_dict(to_dict(done_record()))
    assert rec.status == DONE and rec.answer is not None
    assert [s.hit.title for s in rec.cited] == ["QLoRA"]
    assert rec.answer.sentences[0].support is cit.Support.SUPPORTED
    assert rec.sources[1].hit.sources == ("000.txt",)
    turn = rec.conversation_turn()
    assert turn is not None and turn.paper_ids == ("p1", "p2") and turn.standalone == rec.question


def test_unknown_hit_fields_from_a_newer_version_are_dropped() -> None:
    d = to_dict(done_record())
    d["sources"][0]["hit"]["colour"] = "blue"
    assert from_dict(d).sources[0].hit.title == "QLoRA"


def test_a_stopped_turn_is_not_part_of_the_conversation() -> None:
    rec = TurnRecord("k1t2", "Why?", "Why?", STOPPED, [], partial="Because")
    assert from_dict(to_dict(rec)).conversation_turn() is None


def test_chats_are_saved_listed_renamed_and_deleted(tmp_path: Path) -> None:
    h = History(tmp_path / "chats.sqlite3")
    chat = h.create("What is QLoRA?\nand more")
    h.save_turn(chat, 0, to_dict(done_record("a")))
    h.save_turn(chat, 1, to_dict(done_record("b", "And LoRA?")))
    h.save_turn(chat, 1, to_dict(done_record("b", "And LoRA?")))  # the same turn again
    [summary] = h.chats()
    assert summary.title == "What is QLoRA? and more" and summary.turns == 2
    h.rename(chat, "  Quantized finetuning ")
    loaded = h.load(chat)
    assert loaded and loaded[0].title == "Quantized finetuning"
    assert [r["question"] for r in loaded[1]] == ["What is QLoRA?", "And LoRA?"]
    h.truncate(chat, 1)
    assert [r["rid"] for r in h.load(chat)[1]] == ["a"]  # type: ignore[index]
    h.delete(chat)
    assert h.chats() == [] and h.load(chat) is None


def test_a_long_first_question_makes_a_short_title() -> None:
    title = title_for("word " * 40)
    assert len(title) <= 81 and title.endswith("…")


def _write_many(path: str, tag: str) -> None:
    h = History(Path(path))
    chat = h.create(f"chat {tag}")
    for i in range(WRITES):
        h.save_turn(chat, i, to_dict(done_record(f"{tag}-{i}")))


def test_two_threads_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "chats.sqlite3")
    threads = [threading.Thread(target=_write_many, args=(path, t)) for t in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.turns for c in History(Path(path)).chats()) == [WRITES, WRITES]


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "chats.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(path, t)) for t in ("p", "q")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert sorted(c.turns for c in History(Path(path)).chats()) == [WRITES, WRITES]


def test_an_unwritable_history_says_which_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    try:
        History(blocker / "chats.sqlite3").create("q")
    except HistoryError as e:
        assert "chats.sqlite3" in str(e)
    else:
        raise AssertionError("no HistoryError")
