"""The JSON contracts other tools read (`rag search --json`, `rag ask --json`). Field names are
fixed by the issues; fields may be added, never renamed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from rag.answer.citations import Sentence
from rag.answer.events import Answer, Source
from rag.index.retrieve import PaperHit, Retrieval


class SearchHit(BaseModel):
    rank: int
    paper_id: str
    title: str
    score: float
    chunk: str
    sources: list[str]
    dense_similarity: float | None = None
    # Issue #13 (null or empty when the record has none):
    page: int | None = None  # the PDF page of the passage shown; null for an abstract
    authors: list[str] = []
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    url: str | None = None


class SearchTimings(BaseModel):
    retrieve_ms: float


class SearchOutput(BaseModel):
    question: str
    results: list[SearchHit]
    timings: SearchTimings
    mode: str
    filters: dict[str, Any] = {}  # {"year": [from, to], "author": …, "source": …} as applied


def paper_fields(h: PaperHit) -> dict[str, Any]:
    return {
        "page": h.page,
        "authors": list(h.authors),
        "year": h.year,
        "venue": h.venue,
        "doi": h.doi,
        "url": h.url,
    }


def hit_fields(h: PaperHit) -> dict[str, Any]:
    """The fields a retrieved paper has in every JSON output."""
    sim = None if h.dense_similarity is None else round(h.dense_similarity, 4)
    return {
        "rank": h.rank,
        "paper_id": h.paper_id,
        "title": h.title,
        "score": round(h.score, 6),
        "chunk": h.chunk,
        "sources": list(h.sources),
        "dense_similarity": sim,
    } | paper_fields(h)


def search_output(r: Retrieval) -> SearchOutput:
    hits = [SearchHit(**hit_fields(h)) for h in r.hits]
    return SearchOutput(
        question=r.question,
        results=hits,
        timings=SearchTimings(retrieve_ms=round(r.retrieve_ms, 2)),
        mode=r.mode,
        filters=r.filters.record(),
    )


class Citation(BaseModel):
    n: int
    paper_id: str
    title: str
    sources: list[str]
    page: int | None = None  # the page of the passage the model was given (issue #13)
    authors: list[str] = []
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    url: str | None = None


class EvidenceRefOut(BaseModel):
    """An evidence sentence supporting an answer sentence (its provenance)."""

    n: int
    paper_id: str
    sentence: str
    score: float
    page: int | None = None  # the PDF page the sentence is on; null for an abstract


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    support: str
    score: float | None = None
    evidence: list[EvidenceRefOut] = []
    note: str | None = None


class EvidenceOut(BaseModel):
    """One sentence of the instant extractive answer."""

    n: int
    paper_id: str
    title: str
    sentence: str
    score: float
    page: int | None = None


class ModeOut(BaseModel):
    survey: bool
    papers: int
    reason: str


class Retrieved(SearchHit):
    given_as: int | None = None  # the [n] this paper had in the prompt, if it was given


class AskOutput(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    sentences: list[SentenceOut]
    retrieved: list[Retrieved]
    timings: dict[str, float | int | bool | None]
    model: str
    fingerprint: str
    abstain_reason: str | None = None
    standalone_question: str | None = None
    evidence: list[EvidenceOut] = []
    answer_kind: str = "generative"  # generative | hybrid | extractive | evidence | abstention
    mode: ModeOut | None = None
    decision: dict[str, float | int | bool | str | None] | None = None
    filters: dict[str, Any] = {}


def _sentence(s: Sentence) -> SentenceOut:
    refs = [
        EvidenceRefOut(n=r.n, paper_id=r.paper_id, sentence=r.sentence, score=r.score, page=r.page)
        for r in s.evidence
    ]
    return SentenceOut(
        text=s.text,
        citations=list(s.citations),
        support=s.support,
        score=s.score,
        evidence=refs,
        note=s.note,
    )


def _evidence(a: Answer) -> list[EvidenceOut]:
    if a.evidence is None:
        return []
    return [
        EvidenceOut(
            n=n, paper_id=s.paper_id, title=s.title, sentence=s.text, score=s.score, page=s.page
        )
        for n, s in a.evidence.sentences
    ]


def _mode(a: Answer) -> ModeOut | None:
    m = a.mode
    return ModeOut(survey=m.survey, papers=m.papers, reason=m.reason) if m else None


def _retrieved(a: Answer, given: dict[str, int]) -> list[Retrieved]:
    """This retrieval's papers, then any given paper it did not return (a follow-up keeps the
    papers and numbers of the turn it continues), so every [n] resolves."""
    hits = [Retrieved(**hit_fields(h), given_as=given.get(h.paper_id)) for h in a.retrieval.hits]
    seen = {h.paper_id for h in a.retrieval.hits}
    kept = [
        Retrieved(**hit_fields(s.hit), given_as=s.n)
        for s in a.sources
        if s.hit.paper_id not in seen
    ]
    return hits + kept


def cited_page(a: Answer, source: Source) -> int | None:
    """The page a citation points at: of the first evidence sentence supporting an answer
    sentence that cites it, else of the first evidence sentence it was given, else of its
    best chunk; None for an abstract."""
    for sentence in a.sentences:
        for ref in sentence.evidence:
            if ref.n == source.n and ref.page is not None:
                return ref.page
    given = [x.page for x in source.sentences if x.page is not None]
    return given[0] if given else source.hit.page


def ask_output(a: Answer, model: str, fingerprint: str) -> AskOutput:
    given = {s.hit.paper_id: s.n for s in a.sources}
    return AskOutput(
        question=a.question,
        answer=a.text,
        abstained=a.abstained,
        citations=[
            Citation(
                n=s.n,
                paper_id=s.hit.paper_id,
                title=s.hit.title,
                sources=list(s.hit.sources),
                **(paper_fields(s.hit) | {"page": cited_page(a, s)}),
            )
            for s in a.cited
        ],
        sentences=[_sentence(s) for s in a.sentences],
        retrieved=_retrieved(a, given),
        timings=a.timings,
        model=model,
        fingerprint=fingerprint,
        abstain_reason=a.abstain_reason,
        standalone_question=a.standalone_question,
        evidence=_evidence(a),
        answer_kind=a.kind,
        mode=_mode(a),
        decision=a.decision.record() if a.decision else None,
        filters=a.retrieval.filters.record(),
    )
