"""The numpy forward pass of the packaged MiniLM (questions) against sentence-transformers
(documents): the two must give the same vectors, or a question and the chunks it is compared
with would live in slightly different spaces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.index.embed import SMALL_BATCH, LocalEmbedder, packaged_model_dir
from rag.index.minilm import NumpyMiniLM

ROOT = Path(__file__).resolve().parents[2]


def _texts() -> list[str]:
    qs = [
        json.loads(line)["question"]
        for name in ("questions.jsonl", "questions_hard.jsonl")
        for line in (ROOT / "eval" / name).read_text().splitlines()
        if line.strip()
    ]
    odd = [
        "",  # only the special tokens
        "word " * 400,  # past the 256 word pieces: truncated the same way
        "Naïve café — ÜBER Straße, 65B on a 48GB GPU (≈0.5 %)",  # accents, symbols, digits
        "量子 计算",  # CJK split per character
        "a",
    ]
    return qs + odd


@pytest.fixture(scope="module")
def reference():
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(packaged_model_dir()), device="cpu")


def test_numpy_pass_matches_sentence_transformers(reference):
    texts = _texts()
    ours = NumpyMiniLM(packaged_model_dir()).encode(texts)
    ref = reference.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    assert ours.shape == ref.shape == (len(texts), 384)
    assert float(np.abs(ours - ref).max()) < 1e-5
    assert float(np.linalg.norm(ours, axis=1).min()) == pytest.approx(1.0, abs=1e-5)


def test_the_embedder_routes_questions_and_documents_to_the_same_space(reference):
    emb = LocalEmbedder(packaged_model_dir())
    texts = _texts()[: SMALL_BATCH + 4]
    few = np.array(emb.embed(texts[:SMALL_BATCH]))  # the numpy pass
    many = np.array(emb.embed(texts))  # sentence-transformers
    assert float(np.abs(few - many[:SMALL_BATCH]).max()) < 1e-5
    assert emb._small is not None and emb._model is not None  # both runtimes were used


def test_a_missing_model_folder_is_an_embedding_error(tmp_path):
    from rag.errors import EmbeddingError

    with pytest.raises(EmbeddingError, match="cannot load the embedder"):
        LocalEmbedder(tmp_path / "nowhere").embed(["a question"])
