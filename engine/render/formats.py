"""The output formats: each one's name, file extension, template and escaping.

The one place that lists them: the CLI's choices, the renderer's sandboxes, batch file names and the
golden documents of the example districts all read this table. A new document format is one entry
here (with its escaping, if neither Markdown's nor HTML's) and its templates in `templates/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Templating:
    """How a document format is rendered from templates."""

    template: str  # the format's own template, used without --template
    escaping: Literal["markdown", "html"]  # how printed values are escaped (see escaping.py)
    markup_file: str  # the templates folder's file that sets the format's markup tokens, `m`


@dataclass(frozen=True)
class OutputFormat:
    """An output format of `recommend` and `batch`."""

    name: str  # as commands and the API name it
    extension: str  # of the file a document of this format is written to
    templating: Templating | None  # None: the recommendation's data itself (JSON), no template


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("md", "md", Templating("advice.md.j2", "markdown", "_markdown.j2")),
        OutputFormat("html", "html", Templating("advice.html.j2", "html", "_html.j2")),
        OutputFormat("json", "json", None),
    )
}
# the formats rendered from templates (advice documents), by name
DOCUMENTS: dict[str, Templating] = {name: f.templating for name, f in FORMATS.items() if f.templating is not None}
EXTENSIONS = frozenset(f.extension for f in FORMATS.values())
TEMPLATES_MARKER = DOCUMENTS["md"].template  # a folder holding this file is a templates folder
