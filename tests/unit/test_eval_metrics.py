"""Every eval metric on crafted inputs whose right answer is worked out by hand."""

from __future__ import annotations

import math

import pytest
from rag.eval.metrics import (
    CalibPoint,
    abstention_scores,
    aggregate,
    answer_metrics,
    choose_threshold,
    citation_precision,
    citation_validity,
    correct,
    gold_coverage,
    hit_at,
    ndcg_at,
    numeric_match,
    percentile,
    point_recall,
    recall_at,
    reciprocal_rank,
    retrieval_metrics,
    supported_share,
    sweep,
    sweep_row,
)

from rag.answer.prompts import ABSTAIN_PHRASE
from rag.schema import AskOutput, Citation, Retrieved, SentenceOut

RANKED = ["a", "b", "g1", "c", "g2", "d", "e", "f", "h", "g3"]
GOLD = {"g1", "g2", "g3"}


def test_hit_at_k_counts_a_gold_paper_only_inside_the_cut() -> None:
    assert hit_at(RANKED, GOLD, 2) == 0.0
    assert hit_at(RANKED, GOLD, 3) == 1.0


def test_recall_is_the_share_of_gold_papers_retrieved() -> None:
    assert recall_at(RANKED, GOLD, 5) == pytest.approx(2 / 3)
    assert recall_at(RANKED, GOLD, 10) == 1.0


def test_reciprocal_rank_uses_the_first_gold_paper_and_zero_when_missing() -> None:
    assert reciprocal_rank(RANKED, GOLD) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y"], GOLD) == 0.0


def test_ndcg_is_one_for_a_perfect_ranking_and_matches_the_formula_otherwise() -> None:
    assert ndcg_at(["g1", "g2", "g3", "x"], GOLD, 10) == pytest.approx(1.0)
    dcg = 1 / math.log2(4) + 1 / math.log2(6) + 1 / math.log2(11)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(RANKED, GOLD, 10) == pytest.approx(dcg / ideal)


def test_retrieval_metrics_are_empty_without_gold_papers() -> None:
    assert retrieval_metrics(RANKED, set(), 4) == {}
    m = retrieval_metrics(RANKED, {"c"}, given_k=3)
    assert m["hit@5"] == 1.0 and m["hit@given"] == 0.0 and m["mrr"] == 0.25


def ask(
    text: str = "QLoRA uses NF4 [1].",
    cited: tuple[tuple[int, str], ...] = ((1, "g1"),),
    given: tuple[tuple[str, int | None], ...] = (("g1", 1), ("x", 2), ("y", None)),
    supports: tuple[str, ...] = ("supported",),
    abstained: bool = False,
) -> AskOutput:
    return AskOutput(
        question="q",
        answer=text,
        abstained=abstained,
        citations=[Citation(n=n, paper_id=p, title=p, sources=[]) for n, p in cited],
        sentences=[
            SentenceOut(text=text, citations=[n for n, _ in cited], support=s) for s in supports
        ],
        retrieved=[
            Retrieved(rank=i, paper_id=p, title=p, score=0.5, chunk="", sources=[], given_as=g)
            for i, (p, g) in enumerate(given, 1)
        ],
        timings={"ttft_ms": 100.0, "total_ms": 900.0, "prompt_tokens": 400},
        model="m",
        fingerprint="f",
    )


def test_citation_validity_rejects_a_number_that_was_never_given() -> None:
    assert citation_validity(ask()) is True
    assert citation_validity(ask(cited=((3, "y"),))) is False  # y was retrieved, not given
    assert citation_validity(ask(cited=((2, "g1"),))) is False  # [2] was x, not g1
    assert citation_validity(ask(cited=())) is None


def test_citation_precision_and_gold_coverage() -> None:
    assert citation_precision(["g1", "x"], GOLD) == 0.5
    assert citation_precision([], GOLD) is None
    assert gold_coverage(["g1", "g3", "x"], GOLD) == pytest.approx(2 / 3)


def test_supported_share_counts_corrected_and_added_but_not_abstention_sentences() -> None:
    labels = ["supported", "corrected", "added", "unsupported", "uncited", "abstention"]
    assert supported_share(labels) == pytest.approx(3 / 5)
    assert supported_share(["abstention"]) is None


def test_point_recall_and_numeric_match() -> None:
    text = "DuoAttention decodes a 3.3M-token context with Llama-3-8B on one A100 [1]."
    points = ["3.3 million", "Llama-3-8B on one A100 GPU", "retrieval heads"]
    assert point_recall(text, points, abstained=False) == pytest.approx(2 / 3)
    assert numeric_match(text, points, abstained=False)
    assert not numeric_match("about 3 million tokens", points, abstained=False)
    assert not numeric_match(text, points, abstained=True)


def test_answer_metrics_by_type() -> None:
    lookup = answer_metrics("lookup", ask(), False, ["QLoRA", "NF4"], {"g1"})
    assert lookup["point_recall"] == 1.0 and lookup["citation_precision"] == 1.0
    assert "gold_coverage" not in lookup and "numeric_em" not in lookup
    synthesis = answer_metrics("synthesis", ask(), False, ["QLoRA"], {"g1", "g2"})
    assert synthesis["gold_coverage"] == 0.5
    refused = answer_metrics("lookup", ask(ABSTAIN_PHRASE, cited=()), True, ["QLoRA"], {"g1"})
    assert refused == {"abstained": True, "point_recall": 0.0}


def test_abstention_precision_recall_and_false_abstention() -> None:
    # (unanswerable, abstained): 2 of 3 unanswerable caught, 1 of 4 answerable wrongly refused
    rows = [(True, True), (True, True), (True, False), (False, True)] + [(False, False)] * 3
    s = abstention_scores(rows)
    assert s["abstain_precision"] == pytest.approx(2 / 3)
    assert s["abstain_recall"] == pytest.approx(2 / 3)
    assert s["false_abstention"] == pytest.approx(1 / 4)
    assert abstention_scores([(False, False)])["abstain_precision"] is None


def test_percentile_interpolates_and_skips_missing_values() -> None:
    assert percentile([1, 2, 3, 4, None], 50) == 2.5
    assert percentile([10, 20], 95) == pytest.approx(19.5)
    assert percentile([None], 50) is None


def test_aggregate_groups_by_type_and_adds_abstention_and_cost_to_all() -> None:
    rows = [
        ("lookup", {"hit@5": 1.0, "abstained": False, "ttft_ms": 100}),
        ("lookup", {"hit@5": 0.0, "abstained": True, "ttft_ms": 300}),
        ("unanswerable", {"abstained": True}),
    ]
    g = aggregate(rows)
    assert g["lookup"]["hit@5"] == 0.5 and g["lookup"]["n"] == 2
    assert g["all"]["hit@5"] == 0.5 and g["unanswerable"]["hit@5"] is None
    assert g["all"]["false_abstention"] == 0.5 and g["all"]["abstain_recall"] == 1.0
    assert g["all"]["ttft_ms_p50"] == 200


def test_correct_uses_points_for_answers_and_retrieval_when_there_is_no_answer() -> None:
    assert correct("lookup", {"point_recall": 0.5})
    assert not correct("lookup", {"point_recall": 0.34})
    assert correct("numeric", {"point_recall": 0.0, "numeric_em": True})
    assert correct("lookup", {"hit@given": 1.0}) and not correct("unanswerable", {})


POINTS = [
    CalibPoint(0.20, True, False, False),  # off-topic question, weak retrieval
    CalibPoint(0.30, True, False, True),  # unanswerable; the model abstains by itself
    CalibPoint(0.35, False, True, False),
    CalibPoint(0.50, True, False, False),  # unanswerable with a strong-looking match
    CalibPoint(0.60, False, True, False),
    CalibPoint(None, False, False, False),  # bm25-only: the threshold never applies
]


def test_sweep_applies_the_threshold_offline() -> None:
    row = sweep_row(POINTS, 0.32)  # answers the 0.35, 0.50, 0.60 and None questions
    assert row.coverage == pytest.approx(4 / 6)
    assert row.answered_accuracy == pytest.approx(2 / 4)
    assert row.overall == pytest.approx((2 + 2) / 6)
    assert row.abstain_recall == pytest.approx(2 / 3) and row.false_abstention == 0.0


def test_chosen_threshold_is_in_the_middle_of_the_best_run() -> None:
    rows = sweep(POINTS, [0.1, 0.25, 0.32, 0.34, 0.4, 0.55])
    best = max(r.overall for r in rows)
    chosen = choose_threshold(rows)
    assert chosen is not None and chosen.overall == best
    assert chosen.threshold == 0.32  # best at 0.25, 0.32, 0.34 (and alone at 0.55): the middle
    assert choose_threshold([]) is None


def test_a_configured_threshold_with_the_best_score_is_kept() -> None:
    rows = sweep(POINTS, [0.1, 0.25, 0.32, 0.34, 0.4, 0.55])
    assert choose_threshold(rows, configured=0.55).threshold == 0.55  # type: ignore[union-attr]
    assert choose_threshold(rows, configured=0.4).threshold == 0.32  # type: ignore[union-attr]
