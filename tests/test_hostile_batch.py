"""Batch input and output under attack, and the terminal: an unclosed quote, full disks, unwritable
folders, standard output full or closed, Ctrl-C, too many workers, a template failing on every
district, control characters, a header of 100,000 columns, huge numbers.

Each ends in its documented exit code with one located line (unless said otherwise), within 10 s
and 512 MB (`hostile.run_table` / `hostile.run_command`), without a traceback, and leaves the
user's files as they were.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.hostile import SECONDS, assert_refused, run_command, run_table, snapshot

CSV = Path(__file__).parent / "data" / "batch" / "basic.csv"
ANSWERS = FIXTURES / "examples" / "brookhaven" / "answers.yaml"
HEADER = "district_id,district_name,notes\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_input_a_person_would_get_wrong(tmp_path: Path) -> None:
    """Class 5 (an unclosed quote), 7 (--workers), 9 (control characters), 10 (huge numbers, headers)."""
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    rows = "".join(f"{i},District {i},fine\n" for i in range(1, 8))
    folder = home / "folder"
    folder.mkdir()
    _write(folder / "a.yaml", "district: {name: \"Bell\\aDistrict\"}\n")
    table = [
        # 5: an unclosed quote in the middle: exit 2 at its line and column, not rows lost in silence
        (["batch", str(_write(home / "mid.csv", HEADER + '1,A,ok\n2,"B,oops\n' + rows)), "--out", str(out / "5a")],
         "mid.csv:3:3: a quoted cell opens here and never closes; the 7 lines after it", 2),
        (["batch", str(_write(home / "notes.csv", HEADER + rows + '8,H,"notes\nthat never end\n')), "--out", str(out / "5b")],
         "notes.csv:9:5: a quoted cell opens here and never closes", 2),
        (["batch", str(_write(home / "head.csv", 'district_id,"district_name,notes\n' + rows)), "--out", str(out / "5c")],
         "head.csv:1:13: a quoted cell opens here and never closes", 2),
        # 7: --workers below 1 is refused; above the cores, capped (exit 0, said on stderr)
        (["batch", str(CSV), "--out", str(out / "7a"), "--workers", "0"], "--workers: must be at least 1", 2),
        (["batch", str(CSV), "--out", str(out / "7b"), "--workers", "-5"], "--workers: must be at least 1", 2),
        (["batch", str(CSV), "--out", str(out / "7c"), "--workers", "200", "--format", "json"], "--workers 200: using ", 0),
        # 9: control characters are refused where they are read, and never reach the terminal raw
        (["recommend", str(_write(home / "esc.yaml", 'district: {name: "Evil\\e[2J District"}\n'))],
         "esc.yaml:1:18: holds a control character (U+001B); remove it (at district.name)", 2),
        (["recommend", str(_write(home / "bidi.yaml", "district: {name: A}\nnotes: \"\u202egnp.exe\"\n"))],
         "bidi.yaml:2:8: holds a control character (U+202E)", 2),
        (["recommend", str(_write(home / "key.yaml", 'district: {name: A}\nanswers: {"sis\\e[31m": yes}\n'))],
         "key.yaml:2:11: a key holds a control character (U+001B)", 2),
        (["batch", str(_write(home / "bell.jsonl", '{"district": {"name": "A"}, "notes": "ding\\u0007"}\n')), "--out", str(out / "9a")],
         "holds a control character (U+0007)", 3),
        (["batch", str(_write(home / "bidi.csv", HEADER + "1,\u202eA,ok\n")), "--out", str(out / "9b")],
         "row 2: column 2 (district_name): holds a control character (U+202E)", 3),
        (["batch", str(folder), "--out", str(out / "9c")], "a.yaml:1:18: district.name: holds a control character (U+0007)", 3),
        # 10: numbers too long for Python's int conversion, in JSON Lines and JSON
        (["batch", str(_write(home / "big.jsonl", '{"district": {"name": "A"}, "profile": {"students": ' + "9" * 5000 + "}}\n")),
          "--out", str(out / "10a")], "invalid JSON: the number 999999999999... is too large", 3),
        (["recommend", str(_write(home / "big.json", '{"district": {"name": "A"}, "profile": {"students": ' + "9" * 5000 + "}}\n"))],
         "big.json:1:53: invalid JSON: the number 999999999999... is too large", 2),
    ]
    before = snapshot(home)
    outcomes = run_table([[*argv, "--quiet"] if argv[0] == "batch" else argv for argv, _, _ in table], cwd=FIXTURES)
    for (argv, expected, code), outcome in zip(table, outcomes):
        assert_refused(outcome, expected, code)
        assert "\x1b" not in outcome.stderr and "\u202e" not in outcome.stderr and "set_int_max_str_digits" not in outcome.stderr
    assert snapshot(home) == before


def test_a_header_of_100000_columns_is_read_in_time(tmp_path: Path) -> None:
    wide = _write(tmp_path / "wide.csv", "district_id,district_name," + ",".join(f"c{i}" for i in range(100_000)) + "\n1,A\n")
    (outcome,) = run_table([["batch", str(wide), "--out", str(tmp_path / "out"), "--quiet", "--format", "json"]], cwd=FIXTURES)
    assert outcome.code == 3 and outcome.seconds < SECONDS
    assert outcome.stderr.splitlines()[-2] == f"{wide}: ... and 99,980 more unknown columns"


def test_a_template_failing_on_every_district_stops_the_batch(tmp_path: Path) -> None:
    """Class 8: the same template error on 3 districts in a row stops the run (exit 2); one district's
    failure does not (exit 3)."""
    templates = tmp_path / "templates"
    templates.mkdir()
    _write(templates / "always.md.j2", "{{ district.name }}\n{{ no_such_variable }}\n")
    _write(templates / "once.md.j2", "{% if 'Lakeview' in district.name %}{{ no_such_variable }}{% endif %}ok\n")
    table = [
        (["batch", str(CSV), "--out", str(tmp_path / "a"), "--template", "always"],
         "always.md.j2:2: 'no_such_variable' is undefined (on 3 districts in a row: the batch stopped)", 2),
        (["batch", str(CSV), "--out", str(tmp_path / "b"), "--template", "once"], "once.md.j2:1: 'no_such_variable' is undefined", 3),
    ]
    argv = [[*a, "--templates", str(templates), "--quiet", "--workers", "1"] for a, _, _ in table]
    for (_, expected, code), outcome in zip(table, run_table(argv, cwd=FIXTURES)):
        assert_refused(outcome, expected, code)


def test_full_disks_and_unwritable_places(tmp_path: Path) -> None:
    """Class 6: exit 2 and one line where a traceback was, and no empty manifest left behind. A
    file-size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it fail as they would."""
    batch = ["batch", str(CSV), "--quiet", "--workers", "1", "--format", "md,json"]
    full = tmp_path / "full"
    outcome = run_command([*batch, "--out", str(full)], FIXTURES, file_bytes=0)
    assert_refused(outcome, f"{full}: cannot write: File too large")
    assert list(full.iterdir()) == []
    outcome = run_command([*batch, "--out", str(tmp_path / "fills")], FIXTURES, file_bytes=10_000)
    assert_refused(outcome, "fills: cannot write: File too large (on 3 districts in a row: the batch stopped)")
    table = [
        ([*batch, "--out", "/sys/kernel"], "/sys/kernel: cannot write: Permission denied"),
        ([*batch, "--out", "/sys/rostering-advisor"], "/sys/rostering-advisor: cannot create the folder"),
        (["schema", "--out", str(_write(tmp_path / "a-file", "mine\n"))], "a-file: cannot create the folder: File exists"),
        (["schema", "--out", "/sys/kernel"], "/sys/kernel/answers.schema.json: cannot write here"),
    ]
    for (argv, expected), outcome in zip(table, run_table([argv for argv, _ in table], cwd=FIXTURES)):
        assert_refused(outcome, expected)
    assert (tmp_path / "a-file").read_text() == "mine\n"


def test_standard_output_full_or_closed() -> None:
    with open("/dev/full", "w") as device:
        outcome = run_command(["recommend", str(ANSWERS), "--format", "md"], FIXTURES, stdout=device)
    assert_refused(outcome, "<stdout>: cannot write: No space left on device")
    outcome = run_command(["schema"], FIXTURES, close_stdout=True)
    assert_refused(outcome, "<stdout>: standard output is closed")


@pytest.mark.parametrize("after", [0.3, 0.6])
def test_ctrl_c_early_is_a_clean_interrupt(after: float) -> None:
    """Ctrl-C while the command starts: exit 130 (or the signal's own, in Python's first
    milliseconds), never a traceback. Whatever the timing, the assertion holds."""
    outcome = run_command(["recommend", str(ANSWERS), "--format", "html"], FIXTURES, interrupt_after=after)
    assert outcome.code in (0, 130, -signal.SIGINT), outcome.stderr  # 0: it had finished
    assert "Traceback" not in outcome.stderr
