"""Does any paper given state the figure a question asks for?

A question asking for a quantity ("What perplexity does …", "How many training instances …")
is answerable from a paper only if the paper states a figure *of that measure*. Retrieval
features cannot see this: a question about a paper the corpus holds, asking for a number the
abstract does not give, scores as high as an answerable one, and the model then borrows a
figure stated for something else ("a perplexity of 28.1" from "28.1 higher ROUGE-1 points").

The rule (no model): the question's measure is the noun phrase after "how many"/"how much" or
after "what" when it holds a measure noun (MEASURES: accuracy, latency, rate, …), up to the
verb; its head is the measure nouns it holds, else (counts) its last word. The figure is
stated when some sentence of a given paper (its whole text, not only the evidence chosen)
holds a number that is not in the question and a word starting with the head's 5-letter stem
("perplexity"/"perplexities", "rate"/"rates"), or, for a measure usually given as a
percentage (PERCENT_MEASURES: fraction, rate, accuracy, …), a percentage. A question whose
measure cannot be read (comparatives, "by what factor …", anything else) is never judged."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MEASURES", "PERCENT_MEASURES", "asked_measure", "states_figure", "unstated_measure"]

# Measures usually stated as a percentage: "25% of the parameters" states a fraction.
_PERCENT_WORDS = """accuracy error errors fraction gain gains percentage precision proportion
rate ratio recall reduction score scores share win-rate"""
# The other nouns that name a measured quantity in papers (metrics, sizes, costs, budgets).
_OTHER_WORDS = """auc bleu count cost costs f1 fid hours latency length memory number perplexity
rouge size speed speedup speed-up throughput time"""
PERCENT_MEASURES = frozenset(_PERCENT_WORDS.split())
MEASURES = PERCENT_MEASURES | frozenset(_OTHER_WORDS.split())
_PERCENT = re.compile(r"\d\s*%|\bpercent")
_AUX = r"(?:does|do|did|is|are|was|were|can|could|would|will|has|have|had)"
_HOW = re.compile(r"\bhow (many|much)\s+((?:[\w-]+\s+){0,5}?)" + _AUX + r"\b")
_WHAT = re.compile(r"\bwhat\s+((?:[\w-]+\s+){1,5}?)" + _AUX + r"\b")
_WORD = re.compile(r"[a-z][a-z0-9-]*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_FILLER_WORDS = """a an the of in on for to by with and or its their this that these those
further more less fewer larger smaller faster slower much many roughly approximately about total
overall average mean"""
_FILLER = frozenset(_FILLER_WORDS.split())
STEM = 5


def _stem(word: str) -> str:
    return word[:STEM]


def _matches(head: str, words: set[str]) -> bool:
    """A word of the sentence starts with the head's stem ("rates" for "rate")."""
    stem = _stem(head)
    return any(w.startswith(stem) for w in words)


def asked_measure(question: str) -> tuple[str, ...]:
    """The head words of the quantity the question asks for; () when it asks for none (or its
    measure cannot be read)."""
    q = question.lower()
    how = _HOW.search(q)
    if how:
        words = [w for w in _WORD.findall(how.group(2)) if w not in _FILLER]
        if how.group(1) == "much":  # "how much X": X is a measure only if it names one
            return tuple(w for w in words if w in MEASURES)
        return tuple(w for w in words if w in MEASURES) or tuple(words[-1:])
    what = _WHAT.search(q)
    if what:
        words = [w for w in _WORD.findall(what.group(1)) if w not in _FILLER]
        return tuple(w for w in words if w in MEASURES)
    return ()


def states_figure(sentence: str, head: tuple[str, ...], question_numbers: set[str]) -> bool:
    """`sentence` gives a number the question does not, beside a word of the measure."""
    if not set(_NUMBER.findall(sentence)) - question_numbers:
        return False
    words = set(_WORD.findall(sentence.lower()))
    if any(_matches(h, words) for h in head):
        return True
    return any(h in PERCENT_MEASURES for h in head) and bool(_PERCENT.search(sentence))


def unstated_measure(question: str, papers: Iterable[Iterable[str]]) -> str:
    """The measure asked for when no sentence of any given paper states a figure of it, else
    "" (also when the question asks for no quantity)."""
    head = asked_measure(question)
    if not head:
        return ""
    numbers = set(_NUMBER.findall(question))
    for sentences in papers:
        if any(states_figure(s, head, numbers) for s in sentences):
            return ""
    return " ".join(head)
