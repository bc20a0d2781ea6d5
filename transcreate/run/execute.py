"""Make one job: look for its stored output, lease it, edit with retries, check, store — and
record every call in the run's audit log as it happens. Never raises: a failure is a result."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

from tenacity import (
    AttemptManager,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)

from transcreate.callbacks import shown
from transcreate.compose.verdict import layout_problems
from transcreate.editors import Edited, Editor
from transcreate.errors import DeadlineError, RetryableEditError, TranscreateError
from transcreate.jobs import EditJob
from transcreate.manifest import LOGGED, JobResult, audit_line
from transcreate.quality import OutputChecks
from transcreate.row_images import RowImages
from transcreate.storage import MISSING, Lease, Storage, object_key, output_key

logger = logging.getLogger("transcreate")

LEASE_SECONDS = 900.0
_LEASE_POLL = (0.2, 2.0)  # first and longest wait between looks at a job another run is making


class AuditLog:
    """The run's audit log, written as it happens: a line when an edit is sent and one with its
    outcome, appended and flushed at once, so a killed run's paid calls are all on record.

    Local folder: ``<campaign>/audit/<run>.jsonl`` grows line by line. S3 has no append: each
    line is a small object under ``<campaign>/audit/<run>/`` (named by time, so it lists in order).
    """

    def __init__(self, storage: Storage, campaign: str, run_id: str):
        self.storage = storage
        self.run_id = run_id
        self.key = object_key(campaign, "audit", f"{run_id}.jsonl")

    def write(self, record: dict[str, Any]) -> None:
        try:
            self.storage.append(self.key, audit_line(record, self.run_id))
        except TranscreateError as error:  # a paid result is not thrown away for its log line
            logger.warning("audit log %s: %s", self.key, error)


@dataclass(frozen=True)
class JobContext:
    """What every job of a run is made with: one record, not a parameter list passed on."""

    images: RowImages  # the run's image and each row's own, by hash
    editor: Editor
    storage: Storage
    retries: int = 2  # a failed call is retried this often
    retry_wait: float = 1.0  # first wait before a retry (then exponential, with jitter)
    checks: OutputChecks | None = None
    #: bounds the edits in flight across every batch that shares it; a retry's wait holds none
    slots: AbstractContextManager[Any] | None = None
    audit: AuditLog | None = None
    #: the run's deadline (epoch seconds, the same on every machine): no edit or retry of a
    #: job begins after it
    ends: float | None = None


def process_job(job: EditJob, context: JobContext) -> JobResult:
    """Edit one job and store it, unless its output is stored already. Never raises.

    A stored output counts only when it is complete (``Storage.verify``); anything else is made
    again, and the result's note says why. While a job is made, its key is leased in the
    destination, so a second run of the same campaign waits for the output instead of paying for
    the same edit again. The context's ``slots`` bound the edits in flight across the run; a
    retry's wait holds no slot.
    """
    storage, checks = context.storage, context.checks
    started = time.monotonic()
    key = output_key(job.campaign, job.locale, job.variant, job.key, job.size)
    common = _common(job)
    calls: list[dict[str, Any]] = []
    try:
        # fetched only when edited or checked: a re-run of a stored output needs no image
        image = partial(context.images.data, job.image_sha256, job.image_source)
        verdict = storage.verify(key)
        if verdict is None:
            return _stored(job, image, key, storage, checks, common)
        lease, verdict = _claim(storage, key, verdict)
        if lease is None:
            note = "made by another run of this campaign at the same time"
            return _stored(job, image, key, storage, checks, common, note=note)
        try:
            what = f"variant {job.variant}, locale {job.locale}"
            tries = retrying(context.retries, context.retry_wait, ends=context.ends, what=what)
            for attempt in tries:
                with attempt, context.slots or nullcontext():
                    check_deadline(context.ends, tried=bool(calls))  # waited for a slot
                    edited = _attempt(job, image(), context.editor, calls, context.audit)
            reason = checks.review_reason(job, image(), edited) if checks is not None else None
            reason = _review(job, reason, edited.layout)
            if job.size is not None:
                common["reframe"] = edited.reframe
            metadata = {"variant": job.variant, "locale": job.locale, "key": job.key}
            uri = storage.put(key, edited.png, "image/png", {**metadata, "backend": job.backend})
        finally:
            lease.release()
        return JobResult(
            job.variant,
            job.locale,
            "needs_review" if reason else "ok",
            uri=uri,
            link=storage.url(key),
            seconds=round(time.monotonic() - started, 3),
            attempts=len(calls),
            error=reason,
            note=None if verdict == MISSING else f"made again: {verdict}",
            calls=_unlogged(calls),
            layout=edited.layout,
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
            calls=_unlogged(calls),
            **common,
        )


def _unlogged(calls: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The calls the durable audit log does not hold yet (all of them without one): a result
    carries only those to the run's end, not a record of every call of a long run."""
    return tuple(call for call in calls if not call.get(LOGGED))


def _common(job: EditJob) -> dict[str, Any]:
    """What every result of a job records, whatever became of it."""
    return {
        "size": job.size,
        "instruction": job.instruction,
        "backend": job.backend,
        "key": job.key,
        "copy_origin": dict(job.copy_origin) or None,
        "image": shown(job.image_source) if job.image_source else None,
    }


def split_stored(
    jobs: Sequence[EditJob], context: JobContext, lookups: int
) -> tuple[list[JobResult], list[EditJob]]:
    """The jobs whose complete output is stored already, as their results, and the jobs left to
    make. A flow hands only the latter to task runs, so a re-run of a finished campaign starts
    none. A job that cannot be looked at now (storage down) is left to make: its batch records
    why it failed. ``lookups``: how many to look at at once (what the storage serves well)."""

    def look(job: EditJob) -> JobResult | None:
        key = output_key(job.campaign, job.locale, job.variant, job.key, job.size)
        try:
            if context.storage.verify(key) is not None:
                return None
            image = partial(context.images.data, job.image_sha256, job.image_source)
            return _stored(job, image, key, context.storage, context.checks, _common(job))
        except Exception:
            return None

    threads = min(lookups, len(jobs))
    if threads <= 1:
        found = [look(job) for job in jobs]
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="look") as pool:
            found = list(pool.map(look, jobs))
    stored = [result for result in found if result is not None]
    return stored, [job for job, result in zip(jobs, found, strict=True) if result is None]


def _stored(
    job: EditJob,
    image: Callable[[], bytes],
    key: str,
    storage: Storage,
    checks: OutputChecks | None,
    common: dict[str, Any],
    note: str | None = None,
) -> JobResult:
    """The result of a job whose complete output is stored already."""
    reason, layout = None, None
    if checks is not None:  # a stored output is only as good as its last check
        reason, layout = checks.review_stored(job, image(), storage.get(key))
    reason = _review(job, reason, layout)
    return JobResult(
        job.variant,
        job.locale,
        "needs_review" if reason else "cached",
        uri=storage.uri(key),
        link=storage.url(key),
        error=reason,
        note=note,
        layout=layout,  # read when at hand; else the last manifest's record is carried over
        **common,
    )


def _claim(storage: Storage, key: str, verdict: str) -> tuple[Lease | None, str]:
    """The job's lease and why it is being made; or (None, …) once another run that held the
    lease has stored the complete output. Bounded: an abandoned lease expires and is taken."""
    wait = _LEASE_POLL[0]
    while True:
        lease = storage.lease(key, LEASE_SECONDS)
        if lease is not None:
            again = storage.verify(key)  # finished by another run between the look and the lease
            if again is None:
                lease.release()
                return None, verdict
            return lease, again
        time.sleep(wait)
        wait = min(_LEASE_POLL[1], wait * 1.5)
        if storage.verify(key) is None:
            return None, verdict


def _review(job: EditJob, check_reason: str | None, layout: Mapping[str, Any] | None) -> str | None:
    """Why a made output needs a person's look: its copy fell back or is a machine translation
    no one approved, its layout breaks a rule (``compose.verdict``), or a check flagged it."""
    reasons = (job.fallback, job.machine, "; ".join(layout_problems(layout)), check_reason)
    return "; ".join(reason for reason in reasons if reason) or None


def _attempt(
    job: EditJob,
    image: bytes,
    editor: Editor,
    calls: list[dict[str, Any]],
    audit: AuditLog | None = None,
) -> Edited:
    """One edit, recorded for the audit log whatever its outcome (and before it is sent)."""
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
    if audit is not None:  # on record before it is paid for: a kill may come mid-call
        audit.write({**record, "status": "sent"})
    started = time.monotonic()
    try:
        edited = editor.edit(job, image)
    except RetryableEditError as error:
        record.update(status="retryable", error=str(error))
        raise
    except Exception as error:
        record.update(status="failed", error=str(error))
        raise
    else:
        record.update(status="ok", bytes_out=len(edited.png))
    finally:
        record["seconds"] = round(time.monotonic() - started, 3)
        if audit is not None:
            audit.write(record)
            record[LOGGED] = True
    return edited


def retrying(
    retries: int, retry_wait: float, *, ends: float | None = None, what: str = ""
) -> Iterator[AttemptManager]:
    """Attempts of one call: RetryableEditError is retried ``retries`` times, nothing else is.

    Each wait before a retry is logged with its reason (``what`` names the job). With a run
    deadline (``ends``, epoch seconds), a retry that would begin after it is not waited for:
    the last error is raised as a DeadlineError that says so, and the run goes on to its end.
    """
    stop = _Stop(retries, ends)
    try:
        yield from Retrying(
            stop=stop,
            wait=_retry_wait(retry_wait),
            retry=retry_if_exception_type(RetryableEditError),
            before_sleep=partial(_report_wait, what, retries),
            reraise=True,
        )
    except RetryableEditError as error:
        if stop.refused is None:
            raise
        raise DeadlineError(
            f"{error}; not tried again: the next try, in {stop.refused:,.0f} s, would begin "
            f"after the run's deadline ({clock(ends)}); run the campaign again to make it"
        ) from error


def check_deadline(ends: float | None, *, tried: bool = False) -> None:
    """Raise DeadlineError when the run's deadline has passed: no edit (``tried``: no retry of
    one) begins after it."""
    if ends is not None and time.time() >= ends:
        what = "not tried again" if tried else "not started"
        raise DeadlineError(
            f"{what}: the run's deadline passed ({clock(ends)}); run the campaign again to "
            "make it (what is stored is kept)"
        )


def clock(moment: float | None) -> str:
    """A deadline as people read it in a log: 14:05:00 UTC."""
    when = datetime.datetime.fromtimestamp(moment or 0, datetime.UTC)
    return when.strftime("%H:%M:%S UTC")


class _Stop:
    """Tenacity's stop: after the last attempt, or when the wait before the next one would end
    past the deadline (tenacity computes the wait before it asks whether to stop)."""

    def __init__(self, retries: int, ends: float | None):
        self.attempts, self.ends = retries + 1, ends
        self.refused: float | None = None  # the wait not waited, when the deadline stopped it

    def __call__(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.attempts:
            return True
        wait = state.upcoming_sleep
        if self.ends is not None and time.time() + wait >= self.ends:
            self.refused = wait
            return True
        return False


def _report_wait(what: str, retries: int, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning(
        "%s%s; trying again in %.1f s (retry %d of %d)",
        f"{what}: " if what and what not in str(error) else "",
        error,
        state.upcoming_sleep,
        state.attempt_number,
        retries,
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
