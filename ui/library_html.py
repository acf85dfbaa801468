"""HTML for the library panel: each upload's result and the table of stored papers. Every
string from a file (names, titles, authors, parser messages) goes through `esc`; pure
functions, unit-tested alone."""

from __future__ import annotations

from collections.abc import Sequence

from rag.ui.library import FileResult, UploadRun
from rag.ui.render import esc, source_label

from rag.index.catalog import PaperRecord

STATUS_WORDS = {
    "added": "added",
    "merged": "already in the library",
    "unchanged": "nothing new",
    "rejected": "rejected",
    "failed": "failed",
}
SHOWN_TITLES = 5


def _titles(what: str, titles: Sequence[str]) -> str:
    if not titles:
        return ""
    shown = "".join(f"<li>{esc(t)}</li>" for t in titles[:SHOWN_TITLES])
    more = len(titles) - SHOWN_TITLES
    extra = f"<li>… and {more} more</li>" if more > 0 else ""
    n = len(titles)
    return f"<div>{esc(what)}: {n} paper{'s' if n != 1 else ''}<ul>{shown}{extra}</ul></div>"


def file_result_html(r: FileResult) -> str:
    status = r.status if r.status in STATUS_WORDS else "failed"
    head = (
        f'<div class="up-head"><span class="up-name">{esc(r.name)}</span>'
        f'<span class="up-status up-{status}">{esc(STATUS_WORDS[status])}</span></div>'
    )
    body = (
        _titles("added", r.added)
        + _titles("changed (text replaced)", r.changed)
        + _titles("merged with papers already there", r.merged)
    )
    if r.problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in r.problems)
        more = f"<li>… and {r.more_problems} more</li>" if r.more_problems else ""
        body += f'<ul class="up-problems">{items}{more}</ul>'
    return f'<li class="upload">{head}{body}</li>'


def upload_html(run: UploadRun | None) -> str:
    """The results so far, and what is being read now."""
    if run is None:
        return ""
    now = ""
    if run.current:
        now = (
            f'<p class="up-now">Reading {len(run.done) + 1} of {run.total}: {esc(run.current)}…</p>'
        )
    done = "".join(file_result_html(r) for r in run.done)
    return f'<div class="uploads">{now}<ul>{done}</ul></div>'


def library_html(records: Sequence[PaperRecord]) -> str:
    """The stored papers as a table: title, authors, year, files, chunks, pages."""
    if not records:
        return '<p class="placeholder">The library is empty: upload PDFs or exports.</p>'
    rows = []
    for r in records:
        who = ", ".join(r.authors[:3]) + (" et al." if len(r.authors) > 3 else "")
        files = ", ".join(source_label(s) for s in r.sources)
        rows.append(
            f"<tr><td>{esc(r.title)}</td><td>{esc(who)}</td><td>{esc(r.year or '')}</td>"
            f"<td>{esc(files)}</td><td>{int(r.chunks)}</td><td>{int(r.pages) or ''}</td></tr>"
        )
    head = (
        "<tr><th>Title</th><th>Authors</th><th>Year</th><th>Files</th><th>Chunks</th>"
        "<th>Pages</th></tr>"
    )
    n = len(records)
    caption = f"<caption>{n:,} paper{'s' if n != 1 else ''}</caption>"
    return f'<div class="library"><table>{caption}<thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'


def paper_choice(r: PaperRecord) -> tuple[str, str]:
    """A paper in the remove picker: its title (and year), its id as the value."""
    year = f" ({r.year})" if r.year else ""
    return f"{r.title[:100]}{year}", r.paper_id
