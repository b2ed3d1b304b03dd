"""A disk cache of what the rules and the code fix: checked rules, compiled programs, enumerations.

A command that reads the same rules again (every `recommend`, each batch worker, `impact` on an
unchanged base) loads from here what would otherwise cost most of its time: the checked rules
model (YAML parsing and JSON Schema checks), the compiled engine programs, the outcomes of every
yes/no combination, and the templates' bytecode (Jinja's own `FileSystemBytecodeCache`, kept in
`folder("jinja")` by `engine.render`).

* Where: `$ROSTERING_ADVISOR_CACHE`, else the user's cache folder (`platformdirs`), one subfolder
  per package version and code stamp (`code_stamp`: the engine's source files), so a new version
  or an edited checkout never reads what another wrote. Safe to delete at any time.
* Off: `ROSTERING_ADVISOR_NO_CACHE=1`, or `--no-cache` on the command line (`disabled`).
* Never trusted blindly: an entry names its kind, key and code stamp and carries a SHA-256 of its
  payload, all checked on load; the payload is unpickled with only the engine's own classes
  allowed; callers check what they get (a rules model must have the digest it was stored under).
  Anything wrong is a miss, never an error. Entries are written atomically (`files.write_atomic`).
  A folder that another user could write to (or does not own) is not used at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import AdvisorError
from engine.files import write_atomic
from engine.version import __version__

ENV_FOLDER = "ROSTERING_ADVISOR_CACHE"
ENV_OFF = "ROSTERING_ADVISOR_NO_CACHE"
_MAGIC = b"rostering-advisor cache 1\n"
_ENGINE = Path(__file__).resolve().parent
_CONTAINERS = {("builtins", "frozenset"), ("builtins", "set")}  # what pickle names besides the engine's classes


def enabled() -> bool:
    return os.environ.get(ENV_OFF, "").strip() not in ("1", "true", "yes")


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """No cache while the block runs (`--no-cache`), for this process and the workers it starts."""
    before = os.environ.get(ENV_OFF)
    os.environ[ENV_OFF] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_OFF, None)
        else:
            os.environ[ENV_OFF] = before


@functools.lru_cache(maxsize=1)
def code_stamp() -> str:
    """The size and time of every source file of the engine: what a cached program or bytecode
    was made by, in a checkout whose version does not change with each edit. Stat calls only."""
    files = [os.path.join(folder, name) for folder, _, names in os.walk(_ENGINE) for name in names if name.endswith(".py")]
    stamp = hashlib.sha256()
    for path in sorted(files):  # os.walk and os.stat: half the CPU of Path.rglob and Path.stat
        info = os.stat(path)
        stamp.update(f"{os.path.relpath(path, _ENGINE)}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return stamp.hexdigest()[:16]


def folder(kind: str) -> Path | None:
    """The folder of one kind of entry (made, private to the user), or None when the cache is off or unusable."""
    if not enabled():
        return None
    root = os.environ.get(ENV_FOLDER, "").strip()
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("rostering-advisor", appauthor=False)
    base = Path(root)
    stamp = base / f"{__version__}-{code_stamp()}"
    path = stamp / kind
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for made in (base, stamp, path):  # each made private, whatever the umask
            made.mkdir(mode=0o700, exist_ok=True)
            if not _private(made):
                return None
    except OSError:
        return None
    return path


def _private(path: Path) -> bool:
    """Whether only this user can change what is in `path` (owned by them, writable by no one else):
    Jinja's bytecode files are code, so a cache folder another user could write to is not used."""
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: the user's profile folder
        return True
    info = path.lstat()
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def key(*parts: str | bytes) -> str:
    """An entry's key: a digest of its parts."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def load(kind: str, entry: str) -> Any | None:
    """The value stored under (kind, entry), or None: absent, off, or failing any check."""
    where = folder(kind)
    if where is None:
        return None
    try:
        data = (where / f"{entry}.bin").read_bytes()
    except OSError:
        return None
    head = _header(kind, entry)
    if not data.startswith(head) or len(data) < len(head) + 32:
        return None
    checksum, payload = data[len(head) : len(head) + 32], data[len(head) + 32 :]
    if hashlib.sha256(payload).digest() != checksum:
        return None
    try:
        return _EngineUnpickler(io.BytesIO(payload)).load()
    except Exception:  # a payload from another build of the code, or damaged: a miss
        return None


def store(kind: str, entry: str, value: Any) -> None:
    """Keep `value` under (kind, entry); a cache that cannot be written is simply not used."""
    where = folder(kind)
    if where is None:
        return
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        write_atomic(where / f"{entry}.bin", _header(kind, entry) + hashlib.sha256(payload).digest() + payload, force=True, durable=False)
    except AdvisorError:
        pass


def _header(kind: str, entry: str) -> bytes:
    return _MAGIC + f"{kind} {entry} {code_stamp()}\n".encode()


class _EngineUnpickler(pickle.Unpickler):
    """Unpickles plain data and the engine's own data classes (dataclasses, named tuples) only: an
    entry can build nothing else, and call no function."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CONTAINERS:
            return super().find_class(module, name)
        if module.startswith("engine."):
            found = super().find_class(module, name)
            if isinstance(found, type) and (dataclasses.is_dataclass(found) or issubclass(found, tuple)):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")
