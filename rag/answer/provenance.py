"""Sentence-level provenance: which evidence sentence supports each answer sentence, and so
which citation it keeps.

An answer sentence is compared with the evidence sentences the model was given (not whole
chunks). The score of an evidence sentence is its dense cosine with the answer sentence fused
with the IDF-weighted share of the answer sentence's *own* terms (those the question does not
contain) found in the evidence sentence or its paper's title. So what distinguishes papers
(method names, datasets, rare terms) decides, and a sentence that only restates the question
supports nothing. A figure the answer states must be stated by the paper's evidence sentences
(the title does not count: a made-up "0.5%" is not backed by a title that says 0.5%).

Markers stay where the model put them (a moved or dropped marker is rewritten in place, see
`citations.rewrite_markers`), and a sentence that continues about the previous sentence's paper
("It …", "The method …") is never given another paper's citation without a flag."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer import citations as cit
from rag.answer import lexical
from rag.answer.citations import EvidenceRef, Sentence, Support
from rag.answer.evidence import EvidenceIndex, EvidenceSentence, PaperEvidence

__all__ = ["ProvenanceConfig", "GivenPaper", "Grounds", "grounds", "check"]

Embed = Callable[[list[str]], np.ndarray]  # texts → unit vectors, one row each
# Words about the answer itself, not its content ("the provided papers propose several
# approaches"): they never make a sentence more than a restatement of the question.
_DISCOURSE = frozenset(
    lexical.terms(
        "provided given evidence source sources question answer propose proposes proposed "
        "several various different many some approach approaches method methods technique "
        "techniques introduce introduces introduced present presents presented describe "
        "describes described discuss discusses study studies work works author authors "
        "address addresses addressed focus focuses include includes including way ways "
        "mentioned listed above following yes no"
    )
)
_CONTINUES = re.compile(
    r"^(?:(?:in addition|additionally|moreover|furthermore|also|however|instead|here|"
    r"specifically|in particular),?\s+)?"
    r"(?:it|its|this|these|they|their|them|the (?:method|approach|model|paper|work|authors|"
    r"framework|system|technique|study|algorithm))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ProvenanceConfig:
    support_min: float = 0.45  # an evidence sentence scoring this supports the answer sentence
    dense_weight: float = 0.5  # score = w * cosine + (1 - w) * own-term share
    margin: float = 0.05  # how much better another paper must be to move a citation
    min_own_idf: float = 1.5  # below this IDF mass of own terms, a sentence restates the question
    ref_share: float = 0.9  # further evidence sentences within this share of the best are kept
    max_refs: int = 2
    min_words: int = 4  # shorter uncited sentences ("Yes.") are not given a citation
    min_joint_share: float = 0.2  # a second cited paper must add this share of the own terms


@dataclass(frozen=True)
class GivenPaper:
    n: int
    paper_id: str
    title: str
    title_terms: frozenset[str]
    sentences: tuple[EvidenceSentence, ...]
    terms: tuple[frozenset[str], ...]  # each sentence's stemmed terms
    vectors: np.ndarray  # one unit row per sentence
    numbers: frozenset[str]  # figures its sentences state (not its title)


@dataclass(frozen=True)
class Grounds:
    question_terms: frozenset[str]
    question_numbers: frozenset[str]
    papers: tuple[GivenPaper, ...]
    stats: lexical.CorpusStats

    def paper(self, n: int) -> GivenPaper | None:
        return next((p for p in self.papers if p.n == n), None)


def grounds(
    question: str,
    papers: Sequence[tuple[int, PaperEvidence]],
    index: EvidenceIndex,
    vectors: Callable[[Sequence[str]], np.ndarray],
) -> Grounds:
    """What answer sentences are checked against: each given paper's evidence sentences."""
    given = tuple(_given(n, p, index, vectors) for n, p in papers if p.sentences)
    q_terms = frozenset(lexical.terms(question))
    return Grounds(q_terms, frozenset(cit.numbers(question)), given, index.stats)


def _given(
    n: int, p: PaperEvidence, index: EvidenceIndex, vectors: Callable[[Sequence[str]], np.ndarray]
) -> GivenPaper:
    all_terms = index.sentence_terms.get(p.paper_id, ())
    terms = tuple(
        frozenset(all_terms[s.index] if s.index < len(all_terms) else lexical.terms(s.text))
        for s in p.sentences
    )
    figures = frozenset(x for s in p.sentences for x in cit.numbers(s.text))
    title_terms = frozenset(index.title_terms.get(p.paper_id, lexical.terms(p.title)))
    vecs = vectors([s.text for s in p.sentences])
    return GivenPaper(n, p.paper_id, p.title, title_terms, p.sentences, terms, vecs, figures)


# -- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    """One answer sentence, as the checker sees it."""

    text: str
    cited: tuple[int, ...]
    own: frozenset[str]  # its terms the question does not contain
    own_idf: float
    figures: frozenset[str]  # its figures the question does not state
    vector: np.ndarray
    continues: bool


@dataclass(frozen=True)
class _PaperScore:
    n: int
    score: float
    refs: tuple[EvidenceRef, ...]
    figures_ok: bool
    dense: float = 0.0  # of the best evidence sentence
    found: frozenset[str] = frozenset()  # the claim's own terms that sentence (or title) has
    numbers: frozenset[str] = frozenset()  # the figures the paper's evidence states


def _claim(text: str, vector: np.ndarray, g: Grounds) -> _Claim:
    bare = cit.strip_markers(text)
    own = frozenset(lexical.terms(bare)) - g.question_terms - _DISCOURSE
    idf = sum(g.stats.idf(t) for t in own)
    figures = frozenset(cit.numbers(bare)) - g.question_numbers
    cited = tuple(cit.parse(text))
    return _Claim(text, cited, own, idf, figures, vector, bool(_CONTINUES.match(bare)))


def _own_share(c: _Claim, found: frozenset[str], stats: lexical.CorpusStats) -> float:
    total = sum(stats.idf(t) for t in c.own)
    return sum(stats.idf(t) for t in c.own & found) / total if total > 0 else 0.0


def _paper_score(c: _Claim, p: GivenPaper, g: Grounds, cfg: ProvenanceConfig) -> _PaperScore:
    dense = p.vectors @ c.vector if len(p.sentences) else np.zeros(0)
    lex = [_own_share(c, t | p.title_terms, g.stats) for t in p.terms]
    w = cfg.dense_weight
    scores = [w * float(d) + (1 - w) * x for d, x in zip(dense, lex, strict=True)]
    if not scores:
        return _PaperScore(p.n, 0.0, (), False)
    best = max(scores)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = [i for i in order[: cfg.max_refs] if scores[i] >= cfg.ref_share * best]
    refs = tuple(
        EvidenceRef(
            p.n,
            p.paper_id,
            p.sentences[i].index,
            p.sentences[i].text,
            round(scores[i], 4),
            p.sentences[i].page,
        )
        for i in keep
    )
    top = order[0]
    found = c.own & (p.terms[top] | p.title_terms)
    return _PaperScore(
        p.n, round(best, 4), refs, c.figures <= p.numbers, float(dense[top]), found, p.numbers
    )


def _joint(c: _Claim, cited: list[_PaperScore], g: Grounds, cfg: ProvenanceConfig) -> float:
    """A sentence that combines the cited papers' claims ("[1] and [2] both find X"): its own
    terms are looked for in all their best evidence sentences together."""
    found = frozenset().union(*(s.found for s in cited))
    figures = frozenset().union(*(s.numbers for s in cited))
    if not c.figures <= figures:
        return 0.0
    dense = max(s.dense for s in cited)
    return cfg.dense_weight * dense + (1 - cfg.dense_weight) * _own_share(c, found, g.stats)


def _supports(s: _PaperScore, cfg: ProvenanceConfig) -> bool:
    return s.figures_ok and s.score >= cfg.support_min


# -- judging ----------------------------------------------------------------------------------


@dataclass
class _Judge:
    g: Grounds
    cfg: ProvenanceConfig
    subject: tuple[int, ...] = ()  # the paper(s) the answer is talking about so far

    def name(self, n: int) -> str:
        p = self.g.paper(n)
        return f"“{p.title}”" if p else "the cited paper"

    def sentence(self, c: _Claim) -> Sentence:
        valid = tuple(n for n in c.cited if self.g.paper(n) is not None)
        scores = {p.n: _paper_score(c, p, self.g, self.cfg) for p in self.g.papers}
        if cit.is_abstention(c.text) and not valid:
            return Sentence(cit.strip_markers(c.text), (), Support.ABSTENTION, None)
        if c.own_idf < self.cfg.min_own_idf:
            return self._restates(c, valid)
        out = self._cited(c, valid, scores) if valid else self._uncited(c, scores)
        if out.citations:
            self.subject = out.citations
        return out

    def _drop(self, c: _Claim, keep: Sequence[int]) -> str:
        return cit.rewrite_markers(c.text, lambda n: n if n in keep else None, self.name)

    def _restates(self, c: _Claim, valid: tuple[int, ...]) -> Sentence:
        note = "restates the question: it names nothing the evidence could support"
        return Sentence(self._drop(c, ()), (), Support.UNSUPPORTED, None, (), note)

    def _cited(self, c: _Claim, valid: tuple[int, ...], scores: dict[int, _PaperScore]) -> Sentence:
        kept = [n for n in valid if _supports(scores[n], self.cfg)]
        top = max(scores[n].score for n in valid)
        if len(valid) > 1:
            kept = self._together(c, valid, kept, scores)
        if kept:
            refs = tuple(r for n in kept for r in scores[n].refs)
            text = self._drop(c, kept)
            return Sentence(text, tuple(kept), Support.SUPPORTED, top, refs)
        best = self._best(scores)
        if best and best.score > top + self.cfg.margin:
            return self._move(c, valid, best, top)
        return Sentence(self._drop(c, ()), (), Support.UNSUPPORTED, top, (), _why(scores, valid))

    def _together(
        self, c: _Claim, valid: tuple[int, ...], kept: list[int], scores: dict[int, _PaperScore]
    ) -> list[int]:
        """`kept` plus the other cited papers that add terms of their own, if all of them
        together support the sentence."""
        have = frozenset().union(*(scores[n].found for n in kept))
        extra = [
            n
            for n in valid
            if n not in kept
            and _own_share(c, scores[n].found - have, self.g.stats) >= self.cfg.min_joint_share
        ]
        both = [n for n in valid if n in kept or n in extra]
        if extra and _joint(c, [scores[n] for n in both], self.g, self.cfg) >= self.cfg.support_min:
            return both
        return kept

    def _move(self, c: _Claim, valid: tuple[int, ...], best: _PaperScore, top: float) -> Sentence:
        if c.continues and self.subject and best.n not in self.subject:
            note = _other_paper(self.subject, best.n)
            return Sentence(self._drop(c, ()), (), Support.UNSUPPORTED, top, (), note)
        text = cit.rewrite_markers(c.text, lambda n: best.n, self.name)
        return Sentence(text, (best.n,), Support.CORRECTED, best.score, best.refs)

    def _uncited(self, c: _Claim, scores: dict[int, _PaperScore]) -> Sentence:
        bare = cit.strip_markers(c.text)
        if len(bare.split()) < self.cfg.min_words:
            return Sentence(bare, (), Support.UNCITED, None)
        pool = self.subject if c.continues and self.subject else tuple(scores)
        best = self._best({n: scores[n] for n in pool if n in scores})
        if best:
            text = cit.append_marker(bare, best.n)
            return Sentence(text, (best.n,), Support.ADDED, best.score, best.refs)
        other = self._best(scores)
        note = _other_paper(self.subject, other.n) if other and c.continues else None
        top = max((s.score for s in scores.values()), default=None)
        return Sentence(bare, (), Support.UNCITED, top, (), note)

    def _best(self, scores: dict[int, _PaperScore]) -> _PaperScore | None:
        ok = [s for s in scores.values() if _supports(s, self.cfg)]
        return max(ok, key=lambda s: s.score) if ok else None


def _other_paper(subject: tuple[int, ...], other: int) -> str:
    about = ", ".join(f"[{n}]" for n in subject)
    return f"continues about {about}, but only [{other}] has evidence for it"


def _why(scores: dict[int, _PaperScore], valid: tuple[int, ...]) -> str:
    if any(not scores[n].figures_ok for n in valid):
        return "states a figure the cited paper's evidence does not"
    return "the cited paper's evidence does not support it"


def check(
    sentences: Sequence[str], g: Grounds, embed: Embed, cfg: ProvenanceConfig = ProvenanceConfig()
) -> list[Sentence]:
    """Each answer sentence with its checked citations, support label and provenance. A
    sentence that only restates the question and cites nothing ("The papers propose several
    approaches to …") says nothing and is left out."""
    if not sentences:
        return []
    if not cit.is_complete(sentences[-1]):
        sentences = sentences[:-1]  # cut off by the token limit
    if not sentences:
        return []
    vectors = embed([cit.strip_markers(s) for s in sentences])
    judge = _Judge(g, cfg)
    claims = [_claim(s, v, g) for s, v in zip(sentences, vectors, strict=True)]
    return [judge.sentence(c) for c in claims if not _framing(c, cfg)]


def _framing(c: _Claim, cfg: ProvenanceConfig) -> bool:
    return not c.cited and c.own_idf < cfg.min_own_idf and not cit.is_abstention(c.text)
