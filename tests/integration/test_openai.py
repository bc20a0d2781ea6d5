"""The OpenAI-compatible backend against a fake /v1/images/edits server on loopback."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import use_fake_model
from tests.servers.base import Fault, Reply
from tests.servers.openai import FakeOpenAIImages, parse_multipart
from transcreate.campaign import read_campaign
from transcreate.editors.http import ModelEditor
from transcreate.editors.openai import OpenAIImagesAPI
from transcreate.jobs import EditJob, expand
from transcreate.pipeline import RunRequest, process_job, run_campaign
from transcreate.settings import ModelSettings
from transcreate.storage.local import LocalStorage

KEY = "sk-test-not-a-real-key"


@pytest.fixture
def server():
    with FakeOpenAIImages(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def settings(server, tmp_path) -> ModelSettings:
    return ModelSettings(
        provider="openai",
        base_url=f"{server.url}/v1",
        model="Qwen/Qwen-Image-Edit-2509",
        api_key=KEY,
        timeout=0.5,
        cache_dir=tmp_path / "cache",
    )


@pytest.fixture
def job(sample_campaign) -> EditJob:
    campaign = read_campaign(sample_campaign)
    return expand(campaign, ["th"], image_sha256="x", backend="openai/test", mode="model").jobs[0]


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def editor(settings: ModelSettings, **options) -> ModelEditor:
    changed = ModelSettings(**{**settings.__dict__, "options": options})
    return ModelEditor(OpenAIImagesAPI(changed), changed)


def attempt(job, settings, tmp_path, retries=2, **options):
    return process_job(
        job,
        image=png(1500, 1000),
        editor=editor(settings, **options),
        storage=LocalStorage(tmp_path / "out"),
        retries=retries,
        retry_wait=0.01,
    )


def test_the_request_is_multipart_with_a_scaled_image(server, settings, job):
    result = editor(settings).edit(job, png(1500, 1000))
    form = parse_multipart(server.requests[-1])
    assert server.requests[-1].path == "/v1/images/edits"
    assert form["prompt"][1].decode() == job.instruction
    assert form["model"][1] == b"Qwen/Qwen-Image-Edit-2509"
    assert form["n"][1] == b"1"
    assert form["response_format"][1] == b"b64_json"
    assert form["image"][0] == "image.png"
    assert Image.open(io.BytesIO(form["image"][1])).size == (1024, 683)
    assert Image.open(io.BytesIO(result)).size == (1500, 1000)  # back at the base size


def test_a_url_result_is_downloaded(server, settings, job):
    result = editor(settings, response_format="url").edit(job, png(600, 600))
    assert server.calls("/results/") == 1
    assert Image.open(io.BytesIO(result)).format == "PNG"


def test_429_is_retried_after_the_servers_retry_after(server, settings, job, tmp_path):
    busy = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit"}}
    server.faults.append(Fault(Reply.json(busy, 429, **{"Retry-After": "1"}), "/images/edits"))
    started = time.monotonic()
    result = attempt(job, settings, tmp_path)
    assert result.status == "ok" and result.attempts == 2
    assert time.monotonic() - started >= 0.9
    assert server.calls("/images/edits") == 2


def test_a_server_error_is_retried(server, settings, job, tmp_path):
    server.faults.append(Fault(Reply.json({"error": {"message": "boom"}}, 500), "/images/edits"))
    result = attempt(job, settings, tmp_path)
    assert (result.status, result.attempts) == ("ok", 2)


def test_a_timeout_is_retried_then_recorded_as_failed(server, settings, job, tmp_path):
    server.faults.append(Fault(Reply(delay=1.5), "/images/edits", times=2))
    result = attempt(job, settings, tmp_path, retries=1)
    assert result.status == "failed" and result.attempts == 2
    assert "timed out" in result.error and job.variant in result.error


def test_a_content_policy_refusal_is_not_retried(server, settings, job, tmp_path):
    refusal = {
        "error": {
            "message": "Your request was rejected by the safety system.",
            "type": "invalid_request_error",
            "code": "content_policy_violation",
        }
    }
    server.faults.append(Fault(Reply.json(refusal, 400), "/images/edits"))
    result = attempt(job, settings, tmp_path)
    assert result.status == "failed" and result.attempts == 1
    assert "content_policy_violation" in result.error
    assert server.calls("/images/edits") == 1


def test_a_result_url_that_404s_fails_the_job(server, settings, job, tmp_path):
    server.faults.append(Fault(Reply(404, b"gone"), "/results/"))
    result = attempt(job, settings, tmp_path, response_format="url")
    assert result.status == "failed" and "not found" in result.error


def test_a_result_that_is_not_an_image_fails_the_job(server, settings, job, tmp_path):
    fake = {"data": [{"b64_json": "aGVsbG8gd29ybGQ="}]}  # "hello world"
    server.faults.append(Fault(Reply.json(fake), "/images/edits"))
    result = attempt(job, settings, tmp_path)
    assert result.status == "failed" and "not an image" in result.error


def test_an_oversized_result_fails_the_job(server, settings, job, tmp_path):
    small = ModelSettings(**{**settings.__dict__, "max_result_bytes": 1000})
    result = attempt(job, small, tmp_path)
    assert result.status == "failed" and "exceeds 1,000 bytes" in result.error


def test_a_wrong_key_fails_without_retry_and_without_echoing_the_key(
    server, settings, job, tmp_path
):
    wrong = ModelSettings(**{**settings.__dict__, "api_key": "sk-wrong-secret-value"})
    result = attempt(job, wrong, tmp_path)
    assert result.status == "failed" and "invalid_api_key" in result.error
    assert result.attempts == 1
    assert "sk-wrong-secret-value" not in result.error
    assert "sk-wrong-secret-value" not in repr(wrong)


@pytest.fixture
def configured(server, tmp_path, monkeypatch):
    use_fake_model(monkeypatch, tmp_path, server)
    return server


def request(sample_campaign, sample_image, out: Path, **changes) -> RunRequest:
    return RunRequest(
        campaign=str(sample_campaign),
        image=str(sample_image),
        out=str(out),
        backend="openai",
        retry_wait=0.01,
        **changes,
    )


def test_a_campaign_runs_on_the_model_and_a_rerun_pays_nothing(
    configured, sample_campaign, sample_image, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    summary = run_campaign(request(sample_campaign, sample_image, tmp_path / "a"))
    assert summary.counts["ok"] == 22
    assert configured.edits == 22
    # another destination, so stored outputs cannot help: the result cache does
    again = run_campaign(request(sample_campaign, sample_image, tmp_path / "b"))
    assert again.counts["ok"] == 22
    assert configured.edits == 22
    manifest = (tmp_path / "a" / "skincare-sale" / "manifest.json").read_text(encoding="utf-8")
    assert json.loads(manifest)["jobs"][0]["backend"].startswith(
        "openai/Qwen/Qwen-Image-Edit-2509#"
    )
    assert KEY not in manifest
    assert KEY not in caplog.text


def test_model_plus_overlay_asks_the_model_only_for_non_text_edits(
    configured, sample_campaign, sample_image, tmp_path
):
    summary = run_campaign(
        request(sample_campaign, sample_image, tmp_path / "plain", mode="model+overlay")
    )
    assert summary.counts["ok"] == 22
    assert configured.edits == 0  # the default template asks for no non-text edit

    sheet = sample_campaign.read_text(encoding="utf-8").replace(",default\n", ",clean-background\n")
    cleaned = tmp_path / "cleaned.csv"
    cleaned.write_text(sheet, encoding="utf-8")
    summary = run_campaign(request(cleaned, sample_image, tmp_path / "clean", mode="model+overlay"))
    assert summary.counts["ok"] == 22
    # one background edit for the whole campaign: the instruction is Chinese (Qwen's documented
    # language) for every locale, so every cell shares it through the result cache
    assert configured.edits == 1
    prompts = {parse_multipart(r)["prompt"][1].decode() for r in configured.requests}
    assert prompts == {"将背景换成纯白色，并删除水印。"}
    assert all("“" not in prompt for prompt in prompts)  # no copy asked of the model


def test_the_edit_command_makes_a_one_off_edit(configured, sample_image, tmp_path):
    from typer.testing import CliRunner

    from transcreate.cli import app

    target = tmp_path / "blue.png"
    result = CliRunner().invoke(
        app,
        ["edit", str(sample_image), "把瓶子改成蓝色", "--backend", "openai", "--out", str(target)],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(target).format == "PNG"
    assert parse_multipart(configured.requests[-1])["prompt"][1].decode() == "把瓶子改成蓝色"


def test_the_edit_command_refuses_the_local_backend(sample_image):
    from typer.testing import CliRunner

    from transcreate.cli import app

    result = CliRunner().invoke(app, ["edit", str(sample_image), "x", "--backend", "local"])
    assert result.exit_code == 2
    assert "needs a model backend" in result.output


def test_identical_jobs_in_one_run_cost_one_model_call(configured, sample_image, tmp_path):
    sheet = tmp_path / "twins.csv"
    sheet.write_text(
        "variant,headline,cta\n"
        + "".join(f"twin-{n},Big Sale,Shop now\n" for n in range(6))
        + "other,New Arrival,Discover\n",
        encoding="utf-8",
    )
    summary = run_campaign(
        RunRequest(
            campaign=str(sheet),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en,th",
            backend="openai",
            concurrency=8,
        )
    )
    assert summary.counts["ok"] == 14
    # two distinct instructions: with no Thai copy in the sheet, the th jobs send the same
    # (Chinese) instruction as the en ones
    assert configured.edits == 2


def test_a_result_link_into_another_private_host_is_refused(server, settings, job, tmp_path):
    with FakeOpenAIImages(api_key=KEY) as elsewhere:
        link = {"data": [{"url": f"{elsewhere.url.replace('127.0.0.1', '127.0.0.2')}/x.png"}]}
        server.faults.append(Fault(Reply.json(link), "/images/edits"))
        result = attempt(job, settings, tmp_path)
        assert result.status == "failed" and "private address" in result.error
        assert elsewhere.requests == []
