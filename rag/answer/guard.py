"""Post-checks on the model's text, because paper text is untrusted and a 1.5B model follows
injected instructions sometimes: no markup survives, and the rules are never quoted back."""

from __future__ import annotations

import re

_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(((?:[^()]|\([^()]*\))*)\)")
_URL_SCHEME = re.compile(r"\b(?:javascript|data|vbscript):", re.IGNORECASE)
LEAK_WORDS = 8  # this many consecutive words of the rules in an answer = the rules leaked


def strip_markup(text: str) -> str:
    """HTML tags go, markdown links keep their text, script-like URL schemes are defused."""
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _TAG.sub("", text)
    return _URL_SCHEME.sub("", text)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def leaks(sentence: str, rules: str, n: int = LEAK_WORDS) -> bool:
    """True when the sentence repeats n consecutive words of the rules."""
    rule_words = _words(rules)
    grams = {tuple(rule_words[i : i + n]) for i in range(len(rule_words) - n + 1)}
    words = _words(sentence)
    return any(tuple(words[i : i + n]) in grams for i in range(len(words) - n + 1))
