"""compact_json gives what the standard library's compact encoder gives: the same bytes for our
documents, the same values for any JSON."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Advisor
from engine.compact_json import compact, compact_bytes, indented

from .conftest import FIXTURES, ROOT


def standard(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_every_example_document_is_byte_identical(advisor: Advisor) -> None:
    for path in sorted((FIXTURES / "examples").glob("*/answers.yaml")):
        data = advisor.recommend(advisor.read(path)).to_dict()
        assert compact_bytes(data) == standard(data).encode("utf-8")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(JSON)
def test_any_json_value_reads_back_as_the_standard_library_writes_it(value: object) -> None:
    assert json.loads(compact(value)) == json.loads(standard(value))
    assert compact_bytes(value) == compact(value).encode("utf-8")
    if not _has_float(value):
        assert compact(value) == standard(value)  # floats aside, the very same text


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return isinstance(value, list) and any(_has_float(v) for v in value)


def test_what_orjson_refuses_goes_to_the_standard_library() -> None:
    huge = {"p_students": 10**30, 1: "not a text key"}
    assert compact(huge) == standard(huge)


def test_dataclasses_are_objects_of_their_fields_either_way() -> None:
    from dataclasses import asdict

    from engine.batch.manifest import Entry

    entry = Entry("a", "1", "Á", "i", "c", ("a.md", "a.json"), "sis_sync", "strong", "score", ("q",))
    assert compact(entry) == standard(asdict(entry))
    assert compact({"entry": entry, "huge": 10**30}) == standard({"entry": asdict(entry), "huge": 10**30})


def test_indented_is_the_standard_librarys_indented_json(advisor: Advisor) -> None:
    for path in sorted((FIXTURES / "examples").glob("*/answers.yaml")):
        data = advisor.recommend(advisor.read(path)).to_dict()
        assert indented(data) == (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    for value in ({"big": 2**70, "list": [], "map": {}}, {1: "key that is not text"}):  # what orjson refuses
        assert indented(value) == (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()
