"""Evaluation metrics as pure functions: retrieval against gold papers, citations, answer points,
abstention, cost, aggregation by question type, and the abstention-threshold sweep."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rag.eval.data import LabelledPair
from rag.eval.matching import MIN_OVERLAP, numbers, point_present

from rag.answer.citations import Support, is_abstention
from rag.schema import AskOutput

Value = float | int | bool | None
SUPPORTED_LABELS = frozenset({Support.SUPPORTED, Support.CORRECTED, Support.ADDED})
CORRECT_RECALL = 0.5  # an answer with at least half its points counts as correct (calibration)

# -- retrieval (ranked paper ids against the set of gold paper ids) ----------------------------


def hit_at(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    return float(any(p in gold for p in ranked[:k]))


def recall_at(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    return len(set(ranked[:k]) & set(gold)) / len(gold)


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str]) -> float:
    return next((1.0 / r for r, p in enumerate(ranked, start=1) if p in gold), 0.0)


def ndcg_at(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Binary relevance: each gold paper in the top k earns 1 / log2(rank + 1)."""
    dcg = sum(1 / math.log2(r + 1) for r, p in enumerate(ranked[:k], start=1) if p in gold)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def retrieval_metrics(
    ranked: Sequence[str], gold: Collection[str], given_k: int
) -> dict[str, Value]:
    """All retrieval metrics of one question; empty for a question without gold papers.
    `hit@given` = a gold paper is among the `given_k` sources the model is given."""
    if not gold:
        return {}
    return {
        "hit@1": hit_at(ranked, gold, 1),
        "hit@4": hit_at(ranked, gold, 4),
        "hit@5": hit_at(ranked, gold, 5),
        "hit@given": hit_at(ranked, gold, given_k),
        "recall@5": recall_at(ranked, gold, 5),
        "recall@10": recall_at(ranked, gold, 10),
        "mrr": reciprocal_rank(ranked[:10], gold),
        "ndcg@10": ndcg_at(ranked, gold, 10),
    }


# -- citations (on one `rag ask --json` answer) ------------------------------------------------


def cited_numbers(a: AskOutput) -> set[int]:
    return {n for s in a.sentences for n in s.citations} | {c.n for c in a.citations}


def citation_validity(a: AskOutput) -> bool | None:
    """Every cited [n] was given to the model as source n, and names that source's paper."""
    cited = cited_numbers(a)
    if not cited:
        return None
    given = {r.given_as: r.paper_id for r in a.retrieved if r.given_as is not None}
    return cited <= given.keys() and all(given.get(c.n) == c.paper_id for c in a.citations)


def citation_precision(cited: Collection[str], gold: Collection[str]) -> float | None:
    """Share of the cited papers that are gold papers (None when nothing is cited)."""
    return sum(p in gold for p in cited) / len(cited) if cited else None


def gold_coverage(cited: Collection[str], gold: Collection[str]) -> float | None:
    return len(set(cited) & set(gold)) / len(gold) if gold else None


def supported_share(supports: Sequence[str]) -> float | None:
    """Share of the answer's sentences the citation checker found supported (or fixed)."""
    content = [s for s in supports if s != "abstention"]
    return sum(s in SUPPORTED_LABELS for s in content) / len(content) if content else None


# -- answers ----------------------------------------------------------------------------------


def point_recall(answer: str, points: Sequence[str], abstained: bool) -> float:
    return sum(point_present(answer, p, abstained) for p in points) / len(points)


def numeric_match(answer: str, points: Sequence[str], abstained: bool = False) -> bool:
    """The first answer point (the number asked for) is in the answer, numbers normalised; its
    words do not matter. A first point without a number is matched like any point."""
    if not points:
        return False
    overlap = 0.0 if numbers(points[0]) else MIN_OVERLAP
    return point_present(answer, points[0], abstained, min_overlap=overlap)


def answer_metrics(
    qtype: str, a: AskOutput, abstained: bool, points: Sequence[str], gold: Collection[str]
) -> dict[str, Value]:
    """Citation and answer metrics of one answer; `abstained` is the effective decision."""
    cited = [c.paper_id for c in a.citations]
    out: dict[str, Value] = {"abstained": abstained}
    if qtype == "unanswerable":
        return out
    out["point_recall"] = point_recall(a.answer, points, abstained)
    if qtype == "numeric":
        out["numeric_em"] = numeric_match(a.answer, points, abstained)
    if abstained:
        return out
    out["citation_valid"] = citation_validity(a)
    out["supported_share"] = supported_share([s.support for s in a.sentences])
    if qtype in ("lookup", "numeric"):
        out["citation_precision"] = citation_precision(cited, gold)
        out["cites_gold"] = bool(set(cited) & set(gold)) if gold else None
    if qtype == "synthesis":
        out["gold_coverage"] = gold_coverage(cited, gold)
    return out


def cost_metrics(timings: Mapping[str, Value]) -> dict[str, Value]:
    keys = (
        "ttft_ms",
        "total_ms",
        "prompt_tokens",
        "cached_tokens",
        "evidence_ms",
        "completion_tokens",
        "gen_tokens_per_s",
    )
    return {k: timings.get(k) for k in keys}


def correct(qtype: str, m: Mapping[str, Value]) -> bool:
    """Counts as a correct answer, if answered (used by the calibration sweep)."""
    if qtype == "unanswerable":
        return False
    if "point_recall" not in m:  # retrieval only: the evidence the model needs was given
        return bool(m.get("hit@given"))
    if qtype == "numeric":
        return bool(m.get("numeric_em"))
    return float(m.get("point_recall") or 0.0) >= CORRECT_RECALL


# -- abstention and cost over a set of questions -----------------------------------------------


def abstention_scores(rows: Iterable[tuple[bool, bool]]) -> dict[str, Value]:
    """rows = (unanswerable, abstained). Abstaining on an unanswerable question is a hit."""
    pairs = list(rows)
    tp = sum(u and a for u, a in pairs)
    abstained = sum(a for _, a in pairs)
    unanswerable = sum(u for u, _ in pairs)
    answerable = len(pairs) - unanswerable
    return {
        "abstain_precision": tp / abstained if abstained else None,
        "abstain_recall": tp / unanswerable if unanswerable else None,
        "false_abstention": (abstained - tp) / answerable if answerable else None,
    }


def percentile(values: Iterable[Value], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of the non-missing values."""
    xs = sorted(float(v) for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[Value]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


# -- aggregation ----------------------------------------------------------------------------

MEAN_KEYS = (
    "hit@1",
    "hit@4",
    "hit@5",
    "hit@given",
    "number_in_sources",
    "recall@5",
    "recall@10",
    "mrr",
    "ndcg@10",
    "citation_valid",
    "citation_precision",
    "cites_gold",
    "gold_coverage",
    "supported_share",
    "point_recall",
    "numeric_em",
    "abstained",
    "evidence_answer",
)


def group_means(metrics: Sequence[Mapping[str, Value]]) -> dict[str, Value]:
    return {k: mean(m.get(k) for m in metrics) for k in MEAN_KEYS} | {"n": len(metrics)}


def cost_summary(metrics: Sequence[Mapping[str, Value]]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for key in ("ttft_ms", "total_ms", "retrieve_ms", "evidence_ms"):
        out[f"{key}_p50"] = percentile((m.get(key) for m in metrics), 50)
        out[f"{key}_p95"] = percentile((m.get(key) for m in metrics), 95)
    out["prompt_tokens_mean"] = mean(m.get("prompt_tokens") for m in metrics)
    uncached = [
        float(m["prompt_tokens"] or 0) - float(m.get("cached_tokens") or 0)
        for m in metrics
        if m.get("prompt_tokens") is not None
    ]
    out["uncached_tokens_mean"] = mean(uncached)
    out["gen_tokens_per_s_p50"] = percentile((m.get("gen_tokens_per_s") for m in metrics), 50)
    return out


def aggregate(rows: Sequence[tuple[str, Mapping[str, Value]]]) -> dict[str, dict[str, Value]]:
    """rows = (question type, per-question metrics) → {"all": …, "lookup": …, …}."""
    groups = {"all": group_means([m for _, m in rows])}
    for qtype in dict.fromkeys(t for t, _ in rows):
        groups[qtype] = group_means([m for t, m in rows if t == qtype])
    answered = [(t == "unanswerable", bool(m.get("abstained"))) for t, m in rows]
    groups["all"] |= abstention_scores(answered) | cost_summary([m for _, m in rows])
    return groups


# -- calibration of the retrieval abstention threshold -----------------------------------------


@dataclass(frozen=True)
class CalibPoint:
    # The score the threshold applies to: p(answerable) of the abstention rule, or (legacy
    # gate) the best dense similarity; None: no score (bm25), the threshold never applies.
    best_similarity: float | None
    unanswerable: bool
    correct: bool  # the answer, when given, is correct
    model_abstained: bool  # the model (not the threshold) abstained


@dataclass(frozen=True)
class SweepRow:
    threshold: float
    coverage: float  # share of all questions answered
    answered_accuracy: float | None  # share of answered questions answered correctly
    overall: float  # correct answers + correct abstentions, over all questions
    abstain_recall: float | None
    false_abstention: float | None
    abstain_precision: float | None = None


def answers_at(p: CalibPoint, threshold: float) -> bool:
    gated = p.best_similarity is not None and p.best_similarity < threshold
    return not gated and not p.model_abstained


def sweep_row(points: Sequence[CalibPoint], t: float) -> SweepRow:
    answered = [p for p in points if answers_at(p, t)]
    good = sum(p.correct for p in answered)
    right_abstain = sum(p.unanswerable and not answers_at(p, t) for p in points)
    scores = abstention_scores((p.unanswerable, not answers_at(p, t)) for p in points)
    return SweepRow(
        threshold=round(t, 4),
        coverage=len(answered) / len(points),
        answered_accuracy=good / len(answered) if answered else None,
        overall=(good + right_abstain) / len(points),
        abstain_recall=scores["abstain_recall"],  # type: ignore[arg-type]
        false_abstention=scores["false_abstention"],  # type: ignore[arg-type]
        abstain_precision=scores["abstain_precision"],  # type: ignore[arg-type]
    )


def sweep(points: Sequence[CalibPoint], thresholds: Iterable[float]) -> list[SweepRow]:
    return [sweep_row(points, t) for t in thresholds] if points else []


def thresholds(lo: float = 0.0, hi: float = 0.7, step: float = 0.01) -> list[float]:
    return [round(lo + i * step, 4) for i in range(int(round((hi - lo) / step)) + 1)]


def best_runs(rows: Sequence[SweepRow]) -> list[list[SweepRow]]:
    """Runs of consecutive thresholds that share the best overall score."""
    best = max(r.overall for r in rows)
    runs: list[list[SweepRow]] = []
    for prev, row in zip([None, *rows], rows, strict=False):
        if row.overall == best:
            if prev is not None and prev.overall == best:
                runs[-1].append(row)
            else:
                runs.append([row])
    return runs


def choose_threshold(rows: Sequence[SweepRow], configured: float | None = None) -> SweepRow | None:
    """The threshold with the best overall score (correct answers plus correct abstentions):
    the configured one if it already has that score, else the middle of the widest run of
    thresholds with it (a margin on both sides)."""
    if not rows:
        return None
    runs = best_runs(rows)
    keep = [r for run in runs for r in run if r.threshold == configured]
    if keep:
        return keep[0]
    widest = max(runs, key=len)
    return widest[len(widest) // 2]


# -- the matcher against hand labels -----------------------------------------------------------


@dataclass(frozen=True)
class MatcherScore:
    min_overlap: float
    n: int
    agreement: float
    precision: float | None
    recall: float | None


def matcher_agreement(
    labels: Sequence[LabelledPair], min_overlap: float = MIN_OVERLAP
) -> MatcherScore:
    said = [point_present(p.answer, p.point, is_abstention(p.answer), min_overlap) for p in labels]
    truth = [p.label for p in labels]
    tp = sum(s and t for s, t in zip(said, truth, strict=True))
    return MatcherScore(
        min_overlap=min_overlap,
        n=len(labels),
        agreement=sum(s == t for s, t in zip(said, truth, strict=True)) / len(labels),
        precision=tp / sum(said) if any(said) else None,
        recall=tp / sum(truth) if any(truth) else None,
    )
