"""The composition root: one request in, every adapter built with its limits and gates."""

from __future__ import annotations

import typing

import pytest

from transcreate.editors import EDITORS
from transcreate.errors import CampaignError, SetupError
from transcreate.locales import SUPPORTED_LOCALES, SupportedLocale
from transcreate.request import BackendName, RunRequest
from transcreate.wiring import build


def request(sample_campaign, sample_image, tmp_path, **changes) -> RunRequest:
    return RunRequest(
        campaign=str(sample_campaign), image=str(sample_image), out=str(tmp_path), **changes
    )


def test_the_request_model_names_every_registered_backend_and_supported_locale():
    assert set(typing.get_args(BackendName)) == set(EDITORS)
    assert typing.get_args(SupportedLocale) == SUPPORTED_LOCALES


def test_build_gives_the_local_editor_the_requests_layout(sample_campaign, sample_image, tmp_path):
    auto = build(request(sample_campaign, sample_image, tmp_path))
    exact = build(request(sample_campaign, sample_image, tmp_path, layout="exact"))
    assert auto.editor.identity != exact.editor.identity  # the layout is part of every job key
    assert exact.editor.identity.endswith("+exact")
    assert auto.creative.sha256 == exact.creative.sha256
    assert auto.concurrency == 4 and auto.bound == "the run's concurrency (4)"


def test_a_missing_product_mask_is_one_sentence(sample_campaign, sample_image, tmp_path):
    with pytest.raises(CampaignError, match=r"no-mask\.png: no such file; looked for "):
        build(request(sample_campaign, sample_image, tmp_path, product_mask="no-mask.png"))


def test_an_unreadable_product_mask_fails_before_anything_runs_in_model_mode_too(
    sample_campaign, sample_image, tmp_path, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    mask = tmp_path / "mask.png"
    mask.write_bytes(b"not an image")
    with pytest.raises(
        CampaignError, match=r"mask\.png: the product mask is not a readable image \(not PNG"
    ):
        build(
            request(
                sample_campaign, sample_image, tmp_path, backend="openai", product_mask=str(mask)
            )
        )


def test_a_model_backend_without_its_key_fails_before_anything_runs(
    sample_campaign, sample_image, tmp_path, monkeypatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SetupError, match="needs an API key: set OPENAI_API_KEY"):
        build(request(sample_campaign, sample_image, tmp_path / "out", backend="openai"))
    assert not (tmp_path / "out" / "skincare-sale").exists()


def test_the_one_off_edit_refuses_what_a_run_would_block(sample_image, tmp_path, monkeypatch):
    from transcreate.client import edit_image_with_instruction
    from transcreate.errors import PermanentEditError

    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never reached
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PermanentEditError, match="refused before any call"):
        edit_image_with_instruction(
            sample_image, "x" * 400, backend="openai", out=tmp_path / "o.png"
        )
    assert not (tmp_path / "o.png").exists()


def test_mode_auto_has_the_compositor_set_the_copy_a_model_misdraws(
    sample_campaign, sample_image, tmp_path
):
    auto = request(
        sample_campaign, sample_image, tmp_path, backend="dashscope", locales="en,zh,th,ar,ja"
    )
    overlaid = "model+overlay"
    assert {tag: auto.mode_for(tag) for tag in auto.locales} == {
        "en": "model", "zh": "model", "th": overlaid, "ar": overlaid, "ja": overlaid,
    }  # fmt: skip
    assert auto.misdrawn_locales == ("th", "ar", "ja")
    chosen = request(sample_campaign, sample_image, tmp_path, backend="dashscope", mode="model")
    assert {chosen.mode_for(tag) for tag in chosen.locales} == {"model"}
    local = request(sample_campaign, sample_image, tmp_path, locales="th,ar")
    assert {local.mode_for(tag) for tag in local.locales} == {"overlay"}


def test_variations_ask_for_a_model_backend(sample_campaign, sample_image, tmp_path):
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match="variations are scene edits a model makes"):
        request(sample_campaign, sample_image, tmp_path, variations=2)
    assert request(sample_campaign, sample_image, tmp_path, backend="dashscope", variations=2)
