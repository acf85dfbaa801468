"""One ended chat turn as data (`TurnRecord`): what the history saves, the export writes and a
reopened chat is rendered from. Plain JSON-able dicts both ways; fields a newer engine adds to
a paper hit (authors, year, DOI…) travel along, and unknown ones are dropped on reading.
No gradio here."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from rag.answer.citations import Sentence, Support
from rag.answer.conversation import Turn
from rag.answer.events import Answer, Source
from rag.index.retrieve import PaperHit, Retrieval

DONE, STOPPED, FAILED = "done", "stopped", "error"
# Abstentions decided before generating: the engine keeps no conversation turn for them.
NOT_GENERATED = frozenset({"retrieval", "followup", "figure"})


@dataclass(frozen=True)
class TurnRecord:
    rid: str  # render id: this turn's anchors on the page
    question: str
    standalone: str
    status: str  # done | stopped | error
    sources: list[Source]
    answer: Answer | None = None  # when done
    partial: str = ""  # text streamed before a stop or an error
    message: str = ""  # the error, when failed
    at: float = field(default_factory=time.time)

    @property
    def cited(self) -> list[Source]:
        return self.answer.cited if self.answer else []

    def conversation_turn(self) -> Turn | None:
        """What a follow-up needs of this turn (no prompt messages: a reopened chat's next
        turn gets a fresh prompt)."""
        a = self.answer
        if a is None or self.status != DONE or a.abstain_reason in NOT_GENERATED:
            return None
        ids = tuple(s.hit.paper_id for s in a.sources)
        return Turn(self.question, self.standalone, a.raw_text or a.text, ids, a.sources, [])


# -- to JSON ----------------------------------------------------------------------------------


def _hit(h: PaperHit) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(h).items()}


def _source(s: Source) -> dict[str, Any]:
    return {"n": s.n, "passage": s.passage, "hit": _hit(s.hit)}


def _sentence(s: Sentence) -> dict[str, Any]:
    return {
        "text": s.text,
        "citations": list(s.citations),
        "support": str(s.support),
        "score": s.score,
    }


def _answer(a: Answer) -> dict[str, Any]:
    return {
        "text": a.text,
        "raw_text": a.raw_text,
        "abstained": a.abstained,
        "abstain_reason": a.abstain_reason,
        "sentences": [_sentence(s) for s in a.sentences],
        "timings": a.timings,
        "mode": a.retrieval.mode,
    }


def to_dict(r: TurnRecord) -> dict[str, Any]:
    return {
        "rid": r.rid,
        "question": r.question,
        "standalone": r.standalone,
        "status": r.status,
        "sources": [_source(s) for s in r.sources],
        "answer": _answer(r.answer) if r.answer else None,
        "partial": r.partial,
        "message": r.message,
        "at": r.at,
    }


# -- from JSON --------------------------------------------------------------------------------

_HIT_FIELDS = {f.name for f in dataclasses.fields(PaperHit)}


def _read_hit(d: dict[str, Any]) -> PaperHit:
    kept = {k: v for k, v in d.items() if k in _HIT_FIELDS}
    kept = {k: tuple(v) if isinstance(v, list) else v for k, v in kept.items()}
    return PaperHit(**kept)


def _read_source(d: dict[str, Any]) -> Source:
    return Source(int(d["n"]), _read_hit(d["hit"]), str(d["passage"]))


def _read_sentence(d: dict[str, Any]) -> Sentence:
    return Sentence(
        str(d["text"]), tuple(int(n) for n in d["citations"]), Support(d["support"]), d["score"]
    )


def _read_answer(d: dict[str, Any], r: dict[str, Any], sources: list[Source]) -> Answer:
    retrieval = Retrieval(r["standalone"], [s.hit for s in sources], d.get("mode", "hybrid"), 0.0)
    return Answer(
        question=r["question"],
        standalone_question=r["standalone"],
        text=d["text"],
        abstained=bool(d["abstained"]),
        abstain_reason=d.get("abstain_reason"),
        sources=sources,
        sentences=[_read_sentence(s) for s in d["sentences"]],
        retrieval=retrieval,
        timings=dict(d.get("timings") or {}),
        raw_text=d.get("raw_text", ""),
    )


def from_dict(d: dict[str, Any]) -> TurnRecord:
    sources = [_read_source(s) for s in d.get("sources", [])]
    answer = _read_answer(d["answer"], d, sources) if d.get("answer") else None
    return TurnRecord(
        rid=str(d["rid"]),
        question=str(d["question"]),
        standalone=str(d.get("standalone") or d["question"]),
        status=str(d["status"]),
        sources=sources,
        answer=answer,
        partial=str(d.get("partial", "")),
        message=str(d.get("message", "")),
        at=float(d.get("at", 0.0)),
    )


# -- what a paper hit may carry about its paper --------------------------------------------------


@dataclass(frozen=True)
class PaperMeta:
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    url: str | None = None


def paper_meta(hit: PaperHit) -> PaperMeta:
    """Authors, year, venue, DOI and URL when the hit carries them (the library work adds these
    fields to hits; today's hits have none, and that renders as nothing)."""
    authors = getattr(hit, "authors", None) or ()
    year = getattr(hit, "year", None)
    return PaperMeta(
        authors=tuple(str(a) for a in authors if str(a).strip()),
        year=int(year)
        if isinstance(year, int) or (isinstance(year, str) and year.isdigit())
        else None,
        venue=_text(getattr(hit, "venue", None)),
        doi=_text(getattr(hit, "doi", None)),
        url=_text(getattr(hit, "url", None)),
    )


def _text(value: object) -> str | None:
    return str(value).strip() or None if value else None
