"""Which scored sentences become the evidence: a pure function over scores, token costs and
sentence-to-sentence similarities.

0. Lead (optional): the given `first` sentences (the answer's own picks), in order, while
   they fit the budget and the per-paper cap.
1. Seed: every paper, best paper first, gets its best sentence that still fits the budget (a
   paper's title and source delimiters are paid once, when its first sentence is taken). A
   paper none of whose sentences fits is left out: the budget is a hard limit.
2. Fill by maximal marginal relevance, `lam * score - (1 - lam) * max similarity to the chosen`,
   among sentences scoring at least `min_relative` of the best, at most `max_per_paper` per
   paper; a sentence as similar as `max_similarity` to a chosen one (a near-duplicate) is never
   taken, so a second paper's different sentence wins over a repeat of the first's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Budget", "Pool", "select"]


@dataclass(frozen=True)
class Budget:
    tokens: int
    max_per_paper: int
    lam: float = 0.6
    min_relative: float = 0.7
    max_similarity: float = 0.8


@dataclass(frozen=True)
class Pool:
    """Candidate sentences: parallel arrays, plus each paper's one-off cost (title, tags)."""

    scores: Sequence[float]
    papers: Sequence[int]
    tokens: Sequence[int]
    similarity: np.ndarray  # (n, n) cosine between candidate sentences
    paper_cost: Sequence[int]


def select(pool: Pool, budget: Budget, first: Sequence[int] = ()) -> list[int]:
    """Indices of the chosen sentences, in the order they were chosen."""
    chosen: list[int] = []
    spent = _lead(pool, budget, chosen, first)
    spent += _seed(pool, budget, chosen, spent)
    floor = budget.min_relative * max(pool.scores, default=0.0)
    open_ = [i for i in range(len(pool.scores)) if i not in chosen and pool.scores[i] >= floor]
    while open_:
        best = max(open_, key=lambda i: _mmr(pool, budget.lam, chosen, i))
        open_.remove(best)
        cost = _cost(pool, chosen, best)
        if _allowed(pool, budget, chosen, best) and spent + cost <= budget.tokens:
            chosen.append(best)
            spent += cost
    return chosen


def _lead(pool: Pool, budget: Budget, chosen: list[int], first: Sequence[int]) -> int:
    spent = 0
    for i in dict.fromkeys(first):
        cost = _cost(pool, chosen, i)
        if _allowed(pool, budget, chosen, i) and spent + cost <= budget.tokens:
            chosen.append(i)
            spent += cost
    return spent


def _seed(pool: Pool, budget: Budget, chosen: list[int], spent: int = 0) -> int:
    """One sentence for each paper not chosen yet, best paper first; returns the tokens."""
    by_paper: dict[int, list[int]] = {}
    for i in sorted(range(len(pool.scores)), key=lambda i: -pool.scores[i]):
        by_paper.setdefault(pool.papers[i], []).append(i)
    start = spent
    taken = {pool.papers[j] for j in chosen}
    for paper, ranked in by_paper.items():  # dict order: the paper with the best sentence first
        if paper in taken:
            continue
        fits = [i for i in ranked if spent + _cost(pool, chosen, i) <= budget.tokens]
        if fits:
            spent += _cost(pool, chosen, fits[0])
            chosen.append(fits[0])
    return spent - start


def _cost(pool: Pool, chosen: Sequence[int], i: int) -> int:
    first = all(pool.papers[j] != pool.papers[i] for j in chosen)
    return pool.tokens[i] + (pool.paper_cost[pool.papers[i]] if first else 0)


def _allowed(pool: Pool, budget: Budget, chosen: Sequence[int], i: int) -> bool:
    same = sum(pool.papers[j] == pool.papers[i] for j in chosen)
    return same < budget.max_per_paper and _redundancy(pool, chosen, i) < budget.max_similarity


def _redundancy(pool: Pool, chosen: Sequence[int], i: int) -> float:
    return max((float(pool.similarity[i, j]) for j in chosen), default=0.0)


def _mmr(pool: Pool, lam: float, chosen: Sequence[int], i: int) -> float:
    return lam * pool.scores[i] - (1 - lam) * _redundancy(pool, chosen, i)
