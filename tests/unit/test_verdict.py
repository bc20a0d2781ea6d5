"""The rules an art director applies, read from a layout record, and what a run does with them:
an output that breaks one is ``needs_review`` with the reason in words, never ``ok``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fakes import ScriptedEditor
from transcreate.campaign import read_campaign
from transcreate.compose.saliency import ProductMask
from transcreate.compose.verdict import layout_problems, readable_headline
from transcreate.compose.zones import Room
from transcreate.jobs import EditJob, expand
from transcreate.manifest import JobResult
from transcreate.row_images import RowImages
from transcreate.run.execute import JobContext, process_job
from transcreate.run.publish import _with_earlier_records
from transcreate.storage.local import LocalStorage

IMAGE = b"\x89PNG\r\n\x1a\n not decoded by the scripted editor"


def record(**changes: Any) -> dict[str, Any]:
    """A 1080×1080 layout that passes: a 60 px headline and a button, clear of everything."""
    base: dict[str, Any] = {
        "canvas": [1080, 1080],
        "fallback": None,
        "faces": [],
        "safe_zone": None,
        "elements": [
            {"role": "headline", "box": [100, 100, 600, 180], "font_size": 60},
            {"role": "cta", "box": [100, 200, 300, 260], "font_size": 40},
        ],
    }
    return {**base, **changes}


def test_a_clear_layout_has_no_problem() -> None:
    assert layout_problems(record()) == []
    assert layout_problems(None) == [] and layout_problems({"elements": []}) == []


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"canvas": [500, 1080]}, "the headline runs off the 500×1080 canvas"),
        ({"safe_zone": [65, 269, 1015, 1248]}, "outside the safe zone"),
        ({"faces": [[550, 150, 700, 320]]}, "the headline covers a face"),
        ({"fallback": "plate"}, "covers it on a plate"),
        ({"plate_box": [80, 80, 640, 290], "faces": [[620, 270, 700, 360]]}, "plate behind"),
    ],
)
def test_each_broken_rule_is_named(changes: dict[str, Any], words: str) -> None:
    problems = layout_problems(record(**changes))
    assert any(words in problem for problem in problems), problems


def test_a_headline_too_small_for_where_it_is_seen_is_named() -> None:
    small = record()
    small["elements"][0]["font_size"] = 36  # 13 px on a 390 px phone
    assert layout_problems(small) == [
        "the headline is 36 px, below the 39 px that reads at 1080×1080"
    ]


def test_iab_units_are_judged_at_their_own_size_the_rest_as_seen_on_a_phone() -> None:
    assert readable_headline((300, 250)) == readable_headline((728, 90)) == 14
    assert readable_headline((1080, 1920)) == 39  # 14 px at 390 px wide
    assert readable_headline((1200, 628)) == 43
    assert readable_headline((320, 320)) == 14  # never below 14 px


def test_a_block_anchored_past_the_frame_is_placed_inside_it_or_nowhere() -> None:
    # A 300×250 frame whose free side is its bottom 50 rows: an 80 px block anchored at that
    # side's top would run 42 px off the canvas; it used to be placed there.
    room = Room.around(None, (300, 250))
    places = room.places((100, 80), (300, 250), 12)
    assert places is not None
    spot = places.spot("top-left", (0, 200, 300, 250), (300, 250), 12)
    assert spot is not None
    x, y, _, _ = spot
    assert y >= 12 and y + 80 <= 250 - 12 and x >= 12


@pytest.fixture
def job(tmp_path: Path) -> EditJob:
    sheet = tmp_path / "sale.csv"
    sheet.write_text("variant,headline\nhero,Big Sale\n", encoding="utf-8")
    [made] = expand(read_campaign(sheet), ["en"], image_sha256="0" * 64, backend="scripted/1").jobs
    return made


def test_an_output_whose_copy_covers_a_face_is_sent_to_review(job: EditJob, tmp_path: Path) -> None:
    editor = ScriptedEditor(layout=record(faces=[[550, 150, 700, 320]]))
    context = JobContext(
        images=RowImages.of(IMAGE), editor=editor, storage=LocalStorage(tmp_path / "out")
    )
    result = process_job(job, context)
    assert result.status == "needs_review"
    assert result.error is not None and "the headline covers a face" in result.error
    assert result.uri is not None  # made and stored: a person decides, nothing is lost


def test_a_clear_output_is_ok(job: EditJob, tmp_path: Path) -> None:
    editor = ScriptedEditor(layout=record())
    context = JobContext(
        images=RowImages.of(IMAGE), editor=editor, storage=LocalStorage(tmp_path / "out")
    )
    assert process_job(job, context).status == "ok"


def test_a_stored_output_keeps_the_verdict_of_the_record_its_run_wrote() -> None:
    cached = JobResult("hero", "en", "cached", key="k", size=None)
    earlier = {("hero", "en", None, "k"): {"layout": record(fallback="plate"), "reframe": None}}
    [result] = _with_earlier_records([cached], earlier)
    assert result.status == "needs_review"
    assert result.error is not None and "plate" in result.error
    clear = {("hero", "en", None, "k"): {"layout": record(), "reframe": None}}
    assert _with_earlier_records([cached], clear)[0].status == "cached"


def test_outside_a_safe_zone_is_closed_to_copy() -> None:
    grid = np.zeros((96, 54), dtype=bool)
    empty = ProductMask(grid, 20.0, (1080, 1920), "mask", safe=(65, 269, 1015, 1248))
    story = Room.around(empty, (1080, 1920))
    assert story._covered((100, 300, 900, 1200)) == 0
    assert story._covered((100, 1300, 900, 1400)) > 0  # the reply field
    assert story._covered((100, 100, 900, 200)) > 0  # the profile bar


def test_a_display_banner_is_written_within_its_placements_file_limit() -> None:
    import io

    from PIL import Image

    from transcreate.compose.record import encode_png, read_layout
    from transcreate.sizes import parse_size

    banner = parse_size("300x250")
    assert banner is not None and banner.max_bytes == 150 * 1024
    assert "Google Display" in banner.use
    other = parse_size("1000x700")
    assert other is not None and other.max_bytes is None
    noise = np.random.default_rng(7).integers(0, 256, (250, 300, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    assert len(encode_png(image, {})) > banner.max_bytes  # as truecolor it would not fit
    made: dict[str, Any] = {"canvas": [300, 250], "elements": []}
    png = encode_png(image, made, banner.max_bytes)
    assert len(png) <= banner.max_bytes
    assert made["file"]["format"] == "png8" and made["file"]["colors"] <= 256
    assert read_layout(png) == made  # the record in the file says how it was written
    with Image.open(io.BytesIO(png)) as written:
        assert written.size == (300, 250)
    # A limit no palette meets: written as small as it gets, and flagged for a person.
    tight = dict(record())
    encode_png(image, tight, 2_000)
    assert tight["file"]["over_limit"] is True
    assert any("over the 1 KB" in problem for problem in layout_problems(tight))


@pytest.mark.parametrize(
    ("button", "size", "label"),
    [
        ("#E53935", 26, "#FFFFFF"),  # red: white reads (4.2:1) on a bold label
        ("#E53935", 14, "#000000"),  # too small a label for 4.2:1: black (5.0:1)
        ("#1A237E", 14, "#FFFFFF"),  # navy
        ("#FFD600", 26, "#000000"),  # yellow: never white (1.4:1)
    ],
)
def test_a_buttons_label_is_white_wherever_white_reads(button: str, size: int, label: str) -> None:
    from transcreate.compose.colors import label_color

    assert label_color(button, size) == label


def test_a_model_output_that_changed_the_product_is_sent_to_review() -> None:
    record = {"reframe": {"canvas": [1080, 1920]}, "drift": 0.31}
    assert layout_problems(record) == [
        "the model changed 31% of the product (more than 15%); it must come back as it was sent"
    ]
    assert layout_problems({**record, "drift": 0.02}) == []
