"""Model results come back at the base creative's size, and `transcreate edit` writes the format
its output's name asks for, beside the input by default."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import use_fake_model
from tests.servers.base import band_top
from tests.servers.dashscope import GENERATION, FakeDashScope
from transcreate.cli import app
from transcreate.editors.results import fit_to_base
from transcreate.request import RunRequest
from transcreate.wiring import localize

BASE = (1080, 1350)  # a 4:5 feed creative: the model gets it as 819×1024


@pytest.fixture(scope="module")
def server():
    with FakeDashScope() as fake:
        yield fake


@pytest.fixture
def base(tmp_path) -> Path:
    path = tmp_path / "inputs" / "feed.png"
    path.parent.mkdir()
    image = Image.new("RGB", BASE, (240, 230, 220))
    image.paste((30, 90, 160), (340, 400, 740, 950))  # the product
    image.save(path)
    return path


@pytest.fixture
def configured(server, monkeypatch, tmp_path):
    use_fake_model(monkeypatch, tmp_path, server)
    return server


def sent_size(server: FakeDashScope) -> tuple[int, int]:
    generation = [r for r in server.requests if r.path == GENERATION][-1]
    [message] = generation.json()["input"]["messages"]
    data = base64.b64decode(message["content"][0]["image"].split(",", 1)[1])
    return Image.open(io.BytesIO(data)).size


def outputs(out: Path) -> list[Image.Image]:
    [manifest] = out.rglob("manifest.json")
    jobs = json.loads(manifest.read_text(encoding="utf-8"))["jobs"]
    done = [job for job in jobs if job["status"] in ("ok", "needs_review")]  # made
    assert done
    return [Image.open(job["uri"].removeprefix("file://")) for job in done]


def zh_request(campaign: Path, base: Path, tmp_path: Path, **options: object) -> RunRequest:
    """A run of ``campaign`` in Chinese on the DashScope fake, into ``tmp_path / "out"``."""
    return RunRequest(
        campaign=str(campaign),
        image=str(base),
        out=str(tmp_path / "out"),
        locales=("zh",),
        backend="dashscope",
        retry_wait=0.01,
        **options,
    )


def clean_background_sheet(sample_campaign: Path, folder: Path) -> Path:
    text = sample_campaign.read_text(encoding="utf-8").replace(",default\n", ",clean-background\n")
    sheet = folder / "clean.csv"
    sheet.write_text(text, encoding="utf-8")
    return sheet


@pytest.mark.parametrize("mode", ["model", "model+overlay"])
def test_a_result_on_the_model_canvas_comes_back_at_the_base_size(
    configured, base, sample_campaign, tmp_path, mode
):
    sheet = clean_background_sheet(sample_campaign, tmp_path)  # a non-text edit in both modes
    before = configured.edits
    request = zh_request(sheet, base, tmp_path, mode=mode)
    summary = localize(request)
    assert summary.counts["failed"] == 0
    assert configured.edits > before  # the model was asked …
    assert sent_size(configured) == (819, 1024)  # … on its canvas
    assert {image.size for image in outputs(tmp_path / "out")} == {BASE}


def test_model_mode_in_ad_sizes_draws_on_the_reframed_base(
    configured, base, sample_campaign, tmp_path
):
    # the model draws the copy, so it is sent the base already in each size's frame
    request = zh_request(sample_campaign, base, tmp_path, sizes=("story", "landscape"))
    summary = localize(request)
    # 5 zh rows × 2 sizes; where the fake's band crosses the product, the drift check flags it
    assert summary.counts["failed"] == 0
    assert summary.counts["ok"] + summary.counts["needs_review"] == 10
    assert all("of the product" in reason for reason in summary.flagged)
    generations = [r for r in configured.requests if r.path == GENERATION]
    sent = set()
    for generation in generations[-10:]:
        [message] = generation.json()["input"]["messages"]
        data = base64.b64decode(message["content"][0]["image"].split(",", 1)[1])
        width, height = Image.open(io.BytesIO(data)).size
        sent.add(round(width / height, 2))
    assert sent == {round(1080 / 1920, 2), round(1200 / 628, 2)}  # each size's own frame
    sizes = {image.size for image in outputs(tmp_path / "out")}
    assert sizes == {(1080, 1920), (1200, 628)}
    # how each size was framed is on record, as for the built-in editor's outputs
    [manifest] = (tmp_path / "out").rglob("manifest.json")
    jobs = json.loads(manifest.read_text(encoding="utf-8"))["jobs"]
    framed = [job["reframe"]["canvas"] for job in jobs if job["size"]]
    assert sorted(map(tuple, framed)) == [(1080, 1920)] * 5 + [(1200, 628)] * 5


def manifest_jobs(out: Path) -> list[dict]:
    """The manifest's records of the jobs made."""
    [manifest] = out.rglob("manifest.json")
    jobs = json.loads(manifest.read_text(encoding="utf-8"))["jobs"]
    return [job for job in jobs if job["status"] == "ok"]


def test_a_product_mask_frames_the_models_input_in_ad_sizes(
    configured, base, sample_campaign, tmp_path
):
    """The user's mask says where the product is (top left here, where saliency sees only
    backdrop): the story frame is built around it, as the built-in editor's is."""
    mask = tmp_path / "inputs" / "mask.png"
    drawn = Image.new("L", BASE, 0)
    drawn.paste(255, (40, 40, 300, 300))
    drawn.save(mask)
    found = zh_request(sample_campaign, base, tmp_path / "found", sizes=("story",))
    localize(found)
    masked = zh_request(
        sample_campaign, base, tmp_path / "masked", sizes=("story",), product_mask=str(mask)
    )
    summary = localize(masked)
    assert summary.counts["failed"] == 0
    found_boxes = [
        job["reframe"]["product_box"] for job in manifest_jobs(tmp_path / "found" / "out")
    ]
    mask_boxes = [
        job["reframe"]["product_box"] for job in manifest_jobs(tmp_path / "masked" / "out")
    ]
    assert found_boxes and all(box[0] > 200 for box in found_boxes)  # the bottle, mid-frame
    # the drawn product, at the left, as small as it was drawn
    assert mask_boxes and all(box[2] < 1080 // 2 for box in mask_boxes), mask_boxes
    assert all(box[2] - box[0] < 1080 // 3 for box in mask_boxes), mask_boxes


def test_a_new_mask_makes_the_outputs_again_without_paying_for_unchanged_calls(
    configured, base, sample_campaign, tmp_path
):
    """The mask decides an ad size's framing, so it is part of every job's key; a base-size call
    it did not change is found in the result cache, not paid for again."""
    localize(zh_request(sample_campaign, base, tmp_path))
    mask = tmp_path / "inputs" / "mask.png"
    drawn = Image.new("L", BASE, 0)
    drawn.paste(255, (340, 400, 740, 950))
    drawn.save(mask)
    before = configured.edits
    summary = localize(zh_request(sample_campaign, base, tmp_path, product_mask=str(mask)))
    assert summary.counts["ok"] == 5 and summary.counts["cached"] == 0  # made again …
    assert configured.edits == before  # … from the result cache


def test_model_and_overlay_in_ad_sizes_pays_one_edit_for_every_size(
    configured, base, sample_campaign, tmp_path
):
    sheet = clean_background_sheet(sample_campaign, tmp_path)  # a non-text edit to ask for
    before = configured.edits
    sizes = ("base", "story", "landscape")
    request = zh_request(sheet, base, tmp_path, mode="model+overlay", sizes=sizes)
    summary = localize(request)
    assert summary.counts["failed"] == 0 and summary.counts["ok"] == 15
    # one model edit per variant (its size is not part of the call), reframed by the compositor
    assert configured.edits - before <= 5
    sizes = {image.size for image in outputs(tmp_path / "out")}
    assert sizes == {BASE, (1080, 1920), (1200, 628)}


def png(size: tuple[int, int], colour: tuple[int, int, int], left: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", size, colour)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_rounded_canvas_is_scaled_back():
    fitted = Image.open(io.BytesIO(fit_to_base(png((819, 1024), (0, 0, 255), (255, 0, 0)), BASE)))
    assert fitted.size == BASE
    assert fitted.getpixel((5, 675)) == (255, 0, 0) and fitted.getpixel((1075, 675)) == (0, 0, 255)


def test_a_canvas_of_another_aspect_is_cropped_not_stretched():
    square = png((1024, 1024), (0, 0, 255), (255, 0, 0))
    fitted = Image.open(io.BytesIO(fit_to_base(square, BASE)))
    assert fitted.size == BASE
    # the halves stay halves: a crop around the centre keeps the split in the middle
    assert fitted.getpixel((535, 675))[0] > 200 and fitted.getpixel((545, 675))[2] > 200


def test_a_result_at_the_base_size_is_kept_byte_for_byte():
    data = png(BASE, (0, 0, 255), (255, 0, 0))
    assert fit_to_base(data, BASE) is data


def edit(*arguments: str):
    return CliRunner().invoke(app, ["edit", *arguments, "--backend", "dashscope"])


@pytest.mark.parametrize(("name", "expected"), [("x.jpg", "JPEG"), ("x.webp", "WEBP")])
def test_the_output_format_follows_its_extension(configured, base, tmp_path, name, expected):
    result = edit(str(base), "把背景换成白色", "-o", str(tmp_path / name))
    assert result.exit_code == 0, result.output
    written = Image.open(tmp_path / name)
    assert (written.format, written.size) == (expected, BASE)


def test_an_unknown_extension_is_refused_before_any_call(configured, base, tmp_path):
    before = configured.edits
    result = edit(str(base), "把背景换成白色", "-o", str(tmp_path / "x.gif"))
    assert result.exit_code == 2
    assert ".gif" in result.output and ".jpg" in result.output
    assert configured.edits == before


def test_edit_writes_beside_the_input_by_default(configured, base, tmp_path):
    assert Path.cwd() != base.parent
    result = edit(str(base), "把背景换成白色")
    assert result.exit_code == 0, result.output
    beside = base.parent / "feed-edited.png"
    assert Image.open(beside).size == BASE
    assert not (Path.cwd() / "feed-edited.png").exists()


def sent_text(server: FakeDashScope) -> str:
    generation = [r for r in server.requests if r.path == GENERATION][-1]
    [message] = generation.json()["input"]["messages"]
    return str(message["content"][1]["text"])


def run_sample(sample_campaign: Path, sample_image: Path, out: Path, mode: str, locales: str):
    request = RunRequest(
        campaign=str(sample_campaign),
        image=str(sample_image),
        out=str(out),
        locales=locales,
        backend="dashscope",
        mode=mode,
        retry_wait=0.01,
    )
    return localize(request)


def test_qwen_is_spoken_to_in_chinese_with_the_copy_verbatim(
    configured, sample_campaign, sample_image, tmp_path
):
    summary = run_sample(sample_campaign, sample_image, tmp_path / "out", "model", "th")
    assert summary.counts["blocked"] == 0
    text = sent_text(configured)
    assert "添加" in text and "เพิ่ม" not in text
    [manifest] = (tmp_path / "out").rglob("manifest.json")
    sent = {job["instruction"] for job in json.loads(manifest.read_text("utf-8"))["jobs"]}
    assert text in sent  # the manifest records what was sent


def test_a_model_run_in_a_script_the_model_may_misdraw_says_model_overlay_is_safe(
    configured, sample_campaign, sample_image, tmp_path
):
    summary = run_sample(sample_campaign, sample_image, tmp_path / "a", "model", "th,zh")
    [warning] = [w for w in summary.warnings if "model+overlay" in w]
    assert "th (Thai)" in warning and "zh" not in warning
    overlaid = run_sample(sample_campaign, sample_image, tmp_path / "b", "model+overlay", "th")
    assert not [w for w in overlaid.warnings if "model+overlay" in w]


def test_checks_of_a_model_output_in_an_ad_size_compare_it_with_its_own_frame(
    configured, base, sample_campaign, tmp_path
):
    request = zh_request(sample_campaign, base, tmp_path, sizes=("story",), checks=True)
    summary = localize(request)
    # the fake draws a band, not the copy: every output is flagged for review, none fails
    assert summary.counts["failed"] == 0
    assert summary.counts["needs_review"] == 5
    assert all("copy check" in reason for reason in summary.flagged)


def test_outpainting_asks_the_model_to_extend_the_scene_and_a_changed_product_is_flagged(
    configured, base, sample_campaign, tmp_path
):
    # The fake paints a band a quarter of the height tall where the instruction asks for the
    # copy: where the frame puts the product clear of that band it comes back unchanged; where
    # the band crosses it, the output is flagged (the drift check), never ok.
    request = zh_request(
        sample_campaign, base, tmp_path, sizes=("story", "landscape"), outpaint=True
    )
    summary = localize(request)
    assert summary.counts["failed"] == 0
    generations = [r for r in configured.requests if r.path == GENERATION][-10:]
    texts = [g.json()["input"]["messages"][0]["content"][1]["text"] for g in generations]
    assert all("将模糊的边缘自然延展为场景" in text for text in texts), texts[0]
    [manifest] = (tmp_path / "out").rglob("manifest.json")
    jobs = json.loads(manifest.read_text(encoding="utf-8"))["jobs"]
    sized = [job for job in jobs if job["size"]]
    assert len(sized) == 10
    for job in sized:
        _, top, _, bottom = job["layout"]["reframe"]["product_box"]
        height = job["layout"]["reframe"]["canvas"][1]
        band = band_top(job["instruction"]) * height // 8
        crossed = bottom > band and top < band + height // 4
        if crossed:
            assert job["status"] == "needs_review" and job["layout"]["drift"] > 0.15
            assert "the model changed" in job["error"] and "of the product" in job["error"]
        else:
            assert job["status"] == "ok" and job["layout"]["drift"] < 0.05, job
    assert {job["status"] for job in sized} == {"ok", "needs_review"}
