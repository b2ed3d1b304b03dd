"""Safe file names for districts: `0621450-lakeview-unified-school-district`.

A slug is made of ASCII lower-case letters, digits and single hyphens, is never empty and at most
`MAX_SLUG` characters, so it cannot be `.`/`..`, a path, a drive or a hidden file. Accents are
folded (`Peñasco` → `penasco`), control characters dropped, everything else becomes a hyphen.
Names Windows reserves (`CON`, `NUL`, `COM1`...) get a `district-` prefix; when nothing usable is
left (a name only in Chinese, say) or the text had to be shortened, a digest of the original keeps
different districts apart. `safe_name` checks, last of all, that the file lands inside the output
folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Container
from pathlib import Path

from engine.render.formats import EXTENSIONS

MAX_SLUG = 80
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

_DIGEST_CHARS = 10
# device names on Windows, and `index` (index.html is the batch's own page)
_RESERVED = {"con", "prn", "aux", "nul", "index"} | {f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10)}
_HYPHENS = re.compile(r"-{2,}")
_DROPPED = {"Mn", "Cc", "Cf"}  # combining accents, control and format characters vanish
_CONTROL = {code for code in (*range(32), 127) if chr(code) not in "\t\n\r"}  # whitespace separates words
_ASCII = {code: chr(code).lower() if chr(code).isalnum() else "" if code in _CONTROL else "-" for code in range(128)}


def slugify(text: str) -> str:
    """ASCII lower-case words joined by hyphens; '' when nothing usable is left."""
    if not text.isascii():
        text = "".join(
            "" if unicodedata.category(char) in _DROPPED and char not in "\t\n\r" else char if char.isascii() else "-"
            for char in unicodedata.normalize("NFKD", text)
        )
    return _HYPHENS.sub("-", text.translate(_ASCII)).strip("-")


def district_slug(district_id: str | None, name: str | None) -> str:
    """The file-name stem for a district: its id, then its name."""
    parts = [slugify(district_id or ""), slugify(name or "")]
    slug = "-".join(part for part in parts if part)
    original = f"{district_id or ''}\x00{name or ''}"
    if not slug:
        return f"district-{_digest(original)}"
    if len(slug) > MAX_SLUG:
        slug = f"{slug[: MAX_SLUG - _DIGEST_CHARS - 1].rstrip('-')}-{_digest(original)}"
    if slug in _RESERVED:
        slug = f"district-{slug}"
    return slug


def safe_name(folder: Path, slug: str, extension: str, links: Container[str] | None = None) -> str:
    """`slug.extension`, if it names a plain file directly in `folder`, else ValueError.

    A safe slug has no separators or dots, so the path can only leave `folder` through a link
    someone placed at that name; such a link is followed and must stay inside `folder`. `links`
    names the symbolic links in `folder` when the caller listed them once (`links_in`): a batch
    then makes no system call per file.
    """
    if not _safe_slug(slug):
        raise ValueError(f"'{slug}' is not a safe file name")
    name = f"{slug}.{extension}"
    linked = name in links if links is not None else os.path.islink(folder / name)
    if linked and (folder / name).resolve().parent != folder.resolve():
        raise ValueError(f"{name} is a link to a place outside {folder}")
    return name


def document_name(name: str) -> bool:
    """Whether `name` is one that batch mode gives a document (`slug.extension`): never a path."""
    stem, dot, extension = name.rpartition(".")
    return bool(dot) and extension in EXTENSIONS and _safe_slug(stem)


def _safe_slug(slug: str) -> bool:
    return SLUG_PATTERN.fullmatch(slug) is not None and len(slug) <= MAX_SLUG and slug not in _RESERVED


def links_in(folder: Path) -> frozenset[str]:
    """The names of the symbolic links directly in `folder`."""
    with os.scandir(folder) as entries:
        return frozenset(entry.name for entry in entries if entry.is_symlink())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
