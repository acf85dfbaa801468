"""PDF text extraction: pypdfium2 against pypdf on the same Chromium-printed fixtures.

Speed: raw text of every page of >= 100 few-page PDFs, pages per second, one library at a time
(plus our full sandboxed read_pdf path, which adds a worker process and the cleaning per file).
Quality: the same cleaning (rag/sources/pdftext.py) on each library's lines of the two-column
fixture: sentences in reading order, ligature glyphs left, hyphenation joined, soft-hyphenated
words whole, a real hyphen kept, running header removed.

    .venv/bin/python bench/pdf_parsers.py [--count 100] [--dir ~/.cache/rag-papers-bench/pdfs]

The fixture PDFs are printed by headless Chromium once and kept in --dir."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TWO_PAGES = 4
LIGATURE_GLYPHS = re.compile(r"[\ufb00-\ufb06\ue000-\uf8ff]")


def pdfium_pages(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in doc]
    finally:
        doc.close()


def pypdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(path).pages]


def pdfium_raw_pages(path: Path) -> list[Any]:
    """What rag/sources/pdf.py feeds the cleaning: lines with edge flags from character boxes."""
    import pypdfium2 as pdfium

    from rag.sources.pdfium_worker import raw_pages

    doc = pdfium.PdfDocument(path)
    try:
        return raw_pages(doc, len(doc))[0]
    finally:
        doc.close()


def pypdf_raw_pages(path: Path) -> list[Any]:
    """pypdf has no character boxes here: the first and last 2 lines of a page are the header /
    footer candidates (as rag/sources/pdf.py does when PDFium's boxes do not match its text)."""
    from rag.sources.pdftext import RawLine, RawPage

    pages = []
    for n, text in enumerate(pypdf_pages(path), start=1):
        lines = [ln for ln in text.split("\n") if ln.strip()]
        edge = [k < 2 or k >= len(lines) - 2 for k in range(len(lines))]
        pages.append(RawPage(n, tuple(RawLine(t, e) for t, e in zip(lines, edge, strict=True))))
    return pages


def speed(extract: Callable[[Path], list[str]], files: list[Path]) -> tuple[int, float]:
    started = time.perf_counter()
    pages = sum(len(extract(f)) for f in files)
    return pages, time.perf_counter() - started


def sandboxed_speed(files: list[Path]) -> tuple[int, float]:
    from rag.settings import SourceSettings
    from rag.sources.pdf import read_pdf

    settings = SourceSettings()
    started = time.perf_counter()
    pages = sum(len(e.pages) for f in files for e in read_pdf(f, settings)[0])
    return pages, time.perf_counter() - started


def quality(pages: list[Any]) -> dict[str, str]:
    from rag.sources.pdftext import clean_pages
    from tests.fixtures import pdfs as fx

    raw = " ".join(ln.text for p in pages for ln in p.lines)
    text = " ".join(p.text for p in clean_pages(pages).pages)
    in_order, last = 0, -1
    for at in (text.find(s) for s in fx.TWO_SENTENCES):
        if at > last:  # found, and after the sentence before it
            in_order, last = in_order + 1, at
    broken = sum(f" {a}{b} " in text for a, b in fx.HYPHEN_BROKEN)
    soft = sum(text.count(" " + "".join(w) + " ") for w in fx.SOFT_HYPHEN_WORDS)
    ligature_words = (*fx.LIGATURE_WORDS, "final", "reflection", "definition")
    return {
        "sentences in order": f"{in_order}/{len(fx.TWO_SENTENCES)}",
        "ligature glyphs, raw text": str(len(LIGATURE_GLYPHS.findall(raw))),
        "ligature glyphs, cleaned": str(len(LIGATURE_GLYPHS.findall(text))),
        "ligature words found": f"{sum(w in text for w in ligature_words)}/{len(ligature_words)}",
        "line-end hyphens joined": f"{broken}/{len(fx.HYPHEN_BROKEN)}",
        "soft-hyphen words whole": f"{soft}/{2 * len(fx.SOFT_HYPHEN_WORDS)}",
        "real hyphen kept": "yes" if "state-of-the-art" in text else "no",
        "running header removed": "yes" if fx.TWO_HEADER not in text else "no",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="few-page PDFs for the speed part")
    parser.add_argument(
        "--dir", type=Path, default=Path.home() / ".cache" / "rag-papers-bench" / "pdfs"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # tests/fixtures/pdfs.py prints the fixtures
    from tests.fixtures import pdfs as fx

    files = fx.small_papers(args.dir, args.count)
    long = args.dir / "long.pdf"
    if not long.exists():
        fx.long_pdf(args.dir)
    with tempfile.TemporaryDirectory() as tmp:
        two = fx.two_column_paper(Path(tmp))
        results = {
            name: (speed(extract, files), speed(extract, [long]), quality(raw(two)))
            for name, extract, raw in (
                ("pypdfium2", pdfium_pages, pdfium_raw_pages),
                ("pypdf", pypdf_pages, pypdf_raw_pages),
            )
        }
    report(results, len(files), sandboxed_speed(files))


def _row(label: str, cells: list[str]) -> None:
    print(f"{label:28}" + "".join(f"{c:>14}" for c in cells))


def report(results: dict, files: int, sandboxed: tuple[int, float]) -> None:
    names = list(results)
    print("Speed: raw text of every page (one process, no cleaning)")
    _row("", names)
    for k, what in ((0, f"{files} few-page PDFs"), (1, "the 500-page PDF")):
        _row(f"{what}: pages", [str(results[n][k][0]) for n in names])
        _row("  seconds", [f"{results[n][k][1]:.2f}" for n in names])
        _row("  pages/s", [f"{results[n][k][0] / results[n][k][1]:.0f}" for n in names])
    print(f"\nQuality: the {TWO_PAGES}-page two-column fixture, same cleaning (pdftext.py)")
    for check in results[names[0]][2]:
        _row(check, [results[n][2][check] for n in names])
    n, s = sandboxed
    print(
        f"\nread_pdf (pypdfium2 in a worker per file, cleaning, metadata), {files} PDFs: "
        f"{n} pages in {s:.2f} s, {n / s:.0f} pages/s, {files / s:.1f} files/s"
    )


if __name__ == "__main__":
    main()
