"""BM25 over the store's chunks, and the stemmed terms it sees in a text (used for term overlap).

Lucene's BM25 (k1 1.5, b 0.75; idf = ln(1 + (N - df + 0.5) / (df + 0.5))) over lower-cased words
of two or more letters, Lucene's English stop words removed, Snowball-stemmed (PyStemmer): the
scores bm25s 0.3.16 gives with `stopwords="en"` and that stemmer, which is what this replaced
(tests/integration/test_bm25.py holds it to them). Written in numpy because importing bm25s
imports scipy.sparse, ~0.25 s of a cold `rag ask --no-llm`, for a sum of precomputed scores.

Each term's postings (chunk, precomputed score) are one slice of two arrays; a query's score is
the sum over its terms' postings (a repeated term counts again, as in bm25s)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from rag.index.store import StoredChunk

K1, B = 1.5, 0.75
WORD = re.compile(r"(?u)\b\w\w+\b")
_STOP_TEXT = (  # Lucene's English stop set (bm25s's "en")
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(words: list[str]) -> list[str]:
    return list(_stemmer().stemWords(words)) if words else []


def terms(text: str) -> list[str]:
    """Stemmed content words, in order, repeats kept."""
    return stem([w for w in WORD.findall(text.lower()) if w not in STOP_WORDS])


class BM25Index:
    def __init__(self, chunks: list[StoredChunk]) -> None:
        self._ids = [c.id for c in chunks]
        vocab: dict[str, int] = {}
        docs = [[vocab.setdefault(t, len(vocab)) for t in terms(c.text)] for c in chunks]
        self._vocab = vocab
        self._postings, self._scores, self._starts = _postings(docs, len(vocab))
        df = np.diff(self._starts)
        n = max(1, len(docs))
        self._doc_share = {t: float(df[i]) / n for t, i in vocab.items()}

    def terms(self, text: str) -> list[str]:
        """Stemmed content words, as BM25 sees them."""
        return terms(text)

    def doc_share(self, word: str) -> float:
        """Share of the chunks that hold `word` (stemmed as BM25 sees it); 0 for a stop word
        or a word the corpus lacks."""
        return max((self._doc_share.get(t, 0.0) for t in terms(word)), default=0.0)

    def share_of(self, term: str) -> float:
        """Share of the chunks that hold an already stemmed term (see `terms`)."""
        return self._doc_share.get(term, 0.0)

    def search(
        self, query: str, n: int, allowed: Mapping[str, bool] | None = None
    ) -> list[tuple[str, float]]:
        """The best `n` chunks for `query` with a score above 0 (ties in stored order);
        `allowed` (chunk id → bool): only those that pass a filter compete."""
        wanted = [self._vocab[t] for t in terms(query) if t in self._vocab]
        if not wanted or not self._ids:
            return []
        scores = np.zeros(len(self._ids), dtype=np.float32)
        for t in wanted:
            start, end = self._starts[t], self._starts[t + 1]
            scores[self._postings[start:end]] += self._scores[start:end]
        if allowed is not None:
            scores *= np.array([allowed.get(c, False) for c in self._ids], dtype=np.float32)
        best = np.argsort(-scores, kind="stable")[:n]
        return [(self._ids[i], float(scores[i])) for i in best.tolist() if scores[i] > 0]


def _postings(docs: list[list[int]], n_terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chunk index, score) of every (term, chunk) pair, grouped by term; `starts[t]` is where
    term t's slice begins."""
    term_of, doc_of, tf = [], [], []
    for d, ids in enumerate(docs):
        for t, count in Counter(ids).items():
            term_of.append(t)
            doc_of.append(d)
            tf.append(count)
    terms_a = np.array(term_of, dtype=np.int64)
    docs_a = np.array(doc_of, dtype=np.int64)
    tf_a = np.array(tf, dtype=np.float32)
    lengths = np.array([len(ids) for ids in docs], dtype=np.float32)
    avg = float(lengths.mean()) if len(docs) else 1.0
    df = np.bincount(terms_a, minlength=n_terms)
    n = len(docs)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = (K1 * ((1 - B) + B * lengths[docs_a] / (avg or 1.0))).astype(np.float32)
    scores = idf[terms_a] * (tf_a / (norm + tf_a))
    order = np.argsort(terms_a, kind="stable")
    starts = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    return docs_a[order], scores[order].astype(np.float32), starts
