"""Writing results: atomically, and never over a file the user wrote.

A file is replaced only if it is absent, was written by this tool (it carries `GENERATOR_MARK`),
or the user passed `--force`. Writes go to a temporary file in the same folder, then `os.replace`,
so a crash leaves the old file or the new one, never half of either. `OutputFolder` writes many
new files into one folder with fewer system calls (batch mode).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from engine.errors import InputError, SourceLocation
from engine.paths import display

GENERATOR_MARK = "rostering-advisor"
_SNIFF_BYTES = 4096


def made_by_us(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return GENERATOR_MARK.encode() in handle.read(_SNIFF_BYTES)
    except OSError:
        return False


def our_file(path: Path) -> bool:
    """A file (not a symbolic link) that this tool wrote."""
    return not path.is_symlink() and made_by_us(path)


def remove_ours(path: Path) -> bool:
    """Delete `path` if it is a file this tool wrote; whether it did."""
    if not our_file(path):
        return False
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


class ForeignFile(InputError):
    """A file that rostering-advisor did not write stands where it would write."""


def write_atomic(path: Path, text: str | bytes, *, force: bool = False, durable: bool = True) -> None:
    """Write `text` to `path` (UTF-8, or bytes as they are), refusing to replace a file this tool did not write.

    The rename alone makes the write atomic for a crash or kill of this process; `durable` also
    flushes the data to disk first, so it survives a power cut. Batch mode, which writes tens of
    thousands of files, leaves that to one flush of the whole folder now and then (`manifest`).
    Few system calls: a batch writes two or three files per district.
    """
    path = Path(path)
    name = display(path)  # resolves the path (system calls), but a single file is written
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
            data = memoryview(text.encode("utf-8") if isinstance(text, str) else text)
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


class OutputFolder:
    """Writes many files into one folder, as `write_atomic` does, with fewer system calls.

    A file that does not exist yet is written to an unnamed temporary file (Linux `O_TMPFILE`)
    and then linked in under its name, which fails if the name is taken: the file appears whole
    or not at all, no temporary name is ever seen, and only one directory entry is made. Anything
    else (an existing file, another system) goes through `write_atomic`. Not durable: batch mode
    flushes the folder now and then (`manifest`).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None
        self._linkable = hasattr(os, "O_TMPFILE")

    def write(self, name: str, text: str | bytes, *, force: bool = False) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        if not (self._linkable and self._create(name, data)):
            write_atomic(self.folder / name, data, force=force, durable=False)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _create(self, name: str, data: bytes) -> bool:
        """Whether `name` was new and now holds `data`; False leaves the work to `write_atomic`."""
        try:
            if self._fd is None:
                self._fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
            descriptor = os.open(self.folder, os.O_TMPFILE | os.O_WRONLY, 0o644)
        except OSError:  # no O_TMPFILE on this file system, or a folder problem write_atomic reports
            self._linkable = False
            return False
        try:
            os.fchmod(descriptor, 0o644)
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            # linkat(AT_SYMLINK_FOLLOW): the dst_dir_fd makes os.link use linkat, following the link
            os.link(f"/proc/self/fd/{descriptor}", name, dst_dir_fd=self._fd)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EXDEV, errno.EPERM, errno.EINVAL, errno.EOPNOTSUPP):  # no /proc, say
                self._linkable = False
                return False
            raise InputError.at(SourceLocation(display(self.folder / name)), f"cannot write: {exc.strerror}") from None
        finally:
            os.close(descriptor)
        return True
