"""The JSON contracts other tools read (`rag search --json`, `rag ask --json`). Field names are
fixed by the issues; fields may be added, never renamed."""

from __future__ import annotations

from pydantic import BaseModel

from rag.retrieve import Retrieval


class SearchHit(BaseModel):
    rank: int
    paper_id: str
    title: str
    score: float
    chunk: str
    sources: list[str]
    dense_similarity: float | None = None


class SearchTimings(BaseModel):
    retrieve_ms: float


class SearchOutput(BaseModel):
    question: str
    results: list[SearchHit]
    timings: SearchTimings
    mode: str


def search_output(r: Retrieval) -> SearchOutput:
    hits = [
        SearchHit(
            rank=h.rank,
            paper_id=h.paper_id,
            title=h.title,
            score=round(h.score, 6),
            chunk=h.chunk,
            sources=list(h.sources),
            dense_similarity=None if h.dense_similarity is None else round(h.dense_similarity, 4),
        )
        for h in r.hits
    ]
    return SearchOutput(
        question=r.question,
        results=hits,
        timings=SearchTimings(retrieve_ms=round(r.retrieve_ms, 2)),
        mode=r.mode,
    )
