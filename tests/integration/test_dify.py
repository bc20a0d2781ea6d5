"""The Dify workflow backend against a fake Dify app on loopback (one server for the module)."""

from __future__ import annotations

import io
import json
import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import use_fake_model
from tests.servers.dify import FakeDify, Outcome, form_fields
from transcreate.campaign import read_campaign
from transcreate.editors.dify import DifyWorkflowAPI
from transcreate.editors.model import ModelEditor
from transcreate.editors.prepare import prepare_image
from transcreate.errors import PermanentEditError, SetupError
from transcreate.jobs import EditJob, expand
from transcreate.request import RunRequest
from transcreate.row_images import RowImages
from transcreate.run.execute import JobContext, process_job
from transcreate.settings import ModelSettings
from transcreate.storage.local import LocalStorage
from transcreate.wiring import localize

KEY = "app-test-not-a-real-key"
WRONG_KEY = "app-wrong-secret-value"


@pytest.fixture(scope="module")
def server():
    with FakeDify(api_key=KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


@pytest.fixture
def settings(server) -> ModelSettings:
    return ModelSettings(
        provider="dify", base_url=f"{server.url}/v1", model="qwen-edit-app", api_key=KEY, timeout=5
    )


@pytest.fixture(scope="module")
def job(sample_campaign) -> EditJob:
    campaign = read_campaign(sample_campaign)
    return expand(campaign, ["th"], image_sha256="x", backend="dify/test", mode="model").jobs[0]


def png(width: int = 600, height: int = 400) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def changed(settings: ModelSettings, **fields) -> ModelSettings:
    return ModelSettings(**{**settings.__dict__, **fields})


def editor(settings: ModelSettings, **options) -> ModelEditor:
    chosen = changed(settings, options=options)
    return ModelEditor(DifyWorkflowAPI(chosen), chosen)


def attempt(job, settings, tmp_path, retries=2, **options):
    return process_job(
        job,
        JobContext(
            images=RowImages.of(png()),
            editor=editor(settings, **options),
            storage=LocalStorage(tmp_path / "out"),
            retries=retries,
            retry_wait=0.01,
        ),
    )


def runs(server) -> list[dict]:
    return [r.json() for r in server.requests if r.path == "/v1/workflows/run"]


def test_the_base_image_is_uploaded_as_multipart_with_the_user(server, settings, job):
    editor(settings).edit(job, png(1500, 1000))
    upload = next(r for r in server.requests if r.path == "/v1/files/upload")
    form = form_fields(upload)
    assert upload.headers["authorization"] == f"Bearer {KEY}"
    assert form["user"][2] == b"transcreate"
    assert form["file"][:2] == ("creative.png", "image/png")
    assert Image.open(io.BytesIO(form["file"][2])).size == (1024, 683)  # scaled before upload


def test_the_run_names_the_uploaded_image_and_the_instruction(server, settings, job):
    editor(settings).edit(job, png())
    (body,) = runs(server)
    assert body == {
        "inputs": {
            "image": {
                "type": "image",
                "transfer_method": "local_file",
                "upload_file_id": next(iter(server.files)),
            },
            "instruction": job.instruction,
        },
        "response_mode": "streaming",  # blocking runs are cut off by gateways at 60-100 s
        "user": "transcreate",
    }


def test_a_file_output_is_downloaded_from_the_api_host(server, settings, job):
    result = editor(settings).edit(job, png()).png
    preview = next(r for r in server.requests if r.path.endswith("/file-preview"))
    assert preview.path.startswith("/files/")  # the relative URL, joined to the host, not /v1
    assert "sign=" in preview.query
    assert "authorization" not in preview.headers  # the key stays with the API
    assert Image.open(io.BytesIO(result)).size == (600, 400)


def test_many_edits_upload_the_base_image_once(server, settings, job):
    model = editor(settings)
    jobs = [EditJob(**{**job.__dict__, "instruction": f"edit {n}"}) for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda j: model.edit(j, png()).png, jobs))
    assert len(results) == 6
    assert (server.uploads, server.runs) == (1, 6)


def test_a_streaming_run_takes_the_result_from_workflow_finished(server, settings, job):
    result = editor(settings, response_mode="streaming").edit(job, png()).png
    assert runs(server)[0]["response_mode"] == "streaming"
    assert Image.open(io.BytesIO(result)).format == "PNG"


def test_the_apps_own_variable_names_come_from_options(server, settings, job):
    server.image_input, server.instruction_input, server.output_name = "source", "prompt", "out"
    names = {"image_input": "source", "instruction_input": "prompt", "output": "out"}
    editor(settings, **names).edit(job, png())
    assert set(runs(server)[0]["inputs"]) == {"source", "prompt"}


def test_other_variable_names_fail_with_difys_message_and_a_hint(server, settings, job, tmp_path):
    server.image_input = "source"
    result = attempt(job, settings, tmp_path)
    assert result.status == "failed" and result.attempts == 1
    assert "invalid_param: source is required in input form" in result.error
    assert "image_input" in result.error


def test_a_file_list_variable_gets_a_list(server, settings, job):
    server.image_input_type = "file-list"
    editor(settings, image_input_type="file-list").edit(job, png())
    assert runs(server)[0]["inputs"]["image"][0]["transfer_method"] == "local_file"


@pytest.mark.parametrize("style", ["url", "files", "base64"])
def test_url_file_list_and_base64_outputs_are_read(server, settings, job, style):
    server.output_style = style
    server.output_name = "edited_image_url"  # the seed's name
    result = editor(settings).edit(job, png()).png
    assert Image.open(io.BytesIO(result)).size == (600, 400)


def test_a_stream_cut_off_midway_collects_the_same_run(server, settings, job, tmp_path):
    server.outcomes.append(Outcome(cut_off=True))
    result = attempt(job, settings, tmp_path)
    assert (result.status, result.attempts) == ("ok", 1)
    assert server.runs == 1 and server.calls("/workflows/run/") == 1


def test_a_blocking_reply_cut_off_midway_is_retried(server, settings, job, tmp_path):
    # a blocking answer cut off carries no run id: the only way on is a new run
    server.outcomes.append(Outcome(cut_off=True))
    result = attempt(job, settings, tmp_path, response_mode="blocking")
    assert (result.status, result.attempts) == ("ok", 2)
    assert server.runs == 2


def test_a_workflow_that_finishes_after_the_read_timeout_is_never_run_twice(
    server, settings, job, tmp_path
):
    server.outcomes.append(Outcome(stall=2.5))  # the client reads for 1 s at most
    result = attempt(job, changed(settings, timeout=1.0), tmp_path)
    assert result.status == "ok"
    assert server.runs == 1
    details = [r.path for r in server.requests if r.path.startswith("/v1/workflows/run/")]
    assert details and len(set(details)) == 1  # the one run, fetched by its id


def test_a_resumed_run_collects_the_run_a_killed_one_started(server, settings, job, tmp_path):
    import json as json_module

    from transcreate.editors.journal import CallJournal

    chosen = changed(settings, cache_dir=tmp_path / "cache")
    model = editor(chosen)
    model.edit(job, png())  # a first run, to have a run on the server
    (run_id,) = server.run_records
    api = model.api
    prepared = prepare_image(png(), 1024, 10 << 20)
    key = CallJournal.key(api.identity, chosen.base_url, prepared.sha256, "again")
    receipt = {"workflow_run_id": run_id, "pid": 999_999_999, "host": "x", "process": "gone"}
    calls = tmp_path / "cache" / "calls"
    (calls / f"{key}.json").write_text(json_module.dumps(receipt), encoding="utf-8")
    api.edit_image(prepared, "again")
    assert server.runs == 1  # the receipt's run was collected, not run again
    kept = json_module.loads((calls / f"{key}.json").read_text(encoding="utf-8"))
    assert kept == {"workflow_run_id": run_id}  # kept, unowned, for the next identical call


def test_partial_success_with_outputs_is_a_success_with_a_note(
    server, settings, job, tmp_path, caplog
):
    server.outcomes.append(Outcome(status="partial-succeeded"))
    result = attempt(job, settings, tmp_path)
    assert (result.status, result.attempts) == ("ok", 1)
    assert "partially succeeded" in caplog.text and "fail branch" in caplog.text


@pytest.mark.parametrize("mode", ["blocking", "streaming"])
def test_a_failed_workflow_fails_the_job_with_difys_error(server, settings, job, tmp_path, mode):
    reason = "Node Qwen-Image-Edit run failed: image violates content policy"
    server.outcomes.append(Outcome(status="failed", error=reason))
    result = attempt(job, settings, tmp_path, response_mode=mode)
    assert (result.status, result.attempts) == ("failed", 1)
    assert f"the workflow failed: {reason}" in result.error


def test_an_error_event_in_the_stream_names_difys_code(server, settings, job, tmp_path):
    message = "Your quota for Dify Hosted Model Provider has been exhausted."
    server.outcomes.append(Outcome(error_code="provider_quota_exceeded", error=message))
    result = attempt(job, settings, tmp_path, response_mode="streaming")
    assert (result.status, result.attempts) == ("failed", 1)
    assert f"provider_quota_exceeded: {message}" in result.error


def test_an_upload_over_the_apps_limit_is_not_retried(server, settings, job, tmp_path):
    server.max_upload_bytes = 1000
    result = attempt(job, settings, tmp_path)
    assert (result.status, result.attempts) == ("failed", 1)
    assert "HTTP 413: upload: file_too_large: File size exceeded." in result.error


def test_a_wrong_key_fails_without_retry_and_is_never_echoed(
    server, settings, job, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    wrong = changed(settings, api_key=WRONG_KEY)
    result = attempt(job, wrong, tmp_path)
    assert (result.status, result.attempts) == ("failed", 1)
    assert "unauthorized: Access token is invalid" in result.error
    with pytest.raises(PermanentEditError) as raised:
        DifyWorkflowAPI(wrong).edit_image(prepare_image(png(), 1024, 10**7), "edit")
    shown = "".join(traceback.format_exception(raised.value)) + repr(raised.value)
    for text in (result.error, shown, repr(wrong), caplog.text):
        assert WRONG_KEY not in text


def test_an_unknown_response_mode_is_a_setup_error(settings):
    with pytest.raises(SetupError, match="response_mode 'async' is not one of streaming, blocking"):
        DifyWorkflowAPI(changed(settings, options={"response_mode": "async"}))


@pytest.fixture
def configured(server, tmp_path, monkeypatch):
    use_fake_model(monkeypatch, tmp_path, server)
    return server


def request(sample_campaign, sample_image, out: Path) -> RunRequest:
    return RunRequest(
        campaign=str(sample_campaign),
        image=str(sample_image),
        out=str(out),
        backend="dify",
        retry_wait=0.01,
    )


def test_a_campaign_runs_on_one_upload_and_a_rerun_pays_nothing(
    configured, sample_campaign, sample_image, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    summary = localize(request(sample_campaign, sample_image, tmp_path / "a"))
    assert summary.counts["ok"] == 22
    assert (configured.uploads, configured.runs) == (1, 16)  # Thai's copy set by the compositor
    # another destination, so stored outputs cannot help: the result cache does
    again = localize(request(sample_campaign, sample_image, tmp_path / "b"))
    assert again.counts["ok"] == 22
    assert (configured.uploads, configured.runs) == (1, 16)
    manifest = (tmp_path / "a" / "skincare-sale" / "manifest.json").read_text(encoding="utf-8")
    assert json.loads(manifest)["jobs"][0]["backend"].startswith("dify/workflow#")
    assert KEY not in manifest
    assert KEY not in caplog.text
