"""Writing results: atomically, and never over a file the user wrote.

A file is replaced only if it is absent, was written by this tool (it carries `GENERATOR_MARK`),
or the user passed `--force`. Writes go to a temporary file in the same folder, then `os.replace`,
so a crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError, SourceLocation
from .paths import display

GENERATOR_MARK = "rostering-advisor"
_SNIFF_BYTES = 4096


def made_by_us(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return GENERATOR_MARK.encode() in handle.read(_SNIFF_BYTES)
    except OSError:
        return False


class ForeignFile(InputError):
    """A file that rostering-advisor did not write stands where it would write."""


def write_atomic(path: Path, text: str, *, force: bool = False, durable: bool = True) -> None:
    """Write `text` to `path` (UTF-8), refusing to replace a file this tool did not write.

    The rename alone makes the write atomic for a crash or kill of this process; `durable` also
    flushes the data to disk first, so it survives a power cut. Batch mode, which writes tens of
    thousands of files, leaves that to one flush of the whole folder now and then (`manifest`).
    Few system calls: a batch writes two or three files per district.
    """
    path = Path(path)
    name = display(path)
    try:
        found = os.stat(path)
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise InputError.at(SourceLocation(name), f"cannot write here: {exc.strerror}") from None
    if found is not None:
        if stat.S_ISDIR(found.st_mode):
            raise InputError.at(SourceLocation(name), "is a directory; give a file name")
        if not force and not made_by_us(path):
            raise ForeignFile.at(
                SourceLocation(name), "already exists and was not written by rostering-advisor; use --force to replace it"
            )
    folder = path.parent if str(path.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError.at(SourceLocation(name), f"the folder {display(folder)} does not exist") from None
    except OSError as exc:
        raise InputError.at(SourceLocation(name), f"cannot write here: {exc.strerror}") from None
    try:
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(descriptor, data) :]
            if durable:
                os.fsync(descriptor)
            os.fchmod(descriptor, 0o644)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError.at(SourceLocation(name), f"cannot write: {exc.strerror}") from None
        raise
