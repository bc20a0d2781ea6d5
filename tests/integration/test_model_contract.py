"""What every model API backend does alike, run against each backend's fake on loopback.

One class of shared behaviours (throttling, server errors, timeouts, bad results, keys never
shown, an edit paid for once), subclassed per backend. Adding a backend means a module in
transcreate/editors, a row in `transcreate.editors.EDITORS`, a fake in tests/servers with
`fault_for`, and a subclass here. The backend files (test_dashscope.py …) keep what is the
provider's own.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import pytest
from PIL import Image

from tests.conftest import use_fake_model
from tests.servers.base import FakeServer
from tests.servers.dashscope import GENERATION, FakeDashScope
from tests.servers.dify import FakeDify
from tests.servers.openai import FakeOpenAIImages
from transcreate.campaign import read_campaign
from transcreate.editors import load_editor_class
from transcreate.editors.model import ModelEditor
from transcreate.editors.prepare import prepare_image
from transcreate.errors import RetryableEditError
from transcreate.jobs import EditJob, expand
from transcreate.manifest import JobResult
from transcreate.request import RunRequest
from transcreate.row_images import RowImages
from transcreate.run.execute import JobContext, process_job
from transcreate.settings import ModelSettings
from transcreate.storage.local import LocalStorage
from transcreate.wiring import localize

WRONG_KEY = "sk-wrong-secret-value-0123456789"


def png(width: int = 600, height: int = 400) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def forms(secret: str) -> list[str]:
    """The ways an echoed key could be written out if it were not removed."""
    return [
        secret,
        quote(secret, safe=""),
        base64.b64encode(f"user:{secret}".encode()).decode(),
        base64.b64encode(secret.encode()).decode().rstrip("="),
    ]


@pytest.fixture(scope="module")
def job(sample_campaign: Path) -> EditJob:
    campaign = read_campaign(sample_campaign)
    return expand(campaign, ["th"], image_sha256="x", backend="contract", mode="model").jobs[0]


class ModelAPIContract:
    """The shared behaviours. A subclass names its backend, its fake and its paid path."""

    backend: ClassVar[str]
    fake: ClassVar[type[FakeServer]]
    key: ClassVar[str]
    model: ClassVar[str]
    edit_path: ClassVar[str]  # the paid call
    options: ClassVar[dict[str, Any]] = {}  # what makes results come back as links
    #: paid edits after the answer to the first came too late: 1 where the API has a run or
    #: task id to collect the result by, 2 where it has none (the edit is made again)
    paid_after_a_late_answer: ClassVar[int]

    @pytest.fixture
    def server(self) -> Any:
        with self.fake(api_key=self.key) as fake:  # type: ignore[call-arg]
            yield fake

    @pytest.fixture
    def settings(self, server: FakeServer, tmp_path: Path) -> ModelSettings:
        return ModelSettings(
            provider=self.backend,
            base_url=f"{server.url}{server.api_path}",
            model=self.model,
            api_key=self.key,
            timeout=1.0,  # the fakes' late answers come after 2.5 s
            cache_dir=tmp_path / "cache",
            options=self.options,
        )

    def editor(self, settings: ModelSettings, **changes: Any) -> ModelEditor:
        chosen = ModelSettings(**{**settings.__dict__, **changes})
        return ModelEditor(load_editor_class(self.backend)(chosen), chosen)

    def attempt(
        self,
        job: EditJob,
        editor: ModelEditor,
        tmp_path: Path,
        retries: int = 2,
        ends: float | None = None,
    ) -> JobResult:
        return process_job(
            job,
            JobContext(
                images=RowImages.of(png()),
                editor=editor,
                storage=LocalStorage(tmp_path / "out"),
                retries=retries,
                retry_wait=0.01,
                ends=ends,
            ),
        )

    def test_429_says_when_to_come_back_and_is_retried(
        self, server, settings, job, tmp_path, caplog
    ):
        server.fault("throttled", times=2)
        api = load_editor_class(self.backend)(settings)
        with pytest.raises(RetryableEditError) as raised:
            api.edit_image(prepare_image(png(), 1024, 10 << 20), job.instruction)
        assert raised.value.retry_after == 1.0
        with caplog.at_level(logging.WARNING, logger="transcreate"):
            result = self.attempt(job, self.editor(settings), tmp_path)
        assert (result.status, result.attempts) == ("ok", 2)
        waits = [r.getMessage() for r in caplog.records if "trying again in" in r.getMessage()]
        assert (
            len(waits) == 1
            and "429" in waits[0]
            and "trying again in 1.0 s (retry 1 of 2)" in (waits[0])
        )
        assert f"variant {job.variant}, locale {job.locale}" in waits[0]
        assert server.calls(self.edit_path) == 3 and server.paid == 1

    def test_a_retry_past_the_runs_deadline_is_not_waited_for(
        self, server, settings, job, tmp_path, caplog
    ):
        # The service asks for 1 s; the run ends in a quarter of that: the job fails at once,
        # saying why, and nothing is paid. (With the deadline gone, the run's next job is not
        # even begun.)
        server.fault("throttled", times=5)
        soon = time.time() + 0.25
        with caplog.at_level(logging.WARNING, logger="transcreate"):
            result = self.attempt(job, self.editor(settings), tmp_path, ends=soon)
        assert (result.status, result.attempts) == ("failed", 1)
        assert "not tried again: the next try, in 1 s, would begin after the run's deadline" in (
            result.error
        )
        assert "429" in result.error and server.paid == 0
        later = self.attempt(job, self.editor(settings), tmp_path, ends=time.time() - 1)
        assert later.status == "failed" and "not started: the run's deadline passed" in (
            later.error
        )
        assert server.calls(self.edit_path) == 1  # the second job called nothing
        server.clear_faults()
        waited = self.attempt(job, self.editor(settings), tmp_path / "again", ends=None)
        assert waited.status == "ok"

    def test_a_server_error_is_retried(self, server, settings, job, tmp_path):
        server.fault("server_error")
        result = self.attempt(job, self.editor(settings), tmp_path)
        assert (result.status, result.attempts) == ("ok", 2)

    def test_a_timeout_is_retried_then_recorded_as_failed(self, server, settings, job, tmp_path):
        server.fault("timeout", times=2)
        result = self.attempt(job, self.editor(settings), tmp_path, retries=1)
        assert (result.status, result.attempts) == ("failed", 2)
        assert "timed out" in result.error and job.variant in result.error

    def test_a_dead_result_link_fails_the_job(self, server, settings, job, tmp_path):
        server.fault("dead_link")
        result = self.attempt(job, self.editor(settings), tmp_path)
        assert result.status == "failed" and "not found" in result.error

    def test_a_result_that_is_not_an_image_is_asked_for_again(
        self, server, settings, job, tmp_path
    ):
        # the service's fault, not the request's: asked again, and a result link (already paid
        # for) is fetched again rather than paid for again
        server.fault("not_an_image")
        result = self.attempt(job, self.editor(settings), tmp_path)
        assert (result.status, result.attempts) == ("ok", 2)
        assert server.paid == 1

    def test_a_result_that_stays_broken_fails_the_job(self, server, settings, job, tmp_path):
        server.fault("not_an_image", times=3)
        result = self.attempt(job, self.editor(settings), tmp_path, retries=2)
        assert (result.status, result.attempts) == ("failed", 3)
        assert "not an image" in result.error

    def test_an_oversized_result_fails_the_job(self, server, settings, job, tmp_path):
        server.fault("oversized")
        result = self.attempt(job, self.editor(settings, max_result_bytes=1000), tmp_path)
        assert result.status == "failed" and "1,000" in result.error

    def test_a_wrong_key_fails_at_once_and_is_never_shown(
        self, server, settings, job, tmp_path, caplog
    ):
        caplog.set_level(logging.DEBUG)
        wrong = ModelSettings(**{**settings.__dict__, "api_key": WRONG_KEY})
        result = self.attempt(job, self.editor(wrong), tmp_path)
        assert (result.status, result.attempts) == ("failed", 1)
        for text in (result.error, repr(wrong), caplog.text):
            assert WRONG_KEY not in text

    def test_a_key_the_server_echoes_is_removed_in_every_form(
        self, server, settings, job, tmp_path, caplog
    ):
        caplog.set_level(logging.DEBUG)
        server.echo_key = True
        server.fault("server_error", times=3)
        result = self.attempt(job, self.editor(settings), tmp_path)
        assert result.status == "failed" and "debug: authorization" in result.error
        for form in forms(self.key):
            assert form not in result.error and form not in caplog.text

    def test_a_failed_download_is_fetched_again_not_edited_again(
        self, server, settings, job, tmp_path
    ):
        server.fault("download_error")
        result = self.attempt(job, self.editor(settings), tmp_path)
        assert (result.status, result.attempts) == ("ok", 2)
        assert server.paid == 1

    def test_a_run_that_gave_up_on_a_download_is_resumed_without_paying(
        self, server, settings, job, tmp_path
    ):
        server.fault("download_error", times=2)
        first = self.attempt(job, self.editor(settings), tmp_path, retries=1)
        assert first.status == "failed" and server.paid == 1
        again = self.attempt(job, self.editor(settings), tmp_path)  # a new run, a new editor
        assert again.status == "ok" and server.paid == 1

    def test_an_answer_that_comes_after_the_timeout(self, server, settings, job, tmp_path):
        server.fault("timeout_after_edit")
        result = self.attempt(job, self.editor(settings), tmp_path)
        assert result.status == "ok"
        assert server.paid == self.paid_after_a_late_answer

    def test_no_artifact_or_log_of_a_campaign_holds_an_echoed_key(
        self, server, sample_campaign, sample_image, tmp_path, monkeypatch, caplog
    ):
        caplog.set_level(logging.DEBUG)
        use_fake_model(monkeypatch, tmp_path, server)
        monkeypatch.setenv(f"{server.env_prefix}_API_KEY", WRONG_KEY)  # every call: a 401 + echo
        server.echo_key = True
        out = tmp_path / "out"
        summary = localize(
            RunRequest(
                campaign=str(sample_campaign),
                image=str(sample_image),
                out=str(out),
                backend=self.backend,
                mode="model",  # every job, Thai's too, goes to the model and is refused
                retry_wait=0.01,
            )
        )
        assert summary.counts["failed"] == 22
        written = [path for path in out.rglob("*") if path.is_file()]
        assert any(path.name == "manifest.csv" for path in written)
        assert any("audit" in path.parts for path in written)
        for path in written:
            data = path.read_bytes()
            for form in forms(WRONG_KEY):
                assert form.encode() not in data, f"{form} in {path}"
        assert "debug: authorization" in (out / "skincare-sale" / "manifest.json").read_text()
        for form in forms(WRONG_KEY):
            assert form not in caplog.text


class TestDashScope(ModelAPIContract):
    backend, fake, key = "dashscope", FakeDashScope, "sk-test-dashscope-secret-value"
    model, edit_path = "qwen-image-edit-plus", GENERATION
    paid_after_a_late_answer = 2  # synchronous only: no task id to collect the result by


class TestOpenAI(ModelAPIContract):
    backend, fake, key = "openai", FakeOpenAIImages, "sk-test-openai-secret-value"
    model, edit_path = "Qwen/Qwen-Image-Edit-2509", "/v1/images/edits"
    options: ClassVar[dict[str, Any]] = {"response_format": "url"}
    paid_after_a_late_answer = 2  # the images API has no task id


class TestDify(ModelAPIContract):
    backend, fake, key = "dify", FakeDify, "app-test-dify-secret-value"
    model, edit_path = "qwen-edit-app", "/workflows/run"
    paid_after_a_late_answer = 1  # the run id from the first event: its result is fetched
