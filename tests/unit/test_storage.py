from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transcreate.errors import StorageError
from transcreate.storage import key_part, object_key, open_storage, output_key
from transcreate.storage.local import LocalStorage

JOB_KEY = "0123456789abcdef" * 4


# --- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("../", "_"),
        ("..", "_"),
        (".", "_"),
        ("/etc/passwd", "etc-passwd"),
        ("a\\b", "a-b"),
        ("a\x00b\x1fc\n", "a-b-c"),
        ("Café", "Cafe"),
        ("สวัสดี", "_"),
        ("summer-sale_01.png", "summer-sale_01.png"),
        ("zh-Hant", "zh-Hant"),
    ],
)
def test_key_part_is_one_safe_segment(text: str, expected: str) -> None:
    assert key_part(text) == expected


def test_key_part_is_at_most_100_characters() -> None:
    assert len(key_part("x" * 500)) == 100


@settings(max_examples=50, deadline=None, database=None)
@given(text=st.text(max_size=120))
def test_key_part_is_never_empty_dot_or_a_path(text: str) -> None:
    part = key_part(text)
    assert part not in ("", ".", "..")
    assert "/" not in part
    assert "\\" not in part
    assert part.isascii()
    assert part.isprintable()


def test_object_key_joins_sanitized_parts() -> None:
    assert object_key("../sale", "a/b", "manifest.csv") == "sale/a-b/manifest.csv"


def test_output_key_format() -> None:
    assert output_key("skincare-sale", "th", "summer-sale", JOB_KEY) == (
        "skincare-sale/th/summer-sale-01234567.png"
    )


def test_output_key_cannot_climb_out() -> None:
    key = output_key("../../etc", "/tmp", "..\\x", JOB_KEY)
    assert key == "etc/tmp/x-01234567.png"
    assert ".." not in key.split("/")


# --- local folder ---------------------------------------------------------------------------------


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "out")


def test_put_writes_the_file_and_returns_its_uri(storage: LocalStorage) -> None:
    uri = storage.put("sale/th/a.png", b"png bytes", "image/png")
    assert (storage.root / "sale" / "th" / "a.png").read_bytes() == b"png bytes"
    assert uri == (storage.root / "sale" / "th" / "a.png").as_uri()
    assert uri.startswith("file:///")


def test_put_leaves_no_partial_files(storage: LocalStorage) -> None:
    storage.put("sale/a.png", b"one", "image/png")
    storage.put("sale/a.png", b"two", "image/png")
    assert os.listdir(storage.root / "sale") == ["a.png"]


def test_put_replaces_an_existing_object(storage: LocalStorage) -> None:
    storage.put("a.png", b"old", "image/png")
    storage.put("a.png", b"new", "image/png")
    assert (storage.root / "a.png").read_bytes() == b"new"


def test_put_makes_files_as_readable_as_any_new_file(storage: LocalStorage) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    storage.put("a.png", b"x", "image/png")
    assert stat.S_IMODE((storage.root / "a.png").stat().st_mode) == 0o666 & ~umask


def test_a_folder_is_not_an_object(storage: LocalStorage) -> None:
    storage.put("sale/a.png", b"x", "image/png")
    assert storage.verify("sale") is not None


def test_url_is_a_file_uri(storage: LocalStorage) -> None:
    assert storage.url("sale/a.png") == (storage.root / "sale" / "a.png").as_uri()


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../../b", "", ".", "a/.."])
def test_keys_outside_the_root_are_refused(storage: LocalStorage, key: str) -> None:
    with pytest.raises(StorageError, match="refused, it points outside"):
        storage.put(key, b"x", "image/png")
    with pytest.raises(StorageError):
        storage.verify(key)


def test_symlink_out_of_the_root_is_refused(storage: LocalStorage, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (storage.root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StorageError, match="refused"):
        storage.put("link/a.png", b"x", "image/png")
    assert not (tmp_path / "elsewhere" / "a.png").exists()


def test_root_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(StorageError, match="cannot create the output folder"):
        LocalStorage(tmp_path / "a-file" / "out")


def test_failed_write_is_a_storage_error(storage: LocalStorage) -> None:
    storage.put("sale.png", b"x", "image/png")
    with pytest.raises(StorageError, match="cannot write under"):
        storage.put("sale.png/a.png", b"x", "image/png")  # its folder would be a file


# --- open_storage ---------------------------------------------------------------------------------


def test_folder_path_opens_a_local_folder(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "out"))
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "out").resolve()


def test_file_uri_opens_a_local_folder(tmp_path: Path) -> None:
    storage = open_storage((tmp_path / "my out ไทย").as_uri())
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "my out ไทย").resolve()


def test_file_uri_given_back_by_url_opens_the_same_folder(storage: LocalStorage) -> None:
    again = open_storage(storage.root.as_uri())
    assert isinstance(again, LocalStorage)
    assert again.root == storage.root


def test_file_uri_of_another_host_is_refused() -> None:
    with pytest.raises(StorageError, match="file:///"):
        open_storage("file://fileserver/share/out")


def test_unknown_scheme_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="unknown scheme 'ftp'; use a folder path"):
        open_storage("ftp://example.com/out")


# --- trust nothing stored blindly ---------------------------------------------------------------


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_stored_object_is_complete_when_it_matches_its_record(storage: LocalStorage) -> None:
    from transcreate.storage import MISSING

    assert storage.verify("sale/a.png") == MISSING
    storage.put("sale/a.png", b"not even an image", "image/png")
    assert storage.verify("sale/a.png") is None  # the record, not the format, decides


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (b"", "0 bytes, but 17 were written"),
        (b"not even an imag", "16 bytes, but 17 were written"),
        (b"NOT EVEN AN IMAGE", "SHA-256 differs"),
    ],
)
def test_a_damaged_object_is_not_trusted(storage: LocalStorage, damage: bytes, reason: str) -> None:
    storage.put("sale/a.png", b"not even an image", "image/png")
    (storage.root / "sale" / "a.png").write_bytes(damage)
    verdict = storage.verify("sale/a.png")
    assert verdict is not None and reason in verdict


def test_an_object_without_a_record_must_decode(storage: LocalStorage) -> None:
    (storage.root / "sale").mkdir()
    (storage.root / "sale" / "empty.png").write_bytes(b"")
    (storage.root / "sale" / "junk.png").write_bytes(b"junk")
    (storage.root / "sale" / "real.png").write_bytes(png_bytes())
    assert storage.verify("sale/empty.png") == "the stored file is empty"
    assert storage.verify("sale/junk.png") == "the stored file is not a readable image"
    assert storage.verify("sale/real.png") is None


def test_temporary_files_of_a_killed_run_are_removed_on_the_next_open(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from transcreate.storage import local

    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(finished.stdout)
    folder = tmp_path / "out" / "sale" / "th"
    folder.mkdir(parents=True)
    killed = folder / f".part-{local._HOST}-{dead_pid}-0123456789ab.png"
    live = folder / f".part-{local._HOST}-{os.getpid()}-0123456789ab.png"
    other_host = folder / ".part-elsewhere-1-0123456789ab.png"
    for part in (killed, live, other_host):
        part.write_bytes(b"half")
    storage = LocalStorage(tmp_path / "out")
    assert storage.removed_parts == 1
    assert not killed.exists() and live.exists() and other_host.exists()
    assert socket.gethostname()  # the host name is part of a temporary file's name


def test_append_adds_lines_durably(storage: LocalStorage) -> None:
    storage.append("sale/audit/run.jsonl", b"one\n")
    storage.append("sale/audit/run.jsonl", b"two\n")
    assert storage.get("sale/audit/run.jsonl") == b"one\ntwo\n"


# --- leases ------------------------------------------------------------------------------------


def test_a_lease_is_held_by_one_run_at_a_time(storage: LocalStorage) -> None:
    first = storage.lease("sale/th/a.png", 60)
    assert first is not None
    assert storage.lease("sale/th/a.png", 60) is None
    assert storage.lease("sale/th/b.png", 60) is not None  # per key
    first.release()
    assert storage.lease("sale/th/a.png", 60) is not None


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_release_it(
    storage: LocalStorage,
) -> None:
    crashed = storage.lease("sale/th/a.png", -1)  # as if its run died long ago
    assert crashed is not None
    taker = storage.lease("sale/th/a.png", 60)
    assert taker is not None
    crashed.release()  # too late: the lease is the taker's now
    assert storage.lease("sale/th/a.png", 60) is None
    taker.release()
    assert storage.lease("sale/th/a.png", 60) is not None


def test_a_lease_far_from_expiry_is_released_without_the_folders_lock(
    storage: LocalStorage,
) -> None:
    held = storage.lease("sale/th/a.png", 900)
    assert held is not None
    held.release()  # nobody may take over an unexpired lease: nothing to lock against
    assert not list(storage.root.rglob(".lock"))
    near = storage.lease("sale/th/a.png", 5)  # near its expiry: released under the lock
    assert near is not None
    near.release()
    assert list(storage.root.rglob(".lock"))
    assert storage.lease("sale/th/a.png", 60) is not None


def test_many_threads_racing_for_an_expired_lease_let_one_win(storage: LocalStorage) -> None:
    import threading

    assert storage.lease("sale/th/a.png", -1) is not None
    barrier = threading.Barrier(8)
    won: list[object] = []

    def race() -> None:
        barrier.wait()
        lease = storage.lease("sale/th/a.png", 60)
        if lease is not None:
            won.append(lease)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_a_lease_of_a_killed_process_on_this_machine_is_taken_over_at_once(
    storage: LocalStorage,
) -> None:
    import json
    import subprocess
    import sys

    from transcreate.storage import HOST

    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    lease = storage.path(".transcreate/leases/sale/th/a.png.lease")
    lease.parent.mkdir(parents=True)
    held = {"owner": "killed", "expires": 4e9, "host": HOST, "pid": int(finished.stdout)}
    lease.write_text(json.dumps(held))
    assert storage.lease("sale/th/a.png", 60) is not None  # not after 15 minutes: now
    held["pid"] = os.getpid()  # a live holder keeps it
    other = storage.path(".transcreate/leases/sale/th/b.png.lease")
    other.write_text(json.dumps(held))
    assert storage.lease("sale/th/b.png", 60) is None
