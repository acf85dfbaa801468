"""A read snapshot of the embedded store: every chunk (id, text, metadata) and its vector in one
file beside the Chroma directory, so that a process that starts no model (`rag ask --no-llm`,
`rag search`) answers without importing chromadb, whose import alone is 0.6–1.1 s of such a
process's cold start (more than all the rest of it).

The snapshot is a cache of Chroma, never the truth. It records the store's *fingerprint*, read
from Chroma's SQLite file with the standard library (read-only), and is used only while the
store's fingerprint is still that one. The fingerprint holds the collection's and its segments'
ids, the count, sum and maximum of the write sequence numbers of its rows (every add, update,
upsert or delete gives the rows it touches a new, larger one), the last sequence number of the
write log and of each segment, and the size and time of each HNSW file (a damaged or deleted
index is not hidden behind a snapshot: the process opens Chroma and reports it). Anything
unexpected (no such collection, another SQLite schema, a locked file, a remote Chroma server)
gives no fingerprint, and the process reads Chroma as it always did.

A snapshot is written by a process that has just read the store from Chroma (the fingerprint is
read *before* the rows, so a write in between leaves a snapshot that is already stale, never one
that claims newer rows than it holds) and at the end of an ingest. No pickle: the rows are one
JSON text, the vectors a float32 array."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.store import Store, StoredChunk, chroma_dir, to_stored
from rag.settings import Settings

__all__ = ["Snapshot", "SnapshotStore", "fingerprint", "read_snapshot", "write_snapshot"]
log = logging.getLogger(__name__)
FORMAT = 1  # bumped when the file's layout changes: an older file is then not read

_SEGMENTS = (
    "SELECT c.id, s.id, s.scope FROM collections c JOIN segments s ON s.collection = c.id "
    "WHERE c.name = ? ORDER BY s.scope"
)
_ROWS = (
    "SELECT count(*), total(seq_id), max(seq_id), count(*) - count(CASE WHEN typeof(seq_id) = "
    "'integer' THEN 1 END) FROM embeddings WHERE segment_id = ?"
)
_APPLIED = "SELECT segment_id, seq_id FROM max_seq_id ORDER BY segment_id"
_LOG = "SELECT max(seq_id) FROM embeddings_queue"


@dataclass(frozen=True)
class Snapshot:
    fingerprint: str
    embedder: str
    ids: list[str]
    metadatas: list[dict[str, Any]]
    documents: list[str]
    vectors: np.ndarray  # float32, one row per id, as stored (not normalised)


def snapshot_path(settings: Settings) -> Path:
    return settings.data_dir / "snapshot" / f"{settings.collection_name()}.npz"


def fingerprint(settings: Settings) -> str | None:
    """The embedded store's fingerprint (see the module docstring); None when there is none to
    trust."""
    if settings.chroma.url:
        return None
    db = chroma_dir(settings) / "chroma.sqlite3"
    if not db.is_file():
        return None
    try:
        con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            return _fingerprint(con, settings.collection_name(), chroma_dir(settings))
        finally:
            con.close()
    except sqlite3.Error as e:  # locked, another schema, not a database: read Chroma instead
        log.debug("no store fingerprint from %s: %s", db, e)
        return None


def _fingerprint(con: sqlite3.Connection, collection: str, root: Path) -> str | None:
    segments = con.execute(_SEGMENTS, (collection,)).fetchall()
    scopes = {scope: seg for _, seg, scope in segments}
    if len(segments) != 2 or set(scopes) != {"METADATA", "VECTOR"}:
        return None
    rows = con.execute(_ROWS, (scopes["METADATA"],)).fetchone()
    if rows[3]:  # sequence numbers that are not integers: a Chroma this was not written for
        return None
    parts = {
        "collection": segments[0][0],
        "segments": scopes,
        "rows": list(rows[:3]),
        "applied": con.execute(_APPLIED).fetchall(),
        "log": con.execute(_LOG).fetchone()[0],
        "hnsw": _files(root / scopes["VECTOR"]),
    }
    return json.dumps(parts, sort_keys=True)


def _files(folder: Path) -> list[tuple[str, int, int]]:
    if not folder.is_dir():
        return []
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())


def read_snapshot(settings: Settings, embedder: str) -> Snapshot | None:
    """The snapshot, if there is one of this store as it is now (None otherwise)."""
    path = snapshot_path(settings)
    current = fingerprint(settings) if path.is_file() else None
    if current is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != FORMAT or str(data["fingerprint"]) != current:
                return None
            if str(data["embedder"]) != embedder:
                return None
            rows = json.loads(data["rows"].tobytes().decode("utf-8"))
            vectors = np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        log.warning("ignoring unreadable store snapshot %s (%s); reading the store", path, e)
        return None
    if not (len(rows["ids"]) == len(rows["metadatas"]) == len(rows["documents"]) == len(vectors)):
        log.warning("ignoring inconsistent store snapshot %s; reading the store", path)
        return None
    return Snapshot(current, embedder, rows["ids"], rows["metadatas"], rows["documents"], vectors)


def write_snapshot(settings: Settings, store: Store, embedder: str) -> bool:
    """Writes the store's rows as its snapshot; False when there is no fingerprint to record
    (see the module docstring) or the file could not be written (a read-only data dir): the
    next process then reads Chroma."""
    taken = fingerprint(settings)  # before the rows: a write in between leaves it stale
    if taken is None:
        return False
    ids, metadatas, documents, vectors = store.export()
    rows = json.dumps({"ids": ids, "metadatas": metadatas, "documents": documents})
    path = snapshot_path(settings)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:  # np.savez would append ".npz" to a bare name
            np.savez(
                fh,
                format=np.array(FORMAT),
                fingerprint=np.array(taken),
                embedder=np.array(embedder),
                rows=np.frombuffer(rows.encode("utf-8"), dtype=np.uint8),
                vectors=_matrix(vectors),
            )
        tmp.replace(path)  # a reader never sees half a file
    except OSError as e:
        log.debug("store snapshot not written to %s: %s", path, e)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
    return True


def _matrix(vectors: list[Any]) -> np.ndarray:
    """One float32 row per vector; (0, 0) for an empty store."""
    return np.asarray(vectors, dtype=np.float32) if vectors else np.zeros((0, 0), np.float32)


class SnapshotStore:
    """What the retriever reads of a store (its location, its chunks), from a snapshot."""

    def __init__(self, snapshot: Snapshot, location: str) -> None:
        self.snapshot = snapshot
        self.location = location

    def check_index(self) -> None:
        """Nothing to check: the snapshot is used only while the index files are as they were
        when it was taken (the fingerprint holds them), and its vectors are its own."""

    def all_chunks(self) -> list[StoredChunk]:
        s = self.snapshot
        return [to_stored(c, m, d) for c, m, d in zip(s.ids, s.metadatas, s.documents, strict=True)]
