"""Hybrid retrieval: LlamaIndex dense retrieval over Chroma fused with BM25 by reciprocal rank
fusion, then grouped into papers (each with its best-matching chunk)."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from rag.errors import StoreError
from rag.index.bm25 import BM25Index
from rag.index.embed import Embedder
from rag.index.store import Store, StoredChunk
from rag.question import check_count, check_question
from rag.settings import MAX_TOP_K, RetrievalSettings

log = logging.getLogger(__name__)
COMMON_SHARE = 0.15  # in more of the chunks than this ("models", "tasks", "benchmark"), a word
# is not worth highlighting; "attention" (13 % of the bundled corpus) still is


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


class Retriever:
    """Built once per process (BM25 index over the store's chunks + LlamaIndex retriever) and
    shared by concurrent callers: `search` keeps nothing of a call on the object."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        cfg: RetrievalSettings,
        max_question_chars: int = 2000,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.embedder = embedder
        self.max_question_chars = max_question_chars
        self._chunks: dict[str, StoredChunk] = {}
        self._bm25: BM25Index | None = None
        self._dense: Any = None
        self._loading = threading.Lock()

    def load(self) -> None:
        self.store.check_index()  # first: a damaged index can fail the metadata reads too
        chunks = self.store.all_chunks()
        if not chunks:
            raise StoreError(f"the store at {self.store.location} is empty; run `rag ingest`")
        self._chunks = {c.id: c for c in chunks}
        self._dense = self._dense_retriever()
        self._bm25 = BM25Index(chunks)  # last: a non-None index means everything is loaded

    def _ensure_loaded(self) -> BM25Index:
        with self._loading:
            if self._bm25 is None:
                self.load()
        assert self._bm25 is not None
        return self._bm25

    def _dense_retriever(self) -> Any:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.index.li_embedding import EmbedderAdapter

        vs = ChromaVectorStore(chroma_collection=self.store.collection)
        index = VectorStoreIndex.from_vector_store(vs, embed_model=EmbedderAdapter(self.embedder))
        return index.as_retriever(similarity_top_k=self.cfg.candidates)

    def chunks(self) -> list[StoredChunk]:
        """Every stored chunk (loaded once with the indexes)."""
        self._ensure_loaded()
        return list(self._chunks.values())

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    @property
    def paper_count(self) -> int:
        return len({c.paper_id for c in self._chunks.values()})

    def is_common(self, word: str, max_share: float = COMMON_SHARE) -> bool:
        """Whether `word` is in more than `max_share` of the chunks ("language", "models"):
        too common to mark as a match of the question."""
        return self._ensure_loaded().doc_share(word) > max_share

    def search(self, question: str, top_k: int | None = None, mode: str | None = None) -> Retrieval:
        """Papers for `question` (checked: empty or oversized is a QuestionError)."""
        q = check_question(question, self.max_question_chars)
        k = check_count(top_k, MAX_TOP_K) or self.cfg.top_k
        bm25 = self._ensure_loaded()
        mode = mode or self.cfg.mode
        start = time.perf_counter()
        dense = self._dense_search(q) if mode != "bm25" else []
        sparse = bm25.search(q, self.cfg.candidates) if mode != "dense" else []
        hits = self._to_papers(q, dense, sparse, mode, k)
        return Retrieval(q, hits, mode, (time.perf_counter() - start) * 1000)

    def _dense_search(self, question: str) -> list[tuple[str, float]]:
        try:
            nodes = self._dense.retrieve(question)
        except Exception as e:  # chroma / llama-index errors surface here at query time
            raise StoreError(f"dense retrieval failed against {self.store.location}: {e}") from e
        # ChromaVectorStore reports exp(-cosine distance); turn it back into cosine similarity.
        return [(n.node.node_id, 1.0 + math.log(max(n.score or 1e-9, 1e-9))) for n in nodes]

    def _to_papers(
        self,
        question: str,
        dense: list[tuple[str, float]],
        sparse: list[tuple[str, float]],
        mode: str,
        k: int,
    ) -> list[PaperHit]:
        if mode == "hybrid":
            scores = rrf([[c for c, _ in dense], [c for c, _ in sparse]], self.cfg.rrf_k)
        else:
            scores = dict(dense or sparse)
        best: dict[str, str] = {}  # paper id → its best chunk id
        for cid in sorted(scores, key=scores.__getitem__, reverse=True):
            chunk = self._chunks.get(cid)
            if chunk is not None and chunk.paper_id not in best:
                best[chunk.paper_id] = cid
        sims = self._paper_similarity(dense)
        wanted = set(self._ensure_loaded().terms(question))
        return [
            self._hit(rank, self._chunks[cid], scores[cid], sims, wanted)
            for rank, cid in enumerate(list(best.values())[:k], start=1)
        ]

    def _paper_similarity(self, dense: list[tuple[str, float]]) -> dict[str, float]:
        """Each paper's best dense cosine among the chunks the dense retriever returned."""
        sims: dict[str, float] = {}
        for cid, sim in dense:
            chunk = self._chunks.get(cid)
            if chunk is not None and sim > sims.get(chunk.paper_id, -2.0):
                sims[chunk.paper_id] = sim
        return sims

    def _hit(
        self, rank: int, c: StoredChunk, score: float, sims: dict[str, float], wanted: set[str]
    ) -> PaperHit:
        return PaperHit(
            rank,
            c.paper_id,
            c.title,
            score,
            c.passage,
            c.id,
            c.sources,
            sims.get(c.paper_id),
            self._overlap(wanted, c),
        )

    def _overlap(self, wanted: set[str], chunk: StoredChunk) -> float:
        """Share of the question's stemmed content terms found in the chunk."""
        if not wanted:
            return 0.0
        return len(wanted & set(self._ensure_loaded().terms(chunk.text))) / len(wanted)
