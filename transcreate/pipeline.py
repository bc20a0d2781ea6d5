"""Run a campaign: plan (read, check, expand) → edit each job → store → manifest.

The Prefect flow (transcreate/flows/localize.py) and the CLI both call these functions; the flow
only adds task runs, artifacts and a server around them.
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, Field
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from transcreate import __version__
from transcreate.campaign import Campaign, RowProblem, read_campaign
from transcreate.contact_sheet import contact_sheet
from transcreate.editors import Editor
from transcreate.errors import (
    CampaignError,
    RetryableEditError,
    TranscreateError,
)
from transcreate.images import BaseCreative
from transcreate.instructions import template_names
from transcreate.jobs import EditJob, expand
from transcreate.layout import read_layout
from transcreate.manifest import (
    DONE_STATUSES,
    JobResult,
    audit_lines,
    count_by_status,
    matrix,
    matrix_csv,
    records_json,
)
from transcreate.policy import Policy
from transcreate.quality import OutputChecks
from transcreate.request import RunRequest as RunRequest
from transcreate.storage import (
    Storage,
    object_key,
    output_key,
    read_input,
)
from transcreate.wiring import Adapters, build

logger = logging.getLogger("transcreate")

OnResult = Callable[[JobResult], None]
CONTACT_SHEET_VARIANTS = 24  # rows of the contact sheet (variants × sizes)


def _new_run_id() -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RunPlan:
    """A checked campaign, ready to run: jobs to do and cells already settled as skipped."""

    request: RunRequest
    campaign: Campaign
    creative: BaseCreative
    jobs: tuple[EditJob, ...]
    settled: tuple[JobResult, ...]  # skipped, rejected and blocked cells, known before any edit
    run_id: str = field(default_factory=_new_run_id)

    @property
    def variants(self) -> list[str]:
        return [variant.variant for variant in self.campaign.variants]


class RunSummary(BaseModel):
    """The small result of a run: counts, where the manifest is, and what went wrong."""

    campaign: str
    counts: dict[str, int]
    manifest_csv: str
    manifest_json: str
    problems: list[str] = Field(default_factory=list)  # rejected rows
    failures: list[str] = Field(default_factory=list)  # failed jobs
    flagged: list[str] = Field(default_factory=list)  # blocked jobs and outputs to review
    warnings: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    published: bool = True  # False when a reviewer rejected the run: nothing reached `out`

    @property
    def succeeded(self) -> bool:
        return self.published and not (self.problems or self.failures or self.flagged)


def plan_run(request: RunRequest, adapters: Adapters) -> RunPlan:
    """Read and check the campaign, and expand every variant × locale into jobs."""
    campaign = read_campaign(
        request.campaign,
        data=read_input(request.campaign),
        name=request.name or None,
        templates=template_names(),
        sheet=request.sheet or None,
    )
    if request.strict and campaign.problems:
        listed = "\n".join(f"  {problem}" for problem in campaign.problems)
        raise CampaignError(f"{len(campaign.problems)} row(s) rejected (strict mode):\n{listed}")
    if not campaign.variants and not campaign.problems:
        raise CampaignError(f"{campaign.source}: no rows; add one row per variant under the header")
    creative = adapters.creative
    expansion = expand(
        campaign,
        request.locales,
        image_sha256=creative.sha256,
        backend=adapters.editor.identity,
        mode=request.effective_mode,
        allow_fallback=request.allow_fallback,
        sizes=request.size_names,
    )
    settled = [
        JobResult(skip.variant, skip.locale, "skipped", error=skip.reason)
        for skip in expansion.skipped
    ]
    settled += _rejected_rows(campaign, request.locales)
    jobs, blocked = guard(expansion.jobs, request, adapters.policy)
    return RunPlan(request, campaign, creative, tuple(jobs), tuple(settled + blocked))


def guard(
    jobs: Sequence[EditJob], request: RunRequest, policy: Policy
) -> tuple[list[EditJob], list[JobResult]]:
    """Refuse, before anything is paid for, jobs the policy blocks or a model would not take."""
    limit = request.max_instruction_chars
    sends_instruction = request.effective_mode != "overlay"
    allowed, blocked = [], []
    for job in jobs:
        match = policy.check_job(job)
        reason = f"policy {policy.version}: {match}" if match else None
        if reason is None and sends_instruction and len(job.instruction) > limit:
            reason = (
                f"the instruction is {len(job.instruction)} characters; the limit is {limit} "
                "(shorten the copy or raise max_instruction_chars)"
            )
        if reason is None:
            allowed.append(job)
        else:
            blocked.append(
                JobResult(
                    job.variant,
                    job.locale,
                    "blocked",
                    instruction=job.instruction,
                    backend=job.backend,
                    key=job.key,
                    error=reason,
                    size=job.size,
                )
            )
    return allowed, blocked


def _rejected_rows(campaign: Campaign, locales: Sequence[str]) -> list[JobResult]:
    """One skipped cell per locale for each rejected row, named by its variant id when that is
    readable and not also a valid row's (a rejected duplicate must not hide the valid row)."""
    valid = {variant.variant for variant in campaign.variants}
    by_row: dict[int, list[RowProblem]] = {}
    for problem in campaign.problems:
        by_row.setdefault(problem.row, []).append(problem)
    results = []
    for row, row_problems in by_row.items():
        named = next((problem.variant for problem in row_problems if problem.variant), None)
        variant = named if named and named not in valid else f"row-{row}"
        reason = "; ".join(str(problem) for problem in row_problems)
        results += [JobResult(variant, locale, "skipped", error=reason) for locale in locales]
    return results


def process_job(
    job: EditJob,
    *,
    image: bytes,
    editor: Editor,
    storage: Storage,
    retries: int = 2,
    retry_wait: float = 1.0,
    checks: OutputChecks | None = None,
    slots: AbstractContextManager[Any] | None = None,
) -> JobResult:
    """Edit one job and store it, unless its output is stored already. Never raises.

    ``slots`` bounds the edits in flight across the run; a retry's wait holds no slot."""
    started = time.monotonic()
    key = output_key(job.campaign, job.locale, job.variant, job.key, job.size)
    common: dict[str, Any] = {
        "size": job.size,
        "instruction": job.instruction,
        "backend": job.backend,
        "key": job.key,
    }
    calls: list[dict[str, Any]] = []
    try:
        if storage.exists(key):
            reason = None
            if checks is not None:  # a stored output is only as good as its last check
                reason = checks.review_reason(job, image, storage.get(key))
            reason = _review(job, reason)
            return JobResult(
                job.variant,
                job.locale,
                "needs_review" if reason else "cached",
                uri=storage.uri(key),
                link=storage.url(key),
                error=reason,
                **common,
            )
        for attempt in retrying(retries, retry_wait):
            with attempt, slots or nullcontext():
                edited = _attempt(job, image, editor, calls)
        reason = checks.review_reason(job, image, edited) if checks is not None else None
        reason = _review(job, reason)
        if job.size is not None:
            common["reframe"] = _reframe_record(edited)
        metadata = {"variant": job.variant, "locale": job.locale, "key": job.key}
        uri = storage.put(key, edited, "image/png", {**metadata, "backend": job.backend})
        return JobResult(
            job.variant,
            job.locale,
            "needs_review" if reason else "ok",
            uri=uri,
            link=storage.url(key),
            seconds=round(time.monotonic() - started, 3),
            attempts=len(calls),
            error=reason,
            calls=tuple(calls),
            **common,
        )
    except Exception as error:  # one job's failure is recorded, never sinks the batch
        if not isinstance(error, TranscreateError):
            logger.exception("unexpected error in variant %s, locale %s", job.variant, job.locale)
        message = str(error) if isinstance(error, TranscreateError) else repr(error)
        if job.variant not in message:
            message = f"variant {job.variant}, locale {job.locale}: {message}"
        return JobResult(
            job.variant,
            job.locale,
            "failed",
            seconds=round(time.monotonic() - started, 3),
            attempts=len(calls),
            error=message,
            calls=tuple(calls),
            **common,
        )


def _reframe_record(png: bytes) -> dict[str, Any] | None:
    """How the built-in editor reframed the base and what copy it dropped, for the manifest (a
    stored output found again is not read back for it: a re-run costs nothing)."""
    record = read_layout(png)
    reframe = record.get("reframe") if record else None
    if not isinstance(reframe, dict):
        return None
    return {**reframe, "dropped": (record or {}).get("dropped", [])}


def _review(job: EditJob, check_reason: str | None) -> str | None:
    """Why a made output needs a person's look: its copy fell back, or a check flagged it."""
    return "; ".join(reason for reason in (job.fallback, check_reason) if reason) or None


def _attempt(job: EditJob, image: bytes, editor: Editor, calls: list[dict[str, Any]]) -> bytes:
    """One edit, recorded for the audit log whatever its outcome."""
    record: dict[str, Any] = {
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "variant": job.variant,
        "locale": job.locale,
        "job_key": job.key,
        "backend": job.backend,
        "attempt": len(calls) + 1,
        "bytes_in": len(image),
    }
    calls.append(record)
    started = time.monotonic()
    try:
        edited = editor.edit(job, image)
    except RetryableEditError as error:
        record.update(status="retryable", error=str(error))
        raise
    except Exception as error:
        record.update(status="failed", error=str(error))
        raise
    finally:
        record["seconds"] = round(time.monotonic() - started, 3)
    record.update(status="ok", bytes_out=len(edited))
    return edited


def retrying(retries: int, retry_wait: float) -> Retrying:
    """Attempts of one edit: RetryableEditError is retried ``retries`` times, nothing else is."""
    return Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=_retry_wait(retry_wait),
        retry=retry_if_exception_type(RetryableEditError),
        reraise=True,
    )


def _retry_wait(first: float) -> Callable[[RetryCallState], float]:
    """Exponential backoff with jitter (so retries of many jobs don't arrive together), or the
    server's Retry-After when it asked for longer."""
    backoff = wait_exponential(multiplier=first, max=60 * first) + wait_random(0, first)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None) or 0.0
        return max(backoff(state), asked)

    return wait


def run_jobs(
    jobs: Sequence[EditJob],
    *,
    image: bytes,
    editor: Editor,
    storage: Storage,
    concurrency: int,
    retries: int = 2,
    retry_wait: float = 1.0,
    checks: OutputChecks | None = None,
    slots: AbstractContextManager[Any] | None = None,
    on_result: OnResult | None = None,
) -> list[JobResult]:
    """Run jobs on ``concurrency`` threads; results in the order of ``jobs``. ``slots``, when
    given, bounds the edits in flight across every batch that shares it."""
    results: list[JobResult | None] = [None] * len(jobs)
    workers = max(1, min(concurrency, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edit") as pool:
        futures = {
            pool.submit(
                process_job,
                job,
                image=image,
                editor=editor,
                storage=storage,
                retries=retries,
                retry_wait=retry_wait,
                checks=checks,
                slots=slots,
            ): index
            for index, job in enumerate(jobs)
        }
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    return [result for result in results if result is not None]


def run_with(
    adapters: Adapters,
    jobs: Sequence[EditJob],
    request: RunRequest,
    on_result: OnResult | None = None,
) -> list[JobResult]:
    """`run_jobs` on a run's adapters: its creative, editor, storage, checks and limit."""
    return run_jobs(
        jobs,
        image=adapters.creative.data,
        editor=adapters.editor,
        storage=adapters.storage,
        concurrency=adapters.concurrency,
        retries=request.retries,
        retry_wait=request.retry_wait,
        checks=adapters.checks,
        slots=adapters.slots,
        on_result=on_result,
    )


def write_manifest(
    plan: RunPlan, results: Sequence[JobResult], storage: Storage, seconds: float
) -> RunSummary:
    """Write manifest.csv (the matrix) and manifest.json (every job) beside the outputs."""
    sizes = run_sizes(plan, results)
    rank = {size: index for index, size in enumerate(sizes)}
    everything = sorted(
        [*results, *plan.settled],
        key=lambda r: (_order(plan, r.variant), rank.get(r.size, -1), r.locale),
    )
    locales = list(plan.request.locales)
    variants = plan.variants
    table = matrix(everything, variants, locales, sizes)
    run_info = {
        "campaign": plan.campaign.name,
        "source": plan.campaign.source,
        "image": plan.creative.name,
        "image_sha256": plan.creative.sha256,
        "locales": locales,
        "sizes": [size or "base" for size in sizes],
        "backend": plan.request.backend,
        "mode": plan.request.effective_mode,
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "run": plan.run_id,
        "transcreate": __version__,
    }
    csv_uri = storage.put(
        object_key(plan.campaign.name, "manifest.csv"),
        matrix_csv(table, locales),
        "text/csv; charset=utf-8",
    )
    json_uri = storage.put(
        object_key(plan.campaign.name, "manifest.json"),
        records_json(everything, run_info),
        "application/json",
    )
    audit = audit_lines(results, plan.run_id)
    if audit:  # one file per run, so runs never overwrite each other's record
        key = object_key(plan.campaign.name, "audit", f"{plan.run_id}.jsonl")
        storage.put(key, audit, "application/x-ndjson")
    return RunSummary(
        campaign=plan.campaign.name,
        counts=count_by_status(everything),
        manifest_csv=csv_uri,
        manifest_json=json_uri,
        problems=[str(problem) for problem in plan.campaign.problems],
        failures=[r.error or f"{r.variant}/{r.locale}" for r in results if r.status == "failed"],
        flagged=[
            f"{r.variant}/{r.locale} {r.status}: {r.error}"
            for r in everything
            if r.status in ("blocked", "needs_review")
        ],
        warnings=list(plan.campaign.warnings),
        seconds=round(seconds, 3),
    )


def run_sizes(plan: RunPlan, results: Sequence[JobResult]) -> list[str | None]:
    """The run's sizes in order (None: the base's own), then any a row's sizes column added."""
    made = [job.size for job in plan.jobs] + [result.size for result in results]
    return list(dict.fromkeys([*plan.request.size_names, *made]))


def write_contact_sheet(
    plan: RunPlan, results: Sequence[JobResult], storage: Storage
) -> tuple[str, int]:
    """Store ``contact-sheet.png`` beside the manifest; returns its link and the variants shown.

    A contact sheet is for eyes: the first variants tell whether a run looks right, and decoding
    thousands of outputs would cost more than rendering them.
    """
    campaign = plan.campaign.name

    def read(result: JobResult) -> bytes:
        return storage.get(
            output_key(campaign, result.locale, result.variant, result.key or "", result.size)
        )

    sizes = run_sizes(plan, results)
    variants = plan.variants[: max(1, CONTACT_SHEET_VARIANTS // len(sizes))]
    cells = [*results, *plan.settled]  # skipped and blocked cells say so on the sheet
    sheet = contact_sheet(cells, variants, list(plan.request.locales), read, sizes)
    key = object_key(campaign, "contact-sheet.png")
    storage.put(key, sheet, "image/png")
    return storage.url(key), len(variants)


def publish(
    results: Sequence[JobResult], campaign: str, source: Storage, target: Storage
) -> list[JobResult]:
    """Copy finished outputs from a staging storage to the final one (after a review)."""
    published = []
    for result in results:
        if result.status in DONE_STATUSES and result.key:
            key = output_key(campaign, result.locale, result.variant, result.key, result.size)
            metadata = {"variant": result.variant, "locale": result.locale, "key": result.key}
            uri = target.put(key, source.get(key), "image/png", metadata)
            result = replace(result, uri=uri, link=target.url(key))
        published.append(result)
    return published


def _order(plan: RunPlan, variant: str) -> int:
    variants = plan.variants
    return variants.index(variant) if variant in variants else len(variants)


def run_campaign(
    request: RunRequest,
    on_result: OnResult | None = None,
    on_plan: Callable[[RunPlan], None] | None = None,
    adapters: Adapters | None = None,
) -> RunSummary:
    """The whole run in this process, without Prefect: what the CLI does by default."""
    started = time.monotonic()
    adapters = adapters or build(request)
    plan = plan_run(request, adapters)
    if on_plan is not None:
        on_plan(plan)
    results = run_with(adapters, plan.jobs, request, on_result)
    write_contact_sheet(plan, results, adapters.storage)
    return write_manifest(plan, results, adapters.storage, time.monotonic() - started)


def batches(jobs: Sequence[EditJob], max_batches: int, min_size: int = 8) -> list[list[EditJob]]:
    """Split jobs into at most ``max_batches`` nearly equal batches of at least ``min_size``."""
    if not jobs:
        return []
    count = max(1, min(max_batches, len(jobs) // min_size or 1))
    size, remainder = divmod(len(jobs), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < remainder else 0)
        out.append(list(jobs[start:end]))
        start = end
    return out
