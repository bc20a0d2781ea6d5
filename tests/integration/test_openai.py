"""The OpenAI-compatible backend against a fake /v1/images/edits server on loopback."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import use_fake_model
from tests.servers.base import Fault, Reply
from tests.servers.openai import FakeOpenAIImages, parse_multipart
from transcreate.campaign import read_campaign
from transcreate.editors.model import ModelEditor
from transcreate.editors.openai import OpenAIImagesAPI
from transcreate.errors import PermanentEditError, SetupError
from transcreate.jobs import EditJob, expand
from transcreate.request import RunRequest
from transcreate.row_images import RowImages
from transcreate.run.execute import JobContext, process_job
from transcreate.settings import ModelSettings
from transcreate.storage.local import LocalStorage
from transcreate.wiring import localize

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
        timeout=10,
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
        JobContext(
            images=RowImages.of(png(1500, 1000)),
            editor=editor(settings, **options),
            storage=LocalStorage(tmp_path / "out"),
            retries=retries,
            retry_wait=0.01,
        ),
    )


def test_the_request_is_multipart_with_a_scaled_image(server, settings, job):
    result = editor(settings).edit(job, png(1500, 1000)).png
    form = parse_multipart(server.requests[-1])
    assert server.requests[-1].path == "/v1/images/edits"
    assert form["prompt"][1].decode() == job.instruction
    assert form["model"][1] == b"Qwen/Qwen-Image-Edit-2509"
    assert form["n"][1] == b"1"
    assert "response_format" not in form  # sent only when configured (gpt-image refuses it)
    assert form["image"][0] == "image.png"
    assert Image.open(io.BytesIO(form["image"][1])).size == (1024, 683)
    assert Image.open(io.BytesIO(result)).size == (1500, 1000)  # back at the base size


def test_a_url_result_is_downloaded(server, settings, job):
    result = editor(settings, response_format="url").edit(job, png(600, 600)).png
    assert server.calls("/results/") == 1
    assert Image.open(io.BytesIO(result)).format == "PNG"


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


def test_a_gpt_image_model_is_never_sent_response_format(server, settings, job):
    gpt = ModelSettings(**{**settings.__dict__, "model": "gpt-image-1"})
    result = editor(gpt).edit(job, png(600, 600)).png
    assert "response_format" not in parse_multipart(server.requests[-1])
    assert Image.open(io.BytesIO(result)).format == "PNG"


def test_the_fake_refuses_response_format_for_gpt_image_as_openai_does(server, settings, job):
    from transcreate.editors.prepare import prepare_image

    gpt = ModelSettings(**{**settings.__dict__, "model": "gpt-image-1"})
    api = OpenAIImagesAPI(gpt)
    api.fields["response_format"] = "b64_json"  # what the old default sent
    with pytest.raises(PermanentEditError, match="unknown_parameter: Unknown parameter"):
        api.edit_image(prepare_image(png(600, 600), 1024, 10 << 20), "x")


@pytest.mark.parametrize(
    ("model", "options", "complaint"),
    [
        ("gpt-image-1", {"response_format": "url"}, "always answer in base64"),
        ("Qwen/Qwen-Image-Edit-2509", {"respone_format": "url"}, "did you mean response_format"),
        ("Qwen/Qwen-Image-Edit-2509", {"negative_prompt": "x"}, "openai.extra"),
        ("Qwen/Qwen-Image-Edit-2509", {"extra": {"sise": "512x512"}}, "did you mean size"),
    ],
)
def test_a_field_the_model_does_not_document_is_refused(settings, model, options, complaint):
    chosen = ModelSettings(**{**settings.__dict__, "model": model, "options": options})
    with pytest.raises(SetupError, match=complaint):
        OpenAIImagesAPI(chosen)


def test_a_servers_own_fields_are_passed_through_and_change_the_identity(server, settings, job):
    extra = {"negative_prompt": "blurry text", "seed": 7, "num_inference_steps": 30}
    model = editor(settings, extra=extra)
    model.edit(job, png(600, 600))
    assert server.extras[-1] == {
        "negative_prompt": "blurry text",
        "seed": "7",
        "num_inference_steps": "30",
    }
    assert model.identity != editor(settings).identity


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
    summary = localize(request(sample_campaign, sample_image, tmp_path / "a", mode="model"))
    assert summary.counts["ok"] == 22
    assert configured.edits == 22  # mode model: Thai's copy too is drawn by the model
    # another destination, so stored outputs cannot help: the result cache does
    again = localize(request(sample_campaign, sample_image, tmp_path / "b", mode="model"))
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
    # Thai alone: six cells, each set by the compositor
    thai = {"mode": "model+overlay", "locales": ("th",)}
    summary = localize(request(sample_campaign, sample_image, tmp_path / "plain", **thai))
    assert summary.counts["ok"] == 6
    assert configured.edits == 0  # the default template asks for no non-text edit

    sheet = sample_campaign.read_text(encoding="utf-8").replace(",default\n", ",clean-background\n")
    cleaned = tmp_path / "cleaned.csv"
    cleaned.write_text(sheet, encoding="utf-8")
    summary = localize(request(cleaned, sample_image, tmp_path / "clean", **thai))
    assert summary.counts["ok"] == 6
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
    summary = localize(
        RunRequest(
            campaign=str(sheet),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en,th",
            backend="openai",
            concurrency=8,
        )
    )
    # The Thai creatives carry the sheet's English copy: made, and sent to review for it.
    assert summary.counts["ok"] == 7 and summary.counts["needs_review"] == 7
    # Two distinct instructions: the instruction is written in Chinese for Qwen whatever the locale,
    # and the Thai rows fall back to the same English copy, so en and th twins ask the same edit.
    assert configured.edits == 2


def test_a_result_link_into_another_private_host_is_refused(server, settings, job, tmp_path):
    with FakeOpenAIImages(api_key=KEY) as elsewhere:
        link = {"data": [{"url": f"{elsewhere.url.replace('127.0.0.1', '127.0.0.2')}/x.png"}]}
        server.faults.append(Fault(Reply.json(link), "/images/edits"))
        result = attempt(job, settings, tmp_path)
        assert result.status == "failed" and "private address" in result.error
        assert elsewhere.requests == []


def test_the_config_files_extra_table_reaches_the_server(server, job, tmp_path, monkeypatch):
    from transcreate.settings import model_settings

    config = tmp_path / "transcreate.toml"
    config.write_text(
        '[backends.openai]\nsize = "512x512"\n\n'
        '[backends.openai.extra]\nnegative_prompt = "blurry"\nseed = 7\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    monkeypatch.setenv("TRANSCREATE_CONFIG", str(config))
    monkeypatch.setenv("TRANSCREATE_CACHE_DIR", str(tmp_path / "cache"))
    settings = model_settings("openai")
    ModelEditor(OpenAIImagesAPI(settings), settings).edit(job, png(600, 600))
    form = parse_multipart(server.requests[-1])
    assert form["size"][1] == b"512x512"
    assert server.extras[-1] == {"negative_prompt": "blurry", "seed": "7"}


def test_an_inline_result_is_kept_for_another_process_making_the_same_call(server, settings):
    from transcreate.editors.prepare import prepare_image

    prepared = prepare_image(png(600, 600), 1024, 10 << 20)
    first = OpenAIImagesAPI(settings).edit_image(prepared, "make it blue")
    # another process: its own API object, the same cache folder (two runs of one campaign)
    second = OpenAIImagesAPI(settings).edit_image(prepared, "make it blue")
    assert second == first
    assert server.edits == 1
