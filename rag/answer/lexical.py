"""Lexical evidence: stemmed terms, corpus document frequencies, BM25 and IDF-weighted term
coverage. Pure functions over term lists; the stemmer is the one BM25 retrieval uses.

IDF is computed over papers (title + abstract), so a term most papers share ("model",
"language") weighs little and a distinctive one ("Hedgehog", "NF4") weighs a lot. A question
term the corpus never uses gets the highest IDF: its absence from the evidence is informative."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rag.index.bm25 import K1, WORD, B, stem
from rag.index.bm25 import STOP_WORDS as BM25_STOP_WORDS

__all__ = ["STOP_WORDS", "CorpusStats", "terms", "bm25", "coverage"]

# BM25's stop words (Lucene's English set) plus question words: they carry no evidence either way.
_QUESTION_WORDS = (
    "what which who whom whose when where why how does do did can could would should has have "
    "had any some each its we our you your i me my from about than also been were paper papers"
)
STOP_WORDS = BM25_STOP_WORDS | frozenset(_QUESTION_WORDS.split())


def terms(text: str) -> list[str]:
    """Lower-cased, stop words removed, Snowball-stemmed words."""
    words = [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]
    return stem(words)


@dataclass(frozen=True)
class CorpusStats:
    n_docs: int
    df: Mapping[str, int]
    avg_len: float

    @classmethod
    def of(cls, docs: Iterable[Sequence[str]]) -> CorpusStats:
        df: Counter[str] = Counter()
        n = total = 0
        for doc in docs:
            df.update(set(doc))
            n += 1
            total += len(doc)
        return cls(n, dict(df), total / n if n else 0.0)

    def idf(self, term: str) -> float:
        """BM25's idf; a term absent from the corpus gets the largest value."""
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))


def bm25(query: Sequence[str], doc: Sequence[str], stats: CorpusStats) -> float:
    """Okapi BM25 of one document for the query terms (each distinct query term once)."""
    if not doc:
        return 0.0
    tf = Counter(doc)
    norm = K1 * (1 - B + B * len(doc) / (stats.avg_len or 1.0))
    return sum(
        stats.idf(t) * tf[t] * (K1 + 1) / (tf[t] + norm) for t in dict.fromkeys(query) if t in tf
    )


def coverage(query: Sequence[str], found: Iterable[str], stats: CorpusStats) -> float:
    """Share of the query's IDF mass whose terms occur in `found` (0 when the query has no
    content terms): distinctive terms count more than common ones."""
    wanted = set(query)
    total = sum(stats.idf(t) for t in wanted)
    if total <= 0:
        return 0.0
    present = wanted & set(found)
    return sum(stats.idf(t) for t in present) / total
