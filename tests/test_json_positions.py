"""JSON answers documents are parsed by the fast JSON parser and their positions read only when a
message needs one (`Document.located`): a problem is still reported at the same `file:line:col`
as the YAML reading of the same text gives, and a valid document never pays for positions."""

from __future__ import annotations

import json

import pytest

from engine.errors import InputError
from engine.evaluate.advisor import Advisor
from engine.evaluate.answers import district_from_document
from engine.rules.source import load_json, load_yaml

GOOD = {"district": {"name": "Lakeside", "id": "0600001"}, "profile": {"students": 7300}, "answers": {"sis_changing": "no"}}
BAD = [
    {"district": {"name": "Lakeside"}, "answers": {"sis_chaning": "no"}},  # unknown question
    {"district": {"name": "Lakeside"}, "answers": {"sis_changing": "perhaps"}},  # unreadable answer
    {"district": {}, "profile": {"students": "many"}, "notes": 3},  # several schema problems at once
    {"district": {"name": "Lake\u202eside"}},  # a control character
]


def _message(load, text: str, advisor: Advisor) -> str:
    with pytest.raises(InputError) as caught:
        district_from_document(load(text, "a.json"), advisor.rules)
    return str(caught.value)


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("data", BAD)
def test_a_problem_is_located_as_the_yaml_reading_locates_it(advisor: Advisor, data: dict, indent: int | None) -> None:
    text = json.dumps(data, indent=indent)
    message = _message(load_json, text, advisor)
    assert message == _message(load_yaml, text, advisor)
    assert message.startswith("a.json:") and not message.startswith("a.json: ")  # a line and column


def test_a_valid_document_reads_no_positions(advisor: Advisor) -> None:
    text = json.dumps(GOOD, indent=2)
    doc = load_json(text, "a.json")
    district = district_from_document(doc, advisor.rules)
    assert district.answers == {"sis_changing": "no"} and doc.json_text == text  # positions still unread
    yaml_doc = load_yaml(text, "a.json")
    assert (doc.located().keys, doc.values) == (yaml_doc.keys, yaml_doc.values) and doc.json_text is None
