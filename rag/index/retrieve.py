"""Hybrid retrieval: dense retrieval over Chroma (through LlamaIndex; in a process without a
model, straight to the collection or over the store's snapshot: dense.py) fused with BM25 by
reciprocal rank fusion, then grouped into papers (each with its best-matching chunk). Filters
(year, author, source file: filters.py) apply on both sides, as a Chroma `where` (or the chunk
ids it admits, for the snapshot) and as a BM25 mask.

The loaded indexes are one immutable `_Loaded` value: `reload()` builds a new one from the store
and swaps it in with one assignment, so a search that started before keeps the value it took
(a question being answered meanwhile completes) and every later one sees the new store."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from rag.errors import StoreError
from rag.index.bm25 import BM25Index
from rag.index.catalog import match_sources
from rag.index.dense import DenseKind, DenseSearch, open_dense
from rag.index.embed import Embedder
from rag.index.filters import Filters, matches, where
from rag.index.store import StoredChunk
from rag.question import check_count, check_question
from rag.settings import MAX_TOP_K, RetrievalSettings

log = logging.getLogger(__name__)
COMMON_SHARE = 0.15  # in more of the chunks than this ("models", "tasks", "benchmark"), a word
# is not worth highlighting; "attention" (13 % of the bundled corpus) still is
NAME_SHARE = 0.01  # a term in at most 1 % of the chunks names something ("qlora", "mamba")


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
    page: int | None = None  # the best chunk's PDF page; None for an abstract
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Retrieval:
    question: str
    hits: list[PaperHit]
    mode: str
    retrieve_ms: float
    filters: Filters = field(default_factory=Filters)

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


class ChunkSource(Protocol):
    """What the retriever reads of a store: a Store (Chroma) or a SnapshotStore (snapshot.py)."""

    location: str

    def check_index(self) -> None: ...

    def all_chunks(self) -> list[StoredChunk]: ...


@dataclass(frozen=True)
class _Loaded:
    """Everything one search reads, built together from one read of the store."""

    chunks: dict[str, StoredChunk]
    bm25: BM25Index
    dense: DenseSearch  # over the Chroma collection or the snapshot's vectors


class Retriever:
    """Built once per process (BM25 index over the store's chunks + the dense search) and
    shared by concurrent callers: `search` keeps nothing of a call on the object. `dense`:
    how the dense search reaches the vectors (dense.py): `snapshot` goes with a SnapshotStore,
    the others with a Store."""

    def __init__(
        self,
        store: ChunkSource,
        embedder: Embedder,
        cfg: RetrievalSettings,
        max_question_chars: int = 2000,
        dense: DenseKind = "llamaindex",
    ) -> None:
        self.store = store
        self.dense_kind: DenseKind = dense
        self.cfg = cfg
        self.embedder = embedder
        self.max_question_chars = max_question_chars
        self._state: _Loaded | None = None
        self._loading = threading.Lock()

    def load(self) -> None:
        """Reads the store and swaps the new indexes in (see the module docstring)."""
        self.store.check_index()  # first: a damaged index can fail the metadata reads too
        chunks = self.store.all_chunks()
        if not chunks:
            raise StoreError(f"the store at {self.store.location} is empty; run `rag ingest`")
        dense = open_dense(self.dense_kind, self.store, self.embedder, self.cfg.candidates)
        self._state = _Loaded({c.id: c for c in chunks}, BM25Index(chunks), dense)

    def reload(self) -> None:
        """After an ingest or a removal (the UI's upload and remove): the store read again.
        Searches running meanwhile finish on the indexes they started with."""
        with self._loading:
            self.load()

    def _ensure_loaded(self) -> _Loaded:
        state = self._state
        if state is None:
            with self._loading:
                if self._state is None:
                    self.load()
                state = self._state
        assert state is not None
        return state

    @property
    def chunk_count(self) -> int:
        return len(self._ensure_loaded().chunks)

    @property
    def paper_count(self) -> int:
        return len({c.paper_id for c in self._ensure_loaded().chunks.values()})

    def names(self, question: str, title: str, max_share: float = NAME_SHARE) -> tuple[str, ...]:
        """The question's names that `title` carries: terms in at most `max_share` of the
        chunks ("qlora", "mamba"), when every term of the question is in the corpus (a term
        the corpus lacks, "alphafold2", means the question is about something else)."""
        bm25 = self._ensure_loaded().bm25
        terms = set(bm25.terms(question))
        shares = {t: bm25.share_of(t) for t in terms}
        if not terms or min(shares.values()) == 0.0:
            return ()
        in_title = set(bm25.terms(title))
        return tuple(sorted(t for t, s in shares.items() if s <= max_share and t in in_title))

    def is_common(self, word: str, max_share: float = COMMON_SHARE) -> bool:
        """Whether `word` is in more than `max_share` of the chunks ("language", "models"):
        too common to mark as a match of the question."""
        return self._ensure_loaded().bm25.doc_share(word) > max_share

    def chunks(self) -> list[StoredChunk]:
        """Every stored chunk (as last loaded)."""
        return list(self._ensure_loaded().chunks.values())

    def search(
        self,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        filters: Filters | None = None,
    ) -> Retrieval:
        """Papers for `question` (checked: empty or oversized is a QuestionError), only those
        `filters` admit."""
        q = check_question(question, self.max_question_chars)
        k = check_count(top_k, MAX_TOP_K) or self.cfg.top_k
        state = self._ensure_loaded()
        mode = mode or self.cfg.mode
        f = filters or Filters()
        start = time.perf_counter()
        keys = self._source_keys(state, f)
        mask = self._mask(state, f, keys) if f else None
        dense = self._dense_search(state, q, where(f, keys), mask) if mode != "bm25" else []
        sparse = state.bm25.search(q, self.cfg.candidates, mask) if mode != "dense" else []
        hits = self._to_papers(state, q, dense, sparse, mode, k)
        return Retrieval(q, hits, mode, (time.perf_counter() - start) * 1000, f)

    @staticmethod
    def _source_keys(state: _Loaded, f: Filters) -> set[str] | None:
        """The stored files f.source names, as the keys chunks carry (None: no source filter)."""
        if f.source is None:
            return None
        files = {o for c in state.chunks.values() for o in c.origins}
        # A file by its path: its name alone would also match a namesake in another folder.
        return {o.path or o.label for o in match_sources(f.source, files)}

    @staticmethod
    def _mask(state: _Loaded, f: Filters, keys: set[str] | None) -> dict[str, bool]:
        return {
            cid: matches(f, c.year, c.author_keys, c.source_keys, keys)
            for cid, c in state.chunks.items()
        }

    def _dense_search(
        self,
        state: _Loaded,
        question: str,
        clause: dict[str, Any] | None,
        mask: dict[str, bool] | None,
    ) -> list[tuple[str, float]]:
        try:
            return state.dense.search(question, self.cfg.candidates, clause, mask)
        except Exception as e:  # chroma / llama-index errors surface here at query time
            raise StoreError(f"dense retrieval failed against {self.store.location}: {e}") from e

    def _to_papers(
        self,
        state: _Loaded,
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
            chunk = state.chunks.get(cid)
            if chunk is not None and chunk.paper_id not in best:
                best[chunk.paper_id] = cid
        sims = self._paper_similarity(state, dense)
        wanted = set(state.bm25.terms(question))
        return [
            self._hit(state, rank, state.chunks[cid], scores[cid], sims, wanted)
            for rank, cid in enumerate(list(best.values())[:k], start=1)
        ]

    @staticmethod
    def _paper_similarity(state: _Loaded, dense: list[tuple[str, float]]) -> dict[str, float]:
        """Each paper's best dense cosine among the chunks the dense retriever returned."""
        sims: dict[str, float] = {}
        for cid, sim in dense:
            chunk = state.chunks.get(cid)
            if chunk is not None and sim > sims.get(chunk.paper_id, -2.0):
                sims[chunk.paper_id] = sim
        return sims

    @staticmethod
    def _hit(
        state: _Loaded,
        rank: int,
        c: StoredChunk,
        score: float,
        sims: dict[str, float],
        wanted: set[str],
    ) -> PaperHit:
        overlap = len(wanted & set(state.bm25.terms(c.text))) / len(wanted) if wanted else 0.0
        return PaperHit(
            rank,
            c.paper_id,
            c.title,
            score,
            c.passage,
            c.id,
            c.sources,
            sims.get(c.paper_id),
            overlap,
            page=c.page,
            authors=c.authors,
            year=c.year,
            venue=c.venue,
            doi=c.doi,
            url=c.url,
        )
