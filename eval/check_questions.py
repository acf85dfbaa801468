#!/usr/bin/env python3
"""Validate the evaluation question set against the corpus.

Usage: python eval/check_questions.py [FILE] [--corpus DIR]

FILE defaults to eval/questions.jsonl and DIR to data/corpus (falling back to
/work/shared/corpus when data/corpus does not exist), both relative to the repo
root (the parent of this script's directory). Stdlib only. Exit status 1 on any error.

The same checks apply to every question file (eval/questions.jsonl, the hard set
eval/questions_hard.jsonl with "H-..." qids, the follow-up set eval/followups.jsonl
with "F..." qids); qids may use any prefix but must be non-empty and unique. A row
may carry the optional field "history" (the earlier turns of a conversation): a
non-empty list of non-empty strings; the row's question is then the follow-up.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FALLBACK_CORPUS = Path("/work/shared/corpus")
FIELDS = {
    "qid": str,
    "type": str,
    "question": str,
    "gold_titles": list,
    "answer_points": list,
    "notes": str,
}
# Optional fields: present only on some rows (e.g. follow-up questions in a conversation).
OPTIONAL_FIELDS = {"history": list}
TYPES = ("lookup", "synthesis", "numeric", "unanswerable")
ABSTAIN_POINTS = ["says the corpus does not contain the answer"]
HEADER_LINES = {
    "new",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
    "Get trending papers in your email inbox!",
    "Get trending papers in your email inbox once a day!",
}
DATE_LINE = re.compile(r"[A-Z][a-z]{2} \d{1,2}")


def parse_corpus_file(path: Path) -> list[tuple[str, str]]:
    """Return (title, abstract) pairs from one paper-listing dump (either layout)."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    i = 0
    while i < len(lines) and (lines[i] in HEADER_LINES or DATE_LINE.fullmatch(lines[i])):
        i += 1
    body = lines[i:]
    if body and body[0].startswith("Subscribe"):
        body[0] = body[0][len("Subscribe") :].strip()
    if len(body) % 2:
        print(f"warning: {path.name}: odd number of title/abstract lines", file=sys.stderr)
    return [(body[k], body[k + 1]) for k in range(0, len(body) - 1, 2)]


def load_corpus(corpus_dir: Path) -> dict[str, list[str]]:
    """Map each title to the list of abstracts it appears with (titles repeat across files)."""
    papers: dict[str, list[str]] = {}
    for path in sorted(corpus_dir.glob("*.txt")):
        for title, abstract in parse_corpus_file(path):
            papers.setdefault(title, []).append(abstract)
    return papers


def check_fields(q: dict) -> list[str]:
    """All required fields present, with the right JSON types."""
    errors = [f"missing field '{f}'" for f in FIELDS if f not in q]
    for field, typ in FIELDS.items():
        if field in q and not isinstance(q[field], typ):
            errors.append(f"field '{field}' must be {typ.__name__}")
    for field in ("gold_titles", "answer_points"):
        if isinstance(q.get(field), list) and not all(isinstance(x, str) for x in q[field]):
            errors.append(f"field '{field}' must be a list of strings")
    if isinstance(q.get("qid"), str) and not q["qid"].strip():
        errors.append("field 'qid' must not be empty")
    return errors + check_history(q)


def check_history(q: dict) -> list[str]:
    """The optional 'history' field: a non-empty list of non-empty strings (earlier turns)."""
    if "history" not in q:
        return []
    history = q["history"]
    if not isinstance(history, list) or not history:
        return ["field 'history' must be a non-empty list of strings"]
    if not all(isinstance(turn, str) and turn.strip() for turn in history):
        return ["field 'history' must contain only non-empty strings"]
    return []


def check_type_rules(q: dict) -> list[str]:
    """Per-type constraints on gold titles and answer points."""
    typ, gold, points = q["type"], q["gold_titles"], q["answer_points"]
    if typ not in TYPES:
        return [f"invalid type '{typ}' (expected one of {', '.join(TYPES)})"]
    if typ == "unanswerable":
        errors = [] if not gold else ["unanswerable question must have empty gold_titles"]
        if points != ABSTAIN_POINTS:
            errors.append(f"unanswerable answer_points must be {ABSTAIN_POINTS}")
        return errors
    errors = [] if gold else [f"{typ} question needs at least one gold title"]
    if not points:
        errors.append("answer_points must not be empty")
    if typ == "synthesis" and not 2 <= len(gold) <= 6:
        errors.append(f"synthesis needs 2-6 gold titles, has {len(gold)}")
    return errors


def check_corpus_refs(q: dict, papers: dict[str, list[str]]) -> list[str]:
    """Gold titles must exist verbatim; a numeric answer must appear in a gold abstract."""
    errors = [f"gold title not in corpus: {t!r}" for t in q["gold_titles"] if t not in papers]
    if len(set(q["gold_titles"])) != len(q["gold_titles"]):
        errors.append("duplicate gold title")
    if q["type"] == "numeric" and q["answer_points"]:
        number = q["answer_points"][0]
        abstracts = [a for t in q["gold_titles"] for a in papers.get(t, [])]
        if not any(number in a for a in abstracts):
            errors.append(f"numeric answer {number!r} not found verbatim in any gold abstract")
    return errors


def check_line(line: str, papers: dict[str, list[str]]) -> tuple[dict | None, list[str]]:
    """Parse and validate one JSONL line; returns (question or None, errors)."""
    try:
        q = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, [f"invalid JSON: {exc}"]
    if not isinstance(q, dict):
        return None, ["line is not a JSON object"]
    extra = [f"unexpected field '{f}'" for f in q if f not in FIELDS and f not in OPTIONAL_FIELDS]
    errors = check_fields(q)
    if errors:
        return q, extra + errors
    return q, extra + check_type_rules(q) + check_corpus_refs(q, papers)


def validate(path: Path, papers: dict[str, list[str]]) -> tuple[Counter, list[str]]:
    """Validate the whole file; returns (count per type, error messages with line numbers)."""
    counts: Counter = Counter()
    errors: list[str] = []
    first_seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        q, line_errors = check_line(line, papers)
        qid = q.get("qid") if isinstance(q, dict) else None
        if isinstance(qid, str):
            if qid in first_seen:
                line_errors.append(f"duplicate qid (first on line {first_seen[qid]})")
            first_seen.setdefault(qid, lineno)
        if isinstance(q, dict) and isinstance(q.get("type"), str):
            counts[q["type"]] += 1
        errors += [f"line {lineno} [{qid or '?'}]: {e}" for e in line_errors]
    return counts, errors


def resolve_corpus(arg: str | None) -> Path:
    """Explicit --corpus, else data/corpus under the repo root, else the shared copy."""
    if arg:
        return Path(arg)
    default = REPO_ROOT / "data" / "corpus"
    return default if default.is_dir() else FALLBACK_CORPUS


def report(counts: Counter, errors: list[str]) -> None:
    """Print counts per type, then the error list (or OK)."""
    print(f"questions: {sum(counts.values())} " + " ".join(f"{t}={counts[t]}" for t in TYPES))
    for t in sorted(set(counts) - set(TYPES)):
        print(f"  (invalid type {t!r}: {counts[t]})")
    if errors:
        print(f"{len(errors)} error(s):")
        print("\n".join("  " + e for e in errors))
    else:
        print("OK")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=str(REPO_ROOT / "eval" / "questions.jsonl"))
    ap.add_argument("--corpus", default=None, help="directory of corpus .txt files")
    args = ap.parse_args(argv)
    corpus_dir = resolve_corpus(args.corpus)
    papers = load_corpus(corpus_dir)
    if not papers:
        print(f"error: no papers parsed from {corpus_dir}", file=sys.stderr)
        return 1
    counts, errors = validate(Path(args.file), papers)
    print(f"corpus: {corpus_dir} ({len(papers)} unique titles)")
    report(counts, errors)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
