"""One abstention decision: the eval records the engine's decision, every feature it used, and
re-decides from those features with the same function to the same result, for questions the
engine answers, abstains on before generation, and abstains on after the model refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag.eval.data import Question
from rag.eval.runner import Memo, Plan, full_record, gated, retrieval_only_record

from rag.answer.abstention import FEATURES, Gate, decide, features_from_record
from rag.answer.prompts import ABSTAIN_PHRASE
from rag.settings import Settings
from tests.unit.test_answer_engine import FakeChatClient, FakeRetriever, engine, hit

CASES = {  # name: (hits, model reply or None when the model is never asked)
    "answers": ([hit(1, "p1", 0.7), hit(2, "p2", 0.5)], "Tasks share latent skills [1]."),
    "weak": ([hit(1, "p3", 0.2)], None),
    "refused": ([hit(1, "p1", 0.6), hit(2, "p2", 0.5)], ABSTAIN_PHRASE),
    "refused-strong": ([hit(1, "p1", 0.7)], ABSTAIN_PHRASE),
}


def question(qid: str) -> Question:
    return Question(
        qid=qid,
        type="lookup",
        question="How are skills shared?",
        gold_titles=[],
        answer_points=["skills"],
    )


@pytest.mark.parametrize("name", list(CASES))
def test_eval_and_engine_make_the_same_decision(name: str, tmp_path: Path) -> None:
    hits, reply = CASES[name]
    llm = FakeChatClient([reply] if reply else [])
    eng = engine(llm, hits)
    plan = Plan("default", Settings(data_dir=tmp_path))
    q = question(name)
    shipped = eng.ask(q.question)
    llm.replies = [reply] if reply else []
    rec = full_record(plan, q, Memo(FakeRetriever(hits)), eng)  # type: ignore[arg-type]

    assert rec.metrics["abstained"] == shipped.abstained
    assert rec.decision == shipped.decision.record()  # type: ignore[union-attr]
    assert {f"feature_{k}" for k in FEATURES} <= set(rec.decision or {})
    assert gated(rec.decision, eng) == (shipped.abstain_reason == "retrieval")
    before = retrieval_only_record(plan, q, Memo(FakeRetriever(hits)), eng)  # type: ignore[arg-type]
    assert before.metrics["gated"] == (shipped.abstain_reason == "retrieval")
    assert rec.metrics["model_abstained"] == (shipped.abstain_reason == "model")


def test_the_legacy_gate_goes_through_the_same_function() -> None:
    gate = Gate(0.32, 0.5)
    weak = {"feature_dense": 0.2, "feature_chunk_overlap": 0.1, "feature_hits": 3}
    strong = {"feature_dense": 0.2, "feature_chunk_overlap": 0.8, "feature_hits": 3}
    assert not decide(features_from_record(weak), gate).answerable
    assert decide(features_from_record(strong), gate).answerable
    assert not decide(features_from_record(strong), gate, model_abstained=True).answerable
