"""The typed event stream one answer produces (for the CLI, the UI and the eval alike), and the
finished Answer it ends with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.answer.citations import Sentence
from rag.index.retrieve import PaperHit, Retrieval

if TYPE_CHECKING:
    from rag.answer.abstention import Decision
    from rag.answer.evidence import EvidenceSentence, Extract
    from rag.answer.survey import Mode


@dataclass(frozen=True)
class Source:
    n: int
    hit: PaperHit
    passage: str  # what the model was given (trimmed to the prompt budget)
    # Evidence pipeline: the sentences given to the model, and those the instant answer quotes
    # beyond them (both in document order), for the source card and the provenance.
    sentences: tuple[EvidenceSentence, ...] = ()
    quoted: tuple[EvidenceSentence, ...] = ()

    @property
    def shown(self) -> tuple[EvidenceSentence, ...]:
        """The sentences a source card shows: given and quoted, in document order."""
        seen = {s.index: s for s in (*self.sentences, *self.quoted)}
        return tuple(seen[i] for i in sorted(seen))


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
    evidence: Extract | None = None  # the instant extractive answer (evidence pipeline)
    mode: Mode | None = None  # survey or lookup, and why
    decision: Decision | None = None  # the abstention decision that applied
    # how the text was made: generative (the model's), hybrid (model + evidence), extractive
    # (evidence only, by choice), evidence (the model abstained or wrote nothing supported on
    # answerable evidence, so the evidence answer stands), abstention
    kind: str = "generative"

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
class Evidence:
    """The instant extractive answer: the best evidence sentences, each cited [n] with the
    numbering of `Retrieved.sources`; shown before the model's first token."""

    extract: Extract
    sources: list[Source]
    evidence_ms: float

    @property
    def text(self) -> str:
        return self.extract.text


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


Event = Retrieved | Evidence | Status | Token | Restart | Done
