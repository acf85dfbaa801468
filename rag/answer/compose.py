"""The answer's text from its parts: the model's checked sentences, the instant evidence
answer, and a survey's per-paper list. Evidence sentences are quoted, not written by a model:
they carry `Support.EVIDENCE` and are their own provenance.

Layouts (plain text, one line per list item, so the CLI, the JSON and the Markdown export all
read well):
  generative   the model's sentences
  hybrid       the model's sentences, then "Evidence:" and the instant answer's sentences
  extractive   the instant answer's sentences (the kind tells the reader they are quoted)
  survey       a synthesis (the model's, or nothing), then "Papers:" and per paper its title
               and its most relevant sentence"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer import citations as cit
from rag.answer.citations import EvidenceRef, Sentence, Support
from rag.answer.events import Source
from rag.answer.evidence import EvidenceSentence, Extract

__all__ = ["quoted", "extractive", "paper_list", "text_of", "EVIDENCE_HEAD", "PAPERS_HEAD"]

EVIDENCE_HEAD = "Evidence:"
PAPERS_HEAD = "Papers:"
_SAME = 0.8  # word overlap at which a model sentence already says what an evidence one does


def quoted(n: int, s: EvidenceSentence, title: bool = False) -> Sentence:
    """One evidence sentence as an answer sentence, cited [n]; optionally headed by its title."""
    text = f"{s.title}: {s.text}" if title else s.text
    ref = EvidenceRef(n, s.paper_id, s.index, s.text, s.score, s.page)
    return Sentence(cit.with_markers(text, [n]), (n,), Support.EVIDENCE, s.score, (ref,))


def extractive(instant: Extract, written: Sequence[Sentence] = ()) -> list[Sentence]:
    """The instant answer's sentences, less those a written sentence already repeats."""
    return [
        quoted(n, s) for n, s in instant.sentences if not any(_repeats(w, s.text) for w in written)
    ]


def _repeats(written: Sentence, evidence: str) -> bool:
    a = set(cit.strip_markers(written.text).lower().split())
    b = set(evidence.lower().split())
    return bool(a and b) and len(a & b) / len(a | b) >= _SAME


def paper_list(sources: Sequence[Source], instant: Extract) -> list[Sentence]:
    """Per given paper, its title and its most relevant sentence (the instant answer's pick
    for it if there is one, else its best given sentence)."""
    picked = {s.paper_id: s for _, s in reversed(instant.sentences)}  # first pick wins
    out = []
    for src in sources:
        best = picked.get(src.hit.paper_id) or _best(src.sentences)
        if best is not None:
            out.append(quoted(src.n, best, title=True))
    return out


def _best(sentences: Sequence[EvidenceSentence]) -> EvidenceSentence | None:
    return max(sentences, key=lambda s: s.score, default=None)


def text_of(written: Sequence[Sentence], listed: Sequence[Sentence], head: str) -> str:
    """Written sentences as a paragraph, then `head` and one listed sentence per line."""
    body = " ".join(s.text for s in written)
    if not listed:
        return body
    items = "\n".join(f"- {s.text}" for s in listed)
    return f"{body}\n{head}\n{items}" if body else f"{head}\n{items}"
