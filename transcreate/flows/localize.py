"""The localize-campaign flow: plan the jobs, render them in batches, review, publish.

Jobs are grouped into a bounded number of task runs: a task run costs Prefect ~10 ms of wall time
and ~50 ms of server CPU, so one per job would not scale to campaigns of thousands. Inside a batch
the jobs run concurrently, each with its own retries, and each job's status lands in the manifest.
Calls to a model endpoint also take a slot of the Prefect global concurrency limit
``transcreate-<backend>`` when one exists, so many flows share one GPU budget.
"""

from __future__ import annotations

import time
from typing import Any, cast, get_args
from uuid import UUID

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.flow_runs import pause_flow_run
from prefect.futures import as_completed
from prefect.input import RunInput
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from transcreate.callbacks import send_completion
from transcreate.jobs import EditJob
from transcreate.locales import SupportedLocale
from transcreate.manifest import JobResult, matrix
from transcreate.pipeline import (
    RunPlan,
    RunSummary,
    batches,
    plan_run,
    publish,
    run_sizes,
    run_with,
    write_contact_sheet,
    write_manifest,
)
from transcreate.request import RunInputs, RunOptions, RunRequest
from transcreate.storage import Storage
from transcreate.wiring import Adapters, built_once, forget

# Batch task runs side by side on this many threads. The edits in flight are bounded by the
# request's concurrency (one semaphore shared by every batch in the process), not by this.
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


class FlowOptions(RunOptions):
    """The run's settings, plus what only a flow run has."""

    review_timeout_hours: float = Field(
        default=72, gt=0, le=24 * 30, description="How long a run waits for a reviewer"
    )


# Storage keys are the cache (a finished job is found by key and reported as cached), and image
# bytes never pass through Prefect: tasks get the request and small job records only.
@task(name="render-batch", cache_policy=NO_CACHE)
def render_batch(request: RunRequest, image_sha256: str, jobs: list[EditJob]) -> list[JobResult]:
    """Edit and store one batch of jobs, with per-job retries."""
    adapters = built_once(request, image_sha256)
    return run_with(adapters, jobs, request)


@flow(
    name="localize-campaign",
    task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS),  # type: ignore[arg-type]
    validate_parameters=True,
)
def localize_campaign(
    image: str,
    campaign: str = "",
    rows: str = "",
    locales: list[SupportedLocale] = list(get_args(SupportedLocale)),  # noqa: B006, B008
    out: str = "out",
    review: bool = False,
    advanced: FlowOptions = FlowOptions(),  # noqa: B008 - a frozen model
) -> RunSummary:
    """Localize a campaign: every variant × locale, stored with a manifest.

    With ``review``, outputs go to a staging folder beside ``out`` and the run pauses for a
    reviewer's decision; only an approved run is published to ``out``.
    """
    inputs = RunInputs(campaign=campaign, rows=rows, image=image, locales=tuple(locales), out=out)
    options = RunOptions(**advanced.model_dump(exclude={"review_timeout_hours"}))
    request = RunRequest.from_parts(inputs, options)
    try:
        return _localize(request, review, advanced.review_timeout_hours)
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


def localize_request(request: RunRequest, review: bool = False) -> RunSummary:
    """Run the flow for a whole request."""
    return cast(RunSummary, localize_campaign(**flow_parameters(request, review)))


def _localize(request: RunRequest, review: bool, review_timeout_hours: float) -> RunSummary:
    logger = get_run_logger()
    started = time.monotonic()
    staging = f"{request.out.rstrip('/')}/_review/{runtime.flow_run.id}"
    working = request.model_copy(update={"out": staging}) if review else request
    adapters = built_once(working)
    logger.info("edits in flight: at most %d (%s)", adapters.concurrency, adapters.bound)

    plan, results = _render(working, adapters)
    summary = write_manifest(plan, results, adapters.storage, time.monotonic() - started)
    _publish_contact_sheet(plan, results, adapters.storage)

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
            _callback(request, adapters, "run.rejected", summary)
            return summary
        logger.info("approved by %s: publishing to %s", decision.reviewer, request.out)
        final = built_once(request).storage
        results = publish(results, plan.campaign.name, adapters.storage, final)
        summary = write_manifest(plan, results, final, time.monotonic() - started)
        _publish_contact_sheet(plan, results, final)

    create_table_artifact(
        key=_artifact_key(f"manifest-{plan.campaign.name}"),
        table=matrix(
            [*results, *plan.settled],
            plan.variants,
            list(request.locales),
            run_sizes(plan, results),
        ),
        description=f"**{plan.campaign.name}**: {summary.counts} — manifest {summary.manifest_csv}",
    )
    logger.info("done: %s; manifest %s", summary.counts, summary.manifest_csv)
    _callback(request, adapters, "run.completed", summary)
    return summary


def _render(request: RunRequest, adapters: Adapters) -> tuple[RunPlan, list[JobResult]]:
    logger = get_run_logger()
    plan = plan_run(request, adapters)
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
    progress = cast(
        UUID,
        create_progress_artifact(
            progress=0.0, description=f"Jobs finished in campaign {plan.campaign.name}"
        ),
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
        request.callback_url, payload, secret=adapters.callback_secret, wait=CALLBACK_RETRY_WAIT
    )
    if not delivered:
        get_run_logger().warning(
            "completion callback to %s was not delivered", request.callback_url
        )


def _artifact_key(text: str) -> str:
    # Artifact keys allow lower-case letters, digits and dashes only.
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


if __name__ == "__main__":
    from transcreate.resources import data_dir

    examples = data_dir("examples")
    print(
        localize_campaign(
            campaign=str(examples / "skincare-sale.csv"), image=str(examples / "creative.png")
        )
    )
