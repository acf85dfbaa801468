"""Retrieval for one turn of a conversation (called from the engine's retrieval step).

A follow-up (see `followup_cue` in rag/answer/conversation.py) is searched twice — on its own
words and joined to the previous standalone question — and when it refers back ("the gated
variant", "that benchmark", a pronoun) the previous turn's papers are a third ranking; the
three are fused by reciprocal rank. The rule also fires on many self-contained questions ("…and
what data type does it introduce?"): their own ranking keeps their paper among the sources.
bench/followups.py measures it (gold paper among the papers given to the model).

A follow-up that refers back but whose best paper is a new one (not given last turn) that is
only weakly similar to the question in context is about something the store does not hold:
the engine abstains instead of answering from an unrelated paper."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from rag.answer.conversation import Conversation, Cue, Turn, condense, followup_cue
from rag.answer.events import Source
from rag.index.filters import Filters
from rag.index.retrieve import PaperHit, Retrieval, rrf

RRF_K = 60  # rank-fusion constant (as the retriever's own hybrid fusion)
DEPTH = 30  # papers each search returns for the fusion
# A new top paper below this cosine to the question in context is "weak". Measured with
# bench/followups.py: new top papers of real follow-ups and topic shifts were all ≥ 0.44.
WEAK_SIMILARITY = 0.40
# Below this cosine a paper does not match a question (RAG_ANSWER_ABSTAIN_MIN_SCORE's default).
OWN_MIN_SIMILARITY = 0.32


class Searcher(Protocol):
    def search(
        self,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        filters: Filters | None = None,
    ) -> Retrieval: ...


@dataclass(frozen=True)
class TurnQuery:
    """What a turn was retrieved with, and what came back."""

    standalone: str  # the query the answer records (joined to the last one for a follow-up)
    retrieval: Retrieval
    cue: Cue | None = None
    previous_ids: tuple[str, ...] = ()

    @property
    def weak_followup(self) -> bool:
        """Refers back, yet its best paper is new and only weakly similar."""
        if self.cue is not Cue.REFERENCE or not self.previous_ids or not self.retrieval.hits:
            return False
        top = self.retrieval.hits[0]
        if top.paper_id in self.previous_ids:
            return False
        return top.dense_similarity is None or top.dense_similarity < WEAK_SIMILARITY


def retrieve(
    searcher: Searcher,
    question: str,
    conv: Conversation | None,
    top_k: int,
    mode: str | None,
    filters: Filters | None = None,
) -> TurnQuery:
    """The turn's papers (only those `filters` admit: every search of the fusion is filtered)."""
    only: dict[str, Any] = {"filters": filters} if filters else {}
    last = conv.last if conv else None
    cue = followup_cue(question) if last else None
    if last is None or cue is None:
        return TurnQuery(question, searcher.search(question, top_k=top_k, mode=mode, **only))
    query = condense(question, conv)
    own = searcher.search(question, top_k=max(top_k, DEPTH), mode=mode, **only)
    joined = searcher.search(query, top_k=max(top_k, DEPTH), mode=mode, **only)
    rankings = [(joined.hits, 1.0), (matching(own.hits), 1.0)]
    if cue is Cue.REFERENCE:
        rankings.append((previous_papers(last, joined.hits), 1.0))
    hits = fuse(rankings, top_k)
    took = own.retrieve_ms + joined.retrieve_ms
    r = Retrieval(query, hits, joined.mode, took, joined.filters)
    return TurnQuery(query, r, cue, last.paper_ids)


def given(
    question: str,
    conv: Conversation | None,
    sources: Sequence[Source],
    mode: str,
    filters: Filters | None = None,
) -> TurnQuery:
    """A turn answered again on `sources` (regenerate): no search."""
    query = condense(question, conv)
    hits = [s.hit for s in sources]
    return TurnQuery(query, Retrieval(query, hits, mode, 0.0, filters or Filters()))


def previous_papers(last: Turn, joined: Sequence[PaperHit]) -> list[PaperHit]:
    """The last turn's papers, in the order the joined query ranks them (those it missed
    after, in their old order)."""
    ids = set(last.paper_ids)
    ranked = [h for h in joined if h.paper_id in ids]
    seen = {h.paper_id for h in ranked}
    return ranked + [s.hit for s in last.sources if s.hit.paper_id not in seen]


def matching(hits: Sequence[PaperHit]) -> list[PaperHit]:
    """The hits the question's own words really match. A follow-up's words are few and vague
    ("How does the gated variant work?"): alone they find papers that share a word ("work")
    or sit below the similarity at which the engine abstains — noise that would outvote the
    conversation. In BM25-only mode (no similarities) all hits count."""
    if all(h.dense_similarity is None for h in hits):
        return list(hits)
    return [h for h in hits if (h.dense_similarity or 0.0) >= OWN_MIN_SIMILARITY]


def fuse(rankings: Sequence[tuple[Sequence[PaperHit], float]], k: int) -> list[PaperHit]:
    """The top `k` papers of weighted rankings by reciprocal rank fusion; each paper keeps the
    hit (chunk, similarities) of the first ranking that holds it."""
    scores: dict[str, float] = {}
    first: dict[str, PaperHit] = {}
    for hits, weight in rankings:
        for pid, s in rrf([[h.paper_id for h in hits]], RRF_K).items():
            scores[pid] = scores.get(pid, 0.0) + weight * s
        for h in hits:
            first.setdefault(h.paper_id, h)
    order = sorted(scores, key=lambda p: (-scores[p], p))[:k]
    return [replace(first[p], rank=i, score=scores[p]) for i, p in enumerate(order, start=1)]


def reuses_last_turn(last: Turn | None, wanted: Sequence[str]) -> bool:
    """Whether a follow-up continues the last turn's prompt (the server reuses its KV cache:
    seconds instead of a fresh prefill): only when every paper it wants was given last turn,
    so continuing never hides a new paper from the model."""
    if last is None or not last.messages or not wanted:
        return False
    return set(wanted) <= set(last.paper_ids)
