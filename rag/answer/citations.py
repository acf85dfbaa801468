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
_SENTENCE = re.compile(r"(?<=[.!?])((?:\s*\[[\d\s,;–-]+\])*)\s+(?=[A-Z0-9\"'(])")
# "…(LLMs). [3] introduces X": markers a lower-case word follows begin the next sentence.
_LEADING = re.compile(r"(?<=[.!?])\s+((?:\[[\d\s,;–-]+\]\s*)+)(?=[a-z])")
MAX_RANGE = 20  # "[1-300]" is noise, not three hundred citations


class Support(StrEnum):
    """How a sentence relates to the sources (each sentence's `support` in the JSON)."""

    SUPPORTED = "supported"  # its citation is backed by the cited source
    CORRECTED = "corrected"  # its citation was moved to the source that supports it
    ADDED = "added"  # it had no citation and got its supporting source
    UNSUPPORTED = "unsupported"  # no given source supports it: its citation was dropped
    UNCITED = "uncited"  # no citation and no supporting source
    ABSTENTION = "abstention"  # the fixed abstention phrase
    EVIDENCE = (
        "evidence"  # an evidence sentence quoted from the cited paper, not written by a model
    )


@dataclass(frozen=True)
class EvidenceRef:
    """One evidence sentence that supports an answer sentence (its provenance)."""

    n: int  # the paper's number in the answer
    paper_id: str
    index: int  # the sentence's place in the paper's rebuilt text
    sentence: str
    score: float
    page: int | None = None  # the PDF page the sentence is on; None for an abstract


@dataclass(frozen=True)
class Sentence:
    text: str  # the sentence with its (checked) citation markers
    citations: tuple[int, ...]
    support: Support
    score: float | None  # similarity to the cited (or best) source
    evidence: tuple[EvidenceRef, ...] = ()  # the evidence sentences that support it
    note: str | None = None  # why a sentence is flagged, for the reader


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
    """Sentences with their markers: "claim [1]." and "claim. [1]" keep [1]; in "claim. [2]
    proposes X" the [2] starts the next sentence."""
    text = text.strip()
    cuts = [0, *(m.start(1) for m in _LEADING.finditer(text)), len(text)]
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        out += _split_at_ends(text[a:b].strip())
    return [s for s in out if s]


def _split_at_ends(text: str) -> list[str]:
    """Split after each sentence end and the markers that follow it."""
    out, pos = [], 0
    for m in _SENTENCE.finditer(text):
        out.append(text[pos : m.end(1)].strip())
        pos = m.end()
    return [*out, text[pos:].strip()]


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


# Words after which a marker is part of the sentence ("described in [1]", "is [2]"): removing
# such a marker leaves a hole, so the paper is named instead.
_GOVERNING_TEXT = (
    "in by from of see to with than as is are was were and or the a an like per on via following "
    "named called"
)
_GOVERNING = frozenset(_GOVERNING_TEXT.split())


def _governed(text: str, start: int) -> bool:
    before = re.findall(r"[\w'-]+", text[:start])
    return not before or before[-1].lower() in _GOVERNING


def _joined(numbers: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def rewrite_markers(
    text: str, mapping: Callable[[int], int | None], name: Callable[[int], str]
) -> str:
    """Each marker rewritten where the model put it: numbers mapped (None drops one). A marker
    left empty disappears, or, where the sentence needs it as a word ("described in [1]"), is
    replaced by `name(n)` of its first number, so the sentence stays grammatical."""
    out, pos = [], 0
    for m in CITATION.finditer(text):
        old = expand(m.group(1))
        new = list(dict.fromkeys(k for k in (mapping(n) for n in old) if k is not None))
        out.append(text[pos : m.start()])
        if new == old:
            out.append(m.group(0))
        elif new:
            out.append(_joined(new))
        elif old and _governed(text, m.start()):
            out.append(name(old[0]))
        pos = m.end()
    out.append(text[pos:])
    return _tidy("".join(out))


def _tidy(text: str) -> str:
    bare = re.sub(r"\s+([.,;:!?])", r"\1", text)
    bare = re.sub(r"([.!?])\s*((?:\[\d+\])+)\s*$", r" \2\1", bare)  # "claim. [3]" → "claim [3]."
    return re.sub(r"\s{2,}", " ", bare).strip()


def is_complete(sentence: str) -> bool:
    """Ends as a sentence does (punctuation, possibly followed by markers): not cut off."""
    return bool(re.search(r"[.!?)\]\"'”]\s*$", sentence.strip()))


def append_marker(text: str, n: int) -> str:
    """A citation for a sentence that had none, before its final punctuation."""
    return with_markers(text, [n])


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
