"""A model editor's identity covers everything that decides its result: the endpoint, the app
behind the key, the model and every option. Results of one endpoint are never served as another's,
neither from the result cache nor from the outputs already stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import use_fake_model
from tests.servers.dashscope import FakeDashScope
from transcreate.cli import app
from transcreate.editors.dify import DifyWorkflowAPI
from transcreate.editors.model import ModelEditor
from transcreate.editors.openai import OpenAIImagesAPI
from transcreate.request import RunRequest
from transcreate.settings import ModelSettings
from transcreate.wiring import localize


@pytest.fixture(scope="module")
def fake_a():
    with FakeDashScope(api_key="sk-test-key-of-a") as fake:
        yield fake


@pytest.fixture(scope="module")
def fake_b():
    with FakeDashScope(api_key="sk-test-key-of-b") as fake:
        yield fake


def point_at(monkeypatch: pytest.MonkeyPatch, server: FakeDashScope) -> None:
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)


def run(sample_campaign: Path, sample_image: Path, out: Path, locales: str = "id,th,zh,en"):
    request = RunRequest(
        campaign=str(sample_campaign),
        image=str(sample_image),
        out=str(out),
        locales=locales,
        backend="dashscope",
        retry_wait=0.01,
    )
    return localize(request)


def backends_in(out: Path) -> set[str]:
    [manifest] = out.rglob("manifest.json")
    jobs = json.loads(manifest.read_text(encoding="utf-8"))["jobs"]
    return {job["backend"] for job in jobs if job.get("backend")}


def test_two_fakes_on_different_ports_never_share_a_result(
    fake_a, fake_b, monkeypatch, tmp_path, sample_campaign, sample_image
):
    use_fake_model(monkeypatch, tmp_path, fake_a)  # one result cache for both runs
    first = run(sample_campaign, sample_image, tmp_path / "out")
    made_by_a, edits_of_b = fake_a.edits, fake_b.edits
    assert first.counts["ok"] > 0 and made_by_a > 0

    point_at(monkeypatch, fake_b)  # same cache, same destination: only the endpoint changed
    second = run(sample_campaign, sample_image, tmp_path / "out")
    assert second.counts["cached"] == 0
    assert second.counts["ok"] == first.counts["ok"]
    assert fake_b.edits - edits_of_b == made_by_a  # B is asked for every edit A made
    assert fake_a.edits == made_by_a


def test_an_unchanged_endpoint_finds_its_results_again(
    fake_a, monkeypatch, tmp_path, sample_campaign, sample_image
):
    use_fake_model(monkeypatch, tmp_path, fake_a)
    first = run(sample_campaign, sample_image, tmp_path / "out", "zh")
    before = fake_a.edits
    again = run(sample_campaign, sample_image, tmp_path / "out", "zh")
    assert again.counts["cached"] == first.counts["ok"] and again.counts["ok"] == 0
    assert fake_a.edits == before
    # a new destination: served by the result cache (same endpoint, same keys)
    elsewhere = run(sample_campaign, sample_image, tmp_path / "elsewhere", "zh")
    assert elsewhere.counts["ok"] == first.counts["ok"]
    assert fake_a.edits == before


def test_an_option_change_is_a_new_job(
    fake_a, monkeypatch, tmp_path, sample_campaign, sample_image
):
    use_fake_model(monkeypatch, tmp_path, fake_a)
    first = run(sample_campaign, sample_image, tmp_path / "out", "zh")
    before = fake_a.edits
    (tmp_path / "transcreate.toml").write_text("[backends.dashscope]\nseed = 7\n", "utf-8")
    second = run(sample_campaign, sample_image, tmp_path / "out", "zh")
    assert second.counts["cached"] == 0 and second.counts["ok"] == first.counts["ok"]
    assert fake_a.edits > before
    assert len(backends_in(tmp_path / "out")) == 1  # the manifest names the new identity only


def test_the_edit_command_against_b_after_a_calls_b(
    fake_a, fake_b, monkeypatch, tmp_path, sample_image
):
    use_fake_model(monkeypatch, tmp_path, fake_a)
    target = tmp_path / "edited.png"
    instruction = "把瓶子改成蓝色"
    command = ["edit", str(sample_image), instruction, "--backend", "dashscope", "-o", str(target)]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    point_at(monkeypatch, fake_b)
    before = fake_b.edits
    second = CliRunner().invoke(app, command)
    assert second.exit_code == 0, second.output
    assert fake_b.edits == before + 1


def settings(provider: str, **fields: object) -> ModelSettings:
    values: dict[str, object] = {
        "provider": provider,
        "base_url": "https://api.example.test/v1",
        "model": "qwen-image-edit-plus",
        "api_key": "app-secret-one",
        **fields,
    }
    return ModelSettings(**values)  # type: ignore[arg-type]


def identity(api_class: type, **fields: object) -> str:
    chosen = settings("dify" if api_class is DifyWorkflowAPI else "openai", **fields)
    return ModelEditor(api_class(chosen), chosen).identity


def test_an_identity_is_stable_while_nothing_changes():
    assert identity(OpenAIImagesAPI) == identity(OpenAIImagesAPI)
    assert identity(OpenAIImagesAPI, options={"size": "1024x1024", "user": "a"}) == identity(
        OpenAIImagesAPI, options={"user": "a", "size": "1024x1024"}
    )
    # a trailing slash is the same endpoint
    assert identity(OpenAIImagesAPI, base_url="https://api.example.test/v1/") == identity(
        OpenAIImagesAPI
    )


@pytest.mark.parametrize(
    "change",
    [
        {"base_url": "http://127.0.0.1:9999/v1"},
        {"model": "qwen-image-edit"},
        {"options": {"size": "1024x1024"}},
        {"options": {"response_format": "url"}},
        {"max_side": 2048},
    ],
)
def test_every_setting_that_decides_the_result_changes_the_identity(change):
    assert identity(OpenAIImagesAPI, **change) != identity(OpenAIImagesAPI)


def test_each_dify_app_is_its_own_editor_and_its_key_is_never_shown():
    one, other = identity(DifyWorkflowAPI), identity(DifyWorkflowAPI, api_key="app-secret-two")
    assert one != other
    assert one.startswith("dify/")
    assert "secret" not in one and "secret" not in other


def test_an_openai_key_change_is_the_same_editor():
    # An OpenAI or DashScope key names an account, not what edits: results stay valid.
    assert identity(OpenAIImagesAPI, api_key="sk-rotated") == identity(OpenAIImagesAPI)
