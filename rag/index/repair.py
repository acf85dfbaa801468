"""A damaged vector index, found and rebuilt.

Found: `Store.check_index` (run whenever a retriever loads and before ingestion writes) asks the
index for every chunk the collection's metadata holds; fewer answers, or an error, is damage.

Rebuilt (`rag ingest --rebuild`): the stored documents and metadata are re-embedded into a fresh
collection beside the damaged one (`<name>.rebuild`), which is checked and then renamed into
place (the old one goes to `<name>.old` and is deleted). Nothing is re-parsed. An interrupted
rebuild leaves either the old collection in place (the next rebuild starts over) or the chunks
in `<name>.old`, which the store names and the next rebuild finishes from.

Chroma 1.5.9 cannot read a collection whose HNSW files are corrupt (a truncated header or id
map): every call fails, the metadata reads included, and some truncations crash the process.
The documents are intact in its SQLite file, and Chroma reads them again once the segment folder
is gone. So before it reads anything, the rebuild moves that one folder aside (found by the
collection id in chroma.sqlite3, opened read-only) and deletes it after the swap."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import StoreError
from rag.index.embed import Embedder
from rag.index.store import (
    REBUILDING,
    REPLACED,
    Store,
    chroma_dir,
    create_collection,
    describe_location,
)
from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RebuildSummary:
    chunks: int

    def __str__(self) -> str:
        return f"{self.chunks} chunks re-embedded into a fresh index; the old one removed"


def rebuild_index(
    settings: Settings, embedder: Embedder, batch_size: int = 64, progress: bool = True
) -> RebuildSummary:
    """Re-embeds the stored chunks into a fresh collection and swaps it in (call under the
    writer lock)."""
    name = settings.collection_name()
    source = _source(Store.open_client(settings), name, settings)
    set_aside = _set_aside(source, settings)
    total = source.count()
    target = Store(
        _fresh(source.client, name + REBUILDING, embedder.name), source.location, source.client
    )
    _copy(source, target, embedder, batch_size, total, progress)
    target.check_index()
    if target.count() != total:
        raise StoreError(f"the rebuild wrote {target.count()} of {total} chunks; run it again")
    # Chroma 1.5.9 leaves a deleted collection's segment folder on disk; ours go with it.
    leftovers = [set_aside, _old_segment(source, settings)]  # the second: recreated since
    _swap(source, target, name)
    for folder in leftovers:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return RebuildSummary(total)


def _old_segment(source: Store, settings: Settings) -> Path | None:
    if settings.chroma.url:
        return None
    return _vector_segment(chroma_dir(settings), str(source.collection.id))


def _source(client: Any, name: str, settings: Settings) -> Store:
    """The collection to rebuild from: the named one, or what an interrupted swap left."""
    try:
        names = {c.name for c in client.list_collections()}
        found = next((n for n in (name, name + REPLACED) if n in names), None)
        col = client.get_collection(found, embedding_function=None) if found else None
    except Exception as e:  # chroma's errors, wrapped at this boundary
        raise StoreError(f"cannot open collection {name} to rebuild it: {e}") from e
    if col is not None:
        return Store(col, describe_location(settings), client)
    raise StoreError(f"collection {name} does not exist; run `rag ingest` first")


def _set_aside(source: Store, settings: Settings) -> Path | None:
    """Moves the source's vector segment folder aside, before anything reads the collection: the
    rebuild needs only its documents, and Chroma reads those again once the folder is gone."""
    if settings.chroma.url:  # a server's files are the server's
        return None
    folder = _vector_segment(chroma_dir(settings), str(source.collection.id))
    if folder is None or not folder.exists():
        return None
    aside = folder.with_name(folder.name + ".damaged")
    shutil.rmtree(aside, ignore_errors=True)
    folder.rename(aside)
    return aside


def _vector_segment(root: Path, collection_id: str) -> Path | None:
    try:
        with sqlite3.connect(f"file:{root / 'chroma.sqlite3'}?mode=ro", uri=True) as con:
            row = con.execute(
                "SELECT id FROM segments WHERE collection = ? AND scope = 'VECTOR'",
                (collection_id,),
            ).fetchone()
    except sqlite3.Error as e:
        log.warning("cannot read %s: %s", root / "chroma.sqlite3", e)
        return None
    return root / str(row[0]) if row else None


def _fresh(client: Any, name: str, embedder_name: str) -> Any:
    """An empty collection `name` (a leftover of an interrupted rebuild is dropped first)."""
    try:
        if name in {c.name for c in client.list_collections()}:
            client.delete_collection(name)
        return create_collection(client, name, embedder_name)
    except Exception as e:  # chroma's errors, wrapped at this boundary
        raise StoreError(f"cannot create the collection {name} to rebuild into: {e}") from e


def _copy(
    source: Store, target: Store, embedder: Embedder, batch_size: int, total: int, progress: bool
) -> None:
    from rag.progress import progress as progress_bar

    with progress_bar(total, "re-embedding", "chunk", progress) as bar:
        for ids, metas, docs in source.records():
            for at in range(0, len(ids), batch_size):
                part = slice(at, at + batch_size)
                texts = [d or "" for d in docs[part]]
                target.add(ids[part], embedder.embed(texts), metas[part], texts)
                bar.update(len(texts))


def _swap(source: Store, target: Store, name: str) -> None:
    try:
        if source.collection.name == name:
            source.collection.modify(name=name + REPLACED)
        target.collection.modify(name=name)
        source.client.delete_collection(name + REPLACED)
    except Exception as e:  # chroma's rename / delete errors, wrapped at this boundary
        raise StoreError(f"the rebuilt index could not be swapped in: {e}; run it again") from e
