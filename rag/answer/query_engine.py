"""The cited answer engine seen as a LlamaIndex query engine, so LlamaIndex code (tools, agents,
evaluators) can ask it. One engine, not a copy: `CitedQueryEngine` runs `AnswerEngine.stream`.

A `Response` carries the given sources as `source_nodes` (each with its `[n]` in metadata) and
our checked answer in `metadata`: the `rag ask --json` object (citations, sentences, support
labels, abstention, timings). Streaming yields the model's draft tokens as they come; the final
`get_response()` is the checked answer, whose text can differ from the draft (citations moved,
unsupported sentences flagged, or the abstention phrase)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore

from rag.answer.engine import AnswerEngine
from rag.answer.events import Answer, Done, Event, Retrieved, Source, Token
from rag.index.li_retriever import hit_node


def source_nodes(sources: list[Source]) -> list[NodeWithScore]:
    return [hit_node(s.hit, n=s.n, given_passage=s.passage) for s in sources]


def answer_response(answer: Answer, model: str, fingerprint: str) -> Response:
    from rag.schema import ask_output

    meta = ask_output(answer, model, fingerprint).model_dump(mode="json")
    return Response(answer.text, source_nodes(answer.sources), meta)


@dataclass
class CitedStreamingResponse(StreamingResponse):
    """Draft tokens while the model writes; the checked answer once the stream is drained."""

    final: Response | None = None

    def get_response(self) -> Response:
        for _ in self.response_gen:  # drain: the Done event sets `final`
            pass
        assert self.final is not None, "the answer stream ended without an answer"
        return self.final

    def __str__(self) -> str:
        return str(self.get_response())


class CitedQueryEngine(CustomQueryEngine):
    """`query(question)` → a Response with citations; `streaming=True` → CitedStreamingResponse.
    Options: `max_sources` (papers given to the model) and `mode` (hybrid|dense|bm25)."""

    engine: Any  # AnswerEngine (pydantic cannot check our class)
    model: str = ""
    fingerprint: str = ""
    streaming: bool = False
    max_sources: int | None = None
    mode: str | None = None

    def custom_query(self, query_str: str) -> Response | StreamingResponse:
        events = self._events(query_str)
        if not self.streaming:
            done = next(e for e in events if isinstance(e, Done))
            return answer_response(done.answer, self.model, self.fingerprint)
        return self._stream(events)

    def _events(self, question: str) -> Iterator[Event]:
        engine: AnswerEngine = self.engine
        return engine.stream(question, None, max_sources=self.max_sources, mode=self.mode)

    def _stream(self, events: Iterator[Event]) -> CitedStreamingResponse:
        first = next(events)  # Retrieved: the sources are known before the first token
        nodes = source_nodes(first.sources) if isinstance(first, Retrieved) else []
        response = CitedStreamingResponse(response_gen=_no_tokens(), source_nodes=nodes)

        def tokens() -> Generator[str, None, None]:
            for event in chain([first], events):
                if isinstance(event, Token):
                    yield event.text
                elif isinstance(event, Done):
                    response.final = answer_response(event.answer, self.model, self.fingerprint)
                    response.metadata = response.final.metadata

        response.response_gen = tokens()
        return response


def _no_tokens() -> Generator[str, None, None]:
    yield from ()
