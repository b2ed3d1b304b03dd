"""The batch's own files in the output folder: `summary.csv` and `index.html`, streamed to disk.

Both are written to a temporary file next to their final name and moved into place when the run
completes (`os.replace`), so a crash leaves the previous version or the new one. Neither replaces a
file the tool did not write: `index.html` carries the tool's seal (`files.seal`), and `summary.csv` is
recognised by its header row.

Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a
formula, so such cells get a leading apostrophe (the OWASP "CSV injection" advice). The CSV is
written with a byte-order mark so that Excel reads it as UTF-8.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from engine.batch.manifest import Entry
from engine.errors import InputError, SourceLocation
from engine.files import GENERATOR, AtomicStream, made_by_us
from engine.paths import display

SUMMARY_NAME = "summary.csv"
INDEX_NAME = "index.html"
SUMMARY_COLUMNS = (
    "district_id",
    "district_name",
    "option",
    "confidence",
    "decided_by",
    "open_questions",
    "outputs",
    "error",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def protect(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula, and that UTF-8 can hold: a
    row that failed may carry half of a character pair (`\\ud800`) in its id or name."""
    if not cell.isascii():
        cell = cell.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def check_ours(folder: Path) -> None:
    """Refuse (exit 2) when summary.csv or index.html exist but were not written by this tool."""
    summary, index = folder / SUMMARY_NAME, folder / INDEX_NAME
    for path, ours in ((summary, _is_our_summary), (index, made_by_us)):
        if path.exists() and not (path.is_file() and ours(path)):
            raise InputError.at(
                SourceLocation(display(path)),
                "already exists and was not written by rostering-advisor; choose another output folder",
            )


class SummaryWriter:
    """summary.csv: one row per district of the input, in input order."""

    def __init__(self, folder: Path) -> None:
        self.stream = AtomicStream(folder / SUMMARY_NAME, encoding="utf-8-sig")
        self.writer = csv.writer(self.stream.handle)
        self.writer.writerow(SUMMARY_COLUMNS)

    def write(self, entry: Entry) -> None:
        """The district's row: its summary fields and documents, or (failed) its error."""
        done = entry.error is None
        cells = [
            entry.district_id or "",
            entry.district_name or "",
            entry.option,
            entry.confidence,
            entry.decided_by,
            "; ".join(entry.open_questions),
            "; ".join(entry.outputs) if done else "",
            "" if done else str(entry.error),
        ]
        self.writer.writerow([protect(cell) for cell in cells])

    def commit(self) -> None:
        self.stream.commit()

    def abort(self) -> None:
        self.stream.abort()


def write_index(
    folder: Path,
    entries: Iterable[Entry],
    counts: dict[str, int],
    labels: dict[str, str],
    confidence_labels: dict[str, str],
    failed: int,
    rules_version: str,
) -> None:
    """index.html: counts per option, then a link to every document (streamed from the manifest)."""
    stream = AtomicStream(folder / INDEX_NAME, sealed=True)
    out = stream.handle
    try:
        total = sum(counts.values())
        out.write(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"generator\" content=\"{GENERATOR}\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            f"<title>Rostering advice for {total:,} districts</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>Rostering advice for {total:,} districts</h1>\n"
            f"<p>Rules version {_e(rules_version)}. Every district's row is in "
            f"<a href=\"{quote(SUMMARY_NAME)}\">{SUMMARY_NAME}</a>.</p>\n"
            "<table class=\"counts\">\n<thead><tr><th>Recommendation</th><th>Districts</th></tr></thead>\n<tbody>\n"
        )
        for option, count in sorted(counts.items()):
            out.write(f"<tr><td>{_e(labels.get(option, option))}</td><td>{count:,}</td></tr>\n")
        if failed:
            out.write(f"<tr class=\"failed\"><td>Failed (see {SUMMARY_NAME})</td><td>{failed:,}</td></tr>\n")
        out.write(
            "</tbody>\n</table>\n<table class=\"districts\">\n<thead><tr><th>District</th><th>ID</th>"
            "<th>Recommendation</th><th>Confidence</th><th>Documents</th></tr></thead>\n<tbody>\n"
        )
        for entry in entries:
            links = " ".join(
                f"<a href=\"{_e(quote(name))}\">{_e(name.rsplit('.', 1)[-1])}</a>" for name in entry.outputs
            )
            out.write(
                f"<tr><td>{_e(entry.district_name or '')}</td><td>{_e(entry.district_id or '')}</td>"
                f"<td>{_e(labels.get(entry.option, entry.option))}</td>"
                f"<td>{_e(confidence_labels.get(entry.confidence, entry.confidence))}</td><td>{links}</td></tr>\n"
            )
        out.write("</tbody>\n</table>\n</body>\n</html>\n")
    except BaseException:
        stream.abort()
        raise
    stream.commit()


def _is_our_summary(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), None) == list(SUMMARY_COLUMNS)
    except (OSError, UnicodeDecodeError, csv.Error):
        return False


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}"
    "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
    "th{background:#f3f3f3}.failed td{color:#a00}"
)
