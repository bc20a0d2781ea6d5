"""The localize-campaign flow against a real Prefect API: batches, manifest, artifacts, re-run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import counts
from transcreate.artifacts import SERVE_HINT
from transcreate.locales import SUPPORTED_LOCALES, language_name
from transcreate.request import RunRequest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory, sample_campaign, sample_image):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    out = tmp_path_factory.mktemp("flow-out")
    request = RunRequest(campaign=str(sample_campaign), image=str(sample_image), out=str(out))
    state = localize_campaign(**flow_parameters(request), return_state=True)
    return state, out, request


def test_the_flow_renders_every_locale_and_variant(flow_run):
    state, out, _ = flow_run
    assert state.is_completed()
    summary = state.result()
    assert summary.counts == counts(ok=22, skipped=2)
    document = json.loads((out / "skincare-sale" / "manifest.json").read_text(encoding="utf-8"))
    cells = {(job["variant"], job["locale"]) for job in document["jobs"] if job["status"] == "ok"}
    assert len(cells) == 22
    for job in document["jobs"]:
        if job["status"] == "ok":
            assert Path(job["uri"].removeprefix("file://")).is_file()


def test_jobs_run_in_a_bounded_number_of_batch_task_runs(flow_run):
    state, _, _ = flow_run
    task_runs = asyncio.run(_task_runs(state.state_details.flow_run_id))
    names = [run.name for run in task_runs]
    batch_runs = [name for name in names if name.startswith("render-batch")]
    assert 1 <= len(batch_runs) < 22  # grouped, not one task run per job


def test_the_manifest_is_published_as_a_linked_markdown_table(flow_run):
    state, _, _ = flow_run
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    [manifest] = [a for a in artifacts if a.key == "manifest-skincare-sale"]
    assert manifest.type == "markdown"
    lines = manifest.data.splitlines()
    assert lines[0] == "| variant | id | th | zh | en |"
    assert [line.split(" | ")[0] for line in lines[2:4]] == ["| summer-sale", "| new-arrival"]
    # Only links a browser opens are links: without a served folder, a cell says its status and the
    # artifact says how to serve the folder (the browser tests check the linked cells).
    assert lines[2] == "| summer-sale | made | made | made | made |"
    assert SERVE_HINT in manifest.data
    progress = [a for a in artifacts if a.type == "progress"]
    assert progress and progress[0].data == 100.0


def test_the_run_ends_with_its_counts_in_words(flow_run):
    state, _, _ = flow_run
    assert state.message == "22 made, 2 skipped"


def test_a_second_flow_run_is_all_cached(flow_run):
    from transcreate.flows.localize import flow_parameters, localize_campaign

    _, _, request = flow_run
    state = localize_campaign(**flow_parameters(request), return_state=True)
    assert state.result().counts == counts(cached=22, skipped=2)
    # found before any batch starts: a finished campaign's re-run starts no task run at all
    task_runs = asyncio.run(_task_runs(state.state_details.flow_run_id))
    assert not [run.name for run in task_runs if run.name.startswith("render-batch")]


def test_the_flow_parameters_render_as_a_form():
    from prefect.utilities.callables import parameter_schema

    from transcreate.flows.localize import localize_campaign

    schema = parameter_schema(localize_campaign).model_dump()
    # What a campaign manager fills sits at the top; the engineer's settings fold into "advanced".
    assert {
        "campaign",
        "rows",
        "image",
        "locales",
        "out",
        "review",
        "translate",
        "advanced",
    } == set(schema["properties"])
    assert "translate" not in schema["definitions"]["FlowOptions"]["properties"]
    assert schema["properties"]["locales"]["items"]["enum"] == list(SUPPORTED_LOCALES)
    assert schema["properties"]["locales"]["default"] == ["id", "th", "zh", "en"]
    described = " ".join(schema["properties"]["locales"]["description"].split())
    assert all(
        f"{tag} ({language_name(tag).split(' (')[0]}" in described for tag in SUPPORTED_LOCALES
    )
    advanced = schema["definitions"]["FlowOptions"]["properties"]
    assert {"backend", "mode", "concurrency", "review_timeout_hours"} <= set(advanced)
    assert all(field.get("description") for field in advanced.values())
    assert advanced["backend"]["enum"] == ["local", "dashscope", "dify", "openai"]


async def _task_runs(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        return await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


async def _artifacts(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def test_a_prefect_secret_block_can_hold_a_backends_api_key(monkeypatch, tmp_path):
    from prefect.blocks.system import Secret

    from transcreate.settings import model_settings

    Secret(value="sk-from-a-block").save("transcreate-openai-key", overwrite=True)
    (tmp_path / "transcreate.toml").write_text(
        '[backends.openai]\napi_key_secret = "transcreate-openai-key"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TRANSCREATE_CONFIG", raising=False)
    assert model_settings("openai").api_key == "sk-from-a-block"
