"""The cited-answer engine: retrieve → numbered sources → prompt from prompts/ → streamed answer
→ citation check and abstention. Yields events so the CLI and the UI can show sources before
the first token (prefill takes seconds on 2 cores)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rag.answer import citations as cit
from rag.answer import guard
from rag.answer.conversation import Conversation, Turn, condense
from rag.answer.events import Answer, Done, Event, Restart, Retrieved, Source, Status, Token
from rag.answer.prompts import ABSTAIN_PHRASE, Prompts, safe
from rag.index.embed import Embedder
from rag.index.filters import Filters
from rag.index.retrieve import PaperHit, Retrieval, Retriever
from rag.llm.client import ChatClient, ChatTurn, Usage
from rag.question import check_count, check_question
from rag.settings import MAX_SOURCES, AnswerSettings

log = logging.getLogger(__name__)


class AnswerEngine:
    """Built once, shared by concurrent answers: what one answer needs lives in its own _Run."""

    def __init__(
        self,
        retriever: Retriever,
        chat: ChatClient,
        prompts: Prompts,
        cfg: AnswerSettings,
        embedder: Embedder,
        count_tokens: Callable[[str], int],
    ) -> None:
        self.retriever = retriever
        self.chat = chat
        self.prompts = prompts
        self.cfg = cfg
        self.embedder = embedder
        self.count = count_tokens
        self.checker = cit.Checker(cfg.support_min)
        # What the server last saw (its KV cache holds this prefix): only for the cached-token
        # estimate when the server reports no usage; a race here costs an estimate, no answer.
        self._last_prompt = ""

    def ask(self, question: str, conv: Conversation | None = None, **kw: Any) -> Answer:
        for event in self.stream(question, conv, **kw):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("stream ended without Done")

    def stream(
        self,
        question: str,
        conv: Conversation | None = None,
        max_sources: int | None = None,
        mode: str | None = None,
        temperature: float | None = None,
        filters: Filters | None = None,
    ) -> Iterator[Event]:
        """Events for one turn: Retrieved, Status, Token…, (Restart, Token…), Done. Closing the
        generator early closes the HTTP stream, which stops generation on the server."""
        start = time.perf_counter()
        q = check_question(question, self.cfg.max_question_chars)
        standalone = condense(q, conv)
        n = check_count(max_sources, MAX_SOURCES) or self.cfg.max_sources
        only = {"filters": filters} if filters else {}  # retrievers without filters still fit
        retrieval = self.retriever.search(
            standalone, top_k=max(n, self.retriever.cfg.top_k), mode=mode, **only
        )
        reuse = self._reusable(conv, retrieval, n)
        sources = reuse.sources if reuse else self._sources(retrieval.hits[:n], q)
        yield Retrieved(retrieval, sources)
        if self._weak_evidence(retrieval):
            yield Done(self._abstain(q, standalone, sources, retrieval, start, "retrieval"))
            return
        messages = self._messages(q, sources, reuse)
        yield Status(f"model reading {len(sources)} sources…")
        run = _Run(start, overrides={} if temperature is None else {"temperature": temperature})
        yield from self._generate(messages, run)
        if cit.is_abstention(run.text) and self._strong_evidence(retrieval):
            yield Restart("the model abstained although a source matches well; asking again")
            retry = self.prompts.retry.format(n=1, question=q)
            messages = [*messages, ChatTurn("assistant", run.text), ChatTurn("user", retry)]
            run = _Run(start, ttft_ms=run.ttft_ms, overrides=run.overrides)
            yield from self._generate(messages, run)
        answer = self._finish(q, standalone, sources, retrieval, run, start)
        if conv is not None:
            conv.turns.append(self._turn(q, standalone, answer, messages))
        yield Done(answer)

    # -- retrieval side -------------------------------------------------------------------

    def _reusable(self, conv: Conversation | None, r: Retrieval, n: int) -> Turn | None:
        """A follow-up still about last turn's papers (its top paper and at least half of its
        papers were given last turn) keeps that turn's prompt and numbering, so the server
        reuses its KV cache (seconds instead of a fresh prefill)."""
        last = conv.last if conv else None
        if last is None or not last.messages:
            return None
        wanted = [h.paper_id for h in r.hits[:n]]
        if not wanted or wanted[0] not in last.paper_ids:
            return None
        shared = sum(pid in last.paper_ids for pid in wanted)
        return last if shared * 2 >= len(wanted) else None

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

    def _weak_evidence(self, r: Retrieval) -> bool:
        """Neither the embedder nor the words of the question find a match: abstain without
        spending a generation. Both thresholds are calibrated by the eval harness."""
        best = r.best_similarity
        weak_dense = best is None or best < self.cfg.abstain_min_score
        return not r.hits or (weak_dense and r.best_overlap < self.cfg.abstain_min_overlap)

    def _strong_evidence(self, r: Retrieval) -> bool:
        best = r.best_similarity
        return best is not None and best >= self.cfg.abstain_override_min

    # -- generation side ------------------------------------------------------------------

    def _messages(self, q: str, sources: list[Source], reuse: Turn | None) -> list[ChatTurn]:
        if reuse:
            follow = self.prompts.followup.format(question=q)
            return [*reuse.messages, ChatTurn("assistant", reuse.answer), ChatTurn("user", follow)]
        blocks = "\n".join(
            self.prompts.source.format(n=s.n, title=safe(s.hit.title), passage=safe(s.passage))
            for s in sources
        )
        user = self.prompts.sources.format(sources=blocks, question=q)
        return [ChatTurn("system", self.prompts.system_text()), ChatTurn("user", user)]

    def _generate(self, messages: list[ChatTurn], run: _Run) -> Iterator[Event]:
        prompt = "\n".join(m.content for m in messages)
        run.cached_estimate = self.count(_common_prefix(prompt, self._last_prompt))
        run.prompt_estimate = self.count(prompt)
        sent = time.perf_counter()
        for part in self.chat.stream(messages, **run.overrides):
            if isinstance(part, Usage):
                run.usage = part
                continue
            if run.ttft_ms is None:
                run.ttft_ms = (time.perf_counter() - run.start) * 1000
                run.first_token_at = time.perf_counter()
            run.pieces += 1
            run.text += part
            yield Token(part)
        run.sent_at = sent
        self._last_prompt = prompt + run.text

    # -- post-processing ------------------------------------------------------------------

    def _similarity(self, sources: list[Source]) -> cit.Similarity:
        def sims(sentences: list[str]) -> list[list[float]]:
            vecs = self.embedder.embed(sentences + [f"{s.hit.title}\n{s.passage}" for s in sources])
            sent, src = vecs[: len(sentences)], vecs[len(sentences) :]
            return [[_dot(a, b) for b in src] for a in sent]

        return sims

    def _finish(
        self, q: str, standalone: str, sources: list[Source], r: Retrieval, run: _Run, start: float
    ) -> Answer:
        known = [cit.numbers(f"{s.hit.title} {s.passage} {q}") for s in sources]
        sentences = cit.check_answer(
            self._guarded(run.text), len(sources), self._similarity(sources), self.checker, known
        )
        content = [s for s in sentences if s.support != cit.Support.ABSTENTION]
        if not content or (cit.is_abstention(run.text) and not any(s.citations for s in content)):
            return self._abstain(q, standalone, sources, r, start, "model", run)
        if not any(s.citations for s in content):
            # Nothing the model wrote is backed by a source it was given: the abstention
            # phrase is more honest than an unsupported answer.
            return self._abstain(q, standalone, sources, r, start, "unsupported", run)
        return Answer(
            question=q,
            standalone_question=standalone,
            text=" ".join(s.text for s in sentences),
            abstained=False,
            abstain_reason=None,
            sources=sources,
            sentences=sentences,
            retrieval=r,
            timings=self._timings(r, run, start),
            raw_text=run.text,
        )

    def _guarded(self, text: str) -> str:
        """Markup stripped and sentences that quote the rules dropped (see rag/guard.py)."""
        rules = self.prompts.system_text()
        kept = [
            s for s in cit.split_sentences(guard.strip_markup(text)) if not guard.leaks(s, rules)
        ]
        return " ".join(kept)

    def _abstain(
        self,
        q: str,
        standalone: str,
        sources: list[Source],
        r: Retrieval,
        start: float,
        reason: str,
        run: _Run | None = None,
    ) -> Answer:
        sentence = cit.Sentence(ABSTAIN_PHRASE, (), cit.Support.ABSTENTION, None)
        return Answer(
            question=q,
            standalone_question=standalone,
            text=ABSTAIN_PHRASE,
            abstained=True,
            abstain_reason=reason,
            sources=sources,
            sentences=[sentence],
            retrieval=r,
            timings=self._timings(r, run, start),
            raw_text=run.text if run else "",
        )

    def _timings(self, r: Retrieval, run: _Run | None, start: float) -> dict[str, Any]:
        total = (time.perf_counter() - start) * 1000
        t: dict[str, Any] = {"retrieve_ms": round(r.retrieve_ms, 1), "total_ms": round(total, 1)}
        t.update(
            run.timings() if run else {"ttft_ms": None, "prompt_tokens": 0, "cached_tokens": 0}
        )
        return t

    def _turn(self, q: str, standalone: str, a: Answer, messages: list[ChatTurn]) -> Turn:
        ids = tuple(s.hit.paper_id for s in a.sources)
        return Turn(q, standalone, a.raw_text or a.text, ids, a.sources, messages)


@dataclass
class _Run:
    start: float
    ttft_ms: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    pieces: int = 0
    usage: Usage | None = None
    prompt_estimate: int = 0
    cached_estimate: int = 0
    first_token_at: float | None = None
    sent_at: float | None = None

    def timings(self) -> dict[str, Any]:
        u = self.usage
        gen_s = time.perf_counter() - self.first_token_at if self.first_token_at else None
        completion = u.completion_tokens if u and u.completion_tokens else self.pieces
        return {
            "ttft_ms": None if self.ttft_ms is None else round(self.ttft_ms, 1),
            "prompt_tokens": u.prompt_tokens if u and u.prompt_tokens else self.prompt_estimate,
            "cached_tokens": u.cached_tokens
            if u and u.cached_tokens is not None
            else self.cached_estimate,
            "tokens_estimated": not (u and u.prompt_tokens),
            "completion_tokens": completion,
            "gen_tokens_per_s": round(completion / gen_s, 2) if gen_s and completion > 1 else None,
        }


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def _dot(a: list[float], b: list[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))  # vectors are unit-normalised
