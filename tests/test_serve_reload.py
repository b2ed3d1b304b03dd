"""`serve --reload` looks at the rules and templates folders at every request (`Workspace._stat`,
by `os.scandir`): a file added in a subfolder, edited in place or removed is noticed at the next
request, and nothing is reloaded while nothing changed."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.web.workspace import ServeConfig, Workspace

from .conftest import FIXTURES


def test_reload_notices_a_file_added_in_a_subfolder_edited_and_removed(tmp_path: Path) -> None:
    rules = shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    templates = shutil.copytree(FIXTURES / "templates", tmp_path / "templates")
    workspace = Workspace(ServeConfig(str(rules), str(templates), None, reload=True))
    first = workspace.refresh()
    assert workspace.refresh() is first  # nothing changed: the same version, not loaded again
    state = workspace.state

    extra = templates / "parts" / "extra.md.j2"
    extra.parent.mkdir()
    extra.write_text("one", encoding="utf-8")
    added = workspace.refresh()
    assert added is not first and workspace.state != state and workspace.problems == ()
    state_added = workspace.state

    extra.write_text("three", encoding="utf-8")  # in place (the folder's own time does not change), another size
    assert workspace.refresh() is not added and workspace.state not in (state, state_added)

    shutil.rmtree(extra.parent)
    assert workspace.refresh().templates_digest == first.templates_digest and workspace.state == state
