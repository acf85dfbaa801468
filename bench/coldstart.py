"""Cold start: is the first question after "ready" as fast as the next ones?

    RAG_DATA_DIR=... RAG_LLM_BASE_URL=http://127.0.0.1:PORT/v1 \\
        .venv/bin/python bench/coldstart.py [--no-warm] [--tokens N]

Run it in a fresh process each time (the embedder loads once per process). It builds what
`rag ui` builds (store, engine, LLM link), starts the warm-up (`--no-warm`: only waits for the
LLM, as the page did before) and waits for "ready", then asks three different questions in a
row and prints, for each, the evidence time (question → sources shown: retrieval, including
the embedder's first load when not warmed), the time to the first token and the total.
Before it starts it sends the LLM an unrelated prompt, so the server's KV cache does not hold
our prompt prefix from an earlier run."""

from __future__ import annotations

import argparse
import time

from rag.ui.health import LLMState
from rag.ui.runtime import build_deps
from rag.ui.warm import Phase

from rag.answer.events import Retrieved, Token
from rag.llm.client import ChatTurn
from rag.settings import Settings

QUESTIONS = [
    "Which method finetunes a 65B model on a single 48GB GPU?",
    "How do attention sinks affect streaming language models?",
    "Which benchmark tests tool-using agents with real user queries?",
]


def evict_prefix(deps) -> None:  # type: ignore[no-untyped-def]
    turns = [ChatTurn("system", "You are a poet."), ChatTurn("user", "A haiku about rain.")]
    for _ in deps.llm.client().stream(turns, max_tokens=1):
        pass


def wait(deps, warm: bool) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while True:
        done = deps.warm.phase is Phase.READY if warm else deps.llm.state is LLMState.READY
        if done:
            return time.perf_counter() - start
        time.sleep(0.1)


def timed(deps, question: str) -> tuple[float, float | None, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    evidence = first = None
    for event in deps.engine.stream(question):
        now = time.perf_counter() - start
        if isinstance(event, Retrieved) and evidence is None:
            evidence = now
        if isinstance(event, Token) and first is None:
            first = now
    return evidence or 0.0, first, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-warm", action="store_true", help="no warm-up (the page before #12)")
    p.add_argument("--tokens", type=int, default=16, help="answer length (short: faster runs)")
    args = p.parse_args()
    settings = Settings()
    settings = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"max_answer_tokens": args.tokens})}
    )
    start = time.perf_counter()
    deps = build_deps(settings)
    print(f"page can be served after {time.perf_counter() - start:.1f} s (store opened)")
    deps.llm.start()
    while deps.llm.state is not LLMState.READY:
        time.sleep(0.1)
    evict_prefix(deps)
    if not args.no_warm:
        deps.warm.start()
    print(f"{'ready' if not args.no_warm else 'LLM up'} {wait(deps, not args.no_warm):.1f} s later")
    print(f"{'question':<10} {'evidence s':>10} {'first token s':>14} {'total s':>8}")
    for i, q in enumerate(QUESTIONS, start=1):
        evidence, first, total = timed(deps, q)
        ttft = f"{first:.2f}" if first is not None else "-"
        print(f"{i:<10} {evidence:>10.2f} {ttft:>14} {total:>8.2f}")
    deps.close()


if __name__ == "__main__":
    main()
