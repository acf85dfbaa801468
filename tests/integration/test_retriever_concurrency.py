"""One Retriever is shared by concurrent callers (the UI's answers and its /search API): every
result must be the one its own question gets alone, term overlap included."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.errors import QuestionError
from tests.conftest import load_questions

pytestmark = pytest.mark.slow


def fingerprint(r) -> list[tuple]:
    return [(h.paper_id, round(h.score, 6), h.dense_similarity, h.term_overlap) for h in r.hits]


def test_concurrent_searches_get_their_own_results(retriever) -> None:
    questions = [q["question"] for q in load_questions("lookup")][:12]
    alone = {q: fingerprint(retriever.search(q)) for q in questions}
    work = questions * 6
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: (q, fingerprint(retriever.search(q))), work))
    wrong = [q for q, got in results if got != alone[q]]
    assert wrong == [] and len(results) == len(work)


def test_every_caller_gets_the_question_check(retriever) -> None:
    with pytest.raises(QuestionError, match="empty"):
        retriever.search("   ")
    with pytest.raises(QuestionError, match="limit is"):
        retriever.search("x" * (retriever.max_question_chars + 1))
