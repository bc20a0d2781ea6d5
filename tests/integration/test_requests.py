"""The process-requests flow: sheets dropped into an inbox, each claimed and localized once."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from transcreate.inbox import FolderInbox


@pytest.fixture(scope="module")
def inbox_run(prefect_api, tmp_path_factory, sample_campaign, sample_image):
    """A good request and a malformed one dropped into an inbox, then one run of the flow."""
    from transcreate.flows.requests import process_requests

    inbox = tmp_path_factory.mktemp("inbox")
    out = tmp_path_factory.mktemp("out")
    shutil.copy(sample_image, inbox / "spring-promo.png")
    (inbox / "spring-promo.csv").write_text(_first_rows(sample_campaign, 2))
    shutil.copy(sample_image, inbox / "no-variants.png")
    (inbox / "no-variants.csv").write_text(_without_column(sample_campaign, "variant"))
    state = process_requests(inbox=str(inbox), out=str(out), return_state=True)
    return state, inbox, out


@pytest.mark.slow
def test_the_good_request_is_localized_once(inbox_run):
    state, _, out = inbox_run
    assert state.is_completed()
    # (.transcreate holds the outputs' checksums and leases: not a campaign)
    assert [path.name for path in out.iterdir() if path.name != ".transcreate"] == ["spring-promo"]
    document = json.loads((out / "spring-promo" / "manifest.json").read_text(encoding="utf-8"))
    assert (
        sum(job["status"] == "ok" for job in document["jobs"]) == 8
    )  # two variants × four locales
    assert document["campaign"] == "spring-promo"  # named after the request's file


@pytest.mark.slow
def test_each_request_ends_in_done_or_failed_with_its_image(inbox_run):
    _, inbox, _ = inbox_run
    assert _names(inbox / "done") == ["spring-promo.csv", "spring-promo.png"]
    assert _names(inbox / "failed") == [
        "no-variants.csv",
        "no-variants.error.txt",
        "no-variants.png",
    ]
    assert FolderInbox(inbox).find_requests() == []
    assert _names(inbox / "processing") == []


@pytest.mark.slow
def test_a_malformed_request_gets_an_error_file_naming_it_and_the_problem(inbox_run):
    state, inbox, _ = inbox_run
    error = (inbox / "failed" / "no-variants.error.txt").read_text(encoding="utf-8")
    assert "no-variants.csv" in error
    assert "missing column(s) variant" in error
    [failed] = state.result().failed
    assert (failed.request, failed.status) == ("no-variants.csv", "failed")
    assert "missing column(s) variant" in failed.message


@pytest.mark.slow
def test_the_summary_is_published_as_a_markdown_artifact(inbox_run):
    state, _, _ = inbox_run
    summary = state.result()
    assert [result.request for result in summary.done] == ["spring-promo.csv"]
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    [artifact] = [a for a in artifacts if a.type == "markdown"]
    assert artifact.key == "creative-requests"
    assert "| spring-promo.csv | done |" in artifact.data
    assert "| no-variants.csv | failed |" in artifact.data


@pytest.mark.slow
def test_each_request_runs_as_a_localize_campaign_subflow(inbox_run):
    state, _, _ = inbox_run
    subflows = asyncio.run(_subflow_runs(state.state_details.flow_run_id))
    assert {run.name: run.state.type.value for run in subflows} == {
        "spring-promo": "COMPLETED",
        "no-variants": "FAILED",
    }
    [refused] = [run.state for run in subflows if run.name == "no-variants"]
    assert "missing column(s) variant" in refused.message  # the sentence, as the state's message


@pytest.mark.slow
def test_a_poll_with_a_failed_request_is_not_a_plain_completed(inbox_run):
    state, _, _ = inbox_run
    assert (state.type.value, state.name) == ("COMPLETED", "Completed with failures")
    assert state.message == "1 done, 1 failed"


@pytest.mark.slow
def test_a_second_run_finds_nothing_to_do(inbox_run):
    from transcreate.flows.requests import process_requests

    _, inbox, out = inbox_run
    summary = process_requests(inbox=str(inbox), out=str(out))
    assert (summary.done, summary.failed) == ([], [])
    # (.transcreate holds the outputs' checksums and leases: not a campaign)
    assert [path.name for path in out.iterdir() if path.name != ".transcreate"] == ["spring-promo"]


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def _without_column(sheet: Path, column: str) -> str:
    rows = list(csv.DictReader(sheet.read_text(encoding="utf-8").splitlines()))
    fields = [field for field in rows[0] if field != column]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


async def _artifacts(flow_run_id: Any) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


async def _subflow_runs(flow_run_id: Any) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    async with get_client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])
            )
        )


def _first_rows(sheet: Path, rows: int) -> str:
    """The sheet's header and its first rows: the inbox is the subject, not the renders."""
    return "".join(sheet.read_text(encoding="utf-8").splitlines(keepends=True)[: rows + 1])


def test_an_empty_poll_says_so_and_only_the_latest_empty_poll_is_kept(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.states import Completed

    from transcreate.flows.requests import NOTHING_TO_DO, _forget_empty_polls, process_requests

    state = process_requests(inbox=str(tmp_path / "inbox"), out=str(tmp_path), return_state=True)
    assert (state.type.value, state.name) == ("COMPLETED", NOTHING_TO_DO)

    with get_client(sync_client=True) as client:  # a deployment's polls, as its schedule makes
        flow_id = client.create_flow_from_name("process-requests")
        deployment = client.create_deployment(flow_id=flow_id, name="polls-under-test")
        runs = [client.create_flow_run_from_deployment(deployment) for _ in range(4)]
        for run in runs[:3]:
            client.set_flow_run_state(run.id, Completed(name=NOTHING_TO_DO), force=True)
        client.set_flow_run_state(runs[3].id, Completed(message="2 done"), force=True)
        _forget_empty_polls(str(deployment), keep=str(runs[2].id))
        mine = DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
        left = {str(run.id) for run in client.read_flow_runs(deployment_filter=mine)}
    assert left == {
        str(runs[2].id),
        str(runs[3].id),
    }  # the latest empty poll, and the one that worked
