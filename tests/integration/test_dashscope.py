"""The DashScope (Model Studio) backend against a fake Qwen-Image-Edit service on loopback."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import counts, use_fake_model
from tests.servers.base import Fault, Reply
from tests.servers.dashscope import (
    GENERATION,
    FakeDashScope,
    refusal,
)
from transcreate.campaign import read_campaign
from transcreate.editors.dashscope import DashScopeAPI
from transcreate.editors.model import ModelEditor
from transcreate.editors.prepare import prepare_image
from transcreate.errors import SetupError
from transcreate.jobs import EditJob, expand
from transcreate.request import RunRequest
from transcreate.row_images import RowImages
from transcreate.run.execute import JobContext, process_job
from transcreate.settings import ModelSettings
from transcreate.storage.local import LocalStorage
from transcreate.wiring import localize

KEY = "sk-test-dashscope-secret-value"


@pytest.fixture(scope="module")
def server():
    with FakeDashScope(api_key=KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def no_leftover_faults(server):
    server.faults.clear()
    yield
    server.faults.clear()


@pytest.fixture
def settings(server, tmp_path) -> ModelSettings:
    return ModelSettings(
        provider="dashscope",
        base_url=f"{server.url}/api/v1",
        model="qwen-image-edit-plus",
        api_key=KEY,
        timeout=10,
        cache_dir=tmp_path / "cache",
    )


@pytest.fixture(scope="module")
def job(sample_campaign) -> EditJob:
    campaign = read_campaign(sample_campaign)
    jobs = expand(campaign, ["th"], image_sha256="x", backend="dashscope/test", mode="model").jobs
    return jobs[0]


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def changed(settings: ModelSettings, **fields) -> ModelSettings:
    return ModelSettings(**{**settings.__dict__, **fields})


def editor(settings: ModelSettings) -> ModelEditor:
    return ModelEditor(DashScopeAPI(settings), settings)


def attempt(job, settings, tmp_path, retries=2, image=None):
    return process_job(
        job,
        JobContext(
            images=RowImages.of(image or png(1500, 1000)),
            editor=editor(settings),
            storage=LocalStorage(tmp_path / "out"),
            retries=retries,
            retry_wait=0.01,
        ),
    )


def test_the_request_carries_the_scaled_image_then_the_instruction(server, settings, job):
    editor(settings).edit(job, png(1500, 1000))
    request = server.requests[-2]  # the generation; the result download follows it
    body = request.json()
    assert request.method == "POST" and request.path == GENERATION
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "qwen-image-edit-plus"
    [message] = body["input"]["messages"]
    assert message["role"] == "user"
    image, text = message["content"]
    assert text == {"text": job.instruction}
    assert image["image"].startswith("data:image/png;base64,")
    sent = base64.b64decode(image["image"].split(",", 1)[1])
    assert Image.open(io.BytesIO(sent)).size == (1024, 683)
    # prompt_extend off: the service must not rewrite the localized copy the instruction quotes
    assert body["parameters"] == {"n": 1, "watermark": False, "prompt_extend": False}


def test_an_edit_is_downloaded_from_the_result_link(server, settings, job):
    before = server.calls("/results/")
    result = editor(settings).edit(job, png(800, 800)).png
    assert server.calls("/results/") == before + 1
    picture = Image.open(io.BytesIO(result))
    assert (picture.format, picture.size) == ("PNG", (800, 800))
    assert picture.getpixel((10, 10)) == (200, 120, 40)  # above the fake's band: untouched


def test_config_options_become_parameters_and_change_the_identity(server, settings, job):
    options = {"negative_prompt": "blurry text", "seed": 7, "prompt_extend": True}
    api = DashScopeAPI(changed(settings, options=options))
    api.edit_image(prepare_image(png(600, 600), 1024, 10 << 20), job.instruction)
    body = server.requests[-2].json()
    assert body["parameters"] == {"n": 1, "watermark": False, **options}
    assert DashScopeAPI(settings).identity.startswith("dashscope/qwen-image-edit-plus@")
    assert api.identity.startswith("dashscope/qwen-image-edit-plus@")
    assert api.identity != DashScopeAPI(settings).identity


@pytest.mark.parametrize(
    ("options", "complaint"),
    [({"watermarks": True}, "not a setting"), ({"seed": "7"}, "must be a int"), ({"n": 2}, "n is")],
)
def test_a_wrong_config_option_is_a_setup_error(settings, options, complaint):
    with pytest.raises(SetupError, match=complaint):
        DashScopeAPI(changed(settings, options=options))


def test_a_content_moderation_refusal_is_not_retried(server, settings, job, tmp_path):
    server.faults.append(Fault(refusal(), GENERATION))
    before = server.calls(GENERATION)
    result = attempt(job, settings, tmp_path)
    assert (result.status, result.attempts) == ("failed", 1)
    assert "DataInspectionFailed" in result.error and "content moderation" in result.error
    assert "request_id" in result.error
    assert server.calls(GENERATION) == before + 1


def test_an_image_outside_the_recommended_sides_is_still_sent(server, settings, job, tmp_path):
    # 384-3072 px is the guide's recommendation for quality, not a refusal
    before = server.calls(GENERATION)
    result = attempt(job, settings, tmp_path, image=png(1024, 300))
    assert result.status == "ok"
    assert server.calls(GENERATION) == before + 1


def test_the_first_model_is_sent_only_what_it_documents(server, settings, job):
    first = changed(settings, model="qwen-image-edit")
    editor(first).edit(job, png(600, 600))
    assert server.requests[-2].json()["parameters"] == {"watermark": False}


@pytest.mark.parametrize("option", [{"prompt_extend": True}, {"size": "1024*1024"}])
def test_an_option_the_model_does_not_document_is_refused(settings, option):
    with pytest.raises(SetupError, match="qwen-image-edit does not take"):
        DashScopeAPI(changed(settings, model="qwen-image-edit", options=option))


def test_the_fake_refuses_an_option_the_first_model_does_not_document(server, job):
    body = {
        "model": "qwen-image-edit",
        "input": {"messages": [{"role": "user", "content": [{"image": "x"}, {"text": "y"}]}]},
        "parameters": {"prompt_extend": False},
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    response = httpx.post(f"{server.url}{GENERATION}", json=body, headers=headers)
    assert response.status_code == 400 and "prompt_extend" in response.json()["message"]


def test_the_generation_endpoint_is_synchronous_only(server):
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    response = httpx.post(f"{server.url}{GENERATION}", json={}, headers=headers)
    assert response.status_code == 403
    assert "does not support asynchronous calls" in response.json()["message"]


def test_the_fake_rejects_a_malformed_request_like_the_service(server):
    body = {"model": "qwen-image-edit-plus", "input": {"messages": [{"role": "user"}]}}
    headers = {"Authorization": f"Bearer {KEY}"}
    response = httpx.post(f"{server.url}{GENERATION}", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter" and response.json()["request_id"]


@pytest.fixture
def configured(server, tmp_path, monkeypatch):
    use_fake_model(monkeypatch, tmp_path, server)
    return server


def request(sample_campaign, sample_image, out: Path) -> RunRequest:
    return RunRequest(
        campaign=str(sample_campaign),
        image=str(sample_image),
        out=str(out),
        backend="dashscope",
        retry_wait=0.01,
    )


def test_a_campaign_runs_on_the_model_and_a_rerun_pays_nothing(
    configured, sample_campaign, sample_image, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log requests at DEBUG
    edits, calls = configured.edits, configured.calls(GENERATION)
    summary = localize(request(sample_campaign, sample_image, tmp_path / "a"))
    assert summary.counts == counts(ok=22, skipped=2)
    # mode auto: the model draws the id, zh and en copy; Thai's six are set by the compositor,
    # whose template asks the model for no other edit, so they are not paid for
    assert configured.edits - edits == 16 and configured.calls(GENERATION) - calls == 16
    # another destination, so stored outputs cannot help: the result cache does
    again = localize(request(sample_campaign, sample_image, tmp_path / "b"))
    assert again.counts["ok"] == 22
    assert configured.edits - edits == 16 and configured.calls(GENERATION) - calls == 16
    manifest = (tmp_path / "a" / "skincare-sale" / "manifest.json").read_text(encoding="utf-8")
    jobs = json.loads(manifest)["jobs"]
    assert jobs[0]["backend"].startswith("dashscope/qwen-image-edit-plus@")
    thai = {job["backend"] for job in jobs if job["locale"] == "th"}
    assert len(thai) == 1 and "+local/" in thai.pop()
    assert any("the built-in compositor sets the copy of th (Thai)" in w for w in summary.warnings)
    assert KEY not in manifest
    assert "HTTP Request: POST" in caplog.text  # the logs were captured, and hold no key
    assert KEY not in caplog.text


class ForwardProxy:
    """A plain HTTP forward proxy on loopback (absolute-form request lines, RFC 9112 §3.2.2) that
    relays every request to its target and remembers what it relayed."""

    def __init__(self) -> None:
        import http.server
        import threading

        relayed = self.relayed = []

        class Relay(http.server.BaseHTTPRequestHandler):
            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                relayed.append((self.command, self.path))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                with httpx.Client(trust_env=False) as direct:  # not back through itself
                    reply = direct.request(self.command, self.path, headers=headers, content=body)
                self.send_response(reply.status_code)
                for name, value in reply.headers.items():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = _relay

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_model_calls_go_through_the_environments_proxy(server, job, monkeypatch, tmp_path):
    from transcreate.settings import model_settings

    proxy = ForwardProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
        monkeypatch.setenv("DASHSCOPE_BASE_URL", f"{server.url}/api/v1")
        monkeypatch.setenv("TRANSCREATE_CACHE_DIR", str(tmp_path / "cache"))
        settings = model_settings("dashscope", {})
        assert settings.proxy == proxy.url
        edited = editor(settings).edit(job, png(600, 600))
        assert Image.open(io.BytesIO(edited.png)).size == (600, 600)
        # the call and its result's download both went through the proxy
        assert [method for method, _ in proxy.relayed] == ["POST", "GET"]
        assert proxy.relayed[0][1] == f"{server.url}{GENERATION}"
        # a host NO_PROXY names is reached directly
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert model_settings("dashscope", {}).proxy is None
    finally:
        proxy.close()


def test_an_answer_trickled_a_byte_at_a_time_is_cut_off_at_its_whole_deadline(
    server, settings, job, tmp_path
):
    # Each byte comes well within the per-read timeout, so only a deadline on the whole answer
    # ends it: the answer would take 20 s; the deadline is 2 × 0.3 + 0.2 = 0.8 s.
    def trickle():
        for byte in b'{"output": {"choices": []}, "padding": "' + b"x" * 200:
            time.sleep(0.1)
            yield bytes([byte])

    server.faults.append(Fault(Reply(200, chunks=trickle()), GENERATION, times=1))
    started = time.monotonic()
    result = attempt(job, changed(settings, timeout=0.3, connect_timeout=0.2), tmp_path, retries=0)
    assert result.status == "failed" and "timed out" in result.error
    assert time.monotonic() - started < 5


def test_an_answer_larger_than_any_result_is_refused_before_it_is_read(
    server, settings, job, tmp_path
):
    body = b'{"code": "InternalError", "message": "' + b"x" * 50_000 + b'"}'
    server.faults.append(Fault(Reply(500, chunks=iter([body] * 40)), GENERATION, times=1))
    result = attempt(job, changed(settings, max_result_bytes=10_000), tmp_path, retries=0)
    assert result.status == "failed" and "over 20,000 bytes, more than any result" in result.error
