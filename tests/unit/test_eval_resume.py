"""Resuming: results are appended as questions finish, an interrupted run skips what is done,
a torn last line is dropped, and a record is reused only for the same config and settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag.eval.data import Question
from rag.eval.records import (
    EvalRecord,
    RetrievalRecord,
    append_record,
    load_records,
    pending,
    select,
)
from rag.eval.runner import Plan, run_pending, take

from rag.errors import ConfigError
from rag.settings import Settings


def question(qid: str, qtype: str = "lookup") -> Question:
    return Question(qid=qid, type=qtype, question=f"q {qid}", gold_titles=[], answer_points=["x"])


QUESTIONS = [question(f"L{i}") for i in range(1, 5)]


def record(plan: Plan, q: Question) -> EvalRecord:
    return EvalRecord(
        config=plan.name,
        qid=q.qid,
        type=q.type,
        question=q.question,
        mode="retrieval",
        fingerprint=plan.fingerprint,
        model=None,
        abstain_min_score=0.32,
        retrieval=RetrievalRecord(
            paper_ids=["p1"],
            titles=["t"],
            dense_similarities=[0.5],
            retrieve_ms=1.0,
            best_similarity=0.5,
        ),
        metrics={"hit@5": 1.0},
        finished_at="2026-01-01T00:00:00+00:00",
    )


class FakeEvaluator:
    """Stands in for retrieval / the model; can be told to fail (an interrupt) at call n."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_at = fail_at

    def __call__(self, plan: Plan, q: Question) -> EvalRecord:
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise KeyboardInterrupt
        self.calls.append((plan.name, q.qid))
        return record(plan, q)


@pytest.fixture
def plans(tmp_path: Path) -> list[Plan]:
    base = Settings(data_dir=tmp_path)
    dense = base.model_copy(
        update={"retrieval": base.retrieval.model_copy(update={"mode": "dense"})}
    )
    return [Plan("default", base), Plan("dense", dense)]


def keys(plans: list[Plan]) -> list[tuple[str, str, str, str]]:
    return [(p.name, "retrieval", p.fingerprint, q.qid) for q in QUESTIONS for p in plans]


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path, plans: list[Plan]) -> None:
    results = tmp_path / "results.jsonl"
    first = FakeEvaluator(fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_pending(keys(plans), QUESTIONS, plans, first, results, progress=False)
    assert len(load_records(results)) == 3  # each finished question was written at once

    second = FakeEvaluator()
    todo = pending(keys(plans), load_records(results))
    run_pending(todo, QUESTIONS, plans, second, results, progress=False)
    assert not set(first.calls) & set(second.calls)
    assert len(second.calls) == 8 - 3
    assert [r.key for r in select(keys(plans), load_records(results))] == keys(plans)


def test_changed_settings_are_not_taken_from_an_older_run(
    tmp_path: Path, plans: list[Plan]
) -> None:
    results = tmp_path / "results.jsonl"
    run_pending(keys(plans), QUESTIONS, plans, FakeEvaluator(), results, progress=False)
    s = plans[0].settings
    changed = [
        Plan(
            "default",
            s.model_copy(update={"answer": s.answer.model_copy(update={"max_sources": 2})}),
        )
    ]
    assert len(pending(keys(changed), load_records(results))) == len(QUESTIONS)
    assert pending(keys(plans), load_records(results)) == []


def test_a_torn_last_line_is_dropped_and_appending_continues(
    tmp_path: Path, plans: list[Plan]
) -> None:
    results = tmp_path / "results.jsonl"
    append_record(results, record(plans[0], QUESTIONS[0]))
    with results.open("a") as f:
        f.write('{"config": "default", "qid": "L2", "ty')  # killed mid-write
    assert [r.qid for r in load_records(results)] == ["L1"]
    append_record(results, record(plans[0], QUESTIONS[1]))
    assert [r.qid for r in load_records(results)] == ["L1", "L2"]


def test_a_file_that_is_not_eval_records_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "results.jsonl"
    bad.write_text('{"something": "else"}\n')
    with pytest.raises(ConfigError, match="not an eval record"):
        load_records(bad)


def test_limit_takes_questions_round_robin_across_types_in_file_order() -> None:
    qs = [question("L1"), question("L2"), question("L3"), question("U1", "unanswerable")]
    qs += [question("N1", "numeric"), question("U2", "unanswerable")]
    assert [q.qid for q in take(qs, 4)] == ["L1", "L2", "U1", "N1"]
    assert take(qs, None) == qs
    with pytest.raises(ConfigError):
        take(qs, 0)
