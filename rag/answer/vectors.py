"""Sentence embeddings for evidence scoring, cached by exact text.

Embedding ~90 candidate sentences costs ~0.4 s on 2 cores; the same sentences come back for
every question about the same papers, so each text is embedded once per process. `warm`
embeds a whole corpus up front (30 s for 4,300 sentences on 2 idle cores, minutes when they are
busy) when start-up time is cheaper than first-question latency; `save`/`load` keep that work
across restarts (a file per embedder: vectors of another embedder are refused)."""

from __future__ import annotations

import logging
import os
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rag.errors import EmbeddingError
from rag.index.embed import Embedder

__all__ = ["SentenceVectors", "vectors_path"]
log = logging.getLogger(__name__)


def vectors_path(data_dir: Path, collection: str) -> Path:
    """Where a collection's sentence vectors live: next to the store, named by collection (the
    collection name already encodes the embedder and the chunking)."""
    return data_dir / "sentence-vectors" / f"{collection}.npz"


class SentenceVectors:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the UI may score two questions at once

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text: object) -> bool:
        return text in self._vectors

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text (embedding only those not seen before)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = np.asarray(self.embedder.embed(missing), dtype=np.float32)
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def warm(self, texts: Iterable[str], batch: int = 256) -> int:
        """Embed every text not cached yet; returns how many were embedded."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        for i in range(0, len(todo), batch):
            self.get(todo[i : i + batch])
        return len(todo)

    def save(self, path: Path) -> None:
        """Written to a temporary file and renamed, so a reader never sees half a file. Texts
        are stored as UTF-8 bytes with their lengths: loading needs no pickle."""
        with self._lock:
            texts = list(self._vectors)
            matrix = np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 0))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:  # np.savez would append ".npz" to a bare name
            blob, lengths = _encoded(texts)
            np.savez(
                fh,
                text_bytes=blob,
                text_lengths=lengths,
                vectors=matrix.astype(np.float32),
                embedder=np.array(self.embedder.name),
            )
        tmp.replace(path)

    def load(self, path: Path) -> int:
        """Adds the vectors saved at `path`; returns how many. A missing or unreadable file
        adds none (the vectors are a cache: they are embedded again)."""
        if not path.exists():
            return 0
        try:
            with np.load(path, allow_pickle=False) as data:
                saved = str(data["embedder"])
                texts, matrix = _decoded(data["text_bytes"], data["text_lengths"]), data["vectors"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            log.warning(
                "ignoring unreadable sentence vectors %s (%s); they are recomputed", path, e
            )
            return 0
        if saved != self.embedder.name:
            raise EmbeddingError(
                f"{path} holds vectors of {saved}, not {self.embedder.name}; delete it"
            )
        fresh = dict(zip(texts, matrix, strict=True))
        with self._lock:
            self._vectors.update(fresh)
        return len(fresh)


def _encoded(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    raw = [t.encode("utf-8") for t in texts]
    blob = np.frombuffer(b"".join(raw), dtype=np.uint8)
    return blob, np.array([len(b) for b in raw], dtype=np.int64)


def _decoded(blob: np.ndarray, lengths: np.ndarray) -> list[str]:
    data, out, pos = blob.tobytes(), [], 0
    for n in lengths.tolist():
        out.append(data[pos : pos + n].decode("utf-8"))
        pos += n
    return out
