"""load_json refuses an escape of half a UTF-16 pair wherever it is written, and walks a document's
values only when its text could hold one: text that merely looks like one is accepted."""

from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.rules.source import load_json

REFUSED = "a \\u escape for half of a character pair (a lone surrogate) is not text"


def _message(text: str) -> str:
    with pytest.raises(InputError) as caught:
        load_json(text, "f.json")
    return str(caught.value)


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDFFF", "\\udbff"])
def test_an_escape_of_half_a_pair_is_refused_where_it_is_written(escape: str) -> None:
    assert _message('{"a": {"b": "x' + escape + '"}}') == f"f.json:1:15: {REFUSED}"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": "\\\\ud800"}', "\\ud800"),  # an escaped backslash, then the letters: text, no surrogate
        ('{"a": "\\ud83d\\ude00"}', "\U0001f600"),  # a whole pair: one character
        ('{"a": "Zoë, 東京"}', "Zoë, 東京"),
    ],
)
def test_text_that_only_looks_like_it_is_accepted(text: str, value: str) -> None:
    assert load_json(text, "f.json").data == {"a": value}
