"""The evaluation inputs: the question file (a contract, see eval/check_questions.py) and the
hand-labelled answer-point pairs that validate the matcher. Pydantic models at this boundary."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from rag.errors import ConfigError
from rag.sources.identity import paper_id

QType = Literal["lookup", "synthesis", "numeric", "unanswerable"]
TYPES: tuple[QType, ...] = ("lookup", "synthesis", "numeric", "unanswerable")
# The one answer point of an unanswerable question (eval/check_questions.py enforces it).
ABSTAIN_POINT = "says the corpus does not contain the answer"
EVAL_DIR = Path(__file__).resolve().parent  # the question files ship as package data
QUESTIONS_FILE = EVAL_DIR / "questions.jsonl"
LABELS_FILE = EVAL_DIR / "answer_point_labels.jsonl"


SET_NAMES = {"questions": "easy", "questions_hard": "hard", "followups": "followups"}


class Question(BaseModel, frozen=True):
    qid: str
    type: QType
    question: str
    gold_titles: list[str]
    answer_points: list[str]
    notes: str = ""
    history: list[str] = []  # earlier turns of a follow-up conversation, asked first
    set: str = ""  # the question set it came from (set by `load_sets`)

    @property
    def gold_ids(self) -> frozenset[str]:
        return frozenset(paper_id(t) for t in self.gold_titles)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


class LabelledPair(BaseModel, frozen=True):
    """One (answer, answer point) pair with a human judgement: is the point in the answer?"""

    answer: str
    point: str
    label: bool
    why: str = ""


def _rows(path: Path) -> Iterable[tuple[int, dict[str, object]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    for n, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{n}: not JSON ({e.msg})") from e


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    """The questions of a file; a bad line, an empty file or a repeated qid is one line."""
    questions = [_question(path, n, row) for n, row in _rows(path)]
    if not questions:
        raise ConfigError(f"{path} holds no questions (one JSON object per line); nothing to do")
    qids = [q.qid for q in questions]
    if len(set(qids)) != len(qids):
        dup = next(q for q in qids if qids.count(q) > 1)
        raise ConfigError(f"{path}: qid {dup!r} is used twice; run eval/check_questions.py")
    return questions


def _question(path: Path, n: int, row: object) -> Question:
    try:
        return Question.model_validate(row)
    except ValidationError as e:
        raise ConfigError(f"{path}:{n}: not a question: {one_line(e)}") from e


def one_line(e: ValidationError) -> str:
    """The first problem of a validation error, as a short phrase (and how many more)."""
    err = e.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "the line"
    what = "missing" if err["type"] == "missing" else f"bad ({err['msg']})"
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    need = ", ".join(Question.model_fields)
    return f"field {field!r} {what}{more}; a question has {need}"


def set_name(path: Path) -> str:
    """A question file's short name in reports: easy, hard, followups, or the file's stem."""
    return SET_NAMES.get(path.stem, path.stem)


def load_sets(paths: Iterable[Path]) -> list[Question]:
    """The questions of several files, each tagged with its set; qids must not collide."""
    out: list[Question] = []
    for path in dict.fromkeys(paths):
        name = set_name(path)
        out += [q.model_copy(update={"set": name}) for q in load_questions(path)]
    qids = [q.qid for q in out]
    if len(set(qids)) != len(qids):
        dup = next(q for q in qids if qids.count(q) > 1)
        raise ConfigError(f"qid {dup!r} is in more than one question file; make qids unique")
    return out


def load_labels(path: Path = LABELS_FILE) -> list[LabelledPair]:
    try:
        return [LabelledPair.model_validate(row) for _, row in _rows(path)]
    except ValidationError as e:
        raise ConfigError(f"{path}: not a label file: {e}") from e
