"""The sample campaign in every size, judged as a designer would: geometric properties of the
layout records, not pixels.

Every variant × locale of the sample is laid out in every preset and two banners by the
built-in editor, as a run decides them (`LocalEditor.decide`: nothing painted), once for the
module.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import pytest

from transcreate.campaign import read_campaign
from transcreate.compose.blocks import smallest_size
from transcreate.compose.verdict import readable_headline
from transcreate.editors.local import LocalEditor
from transcreate.jobs import expand
from transcreate.sizes import PRESETS, parse_size

pytestmark = pytest.mark.slow  # 154 creatives

LOCALES = ["id", "th", "zh", "en"]
SIZES = [None, *PRESETS, "728x90", "300x250"]
WIDE = ["landscape", "728x90", "300x250"]  # wider than the sample's square base
Box = Sequence[int]
Made = dict[tuple[str, str, str | None], dict[str, Any]]


@pytest.fixture(scope="module")
def made(sample_image) -> Made:  # type: ignore[no-untyped-def]
    campaign = read_campaign(sample_image.parent / "skincare-sale.csv")
    editor = LocalEditor()
    base = sample_image.read_bytes()
    jobs = expand(campaign, LOCALES, image_sha256="s", backend=editor.identity, sizes=SIZES).jobs
    records = {}
    for job in jobs:  # decided as the editor decides them; no pixel painted or encoded
        records[(job.variant, job.locale, job.size)] = editor.decide(job, base).layout.record
    return records


def roles(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {element["role"]: element for element in record["elements"]}


def union(boxes: Sequence[Box]) -> tuple[int, int, int, int]:
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )


def apart(first: Box, second: Box) -> float:
    across = max(0, first[0] - second[2], second[0] - first[2])
    down = max(0, first[1] - second[3], second[1] - first[3])
    return math.hypot(across, down)


def test_the_button_ends_its_copy_in_every_size(made: Made) -> None:
    """Headline, offer and button are one block: the button below the copy's last block or
    beside the copy on its lines, never farther than 1.5 headline sizes from it."""
    scattered = []
    for key, record in made.items():
        elements = roles(record)
        copy = [element for element in record["elements"] if element["role"] != "cta"]
        if "cta" not in elements or not copy:
            continue
        button, block = elements["cta"]["box"], union([element["box"] for element in copy])
        middle = (button[1] + button[3]) / 2
        below = button[1] >= copy[-1]["box"][3]
        beside = block[1] <= middle <= block[3] and (button[0] >= block[2] or button[2] <= block[0])
        near = apart(button, block) <= 1.5 * copy[0]["font_size"]
        if not (near and (below or beside)):
            scattered.append((key, button, block))
    assert scattered == []


def test_the_copy_reads_in_hierarchy_order_in_every_size(made: Made) -> None:
    """The headline first, then each block below the one before it or, in a banner's columns,
    to its right."""
    for key, record in made.items():
        copy = [element for element in record["elements"] if element["role"] != "cta"]
        assert copy[0]["role"] == "headline", key
        for before, after in itertools.pairwise(copy):
            below = after["box"][1] >= before["box"][1]
            right = after["box"][0] >= before["box"][2]
            assert below or right, (key, before["box"], after["box"])


def test_a_leaderboards_copy_is_set_large_enough_to_read(made: Made) -> None:
    """728×90 with an offer: the headline at least twice the format's least legible size. (A
    stack of headline, offer and date in 90 px set it at 16 px; side by side, in columns or
    with the button beside, it has the banner's whole height.)"""
    least = smallest_size(parse_size("728x90").pixels)
    for (variant, locale, name), record in made.items():
        if name != "728x90" or len(record["elements"]) < 3:
            continue
        assert roles(record)["headline"]["font_size"] >= 2 * least, (variant, locale)


@pytest.mark.parametrize("size", WIDE)
def test_in_a_wide_frame_all_the_copy_is_on_one_side_of_the_product(made: Made, size: str) -> None:
    """A leaderboard's copy and button read on one side of the product, never around it."""
    for (variant, locale, name), record in made.items():
        if name != size:
            continue
        left, _, right, _ = record["product"]["box"]
        sides = {
            (element["box"][0] + element["box"][2]) < left + right for element in record["elements"]
        }
        assert len(sides) == 1, (variant, locale, record["elements"])


def test_a_link_ads_type_is_scaled_to_the_frame(made: Made) -> None:
    """The landscape's headline is at least the square's scaled by the frames' linear size."""
    ratio = math.sqrt(1200 * 628) / 1080
    for (variant, locale, name), record in made.items():
        if name != "landscape":
            continue
        square = roles(made[(variant, locale, "square")])["headline"]["font_size"]
        assert roles(record)["headline"]["font_size"] >= 0.95 * ratio * square, (variant, locale)


def test_a_link_ads_copy_takes_the_free_side_of_the_product(made: Made) -> None:
    record = made[("summer-sale", "th", "landscape")]
    left, _, right, _ = record["product"]["box"]
    block = union([element["box"] for element in record["elements"]])
    assert block[2] <= left or block[0] >= right
    free = left if block[2] <= left else 1200 - right
    assert free >= 0.45 * 1200  # one large free side, not two thin ones
    assert record["product"]["box"][3] - record["product"]["box"][1] >= 0.6 * 628


def test_the_portraits_copy_is_not_smaller_than_the_squares(made: Made) -> None:
    for (variant, locale, name), record in made.items():
        if name != "portrait":
            continue
        square = roles(made[(variant, locale, "square")])["headline"]["font_size"]
        assert roles(record)["headline"]["font_size"] >= square, (variant, locale)


def test_the_story_holds_its_copy_in_the_safe_zone_well_above_the_least_legible_size(
    made: Made,
) -> None:
    story = parse_size("story")
    least = smallest_size(story.pixels)
    safe = story.safe_zone
    for (variant, locale, name), record in made.items():
        if name != "story":
            continue
        # The reply field and the profile bar leave 51 % of the rows: a long copy may give up
        # its end date or button (in DROP_ORDER), never its headline.
        assert "headline" not in record["dropped"], (variant, locale)
        assert record["safe_zone"] == list(safe)
        for element in record["elements"]:
            left, top, right, bottom = element["box"]
            assert safe[0] <= left and safe[1] <= top, (variant, locale, element["role"])
            assert right <= safe[2] and bottom <= safe[3], (variant, locale, element["role"])
            assert element["font_size"] >= least, (variant, locale, element["role"])
            if element["role"] == "headline":  # 14 px as seen on a 390 px phone, and more
                assert element["font_size"] >= max(1.25 * least, readable_headline(story.pixels))


def test_every_locale_of_an_ad_keeps_the_same_elements_in_every_size(made: Made) -> None:
    """If the price does not fit in one locale, the whole set goes without it: one ad."""
    sets: dict[tuple[str, str | None], set[tuple[str, ...]]] = {}
    for (variant, _, size), record in made.items():
        if size is None:
            continue  # the base size drops nothing
        kept = tuple(sorted(element["role"] for element in record["elements"]))
        sets.setdefault((variant, size), set()).add(kept)
    assert {cell: kept for cell, kept in sets.items() if len(kept) > 1} == {}


def test_every_locale_of_an_ad_sets_its_headline_within_a_quarter_of_the_others(
    made: Made,
) -> None:
    headlines: dict[tuple[str, str | None], list[int]] = {}
    for (variant, _, size), record in made.items():
        if record.get("fallback") is None:  # on a plate over the product it is needs_review
            headline = roles(record)["headline"]["font_size"]
            headlines.setdefault((variant, size), []).append(headline)
    apart = {cell: sizes for cell, sizes in headlines.items() if max(sizes) > 1.25 * min(sizes)}
    assert apart == {}
