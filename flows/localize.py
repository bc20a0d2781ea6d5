"""The localize-campaign flow: plan the jobs, render them in batches, review, publish.

Jobs are grouped into a bounded number of task runs: a task run costs Prefect ~10 ms of wall time
and ~50 ms of server CPU, so one per job would not scale to campaigns of thousands. Inside a batch
the jobs run concurrently, each with its own retries, and each job's status lands in the manifest.
Calls to a model endpoint also take a slot of the Prefect global concurrency limit
``transcreate-<backend>`` when one exists, so many flows share one GPU budget.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.flow_runs import pause_flow_run
from prefect.futures import as_completed
from prefect.input import RunInput
from prefect.task_runners import ThreadPoolTaskRunner

from transcreate.callbacks import send_completion
from transcreate.editors import Editor, open_editor
from transcreate.editors.http import ModelEditor
from transcreate.images import BaseCreative, load_base_creative
from transcreate.jobs import EditJob
from transcreate.manifest import JobResult, matrix
from transcreate.pipeline import (
    RunPlan,
    RunRequest,
    RunSummary,
    batches,
    offer_image_link,
    output_checks,
    plan_run,
    publish,
    run_jobs,
    write_contact_sheet,
    write_manifest,
)
from transcreate.storage import Storage, open_storage, read_input

# Batches run side by side on this many threads; each batch shares out the request's concurrency.
BATCH_WORKERS = 4
MAX_BATCHES = 32
REVIEW_POLL_SECONDS = 10  # how often a paused run checks for the reviewer's answer
CALLBACK_RETRY_WAIT = 1.0  # first wait before re-sending an undelivered completion event
PROGRESS_STEP = 10.0  # percent between updates of the progress artifact


class ReviewDecision(RunInput):
    """What a reviewer answers in the Prefect UI when a run waits for approval."""

    approve: bool
    reviewer: str
    notes: str = ""


@lru_cache(maxsize=8)
def _editor(backend: str, mode: str) -> Editor:
    editor = open_editor(backend, mode)
    model = getattr(editor, "model", editor)  # model+overlay wraps the model editor
    if isinstance(model, ModelEditor) and _limit_exists(f"transcreate-{backend}"):
        model.gate = lambda: _endpoint_slot(backend)
    return editor


def _limit_exists(name: str) -> bool:
    # Taking a slot costs two API calls per model call, even when no limit of that name exists:
    # look once, and pay only when the limit is there.
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return False
    return True


@contextmanager
def _endpoint_slot(backend: str) -> Iterator[None]:
    with concurrency(f"transcreate-{backend}", occupy=1, strict=False):
        yield


@lru_cache(maxsize=8)
def _storage(destination: str) -> Storage:
    return open_storage(destination)


@lru_cache(maxsize=4)
def _creative(path: str, sha256: str, max_bytes: int) -> BaseCreative:
    creative = load_base_creative(path, data=read_input(path, max_bytes), max_bytes=max_bytes)
    if creative.sha256 != sha256:  # the file changed under a running flow
        raise RuntimeError(f"{path} changed while the run was going; start the run again")
    return creative


# Storage keys are the cache (a finished job is found by key and reported as cached), and image
# bytes never pass through Prefect: tasks get the request and small job records only.
@task(name="render-batch", cache_policy=NO_CACHE)
def render_batch(request: RunRequest, image_sha256: str, jobs: list[EditJob]) -> list[JobResult]:
    """Edit and store one batch of jobs, with per-job retries."""
    image = _creative(request.image, image_sha256, int(request.max_image_mb * 2**20)).data
    editor = _editor(request.backend, request.effective_mode)
    offer_image_link(editor, request, image)
    return run_jobs(
        jobs,
        image=image,
        editor=editor,
        storage=_storage(request.out),
        concurrency=max(1, math.ceil(request.concurrency / BATCH_WORKERS)),
        retries=request.retries,
        retry_wait=request.retry_wait,
        checks=output_checks(request),
    )


@flow(
    name="localize-campaign",
    task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS),
    validate_parameters=True,
)
def localize_campaign(
    request: RunRequest,
    review: bool = False,
    review_timeout_hours: float = 72,
    callback_url: str | None = None,
    callback_secret_block: str | None = None,
) -> RunSummary:
    """Localize a campaign: every variant × locale, stored with a manifest.

    With ``review``, outputs go to a staging folder beside ``out`` and the run pauses for a
    reviewer's decision; only an approved run is published to ``out``. ``callback_url`` receives
    a JSON event when the run ends, signed with HMAC-SHA256 when a secret is configured
    (``TRANSCREATE_CALLBACK_SECRET`` or the named Prefect Secret block).
    """
    logger = get_run_logger()
    started = time.monotonic()
    final = _storage(request.out)
    staging = f"{request.out.rstrip('/')}/_review/{runtime.flow_run.id}"
    working = request.model_copy(update={"out": staging}) if review else request

    plan, results = _render(working)
    summary = write_manifest(plan, results, _storage(working.out), time.monotonic() - started)
    _publish_contact_sheet(plan, results, _storage(working.out))

    if review:
        logger.info("waiting for a reviewer: outputs are in %s", staging)
        decision = pause_flow_run(
            wait_for_input=ReviewDecision,
            timeout=int(review_timeout_hours * 3600),
            poll_interval=REVIEW_POLL_SECONDS,
        )
        if not decision.approve:
            logger.warning("rejected by %s: %s", decision.reviewer, decision.notes)
            summary = summary.model_copy(update={"published": False})
            _callback(callback_url, callback_secret_block, "run.rejected", summary)
            return summary
        logger.info("approved by %s: publishing to %s", decision.reviewer, request.out)
        results = publish(results, plan.campaign.name, _storage(staging), final)
        summary = write_manifest(plan, results, final, time.monotonic() - started)
        _publish_contact_sheet(plan, results, final)

    create_table_artifact(
        key=_artifact_key(f"manifest-{plan.campaign.name}"),
        table=matrix([*results, *plan.settled], plan.variants, list(request.locales)),
        description=f"**{plan.campaign.name}**: {summary.counts} — manifest {summary.manifest_csv}",
    )
    logger.info("done: %s; manifest %s", summary.counts, summary.manifest_csv)
    _callback(callback_url, callback_secret_block, "run.completed", summary)
    return summary


def _render(request: RunRequest) -> tuple[RunPlan, list[JobResult]]:
    logger = get_run_logger()
    editor = _editor(request.backend, request.effective_mode)
    plan = plan_run(request, editor.identity)
    for problem in plan.campaign.problems:
        logger.warning("rejected: %s", problem)
    logger.info(
        "%s: %d variants × %d locales → %d jobs (%d skipped)",
        plan.campaign.name,
        len(plan.campaign.variants),
        len(request.locales),
        len(plan.jobs),
        len(plan.settled),
    )
    progress = create_progress_artifact(
        progress=0.0, description=f"Jobs finished in campaign {plan.campaign.name}"
    )
    futures = [
        render_batch.submit(request, plan.creative.sha256, batch)
        for batch in batches(plan.jobs, max_batches=MAX_BATCHES)
    ]
    results: list[JobResult] = []
    shown = 0.0
    for future in as_completed(futures):
        results.extend(future.result())
        done = 100.0 * len(results) / max(1, len(plan.jobs))
        if done - shown >= PROGRESS_STEP or done == 100.0:  # one API call per step, not per batch
            update_progress_artifact(progress, done)
            shown = done
    if not futures:
        update_progress_artifact(progress, 100.0)
    return plan, results


def _publish_contact_sheet(plan: RunPlan, results: list[JobResult], storage: Storage) -> None:
    link, shown = write_contact_sheet(plan, results, storage)
    campaign = plan.campaign.name
    create_markdown_artifact(
        key=_artifact_key(f"contact-sheet-{campaign}"),
        markdown=f"# {campaign}\n\nLocales across, the first {shown} of "
        f"{len(plan.variants)} variants down.\n\n![contact sheet]({link})\n",
        description=f"Contact sheet of {campaign}",
    )


def _callback(url: str | None, secret_block: str | None, event: str, summary: RunSummary) -> None:
    if not url:
        return
    secret = os.environ.get("TRANSCREATE_CALLBACK_SECRET")
    if secret_block:
        from prefect.blocks.system import Secret

        secret = str(Secret.load(secret_block).get())
    payload = {
        "event": event,
        "run_id": str(runtime.flow_run.id),
        "campaign": summary.campaign,
        "counts": summary.counts,
        "manifest": summary.manifest_csv if summary.published else None,
        "published": summary.published,
    }
    if not send_completion(url, payload, secret=secret, wait=CALLBACK_RETRY_WAIT):
        get_run_logger().warning("completion callback to %s was not delivered", url)


def _artifact_key(text: str) -> str:
    # Artifact keys allow lower-case letters, digits and dashes only.
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


if __name__ == "__main__":
    from transcreate.resources import data_dir

    examples = data_dir("examples")
    print(
        localize_campaign(
            RunRequest(
                campaign=str(examples / "skincare-sale.csv"), image=str(examples / "creative.png")
            )
        )
    )
