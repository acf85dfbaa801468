"""The evidence layer: from retrieved papers to the few sentences worth the model's prefill.

Every sentence of a candidate paper (its whole abstract; for a long full-text paper, only its
retrieved chunks and their neighbours) is scored for the question: dense cosine with the
packaged embedder fused with IDF-weighted term coverage, plus a share of the paper's own
retrieval similarity. `select` then keeps the best sentences under a token budget, at least
one per paper, without near-duplicates. The result is grouped by paper, best paper first, so
the engine can number papers [1..n]; `extract` gives the instant cited answer, picked from
all the given papers' sentences (it costs no prefill, so the budget does not bind it).

Build an `EvidenceIndex` once per process from the store's chunks; `gather` per question."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer import lexical
from rag.answer.citations import with_markers
from rag.answer.select import Budget, Pool, select
from rag.answer.sentences import PaperText, candidate_indices, rebuild
from rag.answer.vectors import SentenceVectors
from rag.index.retrieve import PaperHit
from rag.index.store import StoredChunk

__all__ = [
    "EvidenceConfig",
    "EvidenceIndex",
    "EvidenceSentence",
    "PaperEvidence",
    "Evidence",
    "Extract",
    "gather",
    "extract",
]

TokenCount = Callable[[str], int]
RANKED = 12  # candidate sentences kept for the extractive answer


@dataclass(frozen=True)
class EvidenceConfig:
    budget_tokens: int = 400  # title + sentences + source tags of every paper given
    max_per_paper: int = 3
    dense_weight: float = 0.5  # sentence score = w * cosine + (1 - w) * IDF-weighted coverage
    paper_weight: float = 0.3  # … blended with the paper's retrieval similarity by this share
    lam: float = 0.6  # MMR: relevance vs novelty
    min_relative: float = 0.7  # sentences after a paper's first must score >= this x the best
    max_similarity: float = 0.8  # never two sentences this similar (restatements)
    max_whole_chunks: int = 6  # papers with more chunks (full text) offer only nearby chunks
    neighbours: int = 1
    source_tokens: int = 12  # the <source id="n">[n] … </source> wrapper of each paper
    lead: int = 0  # this many of the best sentences (each question part's first) come first


@dataclass(frozen=True)
class EvidenceIndex:
    """Every paper's rebuilt sentences and their terms, and corpus term statistics."""

    papers: Mapping[str, PaperText]
    sentence_terms: Mapping[str, tuple[tuple[str, ...], ...]]
    title_terms: Mapping[str, tuple[str, ...]]
    stats: lexical.CorpusStats

    @classmethod
    def build(cls, chunks: Iterable[StoredChunk]) -> EvidenceIndex:
        grouped: dict[str, list[StoredChunk]] = defaultdict(list)
        for c in chunks:
            grouped[c.paper_id].append(c)
        papers = {pid: rebuild(cs) for pid, cs in grouped.items()}
        sent = {p: tuple(tuple(lexical.terms(s)) for s in t.sentences) for p, t in papers.items()}
        titles = {p: tuple(lexical.terms(t.title)) for p, t in papers.items()}
        docs = [titles[p] + tuple(w for s in sent[p] for w in s) for p in papers]
        return cls(papers, sent, titles, lexical.CorpusStats.of(docs))

    def all_sentences(self) -> list[str]:
        """What `SentenceVectors.warm` needs to precompute every sentence vector."""
        return [s for p in self.papers.values() for s in p.sentences]


@dataclass(frozen=True)
class EvidenceSentence:
    paper_id: str
    title: str
    index: int  # the sentence's place in the paper's rebuilt text
    text: str
    score: float  # fused relevance to the question
    dense: float
    lexical: float
    page: int | None = None  # the PDF page it starts on; None for an abstract


@dataclass(frozen=True)
class PaperEvidence:
    paper_id: str
    title: str
    rank: int  # retrieval rank of the paper
    sentences: tuple[EvidenceSentence, ...]  # in document order

    @property
    def score(self) -> float:
        return max(s.score for s in self.sentences)

    @property
    def passage(self) -> str:
        """The sentences as the model reads them; " … " marks skipped text."""
        out: list[str] = []
        for prev, s in zip((None, *self.sentences), self.sentences, strict=False):
            gap = prev is not None and s.index != prev.index + 1
            out.append(f"… {s.text}" if gap else s.text)
        return " ".join(out)


@dataclass(frozen=True)
class Evidence:
    question: str
    papers: tuple[PaperEvidence, ...]  # the prompt's evidence: number them [1..n] in this order
    # The given papers' candidate sentences best first, restatements dropped, whether in the
    # budget or not: the extractive answer costs no prefill, so it may pick outside the budget.
    ranked: tuple[EvidenceSentence, ...]
    tokens: int  # what the papers cost in the prompt (titles, sentences, source tags)
    best_sentence: float  # best fused sentence score among all candidates
    term_overlap: float  # best paper's IDF-weighted coverage of the question's terms
    best_bm25: float  # best paper's BM25 for the question (title + candidate sentences)
    evidence_ms: float

    def number(self, paper_id: str) -> int:
        return next(n for n, p in enumerate(self.papers, 1) if p.paper_id == paper_id)


@dataclass(frozen=True)
class _Candidates:
    hits: list[PaperHit]
    paper: list[int]  # index into hits
    index: list[int]  # sentence index within the paper
    text: list[str]
    page: list[int | None]


def gather(
    question: str,
    hits: Sequence[PaperHit],
    index: EvidenceIndex,
    vectors: SentenceVectors,
    count: TokenCount,
    cfg: EvidenceConfig = EvidenceConfig(),
) -> Evidence:
    """The evidence for `question` from the given papers (retrieval order), within budget."""
    start = time.perf_counter()
    cand = _candidates([h for h in hits if h.paper_id in index.papers], index, cfg)
    q_terms = lexical.terms(question)
    if not cand.text:
        return Evidence(question, (), (), 0, 0.0, 0.0, 0.0, _ms(start))
    by_part, dense, lex, vecs = _score(question, q_terms, cand, index, vectors, cfg)
    scores = by_part.max(axis=1)  # relevant to the whole question or to one of its parts
    pool = _pool(cand, scores, vecs, count, cfg)
    budget = Budget(
        cfg.budget_tokens, cfg.max_per_paper, cfg.lam, cfg.min_relative, cfg.max_similarity
    )
    distinct = _distinct(scores, pool.similarity, cfg.max_similarity)
    first = list(dict.fromkeys(_leaders(by_part, [True] * len(scores)) + distinct))[: cfg.lead]
    picked = [_sentence(cand, i, scores, dense, lex) for i in select(pool, budget, first)]
    papers = _group(picked, cand.hits)
    given = {p.paper_id for p in papers}
    in_given = [cand.hits[cand.paper[i]].paper_id in given for i in range(len(cand.text))]
    order = _leaders(by_part, in_given) + distinct
    ranked = [_sentence(cand, i, scores, dense, lex) for i in dict.fromkeys(order) if in_given[i]][
        :RANKED
    ]
    overlap, best_bm25 = _paper_lexical(q_terms, index, cand)
    used = sum(_paper_tokens(p, count, cfg) for p in papers)
    best = float(by_part[:, 0].max())  # the abstention feature: against the whole question
    return Evidence(question, papers, tuple(ranked), used, best, overlap, best_bm25, _ms(start))


def _score(
    question: str,
    q_terms: list[str],
    cand: _Candidates,
    index: EvidenceIndex,
    vectors: SentenceVectors,
    cfg: EvidenceConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fused scores against the whole question (column 0) and each of its parts (columns 1…),
    dense cosines and lexical coverages against the whole question, the sentence vectors."""
    vecs = vectors.get(cand.text)
    parts = question_parts(question)
    # The question is embedded afresh, not cached: questions rarely repeat, sentences do.
    q_vecs = np.asarray(vectors.embedder.embed([question, *parts]), dtype=np.float32)
    dense = vecs @ q_vecs.T
    terms = [q_terms, *(lexical.terms(p) for p in parts)]
    lex = np.array(
        [[_coverage(t, index, cand, i) for t in terms] for i in range(len(cand.text))]
    ).reshape(len(cand.text), len(terms))
    prior = np.array([cand.hits[p].dense_similarity or 0.0 for p in cand.paper])[:, None]
    fused = cfg.dense_weight * dense + (1 - cfg.dense_weight) * lex
    scores = (1 - cfg.paper_weight) * fused + cfg.paper_weight * prior
    return scores, dense[:, 0], lex[:, 0], vecs


def question_parts(question: str) -> list[str]:
    """A question of several sentences ("I want to X. Is there a method that Y?") in its
    parts, each with at least three content terms; none for a one-part question. Each part
    gets its best sentence, so a preface that shares many words with background sentences
    cannot crowd out the sentence that answers the ask."""
    parts = [p for p in re.split(r"(?<=[.?!;])\s+", question.strip()) if p]
    parts = [p for p in parts if len(lexical.terms(p)) >= 3]
    return parts if len(parts) > 1 else []


def _leaders(by_part: np.ndarray, eligible: Sequence[bool]) -> list[int]:
    """The best eligible candidate for each question part, the last part (the ask) first."""
    ok = np.asarray(eligible, dtype=bool)
    if by_part.shape[1] < 2 or not ok.any():
        return []
    masked = np.where(ok[:, None], by_part[:, 1:], -np.inf)
    return [int(masked[:, j].argmax()) for j in reversed(range(masked.shape[1]))]


def _distinct(scores: np.ndarray, sim: np.ndarray, max_similarity: float) -> list[int]:
    """Candidates best first, each restatement of a better one dropped."""
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable").tolist():
        if all(sim[i, j] < max_similarity for j in kept):
            kept.append(i)
    return kept


def _candidates(hits: list[PaperHit], index: EvidenceIndex, cfg: EvidenceConfig) -> _Candidates:
    cand = _Candidates(hits, [], [], [], [])
    for p, h in enumerate(hits):
        paper = index.papers[h.paper_id]
        for i in candidate_indices(paper, {h.chunk_id}, cfg.max_whole_chunks, cfg.neighbours):
            cand.paper.append(p)
            cand.index.append(i)
            cand.text.append(paper.sentences[i])
            cand.page.append(paper.page_of(i))
    return cand


def _coverage(q: list[str], index: EvidenceIndex, cand: _Candidates, i: int) -> float:
    pid = cand.hits[cand.paper[i]].paper_id
    return lexical.coverage(q, index.sentence_terms[pid][cand.index[i]], index.stats)


def _paper_lexical(q: list[str], index: EvidenceIndex, cand: _Candidates) -> tuple[float, float]:
    """Best paper's term coverage and BM25 over its title and candidate sentences."""
    docs: dict[int, list[str]] = defaultdict(list)
    for p, i in zip(cand.paper, cand.index, strict=True):
        docs[p].extend(index.sentence_terms[cand.hits[p].paper_id][i])
    for p in docs:
        docs[p].extend(index.title_terms[cand.hits[p].paper_id])
    cover = max(lexical.coverage(q, d, index.stats) for d in docs.values())
    return cover, max(lexical.bm25(q, d, index.stats) for d in docs.values())


def _pool(
    cand: _Candidates, scores: np.ndarray, vecs: np.ndarray, count: TokenCount, cfg: EvidenceConfig
) -> Pool:
    titles = [count(h.title) + cfg.source_tokens for h in cand.hits]
    tokens = [count(t) for t in cand.text]
    return Pool(list(map(float, scores)), cand.paper, tokens, vecs @ vecs.T, titles)


def _sentence(
    cand: _Candidates, i: int, scores: np.ndarray, dense: np.ndarray, lex: np.ndarray
) -> EvidenceSentence:
    h = cand.hits[cand.paper[i]]
    return EvidenceSentence(
        h.paper_id,
        h.title,
        cand.index[i],
        cand.text[i],
        round(float(scores[i]), 4),
        round(float(dense[i]), 4),
        round(float(lex[i]), 4),
        cand.page[i],
    )


def _group(picked: list[EvidenceSentence], hits: list[PaperHit]) -> tuple[PaperEvidence, ...]:
    by_paper: dict[str, list[EvidenceSentence]] = defaultdict(list)
    for s in picked:
        by_paper[s.paper_id].append(s)
    rank = {h.paper_id: h.rank for h in hits}
    papers = [
        PaperEvidence(pid, ss[0].title, rank[pid], tuple(sorted(ss, key=lambda s: s.index)))
        for pid, ss in by_paper.items()
    ]
    return tuple(sorted(papers, key=lambda p: (-p.score, p.rank)))


def _paper_tokens(p: PaperEvidence, count: TokenCount, cfg: EvidenceConfig) -> int:
    return count(p.title) + count(p.passage) + cfg.source_tokens


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


# -- the instant cited answer ------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    """The best evidence sentences, each cited with its paper's number in the evidence."""

    sentences: tuple[tuple[int, EvidenceSentence], ...]

    @property
    def text(self) -> str:
        return " ".join(with_markers(s.text, [n]) for n, s in self.sentences)

    @property
    def text_with_titles(self) -> str:
        """As a reader sees it: each paper's title before its first sentence."""
        parts, seen = [], set()
        for n, s in self.sentences:
            head = "" if n in seen else f"{s.title}: "
            seen.add(n)
            parts.append(with_markers(f"{head}{s.text}", [n]))
        return " ".join(parts)

    @property
    def paper_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.paper_id for _, s in self.sentences))


def extract(
    evidence: Evidence,
    min_sentences: int = 3,
    max_sentences: int = 4,
    min_relative: float = 0.85,
    distinct_papers: bool = False,
) -> Extract:
    """The best `min_sentences`..`max_sentences` sentences of the given papers (beyond the
    minimum, only those scoring at least `min_relative` of the best), each cited with its
    paper's number. `distinct_papers` (surveys): one sentence per paper before any paper gets
    a second."""
    ranked = [(evidence.number(s.paper_id), s) for s in evidence.ranked]
    if distinct_papers:
        firsts = [x for k, x in enumerate(ranked) if all(y[0] != x[0] for y in ranked[:k])]
        ranked = firsts + [x for x in ranked if x not in firsts]
    if not ranked:
        return Extract(())
    floor = min_relative * max(s.score for _, s in ranked)
    kept = [
        x for k, x in enumerate(ranked[:max_sentences]) if k < min_sentences or x[1].score >= floor
    ]
    return Extract(tuple(kept))
