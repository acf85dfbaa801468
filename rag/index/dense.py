"""Dense search over the store's chunks: the question's vector against the chunks', the best `n`
by cosine, optionally under a filter. Three ways to run it (tests/integration/test_dense_paths.py):

- `llamaindex` (default): a LlamaIndex VectorStoreIndex over ChromaVectorStore, queried through
  its retriever, the way answers written by the model retrieve;
- `chroma`: the same query sent to the collection directly, for processes that never start a
  model (`rag ask --no-llm`, `rag search`): importing llama_index.core is ~0.8 s of a cold
  start there, which is most of the time such a process takes;
- `snapshot`: exact cosine over the vectors of a store snapshot (snapshot.py), for the same
  processes when the store has not changed since the snapshot: no chromadb import either. Exact
  where Chroma's HNSW is approximate: on the seed store HNSW misses one of the true top 30 for
  about one question in ten (always near the end of the list); the chunks both return have the
  same cosines.

All embed the question with the store's own embedder and return (chunk id, cosine). A filter
comes two ways, built from the same `Filters` (filters.py): a Chroma `where` clause and the
chunk ids it admits (`allowed`, None: every chunk); each path reads the one it can use."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rag.index.embed import Embedder

if TYPE_CHECKING:
    from rag.index.snapshot import SnapshotStore
    from rag.index.store import Store

DenseKind = Literal["llamaindex", "chroma", "snapshot"]
Hits = list[tuple[str, float]]
Allowed = Mapping[str, bool] | None


class DenseSearch(Protocol):
    def search(
        self, question: str, n: int, where: dict[str, Any] | None, allowed: Allowed
    ) -> Hits: ...


class LlamaIndexDense:
    """Through LlamaIndex: VectorIndexRetriever → ChromaVectorStore → the collection."""

    def __init__(self, store: Store, embedder: Embedder, n: int) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.index.li_embedding import EmbedderAdapter

        vs = ChromaVectorStore(chroma_collection=store.collection)
        # No transformations: the index is only searched here (chunks are written by ingest),
        # and the default one builds LlamaIndex's tiktoken splitter (~0.25 s of a cold start).
        self._index = VectorStoreIndex.from_vector_store(
            vs, embed_model=EmbedderAdapter(embedder), transformations=[]
        )
        self._n = n
        self._plain = self._index.as_retriever(similarity_top_k=n)  # built once: no filter

    def search(
        self, question: str, n: int, where: dict[str, Any] | None, allowed: Allowed = None
    ) -> Hits:
        if where is None and n == self._n:
            retriever = self._plain
        else:
            kwargs = {"where": where} if where else {}
            retriever = self._index.as_retriever(similarity_top_k=n, vector_store_kwargs=kwargs)
        nodes = retriever.retrieve(question)
        # ChromaVectorStore reports exp(-cosine distance); turn it back into cosine similarity.
        return [(x.node.node_id, 1.0 + math.log(max(x.score or 1e-9, 1e-9))) for x in nodes]


class ChromaDense:
    """Straight to the collection: one `query` by the question's vector, distances only."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self._collection = store.collection
        self._embedder = embedder

    def search(
        self, question: str, n: int, where: dict[str, Any] | None, allowed: Allowed = None
    ) -> Hits:
        vector = self._embedder.embed([question])[0]
        kwargs: dict[str, Any] = {"where": where} if where else {}
        found = self._collection.query(
            query_embeddings=[vector], n_results=n, include=["distances"], **kwargs
        )
        ids, distances = found["ids"][0], found["distances"][0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]


class SnapshotDense:
    """Every snapshot vector against the question's (exact cosine, ties in stored order; a few
    ms for a few thousand chunks); a filter as the chunks it admits."""

    def __init__(self, store: SnapshotStore, embedder: Embedder) -> None:
        import numpy as np

        self._np = np
        self._ids = store.snapshot.ids
        vectors = store.snapshot.vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._unit = vectors / np.where(norms == 0, 1.0, norms)
        self._embedder = embedder

    def search(
        self, question: str, n: int, where: dict[str, Any] | None, allowed: Allowed = None
    ) -> Hits:
        np = self._np
        q = np.asarray(self._embedder.embed([question])[0], dtype=np.float32)
        q = q / (np.linalg.norm(q) or 1.0)
        rows = np.arange(len(self._ids))
        if allowed is not None:
            rows = np.array([i for i, c in enumerate(self._ids) if allowed.get(c)], dtype=int)
        sims = self._unit[rows] @ q
        order = np.argsort(-sims, kind="stable")[:n]
        best = zip(rows[order].tolist(), sims[order].tolist(), strict=True)
        return [(self._ids[i], float(sim)) for i, sim in best]


def open_dense(kind: DenseKind, store: Any, embedder: Embedder, n: int) -> DenseSearch:
    """`store`: a Store for `llamaindex` and `chroma`, a SnapshotStore for `snapshot`."""
    if kind == "snapshot":
        return SnapshotDense(store, embedder)
    if kind == "chroma":
        return ChromaDense(store, embedder)
    return LlamaIndexDense(store, embedder, n)
