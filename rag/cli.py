"""`rag` command line: the composition root. It alone composes the core (rag/*) with the chat
UI (rag.ui) and the eval harness (rag.eval); nothing in the core imports them. The only place
(with the UI and the eval's console lines) that prints."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, IndexDamagedError, RagError
from rag.question import check_count, check_question
from rag.settings import MAX_SOURCES, MAX_TOP_K, Settings, load_settings

EXIT_RUN_ERROR = 1
EXIT_CONFIG_ERROR = 2


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BatchLine:
    """One line of a question file: the object as given, or why it cannot be run."""

    n: int
    item: dict[str, Any]  # other fields are passed through to the output
    error: str | None = None


def read_questions(path: Path, max_chars: int) -> list[BatchLine]:
    """One JSON object per line with a `question` field. A bad line is kept with its error,
    so it is reported in its place and the later lines still run."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read question file {path}: {e}") from e
    return [_batch_line(n, line, max_chars) for n, line in enumerate(lines, 1) if line.strip()]


def _batch_line(n: int, line: str, max_chars: int) -> BatchLine:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as e:
        return BatchLine(n, {}, f"not JSON ({getattr(e, 'msg', e)})")
    if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
        item = obj if isinstance(obj, dict) else {}
        return BatchLine(n, item, "expected an object with a string field 'question'")
    try:
        check_question(obj["question"], max_chars)
    except ConfigError as e:
        return BatchLine(n, obj, str(e))
    return BatchLine(n, obj)


def _batch(args: argparse.Namespace, settings: Settings) -> list[BatchLine]:
    if args.file:
        lines = read_questions(Path(args.file), settings.answer.max_question_chars)
        if not lines:
            raise ConfigError(f"{args.file} holds no questions (one JSON object per line)")
        return lines
    return [BatchLine(0, {"question": args.question})]  # checked where it is used: exit 2


def _report_bad(line: BatchLine, args: argparse.Namespace) -> None:
    """A bad line: an error object in its place in the JSON stream, else a line on stderr."""
    assert line.error is not None
    if args.json:
        error = {**line.item, "line": line.n, "error": line.error}
        print(json.dumps(error, ensure_ascii=False), flush=True)
    else:
        _err(f"{args.file}:{line.n}: error: {line.error}")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from rag.wiring import run_ingest, run_rebuild

    if args.rebuild:
        if args.paths:
            raise ConfigError(
                "--rebuild re-embeds the stored chunks and reads no files; "
                "run `rag ingest FILES` after it"
            )
        print(f"rebuilt: {run_rebuild(settings, progress=not args.quiet)}")
        return 0

    parsed, summary = run_ingest(settings, [Path(p) for p in args.paths], progress=not args.quiet)
    for issue in [*parsed.issues, *summary.failed]:
        _err(str(issue))
    print(f"parsed: {parsed.summary()}")
    print(f"stored: {summary}")
    _print_changes(summary)
    if summary.failed:
        return EXIT_RUN_ERROR
    if not parsed.papers and parsed.rejected:
        _err("error: no paper could be read from the input (see above); nothing was ingested")
        return EXIT_CONFIG_ERROR
    return 0


SHOWN_CHANGES = 20  # papers named per kind of change; the rest are counted


def _print_changes(summary: Any) -> None:
    """What a run added, changed and removed, paper by paper (the counts are above)."""
    kinds = (
        ("added", summary.new_papers, False),
        ("changed (chunks replaced)", summary.changed_papers, False),
        ("removed (no file holds them any more)", summary.removed_papers, True),
        ("no longer in a file (kept: other files hold them)", summary.lost_sources, True),
    )
    for what, papers, lost in kinds:
        if not papers:
            continue
        print(f"{what}: {len(papers)} paper{'s' if len(papers) != 1 else ''}")
        for c in papers[:SHOWN_CHANGES]:
            files = ", ".join(c.lost if lost else c.sources)
            print(f"  {c.paper_id}  {c.title[:80]}  ({'was in ' if lost else ''}{files})")
        if len(papers) > SHOWN_CHANGES:
            print(f"  … and {len(papers) - SHOWN_CHANGES} more")


def _filters(args: argparse.Namespace) -> Any:
    from rag.index.filters import make_filters

    return make_filters(args.year, args.author, args.source)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from rag.schema import search_output
    from rag.wiring import open_retriever

    check_count(args.k, MAX_TOP_K)
    filters = _filters(args)
    lines = _batch(args, settings)
    retriever = open_retriever(settings, dense="chroma")  # no model: LlamaIndex not imported
    for line in lines:
        if line.error:
            _report_bad(line, args)
            continue
        found = retriever.search(line.item["question"], args.k, args.mode, filters)
        out = search_output(found)
        if args.json:
            print(json.dumps({**line.item, **out.model_dump()}, ensure_ascii=False), flush=True)
        else:
            _print_hits(out)
    return _batch_status(lines)


def _batch_status(lines: list[BatchLine]) -> int:
    """2 when some lines were bad input (each reported); a run-time failure exits 1 earlier."""
    return EXIT_CONFIG_ERROR if any(line.error for line in lines) else 0


def _print_hits(out: Any) -> None:
    shown = ", ".join(f"{k} {v}" for k, v in out.filters.items())
    print(
        f"{out.question}  ({out.timings.retrieve_ms:.0f} ms, {out.mode}{'; ' + shown if shown else ''})"
    )
    for h in out.results:
        print(f"{h.rank:>2}. [{h.score:.4f}] {h.title}{_where(h)}  ({', '.join(h.sources)})")
        print(f"    {h.chunk[:200]}…")
    if not out.results:
        print("    no paper found" + (" within the filters" if shown else ""))


def _where(h: Any, page_no: int | None = None) -> str:
    """ " — Lindqvist et al. 2024, p. 3" from a hit's fields (`page_no`: a citation's page)."""
    who = h.authors[0].split()[-1] + (" et al." if len(h.authors) > 1 else "") if h.authors else ""
    bits = " ".join(b for b in (who, str(h.year) if h.year else "") if b)
    page_no = h.page if page_no is None else page_no
    page = f"p. {page_no}" if page_no is not None else ""
    text = ", ".join(b for b in (bits, page) if b)
    return f" — {text}" if text else ""


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from rag.wiring import list_papers

    papers = list_papers(settings)
    if args.json:
        for r in papers:
            print(json.dumps(_paper_json(r), ensure_ascii=False), flush=True)
        return 0
    for r in papers:
        who = ", ".join(r.authors[:3]) + (" et al." if len(r.authors) > 3 else "")
        year = str(r.year) if r.year else "----"
        pages = f", {r.pages} pages" if r.pages else ""
        print(f"{r.paper_id}  {year}  {r.title[:90]}")
        print(f"    {who or 'authors unknown'} · {', '.join(r.sources)} · {r.chunks} chunks{pages}")
    print(f"{len(papers)} papers")
    return 0


def _paper_json(r: Any) -> dict[str, Any]:
    return {
        "id": r.paper_id,
        "title": r.title,
        "authors": list(r.authors),
        "year": r.year,
        "sources": list(r.sources),
        "chunks": r.chunks,
        "pages": r.pages,
        "doi": r.doi,
        "venue": r.venue,
        "url": r.url,
        "external_id": r.external_id,
        "source_paths": [f.path for f in r.files if f.path],
    }


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from rag.wiring import run_remove

    if not args.paper_ids and not args.source:
        raise ConfigError("give paper ids (see `rag list`) or --source FILE")
    summary, missing = run_remove(settings, args.paper_ids, args.source or [])
    n = len(summary.removed_papers)
    print(
        f"removed: {n} paper{'s' if n != 1 else ''}, {summary.chunks} chunks; store now holds {summary.store_chunks} chunks"
    )
    for c in summary.removed_papers:
        print(f"  {c.paper_id}  {c.title[:80]}")
    if summary.lost_sources:
        print(f"kept (also in other files): {len(summary.lost_sources)} papers lost a source")
        for c in summary.lost_sources:
            print(
                f"  {c.paper_id}  {c.title[:80]}  (no longer {', '.join(c.lost)}; still {', '.join(c.sources)})"
            )
    for m in missing:
        print(f"not in the store (nothing to remove): {m}")
    return 0


def cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    from rag.index.store import describe_location
    from rag.wiring import open_retriever

    info: dict[str, Any] = {
        "store": describe_location(settings),
        "collection": settings.collection_name(),
        "embedder": settings.embed.backend + ":" + settings.embed.model,
        "index_fingerprint": settings.index_fingerprint(),
        "fingerprint": settings.fingerprint(),
        "retrieval_mode": settings.retrieval.mode,
        "llm": settings.llm.base_url or "local (packaged Qwen2.5-Coder-1.5B via llama.cpp)",
    }
    status = 0
    try:
        r = open_retriever(settings)
        info.update(chunks=r.chunk_count, papers=r.paper_count)
        info["papers_by_source"] = _papers_by_source(r.chunks())
    except IndexDamagedError as e:  # the metadata still counts; the index does not answer
        info.update({"chunks": e.chunks} if e.chunks is not None else {}, store_status=str(e))
        status = EXIT_RUN_ERROR
    except RagError as e:
        info["store_status"] = str(e)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return status
    by_source = info.pop("papers_by_source", {})
    for k, v in info.items():
        print(f"{k:>18}: {v}")
    if by_source:
        print(f"{'papers by source':>18}:")
        for name, n in by_source.items():
            print(f"{n:>18}  {name}")
    return status


EVIDENCE_LABEL = "Evidence (instant, extractive):"
KIND_LABELS = {
    "extractive": "Answer (extractive: evidence sentences quoted from the papers)",
    "evidence": "Answer (evidence sentences quoted from the papers: the model gave no supported "
    "answer)",
}


def _papers_by_source(chunks: list[Any]) -> dict[str, int]:
    """How many papers each file holds (a paper in two files counts in both), most first."""
    papers: dict[str, set[str]] = {}
    for c in chunks:
        for s in c.sources:
            papers.setdefault(s, set()).add(c.paper_id)
    counts = {s: len(ids) for s, ids in papers.items()}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _render(event: Any, out: Any) -> None:
    from rag.answer.events import Evidence, Restart, Retrieved, Status, Token

    if isinstance(event, Retrieved):
        titles = "; ".join(f"[{s.n}] {s.hit.title}" for s in event.sources)
        print(f"sources: {titles}", file=out, flush=True)
    elif isinstance(event, Evidence):
        lines = [f"  {text}" for text in _evidence_lines(event)]
        print("\n".join([EVIDENCE_LABEL, *lines]), file=out, flush=True)
    elif isinstance(event, Status):
        print(event.text, file=out, flush=True)
    elif isinstance(event, Token):
        print(event.text, end="", file=out, flush=True)
    elif isinstance(event, Restart):
        print(f"\n({event.reason})", file=out, flush=True)


def _evidence_lines(event: Any) -> list[str]:
    from rag.answer.citations import with_markers

    return [with_markers(s.text, [n]) for n, s in event.extract.sentences] or ["(none)"]


def _answer_one(engine: Any, question: str, conv: Any, args: argparse.Namespace) -> Any:
    from rag.answer.events import Done

    out = sys.stderr if args.json else sys.stdout
    answer = None
    stream = engine.stream(question, conv, max_sources=args.k, mode=args.mode, filters=args.filters)
    for event in stream:
        _render(event, out)
        if isinstance(event, Done):
            answer = event.answer
    print(file=out, flush=True)
    return answer


def _print_answer(answer: Any) -> None:
    label = KIND_LABELS.get(answer.kind)
    print(f"\n{label}:" if label else "")
    print(f"{answer.text}\n")
    if answer.abstained and answer.decision is not None:
        print(f"  (why: {answer.decision.reason})")  # e.g. the figure no paper states
    from rag.schema import cited_page

    for s in answer.cited:
        where = _where(s.hit, cited_page(answer, s))
        print(f"  [{s.n}] {s.hit.title}{where}  ({', '.join(s.hit.sources)})")
    for x in answer.sentences:
        if x.support in ("unsupported", "uncited"):
            why = f" ({x.note})" if x.note else ""
            print(f"  ! not supported by the sources{why}: {x.text}")


def _with_engine(settings: Settings, work: Callable[[Any], int]) -> int:
    """Runs `work` with an engine; the model is started only if the answer mode needs it (and
    without one, the dense search skips LlamaIndex: rag/index/dense.py)."""
    from rag.llm.session import llm_session
    from rag.wiring import build_engine, open_retriever

    if settings.answer.mode == "extractive" and settings.answer.pipeline == "evidence":
        return work(build_engine(settings, None, open_retriever(settings, dense="chroma")))
    with llm_session(settings) as session:
        return work(build_engine(settings, session.client()))


def _extractive(settings: Settings) -> Settings:
    """`--no-llm`: answers from the evidence alone; no model process is started."""
    answer = settings.answer.model_copy(update={"mode": "extractive", "pipeline": "evidence"})
    return settings.model_copy(update={"answer": answer})


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.schema import ask_output

    check_count(args.k, MAX_SOURCES)
    args.filters = _filters(args)
    if args.no_llm:
        settings = _extractive(settings)
    lines = _batch(args, settings)
    if not args.file:  # refused before the model is started
        check_question(args.question, settings.answer.max_question_chars)
    if all(line.error for line in lines):  # nothing to answer: the model is not started
        for line in lines:
            _report_bad(line, args)
        return _batch_status(lines)

    def work(engine: Any) -> int:
        for line in lines:
            if line.error:
                _report_bad(line, args)
                continue
            answer = _answer_one(engine, line.item["question"], None, args)
            if args.json:
                out = ask_output(answer, settings.llm.model, settings.fingerprint()).model_dump()
                print(json.dumps({**line.item, **out}, ensure_ascii=False), flush=True)
            else:
                _print_answer(answer)
        return _batch_status(lines)

    return _with_engine(settings, work)


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from rag.answer.conversation import Conversation

    check_count(args.k, MAX_SOURCES)
    args.filters = _filters(args)

    def work(engine: Any) -> int:
        conv = Conversation()
        print("Ask about the papers; an empty line or Ctrl-D quits, /new starts over.")
        while True:
            try:
                question = input("\n> ").strip()
            except EOFError:
                return 0
            if not question:
                return 0
            if question == "/new":
                conv = Conversation()
                continue
            try:
                _print_answer(_answer_one(engine, question, conv, args))
            except RagError as e:  # the conversation survives a failed turn
                _err(f"error: {e}")

    args.json = False
    return _with_engine(settings, work)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from rag.eval.configs import config_names
    from rag.eval.report import console_lines
    from rag.eval.runner import EXIT_BELOW_FLOOR, EvalOptions, run_eval

    opts = EvalOptions(
        questions=tuple(Path(q) for q in args.questions),
        configs=config_names(args.config, args.retrieval_only),
        retrieval_only=args.retrieval_only,
        limit=args.limit,
        out=Path(args.out) if args.out else None,
        floors_file=Path(args.floors) if args.floors else None,
        min_hit5=args.min_hit5,
        min_mrr=args.min_mrr,
        latest=args.latest,
        progress=not args.quiet,
    )
    outcome = run_eval(opts, settings)
    print("\n".join(console_lines(outcome.summary, outcome.out_dir)))
    missing = outcome.summary.missing_gold_titles
    if missing:
        shown = "; ".join(repr(t) for t in missing)
        _err(f"warning: {len(missing)} gold titles are not in the store (scored 0): {shown}")
    for failure in outcome.summary.floor_failures:
        _err(f"below floor: {failure}")
    return EXIT_BELOW_FLOOR if outcome.summary.floor_failures else 0


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from rag.ui.app import main as ui_main

    update = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if update:
        settings = settings.model_copy(update={"ui": settings.ui.model_copy(update=update)})
    return ui_main(settings)


def _filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", help="a year or a range: 2024, 2023-2024, 2023-, -2022")
    p.add_argument("--author", help="an author's name or surname (every word must match)")
    p.add_argument("--source", help="only papers from this file (name or path) or folder")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Cited answers from your papers, offline.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest", help="parse, chunk, embed and store papers")
    ing.add_argument("paths", nargs="*", help="files or folders (default: the bundled corpus)")
    ing.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ing.add_argument(
        "--rebuild",
        action="store_true",
        help="re-embed the stored chunks into a fresh vector index (repairs a damaged one)",
    )
    s = sub.add_parser("search", help="retrieve papers for a question")
    s.add_argument("question", nargs="?", default="")
    s.add_argument("-k", type=int, default=None, help=f"papers to return (1-{MAX_TOP_K})")
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    s.add_argument("--json", action="store_true")
    s.add_argument("--file", help="JSONL with a `question` per line; one result per line")
    _filter_args(s)
    a = sub.add_parser("ask", help="answer a question with cited papers")
    a.add_argument("question", nargs="?", default="")
    a.add_argument(
        "-k", type=int, default=None, help=f"papers given to the model (1-{MAX_SOURCES})"
    )
    a.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    a.add_argument("--json", action="store_true")
    a.add_argument("--file", help="JSONL with a `question` per line; one answer per line")
    a.add_argument(
        "--no-llm",
        action="store_true",
        help="answer with the evidence sentences alone (RAG_ANSWER_MODE=extractive): no model",
    )
    _filter_args(a)
    c = sub.add_parser("chat", help="a conversation in the terminal")
    c.add_argument(
        "-k", type=int, default=None, help=f"papers given to the model (1-{MAX_SOURCES})"
    )
    c.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    _filter_args(c)
    i = sub.add_parser("info", help="store location, counts, papers by source, embedder")
    i.add_argument("--json", action="store_true")
    ls = sub.add_parser("list", help="the stored papers: id, title, authors, year, sources")
    ls.add_argument("--json", action="store_true", help="one JSON object per paper and line")
    rm = sub.add_parser("remove", help="remove papers by id, or every paper of a file")
    rm.add_argument("paper_ids", nargs="*", help="paper ids, as `rag list` shows them")
    rm.add_argument(
        "--source",
        action="append",
        metavar="FILE",
        help="a file (name or path, as `rag list` shows it; a folder: every file in it); "
        "papers also in other files keep those; repeatable",
    )
    e = sub.add_parser("eval", help="score retrieval, citations, answers and abstention")
    e.add_argument(
        "--questions",
        required=True,
        action="append",
        help="question JSONL (eval/questions.jsonl); repeat for several sets, reported side by "
        "side (e.g. also eval/questions_hard.jsonl and eval/followups.jsonl)",
    )
    e.add_argument(
        "--config",
        action="append",
        help="config name or 'all', repeatable (default: all with --retrieval-only, else default)",
    )
    e.add_argument("--retrieval-only", action="store_true", help="no LLM: retrieval metrics")
    e.add_argument(
        "--limit", type=int, default=None, help="N questions of each set, round-robin by type"
    )
    e.add_argument("--out", help="run directory (default runs/eval-<date>-<shortsha>/); resumes")
    e.add_argument(
        "--floors", help="fail below the floors in this JSON (ours: eval/floors.json); default none"
    )
    e.add_argument("--min-hit5", type=float, default=None, help="fail below this hit@5")
    e.add_argument("--min-mrr", type=float, default=None, help="fail below this MRR")
    e.add_argument(
        "--latest",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="copy report.md/.html to eval/latest/ (default: after a complete LLM run)",
    )
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    u = sub.add_parser("ui", help="the web chat (ingests the corpus into an empty store)")
    u.add_argument("--host", default=None, help="interface to bind (default RAG_UI_HOST)")
    u.add_argument("--port", type=int, default=None, help="port (default RAG_UI_PORT)")
    return p


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "info": cmd_info,
    "list": cmd_list,
    "remove": cmd_remove,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "eval": cmd_eval,
    "ui": cmd_ui,
}


def main(argv: list[str] | None = None) -> int:
    from rag.process import configure_logging, exit_on_sigterm

    args = build_parser().parse_args(argv)
    # The chat server logs its start-up steps (model assembly, server ready) at INFO.
    chatty = args.verbose or args.command == "ui"
    configure_logging(logging.INFO if chatty else logging.WARNING)
    exit_on_sigterm()
    try:
        return COMMANDS[args.command](args, load_settings())
    except ConfigError as e:
        _err(f"error: {e}")
        return EXIT_CONFIG_ERROR
    except RagError as e:
        _err(f"error: {e}")
        return EXIT_RUN_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:  # `rag search --json … | head`: the reader left; not an error
        _quiet_stdout()
        return 0
    except Exception as e:  # entry point: a last line of defence, never a raw traceback
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        _err(f"error: unexpected {type(e).__name__}: {e} (run with -v for details)")
        return EXIT_RUN_ERROR


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush cannot fail again."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
