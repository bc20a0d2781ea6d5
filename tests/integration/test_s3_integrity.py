"""Integrity, leases and the durable audit on a real S3 server (SeaweedFS on loopback), which
enforces conditional writes (If-None-Match, If-Match) as S3 does."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes import ScriptedEditor
from tests.integration.conftest import BUCKET
from tests.servers.seaweed import SeaweedS3
from transcreate.campaign import read_campaign
from transcreate.editors import Edited
from transcreate.jobs import expand
from transcreate.row_images import RowImages
from transcreate.run.execute import AuditLog, JobContext, process_job
from transcreate.run.schedule import run_jobs
from transcreate.storage import MISSING, output_key
from transcreate.storage.s3 import S3Storage

pytestmark = pytest.mark.slow

KEY = output_key("summer-sale", "th", "hero-1", "0123456789abcdef")
IMAGE = b"\x89PNG not really, the scripted editor echoes it"


@pytest.fixture
def storage(seaweed: SeaweedS3) -> S3Storage:
    return S3Storage(f"s3://{BUCKET}/integrity/{secrets.token_hex(4)}")


def poll(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_put_object_verifies_and_a_stray_empty_one_does_not(storage: S3Storage) -> None:
    assert storage.verify(KEY) == MISSING
    storage.put(KEY, b"whatever bytes", "image/png")
    assert storage.verify(KEY) is None
    # Somebody else's empty object at the key: once `cached` forever.
    storage.client.put_object(Bucket=storage.bucket, Key=storage.name(KEY), Body=b"")
    assert storage.verify(KEY) == "the stored object is empty"
    storage.client.put_object(Bucket=storage.bucket, Key=storage.name(KEY), Body=b"junk")
    assert storage.verify(KEY) == "the stored object is not a readable image"


def test_a_lease_is_exclusive_and_an_expired_one_is_taken_over(storage: S3Storage) -> None:
    crashed = storage.lease(KEY, -1)
    assert crashed is not None
    taker = storage.lease(KEY, 60)
    assert taker is not None
    assert storage.lease(KEY, 60) is None
    crashed.release()  # If-Match on its own ETag: the taker's lease stays
    assert storage.lease(KEY, 60) is None
    taker.release()
    assert storage.lease(KEY, 60) is not None


def test_racing_takers_of_an_expired_lease_let_one_win(storage: S3Storage) -> None:
    assert storage.lease(KEY, -1) is not None
    barrier = threading.Barrier(6)
    won: list[object] = []

    def race() -> None:
        barrier.wait()
        lease = storage.lease(KEY, 60)
        if lease is not None:
            won.append(lease)

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_the_audit_is_one_small_object_per_line_listed_in_order(storage: S3Storage) -> None:
    audit = AuditLog(storage, "summer-sale", "run-9")
    for status in ("sent", "ok"):
        audit.write({"variant": "hero-1", "status": status})
    listing = storage.client.list_objects_v2(
        Bucket=storage.bucket, Prefix=f"{storage.prefix}/summer-sale/audit/run-9/"
    )
    names = [entry["Key"] for entry in listing["Contents"]]
    lines = [
        json.loads(storage.client.get_object(Bucket=storage.bucket, Key=name)["Body"].read())
        for name in sorted(names)
    ]
    assert [line["status"] for line in lines] == ["sent", "ok"]
    assert {line["run"] for line in lines} == {"run-9"}


def test_an_empty_object_at_an_output_key_is_made_again(storage: S3Storage, tmp_path: Path) -> None:
    sheet = tmp_path / "sale.csv"
    sheet.write_text("variant,headline\nhero,Big Sale\n", encoding="utf-8")
    [job] = expand(read_campaign(sheet), ["en"], image_sha256="0" * 64, backend="scripted/1").jobs
    key = output_key(job.campaign, job.locale, job.variant, job.key)
    storage.client.put_object(Bucket=storage.bucket, Key=storage.name(key), Body=b"")
    result = process_job(
        job, JobContext(images=RowImages.of(IMAGE), editor=ScriptedEditor(), storage=storage)
    )
    assert (result.status, result.note) == ("ok", "made again: the stored object is empty")
    assert storage.get(key) == IMAGE


def test_two_concurrent_runs_into_one_bucket_make_each_job_once(
    seaweed: SeaweedS3, sample_campaign: Path
) -> None:
    destination = f"s3://{BUCKET}/concurrent/{secrets.token_hex(4)}"
    jobs = list(
        expand(read_campaign(sample_campaign), ["th"], image_sha256="0" * 64, backend="s/1").jobs
    )
    gate = threading.Event()
    first_editor, second_editor = ScriptedEditor(), ScriptedEditor()
    refused: list[str] = []

    class Held(ScriptedEditor):
        def edit(self, job, image):  # type: ignore[no-untyped-def]
            first_editor.edit(job, image)
            gate.wait(timeout=60)
            return Edited(image)

    class Watching(S3Storage):
        def lease(self, key, seconds):  # type: ignore[no-untyped-def]
            lease = super().lease(key, seconds)
            if lease is None:
                refused.append(key)
            return lease

    results: dict[str, list] = {}

    def run_with(name, editor, storage):  # type: ignore[no-untyped-def]
        results[name] = run_jobs(
            jobs,
            JobContext(images=RowImages.of(IMAGE), editor=editor, storage=storage, retry_wait=0),
            threads=len(jobs),
        )

    first = threading.Thread(target=run_with, args=("first", Held(), S3Storage(destination)))
    first.start()
    poll(lambda: first_editor.total_calls == len(jobs), "the first run to send every job")
    second = threading.Thread(
        target=run_with, args=("second", second_editor, Watching(destination))
    )
    second.start()
    poll(lambda: len(set(refused)) == len(jobs), "the second run to find every job leased")
    gate.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert (first_editor.total_calls, second_editor.total_calls) == (len(jobs), 0)
    assert {r.status for r in results["first"]} == {"ok"}
    assert {r.status for r in results["second"]} == {"cached"}


def test_a_sheet_of_a_workbook_on_s3_is_chosen_with_a_hash(
    seaweed: SeaweedS3, tmp_path: Path
) -> None:
    import openpyxl

    from transcreate.inputs import read_input

    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Q3"
    first.append(["variant", "headline"])
    first.append(["old", "Old Sale"])
    second = workbook.create_sheet("Q4")
    second.append(["variant", "headline"])
    second.append(["new", "New Sale"])
    workbook.save(tmp_path / "sale.xlsx")
    key = f"inputs/{secrets.token_hex(4)}/sale.xlsx"
    seaweed.client().upload_file(str(tmp_path / "sale.xlsx"), BUCKET, key)
    location = f"s3://{BUCKET}/{key}#Q4"
    campaign = read_campaign(location, data=read_input(location).data)
    assert [variant.variant for variant in campaign.variants] == ["new"]
