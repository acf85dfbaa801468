"""BM25 over the store's chunks (bm25s + PyStemmer, English stop words), and the stemmed terms
it sees in a text (used for term overlap)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping

from rag.index.store import StoredChunk


class BM25Index:
    def __init__(self, chunks: list[StoredChunk]) -> None:
        import bm25s
        import Stemmer

        # bm25s sets its own logger to DEBUG, which leaks "Building index" lines to stderr.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self._ids = [c.id for c in chunks]
        self._index = bm25s.BM25()
        tokens = bm25s.tokenize(
            [c.text for c in chunks], stopwords="en", stemmer=self._stemmer, show_progress=False
        )
        self._index.index(tokens, show_progress=False)
        self._doc_share = _doc_shares(tokens.ids, tokens.vocab)

    def terms(self, text: str) -> list[str]:
        """Stemmed content words, as BM25 sees them."""
        tokens = self._bm25s.tokenize(
            [text], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return list(tokens[0]) if tokens else []

    def doc_share(self, word: str) -> float:
        """Share of the chunks that hold `word` (stemmed as BM25 sees it); 0 for a stop word
        or a word the corpus lacks."""
        terms = self.terms(word)
        return max((self._doc_share.get(t, 0.0) for t in terms), default=0.0)

    def share_of(self, term: str) -> float:
        """Share of the chunks that hold an already stemmed term (see `terms`)."""
        return self._doc_share.get(term, 0.0)

    def search(
        self, query: str, n: int, allowed: Mapping[str, bool] | None = None
    ) -> list[tuple[str, float]]:
        """The best `n` chunks for `query`; `allowed` (chunk id → bool): only those that pass a
        filter compete (bm25s scores the others 0, so the top n are the best allowed ones)."""
        tokens = [self.terms(query)]
        if not tokens[0]:
            return []
        mask = None
        if allowed is not None:
            import numpy as np

            mask = np.array([allowed.get(cid, False) for cid in self._ids], dtype=np.float32)
            if not mask.any():
                return []
        n = min(n, len(self._ids))
        docs, scores = self._index.retrieve(
            tokens, k=n, show_progress=False, n_threads=1, weight_mask=mask
        )
        return [(self._ids[d], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


def _doc_shares(ids: list[list[int]], vocab: dict[str, int]) -> dict[str, float]:
    counts = Counter(i for doc in ids for i in set(doc))
    n = max(1, len(ids))
    return {term: counts[i] / n for term, i in vocab.items()}
