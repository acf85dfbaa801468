"""Answer latency, old engine vs new, in one run with the real local model (or RAG_LLM_BASE_URL).

    RAG_DATA_DIR=... .venv/bin/python bench/answer.py [--per-set 6] [--draft 10]

Questions: `--per-set` of eval/questions.jsonl and of eval/questions_hard.jsonl, round-robin by
type. Each engine answers them as one block after a warm-up question (so its system prompt is in
the server's KV cache, as in a chat): `legacy` (each paper's best chunk, the engine before issue
11) and `new` (evidence sentences, the settings as given). Printed per engine: evidence answer
latency (question → the Evidence event: retrieval, evidence, the instant answer), TTFT, total,
prompt and uncached tokens, generation tokens/s, and new/old ratios; then the follow-up TTFT on
the same sources. `--draft N` also runs the new engine against a second local server started
with prompt-lookup decoding (N drafted tokens) and prints its generation speed beside.

Targets (issue 11): evidence answer p95 <= 1 s; TTFT p50 (new) <= 0.6 x TTFT p50 (legacy)."""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.eval.data import EVAL_DIR, load_questions
from rag.eval.runner import take

from rag.answer.conversation import Conversation
from rag.answer.engine import AnswerEngine
from rag.answer.events import Done, Evidence
from rag.llm.session import llm_session
from rag.settings import Settings
from rag.wiring import build_engine, open_retriever

FOLLOW_UP = "What results does it report?"
WARM_UP = "What is QLoRA?"


def pct(v: Sequence[float], q: int) -> float | None:
    if not v:
        return None
    return statistics.quantiles(v, n=100, method="inclusive")[q - 1] if len(v) > 1 else v[0]


@dataclass
class Block:
    """One engine's answers: the timings of each."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    follow: list[float] = field(default_factory=list)

    def values(self, key: str) -> list[float]:
        return [float(r[key]) for r in self.rows if r.get(key) is not None]


def timed(engine: AnswerEngine, question: str, conv: Conversation | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    row: dict[str, Any] = {}
    for event in engine.stream(question, conv):
        if isinstance(event, Evidence):
            row["evidence_answer_ms"] = (time.perf_counter() - start) * 1000
        if isinstance(event, Done):
            t = event.answer.timings
            row |= {k: t.get(k) for k in ("ttft_ms", "total_ms", "prompt_tokens", "evidence_ms")}
            row["uncached"] = (t.get("prompt_tokens") or 0) - (t.get("cached_tokens") or 0)
            row["gen"] = t.get("gen_tokens_per_s")
            row["kind"] = event.answer.kind
    return row


def run_block(name: str, engine: AnswerEngine, questions: Sequence[str], follow_ups: int) -> Block:
    block = Block(name)
    timed(engine, WARM_UP)  # loads the embedder, caches this engine's system prompt
    for q in questions:
        block.rows.append(timed(engine, q))
        print(f"  {name}: {block.rows[-1]}", flush=True)
    for q in questions[:follow_ups]:
        conv = Conversation()
        engine.ask(q, conv)
        f = timed(engine, FOLLOW_UP, conv)
        if f.get("ttft_ms"):
            block.follow.append(f["ttft_ms"])
    return block


def raw_prefill_rate(base_url: str, model: str) -> tuple[float, int]:
    """A fresh (uncacheable) prompt, one output token: prompt tokens / seconds."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="none")
    filler = " ".join(f"{uuid.uuid4().hex[:6]} token{i}" for i in range(150))
    t = time.perf_counter()
    r = client.chat.completions.create(
        model=model, max_tokens=1, messages=[{"role": "user", "content": filler}]
    )
    n = r.usage.prompt_tokens
    return n / (time.perf_counter() - t), n


def questions(per_set: int) -> list[str]:
    files = ("questions.jsonl", "questions_hard.jsonl")
    return [q.question for f in files for q in take(load_questions(EVAL_DIR / f), per_set)]


def legacy(settings: Settings) -> Settings:
    answer = settings.answer.model_copy(update={"pipeline": "legacy", "mode": "generative"})
    return settings.model_copy(update={"answer": answer})


def with_draft(settings: Settings, tokens: int) -> Settings:
    llm = settings.llm.model_copy(
        update={"draft": "prompt-lookup", "draft_tokens": tokens, "port": settings.llm.port + 1}
    )
    return settings.model_copy(update={"llm": llm})


ROWS: tuple[tuple[str, str, Callable[[Sequence[float]], float | None]], ...] = (
    ("evidence answer p50 (ms)", "evidence_answer_ms", lambda v: pct(v, 50)),
    ("evidence answer p95 (ms)", "evidence_answer_ms", lambda v: pct(v, 95)),
    ("TTFT p50 (s)", "ttft_ms", lambda v: (pct(v, 50) or 0) / 1000 or None),
    ("TTFT p95 (s)", "ttft_ms", lambda v: (pct(v, 95) or 0) / 1000 or None),
    ("total p50 (s)", "total_ms", lambda v: (pct(v, 50) or 0) / 1000 or None),
    ("total p95 (s)", "total_ms", lambda v: (pct(v, 95) or 0) / 1000 or None),
    ("prompt tokens (mean)", "prompt_tokens", lambda v: statistics.mean(v) if v else None),
    ("uncached prompt tokens (mean)", "uncached", lambda v: statistics.mean(v) if v else None),
    ("generation tokens/s (median)", "gen", lambda v: statistics.median(v) if v else None),
)


def report(blocks: Sequence[Block], rate: float, raw_tokens: int) -> None:
    print(f"\nraw prefill rate: {rate:.1f} tokens/s ({raw_tokens}-token uncached prompt)")
    print("| metric | " + " | ".join(b.name for b in blocks) + " | new / legacy |")
    print("|---|" + "---:|" * (len(blocks) + 1))
    for label, key, agg in ROWS:
        vals = [agg(b.values(key)) for b in blocks]
        ratio = vals[1] / vals[0] if len(vals) > 1 and vals[0] and vals[1] else None
        cells = ["–" if v is None else f"{v:,.2f}" for v in vals]
        print(
            f"| {label} | " + " | ".join(cells) + f" | {'' if ratio is None else f'{ratio:.2f}'} |"
        )
    for b in blocks:
        if b.follow:
            print(f"follow-up TTFT ({b.name}): " + ", ".join(f"{x / 1000:.2f} s" for x in b.follow))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-set", type=int, default=6, help="questions of each set (easy, hard)")
    ap.add_argument("--follow-ups", type=int, default=2)
    ap.add_argument("--draft", type=int, default=0, help="also try prompt-lookup decoding")
    args = ap.parse_args()
    settings = Settings()
    retriever = open_retriever(settings)
    qs = questions(args.per_set)
    print(f"{len(qs)} questions; machine load (1 min): {_load()}")
    with llm_session(settings) as session:
        rate, raw_tokens = raw_prefill_rate(session.base_url, settings.llm.model)
        engines = {
            "legacy": build_engine(legacy(settings), session.client(), retriever),
            "new": build_engine(settings, session.client(), retriever, "now"),
        }
        blocks = [run_block(n, e, qs, args.follow_ups) for n, e in engines.items()]
    if args.draft:
        drafted = with_draft(settings, args.draft)
        with llm_session(drafted) as session:
            engine = build_engine(drafted, session.client(), retriever, "now")
            blocks.append(run_block(f"new + prompt lookup ({args.draft})", engine, qs, 0))
    print(f"machine load (1 min) after: {_load()}")
    report(blocks, rate, raw_tokens)


def _load() -> str:
    import os

    return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
