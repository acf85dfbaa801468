"""The chat messages one answer sends: the static rules first (the server keeps them in its KV
cache), then the sources as `<source id="n">` data and the question. The evidence pipeline
gives each paper's evidence sentences as a list under its title; a survey gives the first few
papers' best sentence only (prefill is the cost; the per-paper list needs no model). A
follow-up on last turn's papers continues that conversation, adding only the sentences it was
not given."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rag.answer.context import Context
from rag.answer.conversation import Turn
from rag.answer.events import Source
from rag.answer.prompts import Prompts, safe
from rag.llm.client import ChatTurn

__all__ = ["Messages"]

Given = dict[int, set[int]]  # source n → indices of the sentences already given


@dataclass(frozen=True)
class Messages:
    prompts: Prompts
    legacy: bool
    survey_papers: int  # papers a survey's synthesis reads

    def rules(self) -> str:
        return self.prompts.system_text(legacy=self.legacy)

    def build(self, ctx: Context) -> list[ChatTurn]:
        if ctx.reuse:
            return self._followup(ctx, ctx.reuse)
        user = self._legacy(ctx) if self.legacy else self._evidence(ctx)
        return [ChatTurn("system", self.rules()), ChatTurn("user", user)]

    def _legacy(self, ctx: Context) -> str:
        blocks = "\n".join(
            self.prompts.source.format(n=s.n, title=safe(s.hit.title), passage=safe(s.passage))
            for s in ctx.sources
        )
        return self.prompts.sources.format(sources=blocks, question=ctx.question)

    def _evidence(self, ctx: Context) -> str:
        task = self.prompts.survey if ctx.mode.survey else self.prompts.lookup
        papers = self.papers(self.read(ctx), {})
        return self.prompts.evidence.format(papers=papers, task=task, question=ctx.question)

    def read(self, ctx: Context) -> list[Source]:
        """The sources the model reads (a survey: the first few, their best sentence each)."""
        if not ctx.mode.survey:
            return ctx.sources
        firsts = [s for s in ctx.sources[: self.survey_papers] if s.sentences]
        return [replace(s, sentences=(max(s.sentences, key=lambda x: x.score),)) for s in firsts]

    def papers(self, sources: list[Source], given: Given) -> str:
        """Each source's evidence sentences not in `given`, as a list under its title."""
        blocks = []
        for s in sources:
            new = [x for x in s.sentences if x.index not in given.get(s.n, set())]
            if new:
                lines = "\n".join(f"- {safe(x.text)}" for x in new)
                title = safe(s.hit.title)
                blocks.append(self.prompts.paper.format(n=s.n, title=title, sentences=lines))
        return "\n".join(blocks)

    def _followup(self, ctx: Context, last: Turn) -> list[ChatTurn]:
        history = [*last.messages, ChatTurn("assistant", last.answer)]
        if self.legacy:
            return [*history, ChatTurn("user", self.prompts.followup.format(question=ctx.question))]
        given = {s.n: {x.index for x in s.sentences} for s in last.sources}
        papers = self.papers(ctx.sources, given) or "(nothing new)"
        follow = self.prompts.followup_evidence.format(papers=papers, question=ctx.question)
        return [*history, ChatTurn("user", follow)]
