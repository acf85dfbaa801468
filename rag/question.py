"""The question check every entry point shares: retrieval runs it, so the CLI, the UI's API,
the eval and the answer engine all refuse the same questions with the same message. The same
for how many papers are asked for."""

from __future__ import annotations

from rag.errors import ConfigError, QuestionError


def check_question(question: str, max_chars: int) -> str:
    """The question with its whitespace collapsed; empty or over `max_chars` is refused."""
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("the question is empty; ask something about the papers")
    if len(q) > max_chars:
        raise QuestionError(
            f"the question is {len(q):,} characters; the limit is {max_chars:,} "
            "(RAG_ANSWER_MAX_QUESTION_CHARS). Shorten it."
        )
    return q


def check_count(k: int | None, maximum: int) -> int | None:
    """A number of papers asked for (None: the configured default); outside 1…maximum is refused
    (0 is not "the default" and -1 is not "all but the last")."""
    if k is not None and not 1 <= k <= maximum:
        raise ConfigError(f"-k {k} is not valid: give a number of papers from 1 to {maximum}")
    return k
