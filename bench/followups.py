"""Follow-up retrieval, old rule vs new: is the gold paper among the papers given to the model?

    RAG_DATA_DIR=... .venv/bin/python bench/followups.py [--answers [--limit N]]

Three sets of two-turn conversations: eval/followups.jsonl (written by the eval's authors, most
with pronouns), eval/followups_definite.jsonl (definite references without pronouns, "the gated
variant"), and topic shifts (each answerable question of eval/questions.jsonl asked after the
previous one: a change of subject must not keep the old papers). The earlier turn's papers are
its top papers, as the engine gives them.

- old: a pronoun ("it", "that", "the method") or ≤ 4 words joins the question to the previous
  one and searches that alone; a follow-up whose top paper and half of its papers were given
  last turn continues the last prompt, with the last papers.
- new: rag.answer.followup (the rule in rag/answer/conversation.py; the question searched
  alone and joined, the previous papers kept as candidates, reciprocal-rank fused; the last
  prompt continued only when every wanted paper was given last turn).

hit@4 = a gold paper among the papers given (unanswerable rows are left out); hit@1 = the first
source is gold. `--answers` also asks the LLM both turns (RAG_LLM_BASE_URL or the packaged
model) and prints the follow-up's answer quality: gold cited, abstentions, answer-point recall."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.eval.data import EVAL_DIR
from rag.eval.metrics import point_recall

from rag.answer import followup
from rag.answer.conversation import Conversation, Turn, condense
from rag.answer.events import Source
from rag.index.retrieve import PaperHit, Retriever
from rag.llm.client import ChatTurn
from rag.settings import Settings
from rag.sources.identity import paper_id
from rag.wiring import open_retriever

GIVEN = 4  # RAG_ANSWER_MAX_SOURCES default
_OLD_CUES = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|the (method|paper|approach|model|work))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Case:
    set: str
    qid: str
    history: list[str]
    question: str
    gold: frozenset[str]
    points: list[str]


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _case(name: str, row: dict[str, Any], history: list[str]) -> Case:
    gold = frozenset(paper_id(t) for t in row["gold_titles"])
    return Case(name, row["qid"], history, row["question"], gold, row["answer_points"])


def load_cases() -> list[Case]:
    cases = [
        _case(name, r, r["history"])
        for name, file in (
            ("followups", "followups.jsonl"),
            ("definite", "followups_definite.jsonl"),
        )
        for r in _rows(EVAL_DIR / file)
    ]
    answerable = [r for r in _rows(EVAL_DIR / "questions.jsonl") if r["gold_titles"]]
    shifts = [
        _case("topic-shift", r, [answerable[i - 1]["question"]]) for i, r in enumerate(answerable)
    ]
    return cases + shifts


# -- the two rules ---------------------------------------------------------------------------

Given = Callable[[Retriever, str, Conversation], list[PaperHit]]


def old_given(r: Retriever, q: str, conv: Conversation) -> list[PaperHit]:
    last = conv.last
    query = f"{last.standalone} {q}" if last and (_OLD_CUES.search(q) or len(q.split()) <= 4) else q
    hits = r.search(query, top_k=max(GIVEN, r.cfg.top_k)).hits[:GIVEN]
    wanted = [h.paper_id for h in hits]
    shared = sum(p in last.paper_ids for p in wanted) if last else 0
    if last and wanted and wanted[0] in last.paper_ids and shared * 2 >= len(wanted):
        return [s.hit for s in last.sources]
    return hits


def new_given(r: Retriever, q: str, conv: Conversation) -> list[PaperHit]:
    found = followup.retrieve(r, q, conv, max(GIVEN, r.cfg.top_k), None)
    hits = found.retrieval.hits[:GIVEN]
    if followup.reuses_last_turn(conv.last, [h.paper_id for h in hits]):
        return [s.hit for s in conv.last.sources] if conv.last else hits
    return hits


def conversation(r: Retriever, history: list[str], given: Given) -> Conversation:
    """The earlier turns as the engine keeps them (their papers, no answers)."""
    conv = Conversation()
    for q in history:
        hits = given(r, q, conv)
        standalone = condense(q, conv) if given is new_given else _old_standalone(q, conv)
        sources = [Source(i, h, h.chunk) for i, h in enumerate(hits, start=1)]
        messages = [ChatTurn("user", q)]
        conv.turns.append(
            Turn(q, standalone, "", tuple(h.paper_id for h in hits), sources, messages)
        )
    return conv


def _old_standalone(q: str, conv: Conversation) -> str:
    last = conv.last
    return f"{last.standalone} {q}" if last and (_OLD_CUES.search(q) or len(q.split()) <= 4) else q


# -- figures ---------------------------------------------------------------------------------


def hits_of(
    r: Retriever, cases: Iterable[Case], given: Given
) -> dict[str, list[tuple[bool, bool]]]:
    out: dict[str, list[tuple[bool, bool]]] = {}
    for c in cases:
        if not c.gold:
            continue
        ids = [h.paper_id for h in given(r, c.question, conversation(r, c.history, given))]
        out.setdefault(c.set, []).append((bool(c.gold & set(ids)), bool(ids) and ids[0] in c.gold))
    return out


def print_retrieval(r: Retriever, cases: list[Case]) -> None:
    old, new = hits_of(r, cases, old_given), hits_of(r, cases, new_given)
    print(
        f"{'set':<12} {'n':>3}  {'old hit@4':>9} {'new hit@4':>9}  {'old hit@1':>9} {'new hit@1':>9}"
    )
    for name in old:
        o, n = old[name], new[name]
        print(
            f"{name:<12} {len(o):>3}  {_share(o, 0):>9.3f} {_share(n, 0):>9.3f}  "
            f"{_share(o, 1):>9.3f} {_share(n, 1):>9.3f}"
        )


def _share(rows: list[tuple[bool, bool]], i: int) -> float:
    return sum(r[i] for r in rows) / len(rows) if rows else 0.0


def print_answers(settings: Settings, r: Retriever, cases: list[Case]) -> None:
    from rag.llm.session import llm_session
    from rag.wiring import build_engine

    rows = []
    with llm_session(settings, progress=False) as llm:
        engine = build_engine(settings, llm.client(), r)
        for c in cases:
            conv = Conversation()
            for q in c.history:
                engine.ask(q, conv)
            a = engine.ask(c.question, conv)
            cited = {s.hit.paper_id for s in a.cited}
            rows.append(
                (c, a.abstained, bool(cited & c.gold), point_recall(a.text, c.points, a.abstained))
            )
            print(
                f"{c.qid:<5} abstained={a.abstained!s:<5} gold cited={bool(cited & c.gold)!s:<5} {a.text[:90]!r}"
            )
    answerable = [x for x in rows if x[0].gold]
    unanswerable = [x for x in rows if not x[0].gold]
    print(
        f"\nanswerable {len(answerable)}: gold cited {_mean(x[2] for x in answerable):.3f}, "
        f"abstained {_mean(x[1] for x in answerable):.3f}, "
        f"answer-point recall {_mean(x[3] for x in answerable):.3f}"
    )
    print(f"unanswerable {len(unanswerable)}: abstained {_mean(x[1] for x in unanswerable):.3f}")


def _mean(values: Iterable[float]) -> float:
    v = list(values)
    return sum(v) / len(v) if v else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--answers", action="store_true", help="also ask the LLM (slow)")
    p.add_argument("--limit", type=int, default=0, help="conversations per set for --answers")
    args = p.parse_args()
    settings = Settings()
    r = open_retriever(settings)
    cases = load_cases()
    print_retrieval(r, cases)
    if args.answers:
        chosen = [c for c in cases if c.set != "topic-shift"]
        if args.limit:
            chosen = [
                c
                for name in ("followups", "definite")
                for c in [x for x in chosen if x.set == name][: args.limit]
            ]
        print_answers(settings, r, chosen)


if __name__ == "__main__":
    main()
