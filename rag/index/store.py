"""The Chroma vector store: embedded (PersistentClient in the data dir) by default, a `chroma run`
server when RAG_CHROMA_URL is set. Third-party errors become StoreError at this boundary."""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse

from rag.errors import ConfigError, IndexDamagedError, StoreError
from rag.index.catalog import authors_of, chunk_metadata, origins_of
from rag.index.chunking import Chunk
from rag.settings import Settings, check_data_dir
from rag.sources.records import SourceFile

log = logging.getLogger(__name__)
PAGE = 2000


class StoredKey(NamedTuple):
    """What ingestion diffs against, per stored chunk."""

    paper_id: str
    sources: str  # JSON, as stored
    title: str
    doi: str | None
    meta: Mapping[str, Any] = {}  # the whole metadata, as stored (read only)


@dataclass(frozen=True)
class StoredChunk:
    id: str
    paper_id: str
    title: str
    text: str
    passage: str
    position: int
    sources: tuple[str, ...]
    page: int | None = None  # the PDF page of the passage; None for an abstract
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    url: str | None = None
    author_keys: frozenset[str] = frozenset()  # what --author matches (catalog.name_words)
    source_keys: frozenset[str] = frozenset()  # what --source matches: file paths and names
    origins: tuple[SourceFile, ...] = ()  # the files the passage was read from


def chroma_dir(settings: Settings) -> Path:
    return settings.data_dir / "chroma"


def describe_location(settings: Settings) -> str:
    return settings.chroma.url or str(chroma_dir(settings))


def _http_client(url: str) -> Any:
    import chromadb

    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConfigError(f"RAG_CHROMA_URL={url!r} is not an http(s)://host:port URL")
    try:
        client = chromadb.HttpClient(host=u.hostname, port=u.port or 8000, ssl=u.scheme == "https")
        client.heartbeat()
    except Exception as e:  # chromadb raises bare ValueError/ConnectError variants here
        raise StoreError(
            f"cannot reach the Chroma server at {url}: {e}; start it with "
            "`chroma run --path DIR --host 127.0.0.1 --port PORT` or unset RAG_CHROMA_URL"
        ) from e
    return client


def _persistent_client(path: Path, create: bool) -> Any:
    import chromadb

    if not path.exists() and not create:
        raise StoreError(f"no store at {path}; run `rag ingest` first")
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            if create:
                raise StoreError(
                    f"store directory {path} is read-only; fix permissions or RAG_DATA_DIR"
                )
            return chromadb.PersistentClient(path=str(_readable_copy(path)))
        return chromadb.PersistentClient(path=str(path))
    except OSError as e:
        raise StoreError(f"cannot open the store at {path}: {e}; check RAG_DATA_DIR") from e


def _readable_copy(path: Path) -> Path:
    """A private copy of a read-only store, deleted at exit. Chroma 1.5.9 writes to its SQLite
    file when it opens a store (even to read), so it cannot open one on a read-only disk."""
    tmp = Path(tempfile.mkdtemp(prefix="rag-readonly-store-"))
    atexit.register(shutil.rmtree, tmp, True)
    shutil.copytree(path, tmp / "chroma")
    log.warning("the store at %s is read-only; reading a copy in %s", path, tmp)
    return tmp / "chroma"


@contextlib.contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer per embedded store: Chroma's directory is not safe for two writer processes."""
    if settings.chroma.url:
        yield  # the server serialises writes itself
        return
    check_data_dir(settings)
    lock_path = settings.data_dir / "write.lock"
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    except OSError as e:
        why = (
            "the data directory is read-only"
            if e.errno in (errno.EROFS, errno.EACCES)
            else e.strerror
        )
        raise StoreError(f"cannot write {lock_path}: {why}; fix permissions or RAG_DATA_DIR") from e
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise StoreError(
                f"the store at {settings.data_dir} is held by another writer (an ingest is "
                "running); wait for it to finish"
            ) from e
        yield


class Store:
    """One collection of chunks, named from the settings that shape the vectors."""

    def __init__(self, collection: Any, location: str, client: Any = None) -> None:
        self.collection = collection
        self.location = location
        self.client = client

    @staticmethod
    def open_client(settings: Settings, create: bool = False) -> Any:
        if settings.chroma.url:
            return _http_client(settings.chroma.url)
        check_data_dir(settings)
        return _persistent_client(chroma_dir(settings), create)

    @classmethod
    def open(cls, settings: Settings, embedder_name: str, create: bool = False) -> Store:
        client = cls.open_client(settings, create)
        name = settings.collection_name()
        try:
            _refuse_half_rebuilt(client, name, describe_location(settings))
            col = _collection(client, name, embedder_name, create)
        except (StoreError, ConfigError):
            raise
        except Exception as e:  # wrap whatever the chroma client raised at this boundary
            raise StoreError(
                f"cannot open collection {name} at {describe_location(settings)}: {e}"
            ) from e
        return cls(col, describe_location(settings), client)

    def count(self) -> int:
        return int(self._call(self.collection.count))

    def check_index(self) -> None:
        """IndexDamagedError unless the vector index answers for every chunk the collection holds:
        a query with a stored chunk's own vector, asking for all of them, must return all of them.
        (Chroma 1.5.9 answers a query on a deleted or truncated HNSW folder from its recent-write
        log alone, so a damaged index otherwise looks like bad retrieval, not like an error.)"""
        n: int | None = None
        try:
            n = int(self.collection.count())
            if n == 0:
                return
            probe = self.collection.get(limit=1, include=["embeddings"])
            got = self.collection.query(
                query_embeddings=[list(probe["embeddings"][0])], n_results=n, include=["distances"]
            )
        except Exception as e:  # any chroma failure here means the index cannot be read
            raise damaged(self.location, f"Chroma: {str(e).splitlines()[0][:160]}", n) from e
        found = len(got["ids"][0])
        if found < n:
            raise damaged(self.location, f"it answers for {found:,} of {n:,} chunks", n)

    def chunk_index(self) -> dict[str, StoredKey]:
        """chunk id → its paper id, sources, title and DOI as stored."""
        out: dict[str, StoredKey] = {}
        for ids, metas, _ in self._pages(include=["metadatas"]):
            for cid, m in zip(ids, metas, strict=True):
                doi = str(m["doi"]) if m.get("doi") else None
                out[cid] = StoredKey(
                    str(m["paper_id"]),
                    str(m.get("sources", "[]")),
                    str(m.get("title", "")),
                    doi,
                    dict(m),
                )
        return out

    def all_chunks(self) -> list[StoredChunk]:
        out: list[StoredChunk] = []
        for ids, metas, docs in self._pages(include=["metadatas", "documents"]):
            out.extend(to_stored(c, m, d) for c, m, d in zip(ids, metas, docs, strict=True))
        return out

    def export(self) -> tuple[list[str], list[dict[str, Any]], list[str], list[Any]]:
        """Every row: ids, metadatas, documents and vectors (what a snapshot holds)."""
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        docs: list[str] = []
        vectors: list[Any] = []
        for got in self._gets(include=["metadatas", "documents", "embeddings"]):
            ids += got["ids"]
            metas += [dict(m) for m in got["metadatas"]]
            docs += [d or "" for d in got["documents"]]
            vectors += list(got["embeddings"])
        return ids, metas, docs, vectors

    def records(self) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        """(ids, metadatas, documents) pages, as stored: what a rebuild copies."""
        return self._pages(include=["metadatas", "documents"])

    def add(
        self, ids: list[str], vectors: list[list[float]], metas: list[Any], docs: list[Any]
    ) -> None:
        self._call(
            self.collection.add, ids=ids, embeddings=vectors, metadatas=metas, documents=docs
        )

    def _pages(self, include: list[str]) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        for got in self._gets(include):
            docs = got.get("documents") or [None] * len(got["ids"])
            yield got["ids"], got["metadatas"], docs

    def _gets(self, include: list[str]) -> Iterator[dict[str, Any]]:
        """The collection's rows, a page (Chroma's `get` result) at a time."""
        offset = 0
        while True:
            got = self._call(self.collection.get, include=include, limit=PAGE, offset=offset)
            if not got["ids"]:
                return
            yield got
            offset += len(got["ids"])

    def upsert(
        self,
        chunks: list[Chunk],
        vectors: list[list[float]],
        metas: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`metas`: chunk id → its metadata (default: from the chunk alone)."""
        metas = metas or {}
        self._call(
            self.collection.upsert,
            ids=[c.id for c in chunks],
            embeddings=vectors,
            documents=[c.text for c in chunks],
            metadatas=[dict(metas.get(c.id) or chunk_metadata(c)) for c in chunks],
        )

    def update_metadata(self, chunks: list[Chunk]) -> None:
        if chunks:
            metas = [chunk_metadata(c) for c in chunks]
            self._call(self.collection.update, ids=[c.id for c in chunks], metadatas=metas)

    def set_metadata(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """chunk id → metadata change (catalog.metadata_change: None deletes a key)."""
        ids = list(changes)
        for start in range(0, len(ids), PAGE):
            part = ids[start : start + PAGE]
            metas = [dict(changes[i]) for i in part]
            self._call(self.collection.update, ids=part, metadatas=metas)

    def metadatas(self) -> list[dict[str, Any]]:
        """Every chunk's metadata (what `rag list` groups into papers)."""
        return [dict(m) for _, metas, _ in self._pages(include=["metadatas"]) for m in metas]

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._call(self.collection.delete, ids=ids)

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Exception as e:  # chroma's error classes differ between embedded and HTTP
            raise StoreError(f"vector store operation failed at {self.location}: {e}") from e


def damaged(location: str, why: str, chunks: int | None = None) -> IndexDamagedError:
    return IndexDamagedError(
        f"the vector index at {location} is damaged or incomplete ({why}); "
        "run `rag ingest --rebuild` to re-embed the stored chunks into a fresh index",
        chunks,
    )


REBUILDING = ".rebuild"  # a fresh collection being filled by `rag ingest --rebuild`
REPLACED = ".old"  # the collection a rebuild replaces, until the fresh one has its name


def _refuse_half_rebuilt(client: Any, name: str, location: str) -> None:
    """A rebuild interrupted between its two renames leaves the chunks under name + REPLACED."""
    names = {c.name for c in client.list_collections()}
    if name not in names and name + REPLACED in names:
        raise StoreError(
            f"an interrupted `rag ingest --rebuild` left the chunks at {location} in "
            f"{name + REPLACED}; run `rag ingest --rebuild` again to finish it"
        )


def _collection(client: Any, name: str, embedder_name: str, create: bool) -> Any:
    if not create:
        try:
            col = client.get_collection(name, embedding_function=None)
        except Exception as e:  # NotFoundError / ValueError depending on the client kind
            raise StoreError(f"collection {name} does not exist; run `rag ingest` first") from e
    else:
        col = create_collection(client, name, embedder_name)
    stored = (col.metadata or {}).get("embedder")
    if stored and stored != embedder_name:
        raise ConfigError(
            f"collection {name} holds vectors from {stored}, not {embedder_name}; "
            "mixing embedders in one collection is refused"
        )
    return col


def create_collection(client: Any, name: str, embedder_name: str) -> Any:
    return client.get_or_create_collection(
        name,
        embedding_function=None,  # we always pass vectors; chroma's default would download
        metadata={"embedder": embedder_name},
        configuration={"hnsw": {"space": "cosine"}},
    )


def to_stored(cid: str, meta: dict[str, Any], doc: str | None) -> StoredChunk:
    text = doc or ""
    passage = text.split("\n", 1)[1] if "\n" in text else text
    page, year = meta.get("page"), meta.get("year")
    return StoredChunk(
        id=cid,
        paper_id=str(meta["paper_id"]),
        title=str(meta["title"]),
        text=text,
        passage=passage,
        position=int(meta.get("position", 0)),
        sources=tuple(json.loads(meta.get("sources", "[]"))),
        page=int(page) if page is not None else None,
        authors=authors_of(meta),
        year=int(year) if year is not None else None,
        venue=meta.get("venue"),
        doi=meta.get("doi"),
        url=meta.get("url"),
        author_keys=frozenset(meta.get("author_keys") or ()),
        # No fallback for chunks stored before keys were written: Chroma's `where` would not
        # see one, and the two sides of a filter must agree (ingesting the file again adds it).
        source_keys=frozenset(meta.get("source_keys") or ()),
        origins=origins_of(meta),
    )
