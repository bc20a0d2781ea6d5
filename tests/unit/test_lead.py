"""When the offer is the message: a row's `lead` column sets the price or discount largest, the
headline a line above it in the offer's type, and the model is told so."""

from __future__ import annotations

from tests.drawing import layout
from transcreate.campaign import read_campaign
from transcreate.compose.blocks import TextBlock
from transcreate.compose.reframe import copy_layout
from transcreate.compose.verdict import layout_problems
from transcreate.jobs import expand

HEADER = "variant,headline,discount,price,currency,cta,lead\n"


def campaign(rows: str):  # type: ignore[no-untyped-def]
    return read_campaign("sale.csv", data=(HEADER + rows).encode())


def test_the_lead_column_is_read_and_a_bad_one_named() -> None:
    read = campaign(
        "a,Year-End Sale,70,,,Shop,offer\n"
        "b,Year-End Sale,70,,,Shop,\n"
        "c,Year-End Sale,70,,,Shop,price\n"
        "d,Year-End Sale,,,,Shop,offer\n"
    )
    assert [(v.variant, v.lead) for v in read.variants] == [("a", "offer"), ("b", "headline")]
    problems = [str(problem) for problem in read.problems]
    assert problems == [
        "sale.csv, row 4, column lead: 'price' is not headline or offer; write offer to set the "
        "price or discount largest, or leave it empty",
        "sale.csv, row 5, column lead: the offer leads, but the row has no discount or price to "
        "lead with",
    ]


def test_the_offer_takes_the_headlines_type_and_the_model_is_told() -> None:
    read = campaign("a,Year-End Sale,70,,,Shop,offer\nb,Year-End Sale,70,,,Shop,\n")
    led, plain = expand(read, ["en"], image_sha256="0" * 64, backend="m", mode="model").jobs
    styles = {o.role: o.style for o in led.overlays}
    assert styles == {"headline": "offer", "offer": "headline", "cta": None}
    assert "Make “70% off” the largest, most prominent text." in led.instruction
    assert all(o.style is None for o in plain.overlays)
    assert "largest" not in plain.instruction
    assert led.key != plain.key
    zh = expand(read, ["zh"], image_sha256="0" * 64, backend="m", mode="model").jobs[0]
    assert "成为最大、最醒目的文字" in zh.instruction


def blocks(lead: bool) -> list[TextBlock]:
    return [
        TextBlock("headline", "Year-End Sale", "#FFFFFF", style="offer" if lead else None),
        TextBlock("offer", "70% off", "#FFD600", style="headline" if lead else None),
        TextBlock("cta", "Shop now", "#FFD600"),
    ]


def test_the_leading_offer_is_set_larger_than_the_headline_above_it() -> None:
    headline, offer, _ = layout(blocks(lead=True), "top-left", (1080, 1080), "en")
    assert offer.font_size > headline.font_size
    assert headline.box[1] < offer.box[1], "the headline reads first, a line above"
    plain = layout(blocks(lead=False), "top-left", (1080, 1080), "en")
    assert plain[0].font_size > plain[1].font_size


def test_a_small_leading_offer_is_what_the_verdict_reads() -> None:
    record = {
        "canvas": [1080, 1080],
        "elements": [
            {"role": "headline", "style": "offer", "box": [10, 10, 200, 40], "font_size": 40},
            {"role": "offer", "style": "headline", "box": [10, 50, 200, 70], "font_size": 20},
        ],
    }
    assert layout_problems(record) == [
        "the offer is 20 px, below the 39 px that reads at 1080×1080"
    ]


def test_a_size_short_of_room_drops_the_headline_before_the_offer_that_leads() -> None:
    from PIL import Image

    banner = Image.new("RGB", (200, 40), "#202020")
    led = copy_layout(banner, blocks(lead=True), "center-left", "en", product=None, common=None)
    plain = copy_layout(banner, blocks(lead=False), "center-left", "en", product=None, common=None)
    assert "headline" in led.record["dropped"] and "offer" not in led.record["dropped"]
    assert "offer" in plain.record["dropped"]
