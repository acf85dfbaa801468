"""The per-question results file (results.jsonl): one `EvalRecord` a line, appended as each
question finishes, so an interrupted run resumes where it stopped. A record is reused when its
config name, mode, settings fingerprint and qid match; anything else is run again."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError
from rag.eval.data import QType

from rag.errors import ConfigError
from rag.schema import AskOutput

log = logging.getLogger(__name__)
Mode = Literal["retrieval", "full"]
Key = tuple[str, str, str, str]  # config, mode, fingerprint, qid


class RetrievalRecord(BaseModel):
    """The top papers of the eval's own search (top 10, the config's mode)."""

    paper_ids: list[str]
    titles: list[str]
    dense_similarities: list[float | None]
    retrieve_ms: float
    best_similarity: float | None  # over the papers the answer engine retrieves: its gate input


class EvalRecord(BaseModel):
    config: str
    qid: str
    type: QType
    question: str
    mode: Mode
    fingerprint: str  # of the config's settings
    model: str | None
    abstain_min_score: float = 0.0  # legacy field (today the decision is in `decision`)
    retrieval: RetrievalRecord
    answer: AskOutput | None = None  # the `rag ask --json` object, as shipped
    metrics: dict[str, float | int | bool | None]
    finished_at: str
    set: str = ""  # the question set (easy, hard, followups, or a file's stem)
    history: list[str] = []  # the turns asked before the question (follow-ups)
    # The abstention decision (`Decision.record()`: every feature it used, p(answerable), the
    # bar that applied, the model's refusal): the engine's final one in a full run, the one
    # before generation in a retrieval-only run.
    decision: dict[str, float | int | bool | str | None] | None = None

    @property
    def key(self) -> Key:
        return (self.config, self.mode, self.fingerprint, self.qid)


def _repair(path: Path) -> None:
    """Drop a torn last line (the run was killed mid-write) so the next append starts clean."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        log.warning("%s: dropping an unfinished last line (interrupted write)", path)
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def load_records(path: Path) -> list[EvalRecord]:
    if not path.exists():
        return []
    _repair(path)
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(EvalRecord.model_validate_json(line))
        except ValidationError as e:
            raise ConfigError(f"{path}:{n}: not an eval record; move the file away ({e})") from e
    return records


def append_record(path: Path, record: EvalRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
        f.flush()


def pending(wanted: Iterable[Key], records: Sequence[EvalRecord]) -> list[Key]:
    """The wanted keys not yet in the results file, in the order wanted."""
    done = {r.key for r in records}
    return [k for k in wanted if k not in done]


def select(wanted: Iterable[Key], records: Sequence[EvalRecord]) -> list[EvalRecord]:
    """The records of this run, in the order wanted (the last one wins for a repeated key)."""
    by_key = {r.key: r for r in records}
    return [by_key[k] for k in wanted if k in by_key]
