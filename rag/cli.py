"""`rag` command line. The only place (with ui/ and eval/) that prints."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, RagError
from rag.settings import Settings

EXIT_RUN_ERROR = 1
EXIT_CONFIG_ERROR = 2


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_questions(path: Path) -> Iterator[dict[str, Any]]:
    """One JSON object per line with a `question` field; other fields are passed through."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read question file {path}: {e}") from e
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{n}: not JSON ({e.msg})") from e
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise ConfigError(f"{path}:{n}: expected an object with a string field 'question'")
        yield obj


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from rag.wiring import run_ingest

    parsed, summary = run_ingest(settings, [Path(p) for p in args.paths], progress=not args.quiet)
    for issue in parsed.issues:
        _err(str(issue))
    print(f"parsed: {parsed.summary()}")
    print(f"stored: {summary}")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from rag.schema import search_output
    from rag.wiring import open_retriever

    retriever = open_retriever(settings)
    items = read_questions(Path(args.file)) if args.file else [{"question": args.question}]
    for item in items:
        out = search_output(retriever.search(_check_query(item["question"]), args.k, args.mode))
        if args.json:
            print(json.dumps({**item, **out.model_dump()}, ensure_ascii=False), flush=True)
        else:
            _print_hits(out)
    return 0


def _check_query(q: str) -> str:
    if not q or not q.strip():
        raise ConfigError("the question is empty; ask something")
    return q


def _print_hits(out: Any) -> None:
    print(f"{out.question}  ({out.timings.retrieve_ms:.0f} ms, {out.mode})")
    for h in out.results:
        print(f"{h.rank:>2}. [{h.score:.4f}] {h.title}  ({', '.join(h.sources)})")
        print(f"    {h.chunk[:200]}…")


def cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    from rag.store import describe_location
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
    try:
        r = open_retriever(settings)
        info.update(chunks=r.chunk_count, papers=r.paper_count)
    except RagError as e:
        info["store_status"] = str(e)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:>18}: {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Cited answers from your papers, offline.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest", help="parse, chunk, embed and store papers")
    ing.add_argument("paths", nargs="*", help="files or folders (default: the bundled corpus)")
    ing.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("search", help="retrieve papers for a question")
    s.add_argument("question", nargs="?", default="")
    s.add_argument("-k", type=int, default=None, help="papers to return")
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    s.add_argument("--json", action="store_true")
    s.add_argument("--file", help="JSONL with a `question` per line; one result per line")
    i = sub.add_parser("info", help="store location, counts, embedder, fingerprint")
    i.add_argument("--json", action="store_true")
    return p


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "info": cmd_info,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args, Settings())
    except ConfigError as e:
        _err(f"error: {e}")
        return EXIT_CONFIG_ERROR
    except RagError as e:
        _err(f"error: {e}")
        return EXIT_RUN_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as e:  # entry point: a last line of defence, never a raw traceback
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        _err(f"error: unexpected {type(e).__name__}: {e} (run with -v for details)")
        return EXIT_RUN_ERROR


if __name__ == "__main__":
    sys.exit(main())
