"""The cited-answer engine: question → context (retrieval, mode, evidence; rag/answer/context.py)
→ the instant evidence answer → one abstention decision → prompt → streamed answer → sentence
provenance. Yields events so the CLI and the UI can show the sources and the evidence answer
before the model's first token (prefill takes seconds on 2 cores).

The answer mode (RAG_ANSWER_MODE) says what the text is made of: the model's checked sentences
(generative), those followed by the evidence sentences (hybrid), or the evidence alone with no
model (extractive). A survey question always ends with its per-paper list. When the model
abstains or writes nothing the evidence supports, but the decision says the evidence answers
the question, the evidence answer stands (kind "evidence"), not the abstention phrase."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from rag.answer import citations as cit
from rag.answer import compose, guard
from rag.answer import provenance as prov
from rag.answer.abstention import Decision, Rule, decide
from rag.answer.context import Context
from rag.answer.conversation import Conversation, Turn
from rag.answer.events import (
    Answer,
    Done,
    Event,
    Evidence,
    Restart,
    Retrieved,
    Source,
    Status,
    Token,
)
from rag.answer.evidence import EvidenceIndex
from rag.answer.messages import Messages
from rag.answer.prompts import ABSTAIN_PHRASE, Prompts
from rag.answer.vectors import SentenceVectors
from rag.errors import ConfigError
from rag.index.embed import Embedder
from rag.index.filters import Filters
from rag.llm.client import ChatClient, ChatTurn, Usage
from rag.question import check_count, check_question
from rag.settings import MAX_SOURCES, AnswerSettings

log = logging.getLogger(__name__)


class Contexts(Protocol):
    def build(
        self,
        q: str,
        conv: Conversation | None,
        max_sources: int | None = None,
        mode: str | None = None,
        given: list[Source] | None = None,
        filters: Filters | None = None,
    ) -> Context: ...


@dataclass(frozen=True)
class EvidenceParts:
    """What the evidence pipeline checks answers with (None for the legacy pipeline)."""

    index: EvidenceIndex
    vectors: SentenceVectors


class AnswerEngine:
    """Built once, shared by concurrent answers: what one answer needs lives in its own _Run."""

    def __init__(
        self,
        contexts: Contexts,
        chat: ChatClient | None,
        prompts: Prompts,
        cfg: AnswerSettings,
        embedder: Embedder,
        count_tokens: Callable[[str], int],
        rule: Rule,
        parts: EvidenceParts | None = None,
    ) -> None:
        self.contexts = contexts
        self.chat = chat
        self.prompts = prompts
        self.cfg = cfg
        self.embedder = embedder
        self.count = count_tokens
        self.rule = rule
        self.parts = parts
        self.legacy = parts is None
        self.checker = cit.Checker(cfg.support_min)
        self.messages = Messages(prompts, self.legacy, cfg.survey_prompt_papers)
        self.provenance = prov.ProvenanceConfig(support_min=cfg.evidence_support_min)
        # What the server last saw (its KV cache holds this prefix): only for the cached-token
        # estimate when the server reports no usage; a race here costs an estimate, no answer.
        self._last_prompt = ""

    @property
    def retriever(self) -> Any:
        return self.contexts.retriever  # type: ignore[attr-defined]

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
        *,
        sources: list[Source] | None = None,
        model: str | None = None,
        filters: Filters | None = None,
    ) -> Iterator[Event]:
        """Events for one turn: Retrieved, Evidence, Status, Token…, (Restart, Token…), Done.
        Closing the generator early closes the HTTP stream, which stops generation.
        `sources` answers again on a previous turn's sources (no search; the same prompt, so
        the server's cached prefix is reused); `model` overrides the endpoint's model."""
        start = time.perf_counter()
        q = check_question(question, self.cfg.max_question_chars)
        max_sources = check_count(max_sources, MAX_SOURCES)
        ctx = self.contexts.build(q, conv, max_sources, mode, given=sources, filters=filters)
        yield Retrieved(ctx.retrieval, ctx.sources)
        if ctx.instant is not None:
            yield Evidence(ctx.instant, ctx.sources, ctx.evidence_ms or 0.0)
        before = decide(ctx.features, self.rule)
        if not before.answerable or ctx.weak_followup:
            reason = "followup" if before.answerable else _before_reason(before)
            yield Done(self._remember(conv, ctx, self._abstain(ctx, start, reason, before)))
            return
        if self.cfg.mode == "extractive" and not self.legacy:
            answer = self._evidence_answer(ctx, start, before, "extractive")
            yield Done(self._remember(conv, ctx, answer))
            return
        yield from self._generated(ctx, conv, start, temperature, model)

    def _remember(
        self,
        conv: Conversation | None,
        ctx: Context,
        a: Answer,
        messages: list[ChatTurn] | None = None,
    ) -> Answer:
        """The turn joins the conversation (a later follow-up is read against it); without
        messages (no model was asked) it is never continued as a prompt."""
        if conv is not None:
            conv.turns.append(self._turn(ctx, a, messages or []))
        return a

    def _generated(
        self,
        ctx: Context,
        conv: Conversation | None,
        start: float,
        temperature: float | None,
        model: str | None = None,
    ) -> Iterator[Event]:
        if self.chat is None:
            raise ConfigError(
                f"RAG_ANSWER_MODE={self.cfg.mode} needs a model and none was given; "
                "use RAG_ANSWER_MODE=extractive (or `rag ask --no-llm`) to answer without one"
            )
        messages = self.messages.build(ctx)
        yield Status(f"model reading {len(ctx.sources)} sources…")
        run = _Run(start, overrides=self._overrides(ctx, temperature, model))
        yield from self._generate(messages, run)
        if self.legacy and cit.is_abstention(run.text) and self._strong(ctx):
            yield Restart("the model abstained although a source matches well; asking again")
            retry = self.prompts.retry.format(n=1, question=ctx.question)
            messages = [*messages, ChatTurn("assistant", run.text), ChatTurn("user", retry)]
            run = _Run(start, ttft_ms=run.ttft_ms, overrides=run.overrides)
            yield from self._generate(messages, run)
        yield Done(self._remember(conv, ctx, self._finish(ctx, run, start), messages))

    def _overrides(
        self, ctx: Context, temperature: float | None, model: str | None = None
    ) -> dict[str, Any]:
        given = {"temperature": temperature, "model": model}
        out: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if ctx.mode.survey and not self.legacy:
            out["max_tokens"] = self.cfg.survey_answer_tokens  # the list says the rest
        return out

    def _strong(self, ctx: Context) -> bool:
        best = ctx.retrieval.best_similarity
        return best is not None and best >= self.cfg.abstain_override_min

    # -- generation -------------------------------------------------------------------------

    def _generate(self, messages: list[ChatTurn], run: _Run) -> Iterator[Event]:
        assert self.chat is not None
        prompt = "\n".join(m.content for m in messages)
        run.cached_estimate = self.count(_common_prefix(prompt, self._last_prompt))
        run.prompt_estimate = self.count(prompt)
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
        self._last_prompt = prompt + run.text

    # -- post-processing --------------------------------------------------------------------

    def _guarded(self, text: str) -> list[str]:
        """Markup stripped and sentences that quote the rules dropped (see rag/guard.py)."""
        rules = self.messages.rules()
        sentences = cit.split_sentences(guard.strip_markup(text))
        return [s for s in sentences if not guard.leaks(s, rules)]

    def _finish(self, ctx: Context, run: _Run, start: float) -> Answer:
        if self.legacy:
            return self._finish_legacy(ctx, run, start)
        sentences = self._checked(ctx, run.text)
        content = [s for s in sentences if s.support != cit.Support.ABSTENTION]
        refused = not content or (
            cit.is_abstention(run.text) and not any(s.citations for s in content)
        )
        after = decide(ctx.features, self.rule, model_abstained=refused)
        if not after.answerable:
            return self._abstain(ctx, start, "model", after, run)
        if refused or not any(s.citations for s in content):
            # The model refused, or nothing it wrote is backed by the evidence, while the
            # evidence itself answers the question: the evidence answer is the better answer.
            return self._evidence_answer(ctx, start, after, "evidence", run)
        return self._composed(ctx, content, run, start, after)

    def _checked(self, ctx: Context, text: str) -> list[cit.Sentence]:
        assert self.parts is not None
        g = prov.grounds(ctx.standalone, ctx.papers, self.parts.index, self.parts.vectors.get)
        return prov.check(self._guarded(text), g, self._embed, self.provenance)

    def _embed(self, texts: list[str]) -> Any:
        import numpy as np

        return np.asarray(self.embedder.embed(texts), dtype=np.float32)

    def _composed(
        self, ctx: Context, written: list[cit.Sentence], run: _Run, start: float, d: Decision
    ) -> Answer:
        assert ctx.instant is not None
        if ctx.mode.survey:
            listed, head, kind = (
                compose.paper_list(ctx.sources, ctx.instant),
                compose.PAPERS_HEAD,
                "generative",
            )
        elif self.cfg.mode == "hybrid":
            listed, head, kind = (
                compose.extractive(ctx.instant, written),
                compose.EVIDENCE_HEAD,
                "hybrid",
            )
        else:
            listed, head, kind = [], "", "generative"
        text = compose.text_of(written, listed, head)
        return self._answer(ctx, text, [*written, *listed], start, d, kind, run)

    def _evidence_answer(
        self, ctx: Context, start: float, d: Decision, kind: str, run: _Run | None = None
    ) -> Answer:
        assert ctx.instant is not None
        if ctx.mode.survey:
            listed = compose.paper_list(ctx.sources, ctx.instant)
            text = compose.text_of([], listed, compose.PAPERS_HEAD)
        else:
            listed = compose.extractive(ctx.instant)
            text = " ".join(s.text for s in listed)
        return self._answer(ctx, text, listed, start, d, kind, run)

    def _answer(
        self,
        ctx: Context,
        text: str,
        sentences: list[cit.Sentence],
        start: float,
        d: Decision,
        kind: str,
        run: _Run | None = None,
    ) -> Answer:
        return Answer(
            question=ctx.question,
            standalone_question=ctx.standalone,
            text=text,
            abstained=False,
            abstain_reason=None,
            sources=ctx.sources,
            sentences=sentences,
            retrieval=ctx.retrieval,
            timings=self._timings(ctx, run, start),
            raw_text=run.text if run else "",
            evidence=ctx.instant,
            mode=ctx.mode,
            decision=d,
            kind=kind,
        )

    def _finish_legacy(self, ctx: Context, run: _Run, start: float) -> Answer:
        sources = ctx.sources
        known = [cit.numbers(f"{s.hit.title} {s.passage} {ctx.question}") for s in sources]
        sentences = cit.check_answer(
            " ".join(self._guarded(run.text)),
            len(sources),
            self._similarity(sources),
            self.checker,
            known,
        )
        content = [s for s in sentences if s.support != cit.Support.ABSTENTION]
        refused = not content or (
            cit.is_abstention(run.text) and not any(s.citations for s in content)
        )
        after = decide(ctx.features, self.rule, model_abstained=refused)
        if refused:
            return self._abstain(ctx, start, "model", after, run)
        if not any(s.citations for s in content):
            return self._abstain(ctx, start, "unsupported", after, run)
        text = " ".join(s.text for s in sentences)
        return self._answer(ctx, text, sentences, start, after, "generative", run)

    def _similarity(self, sources: list[Source]) -> cit.Similarity:
        def sims(sentences: list[str]) -> list[list[float]]:
            vecs = self.embedder.embed(sentences + [f"{s.hit.title}\n{s.passage}" for s in sources])
            sent, src = vecs[: len(sentences)], vecs[len(sentences) :]
            return [[_dot(a, b) for b in src] for a in sent]

        return sims

    def _abstain(
        self, ctx: Context, start: float, reason: str, d: Decision, run: _Run | None = None
    ) -> Answer:
        sentence = cit.Sentence(ABSTAIN_PHRASE, (), cit.Support.ABSTENTION, None)
        return Answer(
            question=ctx.question,
            standalone_question=ctx.standalone,
            text=ABSTAIN_PHRASE,
            abstained=True,
            abstain_reason=reason,
            sources=ctx.sources,
            sentences=[sentence],
            retrieval=ctx.retrieval,
            timings=self._timings(ctx, run, start),
            raw_text=run.text if run else "",
            evidence=ctx.instant,
            mode=ctx.mode,
            decision=d,
            kind="abstention",
        )

    def _timings(self, ctx: Context, run: _Run | None, start: float) -> dict[str, Any]:
        total = (time.perf_counter() - start) * 1000
        t: dict[str, Any] = {
            "retrieve_ms": round(ctx.retrieval.retrieve_ms, 1),
            "total_ms": round(total, 1),
        }
        if ctx.evidence_ms is not None:
            t["evidence_ms"] = ctx.evidence_ms
        t.update(
            run.timings() if run else {"ttft_ms": None, "prompt_tokens": 0, "cached_tokens": 0}
        )
        return t

    def _turn(self, ctx: Context, a: Answer, messages: list[ChatTurn]) -> Turn:
        ids = tuple(s.hit.paper_id for s in a.sources)
        return Turn(ctx.question, ctx.standalone, a.raw_text or a.text, ids, a.sources, messages)


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


def _before_reason(d: Decision) -> str:
    """Why a question is not put to the model: no figure of the measure asked, or weak evidence."""
    return "figure" if d.features.unstated else "retrieval"
