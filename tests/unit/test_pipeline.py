"""Running jobs: retries, failures recorded per job, stored outputs found again."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.fakes import ScriptedEditor
from transcreate.campaign import read_campaign
from transcreate.editors import Edited
from transcreate.errors import PermanentEditError, RetryableEditError
from transcreate.jobs import EditJob, expand
from transcreate.request import RunRequest
from transcreate.row_images import RowImages
from transcreate.run.execute import JobContext, process_job
from transcreate.run.schedule import run_jobs
from transcreate.storage.local import LocalStorage

IMAGE = b"\x89PNG not really, the scripted editor echoes it"


@pytest.fixture
def jobs(sample_campaign: Path) -> list[EditJob]:
    campaign = read_campaign(sample_campaign)
    return list(expand(campaign, ["id", "th"], image_sha256="0" * 64, backend="scripted/1").jobs)


def run(jobs: list[EditJob], editor: ScriptedEditor, root: Path, retries: int = 2):
    return run_jobs(
        jobs,
        JobContext(
            images=RowImages.of(IMAGE),
            editor=editor,
            storage=LocalStorage(root),
            retries=retries,
            retry_wait=0,
        ),
        threads=4,
    )


def test_every_job_is_stored_and_reported_ok(jobs, tmp_path):
    results = run(jobs, ScriptedEditor(), tmp_path)
    assert [r.status for r in results] == ["ok"] * len(jobs)
    assert [(r.variant, r.locale) for r in results] == [(j.variant, j.locale) for j in jobs]
    for result in results:
        assert Path(result.uri.removeprefix("file://")).read_bytes() == IMAGE


def test_a_retryable_error_is_retried_until_it_succeeds(jobs, tmp_path):
    editor = ScriptedEditor({("flash-deal", "th"): [RetryableEditError("429 busy"), None]})
    results = {(r.variant, r.locale): r for r in run(jobs, editor, tmp_path)}
    assert results["flash-deal", "th"].status == "ok"
    assert results["flash-deal", "th"].attempts == 2
    assert editor.calls["flash-deal", "th"] == 2


def test_a_job_that_keeps_failing_is_recorded_and_the_rest_succeed(jobs, tmp_path):
    editor = ScriptedEditor({("flash-deal", "th"): [RetryableEditError("503 overloaded")]})
    results = {(r.variant, r.locale): r for r in run(jobs, editor, tmp_path, retries=2)}
    failed = results["flash-deal", "th"]
    assert failed.status == "failed"
    assert failed.attempts == 3
    assert "503 overloaded" in failed.error and "flash-deal" in failed.error
    assert editor.calls["flash-deal", "th"] == 3
    assert sum(r.status == "ok" for r in results.values()) == len(jobs) - 1


def test_a_permanent_error_is_not_retried(jobs, tmp_path):
    editor = ScriptedEditor({("summer-sale", "id"): [PermanentEditError("content policy")]})
    results = {(r.variant, r.locale): r for r in run(jobs, editor, tmp_path)}
    assert results["summer-sale", "id"].status == "failed"
    assert editor.calls["summer-sale", "id"] == 1


def test_an_unexpected_exception_fails_only_its_job(jobs, tmp_path):
    class Broken(ScriptedEditor):
        def edit(self, job, image):
            if job.variant == "new-arrival":
                raise ZeroDivisionError("bug")
            return super().edit(job, image)

    results = run(jobs, Broken(), tmp_path)
    failed = [r for r in results if r.status == "failed"]
    assert {r.variant for r in failed} == {"new-arrival"}
    assert all("ZeroDivisionError" in r.error for r in failed)


def test_a_second_run_finds_stored_outputs_and_calls_nothing(jobs, tmp_path):
    run(jobs, ScriptedEditor(), tmp_path)
    editor = ScriptedEditor()
    results = run(jobs, editor, tmp_path)
    assert {r.status for r in results} == {"cached"}
    assert editor.total_calls == 0


def test_a_failed_job_is_done_on_the_next_run(jobs, tmp_path):
    run(jobs, ScriptedEditor({("flash-deal", "th"): [PermanentEditError("no")]}), tmp_path)
    editor = ScriptedEditor()
    results = {(r.variant, r.locale): r for r in run(jobs, editor, tmp_path)}
    assert results["flash-deal", "th"].status == "ok"
    assert editor.total_calls == 1


def test_process_job_reports_the_key_and_instruction(jobs, tmp_path):
    result = process_job(
        jobs[0],
        JobContext(
            images=RowImages.of(IMAGE), editor=ScriptedEditor(), storage=LocalStorage(tmp_path)
        ),
    )
    assert result.key == jobs[0].key
    assert result.instruction == jobs[0].instruction
    assert result.uri.endswith(f"{jobs[0].variant}-{jobs[0].key[:8]}.png")


def test_flow_batches_are_bounded_and_running_at_once_can_fill_every_slot():
    from transcreate.flows.localize import BATCH_WORKERS, MAX_BATCHES, batch_size, batch_threads

    for concurrency, count in ((32, 64), (32, 100), (32, 1000), (8, 22), (1, 3), (4, 10_000)):
        size = batch_size(count, concurrency)
        assert -(-count // size) <= MAX_BATCHES  # never one task run per job
        assert size >= batch_threads(concurrency)
        in_flight = min(count, BATCH_WORKERS * size)
        assert in_flight >= min(count, concurrency)  # not 4 batches of 2 at concurrency 32


def test_request_accepts_locales_as_text_and_rejects_unknown_ones():
    request = RunRequest(campaign="c.csv", image="i.png", locales="th, zh;id")
    assert request.locales == ("th", "zh", "id")
    with pytest.raises(ValidationError, match="not a CLDR locale"):
        RunRequest(campaign="c.csv", image="i.png", locales=("xx-nope",))
    with pytest.raises(ValidationError, match=r"Input should be 'local', 'dashscope'"):
        RunRequest(campaign="c.csv", image="i.png", backend="gpu-magic")


def test_a_job_whose_copy_fell_back_is_made_but_needs_review(tmp_path):
    from transcreate.jobs import FALLBACK_REASON

    sheet = tmp_path / "sale.csv"
    sheet.write_text("variant,headline,headline:th\nsale,Big Sale,\n", encoding="utf-8")
    [job] = expand(read_campaign(sheet), ["th"], image_sha256="0" * 64, backend="scripted/1").jobs
    storage = LocalStorage(tmp_path / "out")
    for expected_status in ("needs_review", "needs_review"):  # made, then found stored
        result = process_job(
            job, JobContext(images=RowImages.of(IMAGE), editor=ScriptedEditor(), storage=storage)
        )
        assert result.status == expected_status
        assert result.error is not None and result.error.startswith(FALLBACK_REASON)
        assert result.uri is not None


# --- trust nothing stored blindly; leases; a durable audit ---------------------------------------


def poll(condition, what: str, deadline: float = 60.0) -> None:
    """Wait until ``condition()`` holds, looking often; fail naming ``what`` after the deadline."""
    import time

    give_up = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_an_empty_file_at_an_output_key_is_made_again_and_says_why(jobs, tmp_path):
    from transcreate.storage import output_key

    job = jobs[0]
    storage = LocalStorage(tmp_path)
    target = storage.path(output_key(job.campaign, job.locale, job.variant, job.key))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")  # once reported `cached`, then a traceback in the contact sheet
    editor = ScriptedEditor()
    result = process_job(
        job, JobContext(images=RowImages.of(IMAGE), editor=editor, storage=storage)
    )
    assert (result.status, editor.total_calls) == ("ok", 1)
    assert result.note == "made again: the stored file is empty"
    assert target.read_bytes() == IMAGE
    again = process_job(job, JobContext(images=RowImages.of(IMAGE), editor=editor, storage=storage))
    assert (again.status, again.note, editor.total_calls) == ("cached", None, 1)


def test_each_call_is_in_the_audit_log_before_it_returns(jobs, tmp_path):
    import json

    from transcreate.run.execute import AuditLog

    storage = LocalStorage(tmp_path)
    audit = AuditLog(storage, "skincare-sale", "run-1")
    seen: list[list[dict]] = []

    class Watching(ScriptedEditor):
        def edit(self, job, image):
            # What a kill -9 at this moment would leave: the call is on record already.
            seen.append([json.loads(line) for line in storage.get(audit.key).splitlines()])
            return super().edit(job, image)

    process_job(
        jobs[0],
        JobContext(images=RowImages.of(IMAGE), editor=Watching(), storage=storage, audit=audit),
    )
    [during] = seen
    assert [line["status"] for line in during] == ["sent"]
    assert during[0]["run"] == "run-1" and during[0]["variant"] == jobs[0].variant
    after = [json.loads(line) for line in storage.get(audit.key).splitlines()]
    assert [line["status"] for line in after] == ["sent", "ok"]


def test_two_concurrent_runs_into_one_folder_make_each_job_once(jobs, tmp_path):
    import threading

    gate = threading.Event()
    first_editor, second_editor = ScriptedEditor(), ScriptedEditor()

    class Held(ScriptedEditor):
        def edit(self, job, image):
            first_editor.edit(job, image)  # counted, then held until the second run waits
            gate.wait(timeout=60)
            return Edited(image)

    class Refusals(LocalStorage):
        refused = 0

        def lease(self, key, seconds):
            lease = super().lease(key, seconds)
            if lease is None:
                Refusals.refused += 1
            return lease

    results: dict[str, list] = {}

    def run_with(name, editor, storage):
        results[name] = run_jobs(
            jobs,
            JobContext(images=RowImages.of(IMAGE), editor=editor, storage=storage, retry_wait=0),
            threads=len(jobs),
        )

    first = threading.Thread(target=run_with, args=("first", Held(), LocalStorage(tmp_path)))
    first.start()
    poll(lambda: first_editor.total_calls == len(jobs), "the first run to send every job")
    second = threading.Thread(target=run_with, args=("second", second_editor, Refusals(tmp_path)))
    second.start()
    poll(lambda: Refusals.refused >= len(jobs), "the second run to find every job leased")
    gate.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert second_editor.total_calls == 0 and first_editor.total_calls == len(jobs)
    assert {r.status for r in results["first"]} == {"ok"}
    assert {r.status for r in results["second"]} == {"cached"}
    assert all("another run" in (r.note or "") for r in results["second"])


def test_the_contact_sheet_is_drawn_once_its_cells_are_done_not_after_the_last_job(tmp_path):
    from transcreate.run.plan import plan_run
    from transcreate.run.sheet import EarlySheet, sheet_variants, write_contact_sheet
    from transcreate.wiring import build

    sheet_csv = tmp_path / "long.csv"
    rows = "\n".join(f"v{index:02d},Sale {index}" for index in range(30))
    sheet_csv.write_text(f"variant,headline\n{rows}\n", encoding="utf-8")
    request = RunRequest(
        campaign=str(sheet_csv),
        image=str(Path(__file__).parents[2] / "examples" / "creative.png"),
        out=str(tmp_path / "out"),
        locales=("en",),
    )
    adapters = build(request)
    plan = plan_run(request, adapters)
    shown = set(sheet_variants(plan, [None]))
    assert len(shown) < len(plan.variants)  # some variants are not on the sheet
    results = run_jobs(
        plan.jobs,
        JobContext(
            images=RowImages.of(adapters.creative.data),
            editor=adapters.editor,
            storage=adapters.storage,
        ),
        threads=4,
    )
    first = [result for result in results if result.variant in shown]
    rest = [result for result in results if result.variant not in shown]
    early = EarlySheet(adapters.storage)
    early.add(first[0])  # a result can come before the whole plan (which says what is shown)
    early.start(plan)
    key, second = "long/contact-sheet.png", "long/contact-sheet-2.png"
    for result in rest:
        early.add(result)
    # each page is drawn beside the rest of the run as soon as its own cells are done: the
    # second is stored while the first still waits for its cells
    poll(lambda: adapters.storage.verify(second) is None, "the contact sheet's second page")
    assert adapters.storage.verify(key) is not None
    for result in first[1:]:
        early.add(result)
    poll(lambda: adapters.storage.verify(key) is None, "the contact sheet")
    link, variants = early.link(results)
    assert variants == len(shown) and link == adapters.storage.url(key)
    drawn = [(tmp_path / "out" / name).stat().st_mtime_ns for name in (key, second)]
    # exactly the sheets the whole run's results make: drawing them again keeps the stored ones
    assert write_contact_sheet(plan, results, adapters.storage) == (link, variants)
    write_contact_sheet(plan, results, adapters.storage, page=2)
    assert [(tmp_path / "out" / name).stat().st_mtime_ns for name in (key, second)] == drawn


def test_the_sheet_shrinks_each_output_made_as_it_comes_and_reads_none_twice(tmp_path):
    import dataclasses
    from collections import Counter

    from transcreate.run.plan import plan_run
    from transcreate.run.sheet import EarlySheet
    from transcreate.wiring import build, localize

    request = _long_campaign(tmp_path, 3)
    adapters = build(request)
    plan = plan_run(request, adapters)
    made = run_jobs(
        plan.jobs,
        JobContext(
            images=RowImages.of(adapters.creative.data),
            editor=adapters.editor,
            storage=adapters.storage,
        ),
        threads=2,
    )
    assert all(result.status == "ok" and result.attempts == 1 for result in made)
    reads: Counter[str] = Counter()
    get = adapters.storage.get

    def counted(key: str) -> bytes:
        reads[key] += 1
        return get(key)

    adapters.storage.get = counted  # type: ignore[method-assign]
    early = EarlySheet(adapters.storage)
    early.start(plan)
    for result in made[:-1]:
        early.add(result)
    # shrunk while the last edit is still out, not after it
    poll(lambda: sum(reads.values()) == len(made) - 1, "the thumbnails of the outputs so far")
    early.add(made[-1])
    early.link(made)
    outputs = {key: n for key, n in reads.items() if key.endswith(".png") and "sheet" not in key}
    assert len(outputs) == len(made) and set(outputs.values()) == {1}  # each read once
    assert adapters.storage.verify("long/contact-sheet.png") is None

    # found stored (a re-run), an output is not read for a sheet that already shows it
    reads.clear()
    rerun = EarlySheet(adapters.storage)
    rerun.start(plan)
    for result in made:
        rerun.add(dataclasses.replace(result, status="cached", attempts=0))
    rerun.link([dataclasses.replace(result, status="cached", attempts=0) for result in made])
    assert not [key for key in reads if key.endswith(".png") and "sheet" not in key]
    assert localize(request).counts["cached"] == len(made)


def test_a_rerun_checks_no_job_the_same_policy_passed_and_a_changed_policy_checks_them_all(
    tmp_path, monkeypatch
):
    from transcreate.run.plan import plan_run
    from transcreate.wiring import build, localize

    sheet = tmp_path / "c.csv"
    sheet.write_text("variant,headline\nv1,Sale today\nv2,Free gift\n", encoding="utf-8")
    image = str(Path(__file__).parents[2] / "examples" / "creative.png")
    request = RunRequest(
        campaign=str(sheet), image=image, out=str(tmp_path / "out"), locales=("en",)
    )
    assert localize(request).counts["ok"] == 2

    def planned(request: RunRequest) -> tuple[list[str], object]:
        adapters = build(request)
        checked: list[str] = []
        check = adapters.policy.check_job
        monkeypatch.setattr(
            adapters.policy, "check_job", lambda job: checked.append(job.variant) or check(job)
        )
        return checked, plan_run(request, adapters)

    checked, plan = planned(request)
    assert checked == [] and [job.variant for job in plan.jobs] == ["v1", "v2"]

    stricter = tmp_path / "policy.toml"
    stricter.write_text(
        'version = "t1"\n[[rule]]\nid = "gifts"\ndescription = "no gifts"\n'
        'phrases = { en = ["free gift"] }\n',
        encoding="utf-8",
    )
    checked, plan = planned(request.model_copy(update={"policy": str(stricter)}))
    assert sorted(checked) == ["v1", "v2"]  # another policy: every job is checked again
    assert [job.variant for job in plan.jobs] == ["v1"]
    assert [(cell.variant, cell.status) for cell in plan.settled] == [("v2", "blocked")]


def _long_campaign(tmp_path: Path, variants: int) -> RunRequest:
    sheet_csv = tmp_path / "long.csv"
    rows = "\n".join(f"v{index:03d},Sale {index},Diskon {index}" for index in range(variants))
    sheet_csv.write_text(f"variant,headline,headline:id\n{rows}\n", encoding="utf-8")
    return RunRequest(
        campaign=str(sheet_csv),
        image=str(Path(__file__).parents[2] / "examples" / "creative.png"),
        out=str(tmp_path / "out"),
        locales=("id", "en"),
    )


def test_a_run_gets_its_first_jobs_before_the_rest_is_planned_and_the_same_plan_in_the_end(
    tmp_path,
):
    import threading

    from transcreate.run import job_context
    from transcreate.run.plan import Planner, plan_run
    from transcreate.run.schedule import PlanAhead
    from transcreate.wiring import build

    request = _long_campaign(tmp_path, 40)
    adapters = build(request)
    release = threading.Event()

    class HeldPlanner(Planner):
        """Plans the first two variants at once, the others only once the test says so."""

        def expand(self, variants):  # type: ignore[no-untyped-def]
            if variants[0].variant not in ("v000", "v001"):
                assert release.wait(30), "the test never released the planner"
            return super().expand(variants)

    planned: list[object] = []
    ahead = PlanAhead(
        HeldPlanner(request, adapters),
        job_context(adapters, request),
        first=4,
        on_plan=[planned.append],
    )
    chunks = ahead.chunks()
    found, first = next(chunks)
    assert [job.variant for job in first] == ["v000", "v000"]  # one variant: its edits start
    more_found, more = next(chunks)  # while the rest of the first ``first`` jobs are planned
    found, first = found + more_found, first + more
    # the first jobs are there to edit while the rest of the campaign is not planned yet
    assert [(job.variant, job.locale) for job in first] == [
        ("v000", "id"), ("v000", "en"), ("v001", "id"), ("v001", "en"),
    ]  # fmt: skip
    assert found == [] and planned == []
    release.set()
    rest = [job for _, jobs in chunks for job in jobs]
    plan = ahead.plan()
    assert planned == [plan]
    whole = plan_run(request, adapters)  # planned at once: the very same jobs, in the same order
    assert [job.key for job in [*first, *rest]] == [job.key for job in plan.jobs]
    assert [job.key for job in plan.jobs] == [job.key for job in whole.jobs]
    assert plan.settled == whole.settled and len(plan.jobs) == 80


def test_a_planning_error_reaches_the_run_after_the_jobs_planned_before_it(tmp_path):
    from transcreate.run import job_context
    from transcreate.run.plan import Planner
    from transcreate.run.schedule import PlanAhead
    from transcreate.wiring import build

    request = _long_campaign(tmp_path, 10)

    class Broken(Planner):
        def expand(self, variants):  # type: ignore[no-untyped-def]
            if any(variant.variant == "v005" for variant in variants):
                raise RuntimeError("a bug in planning")
            return super().expand(variants)

    adapters = build(request)
    ahead = PlanAhead(Broken(request, adapters), job_context(adapters, request), first=2)
    taken = []
    with pytest.raises(RuntimeError, match="a bug in planning"):
        for _, jobs in ahead.chunks():
            taken += jobs
    assert {job.variant for job in taken} <= {f"v00{index}" for index in range(5)}
    with pytest.raises(RuntimeError, match="a bug in planning"):
        ahead.plan()


def test_a_run_that_stops_taking_jobs_stops_the_planning(tmp_path):
    import threading

    from transcreate.run import job_context
    from transcreate.run.plan import Planner
    from transcreate.run.schedule import PlanAhead
    from transcreate.wiring import build

    request = _long_campaign(tmp_path, 200)
    seen: list[str] = []
    closed = threading.Event()

    class Counting(Planner):
        def expand(self, variants):  # type: ignore[no-untyped-def]
            seen.append(variants[0].variant)
            if variants[0].variant != "v000":
                assert closed.wait(30)
            return super().expand(variants)

    adapters = build(request)
    ahead = PlanAhead(Counting(request, adapters), job_context(adapters, request), first=2)
    chunks = ahead.chunks()
    next(chunks)
    chunks.close()  # the run gave up (an error of its own): nothing more is planned for it
    closed.set()
    with pytest.raises(RuntimeError, match="stopped before it was planned"):
        ahead.plan()
    assert seen == ["v000", "v001"]  # the chunk under way is finished, no other is begun


def test_the_contact_sheet_has_a_page_for_every_variant_of_every_size(tmp_path):
    """Eight variants in six sizes are 48 rows: two pages of 24, every variant on one."""
    from PIL import Image

    from transcreate.run.plan import plan_run
    from transcreate.run.sheet import sheet_pages
    from transcreate.wiring import build, localize

    sheet_csv = tmp_path / "eight.csv"
    rows = "\n".join(f"v{index},Sale {index}" for index in range(8))
    sheet_csv.write_text(f"variant,headline\n{rows}\n", encoding="utf-8")
    image = tmp_path / "base.png"
    Image.new("RGB", (64, 64), "teal").save(image)
    request = RunRequest(
        campaign=str(sheet_csv),
        image=str(image),
        out=str(tmp_path / "out"),
        locales=("en",),
        sizes="base,square,story,landscape,300x250,728x90",
    )
    adapters = build(request, editor=ScriptedEditor())
    pages = sheet_pages(plan_run(request, adapters), [None, *range(5)])  # type: ignore[list-item]
    assert [len(page) for page in pages] == [4, 4]
    assert sorted(variant for page in pages for variant in page) == [f"v{i}" for i in range(8)]
    localize(request, adapters=adapters)
    folder = tmp_path / "out" / "eight"
    for name in ("contact-sheet.png", "contact-sheet-2.png"):
        with Image.open(folder / name) as sheet:
            assert sheet.height > 24 * 64 / 2  # 24 rows of thumbnails
    gallery = (folder / "index.html").read_text(encoding="utf-8")
    assert 'href="contact-sheet-2.png"' in gallery and "contact sheet 2" in gallery
