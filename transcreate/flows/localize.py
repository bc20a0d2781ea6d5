"""The localize-campaign flow: plan the jobs, render them in batches, review, publish.

Jobs are grouped into a bounded number of task runs: a task run costs Prefect ~10 ms of wall time
and ~50 ms of server CPU, so one per job would not scale to campaigns of thousands. Inside a batch
the jobs run concurrently, each with its own retries, and each job's status lands in the manifest.
Calls to a model endpoint also take a slot of the Prefect global concurrency limit
``transcreate-<backend>`` when one exists, so many flows share one GPU budget.
"""

from __future__ import annotations

import time
from typing import Any, Literal, cast
from uuid import UUID

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.futures import as_completed
from prefect.input import RunInput
from prefect.states import Cancelled, Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field, ValidationError

from transcreate.artifacts import manifest_markdown
from transcreate.callbacks import send_completion, shown
from transcreate.errors import TranscreateError
from transcreate.flows.names import draft_name, run_name, run_stamp
from transcreate.flows.report import (
    counts_in_words,
    failure_markdown,
    problem_sentence,
    progress_line,
    results_markdown,
    review_markdown,
    whole_percent,
)
from transcreate.flows.rows import artifact_key, reject_rows
from transcreate.jobs import EditJob
from transcreate.locales import DEFAULT_LOCALES, SupportedLocale
from transcreate.manifest import JobResult
from transcreate.request import RunInputs, RunOptions, RunRequest
from transcreate.run import Adapters, Run, RunPlan, RunSummary, job_context
from transcreate.run.execute import AuditLog
from transcreate.run.publish import publish, write_manifest
from transcreate.run.schedule import run_jobs
from transcreate.run.sheet import write_contact_sheet
from transcreate.settings import review_poll_seconds
from transcreate.storage import Storage, object_key, staging_destination
from transcreate.storage.drafts import discard
from transcreate.wiring import built_once, creative_hash, destination, forget

# Batches are small enough that the progress moves while the run works, and never one task run
# per job. A few batches run at a time and hand their jobs to one pool of threads (twice the edits
# in flight) that every batch of the run in the process shares: while one batch's task run starts
# or ends (a few API calls), the others' jobs keep every slot busy, and batches finish one after
# another, so progress moves steadily. (With every batch at once, all finished together at the
# end; with threads of its own per batch, the slots idled as each round of batches drained.) The
# edits in flight stay bounded by the request's concurrency: one semaphore shared by every batch.
MAX_BATCHES = 32
MIN_BATCH = 2
BATCH_WORKERS = 4


def batch_threads(concurrency: int) -> int:
    """Threads of one batch: its share of twice the edits in flight, rounded up. A batch holds at
    least this many jobs, so the batches running at once can fill every slot (batches of two
    jobs, four at a time, held eight edits in flight at a concurrency of 32)."""
    return -(-2 * concurrency // BATCH_WORKERS)


def batch_size(jobs: int, concurrency: int) -> int:
    """Jobs per task run for a run of about ``jobs`` jobs: at most `MAX_BATCHES` task runs, each
    holding at least its share of the threads (`batch_threads`)."""
    return max(-(-jobs // MAX_BATCHES), MIN_BATCH, batch_threads(concurrency))


LOG_STEP = 10  # percent between progress log lines
PROGRESS_SECONDS = 1.0  # between updates of the progress artifact
CALLBACK_RETRY_WAIT = 1.0  # first wait before re-sending an undelivered completion event


class ReviewDecision(RunInput):
    """What a reviewer answers in the Prefect UI (⋮ → Resume) when a run waits for approval."""

    decision: Literal["approve", "reject"] = Field(
        title="Decision",
        description="approve: publish the images to the destination; reject: publish nothing "
        "(the run ends as Rejected)",
    )
    reviewer: str = Field(
        title="Reviewer", min_length=1, description="Your name, kept in the run's log"
    )
    notes: str = Field(
        default="", title="Notes", description="Why, or what to change (optional; kept in the log)"
    )


class FlowOptions(RunOptions):
    """Settings for engineers: every one has a default that works, so leave them be unless told
    otherwise."""

    review_timeout_hours: float = Field(
        default=72, gt=0, le=24 * 30, description="How long a run waits for a reviewer"
    )


# Storage keys are the cache (a finished job is found by key and reported as cached), and image
# bytes never pass through Prefect: tasks get the request and small job records only.
@task(name="render-batch", cache_policy=NO_CACHE)
def render_batch(
    request: RunRequest,
    image_sha256: str,
    jobs: list[EditJob],
    run_id: str,
    ends: float | None = None,
) -> list[JobResult]:
    """Edit and store one batch of jobs, with per-job retries; each call is in the run's audit.
    ``ends``: the run's deadline (epoch seconds), the same for every batch wherever it runs."""
    adapters = built_once(request, image_sha256)
    audit = AuditLog(adapters.storage, jobs[0].campaign, run_id) if jobs else None
    context = job_context(adapters, request, audit, ends)
    threads = batch_threads(adapters.concurrency)  # how many of its jobs wait for a thread
    return run_jobs(jobs, context, threads=threads, pool=adapters.pool)


@flow(
    name="localize-campaign",
    task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS),  # type: ignore[arg-type]
    validate_parameters=True,
    flow_run_name=run_name,
)
def localize_campaign(
    *,
    campaign: str = "",
    rows: str = "",
    image: str = "",
    locales: list[SupportedLocale] = list(DEFAULT_LOCALES),  # noqa: B006
    out: str = "out",
    review: bool = False,
    translate: bool = False,
    advanced: FlowOptions = FlowOptions(),  # noqa: B008 - a frozen model
) -> Any:  # a State whose result is the RunSummary (called as a function: the RunSummary)
    """Localize a campaign: every variant × locale, stored with a manifest.

    With ``review``, outputs go to a staging folder beside ``out`` and the run pauses for a
    reviewer's decision; only an approved run is published to ``out``. Ends Completed (the
    counts in words as its message), Rejected (a reviewer said no: nothing published), or Failed
    with one sentence when the input cannot be used (no traceback: the sheet, the image or a
    setting is wrong, not the code).

    Args:
        campaign: Your campaign spreadsheet (.csv or .xlsx, one row per variant): an https://
            link (e.g. a Google Sheet published as CSV), an s3:// URI, or a path on the worker,
            relative to the folder the deployment was made from. Leave empty to paste the rows
            below instead.
        rows: Or paste the spreadsheet here: select the cells in Excel or Google Sheets, header
            row included, copy, and paste (CSV text works too). Used when campaign is empty. Up
            to about 500 KB of text (80,000 characters of Thai or Chinese): a bigger sheet goes
            in campaign, as a file or a link.
        image: The base creative to localize (PNG, JPEG or WebP): an https:// link, an s3:// URI
            or a path on the worker, relative to the folder the deployment was made from. Leave
            empty when every row has its own (an image column, or a product feed's image_link).
        locales: The languages to make, one image per variant each: id (Indonesian), th (Thai),
            zh (Chinese, Simplified), en (English), ms (Malay), vi (Vietnamese), fil
            (Filipino), zh-Hant (Chinese, Traditional), ja (Japanese), ko (Korean), hi (Hindi),
            km (Khmer), ar (Arabic, right to left), he (Hebrew, right to left).
        out: Where the images, the manifest and the gallery go: a folder on the worker (relative
            to the folder the deployment was made from) or s3://bucket/prefix. Images already
            made there are found again, not redone: use a new folder for a fresh run.
        review: Wait for a person to approve the images (on this run's page, ⋮ → Resume) before
            they are published to out; a rejected run publishes nothing.
        translate: Write the copy a language lacks (its headline:th, cta:th columns) by machine
            translation of the sheet's English; each translated image waits for your approval
            (see translations.csv in the results).
        advanced: Settings for engineers. Every one has a default that works on the built-in
            editor: leave them as they are unless you were told otherwise.
    """
    try:
        inputs = RunInputs(
            campaign=campaign, rows=rows, image=image, locales=tuple(locales), out=out,
            translate=translate,
        )  # fmt: skip
        options = RunOptions(**advanced.model_dump(exclude={"review_timeout_hours"}))
        if not campaign and not options.name:
            # Pasted rows have no file name: each paste is a campaign of its own, never the
            # last one's gallery and manifest overwritten.
            options = options.model_copy(update={"name": f"pasted-rows-{run_stamp()}"})
        request = RunRequest.from_parts(inputs, options)
    except ValidationError as error:
        return _refused(error)
    try:
        return _localize(request, review, advanced.review_timeout_hours)
    except TranscreateError as error:  # the user's input, said in a sentence; bugs still raise
        return _refused(error)
    finally:  # a long-lived worker process keeps no run's adapters
        forget(request.options)


def flow_parameters(request: RunRequest, review: bool = False) -> dict[str, Any]:
    """The flow's parameters for a whole request (what the CLI's --prefect and the inbox send)."""
    return {
        **request.inputs.model_dump(exclude={"locales"}),
        "locales": list(request.locales),
        "review": review,
        "advanced": FlowOptions(**request.options.model_dump()),
    }


class ReviewRejected(Exception):
    """A reviewer rejected the run (its state is Cancelled, named Rejected): what was made and
    not published, for a caller that ran the flow as a function."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(f"rejected: nothing of {summary.campaign} was published")
        self.summary = summary


def localize_request(request: RunRequest, review: bool = False) -> RunSummary:
    """Run the flow for a whole request; a refused input raises its TranscreateError; a rejected
    review returns its summary, unpublished."""
    try:
        return cast(RunSummary, localize_campaign(**flow_parameters(request, review)))
    except ReviewRejected as rejected:
        return rejected.summary


def _localize(request: RunRequest, review: bool, review_timeout_hours: float) -> State[RunSummary]:
    logger = get_run_logger()
    started = time.monotonic()
    # One draft per campaign, kept when a reviewer rejects: the next round after a fix finds
    # what it made (and what is published) instead of making everything again.
    staging = staging_destination(request.out, draft_name(request))
    working = request.model_copy(update={"out": staging}) if review else request
    adapters = built_once(working)
    logger.info("edits in flight: at most %d (%s)", adapters.concurrency, adapters.bound)

    run = Run(working, adapters, list_rejected_first=True)
    rejected = reject_rows(run, strict=request.strict, locales=request.locales)
    _render(run)
    summary = run.finish()
    plan, results = run.plan(), run.results
    if not review:  # under review the draft is linked from the review artifact only
        _publish_results(request, plan, results, summary, adapters.storage, run.drawn)

    if review:
        decision = _ask_reviewer(request, plan, summary, adapters.storage, review_timeout_hours)
        if decision is None:
            message = (
                f"No decision within {review_timeout_hours:g} hours, so nothing was published; "
                "run it again to review anew (finished images are found again, not redone)."
            )
            logger.warning(message)
            return Failed(message=message, data=summary.model_copy(update={"published": False}))
        notes = f": {decision.notes}" if decision.notes else ""
        _record_decision(plan.campaign.name, decision)
        if decision.decision == "reject":
            logger.warning("rejected by %s%s; nothing was published", decision.reviewer, notes)
            summary = summary.model_copy(update={"published": False})
            _callback(request, adapters, "run.rejected", summary)
            # Cancelled, not Completed: nothing was published, and the runs list must not
            # show a rejected run as a green success.
            message = f"Rejected by {decision.reviewer}{notes}; nothing was published"
            return Cancelled(name="Rejected", message=message, data=ReviewRejected(summary))
        logger.info("approved by %s%s: publishing to %s", decision.reviewer, notes, request.out)
        final = destination(request)  # the storage alone: no editor, no image download
        results = publish(results, plan.campaign.name, adapters.storage, final)
        summary = write_manifest(plan, results, final, time.monotonic() - started)
        _publish_results(request, plan, results, summary, final, None)
        discard(staging)  # published: the draft has served its purpose

    words = counts_in_words(summary.counts)
    logger.info("done: %s; manifest %s", words, summary.manifest_csv)
    _callback(request, adapters, "run.completed", summary)
    if rejected:  # the good rows were made; the run says plainly that some were not
        return Completed(
            name="Completed with rejected rows",
            message=f"{words}; {rejected} row(s) rejected (see the artifact rejected-rows)",
            data=summary,
        )
    return Completed(message=words, data=summary)


def _refused(error: Exception) -> State[RunSummary]:
    """End the run Failed with one plain sentence, the details in an artifact; no traceback."""
    sentence = problem_sentence(error)
    details = str(error).strip().splitlines()[1:] if isinstance(error, TranscreateError) else []
    get_run_logger().error(sentence)
    create_markdown_artifact(
        key="run-refused",
        markdown=failure_markdown(sentence, [line.strip() for line in details if line.strip()]),
        description="Why the run could not start",
    )
    # A Python caller (the CLI's --prefect, the inbox) gets the error back from the state.
    cause = error if isinstance(error, TranscreateError) else ValueError(sentence)
    return Failed(message=sentence, data=cause)


def _record_decision(campaign: str, decision: ReviewDecision) -> None:
    """The review artifact, again, saying who decided what (a new version of the same key)."""
    verb = "Approved" if decision.decision == "approve" else "Rejected"
    notes = f": {decision.notes}" if decision.notes else ""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    create_markdown_artifact(
        key=artifact_key(f"review-{campaign}"),
        markdown=f"# {verb} by {decision.reviewer}\n\n{when}{notes}\n",
        description=f"{campaign}: {verb.lower()} by {decision.reviewer}",
    )


def _render(run: Run) -> None:
    """Drive the run on Prefect: its jobs in batches of task runs, their results reported back
    with progress in the logs and a progress artifact."""
    logger = get_run_logger()
    request, adapters, campaign = run.request, run.adapters, run.campaign
    # Batches start as their jobs are planned (the first within a few hundredths of a second);
    # outputs stored already are reported at once, and only the jobs left become task runs.
    cells = len(campaign.variants) * len(request.locales) * len(request.size_names)
    size = batch_size(cells, adapters.concurrency)
    creative = creative_hash(adapters)
    futures, waiting = [], []
    for job in run.jobs():
        waiting.append(job)
        if len(waiting) == size:
            futures.append(render_batch.submit(request, creative, waiting, run.run_id, run.ends))
            waiting = []
    if waiting:
        futures.append(render_batch.submit(request, creative, waiting, run.run_id, run.ends))
    plan = run.plan()
    results = run.results  # the outputs found stored so far; batches add theirs
    total = len(plan.jobs)
    logger.info(
        "%s: %d variants × %d locales → %d images to make (%d skipped)",
        campaign.name,
        len(campaign.variants),
        len(request.locales),
        total,
        len(plan.settled),
    )
    if results:
        logger.info("%d of %d images found made already", len(results), total)
    shown = whole_percent(len(results), total)
    progress = cast(
        UUID,
        create_progress_artifact(
            progress=float(shown), description=f"Images made for {campaign.name} (of {total})"
        ),
    )
    failed, logged, updated = 0, 0, time.monotonic()
    for future in as_completed(futures):
        batch = future.result()
        for result in batch:
            run.report(result)
        failed += sum(result.status == "failed" for result in batch)
        percent = whole_percent(len(results), total)
        if percent // LOG_STEP > logged // LOG_STEP:
            logger.info(progress_line(len(results), total, failed))
            logged = percent
        # One API call per update, made here while batches finish: at most one a second (the
        # UI looks every few seconds), and always the last.
        now = time.monotonic()
        if percent > shown and (now - updated >= PROGRESS_SECONDS or len(results) == total):
            update_progress_artifact(progress, float(percent))
            shown, updated = percent, now
    if shown < 100:
        update_progress_artifact(progress, 100.0)


def _publish_results(
    request: RunRequest,
    plan: RunPlan,
    results: list[JobResult],
    summary: RunSummary,
    storage: Storage,
    drawn: tuple[str, int] | None,
) -> None:
    """Store the contact sheet (unless ``drawn`` already: its link and the variants shown); post
    the outcome (with it inline) and the linked manifest."""
    campaign = plan.campaign.name
    sheet, shown = drawn or write_contact_sheet(plan, results, storage)
    linked = [*results, *plan.settled]  # storage links open in a browser (see storage.url)
    create_markdown_artifact(
        key=artifact_key(f"results-{campaign}"),
        markdown=results_markdown(
            campaign,
            summary.counts,
            contact_sheet=sheet,
            manifest=storage.url(object_key(campaign, "manifest.csv")),
            gallery=_gallery(request, campaign, storage),
            shown=shown,
            variants=len(plan.variants),
            failures=summary.failures,
        ),
        description=f"{campaign}: {counts_in_words(summary.counts)}",
    )
    create_markdown_artifact(
        key=artifact_key(f"manifest-{campaign}"),
        markdown=manifest_markdown(linked, plan.variants, list(request.locales)),
        description=f"{campaign}: every image, by variant and locale",
    )


def _ask_reviewer(
    request: RunRequest,
    plan: RunPlan,
    summary: RunSummary,
    storage: Storage,
    timeout_hours: float,
) -> ReviewDecision | None:
    """Say what to look at and how to decide, then wait; None when nobody decided in time."""
    campaign = plan.campaign.name
    sheet = storage.url(object_key(campaign, "contact-sheet.png"))
    text = review_markdown(
        campaign,
        contact_sheet=sheet,
        gallery=_gallery(request, campaign, storage),
        counts=summary.counts,
        timeout_hours=timeout_hours,
        translations=plan.translations,
    )
    create_markdown_artifact(
        key=artifact_key(f"review-{campaign}"),
        markdown=text,
        description=f"{campaign} waits for a reviewer: ⋮ → Resume to approve or reject",
    )
    get_run_logger().info(
        "waiting for a reviewer: look at the contact sheet %s, then press Resume at the top of "
        "this run's page (or ⋮ → Resume) and approve or reject",
        sheet,
    )
    try:
        return pause_flow_run(
            wait_for_input=ReviewDecision.with_initial_data(description=text),
            timeout=int(timeout_hours * 3600),
            poll_interval=review_poll_seconds(),
        )
    except FlowPauseTimeout:
        return None


def _gallery(request: RunRequest, campaign: str, storage: Storage) -> str | None:
    """The gallery page's link, when the run wrote one."""
    key = object_key(campaign, "index.html")
    return storage.url(key) if storage.verify(key) is None else None


def _callback(request: RunRequest, adapters: Adapters, event: str, summary: RunSummary) -> None:
    if not request.callback_url:
        return
    payload = {
        "event": event,
        "run_id": str(runtime.flow_run.id),
        "campaign": summary.campaign,
        "counts": summary.counts,
        "manifest": summary.manifest_csv if summary.published else None,
        "published": summary.published,
    }
    delivered = send_completion(
        request.callback_url,
        payload,
        secret=adapters.callback_secret,
        wait=CALLBACK_RETRY_WAIT,
        private_hosts=adapters.callback_hosts,
    )
    if not delivered:
        get_run_logger().warning(
            "completion callback to %s was not delivered", shown(request.callback_url)
        )


if __name__ == "__main__":
    from transcreate.resources import data_dir

    examples = data_dir("examples")
    print(
        localize_campaign(
            campaign=str(examples / "skincare-sale.csv"), image=str(examples / "creative.png")
        )
    )
