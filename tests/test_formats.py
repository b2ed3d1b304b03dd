"""The registry of output formats: one table that the CLI, the renderer and batch read."""

from __future__ import annotations

import pytest

from engine.cli import build_parser
from engine.errors import InputError
from engine.batch.run import check_formats
from engine.render.formats import DOCUMENTS, EXTENSIONS, FORMATS


def test_documents_are_the_formats_with_templates_and_each_extension_is_distinct() -> None:
    assert set(DOCUMENTS) == {name for name, f in FORMATS.items() if f.templating is not None}
    assert len(EXTENSIONS) == len(FORMATS)
    assert {t.escaping for t in DOCUMENTS.values()} <= {"markdown", "html"}
    assert len({t.markup_file for t in DOCUMENTS.values()}) == len(DOCUMENTS)


def test_check_formats_keeps_the_order_given_once_each_ignoring_case() -> None:
    names = list(FORMATS)
    given = [f" {names[-1].upper()} ", names[0], names[-1]]
    assert check_formats(given) == (names[-1], names[0])


@pytest.mark.parametrize(("given", "message"), [(["pdf"], "--format: unknown format 'pdf'; choose from "), ([], "--format: give at least one format: ")])
def test_check_formats_refuses_unknown_and_empty(given: list[str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        check_formats(given)
    assert str(caught.value).startswith(message)
    assert all(name in str(caught.value) for name in FORMATS)


def test_the_cli_offers_every_format() -> None:
    parser = build_parser()
    for name in FORMATS:
        assert parser.parse_args(["recommend", "answers.yaml", "--format", name]).format == name
    with pytest.raises(SystemExit):
        parser.parse_args(["recommend", "answers.yaml", "--format", "pdf"])
