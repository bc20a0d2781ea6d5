"""Names a localize-campaign run gives: its own (the campaign and when), a pasted campaign's,
and the draft folder a run under review stages in."""

from __future__ import annotations

from urllib.parse import urlsplit

from prefect import runtime

from transcreate.campaign import campaign_name
from transcreate.request import RunRequest


def run_name() -> str:
    """A flow run's name: the campaign it makes and when, so the runs list says which is which
    (Prefect's default is two random words)."""
    parameters = runtime.flow_run.parameters or {}
    advanced = parameters.get("advanced")
    named = getattr(advanced, "name", None) or (
        advanced.get("name") if isinstance(advanced, dict) else None
    )
    source = str(parameters.get("campaign") or "")
    stem = source.rsplit("/", 1)[-1].split("?")[0].rsplit(".", 1)[0] if source else "pasted-rows"
    started = runtime.flow_run.scheduled_start_time
    when = started.strftime("%Y%m%d-%H%M") if started else ""
    return "-".join(part for part in (campaign_name(named or stem), when) if part)


def draft_name(request: RunRequest) -> str:
    """The campaign's draft folder under review: its name, else its sheet's."""
    stem = urlsplit(request.campaign).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return campaign_name(request.options.name or stem or "pasted-rows")


def run_stamp() -> str:
    """The flow run's start and the first characters of its id: ``20261207-0930-1a2b3c``."""
    started = runtime.flow_run.scheduled_start_time
    ident = str(runtime.flow_run.id or "")[:6]
    return "-".join(p for p in (started.strftime("%Y%m%d-%H%M") if started else "", ident) if p)
