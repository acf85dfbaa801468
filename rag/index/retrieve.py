"""Hybrid retrieval: LlamaIndex dense retrieval over Chroma fused with BM25 by reciprocal rank
fusion, then grouped into papers (each with its best-matching chunk)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from rag.errors import StoreError
from rag.index.embed import Embedder
from rag.index.store import Store, StoredChunk
from rag.settings import RetrievalSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaperHit:
    rank: int
    paper_id: str
    title: str
    score: float  # fused score (or the single retriever's score in dense/bm25 mode)
    chunk: str  # best-matching passage of the abstract
    chunk_id: str
    sources: tuple[str, ...]
    dense_similarity: float | None  # cosine of the best chunk, when the dense retriever ran
    term_overlap: float = 0.0  # share of the question's content terms found in the best chunk


@dataclass(frozen=True)
class Retrieval:
    question: str
    hits: list[PaperHit]
    mode: str
    retrieve_ms: float

    @property
    def best_similarity(self) -> float | None:
        sims = [h.dense_similarity for h in self.hits if h.dense_similarity is not None]
        return max(sims) if sims else None

    @property
    def best_overlap(self) -> float:
        return max((h.term_overlap for h in self.hits), default=0.0)


def rrf(rankings: list[list[str]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion: each list contributes 1 / (k + rank) to an item's score."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


class BM25Index:
    def __init__(self, chunks: list[StoredChunk]) -> None:
        import bm25s
        import Stemmer

        # bm25s sets its own logger to DEBUG, which leaks "Building index" lines to stderr.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self._ids = [c.id for c in chunks]
        self._index = bm25s.BM25()
        tokens = bm25s.tokenize(
            [c.text for c in chunks], stopwords="en", stemmer=self._stemmer, show_progress=False
        )
        self._index.index(tokens, show_progress=False)

    def terms(self, text: str) -> list[str]:
        """Stemmed content words, as BM25 sees them."""
        tokens = self._bm25s.tokenize(
            [text], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return list(tokens[0]) if tokens else []

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        tokens = [self.terms(query)]
        if not tokens[0]:
            return []
        n = min(n, len(self._ids))
        docs, scores = self._index.retrieve(tokens, k=n, show_progress=False, n_threads=1)
        return [(self._ids[d], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


class Retriever:
    """Built once per process (BM25 index over the store's chunks + LlamaIndex retriever)."""

    def __init__(self, store: Store, embedder: Embedder, cfg: RetrievalSettings) -> None:
        self.store = store
        self.cfg = cfg
        self.embedder = embedder
        self._chunks: dict[str, StoredChunk] = {}
        self._bm25: BM25Index | None = None
        self._dense: Any = None
        self._question = ""

    def load(self) -> None:
        chunks = self.store.all_chunks()
        if not chunks:
            raise StoreError(f"the store at {self.store.location} is empty; run `rag ingest`")
        self._chunks = {c.id: c for c in chunks}
        self._bm25 = BM25Index(chunks)
        self._dense = self._dense_retriever()

    def _dense_retriever(self) -> Any:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.index.li_embedding import EmbedderAdapter

        vs = ChromaVectorStore(chroma_collection=self.store.collection)
        index = VectorStoreIndex.from_vector_store(vs, embed_model=EmbedderAdapter(self.embedder))
        return index.as_retriever(similarity_top_k=self.cfg.candidates)

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    @property
    def paper_count(self) -> int:
        return len({c.paper_id for c in self._chunks.values()})

    def search(self, question: str, top_k: int | None = None, mode: str | None = None) -> Retrieval:
        if self._bm25 is None:
            self.load()
        mode = mode or self.cfg.mode
        start = time.perf_counter()
        self._question = question
        dense = self._dense_search(question) if mode != "bm25" else []
        sparse = self._sparse_search(question) if mode != "dense" else []
        hits = self._to_papers(dense, sparse, mode, top_k or self.cfg.top_k)
        return Retrieval(question, hits, mode, (time.perf_counter() - start) * 1000)

    def _dense_search(self, question: str) -> list[tuple[str, float]]:
        try:
            nodes = self._dense.retrieve(question)
        except Exception as e:  # chroma / llama-index errors surface here at query time
            raise StoreError(f"dense retrieval failed against {self.store.location}: {e}") from e
        # ChromaVectorStore reports exp(-cosine distance); turn it back into cosine similarity.
        return [(n.node.node_id, 1.0 + math.log(max(n.score or 1e-9, 1e-9))) for n in nodes]

    def _sparse_search(self, question: str) -> list[tuple[str, float]]:
        assert self._bm25 is not None
        return self._bm25.search(question, self.cfg.candidates)

    def _to_papers(
        self, dense: list[tuple[str, float]], sparse: list[tuple[str, float]], mode: str, k: int
    ) -> list[PaperHit]:
        if mode == "hybrid":
            scores = rrf([[c for c, _ in dense], [c for c, _ in sparse]], self.cfg.rrf_k)
        else:
            scores = dict(dense or sparse)
        sims = dict(dense)
        best: dict[str, str] = {}  # paper id → its best chunk id
        for cid in sorted(scores, key=scores.__getitem__, reverse=True):
            chunk = self._chunks.get(cid)
            if chunk is not None and chunk.paper_id not in best:
                best[chunk.paper_id] = cid
        top = list(best.values())[:k]
        return [self._hit(rank, cid, scores[cid], sims) for rank, cid in enumerate(top, 1)]

    def _hit(self, rank: int, cid: str, score: float, sims: dict[str, float]) -> PaperHit:
        c = self._chunks[cid]
        paper_sims = [
            s
            for i, s in sims.items()
            if i in self._chunks and self._chunks[i].paper_id == c.paper_id
        ]
        sim = max(paper_sims) if paper_sims else None
        return PaperHit(
            rank, c.paper_id, c.title, score, c.passage, cid, c.sources, sim, self._overlap(c)
        )

    def _overlap(self, chunk: StoredChunk) -> float:
        assert self._bm25 is not None
        wanted = set(self._bm25.terms(self._question))
        return len(wanted & set(self._bm25.terms(chunk.text))) / len(wanted) if wanted else 0.0
