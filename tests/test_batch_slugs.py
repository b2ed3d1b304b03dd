"""File names from district ids and names: safe whatever the input holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from engine.batch.names import MAX_SLUG, SLUG_PATTERN, district_slug, links_in, safe_name, slugify

HOSTILE = [
    ("../../etc", "passwd"),
    ("/abs/path", None),
    ("C:\\Windows\\System32", None),
    ("CON", None),
    ("nul", None),
    ("Com1", None),
    (None, "LPT9"),
    ("\x00\x01\x1b[31m", "red\x07"),
    ("", ""),
    (None, "   "),
    (".", ".."),
    (None, "東京都教育委員会"),
    ("x" * 500, "y" * 500),
    ("-", "--leading and trailing--"),
]


@pytest.mark.parametrize(("district_id", "name"), HOSTILE)
def test_hostile_ids_and_names_give_safe_slugs(tmp_path: Path, district_id: str | None, name: str | None) -> None:
    slug = district_slug(district_id, name)
    assert SLUG_PATTERN.match(slug) and len(slug) <= MAX_SLUG
    assert slug not in {"con", "prn", "aux", "nul", "com1", "lpt9", ".", ".."}
    path = tmp_path / safe_name(tmp_path, slug, "md")
    assert path.parent == tmp_path and path.resolve().parent == tmp_path.resolve()


def test_readable_slugs() -> None:
    assert district_slug("0621450", "Lakeview Unified School District") == "0621450-lakeview-unified-school-district"
    assert district_slug(None, "Peñasco ISD") == "penasco-isd"
    assert district_slug("CON", None) == "district-con"
    assert district_slug(None, "Index") == "district-index"  # index.html is the batch's own page
    assert district_slug("../../etc", None) == "etc"
    assert district_slug("a\tb", "x\x00y") == "a-b-xy"  # whitespace separates, control characters vanish
    assert slugify("Coeur d'Alene") == "coeur-d-alene"


def test_unusable_text_falls_back_to_a_digest_that_keeps_districts_apart() -> None:
    tokyo, osaka = district_slug(None, "東京"), district_slug(None, "大阪")
    assert tokyo.startswith("district-") and osaka.startswith("district-") and tokyo != osaka


def test_long_names_are_cut_with_a_digest() -> None:
    first = district_slug("1", "a" * 200 + "first")
    second = district_slug("1", "a" * 200 + "second")
    assert len(first) <= MAX_SLUG and first != second


def test_safe_name_refuses_unsafe_stems_and_links_out(tmp_path: Path) -> None:
    for stem in ("../x", "a/b", "", ".", "CON", "con", "a..b", "A"):
        with pytest.raises(ValueError):
            safe_name(tmp_path, stem, "md")
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "out"
    folder.mkdir()
    os.symlink(outside / "x.md", folder / "x.md")
    with pytest.raises(ValueError, match="outside"):
        safe_name(folder, "x", "md")


@given(st.one_of(st.none(), st.text(max_size=300)), st.one_of(st.none(), st.text(max_size=300)))
def test_any_text_gives_a_safe_slug(district_id: str | None, name: str | None) -> None:
    slug = district_slug(district_id, name)
    assert SLUG_PATTERN.match(slug) and 0 < len(slug) <= MAX_SLUG


def test_safe_name_with_the_links_listed_once(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "out"
    folder.mkdir()
    os.symlink(outside / "x.md", folder / "x.md")
    os.symlink(folder / "inside.md", folder / "y.md")
    links = links_in(folder)
    assert links == {"x.md", "y.md"}
    with pytest.raises(ValueError, match="outside"):
        safe_name(folder, "x", "md", links)
    assert safe_name(folder, "y", "md", links) == "y.md"
    assert safe_name(folder, "z", "md", links) == "z.md"
