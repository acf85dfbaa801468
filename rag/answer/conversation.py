"""A conversation's memory (what a follow-up needs of earlier turns) and the follow-up rule: does
a question refer back to the previous turn, and what standalone query is it retrieved with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from rag.answer.events import Source
from rag.llm.client import ChatTurn


class Cue(StrEnum):
    """Why a question counts as a follow-up. A reference (a pronoun, "the gated variant", "that
    benchmark", "the second method") points at something the previous answer named, so the
    previous turn's papers stay in play; a bare short question ("And for vision?") only borrows
    the previous question's words."""

    REFERENCE = "reference"
    SHORT = "short"


_PRONOUN = r"it|its|itself|they|them|their|theirs|themselves|he|she|his|her"
_DEMONSTRATIVE = r"this|these|those"
# "that" is mostly a conjunction or a relative ("shows that…", "methods that…"): it refers back
# after a preposition or verb ("on that", "does that") or at the end ("How does that work?")
# and before an anaphoric noun ("that benchmark", matched below).
_THAT = r"(?:about|on|of|for|with|from|to|by|in|beyond|than|does|did|is|was|can|could|would)\s+that\b(?!\s+(?:the|a|an)\b)|\bthat\s*[?.!,]"
_ORDINAL = (
    r"first|second|third|fourth|fifth|last|latter|former|other|previous|same|earlier|"
    r"above|aforementioned|mentioned|remaining|next|final|both"
)
# Nouns that stand for something named before when they come with "the" and at most two
# modifiers: "the gated variant", "the proposed loss", "the authors".
_ANAPHORIC_NOUN = (
    r"variants?|versions?|methods?|approach|approaches|techniques?|models?|benchmarks?|"
    r"datasets?|papers?|work|study|studies|framework|system|architecture|algorithm|ones?|"
    r"idea|baselines?|authors|proposal|loss|objective|metric|module|component|results|"
    r"experiments|findings?"
)
_WORD = r"[\w-]+"
_REFERENCE = re.compile(
    rf"\b(?:{_PRONOUN})\b"
    rf"|\b(?:{_DEMONSTRATIVE})\b"
    rf"|\b{_THAT}"
    rf"|\b(?:that|such)\s+(?:{_WORD}\s+)?(?:{_ANAPHORIC_NOUN})\b"
    rf"|\bthe\s+(?:{_ORDINAL})\b"
    rf"|\bthe\s+(?:{_WORD}\s+){{0,2}}(?:{_ANAPHORIC_NOUN})\b"
    r"|\b(?:both|either|neither|each)\s+of\s+(?:them|these|those)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(?:and|also|so|but|then|what about|how about)\b", re.IGNORECASE)
SHORT_WORDS = 4


def followup_cue(question: str) -> Cue | None:
    """The rule, on the question's wording alone (pure, instant: an LLM rewrite would cost
    seconds of prefill on 2 cores). Over-firing is cheap — the question is also retrieved on
    its own and the two rankings are fused — so the rule errs towards firing."""
    if _REFERENCE.search(question) or _CONTINUATION.search(question):
        return Cue.REFERENCE
    if len(question.split()) <= SHORT_WORDS:
        return Cue.SHORT
    return None


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
    """Standalone query for a question: a follow-up (see `followup_cue`) is joined to the
    previous standalone question, anything else stands alone."""
    last = conv.last if conv else None
    if last and followup_cue(question) is not None:
        return f"{last.standalone} {question}"
    return question
