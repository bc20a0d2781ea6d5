"""The process-requests flow: every campaign sheet dropped into an inbox becomes one
localize-campaign run. The inbox itself (claims, settling, S3) is `transcreate.inbox`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed

from transcreate.flows.localize import flow_parameters, localize_campaign
from transcreate.inbox import (
    IMAGE_SUFFIXES,
    Claim,
    Inbox,
    InboxSummary,
    RequestResult,
    failure_report,
    summary_markdown,
)
from transcreate.locales import DEFAULT_LOCALES, SupportedLocale
from transcreate.request import BackendName, RunInputs, RunOptions, RunRequest
from transcreate.wiring import open_inbox


@flow(name="process-requests", validate_parameters=True)
def process_requests(
    inbox: str = "inbox",
    out: str = "out",
    image: str = "",
    locales: list[SupportedLocale] = list(DEFAULT_LOCALES),  # noqa: B006
    backend: BackendName = "local",
) -> Any:  # a State whose result is the InboxSummary (called as a function: the InboxSummary)
    """Localize every campaign sheet dropped into the inbox: one localize-campaign run each.

    Ends Completed when every request was localized (or there were none), and "Completed with
    failures" when any request failed; the failures are listed in the run's artifact.

    Args:
        inbox: Folder or s3://bucket/prefix where requests are dropped: NAME.csv with NAME.png
            (.jpg, .jpeg, .webp) beside it. A folder is relative to the folder the deployment
            was made from.
        out: Where results go, each campaign under NAME/: a folder on the worker or
            s3://bucket/prefix.
        image: Base image for requests that come without one (empty: every request brings its
            own).
        locales: Target locales of every request.
        backend: Who edits the images: local (built in) or a Qwen-Image-Edit service.
    """
    logger = get_run_logger()
    requests = open_inbox(inbox)
    # The run's own parameters are checked once, before any request is taken: a typo in them
    # fails this run instead of sending every request to failed/.
    options = RunOptions(backend=backend)
    wanted = tuple(locales) if locales else DEFAULT_LOCALES
    summary = InboxSummary(inbox=requests.location)
    for request in requests.find_requests():
        claimed = requests.claim(request)
        if claimed is None:  # on S3, a processing/NAME.claim left by a killed run shows here
            logger.info("%s: claimed by another run; skipped", request)
            continue
        result = _localize(requests, claimed, request, options, wanted, out, image or None)
        (summary.done if result.status == "done" else summary.failed).append(result)
        log = logger.info if result.status == "done" else logger.warning
        log("%s → %s: %s", request, result.status, result.message)
    outcome = f"{len(summary.done)} done, {len(summary.failed)} failed"
    if summary.done or summary.failed:
        create_markdown_artifact(
            key="creative-requests", markdown=summary_markdown(summary), description=outcome
        )
    else:
        logger.info("no requests in %s", requests.location)
        outcome = f"no requests in {requests.location}"
        _forget_empty_polls(runtime.deployment.id, keep=runtime.flow_run.id)
        return Completed(name=NOTHING_TO_DO, message=outcome, data=summary)
    if summary.failed:
        return Completed(name="Completed with failures", message=outcome, data=summary)
    return Completed(message=outcome, data=summary)


#: The state name of a poll that found no request. Only the latest such run of a deployment is
#: kept: a poll every five minutes would otherwise add 288 empty runs a day to the runs list.
NOTHING_TO_DO = "No requests"


def _forget_empty_polls(deployment: str | None, keep: str | None) -> None:
    """Delete this deployment's earlier polls that found nothing (never a run that did work)."""
    if deployment is None:  # called as a function, not from a deployment: nothing to tidy
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
    )

    with get_client(sync_client=True) as client:
        empty = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[UUID(str(deployment))])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=[NOTHING_TO_DO]))
            ),
        )
        for run in empty:
            if str(run.id) != str(keep):
                client.delete_flow_run(run.id)


def _localize(
    inbox: Inbox,
    claimed: Claim,
    request: str,
    options: RunOptions,
    locales: tuple[str, ...],
    out: str,
    fallback_image: str | None,
) -> RequestResult:
    try:
        image = claimed.image or fallback_image
        if image is None:
            names = ", ".join(f"{claimed.name}{suffix}" for suffix in IMAGE_SUFFIXES)
            raise ValueError(
                f"{request}: no base image; drop {names} beside it, "
                "or set the flow's image parameter"
            )
        run = localize_campaign.with_options(flow_run_name=claimed.name)
        inputs = RunInputs(campaign=claimed.sheet, image=image, locales=locales, out=out)
        named = options.model_copy(update={"name": claimed.name})
        summary = run(**flow_parameters(RunRequest.from_parts(inputs, named)))
        error = failure_report(request, summary)
        counts = ", ".join(f"{status} {count}" for status, count in summary.counts.items())
        message = error or f"{counts}; manifest {summary.manifest_csv}"
    except Exception as exception:  # one bad request is reported and never blocks the others
        error = str(exception) if request in str(exception) else f"{request}: {exception}"
        message = error
    moved = inbox.settle(claimed, error)
    return RequestResult(
        request=request,
        status="done" if error is None else "failed",
        message=message,
        moved_to=moved,
    )
