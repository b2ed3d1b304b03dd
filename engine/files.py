"""Writing results: atomically, and never over a file the user wrote.

A file is replaced only if it is absent, was written by this tool (it carries `GENERATOR_MARK`),
or the user passed `--force`. Writes go to a temporary file in the same folder, then `os.replace`,
so a crash leaves the old file or the new one, never half of either. `AtomicStream` does the
same for a file written in pieces; `OutputFolder` writes many new files into one folder with fewer
system calls (batch mode), and `sync_folder` puts them on disk. Every temporary file is named one
way, so `sweep_temporaries` finds those a killed run left behind.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import stat
from pathlib import Path
from typing import IO, Callable

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


# Temporary files are named `.NAME.XXXXXXXX.tmp` (8 hex digits) next to NAME: hidden, and
# recognised by `sweep_temporaries` from this one pattern, whoever wrote them.
_TEMPORARY_NAME = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}\.tmp$")


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new, empty temporary file next to `path`: its descriptor (write-only) and name."""
    folder = path.parent if str(path.parent) else Path(".")
    while True:
        temporary = str(folder / f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), temporary
        except FileExistsError:
            continue


def _put_in_place(descriptor: int, temporary: str, path: Path, durable: bool) -> None:
    """Finish a temporary file (readable by all, on disk if `durable`) and move it to `path`."""
    try:
        if durable:
            os.fsync(descriptor)
        os.fchmod(descriptor, 0o644)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def _discard(temporary: str) -> None:
    try:
        os.unlink(temporary)
    except OSError:
        pass


def sweep_temporaries(folder: Path, names: Callable[[str], bool]) -> None:
    """Remove the temporary files an interrupted or killed run (or worker) left behind for the
    files `names` accepts (e.g. a batch's documents and its own files)."""
    for entry in os.scandir(folder):
        found = _TEMPORARY_NAME.match(entry.name)
        if found and names(found["name"]) and entry.is_file(follow_symlinks=False):
            _discard(entry.path)


def sync_folder(folder: Path) -> None:
    """Put every file written into `folder` so far on disk, whatever way it was written.

    `syncfs` on the folder flushes its file system only (data and directory entries); where it is
    missing, `os.sync` flushes every file system. Cheaper than an fsync per file for batch mode's
    tens of thousands of small files.
    """
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _LIBC is None or _LIBC.syncfs(descriptor) != 0:
            os.sync()
    finally:
        os.close(descriptor)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syncfs  # noqa: B018 - Linux only
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def write_atomic(path: Path, text: str | bytes, *, force: bool = False, durable: bool = True) -> None:
    """Write `text` to `path` (UTF-8, or bytes as they are), refusing to replace a file this tool did not write.

    The rename alone makes the write atomic for a crash or kill of this process; `durable` also
    flushes the data to disk first, so it survives a power cut. Batch mode, which writes tens of
    thousands of files, leaves that to one flush of the whole folder now and then (`sync_folder`).
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
    try:
        descriptor, temporary = _create_temporary(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError.at(SourceLocation(name), f"the folder {display(path.parent)} does not exist") from None
    except OSError as exc:
        raise InputError.at(SourceLocation(name), f"cannot write here: {exc.strerror}") from None
    try:
        try:
            data = memoryview(text.encode("utf-8") if isinstance(text, str) else text)
            while data:
                data = data[os.write(descriptor, data) :]
        except BaseException:
            os.close(descriptor)
            raise
        _put_in_place(descriptor, temporary, path, durable)
    except BaseException as exc:
        _discard(temporary)
        if isinstance(exc, OSError):
            raise InputError.at(SourceLocation(name), f"cannot write: {exc.strerror}") from None
        raise


class AtomicStream:
    """A text file written in pieces to a temporary name, then moved into place by `commit()`
    (durably), or dropped by `abort()`: a crash leaves the previous version or the new one."""

    def __init__(self, path: Path, encoding: str = "utf-8", newline: str = "") -> None:
        self.path = Path(path)
        descriptor, self._temporary = _create_temporary(self.path)
        self.handle: IO[str] = os.fdopen(descriptor, "w", encoding=encoding, newline=newline, closefd=False)
        self._descriptor: int | None = descriptor

    def commit(self) -> None:
        assert self._descriptor is not None
        descriptor, self._descriptor = self._descriptor, None
        try:
            try:
                self.handle.close()
            except BaseException:
                os.close(descriptor)
                raise
            _put_in_place(descriptor, self._temporary, self.path, durable=True)
        except BaseException as exc:
            _discard(self._temporary)
            if isinstance(exc, OSError):
                raise InputError.at(SourceLocation(display(self.path)), f"cannot write: {exc.strerror}") from None
            raise

    def abort(self) -> None:
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            self.handle.close()
        except OSError:  # a full disk: the text it held is dropped anyway
            pass
        os.close(descriptor)
        _discard(self._temporary)


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
