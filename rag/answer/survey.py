"""Survey or lookup? A survey question wants several papers ("which papers…", "what approaches…",
"compare…") and gets a wider retrieval with one or two sentences per paper; a lookup wants one
paper's facts and gets a few papers with several sentences each.

The rule (pure, deterministic): each kind of cue found adds its points once; survey when the
total is >= 2.
  +3  survey wording: "which/what papers|works|studies", "papers on/about/in the corpus", "how do
      papers", "survey", "overview", "what does each", "each of them".
  +2  plural-method or comparison wording: "which/what (…) methods|approaches|techniques|ways|
      models|systems…", "different|various|several|existing (…) methods…", "compare",
      "comparison", "literature", "list" ("compared with" states a result: no cue).
  -2  lookup wording: "is there a/an/any", "has anyone", "a paper that", "the paper", "which
      (…) method|approach|paper" (singular), "according to", "I recall a".
  +1  flat retrieval: at least `flat_papers` papers within `flat_margin` of the best dense
      similarity (many papers match about equally).
  -1  clear winner: the best paper leads the second by at least `winner_gap`.
So explicit survey wording decides alone (3 - 1 = 2), lookup wording alone never makes a survey,
and the score spread tips plural or comparison wording (2 - 1 = 1: lookup when one paper
clearly leads). "Is there a paper comparing…" scores 2 - 2 = 0: a lookup whatever the spread."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SurveyRule", "Mode", "detect", "wording_points", "spread_points"]

_SURVEY = re.compile(
    r"\b(which|what)\s+(other\s+)?(papers|works|studies|articles|publications)\b"
    r"|\bpapers\s+(on|about|that|in|of|from)\b"
    r"|\bhow\s+do\s+(the\s+)?(papers|works|studies)\b"
    r"|\b(survey|overview)\b"
    r"|\beach\s+(one|of\s+them|paper)\b|\bwhat\s+does\s+each\b",
    re.IGNORECASE,
)
_NOUNS = r"(methods|approaches|techniques|ways|models|systems|algorithms|strategies|frameworks)"
_GAP = r"\s+([\w-]+\s+){0,2}"  # up to two words between the question word and its noun
_PLURAL = re.compile(
    rf"\b(which|what){_GAP}{_NOUNS}\b"
    rf"|\b(different|various|several|existing|alternative|main){_GAP}{_NOUNS}\b"
    r"|\b(compare|comparison|comparing|literature|list)\b",
    re.IGNORECASE,
)
_LOOKUP = re.compile(
    r"\b(is|was)\s+there\s+(a|an|any)\b|\bhas\s+anyone\b|\ba\s+paper\s+(that|which|about)\b"
    rf"|\bthe\s+paper\b|\b(which|what){_GAP}(method|approach|paper|technique|model|system)\b"
    r"|\baccording\s+to\b|\bi\s+recall\s+a\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SurveyRule:
    flat_margin: float = 0.05
    flat_papers: int = 4
    winner_gap: float = 0.08
    survey_papers: int = 8  # papers given in survey mode
    survey_sentences: int = 2  # at most this many sentences per paper in survey mode
    survey_budget: int = 600  # evidence tokens in survey mode (8 titles + 1-2 sentences each)
    lookup_papers: int = 4
    lookup_sentences: int = 3
    lookup_budget: int = 400


@dataclass(frozen=True)
class Mode:
    survey: bool
    papers: int  # how many papers to retrieve and give
    sentences_per_paper: int
    budget_tokens: int  # evidence budget
    wording: int  # the wording points
    spread: int  # the score-spread points
    reason: str


def wording_points(question: str) -> tuple[int, str]:
    """The wording's contribution and the cues found."""
    cues = [
        (points, f"{name} {m.group(0)!r}")
        for points, name, pattern in (
            (3, "survey", _SURVEY),
            (2, "plural", _PLURAL),
            (-2, "lookup", _LOOKUP),
        )
        if (m := pattern.search(question))
    ]
    if not cues:
        return 0, "no wording cue"
    return sum(p for p, _ in cues), ", ".join(why for _, why in cues)


def spread_points(similarities: Sequence[float | None], rule: SurveyRule) -> tuple[int, str]:
    """+1 when many papers score about the same, -1 when one paper clearly leads."""
    sims = sorted((s for s in similarities if s is not None), reverse=True)
    if len(sims) < 2:
        return 0, "too few scores"
    close = sum(s >= sims[0] - rule.flat_margin for s in sims)
    if close >= rule.flat_papers:
        return 1, f"{close} papers within {rule.flat_margin} of the best"
    if sims[0] - sims[1] >= rule.winner_gap:
        return -1, f"best leads by {sims[0] - sims[1]:.2f}"
    return 0, "no clear spread"


def detect(
    question: str, similarities: Sequence[float | None], rule: SurveyRule = SurveyRule()
) -> Mode:
    """Survey or lookup for `question`, given the dense similarities of its retrieved papers
    (best first, as many as retrieval returned; ~10 is plenty)."""
    w, why_w = wording_points(question)
    s, why_s = spread_points(similarities, rule)
    survey = w + s >= 2
    if survey:
        shape = (rule.survey_papers, rule.survey_sentences, rule.survey_budget)
    else:
        shape = (rule.lookup_papers, rule.lookup_sentences, rule.lookup_budget)
    return Mode(survey, *shape, w, s, f"{why_w}; {why_s}")
