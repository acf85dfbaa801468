"""rag/index/bm25.py against bm25s 0.3.16 (what it replaced, kept as a test dependency), on the
session's real store and every question of both eval sets: the same terms, the same scores,
and the same chunks in the same order wherever the scores differ (bm25s orders equal scores
arbitrarily, by its partial sort; ours keeps stored order)."""

from __future__ import annotations

import json

import pytest

from rag.index.bm25 import BM25Index
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
QUESTIONS = [
    json.loads(line)["question"]
    for name in ("questions.jsonl", "questions_hard.jsonl")
    for line in (REPO_ROOT / "eval" / name).read_text().splitlines()
    if line.strip()
]
TIE = 1e-5


@pytest.fixture(scope="module")
def pair(retriever):
    import bm25s
    import Stemmer

    chunks = retriever.chunks()
    stemmer = Stemmer.Stemmer("english")
    ref = bm25s.BM25()
    texts = [c.text for c in chunks]
    ref.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), False)

    def reference(q: str, n: int, mask=None) -> tuple[list[str], list[tuple[str, float]]]:
        out = bm25s.tokenize(
            [q], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )
        terms = list(out[0]) if out else []
        if not terms:
            return terms, []
        docs, scores = ref.retrieve(
            [terms], k=n, show_progress=False, n_threads=1, weight_mask=mask
        )
        return terms, [
            (chunks[d].id, float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]

    return BM25Index(chunks), reference, chunks


def same(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> None:
    """Score by score the same list; a chunk in both has the same score in both; a chunk only
    in ours ties with the last one of theirs (a tie at the cut)."""
    assert len(ours) == len(theirs)
    for (_, x), (_, y) in zip(ours, theirs, strict=True):
        assert abs(x - y) < TIE
    ref = dict(theirs)
    for cid, x in ours:
        assert abs(ref.get(cid, theirs[-1][1]) - x) < TIE


def test_the_same_terms_scores_and_order_as_bm25s(pair) -> None:
    mine, reference, _ = pair
    for q in QUESTIONS:
        terms, theirs = reference(q, 40)
        assert mine.terms(q) == terms, q
        same(mine.search(q, 40), theirs)


def test_a_filter_mask_gives_the_same_as_bm25s_weight_mask(pair) -> None:
    import numpy as np

    mine, reference, chunks = pair
    allowed = {c.id: i % 3 == 0 for i, c in enumerate(chunks)}
    mask = np.array([allowed[c.id] for c in chunks], dtype=np.float32)
    for q in QUESTIONS[:40]:
        ours = mine.search(q, 40, allowed)
        assert all(allowed[cid] for cid, _ in ours), q
        same(ours, reference(q, 40, mask)[1])


def test_document_shares_count_chunks_holding_the_stemmed_word(pair) -> None:
    mine, _, chunks = pair
    (term,) = mine.terms("Attention")  # "attent"
    holding = sum(term in mine.terms(c.text) for c in chunks)
    assert mine.doc_share("Attention") == pytest.approx(holding / len(chunks))
    assert mine.doc_share("the") == 0.0 and mine.doc_share("zyxwvut") == 0.0
