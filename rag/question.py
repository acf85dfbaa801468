"""The question check every entry point shares: retrieval runs it, so the CLI, the UI's API,
the eval and the answer engine all refuse the same questions with the same message."""

from __future__ import annotations

from rag.errors import QuestionError


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
