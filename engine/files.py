"""Writing results: atomically, and never over a file the user wrote.

A file is replaced only if it is absent, was written by this tool and not edited since (it carries a
valid seal: `seal`, `made_by_us`), or the user passed `--force`; a FIFO or a device never is. Writes
go to a temporary file in the same folder, then `os.replace`, so a crash leaves the old file or the
new one, never half of either. `AtomicStream` does the same for a file written in pieces;
`OutputFolder` writes many new files into one folder with fewer system calls (batch mode), and
`sync_folder` puts them on disk. Every temporary file is named one way, so `sweep_temporaries` finds
those a killed run left behind.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from engine.errors import InputError, SourceLocation
from engine.paths import display
from engine.version import __version__

GENERATOR_MARK = "rostering-advisor"
GENERATOR = f"{GENERATOR_MARK} {__version__}"  # what files and documents name as their generator
# The seal: the last `rostering-advisor seal:<sha256>` in a file, the digest of the whole file with
# those 64 hex digits as zeros. A person does not write that by accident, and any edit breaks it.
_SEAL_PREFIX = f"{GENERATOR_MARK} seal:".encode()
SEAL_BLANK = f"{GENERATOR_MARK} seal:{'0' * 64}"  # where a writer wants the seal (last in the file)
SEAL_COMMENT = f"<!-- {SEAL_BLANK} -->\n"  # the seal line of Markdown and HTML documents
_SEAL_COMMENT_BYTES = SEAL_COMMENT.encode()
MAX_SEALED_BYTES = 64 * 1024 * 1024  # larger files are not ours (a document stops at 5 M characters)


def seal(data: str | bytes) -> bytes:
    """`data` (UTF-8) with its last `SEAL_BLANK` replaced by the digest of the whole."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    at = raw.rindex(SEAL_BLANK.encode()) + len(_SEAL_PREFIX)
    return raw[:at] + hashlib.sha256(raw).hexdigest().encode() + raw[at + 64 :]


def sealed_document(document: bytes) -> bytes:
    """A Markdown or HTML document (UTF-8) ending with its seal (`SEAL_COMMENT`, hidden by both), so
    that a later write may replace the file, unless someone edits it. Bytes in and out: what a batch
    writes is never decoded to text and back."""
    return seal(document + _SEAL_COMMENT_BYTES)


def unsealed(document: str) -> str:
    """A document without the seal line `sealed_document` ended it with: what it says, to compare."""
    tail = len(SEAL_COMMENT)
    if document[-tail:].startswith(SEAL_COMMENT[: SEAL_COMMENT.index("seal:")]):
        return document[:-tail]
    return document


def sealed(raw: bytes) -> bool:
    """Whether `raw` carries a valid seal: this tool wrote it and nobody changed it since."""
    at = raw.rfind(_SEAL_PREFIX) + len(_SEAL_PREFIX)
    digest = raw[at : at + 64]
    if at < len(_SEAL_PREFIX) or len(digest) != 64:
        return False
    blank = raw[:at] + b"0" * 64 + raw[at + 64 :]
    return hashlib.sha256(blank).hexdigest().encode() == digest


def made_by_us(path: Path) -> bool:
    """A regular file this tool wrote and nobody edited since (its seal holds)."""
    try:
        with open_regular(path, str(path)) as handle:
            return sealed(handle.read(MAX_SEALED_BYTES + 1))
    except (InputError, OSError):
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


_KINDS = (
    (stat.S_ISDIR, "is a directory, not a file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def not_regular(mode: int) -> str | None:
    """Why a file of this mode is neither read nor replaced (a FIFO blocks for ever, a device
    never ends), or None for a regular file."""
    for test, reason in _KINDS:
        if test(mode):
            return reason
    return None if stat.S_ISREG(mode) else "is not a regular file"


def _kind(path: Path) -> str | None:
    """Why `path` is not a regular file, if it is not one (a socket cannot even be opened)."""
    try:
        return not_regular(os.stat(path).st_mode)
    except OSError:
        return None


def open_regular(path: Path, name: str) -> BinaryIO:
    """Open a regular file for reading; anything else is refused without blocking (`InputError`)."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError.at(SourceLocation(name), "no such file") from None
    except PermissionError:
        raise InputError.at(SourceLocation(name), "permission denied") from None
    except OSError as exc:
        reason = "is a symbolic link that loops" if exc.errno == errno.ELOOP else _kind(path) or f"cannot read: {exc.strerror}"
        raise InputError.at(SourceLocation(name), reason) from None
    kind = not_regular(os.fstat(descriptor).st_mode)
    if kind is not None:
        os.close(descriptor)
        raise InputError.at(SourceLocation(name), kind)
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_regular(path: Path, name: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (`-`: standard input, as much)."""
    size = 0  # as stat() says; the read stops past `limit` whatever it says (a file that grows)
    try:
        if str(path) == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            with open_regular(path, name) as handle:
                size = os.fstat(handle.fileno()).st_size
                raw = handle.read(limit + 1) if size <= limit else b""
    except OSError as exc:
        raise InputError.at(SourceLocation(name), f"cannot read: {exc.strerror}") from None
    if size > limit or len(raw) > limit:
        shown = f"{size:,}" if size > limit else f"more than {limit:,}"
        raise InputError.at(SourceLocation(name), f"the file is {shown} bytes; files larger than {limit:,} bytes are refused")
    return raw


class ForeignFile(InputError):
    """A file that rostering-advisor did not write stands where it would write."""


# Temporary files are named `.NAME.XXXXXXXX.tmp` (8 hex digits) next to NAME: hidden, and
# recognised by `sweep_temporaries` from this one pattern, whoever wrote them.
_TEMPORARY_NAME = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}\.tmp$")


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new, empty temporary file next to `path`: its descriptor (read-write, for `_seal_file`) and name."""
    folder = path.parent if str(path.parent) else Path(".")
    while True:
        temporary = str(folder / f".{path.name}.{os.urandom(4).hex()}.tmp")  # secrets.token_hex(4), without loading secrets
        try:
            return os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), temporary
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
        kind = not_regular(found.st_mode)
        if kind is not None:  # even with --force: replacing a device or a FIFO by a file is never meant
            raise InputError.at(SourceLocation(name), f"{kind}; it is never replaced, give a file name")
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
    (durably), or dropped by `abort()`: a crash leaves the previous version or the new one.
    `sealed`: the file ends with `SEAL_COMMENT`, sealed (an HTML or Markdown file)."""

    def __init__(self, path: Path, encoding: str = "utf-8", newline: str = "", *, sealed: bool = False) -> None:
        self.path = Path(path)
        descriptor, self._temporary = _create_temporary(self.path)
        self.handle: IO[str] = os.fdopen(descriptor, "w", encoding=encoding, newline=newline, closefd=False)
        self._descriptor: int | None = descriptor
        self._sealed = sealed

    def commit(self) -> None:
        assert self._descriptor is not None
        descriptor, self._descriptor = self._descriptor, None
        try:
            try:
                if self._sealed:
                    self.handle.write(SEAL_COMMENT)
                self.handle.close()
                if self._sealed:
                    _seal_file(descriptor)
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


def _seal_file(descriptor: int) -> None:
    """Seal a file that ends with `SEAL_COMMENT`, reading it back rather than keeping it in memory."""
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(descriptor, 1 << 20, offset):
        digest.update(chunk)
        offset += len(chunk)
    at = offset - len(SEAL_COMMENT) + SEAL_COMMENT.index(SEAL_BLANK) + len(_SEAL_PREFIX)
    os.pwrite(descriptor, digest.hexdigest().encode(), at)


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

    def write(self, name: str, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        if not (self._linkable and self._create(name, data)):
            write_atomic(self.folder / name, data, durable=False)

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
