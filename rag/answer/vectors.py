"""Sentence embeddings for evidence scoring, cached by exact text.

Embedding ~90 candidate sentences costs ~0.4 s on 2 cores; the same sentences come back for
every question about the same papers, so each text is embedded once per process. `warm`
embeds a whole corpus up front (30 s for 4,300 sentences on 2 idle cores, minutes when they are
busy) when start-up time is cheaper than first-question latency; `save`/`load` keep that work
across restarts (a file per embedder: vectors of another embedder are refused)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rag.errors import EmbeddingError
from rag.index.embed import Embedder

__all__ = ["SentenceVectors"]


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
        texts = list(self._vectors)
        matrix = np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 0))
        with path.open("wb") as fh:  # np.savez would append ".npz" to a bare name
            np.savez(
                fh,
                texts=np.array(texts, dtype=object),
                vectors=matrix,
                embedder=np.array(self.embedder.name),
            )

    def load(self, path: Path) -> int:
        """Adds the vectors saved at `path`; returns how many. A missing file adds none."""
        if not path.exists():
            return 0
        with np.load(path, allow_pickle=True) as data:
            saved = str(data["embedder"])
            if saved != self.embedder.name:
                raise EmbeddingError(
                    f"{path} holds vectors of {saved}, not {self.embedder.name}; delete it"
                )
            fresh = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
        with self._lock:
            self._vectors.update(fresh)
        return len(fresh)
