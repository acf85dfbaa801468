"""The typed event stream one answer produces (for the CLI, the UI and the eval alike), and the
finished Answer it ends with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rag.answer.citations import Sentence
from rag.index.retrieve import PaperHit, Retrieval


@dataclass(frozen=True)
class Source:
    n: int
    hit: PaperHit
    passage: str  # what the model was given (trimmed to the prompt budget)


@dataclass(frozen=True)
class Answer:
    question: str
    standalone_question: str
    text: str
    abstained: bool
    abstain_reason: str | None
    sources: list[Source]
    sentences: list[Sentence]
    retrieval: Retrieval
    timings: dict[str, Any]
    raw_text: str

    @property
    def cited(self) -> list[Source]:
        numbers = {n for s in self.sentences for n in s.citations}
        return [s for s in self.sources if s.n in numbers]


@dataclass(frozen=True)
class Retrieved:
    """The sources, before the model reads them: shown at once."""

    retrieval: Retrieval
    sources: list[Source]


@dataclass(frozen=True)
class Status:
    text: str


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Restart:
    """The streamed text so far is replaced (the model is asked again)."""

    reason: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Retrieved | Status | Token | Restart | Done
