"""What the store knows about papers, read from and written to chunk metadata. Pure functions.

Every chunk carries its paper's fields (title, authors, year, venue, DOI, URL, keywords, source
files), so Chroma can filter on them (`where`) and a listing needs no second table:
- `authors` (JSON) for showing, `author_keys` (an array of lower-cased, accent-free name words)
  for `--author`: Chroma 1.5 matches array elements with `$contains`, never substrings;
- `year` (int) for `--year` ranges;
- `sources` (JSON list of file names: the JSON contract), `origins` (JSON [[name, path], …]: the
  files this chunk's text was read from) and `source_keys` (an array of the paper's file paths
  and names) for `--source`;
- `page` (int) on chunks of PDF pages; no `page` on an abstract's chunks.
Chunks stored before paths were kept have no `origins`: their `sources` names stand in."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rag.index.chunking import Chunk
from rag.sources.records import SourceFile

Meta = dict[str, Any]
# Fields of the paper, the same on each of its chunks (`sources` and `source_keys` follow from
# the chunks' origins); the rest (paper_id, position, page, origins) belong to the chunk.
PAPER_FIELDS = (
    "title",
    "doi",
    "external_id",
    "authors",
    "author_keys",
    "year",
    "venue",
    "url",
    "keywords",
    "pdf_sha256",
    "from_pdf",
)


def name_words(name: str) -> list[str]:
    """The words of a name as `--author` compares them: accents and case dropped, words of
    two or more letters (initials are too ambiguous to filter on)."""
    plain = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in plain if not unicodedata.combining(ch)).casefold()
    words = "".join(ch if ch.isalpha() else " " for ch in text).split()
    return [w for w in words if len(w) >= 2]


def author_keys(authors: Iterable[str]) -> list[str]:
    return sorted({w for a in authors for w in name_words(a)})


def source_keys(files: Iterable[SourceFile]) -> list[str]:
    """What `--source` matches in Chroma: each file's path and its name."""
    keys = [k for f in files for k in (f.path, f.label) if k]
    return list(dict.fromkeys(keys))


def origins_of(meta: Mapping[str, Any]) -> tuple[SourceFile, ...]:
    if "origins" in meta:
        return tuple(SourceFile(str(label), path) for label, path in json.loads(meta["origins"]))
    return tuple(SourceFile(str(s)) for s in json.loads(meta.get("sources", "[]")))


def _present(meta: Meta) -> Meta:
    """Chroma stores no None and no empty array."""
    return {k: v for k, v in meta.items() if not (v is None or v is False or v in ("", []))}


def paper_fields(c: Chunk) -> Meta:
    """The paper-level fields a chunk of this run brings (sources aside)."""
    return _present(
        {
            "title": c.title,
            "doi": c.doi,
            "external_id": c.external_id,
            "authors": json.dumps(list(c.authors), ensure_ascii=False) if c.authors else None,
            "author_keys": author_keys(c.authors),
            "year": c.year,
            "venue": c.venue,
            "url": c.url,
            "keywords": json.dumps(list(c.keywords), ensure_ascii=False) if c.keywords else None,
            "pdf_sha256": c.file_sha256,
            "from_pdf": c.from_pdf,
        }
    )


def stored_paper_fields(meta: Mapping[str, Any]) -> Meta:
    return {k: meta[k] for k in PAPER_FIELDS if k in meta}


def merged_fields(run: Meta, stored: Meta) -> Meta:
    """A paper's fields after this run: the run's where it has them and the stored ones fill
    its gaps, except that a curated record's (an export's) fields outrank those guessed from a
    bare PDF, whichever came first."""
    if not stored:
        return run
    first, then = (
        (stored, run) if run.get("from_pdf") and not stored.get("from_pdf") else (run, stored)
    )
    out = {**then, **first}
    out["from_pdf"] = bool(run.get("from_pdf") and stored.get("from_pdf"))
    return _present(out)


def files_fields(files: Iterable[SourceFile]) -> Meta:
    files = list(dict.fromkeys(files))
    labels = list(dict.fromkeys(f.label for f in files))
    return {"sources": json.dumps(labels, ensure_ascii=False), "source_keys": source_keys(files)}


def chunk_fields(
    paper_id: str, position: int, page: int | None, origins: Iterable[SourceFile]
) -> Meta:
    pairs = [[f.label, f.path] for f in dict.fromkeys(origins)]
    meta: Meta = {
        "paper_id": paper_id,
        "position": position,
        "origins": json.dumps(pairs, ensure_ascii=False),
    }
    return meta | ({"page": page} if page is not None else {})


def chunk_metadata(c: Chunk) -> Meta:
    """A chunk's whole metadata when nothing is stored for its paper yet."""
    origins = c.origins or tuple(SourceFile(s) for s in c.sources)
    return (
        chunk_fields(c.paper_id, c.position, c.page, origins)
        | paper_fields(c)
        | files_fields(origins)
    )


def metadata_change(old: Mapping[str, Any], new: Meta) -> Meta:
    """What `collection.update` needs to turn `old` into `new`: Chroma merges metadata on
    update, and a key set to None is deleted."""
    return new | {k: None for k in old if k not in new}


# -- papers, as `rag list` shows them -----------------------------------------------------------


@dataclass(frozen=True)
class PaperRecord:
    paper_id: str
    title: str
    authors: tuple[str, ...]
    year: int | None
    doi: str | None
    venue: str | None
    url: str | None
    sources: tuple[str, ...]
    files: tuple[SourceFile, ...]
    chunks: int
    pages: int  # distinct PDF pages with chunks; 0 for an abstract-only paper
    external_id: str | None = None


def authors_of(meta: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(json.loads(meta["authors"])) if meta.get("authors") else ()


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def paper_records(metas: Iterable[Mapping[str, Any]]) -> list[PaperRecord]:
    """One record per paper from its chunks' metadata, sorted by title."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for m in metas:
        grouped.setdefault(str(m["paper_id"]), []).append(m)
    return sorted(
        (_record(pid, ms) for pid, ms in grouped.items()),
        key=lambda r: (r.title.casefold(), r.paper_id),
    )


def _record(pid: str, metas: list[Mapping[str, Any]]) -> PaperRecord:
    ordered = sorted(metas, key=lambda m: int(m.get("position", 0)))
    m = ordered[0]
    files = tuple(dict.fromkeys(f for x in ordered for f in origins_of(x)))
    return PaperRecord(
        paper_id=pid,
        title=str(m.get("title", "")),
        authors=authors_of(m),
        year=_int(m.get("year")),
        doi=m.get("doi"),
        venue=m.get("venue"),
        url=m.get("url"),
        sources=tuple(json.loads(m.get("sources", "[]"))),
        files=files,
        chunks=len(metas),
        pages=len({x["page"] for x in metas if "page" in x}),
        external_id=m.get("external_id"),
    )


# -- which stored files a --source FILE names ---------------------------------------------------


def match_sources(arg: str, files: Iterable[SourceFile]) -> list[SourceFile]:
    """The stored files `arg` names. A path (relative to the current folder, existing or not)
    matches that file, or every file under that folder, by path; otherwise `arg` is a name:
    a file's name as `sources` shows it (`refs.bib`, `sub/refs.bib`) or the last part of it."""
    known = list(dict.fromkeys(files))
    where = str(Path(arg).expanduser().resolve())
    by_path = [f for f in known if f.path and (f.path == where or f.path.startswith(where + "/"))]
    if by_path:
        return by_path
    name = PurePosixPath(arg.replace("\\", "/")).as_posix().removeprefix("./")
    return [
        f
        for f in known
        if f.label == name
        or PurePosixPath(f.label).name == name
        or (f.path is not None and f.path.endswith("/" + name))
    ]
