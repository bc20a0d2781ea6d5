"""A desk campaign's run: in the desk's own process by default (the CLI's engine on a thread,
its progress written to the campaign's state as results come), or, when ``PREFECT_API_URL``
names a Prefect server, as a flow run of the ``localize-campaign`` deployment that a worker
makes (the desk follows its progress artifact and links its page)."""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import time
from typing import cast

from pydantic import ValidationError

from transcreate.desk import review
from transcreate.desk.store import Desk, DeskCampaign
from transcreate.errors import TranscreateError
from transcreate.manifest import JobResult
from transcreate.request import RunRequest
from transcreate.run import RunPlan

logger = logging.getLogger("transcreate.desk")

_SAVE_EVERY = 0.5  # seconds between progress writes: a page polls once a second
DEPLOYMENT = "localize-campaign/localize-campaign"  # prefect.yaml's
_FOLLOW_EVERY = 1.0  # seconds between looks at a Prefect flow run


def engine() -> str:
    """Where runs are made: "prefect" when a Prefect server is configured (unless
    ``TRANSCREATE_DESK_ENGINE=desk``), else "desk"."""
    chosen = os.environ.get("TRANSCREATE_DESK_ENGINE", "").strip().lower()
    if chosen in ("desk", "prefect"):
        return chosen
    return "prefect" if os.environ.get("PREFECT_API_URL") else "desk"


def request_for(desk: Desk, campaign: DeskCampaign) -> RunRequest:
    """The run a campaign asks for: its inputs, its locales and sizes, into the served root."""
    inputs = desk.inputs(campaign.id)
    return RunRequest(
        campaign=str(inputs / campaign.sheet),
        image=str(inputs / campaign.image) if campaign.image else "",
        out=str(desk.root),
        name=campaign.id,
        locales=tuple(campaign.locales),
        sizes=tuple(campaign.sizes) or ("base",),
        **campaign.options,
    )


def start(desk: Desk, campaign: DeskCampaign) -> threading.Thread:
    """Run the campaign on a thread of its own; its state says how far it got."""
    campaign.status, campaign.done, campaign.total, campaign.counts = "running", 0, 0, {}
    campaign.error, campaign.finished = None, None
    campaign.started = _now()
    campaign.engine, campaign.flow_run, campaign.flow_run_url = engine(), None, None
    desk.save(campaign)
    target = _run_on_prefect if campaign.engine == "prefect" else _run
    thread = threading.Thread(target=target, args=(desk, campaign), name=f"desk-{campaign.id}")
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


def _run_on_prefect(desk: Desk, campaign: DeskCampaign) -> None:
    """Ask the deployment's worker for the run, then follow it to its end."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_UI_URL

    from transcreate.flows.localize import flow_parameters

    try:
        request = request_for(desk, campaign)
        parameters = flow_parameters(request)
        parameters["advanced"] = parameters["advanced"].model_dump(mode="json")
        flow_run = cast(
            "FlowRun",
            run_deployment(DEPLOYMENT, parameters=parameters, timeout=0, as_subflow=False),
        )
        campaign.flow_run = str(flow_run.id)
        ui = PREFECT_UI_URL.value() or os.environ["PREFECT_API_URL"].removesuffix("/api")
        campaign.flow_run_url = f"{str(ui).rstrip('/')}/runs/flow-run/{flow_run.id}"
        campaign.total = 100  # the flow reports a percentage (its progress artifact)
        desk.save(campaign)
        with get_client(sync_client=True) as client:
            while True:
                current = client.read_flow_run(flow_run.id)
                state = current.state
                if state is not None and state.is_final():
                    break
                progress = client.read_artifacts(
                    artifact_filter=ArtifactFilter(
                        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])
                    )
                )
                shown = [a.data for a in progress if a.type == "progress"]
                if shown and isinstance(shown[-1], (int, float)):
                    campaign.done = int(shown[-1])
                    desk.save(campaign)
                time.sleep(_FOLLOW_EVERY)
    except ValidationError as error:
        campaign.status, campaign.error = "failed", _sentence(error)
    except Exception as error:  # the server went away, the deployment is missing…
        logger.exception("desk run %s on Prefect failed", campaign.id)
        campaign.status, campaign.error = (
            "failed",
            f"the Prefect run could not be followed: {error}",
        )
    else:
        if state.is_completed():
            campaign.status, campaign.done = "done", campaign.total
            campaign.counts = _manifest_counts(desk, campaign)
        else:
            campaign.status = "failed"
            campaign.error = state.message or f"the Prefect run ended {state.name}"
    campaign.finished = _now()
    desk.save(campaign)
    review.publish(desk, campaign)


def _manifest_counts(desk: Desk, campaign: DeskCampaign) -> dict[str, int]:
    try:
        manifest = json.loads((desk.output(campaign) / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    counts = manifest.get("counts")
    return dict(counts) if isinstance(counts, dict) else {}


def _sentence(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())
    return str(error)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
