"""Answer latency benchmark with the real local model (or RAG_LLM_BASE_URL). Prints, from one
run: TTFT p50/p95, total p50/p95, prompt / cached tokens, generation tokens/s, the server's raw
prefill rate, and follow-up TTFT on the same sources.

    RAG_DATA_DIR=... .venv/bin/python bench/answer.py [--questions 10]

Targets (issue 4): TTFT p50 <= 1.3 x (uncached prompt tokens / raw prefill rate);
a follow-up on the same sources <= 3 s to first token."""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

from rag.eval.data import QUESTIONS_FILE

from rag.answer.conversation import Conversation
from rag.llm.session import LLMSession, llm_session
from rag.settings import Settings
from rag.wiring import build_engine, run_ingest

FOLLOW_UP = "What results does it report?"


def pct(v: list[float], q: int) -> float:
    return statistics.quantiles(v, n=100, method="inclusive")[q - 1] if len(v) > 1 else v[0]


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=10)
    args = ap.parse_args()
    settings = Settings()
    run_ingest(settings, progress=False)  # no-op when already ingested
    with llm_session(settings) as session:
        run(settings, session, args.questions)


def run(settings: Settings, session: LLMSession, n: int) -> None:
    url = session.base_url
    engine = build_engine(settings, session.client())
    rows = [json.loads(x) for x in QUESTIONS_FILE.open()]
    qs = [r["question"] for r in rows if r["type"] in ("lookup", "numeric")][:n]
    engine.ask(qs[0])  # warm-up: loads the embedder and caches the system prompt prefix
    rate, raw_tokens = raw_prefill_rate(url, settings.llm.model)
    timings, follow = [], []
    for q in qs:
        conv = Conversation()
        a = engine.ask(q, conv)
        timings.append(a.timings)
        if len(follow) < 3 and not a.abstained:
            f = engine.ask(FOLLOW_UP, conv)
            follow.append((f.timings, f.sources == a.sources))
    report(timings, follow, rate, raw_tokens)


def report(
    timings: list[dict], follow: list[tuple[dict, bool]], rate: float, raw_tokens: int
) -> None:
    answered = [t for t in timings if t["ttft_ms"]]
    ttft = [t["ttft_ms"] / 1000 for t in answered]
    total = [t["total_ms"] / 1000 for t in timings]
    prompt = [t["prompt_tokens"] for t in answered]
    uncached = [t["prompt_tokens"] - t["cached_tokens"] for t in answered]
    gen = [t["gen_tokens_per_s"] for t in answered if t.get("gen_tokens_per_s")]
    print(f"questions: {len(timings)} ({len(answered)} reached the model)")
    print(f"raw prefill rate        : {rate:.1f} tokens/s ({raw_tokens}-token uncached prompt)")
    print(f"TTFT                    : p50 {pct(ttft, 50):.2f} s, p95 {pct(ttft, 95):.2f} s")
    print(f"total                   : p50 {pct(total, 50):.2f} s, p95 {pct(total, 95):.2f} s")
    print(
        f"prompt tokens (est.)    : median {statistics.median(prompt):.0f}, "
        f"uncached median {statistics.median(uncached):.0f}, "
        f"cached median {statistics.median([p - u for p, u in zip(prompt, uncached, strict=False)]):.0f}"
    )
    print(f"generation              : {statistics.median(gen):.1f} tokens/s (median)")
    bound = statistics.median(uncached) / rate
    print(f"TTFT p50 / (uncached/raw rate) = {pct(ttft, 50) / bound:.2f}  (target <= 1.3)")
    for t, same in follow:
        print(
            f"follow-up TTFT          : {t['ttft_ms'] / 1000:.2f} s (same sources reused: {same}; "
            "target <= 3 s)"
        )


if __name__ == "__main__":
    main()
