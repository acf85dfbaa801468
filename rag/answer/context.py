"""From a question to what the model will be given: retrieval, survey-or-lookup mode, the
evidence sentences, the numbered sources, the instant extractive answer and the abstention
features. No model is involved; everything here takes well under a second once the sentence
vectors are precomputed.

Two pipelines build a `Context`: `EvidenceContexts` (issue 11: every sentence of each candidate
paper scored, the best chosen under a budget, survey questions widened) and `LegacyContexts`
(each paper's best chunk trimmed to the budget: the engine before issue 11, kept so the eval can
put old and new side by side)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.answer import citations as cit
from rag.answer import followup
from rag.answer.abstention import Features, features_of
from rag.answer.conversation import Conversation, Turn
from rag.answer.events import Source
from rag.answer.evidence import (
    Evidence,
    EvidenceConfig,
    EvidenceIndex,
    Extract,
    PaperEvidence,
    extract,
    gather,
)
from rag.answer.figures import unstated_measure
from rag.answer.prompts import Prompts
from rag.answer.survey import Mode, SurveyRule, detect
from rag.answer.vectors import SentenceVectors
from rag.index.filters import Filters
from rag.index.retrieve import PaperHit, Retrieval, Retriever
from rag.settings import AnswerSettings

__all__ = ["Context", "EvidenceContexts", "LegacyContexts", "SEARCH_K", "survey_rule"]

SEARCH_K = 10  # papers retrieved before the mode decides how many are given
LEAD = 3  # a lookup's best sentences (the instant answer's) are given first, then other papers
TokenCount = Callable[[str], int]


@dataclass(frozen=True)
class Context:
    question: str
    standalone: str
    retrieval: Retrieval
    mode: Mode
    sources: list[Source]
    features: Features
    reuse: Turn | None  # a follow-up on last turn's papers: its prompt and numbering are kept
    evidence: Evidence | None = None  # evidence pipeline only
    instant: Extract | None = None
    evidence_ms: float | None = None
    weak_followup: bool = False  # refers back, yet its best paper is new and weakly similar

    @property
    def papers(self) -> list[tuple[int, PaperEvidence]]:
        """Each source's number and the evidence the model is given for it."""
        return [(s.n, _as_paper(s)) for s in self.sources if s.sentences]


def _as_paper(s: Source) -> PaperEvidence:
    return PaperEvidence(s.hit.paper_id, s.hit.title, s.hit.rank, s.sentences)


def survey_rule(cfg: AnswerSettings) -> SurveyRule:
    """The survey rule with the paper counts and budgets of the settings."""
    return replace(
        SurveyRule(),
        survey_papers=cfg.survey_sources,
        survey_budget=cfg.survey_budget_tokens,
        lookup_papers=cfg.max_sources,
        lookup_budget=cfg.evidence_budget_tokens,
    )


def reusable(conv: Conversation | None, r: Retrieval, n: int) -> Turn | None:
    """A follow-up still about last turn's papers keeps that turn's prompt and numbering, so
    the server reuses its KV cache (seconds instead of a fresh prefill); only when every paper
    it wants was given last turn, so continuing never hides a new paper from the model."""
    last = conv.last if conv else None
    wanted = [h.paper_id for h in r.hits[:n]]
    return last if followup.reuses_last_turn(last, wanted) else None


def turn_query(
    retriever: Retriever,
    q: str,
    conv: Conversation | None,
    top_k: int,
    mode: str | None,
    given: list[Source] | None,
    filters: Filters | None = None,
) -> followup.TurnQuery:
    """The turn's retrieval: the follow-up rule's fused search, or `given` sources again."""
    if given is not None:
        return followup.given(q, conv, given, mode or retriever.cfg.mode, filters)
    return followup.retrieve(retriever, q, conv, top_k, mode, filters)


# -- the evidence pipeline -------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceContexts:
    retriever: Retriever
    index: EvidenceIndex
    vectors: SentenceVectors
    count: TokenCount
    rule: SurveyRule

    def build(
        self,
        q: str,
        conv: Conversation | None,
        max_sources: int | None = None,
        mode: str | None = None,
        given: list[Source] | None = None,
        filters: Filters | None = None,
    ) -> Context:
        found = turn_query(self.retriever, q, conv, max(SEARCH_K, max_sources or 0), mode, given)
        standalone, r = found.standalone, found.retrieval
        start = time.perf_counter()
        m = self._mode(standalone, r, max_sources)
        reuse = None if given is not None else reusable(conv, r, m.papers)
        cfg = EvidenceConfig(
            budget_tokens=m.budget_tokens,
            max_per_paper=m.sentences_per_paper,
            lead=0 if m.survey else LEAD,
        )
        hits = [s.hit for s in reuse.sources] if reuse else r.hits[: m.papers]
        ev = gather(standalone, hits, self.index, self.vectors, self.count, cfg)
        sources = _numbered(ev, hits, reuse)
        instant = _renumbered(extract(ev, distinct_papers=m.survey), sources)
        sources = _with_quoted(sources, instant)
        ms = (time.perf_counter() - start) * 1000
        return Context(
            q,
            standalone,
            r,
            m,
            sources,
            features_of(
                r,
                ev,
                bool(r.hits) and bool(self._names(standalone, r)),
                self._unstated(standalone, hits),
            ),
            reuse,
            ev,
            instant,
            round(ms, 1),
            found.weak_followup,
        )

    def _names(self, standalone: str, r: Retrieval) -> tuple[str, ...]:
        names = getattr(self.retriever, "names", None)  # test doubles may lack it
        return names(standalone, r.hits[0].title) if names else ()

    def _unstated(self, standalone: str, hits: list[PaperHit]) -> str:
        """The measure asked for that no given paper's whole text states (rag/answer/figures)."""
        papers = [self.index.papers[h.paper_id] for h in hits if h.paper_id in self.index.papers]
        return unstated_measure(standalone, [p.sentences for p in papers])

    def _mode(self, standalone: str, r: Retrieval, max_sources: int | None) -> Mode:
        m = detect(standalone, [h.dense_similarity for h in r.hits], self.rule)
        return replace(m, papers=max_sources) if max_sources else m


def _numbered(ev: Evidence, hits: list[PaperHit], reuse: Turn | None) -> list[Source]:
    """Sources numbered as the evidence orders its papers, or, for a follow-up on last turn's
    papers, as last turn numbered them (its new sentences added to what was given)."""
    if reuse:
        fresh = {p.paper_id: p for p in ev.papers}
        return [_grown(s, fresh.get(s.hit.paper_id)) for s in reuse.sources]
    by_id = {h.paper_id: h for h in hits}
    return [
        Source(n, by_id[p.paper_id], p.passage, p.sentences)
        for n, p in enumerate(ev.papers, start=1)
    ]


def _grown(s: Source, p: PaperEvidence | None) -> Source:
    if p is None:
        return s
    seen = {x.index for x in s.sentences}
    both = (*s.sentences, *(x for x in p.sentences if x.index not in seen))
    return replace(s, sentences=tuple(sorted(both, key=lambda x: x.index)), quoted=())


def _renumbered(instant: Extract, sources: list[Source]) -> Extract:
    """The instant answer cited with the sources' numbers (a follow-up keeps last turn's)."""
    number = {s.hit.paper_id: s.n for s in sources}
    kept = tuple((number[s.paper_id], s) for _, s in instant.sentences if s.paper_id in number)
    return Extract(kept)


def _with_quoted(sources: list[Source], instant: Extract) -> list[Source]:
    """Each source with the instant answer's sentences it was not given (for its card)."""
    out = []
    for src in sources:
        given = {x.index for x in src.sentences}
        extra = [s for n, s in instant.sentences if n == src.n and s.index not in given]
        out.append(replace(src, quoted=tuple(sorted(extra, key=lambda s: s.index))))
    return out


# -- the legacy pipeline ---------------------------------------------------------------------


@dataclass(frozen=True)
class LegacyContexts:
    """Each paper's best chunk trimmed to an equal share of the prompt budget."""

    retriever: Retriever
    count: TokenCount
    prompts: Prompts
    cfg: AnswerSettings

    def build(
        self,
        q: str,
        conv: Conversation | None,
        max_sources: int | None = None,
        mode: str | None = None,
        given: list[Source] | None = None,
        filters: Filters | None = None,
    ) -> Context:
        """The engine before issue 11 (with the same follow-up retrieval as the new one)."""
        n = max_sources or self.cfg.max_sources
        top_k = max(n, self.retriever.cfg.top_k)
        found = turn_query(self.retriever, q, conv, top_k, mode, given, filters)
        standalone, r = found.standalone, found.retrieval
        reuse = None if given is not None else reusable(conv, r, n)
        if reuse:
            sources = reuse.sources
        else:
            sources = list(given) if given is not None else self._sources(r.hits[:n], q)
        m = Mode(False, n, 0, self.cfg.prompt_budget_tokens, 0, 0, "legacy: no survey mode")
        features = features_of(r, None)
        return Context(
            q, standalone, r, m, sources, features, reuse, None, None, None, found.weak_followup
        )

    def _sources(self, hits: list[PaperHit], question: str) -> list[Source]:
        if not hits:
            return []
        overhead = self.count(self.prompts.sources) + self.count(question) + 12 * len(hits)
        per_source = max(40, (self.cfg.prompt_budget_tokens - overhead) // len(hits))
        return [
            Source(i, h, self._trim(h.chunk, per_source - self.count(h.title)))
            for i, h in enumerate(hits, start=1)
        ]

    def _trim(self, passage: str, budget: int) -> str:
        out: list[str] = []
        for sentence in cit.split_sentences(passage):
            if self.count(" ".join([*out, sentence])) > budget:
                break
            out.append(sentence)
        if not out:  # one long first sentence: cut at a word boundary
            words = passage.split()
            while words and self.count(" ".join(words)) > budget:
                words = words[: max(1, int(len(words) * 0.85))]
            out = [" ".join(words) + " …"]
        return " ".join(out)
