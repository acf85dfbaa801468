"""Is an answer point present in an answer? A deterministic matcher, validated against the
hand labels in eval/answer_point_labels.jsonl (see `eval.metrics.matcher_agreement`).

A point is present when
- every number in the point appears among the answer's numbers, after normalisation
  ("3.3 million" = "3.3M" = 3,300,000; "193k" = "193,000"; "two thousand" = 2000;
  "93x" = "93 times" = 93; "16-33%" gives 16 and 33; magnitudes count: 360 million ≠ 360 billion), and
- at least `min_overlap` of its content tokens (lower-cased, stemmed, stop words and number words
  removed) appear among the answer's tokens.
An abstention answer contains no point, except the abstention point of unanswerable questions,
which is present exactly when the answer abstains.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rag.eval.data import ABSTAIN_POINT

from rag.answer.citations import CITATION

MIN_OVERLAP = 0.6  # chosen on the labelled pairs; the report shows the sweep
_SCALES = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12, "thousand": 1e3, "million": 1e6}
_SCALES |= {"billion": 1e9, "trillion": 1e12}
_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:,\d{3})+|\d+(?:\.\d+)?)"  # 1,616 | 3.3 | 45
    r"(?:\s*(thousand|million|billion|trillion)\b|([kmbt])(?![a-z]))?",
    re.IGNORECASE,
)
_UNITS = dict(
    zip(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
        range(1, 10),
        strict=True,
    )
)
_UNITS |= {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15}
_UNITS |= {"sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20}
_UNITS |= {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
_UNITS |= {"ninety": 90, "hundred": 100}
_WORD_NUMBER = re.compile(
    r"\b((?:" + "|".join(_UNITS) + r")(?:[\s-]+(?:" + "|".join(_UNITS) + r"))*)"
    r"(?:\s+(thousand|million|billion|trillion))?\b",
    re.IGNORECASE,
)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "from",
        "as",
        "at",
        "into",
        "onto",
        "over",
        "under",
        "than",
        "then",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "nor",
        "but",
        "if",
        "so",
        "such",
        "very",
        "can",
        "could",
        "may",
        "might",
        "will",
        "would",
        "should",
        "only",
        "also",
        "more",
        "most",
        "less",
        "about",
        "up",
        "down",
        "out",
        "each",
        "every",
        "both",
        "either",
        "any",
        "all",
        "some",
        "same",
        "other",
        "their",
        "they",
        "them",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "his",
        "her",
        "via",
        "per",
        "vs",
        "while",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "how",
        "why",
        "there",
        "here",
        "after",
        "before",
        "between",
        "within",
        "through",
        "across",
        "among",
        "without",
        "using",
        "used",
        "use",
        "based",
        "new",
        "just",
        "one",
    ]
) - {"no", "not"}  # negation changes a point's meaning; keep it as content
_UNIT_WORDS = frozenset({"x", "times", "fold", "percent", "pp"})  # carried by the number
_TOKEN = re.compile(r"[a-z][a-z0-9]*")


@dataclass(frozen=True)
class Match:
    present: bool
    overlap: float  # share of the point's content tokens found in the answer
    numbers_ok: bool


def normalise(text: str) -> str:
    """Case-folded, dashes and the multiplication sign unified, [n] citation markers removed."""
    text = CITATION.sub(" ", unicodedata.normalize("NFKC", text)).casefold()
    return text.replace("–", "-").replace("—", "-").replace("×", "x").replace("−", "-")


def _value(digits: str, scale: str | None) -> float:
    return float(digits.replace(",", "")) * _SCALES.get((scale or "").lower(), 1.0)


def _word_value(words: str, scale: str | None) -> float:
    total = 0
    for w in re.split(r"[\s-]+", words.lower()):
        total = max(total, 1) * 100 if w == "hundred" else total + _UNITS[w]
    return total * _SCALES.get((scale or "").lower(), 1.0)


def numbers(text: str) -> list[float]:
    """Every number written in `text`, as a value (scale words and suffixes applied)."""
    t = normalise(text)
    found = [_value(m[1], m[2] or m[3]) for m in _NUMBER.finditer(t)]
    words = [_word_value(m[1], m[2]) for m in _WORD_NUMBER.finditer(t)]
    return found + words


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def content_tokens(text: str) -> set[str]:
    words = [w for w in _TOKEN.findall(normalise(text)) if w not in _STOP and w not in _UNITS]
    words = [w for w in words if w not in _SCALES and w not in _UNIT_WORDS]
    return set(_stemmer().stemWords(words))


def _has_number(value: float, pool: list[float]) -> bool:
    return any(math.isclose(value, x, rel_tol=1e-6) for x in pool)


def match_point(
    answer: str, point: str, abstained: bool, min_overlap: float = MIN_OVERLAP
) -> Match:
    if point == ABSTAIN_POINT:
        return Match(abstained, 1.0 if abstained else 0.0, True)
    if abstained:
        return Match(False, 0.0, False)
    pool, needed = numbers(answer), numbers(point)
    found = sum(_has_number(v, pool) for v in needed)
    wanted = content_tokens(point)
    units = len(wanted) + len(needed)  # a number counts as one content unit of the point
    overlap = (len(wanted & content_tokens(answer)) + found) / units if units else 1.0
    numbers_ok = found == len(needed)
    return Match(numbers_ok and overlap >= min_overlap, round(overlap, 4), numbers_ok)


def point_present(
    answer: str, point: str, abstained: bool, min_overlap: float = MIN_OVERLAP
) -> bool:
    return match_point(answer, point, abstained, min_overlap).present
