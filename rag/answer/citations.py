"""Citations: parse [n] markers, drop numbers that were never given, and check every sentence
against the source it cites (embedding similarity of the sentence to the cited passage versus
the other given passages). A wrong citation is moved to the supporting source or dropped; an
uncited factual sentence gets its supporting source or is flagged."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rag.answer.prompts import ABSTAIN_PHRASE

CITATION = re.compile(r"\[(\s*\d+(?:\s*[-–,;]\s*\d+)*\s*)\]")
_SENTENCE = re.compile(r"(?<=[.!?])(?:\s*(?:\[[\d\s,;–-]+\])+)?\s+(?=[A-Z0-9\"'(])")
MAX_RANGE = 20  # "[1-300]" is noise, not three hundred citations


class Support(StrEnum):
    """How a sentence relates to the sources (each sentence's `support` in the JSON)."""

    SUPPORTED = "supported"  # its citation is backed by the cited source
    CORRECTED = "corrected"  # its citation was moved to the source that supports it
    ADDED = "added"  # it had no citation and got its supporting source
    UNSUPPORTED = "unsupported"  # no given source supports it: its citation was dropped
    UNCITED = "uncited"  # no citation and no supporting source
    ABSTENTION = "abstention"  # the fixed abstention phrase


@dataclass(frozen=True)
class Sentence:
    text: str  # the sentence with its (checked) citation markers
    citations: tuple[int, ...]
    support: Support
    score: float | None  # similarity to the cited (or best) source


def expand(group: str) -> list[int]:
    """'1, 3' → [1, 3]; '1-3' → [1, 2, 3]; ranges longer than MAX_RANGE keep their ends."""
    out: list[int] = []
    for part in re.split(r"[,;]", group):
        bounds = [int(x) for x in re.split(r"[-–]", part) if x.strip()]
        if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= MAX_RANGE:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return list(dict.fromkeys(out))


def parse(text: str) -> list[int]:
    """All cited numbers in order of first appearance."""
    found: list[int] = []
    for m in CITATION.finditer(text):
        found.extend(expand(m.group(1)))
    return list(dict.fromkeys(found))


def strip_markers(text: str) -> str:
    bare = re.sub(r"\s+([.,;:!?])", r"\1", CITATION.sub("", text))
    return re.sub(r"\s{2,}", " ", bare).strip()


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def is_abstention(text: str) -> bool:
    """The fixed phrase, or the model's common paraphrases of it."""
    low = " ".join(text.lower().split())
    if ABSTAIN_PHRASE.lower().rstrip(".") in low:
        return True
    cues = (
        "do not contain",
        "does not contain",
        "not mentioned",
        "no information",
        "cannot answer",
        "do not provide",
        "does not provide",
        "not provided in the",
        "not specified in the",
    )
    return any(c in low for c in cues) and not parse(text)


_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")


def numbers(text: str) -> set[str]:
    """Figures stated in a text ("1,000" → "1000"), citation markers excluded."""
    return {n.replace(",", "") for n in _NUMBER.findall(CITATION.sub(" ", text))}


def with_markers(text: str, numbers: Sequence[int]) -> str:
    """The sentence without its old markers, with `numbers` before the final punctuation."""
    bare = strip_markers(text)
    if not numbers:
        return bare
    marks = "".join(f"[{n}]" for n in numbers)
    if bare and bare[-1] in ".!?":
        return f"{bare[:-1]} {marks}{bare[-1]}"
    return f"{bare} {marks}"


Similarity = Callable[[list[str]], list[list[float]]]  # sentences → similarity to each source


@dataclass(frozen=True)
class Checker:
    """Decides each sentence's citations from its similarity to the n given sources."""

    support_min: float
    margin: float = 0.05  # how much better another source must be to move a citation

    def check(
        self,
        sentence: str,
        cited: list[int],
        sims: list[float],
        known: list[set[str]] | None = None,
    ) -> Sentence:
        """`known[i]`: the figures source i+1 states (plus the question's); a sentence whose
        figures its source does not state is not supported by it, however similar it reads."""
        if known is not None:
            stated = numbers(sentence)
            sims = [
                x if stated <= k else min(x, self.support_min - 0.01)
                for x, k in zip(sims, known, strict=True)
            ]
        valid = [n for n in cited if 1 <= n <= len(sims)]
        best = max(range(len(sims)), key=sims.__getitem__) + 1 if sims else None
        if is_abstention(sentence) and not valid:
            return Sentence(strip_markers(sentence), (), Support.ABSTENTION, None)
        if valid:
            return self._cited(sentence, valid, sims, best)
        return self._uncited(sentence, sims, best)

    def _cited(self, s: str, valid: list[int], sims: list[float], best: int | None) -> Sentence:
        kept = [n for n in valid if sims[n - 1] >= self.support_min]
        score = max(sims[n - 1] for n in valid)
        if kept:
            return Sentence(with_markers(s, kept), tuple(kept), Support.SUPPORTED, round(score, 4))
        if best and sims[best - 1] >= self.support_min and sims[best - 1] > score + self.margin:
            return Sentence(
                with_markers(s, [best]), (best,), Support.CORRECTED, round(sims[best - 1], 4)
            )
        return Sentence(with_markers(s, []), (), Support.UNSUPPORTED, round(score, 4))

    def _uncited(self, s: str, sims: list[float], best: int | None) -> Sentence:
        if best and sims[best - 1] >= self.support_min and len(s.split()) >= 4:
            return Sentence(
                with_markers(s, [best]), (best,), Support.ADDED, round(sims[best - 1], 4)
            )
        score = round(sims[best - 1], 4) if best else None
        return Sentence(strip_markers(s), (), Support.UNCITED, score)


def check_answer(
    answer: str,
    n_sources: int,
    similarity: Similarity,
    checker: Checker,
    known: list[set[str]] | None = None,
) -> list[Sentence]:
    """Split the answer and check each sentence; numbers outside 1..n_sources never survive.
    `known` (optional): the figures each source states, for the figure check."""
    sentences = split_sentences(answer)
    if not sentences:
        return []
    sims = (
        similarity([strip_markers(s) for s in sentences]) if n_sources else [[] for _ in sentences]
    )
    known = known if known and n_sources else None
    return [checker.check(s, parse(s), row, known) for s, row in zip(sentences, sims, strict=True)]
