"""The safe loader: YAML 1.2 scalars, positions, and refusals of what could hurt."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputError
from engine.rules.source import MAX_DEPTH, MAX_FILE_BYTES, load_file, load_json, load_yaml


def refused(loader, text: str, name: str = "f.yaml") -> str:
    with pytest.raises(InputError) as caught:
        loader(text, name)
    return str(caught.value)


def test_yaml_1_2_scalars_keep_text_as_text() -> None:
    doc = load_yaml("a: yes\nb: 0777\nc: 1:20\nd: 2020-01-01\ne: true\nf: 12\ng: 1.5\nh: ~\ni: on\nj: .inf\n", "f.yaml")
    assert doc.data == {
        "a": "yes", "b": "0777", "c": "1:20", "d": "2020-01-01", "e": True, "f": 12, "g": 1.5, "h": None, "i": "on",
        "j": ".inf",
    }


def test_positions_are_one_based_for_keys_and_values() -> None:
    doc = load_yaml("top:\n  - name: x\n    weight: 3\n", "f.yaml")
    assert str(doc.locate(("top", 0, "weight"))) == "f.yaml:3:13"
    assert str(doc.locate(("top", 0, "weight"), key=True)) == "f.yaml:3:5"
    assert str(doc.locate(("top", 0, "missing"))) == "f.yaml:2:5"


def test_duplicate_keys() -> None:
    assert refused(load_yaml, "a: 1\nb: 2\na: 3\n") == "f.yaml:3:1: duplicate key 'a' (first defined at line 1)"


def test_python_tags_never_execute(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    assert refused(load_yaml, text) == "f.yaml:1:4: YAML tags such as !!python/object/apply:os.system are not allowed"
    assert not marker.exists()


def test_anchors_and_aliases_are_refused() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\n"
    assert "anchors and aliases (& and *) are not allowed" in refused(load_yaml, laughs)


def test_deep_nesting_is_refused_before_parsing() -> None:
    assert refused(load_yaml, "[" * 30000) == f"f.yaml:1:{MAX_DEPTH + 1}: nested deeper than {MAX_DEPTH} levels; no real file needs that"
    assert "nested deeper" in refused(load_yaml, "- " * 3000 + "x\n")
    assert "nested deeper" in refused(load_json, "[" * 30000, "f.json")


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(InputError, match="files larger than"):
        load_file(path, "big.yaml")


def test_invalid_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InputError) as caught:
        load_file(path, "bad.yaml")
    assert str(caught.value) == "bad.yaml:2:7: the file is not valid UTF-8 text; save it as UTF-8"


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: two\r\n")
    assert load_file(path).data == {"a": 1, "b": "two"}


def test_json_is_strict() -> None:
    assert refused(load_json, '{"a": NaN}', "f.json") == "f.json:1:7: invalid JSON: NaN is not a number JSON allows"
    assert refused(load_json, '{"a": 1, "a": 2}', "f.json") == "f.json:1:10: invalid JSON: duplicate key 'a'"
    assert refused(load_json, "[1, 2,]", "f.json") == "f.json:1:7: invalid JSON: Expecting value"
    assert "too large" in refused(load_json, '{"a": 1' + "0" * 5000 + "}", "f.json")


def test_json_positions() -> None:
    doc = load_json('{\n  "answers": {\n    "sftp_daily": "maybe"\n  }\n}\n', "f.json")
    assert str(doc.locate(("answers", "sftp_daily"))) == "f.json:3:19"
