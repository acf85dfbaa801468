"""The packaged all-MiniLM-L6-v2 run in numpy: the same weights and tokenizer as the
sentence-transformers model, for the few short texts of a question.

Why: importing torch, transformers and sentence-transformers takes ~3.5 s on these machines,
which a cold `rag ask --no-llm` paid to embed one question. This forward pass (BERT: 6 layers,
12 heads, exact GELU, mean pooling, L2 normalisation — what the model's `modules.json`
declares) loads in ~0.25 s and gives the same vectors to float32 precision
(tests/integration/test_minilm_numpy.py compares it with sentence-transformers). Batches of
documents (ingest) still go through sentence-transformers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26); numpy has no erf of its own and the
    error is below float32's resolution of the activations it feeds."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class NumpyMiniLM:
    """encode(texts) -> (n, 384) float32, unit length, like `SentenceTransformer.encode(...,
    normalize_embeddings=True)`."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((model_dir / "config.json").read_text())
        st_cfg = json.loads((model_dir / "sentence_bert_config.json").read_text())
        if cfg.get("hidden_act") != "gelu" or cfg.get("position_embedding_type") != "absolute":
            raise ValueError(f"unsupported BERT variant in {model_dir}")
        self._heads = int(cfg["num_attention_heads"])
        self._layers = int(cfg["num_hidden_layers"])
        self._eps = float(cfg["layer_norm_eps"])
        self._w: dict[str, Any] = load_file(str(model_dir / "model.safetensors"))
        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(int(st_cfg["max_seq_length"]))

    def _p(self, name: str) -> np.ndarray:
        return self._w[name]  # type: ignore[no-any-return]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._p(f"{name}.weight").T + self._p(f"{name}.bias")

    def _one(self, ids: list[int], types: list[int]) -> np.ndarray:
        p = self._p
        n = len(ids)
        x = (
            p("embeddings.word_embeddings.weight")[ids]
            + p("embeddings.position_embeddings.weight")[:n]
            + p("embeddings.token_type_embeddings.weight")[types]
        )
        x = _layer_norm(
            x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), self._eps
        )
        h = self._heads
        d = x.shape[1] // h
        for i in range(self._layers):
            pre = f"encoder.layer.{i}"
            q = self._dense(x, f"{pre}.attention.self.query").reshape(n, h, d).transpose(1, 0, 2)
            k = self._dense(x, f"{pre}.attention.self.key").reshape(n, h, d).transpose(1, 0, 2)
            v = self._dense(x, f"{pre}.attention.self.value").reshape(n, h, d).transpose(1, 0, 2)
            att = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(1, 0, 2).reshape(n, h * d)
            x = _layer_norm(
                x + self._dense(ctx, f"{pre}.attention.output.dense"),
                p(f"{pre}.attention.output.LayerNorm.weight"),
                p(f"{pre}.attention.output.LayerNorm.bias"),
                self._eps,
            )
            mid = _gelu(self._dense(x, f"{pre}.intermediate.dense"))
            x = _layer_norm(
                x + self._dense(mid, f"{pre}.output.dense"),
                p(f"{pre}.output.LayerNorm.weight"),
                p(f"{pre}.output.LayerNorm.bias"),
                self._eps,
            )
        pooled = x.mean(0)  # one text, no padding: the mask is all ones
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def encode(self, texts: list[str]) -> np.ndarray:
        width = self._p("embeddings.word_embeddings.weight").shape[1]
        out = np.zeros((len(texts), width), dtype=np.float32)
        for row, enc in enumerate(self._tok.encode_batch(texts)):
            out[row] = self._one(enc.ids, enc.type_ids)
        return out
