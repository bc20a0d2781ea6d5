"""The localize-campaign flow: plan the jobs, render them in batches, publish the manifest.

Jobs are grouped into a bounded number of task runs: a task run costs Prefect ~10 ms of wall time
and ~50 ms of server CPU, so one per job would not scale to campaigns of thousands. Inside a batch
the jobs run concurrently, each with its own retries, and each job's status lands in the manifest.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from transcreate.editors import Editor, open_editor
from transcreate.images import BaseCreative, load_base_creative
from transcreate.jobs import EditJob
from transcreate.manifest import JobResult, matrix
from transcreate.pipeline import RunRequest, RunSummary, batches, plan_run, run_jobs, write_manifest
from transcreate.storage import Storage, open_storage

# Batches run side by side on this many threads; each batch shares out the request's concurrency.
BATCH_WORKERS = 4
MAX_BATCHES = 32


@lru_cache(maxsize=8)
def _editor(backend: str, mode: str) -> Editor:
    return open_editor(backend, mode)


@lru_cache(maxsize=8)
def _storage(destination: str) -> Storage:
    return open_storage(destination)


@lru_cache(maxsize=4)
def _creative(path: str, sha256: str) -> BaseCreative:
    creative = load_base_creative(path)
    if creative.sha256 != sha256:  # the file changed under a running flow
        raise RuntimeError(f"{path} changed while the run was going; start the run again")
    return creative


# Storage keys are the cache (a finished job is found by key and reported as cached), and image
# bytes never pass through Prefect: tasks get the request and small job records only.
@task(name="render-batch", cache_policy=NO_CACHE)
def render_batch(request: RunRequest, image_sha256: str, jobs: list[EditJob]) -> list[JobResult]:
    """Edit and store one batch of jobs, with per-job retries."""
    return run_jobs(
        jobs,
        image=_creative(request.image, image_sha256).data,
        editor=_editor(request.backend, request.effective_mode),
        storage=_storage(request.out),
        concurrency=max(1, math.ceil(request.concurrency / BATCH_WORKERS)),
        retries=request.retries,
        retry_wait=request.retry_wait,
    )


@flow(
    name="localize-campaign",
    task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS),
    validate_parameters=True,
)
def localize_campaign(request: RunRequest) -> RunSummary:
    """Localize a campaign: every variant × locale, stored with a manifest."""
    logger = get_run_logger()
    started = time.monotonic()
    editor = _editor(request.backend, request.effective_mode)
    storage = _storage(request.out)
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
    for future in as_completed(futures):
        results.extend(future.result())
        update_progress_artifact(progress, 100.0 * len(results) / max(1, len(plan.jobs)))

    summary = write_manifest(plan, results, storage, time.monotonic() - started)
    create_table_artifact(
        key=_artifact_key(f"manifest-{plan.campaign.name}"),
        table=matrix([*results, *plan.settled], plan.variants, list(request.locales)),
        description=f"**{plan.campaign.name}**: {summary.counts} — manifest {summary.manifest_csv}",
    )
    logger.info("done: %s; manifest %s", summary.counts, summary.manifest_csv)
    return summary


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
