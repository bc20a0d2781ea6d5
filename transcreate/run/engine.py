"""One run of a campaign, whoever drives it: the CLI in this process (`run_campaign`), the Prefect
flow (its render batches as task runs, on threads or Dask workers), and through them the inbox.

A `Run` plans beside the edits, reports each result (an output stored already at once, an edit
as it ends), draws the contact sheet as its cells finish, and publishes the manifest and the
gallery. A driver only says how the jobs are made: `execute` on threads here, or batches handed
to Prefect, whose results come back through `report`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence

from transcreate.errors import CampaignError
from transcreate.jobs import EditJob
from transcreate.manifest import STORED_STATUSES, JobResult
from transcreate.request import RunRequest
from transcreate.run.execute import AuditLog, JobContext, clock
from transcreate.run.plan import Planner, RunPlan, planned_calls
from transcreate.run.ports import Adapters
from transcreate.run.publish import RunSummary, name_languages, write_manifest
from transcreate.run.schedule import OnResult, PlanAhead, run_jobs
from transcreate.run.sheet import EarlySheet

logger = logging.getLogger(__name__)


def job_context(
    adapters: Adapters,
    request: RunRequest,
    audit: AuditLog | None = None,
    ends: float | None = None,
) -> JobContext:
    """The context a run's jobs are made with, in this process (``ends``: the run's deadline,
    epoch seconds, fixed once when the run began)."""
    return JobContext(
        images=adapters.images,
        editor=adapters.editor,
        storage=adapters.storage,
        retries=request.retries,
        retry_wait=request.retry_wait,
        checks=adapters.checks,
        slots=adapters.slots,
        audit=audit,
        ends=ends,
    )


class Run:
    """A campaign read and checked (on construction: a bad sheet raises here, before any edit),
    then run by a driver: `jobs` to make, `report` for each result, `finish` to publish."""

    def __init__(
        self,
        request: RunRequest,
        adapters: Adapters,
        *,
        on_result: OnResult | None = None,
        on_plan: Sequence[Callable[[RunPlan], None]] = (),
        list_rejected_first: bool = False,
    ):
        self.started = time.monotonic()
        minutes = request.deadline_minutes
        #: the run's deadline: no edit or retry begins after it (epoch seconds; None: none)
        self.ends = time.time() + minutes * 60 if minutes else None
        if self.ends is not None:
            logger.info("no edit or retry begins after the run's deadline, %s", clock(self.ends))
        self.request, self.adapters = request, adapters
        # ``list_rejected_first``: planned leniently, so that a driver lists every rejected row
        # before it stops a strict run (the flow's artifact); otherwise strict stops here.
        planned = request.model_copy(update={"strict": False}) if list_rejected_first else request
        self.planner = Planner(planned, adapters)
        self.campaign = self.planner.campaign
        self.calls = self._count_calls(request)
        self.run_id = self.planner.run_id
        self.audit = AuditLog(adapters.storage, self.campaign.name, self.run_id)
        self.context = job_context(adapters, request, self.audit, self.ends)
        self.results: list[JobResult] = []
        self.sheet = EarlySheet(adapters.storage)
        self._on_result = on_result
        self._on_plan = [self.sheet.start, name_languages, *on_plan]
        self._ahead: PlanAhead | None = None
        #: the contact sheet's link and how many variants it shows, once `finish` drew it
        self.drawn: tuple[str, int] | None = None

    def _count_calls(self, request: RunRequest) -> int | None:
        """On a model backend, the paid calls the run will make at most, counted before any
        edit; a run beyond ``max_calls`` is refused here."""
        if request.backend == "local":
            return None
        jobs, _ = self.planner.expand(self.campaign.variants)
        earlier = self.planner.earlier.items()
        stored = {key for (*_, key), job in earlier if job.get("status") in STORED_STATUSES}
        calls = planned_calls(jobs, request, stored)
        logger.info("%s: at most %d model call(s) to make", self.campaign.name, calls)
        if request.max_calls and calls > request.max_calls:
            raise CampaignError(
                f"{self.campaign.name}: this run would make up to {calls} paid model calls and "
                f"the limit is {request.max_calls} (--max-calls); raise the limit, or run fewer "
                "rows, locales or sizes"
            )
        return calls

    def jobs(self) -> Iterator[EditJob]:
        """The jobs left to make, as they are planned; outputs stored already are reported at
        once, with no thread or task run each."""
        # A job for every slot, and one waiting for each, before the rest is planned.
        self._ahead = PlanAhead(
            self.planner, self.context, first=2 * self.adapters.concurrency, on_plan=self._on_plan
        )
        for found, jobs in self._ahead.chunks():
            for result in found:
                self.report(result)
            yield from jobs

    def report(self, result: JobResult) -> None:
        """One job's result, from whichever thread or task run made it (one caller at a time)."""
        self.results.append(result)
        self.sheet.add(result)
        if self._on_result is not None:
            self._on_result(result)

    def plan(self) -> RunPlan:
        """The whole plan (waits for the planning, which `jobs` started)."""
        assert self._ahead is not None, "plan() before jobs()"
        return self._ahead.plan()

    def execute(self) -> None:
        """Make every job here, on threads: at most the run's concurrency of edits at once."""
        run_jobs(
            self.jobs(),
            self.context,
            threads=2 * self.adapters.concurrency,
            on_result=self.report,
        )

    def finish(self) -> RunSummary:
        """Draw what is not drawn yet of the contact sheet's pages, then write the manifest and
        the gallery, which links them."""
        plan = self.plan()
        self.drawn = self.sheet.link(self.results)
        seconds = time.monotonic() - self.started
        summary = write_manifest(plan, self.results, self.adapters.storage, seconds)
        return summary.model_copy(update={"planned_calls": self.calls})


def run_campaign(
    request: RunRequest,
    adapters: Adapters,
    on_result: OnResult | None = None,
    on_plan: Callable[[RunPlan], None] | None = None,
) -> RunSummary:
    """The whole run in this process, without Prefect: what the CLI does by default."""
    run = Run(request, adapters, on_result=on_result, on_plan=[on_plan] if on_plan else [])
    run.execute()
    return run.finish()
