"""Files that are not regular files, and folders that hold them: refused at once, never read.

Each table runs in one bounded subprocess (`hostile.run_table`: 512 MB of address space, 10 s a
case); every case must end with its exit code and one located line, and leave the user's files as
they were.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path

from tests.conftest import FIXTURES, RULES
from tests.hostile import assert_refused, run_table, snapshot

ANSWERS = FIXTURES / "examples" / "brookhaven" / "answers.yaml"


def _user_files(home: Path) -> dict[str, Path]:
    """A user's folder of odd files: devices behind links, FIFOs, a socket, a looping link."""
    made = {
        "zero_link": home / "zero.yaml",
        "fifo": home / "fifo.yaml",
        "socket": home / "socket.yaml",
        "loop": home / "loop.yaml",
        "fifo_csv": home / "districts.csv",
        "zero_jsonl": home / "districts.jsonl",
        "fifo_out": home / "advice.md",
    }
    made["zero_link"].symlink_to("/dev/zero")
    os.mkfifo(made["fifo"])
    os.mkfifo(made["fifo_csv"])
    os.mkfifo(made["fifo_out"])
    made["zero_jsonl"].symlink_to("/dev/urandom")
    made["loop"].symlink_to(made["loop"])
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(made["socket"]))
    server.close()
    # a rules folder whose policy is a device and whose factors are a FIFO
    rules = home / "rules"
    shutil.copytree(RULES, rules)
    (rules / "policy.yaml").unlink()
    (rules / "policy.yaml").symlink_to("/dev/zero")
    made["rules"] = rules
    fifo_rules = home / "fifo-rules"
    shutil.copytree(RULES, fifo_rules)
    (fifo_rules / "factors.yaml").unlink()
    os.mkfifo(fifo_rules / "factors.yaml")
    made["fifo_rules"] = fifo_rules
    # a folder of answers files: one good, one FIFO (reported as its row, never skipped in silence)
    folder = home / "districts"
    folder.mkdir()
    shutil.copy(ANSWERS, folder / "a.yaml")
    os.mkfifo(folder / "b.yaml")
    made["folder"] = folder
    return made


def test_files_that_are_not_regular_files_are_refused_without_reading_them(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    f = _user_files(home)
    table = [
        (["recommend", "/dev/zero"], "/dev/zero: is a character device, not a regular file", 2),
        (["recommend", str(f["zero_link"])], "zero.yaml: is a character device, not a regular file", 2),
        (["recommend", "/dev/urandom", "--format", "md"], "/dev/urandom: is a character device", 2),
        (["recommend", str(f["fifo"])], "fifo.yaml: is a named pipe (FIFO), not a regular file", 2),
        (["recommend", str(f["socket"])], "socket.yaml: is a socket, not a regular file", 2),
        (["recommend", str(f["loop"])], "loop.yaml: is a symbolic link that loops", 2),
        (["validate", str(f["rules"])], "policy.yaml: is a character device, not a regular file", 2),
        (["recommend", "--rules", str(f["fifo_rules"]), str(ANSWERS)], "factors.yaml: is a named pipe (FIFO)", 2),
        (["batch", str(f["fifo_csv"]), "--out", str(out / "1"), "--quiet"], "districts.csv: is a named pipe (FIFO)", 2),
        (["batch", str(f["zero_jsonl"]), "--out", str(out / "2"), "--quiet"], "districts.jsonl: is a character device", 2),
        (["recommend", str(ANSWERS), "--format", "md", "-o", str(f["fifo_out"])], "advice.md: is a named pipe (FIFO)", 2),
        (["recommend", str(ANSWERS), "-o", str(f["fifo_out"]), "--force"], "it is never replaced", 2),
        (["batch", str(f["folder"]), "--out", str(out / "3"), "--quiet", "--workers", "1"], "b.yaml: is a named pipe", 3),
    ]
    device = home / "device.md"
    try:  # a character device (as /dev/null is) where -o --force would write: root may make one
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        table.append((["recommend", str(ANSWERS), "--format", "md", "-o", str(device), "--force"], "device.md: is a character device", 2))
    except PermissionError:
        pass
    before = snapshot(home)
    outcomes = run_table([argv for argv, _, _ in table], cwd=FIXTURES)
    for (argv, expected, code), outcome in zip(table, outcomes):
        assert_refused(outcome, expected, code)
    assert snapshot(home) == before
    assert stat.S_ISFIFO(f["fifo_out"].lstat().st_mode)
    assert not device.exists() or stat.S_ISCHR(device.lstat().st_mode)


def test_standard_input_is_read_as_the_answers_file(tmp_path: Path) -> None:
    """`-` is standard input, within the same size cap."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "engine", "recommend", "-", "--format", "md"],
        input=ANSWERS.read_bytes(), capture_output=True, cwd=FIXTURES, timeout=60,
    )
    assert done.returncode == 0 and b"# " in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "engine", "recommend", "-"], input=b"x" * (3 * 1024 * 1024), capture_output=True, cwd=FIXTURES, timeout=60,
    )
    assert done.returncode == 2 and done.stderr.decode().startswith("<stdin>: the file is more than 2,097,152 bytes")
