"""The disk cache (engine/cache.py): what the rules digest fixes, kept between commands.

Each test points the cache at a folder of its own. Checked: a second load gives what the first
computed; an edit to the rules or to the format's markup tokens is never answered from a stale
entry; a damaged or foreign entry is a miss, never an error and never code run; the switches
(`ROSTERING_ADVISOR_NO_CACHE`, `--no-cache`) write nothing; an unusable cache folder is not used.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import pickle
from pathlib import Path

import pytest

from engine import cache
from engine.cli import main
from engine.evaluate.advisor import Advisor
from engine.render.documents import Renderer
from engine.rules.model import Rules
from engine.rules.rulebook import load_rules
from engine.verify import exhaustive
from tests.conftest import FIXTURES, copy_rules

DISTRICT = {"district": {"name": "Cache Test USD"}, "answers": {"sis_changing": "no", "mobile_population": "yes"}}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_FOLDER, str(where))
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    return where


def entries(where: Path, kind: str) -> list[Path]:
    return sorted(where.glob(f"*/{kind}/*"))


def test_a_stored_value_loads_back_and_a_missing_one_is_none(folder: Path) -> None:
    rules = load_rules(FIXTURES / "rules")
    cache.store("test", "abc", rules)
    assert cache.load("test", "abc") == rules
    assert cache.load("test", "other") is None
    assert cache.load("other", "abc") is None  # the kind is part of the entry


def test_a_damaged_entry_is_a_miss(folder: Path) -> None:
    cache.store("test", "abc", ("some", "data"))
    (path,) = entries(folder, "test")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cache.load("test", "abc") is None
    path.write_bytes(b"not a cache entry")
    assert cache.load("test", "abc") is None


def test_an_entry_that_would_run_code_is_refused(folder: Path, tmp_path: Path) -> None:
    """A payload naming any function (here os.system), with a valid header and checksum, is a miss."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps(Evil())
    cache.store("test", "abc", "placeholder")
    (path,) = entries(folder, "test")
    head = path.read_bytes().split(b"\n", 2)
    path.write_bytes(head[0] + b"\n" + head[1] + b"\n" + hashlib.sha256(payload).digest() + payload)
    assert cache.load("test", "abc") is None
    assert not marker.exists()


def test_rules_load_from_the_cache_until_a_file_changes(folder: Path, tmp_path: Path) -> None:
    rules_dir = copy_rules(tmp_path / "rules")
    first = load_rules(rules_dir)
    assert len(entries(folder, "rules")) == 1
    again = load_rules(rules_dir)
    assert again == first and isinstance(again, Rules)
    factors = rules_dir / "factors.yaml"
    text = factors.read_text(encoding="utf-8")
    factors.write_text(text.replace("weight: 2", "weight: 7", 1), encoding="utf-8")
    changed = load_rules(rules_dir)
    assert changed.digest != first.digest  # a new key: the edit is read, not the old entry
    assert len(entries(folder, "rules")) == 2


def test_compiled_programs_come_back_equal(folder: Path) -> None:
    rules = load_rules(FIXTURES / "rules")
    from engine.evaluate.advisor import _programs

    computed = _programs(rules)
    assert len(entries(folder, "programs")) == 1
    assert _programs(rules) == computed


def test_documents_are_the_same_with_cached_bytecode(folder: Path, advisor: Advisor) -> None:
    rec = advisor.recommend(DISTRICT)
    day = datetime.date(2026, 1, 5)
    with cache.disabled():
        expected = {fmt: Renderer(FIXTURES / "templates").render(rec, fmt, generated=day) for fmt in ("md", "html")}
    for _ in range(2):  # the first renderer compiles and stores, the second loads the bytecode
        renderer = Renderer(FIXTURES / "templates")
        assert {fmt: renderer.render(rec, fmt, generated=day) for fmt in ("md", "html")} == expected
    assert entries(folder, "jinja")


def test_a_changed_markup_token_is_not_answered_from_stale_bytecode(folder: Path, tmp_path: Path, advisor: Advisor) -> None:
    """The tokens of _markdown.j2 are built into the other templates' code: changing them alone
    (advice.md.j2 unchanged) must change the document."""
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(FIXTURES / "templates", templates)
    rec = advisor.recommend(DISTRICT)
    day = datetime.date(2026, 1, 5)
    before = Renderer(templates).render(rec, "md", generated=day)
    markup = templates / "_markdown.j2"
    markup.write_text(markup.read_text(encoding="utf-8").replace('"h2": "## "', '"h2": "### "', 1), encoding="utf-8")
    after = Renderer(templates).render(rec, "md", generated=day)
    assert after.count("\n### ") > before.count("\n### ") and after.count("\n## ") < before.count("\n## ")


def test_enumerations_are_read_back_from_disk(folder: Path) -> None:
    rules = load_rules(FIXTURES / "rules")
    questions = [q.id for q in rules.questions][:4]  # 16 combinations: cheap
    (first,) = exhaustive.enumerate_versions([exhaustive.Version(rules, FIXTURES / "rules")], questions, workers=1)
    assert len(entries(folder, "enumeration")) == 1
    exhaustive.clear_cache()
    assert exhaustive.is_cached(rules, questions)  # from disk
    (again,) = exhaustive.enumerate_versions([exhaustive.Version(rules, FIXTURES / "rules")], questions, workers=1)
    assert again == first


def test_the_environment_variable_turns_the_cache_off(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_OFF, "1")
    assert cache.folder("rules") is None
    load_rules(FIXTURES / "rules")
    cache.store("test", "abc", 1)
    assert cache.load("test", "abc") is None
    assert not folder.exists()


def test_no_cache_option_writes_nothing(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    district = str(FIXTURES / "examples" / "lakeview-unified" / "answers.yaml")
    args = ["--rules", str(FIXTURES / "rules"), "--templates", str(FIXTURES / "templates"), "--date", "2026-01-05"]
    assert main(["recommend", district, "--format", "md", "--no-cache", *args]) == 0
    without = capsys.readouterr().out
    assert not folder.exists()
    assert cache.enabled()  # only for that command
    assert main(["recommend", district, "--format", "md", *args]) == 0
    assert capsys.readouterr().out == without
    assert entries(folder, "rules") and entries(folder, "jinja")


def test_an_unusable_cache_folder_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv(cache.ENV_FOLDER, str(blocker))
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    assert cache.folder("rules") is None
    assert load_rules(FIXTURES / "rules").questions


def test_a_cache_folder_others_can_write_to_is_not_used(folder: Path) -> None:
    """Template bytecode is code: a folder writable by other users could be used to run theirs."""
    assert cache.folder("jinja") is not None
    (stamp,) = folder.iterdir()
    (stamp / "jinja").chmod(0o777)
    assert cache.folder("jinja") is None
    stamp.chmod(0o775)
    assert cache.folder("rules") is None
