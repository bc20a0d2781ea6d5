"""A local folder as the destination (the default).

Integrity: every ``put`` writes, before the object itself, its SHA-256 and size to
``.transcreate/checksums/<key>.json`` (hidden from people browsing the folder); ``verify`` calls
an object complete only when it matches. An object without that record (from an older version,
or copied in by hand) must at least decode as an image.

Leases: ``.transcreate/leases/<key>.lease``, created with O_CREAT|O_EXCL (exactly one creator wins),
holding the owner's token and an expiry; an expired lease is removed under an flock of the key's
lock file (one taker sees it expired) and created afresh, exclusively again.

Temporary files are ``.part-<host>-<pid>-<token>``: opening the folder removes those of a process
of this machine that is gone (a killed run) and any older than a day.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from transcreate.errors import StorageError
from transcreate.storage import HOST, MISSING, Lease, lease_body, lease_expired, process_gone

_O_BINARY: int = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_HOST = HOST
_PART = ".part-"
_STALE_PART_SECONDS = 24 * 3600
CHECKSUMS = ".transcreate/checksums"
LEASES = ".transcreate/leases"
_RELEASE_MARGIN = 60.0  # seconds before its expiry a lease is still released without the lock


class LocalStorage:
    """Objects are files under ``root``; writes are atomic (temp file, then rename)."""

    lookups = 1  # a look is a few system calls and a hash under the GIL: threads only contend

    def __init__(self, root: str | Path, *, base_url: str | None = None):
        if isinstance(root, str) and not root.strip():
            # Path("") is the current folder: a blank option must not write outputs there.
            raise StorageError("the output folder is blank; give a folder, e.g. --out out")
        self.root = Path(root).expanduser().resolve()
        #: where the folder is served (`transcreate serve`): links become http(s) links under it
        self.base_url = base_url.rstrip("/") if base_url else None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StorageError(f"{self.root}: is a file, not a folder; give a folder") from None
        except OSError as error:
            raise StorageError(f"{self.root}: cannot create the output folder ({error})") from None
        if not self.root.is_dir():
            raise StorageError(f"{self.root}: is a file, not a folder; give a folder")
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root}: the output folder is not writable")
        self._root = str(self.root)
        self._inside = os.path.join(self._root, "")  # the root and a separator: what is under it
        self._folders_inside: dict[str, bool] = {}
        self.removed_parts = self._remove_abandoned_parts()

    def _remove_abandoned_parts(self) -> int:
        """Delete temporary files a killed run left behind; never those of a live writer."""
        removed = 0
        now = time.time()
        for folder, _, files in os.walk(self.root):
            for name in files:
                if not name.startswith(_PART):
                    continue
                path = Path(folder) / name
                with contextlib.suppress(OSError):
                    if _abandoned(name) or now - path.stat().st_mtime > _STALE_PART_SECONDS:
                        path.unlink()
                        removed += 1
        return removed

    def path(self, key: str) -> Path:
        """The file for ``key``; refuses any key that would land outside the root, by its name
        (``..``) or through a symlink."""
        return Path(self._file(key))

    def _named(self, key: str) -> str:
        """The file's name for ``key``, refused by its name alone when outside the root: what
        a link or URI needs (every read or write of the file goes through `_file`)."""
        target = os.path.normpath(os.path.join(self._root, key))
        if not target.startswith(self._inside) or target == self._root:
            raise StorageError(f"{key!r}: refused, it points outside {self.root}")
        return target

    def _file(self, key: str) -> str:
        """`path` as a string: plain string operations, since pathlib's parsing was most of the
        time a cached re-run spent looking at stored outputs."""
        target = self._named(key)
        if self._folder_inside(os.path.dirname(target)) and not os.path.islink(target):
            return target
        resolved = os.path.realpath(target)
        if not resolved.startswith(self._inside) or resolved == self._root:
            raise StorageError(f"{key!r}: refused, it points outside {self.root}")
        return resolved

    def _folder_inside(self, folder: str) -> bool:
        """Whether ``folder`` really lies under the root, symlinks followed; remembered per
        folder (resolving every path took thousands of stat calls a run: a handful of folders
        hold all its files)."""
        inside = self._folders_inside.get(folder)
        if inside is None:
            real = os.path.realpath(folder)
            inside = real == self._root or real.startswith(self._inside)
            self._folders_inside[folder] = inside
        return inside

    def put(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        target = self.path(key)
        # The checksum goes first: a crash between the two leaves a sidecar that matches nothing,
        # so the object is made again, never trusted.
        record = json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        self._write(self._sidecar(key), record.encode(), key)
        self._write(target, data, key)
        return self.uri(key)  # the stable name; url() may be a link under the served folder

    def _write(self, target: Path, data: bytes, key: str) -> None:
        # A reader (or a re-run after a crash) sees the old file or the new one, never half.
        # Not mkstemp: its files are 0600, unreadable to whoever serves the outputs; with mode
        # 0666 the process umask decides, as for any other new file.
        temporary = target.with_name(
            f"{_PART}{_HOST}-{os.getpid()}-{secrets.token_hex(6)}{target.suffix}"
        )
        try:
            handle = _open_creating(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except OSError as error:
            raise StorageError(f"{key!r}: cannot write under {self.root} ({error})") from None
        try:
            try:
                _write_all(handle, data)
                os.fsync(handle)  # a stored file counts as finished: make it survive a crash
            finally:
                os.close(handle)
            os.replace(temporary, target)
        except BaseException as error:
            temporary.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise StorageError(f"{key!r}: cannot write under {self.root} ({error})") from None
            raise

    def _sidecar(self, key: str) -> Path:
        return self.path(f"{CHECKSUMS}/{key}.json")

    def verify(self, key: str) -> str | None:
        """None when a complete object is stored under ``key``; MISSING when none is; else why
        the stored one cannot be trusted."""
        target = self._file(key)
        try:
            status = os.stat(target)
        except FileNotFoundError:
            return MISSING
        except OSError as error:
            return f"the stored file cannot be read ({error.strerror})"
        if not stat.S_ISREG(status.st_mode):
            return "something that is not a file stands at the output's name"
        size = status.st_size
        try:
            with open(self._file(f"{CHECKSUMS}/{key}.json"), encoding="utf-8") as sidecar:
                recorded = json.loads(sidecar.read())
            expected_size, expected_sha = int(recorded["size"]), str(recorded["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            if size == 0:
                return "the stored file is empty"
            # Written before checksums were recorded, or copied in by hand: it must decode.
            return None if _decodes(Path(target)) else "the stored file is not a readable image"
        if size != expected_size:
            return f"the stored file is {size:,} bytes, but {expected_size:,} were written"
        try:
            with open(target, "rb") as file:
                actual = hashlib.file_digest(file, "sha256").hexdigest()
        except OSError as error:
            return f"the stored file cannot be read ({error.strerror})"
        if actual != expected_sha:
            return "the stored file's SHA-256 differs from the one recorded when it was written"
        return None

    def append(self, key: str, data: bytes) -> None:
        """Add ``data`` at the end of the file at ``key`` in one write.

        Handed to the kernel before returning, so it survives the process being killed (what the
        audit log is for). Not fsynced per call: that held every edit thread in line behind one
        disk flush (a third of a 1,000-job run's time); a machine crash may lose the last lines.
        O_APPEND makes each write land whole at the end, whichever thread or process writes."""
        target = self.path(key)
        try:
            handle = _open_creating(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                written = os.write(handle, data)
            finally:
                os.close(handle)
        except OSError as error:
            raise StorageError(f"{key!r}: cannot append under {self.root} ({error})") from None
        if written != len(data):  # a full disk: say so rather than leave half a line unsaid
            raise StorageError(f"{key!r}: only {written} of {len(data)} bytes appended")

    def lease(self, key: str, seconds: float) -> Lease | None:
        """Hold ``key`` for ``seconds`` (a job being made); None when another holder has it."""
        target = self.path(f"{LEASES}/{key}.lease")
        token = secrets.token_hex(12)
        for _ in range(3):  # a takeover, or a folder removed under us, is tried again
            body = lease_body(token, seconds)
            try:
                handle = _open_creating(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                if not self._take_over(target):
                    return None
                continue
            except FileNotFoundError:
                continue
            except OSError as error:
                raise StorageError(f"{key!r}: cannot lease under {self.root} ({error})") from None
            try:
                _write_all(handle, body)
            finally:
                os.close(handle)
            return Lease(key, token, functools.partial(self._release, target, token))
        return None

    def _take_over(self, target: Path) -> bool:
        """Replace an expired lease with a free slot (True); False while it is held.

        Under an flock of the key's lock file, so that of several runs taking over at once,
        exactly one sees the lease expired (the kernel drops the lock of a killed process)."""
        with _locked(target):
            try:
                body = target.read_bytes()
                age = time.time() - target.stat().st_mtime
            except FileNotFoundError:
                return True  # released meanwhile: race to create it
            if not body and age < 5:  # being written right now: look again shortly
                return False
            if body and not lease_expired(body):
                return False
            target.unlink(missing_ok=True)
            return True

    def _release(self, target: Path, token: str) -> None:
        holder = _read_lease(target)
        if holder is None or holder[0] != token:
            return  # gone, or taken over once it had expired: not ours to remove
        if holder[1] - time.time() > _RELEASE_MARGIN:
            # Ours and far from expiry, so no other run may take it over (a takeover needs it
            # expired, or this process gone): removed without the lock, which every edit
            # thread releasing a lease in the folder would otherwise queue on.
            target.unlink(missing_ok=True)
            return
        with _locked(target):
            holder = _read_lease(target)
            if holder is not None and holder[0] == token:
                target.unlink(missing_ok=True)

    def url(self, key: str) -> str:
        """A link under the served base URL when there is one, else a ``file://`` URI."""
        if self.base_url:
            name = Path(self._named(key)).relative_to(self.root).as_posix()
            return f"{self.base_url}/{quote(name)}"
        return self.uri(key)

    def uri(self, key: str) -> str:
        return Path(self._named(key)).as_uri()

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except OSError as error:
            raise StorageError(f"{key!r}: cannot read under {self.root} ({error})") from None

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"


def _open_creating(path: Path, flags: int) -> int:
    """``os.open`` of a file being created, making the folders above it only when they are
    missing: nearly every file goes into a folder made already, and an mkdir before each write
    was a failed system call (and a turn of the GIL) every time."""
    try:
        return os.open(path, flags | _O_BINARY, 0o666)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags | _O_BINARY, 0o666)


def _write_all(handle: int, data: bytes) -> None:
    """All of ``data`` to a file descriptor (``os.write`` may take part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view) :]


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An flock over the leases of ``target``'s folder: one lock file per folder, not one per
    lease (a new file for every job made). Held only to read and remove a lease."""
    handle = os.open(target.parent / ".lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield
    finally:
        os.close(handle)  # closing drops the lock


def _decodes(path: Path) -> bool:
    try:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            image.load()
    except Exception:  # any failure to decode means the same: not a usable output
        return False
    return True


def _abandoned(name: str) -> bool:
    """A temporary file of a process of this machine that is no longer running."""
    host, _, pid = name.removeprefix(_PART).rpartition("-")[0].rpartition("-")
    return pid.isdigit() and process_gone(host, int(pid))


def _read_lease(path: Path) -> tuple[str, float] | None:
    """(owner, expiry) of a lease file; None when there is none or it is half written."""
    try:
        with open(path, "rb", buffering=0) as file:  # unbuffered: one read, no extra calls
            holder = json.loads(file.read())
        return str(holder["owner"]), float(holder["expires"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
