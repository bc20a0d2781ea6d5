"""What happens around rendering in the flow: review, contact sheet, callbacks, endpoint limits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import pytest
from PIL import Image

from tests.conftest import use_fake_model
from tests.servers.base import FakeServer, Reply, Request
from tests.servers.openai import FakeOpenAIImages
from transcreate.callbacks import SIGNATURE_HEADER, verify
from transcreate.request import RunRequest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture(autouse=True)
def fresh_editors(monkeypatch):
    import transcreate.flows.localize
    from transcreate.wiring import _built

    # Production polls a paused run every 10 s and backs off callbacks from 1 s; tests need not.
    monkeypatch.setenv("TRANSCREATE_REVIEW_POLL_SECONDS", "1")
    monkeypatch.setattr(transcreate.flows.localize, "CALLBACK_RETRY_WAIT", 0.05)

    _built.clear()
    yield
    _built.clear()


def sample_request(sample_campaign, sample_image, out, **changes) -> RunRequest:
    return RunRequest(
        campaign=str(sample_campaign), image=str(sample_image), out=str(out), **changes
    )


def run_in_background(flow, *args, **kwargs):
    """Start a flow run in a thread; returns (thread, holder for its return value, run name)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    holder: dict = {}

    def target():
        from transcreate.flows.localize import ReviewRejected

        try:
            holder["result"] = flow.with_options(flow_run_name=name)(*args, **kwargs)
        except ReviewRejected as rejected:  # a rejected run is Cancelled; its summary travels
            holder["result"] = rejected.summary

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, holder, name


async def _flow_run_named(name: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )
        return runs[0] if runs else None


def wait_until_paused(name: str, deadline: float = 60):
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        run = asyncio.run(_flow_run_named(name))
        if run is not None and run.state is not None and run.state.is_paused():
            return run
        time.sleep(0.2)
    raise AssertionError(f"flow run {name} did not pause within {deadline} s")


def resume(flow_run_id, deadline: float = 30, **decision):
    """Answer a paused run as a reviewer would. Prefect marks the run Paused before it stores the
    form's schema (prefect/flow_runs.py, pause_flow_run), so an answer given at once may find
    no schema yet: it is given again until the schema is there."""
    from prefect.flow_runs import resume_flow_run

    until = time.monotonic() + deadline
    while True:
        try:
            resume_flow_run(flow_run_id, run_input=decision)
            return
        except RuntimeError as error:
            if "schema not found" not in str(error) or time.monotonic() > until:
                raise
        time.sleep(0.2)


def test_an_approved_review_publishes_to_the_destination(sample_campaign, sample_image, tmp_path):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    out = tmp_path / "final"
    # Indonesian (6 rows, a Latin script): the review, not the script, is the subject
    request = sample_request(sample_campaign, sample_image, out, locales="id")
    thread, holder, name = run_in_background(
        localize_campaign, **flow_parameters(request, review=True)
    )
    run = wait_until_paused(name)
    staged = list((out / "_review" / "skincare-sale" / "skincare-sale").rglob("*.png"))
    assert len(staged) == 7  # 6 creatives and the contact sheet, waiting for review
    assert not (out / "skincare-sale").exists()
    resume(run.id, decision="approve", reviewer="ana", notes="looks right")
    thread.join(60)
    summary = holder["result"]
    assert summary.published and summary.counts["ok"] == 6
    manifest = json.loads((out / "skincare-sale" / "manifest.json").read_text(encoding="utf-8"))
    uris = [job["uri"] for job in manifest["jobs"] if job["status"] == "ok"]
    assert len(uris) == 6 and all("/_review/" not in uri for uri in uris)
    assert all((out / "skincare-sale").joinpath(*uri.split("/")[-2:]).is_file() for uri in uris)
    assert not (out / "_review" / "skincare-sale").exists()  # published: the draft is gone
    # One results artifact, linking the published gallery; the review artifact says who decided.
    artifacts = asyncio.run(_artifacts(run.id))
    results = [a for a in artifacts if a.key == "results-skincare-sale"]
    assert len(results) == 1 and "/_review/" not in results[0].data
    reviews = sorted(
        (a for a in artifacts if a.key == "review-skincare-sale"), key=lambda a: a.created
    )
    assert reviews[-1].data.startswith("# Approved by ana") and "looks right" in reviews[-1].data


def test_a_rejected_review_publishes_nothing(sample_campaign, sample_image, tmp_path):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    out = tmp_path / "final"
    request = sample_request(sample_campaign, sample_image, out, locales="id")
    thread, holder, name = run_in_background(
        localize_campaign, **flow_parameters(request, review=True)
    )
    run = wait_until_paused(name)
    resume(run.id, decision="reject", reviewer="ana", notes="wrong colour")
    thread.join(60)
    assert holder["result"].published is False
    assert not (out / "skincare-sale").exists()
    state = asyncio.run(_flow_run_named(name)).state
    assert (state.type.value, state.name) == ("CANCELLED", "Rejected")  # not a green success
    assert state.message == "Rejected by ana: wrong colour; nothing was published"


def test_the_contact_sheet_is_stored_and_published(sample_campaign, sample_image, tmp_path):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    state = localize_campaign(
        **flow_parameters(sample_request(sample_campaign, sample_image, tmp_path)),
        return_state=True,
    )
    sheet = Image.open(tmp_path / "skincare-sale" / "contact-sheet.png")
    assert sheet.size == (160 + 256 * 4, 28 + 256 * 6)
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    markdown = {a.key: a.data for a in artifacts if a.type == "markdown"}
    assert set(markdown) == {"results-skincare-sale", "manifest-skincare-sale"}
    assert "contact-sheet.png)" in markdown["results-skincare-sale"]  # shown inline


class Receiver(FakeServer):
    """A webhook endpoint that fails the first delivery, then accepts."""

    def __init__(self):
        super().__init__()
        self.bodies: list[Request] = []

    def route(self, request: Request) -> Reply:
        self.bodies.append(request)
        return Reply(500 if len(self.bodies) == 1 else 204)


def test_a_signed_completion_event_is_delivered_with_retries(
    sample_campaign, sample_image, tmp_path, monkeypatch
):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    monkeypatch.setenv("TRANSCREATE_CALLBACK_SECRET", "webhook-secret")
    # the receiver is on loopback, inside the worker's network: named, as an internal one would be
    monkeypatch.setenv("TRANSCREATE_ALLOW_PRIVATE_CALLBACKS", "127.0.0.1")
    with Receiver() as receiver:
        request = sample_request(
            sample_campaign,
            sample_image,
            tmp_path,
            locales="zh",
            callback_url=f"{receiver.url}/hooks/transcreate",
        )
        summary = localize_campaign(**flow_parameters(request))
    assert len(receiver.bodies) == 2  # the first answer was a 500
    delivered = receiver.bodies[-1]
    assert verify(delivered.body, delivered.headers[SIGNATURE_HEADER.lower()], "webhook-secret")
    assert not verify(delivered.body, delivered.headers[SIGNATURE_HEADER.lower()], "other")
    event = json.loads(delivered.body)
    assert event["event"] == "run.completed"
    assert event["counts"] == summary.counts
    assert event["manifest"] == summary.manifest_csv
    assert event["run_id"]


def test_an_undeliverable_callback_does_not_fail_the_run(sample_campaign, sample_image, tmp_path):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    request = sample_request(
        sample_campaign,
        sample_image,
        tmp_path,
        locales="en",
        callback_url="http://127.0.0.1:9/nobody-listens",
    )
    state = localize_campaign(**flow_parameters(request), return_state=True)
    assert state.is_completed()


def test_a_global_concurrency_limit_bounds_calls_to_the_model(
    sample_campaign, sample_image, tmp_path, monkeypatch
):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    asyncio.run(_create_limit("transcreate-openai", 1))
    with FakeOpenAIImages(api_key="sk-test", latency=0.05) as server:
        use_fake_model(monkeypatch, tmp_path, server)
        # Eight calls may be in flight by the run's concurrency; the limit lets one through at a
        # time (each waits for a slot: a few calls show it, 22 only took longer).
        request = sample_request(
            sample_campaign,
            sample_image,
            tmp_path / "out",
            backend="openai",
            concurrency=8,
            locales=("en",),
        )
        summary = localize_campaign(**flow_parameters(request))
        assert summary.counts["ok"] == server.edits >= 4
        assert server.max_in_flight == 1
    asyncio.run(_delete_limit("transcreate-openai"))


async def _create_limit(name: str, limit: int):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    async with get_client() as client:
        await client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=limit)
        )


async def _delete_limit(name: str):
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        await client.delete_global_concurrency_limit_by_name(name)


async def _artifacts(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def test_the_flow_applies_output_checks(sample_campaign, sample_image, tmp_path, monkeypatch):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    with FakeOpenAIImages(api_key="sk-test", echo=True) as server:  # hands back no copy
        use_fake_model(monkeypatch, tmp_path, server)
        request = sample_request(
            sample_campaign, sample_image, tmp_path / "out", locales="zh", backend="openai"
        )
        summary = localize_campaign(**flow_parameters(request.model_copy(update={"checks": True})))
    assert summary.counts["needs_review"] == 5 and summary.counts["ok"] == 0
    assert all("copy check" in flagged for flagged in summary.flagged)


def test_a_missing_image_fails_the_run_with_one_sentence(sample_campaign, tmp_path):
    from transcreate.errors import CampaignError
    from transcreate.flows.localize import flow_parameters, localize_campaign

    request = sample_request(sample_campaign, tmp_path / "no-such.png", tmp_path / "out")
    state = localize_campaign(**flow_parameters(request), return_state=True)
    assert state.is_failed()
    assert "no-such.png" in state.message and "\n" not in state.message
    with pytest.raises(CampaignError):  # a Python caller gets the error itself back
        state.result()
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    assert [a.key for a in artifacts] == ["run-refused"]


def test_strict_mode_fails_before_any_edit_and_lists_every_rejected_row(
    sample_campaign, sample_image, tmp_path
):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    sheet = tmp_path / "sale.csv"
    lines = sample_campaign.read_text(encoding="utf-8").splitlines()
    bad = lines[1].split(",")
    bad[0], bad[lines[0].split(",").index("price")] = "bad-price", "twelve"
    sheet.write_text("\n".join([*lines, ",".join(bad)]) + "\n", encoding="utf-8")
    request = sample_request(sheet, sample_image, tmp_path / "out", strict=True, locales="en")
    state = localize_campaign(**flow_parameters(request), return_state=True)
    assert state.is_failed()
    assert "1 row(s) rejected and strict mode is on, so nothing was made" in state.message
    assert not (tmp_path / "out" / "sale" / "en").exists()
    artifacts = {a.key: a.data for a in asyncio.run(_artifacts(state.state_details.flow_run_id))}
    assert "column price" in artifacts["rejected-rows-sale"]


def test_rows_a_run_leaves_out_are_counted_by_row_and_the_run_says_so(
    sample_campaign, sample_image, tmp_path
):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    sheet = tmp_path / "sale.csv"
    lines = sample_campaign.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    two_problems = lines[1].split(",")  # one row, two bad cells
    two_problems[0] = "bad-row"
    two_problems[header.index("price")] = "twelve"
    two_problems[header.index("discount")] = "half"
    no_headline = lines[2].split(",")
    no_headline[0] = "no-headline"
    for column, name in enumerate(header):
        if name == "headline" or name.startswith("headline:"):
            no_headline[column] = ""
    rows = [*lines, ",".join(two_problems), ",".join(no_headline)]
    sheet.write_text("\n".join(rows) + "\n", encoding="utf-8")
    request = sample_request(sheet, sample_image, tmp_path / "out", locales="en")
    state = localize_campaign(**flow_parameters(request), return_state=True)
    assert (state.type.value, state.name) == ("COMPLETED", "Completed with rejected rows")
    assert "2 row(s) rejected" in state.message
    artifacts = {a.key: a for a in asyncio.run(_artifacts(state.state_details.flow_run_id))}
    listed = artifacts["rejected-rows-sale"]
    assert listed.description == "2 row(s) of sale rejected"
    assert "column price" in listed.data and "column discount" in listed.data
    assert f"row {len(lines) + 2}, column headline: empty" in listed.data
    run = asyncio.run(_flow_run(state.state_details.flow_run_id))
    assert run.name.startswith("sale-2"), run.name  # named after its campaign, then the time


def test_pasted_rows_are_a_campaign_of_their_own_and_runs_are_named_after_it(
    sample_campaign, sample_image, tmp_path
):
    from transcreate.flows.localize import localize_campaign

    rows = sample_campaign.read_text(encoding="utf-8")
    names = []
    for _ in range(2):
        state = localize_campaign(
            rows=rows, image=str(sample_image), locales=["en"], out=str(tmp_path / "out"),
            return_state=True,
        )  # fmt: skip
        names.append(state.result().campaign)
        run = asyncio.run(_flow_run(state.state_details.flow_run_id))
        assert run.name.startswith("pasted-rows-2"), run.name  # the campaign, then the time
    assert names[0] != names[1] and all(name.startswith("pasted-rows-") for name in names)
    assert all((tmp_path / "out" / name / "manifest.json").is_file() for name in names)


async def _flow_run(flow_run_id):
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_flow_run(flow_run_id)


def test_a_review_round_after_a_fix_makes_again_only_what_changed(
    sample_campaign, sample_image, tmp_path
):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    out = tmp_path / "final"
    sheet = tmp_path / "skincare-sale.csv"
    sheet.write_text(sample_campaign.read_text(encoding="utf-8"), encoding="utf-8")
    request = sample_request(sheet, sample_image, out, locales="en")
    rounds = []
    for decision in ("reject", "approve"):
        thread, holder, name = run_in_background(
            localize_campaign, **flow_parameters(request, review=True)
        )
        run = wait_until_paused(name)
        resume(run.id, decision=decision, reviewer="ana", notes="")
        thread.join(60)
        rounds.append(holder["result"].counts)
        # The fix between the rounds: one headline.
        sheet.write_text(
            sheet.read_text(encoding="utf-8").replace("Big Sale,", "Bigger Sale,", 1), "utf-8"
        )
    # (the sample has five English rows)
    assert rounds[0]["ok"] == 5 and rounds[0]["cached"] == 0  # the first round makes them all
    assert rounds[1]["ok"] == 1 and rounds[1]["cached"] == 4  # the next, only the one fixed
