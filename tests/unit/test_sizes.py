"""Ad sizes: the presets table, WxH, and the size axis of a run (jobs, keys, rows, resume)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from tests.fakes import ScriptedEditor
from transcreate.campaign import read_campaign
from transcreate.contact_sheet import LABEL, LABEL_WIDTH, MIN_ROW, THUMBNAIL, contact_sheet
from transcreate.jobs import expand
from transcreate.manifest import JobResult, matrix, matrix_csv
from transcreate.request import RunOptions
from transcreate.row_images import RowImages
from transcreate.run.execute import JobContext
from transcreate.run.schedule import run_jobs
from transcreate.sizes import PRESETS, parse_size, parse_sizes
from transcreate.storage import output_key
from transcreate.storage.local import LocalStorage


def test_the_presets_are_the_placements_the_issue_names():
    pixels = {name: size.pixels for name, size in PRESETS.items()}
    assert pixels == {
        "square": (1080, 1080),
        "portrait": (1080, 1350),
        "story": (1080, 1920),
        "landscape": (1200, 628),
    }
    assert all(size.use for size in PRESETS.values())


def test_a_size_is_a_preset_or_width_by_height_and_base_is_the_base_s_own():
    assert parse_size("Story") == PRESETS["story"]
    assert parse_size(" 728 x 90 ").pixels == (728, 90)
    assert parse_size("300×250").name == "300x250"
    assert parse_size("base") is None
    assert parse_sizes("square, story;728x90 square base") == (
        PRESETS["square"],
        PRESETS["story"],
        parse_size("728x90"),
        None,
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("huge", "is not a size; use base, square"),
        ("10x90", "between 32 and 4096"),
        ("0x0", "0×0 px"),
    ],
)
def test_a_bad_size_is_one_sentence_naming_what_would_be_right(text, says):
    with pytest.raises(ValueError, match=says) as caught:
        parse_size(text)
    assert "\n" not in str(caught.value)


def test_the_run_option_takes_text_and_rejects_a_bad_size():
    options = RunOptions(sizes="square, story,728X90")
    assert options.sizes == ("square", "story", "728x90")
    assert options.size_names == ("square", "story", "728x90")
    assert RunOptions().size_names == (None,)
    with pytest.raises(ValidationError, match="'banner' is not a size"):
        RunOptions(sizes="banner")


def test_the_form_offers_the_presets_as_choices():
    items = RunOptions.model_json_schema()["properties"]["sizes"]["items"]
    assert items["anyOf"][0]["enum"] == ["base", "square", "portrait", "story", "landscape"]


@pytest.fixture
def campaign(sample_campaign: Path):
    return read_campaign(sample_campaign)


def test_a_size_is_one_more_job_and_the_base_s_own_keeps_its_key(campaign):
    plain = expand(campaign, ["th"], image_sha256="0" * 64, backend="local/2").jobs
    sized = expand(
        campaign, ["th"], image_sha256="0" * 64, backend="local/2", sizes=[None, "story"]
    ).jobs
    assert len(sized) == 2 * len(plain)
    own = [job for job in sized if job.size is None]
    assert [job.key for job in own] == [job.key for job in plain]
    story = [job for job in sized if job.size == "story"]
    assert {job.key for job in story}.isdisjoint(job.key for job in plain)
    # a variant's headline is sized alike across its locales within one size, not across sizes
    assert all(sibling_size_is_own(job, sized) for job in sized)


def sibling_size_is_own(job, jobs) -> bool:
    same = [
        other.overlays for other in jobs if (other.variant, other.size) == (job.variant, job.size)
    ]
    return [overlays for _, overlays in job.siblings] == same


def test_the_output_key_names_the_size():
    assert output_key("c", "th", "sale", "abcdef0123", "story") == "c/th/sale-story-abcdef01.png"
    assert output_key("c", "th", "sale", "abcdef0123") == "c/th/sale-abcdef01.png"


def test_a_row_s_sizes_column_wins_over_the_run_s(tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "variant,headline,sizes\nbanner,Big sale,728x90 landscape\nfeed,Big sale,\n"
        "bad,Big sale,huge\n",
        encoding="utf-8",
    )
    campaign = read_campaign(sheet)
    assert [problem.column for problem in campaign.problems] == ["sizes"]
    jobs = expand(campaign, ["en"], image_sha256="0" * 64, backend="local/2", sizes=["story"]).jobs
    assert [(job.variant, job.size) for job in jobs] == [
        ("banner", "728x90"),
        ("banner", "landscape"),
        ("feed", "story"),
    ]


def test_a_re_run_that_adds_a_size_makes_only_that_size_s_jobs(campaign, tmp_path):
    storage = LocalStorage(tmp_path)

    def run(sizes):
        jobs = expand(campaign, ["id", "th"], image_sha256="0" * 64, backend="s/1", sizes=sizes)
        editor = ScriptedEditor()
        results = run_jobs(
            list(jobs.jobs),
            JobContext(
                images=RowImages.of(b"image"),
                editor=editor,
                storage=storage,
                retries=0,
                retry_wait=0,
            ),
            threads=2,
        )
        return results, editor

    first, _ = run([None])
    again, editor = run([None, "landscape"])
    made = [(r.variant, r.locale, r.size) for r in again if r.status == "ok"]
    assert sorted(made) == sorted((r.variant, r.locale, "landscape") for r in first)
    assert [r.status for r in again if r.size is None] == ["cached"] * len(first)
    assert sum(editor.calls.values()) == len(first)
    assert all(r.uri.endswith(".png") and "-landscape-" in r.uri for r in again if r.size)


def test_a_model_backend_takes_sizes_too():
    assert RunOptions(backend="dashscope", sizes="story").size_names == ("story",)
    assert RunOptions(backend="dashscope", sizes="base").size_names == (None,)


def test_the_manifest_csv_has_a_size_column_and_one_block_per_size():
    results = [
        JobResult("sale", "th", "ok", uri="file:///o/th/sale-1.png"),
        JobResult("sale", "th", "ok", uri="file:///o/th/sale-story-2.png", size="story"),
        JobResult("promo", "th", "skipped", error="row 3 asks only for id"),
    ]
    rows = matrix(results, ["sale", "promo"], ["th"], [None, "story"])
    assert [(row["variant"], row["size"]) for row in rows] == [
        ("sale", "base"),
        ("promo", "base"),
        ("sale", "story"),
        ("promo", "story"),
    ]
    assert rows[2]["th"].endswith("sale-story-2.png")
    assert rows[3]["th"].startswith("[skipped] row 3")  # a skipped cell holds for every size
    text = matrix_csv(rows, ["th"]).decode("utf-8-sig")
    assert text.splitlines()[0] == "variant,size,th"
    assert (
        matrix_csv(matrix(results, ["sale"], ["th"]), ["th"])
        .decode("utf-8-sig")
        .startswith("variant,th\n")
    )


def test_the_contact_sheet_has_one_block_of_rows_per_size_each_row_as_tall_as_its_pictures():
    def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
        return buffer.getvalue()

    square, banner = png(600, 600, (40, 40, 200)), png(728, 90, (200, 40, 40))
    results = [
        JobResult("sale", "th", "ok", key="k1"),
        JobResult("sale", "th", "ok", key="k2", size="728x90"),
    ]
    read_keys = []

    def read(result):
        read_keys.append(result.key)
        return banner if result.size else square

    sheet = Image.open(io.BytesIO(contact_sheet(results, ["sale"], ["th"], read, [None, "728x90"])))
    assert sorted(read_keys) == ["k1", "k2"]
    # the square output fills its cell; the banner's row is as short as its labels allow, not a
    # square cell with a thin strip in it
    assert sheet.height == LABEL + THUMBNAIL + MIN_ROW
    first = sheet.getpixel((LABEL_WIDTH + 10, LABEL + THUMBNAIL - 10))
    second = sheet.getpixel((LABEL_WIDTH + 10, LABEL + THUMBNAIL + 10))
    assert first == (40, 40, 200) and second == (200, 40, 40)
