"""A desk campaign run in the desk's own process (the embedded default): the CLI's engine on a
thread, its progress written to the campaign's state as results come."""

from __future__ import annotations

import datetime
import logging
import threading
import time

from pydantic import ValidationError

from transcreate.desk import review
from transcreate.desk.store import Desk, DeskCampaign
from transcreate.errors import TranscreateError
from transcreate.manifest import JobResult
from transcreate.request import RunRequest
from transcreate.run import RunPlan

logger = logging.getLogger("transcreate.desk")

_SAVE_EVERY = 0.5  # seconds between progress writes: a page polls once a second


def request_for(desk: Desk, campaign: DeskCampaign) -> RunRequest:
    """The run a campaign asks for: its inputs, its locales and sizes, into the served root."""
    inputs = desk.inputs(campaign.id)
    return RunRequest(
        campaign=str(inputs / campaign.sheet),
        image=str(inputs / campaign.image),
        out=str(desk.root),
        name=campaign.id,
        locales=tuple(campaign.locales),
        sizes=tuple(campaign.sizes) or ("base",),
    )


def start(desk: Desk, campaign: DeskCampaign) -> threading.Thread:
    """Run the campaign on a thread of its own; its state says how far it got."""
    campaign.status, campaign.done, campaign.total, campaign.counts = "running", 0, 0, {}
    campaign.error, campaign.finished = None, None
    campaign.started = _now()
    desk.save(campaign)
    thread = threading.Thread(target=_run, args=(desk, campaign), name=f"desk-{campaign.id}")
    thread.daemon = True
    thread.start()
    return thread


def _run(desk: Desk, campaign: DeskCampaign) -> None:
    from transcreate.wiring import localize  # the engine loads with the first run

    last = [0.0]
    lock = threading.Lock()

    def planned(plan: RunPlan) -> None:
        campaign.total = len(plan.jobs) + len(plan.settled)
        desk.save(campaign)

    def made(result: JobResult) -> None:
        with lock:
            campaign.done += 1
            campaign.counts[result.status] = campaign.counts.get(result.status, 0) + 1
            if time.monotonic() - last[0] >= _SAVE_EVERY:
                last[0] = time.monotonic()
                desk.save(campaign)

    try:
        summary = localize(request_for(desk, campaign), on_result=made, on_plan=planned)
    except (TranscreateError, ValidationError, ValueError) as error:
        campaign.status, campaign.error = "failed", _sentence(error)
    except Exception as error:  # a run must never leave the page saying "running"
        logger.exception("desk run %s failed", campaign.id)
        campaign.status, campaign.error = "failed", f"the run stopped: {error}"
    else:
        campaign.status = "done"
        campaign.counts = dict(summary.counts)
        campaign.total = max(campaign.total, sum(summary.counts.values()))
        campaign.done = campaign.total
    campaign.finished = _now()
    desk.save(campaign)
    review.publish(desk, campaign)  # the new manifest keeps the decisions on what is unchanged


def _sentence(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())
    return str(error)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
