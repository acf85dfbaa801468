"""A conversation's memory (what a follow-up needs of earlier turns) and the standalone query a
follow-up is retrieved with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer.events import Source
from rag.llm.client import ChatTurn

_FOLLOWUP_CUES = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|the (method|paper|approach|model|work))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Turn:
    question: str
    standalone: str
    answer: str
    paper_ids: tuple[str, ...]
    sources: list[Source]
    messages: list[ChatTurn]


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


def condense(question: str, conv: Conversation | None) -> str:
    """Standalone retrieval query for a follow-up. Deterministic and instant: a question that
    refers back ("it", "that method", …) or is very short is joined to the previous standalone
    question; an LLM rewrite would cost seconds of prefill on 2 cores."""
    last = conv.last if conv else None
    if last and (_FOLLOWUP_CUES.search(question) or len(question.split()) <= 4):
        return f"{last.standalone} {question}"
    return question
