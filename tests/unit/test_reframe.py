"""Reframing a base to every ad size, product first, and the copy laid out again in each size.

The product shots are generated: a teal bottle (a colour found nowhere else) on a gradient backdrop,
in different places, with the user's mask naming it exactly.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from transcreate.compose.record import read_layout
from transcreate.compose.reframe import DROP_ORDER, UPSCALE_LIMIT, reframe
from transcreate.compose.saliency import mask_from_image
from transcreate.editors.local import LocalEditor
from transcreate.jobs import EditJob, Overlay
from transcreate.sizes import PRESETS, parse_size

TEAL = (20, 120, 130)
BASE = (1000, 1000)
PLACES = {  # the bottle's box in the base
    "centre": (400, 300, 600, 700),
    "left-third": (180, 320, 360, 700),
    "right": (700, 250, 900, 650),
    "low": (420, 620, 580, 960),
}
SIZES = [*PRESETS, "728x90", "300x250"]
TALL = (420, 120, 580, 880)


def shot(box, gradient="vertical", size=BASE):
    """A gradient backdrop with the bottle, and the mask that names it."""
    x = np.linspace(0, 1, size[0])[None, :, None]
    y = np.linspace(0, 1, size[1])[:, None, None]
    t = y if gradient == "vertical" else x
    start, end = np.array([250, 220, 200]), np.array([200, 140, 110])
    backdrop = (start + (end - start) * t) * np.ones((size[1], size[0], 1))
    image = Image.fromarray(backdrop.astype(np.uint8), "RGB")
    ImageDraw.Draw(image).rectangle(box, fill=TEAL)
    mask = Image.new("L", size)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return image, buffer.getvalue()


def teal_box(image):
    pixels = np.asarray(image, dtype=np.int16)
    teal = (np.abs(pixels - np.array(TEAL)).sum(axis=2) < 12).astype(bool)
    rows, columns = np.flatnonzero(teal.any(axis=1)), np.flatnonzero(teal.any(axis=0))
    return teal, (columns[0], rows[0], columns[-1] + 1, rows[-1] + 1)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", SIZES)
def test_every_size_is_exact_with_the_whole_product_undistorted(place, name):
    box = PLACES[place]
    image, mask = shot(box)
    frame = parse_size(name).pixels
    framed = reframe(image, frame, mask_from_image(mask, image.size))
    assert framed.image.size == frame
    _, (left, top, right, bottom) = teal_box(framed.image)
    assert left > 0 and top > 0 and right < frame[0] and bottom < frame[1]  # wholly inside
    aspect = (box[2] - box[0] + 1) / (box[3] - box[1] + 1)
    # within 2 %, or a pixel of rounding and antialiased edges on a bottle a banner shows 40 px
    # wide
    tolerance = max(0.02, 2.5 / min(right - left, bottom - top))
    assert abs((right - left) / (bottom - top) / aspect - 1) < tolerance
    assert framed.record["scale"] <= UPSCALE_LIMIT and framed.record["upscaled"] is None
    assert framed.product.box is not None


def test_a_crop_is_used_when_the_aspect_allows_it():
    image, mask = shot(PLACES["centre"])
    framed = reframe(image, PRESETS["landscape"].pixels, mask_from_image(mask, image.size))
    assert framed.record["method"] == "crop"
    assert framed.record["extended"] == {}


def test_a_taller_frame_extends_rather_than_enlarge_the_product_into_the_copys_room():
    # Cropping a square base to 4:5 would enlarge the product by a quarter and leave the copy
    # two thin strips beside it; the frame is extended above and below instead.
    image, mask = shot(PLACES["centre"])
    framed = reframe(image, PRESETS["portrait"].pixels, mask_from_image(mask, image.size))
    assert framed.record["method"] == "extend"
    assert set(framed.record["extended"]) == {"top", "bottom"}


@pytest.mark.parametrize(
    ("name", "gradient", "side"),
    [
        ("landscape", "horizontal", "left"),
        ("landscape", "horizontal", "right"),
        ("story", "vertical", "top"),
        ("story", "vertical", "bottom"),
        ("728x90", "horizontal", "right"),
    ],
)
def test_the_extended_area_continues_the_gradient_without_a_seam(name, gradient, side):
    image, mask = shot(TALL, gradient)  # too tall for a crop to any of these frames
    framed = reframe(image, parse_size(name).pixels, mask_from_image(mask, image.size))
    assert side in framed.record["extended"]
    left, top, right, bottom = framed.record["base_box"]
    product = framed.product.box
    pixels = np.asarray(framed.image, dtype=np.float32)
    if side in ("top", "bottom"):  # look at it as columns: the same test turned by 90 degrees
        pixels = pixels.transpose(1, 0, 2)
        left, right, product = top, bottom, (product[1], product[0], product[3], product[2])
    # the lines beside the product (backdrop only), one mean colour per column
    band = np.concatenate([pixels[: max(2, product[1] - 2)], pixels[product[3] + 2 :]])
    columns = band.mean(axis=0)
    steps = np.abs(np.diff(columns, axis=0)).mean(axis=1)  # step from column i to i + 1
    if side in ("left", "top"):
        across, inside = steps[left - 1], steps[left + 1 : left + 30]
        seam, inward, outer = left, left + 30, 0
    else:
        across, inside = steps[right - 1], steps[right - 30 : right - 2]
        seam, inward, outer = right - 1, right - 31, len(columns) - 1
    # no hard seam: the step across it is no larger than the gradient's own steps, plus rounding
    assert across <= inside.max() + 1.0
    # a gradient stays a gradient: going outwards, the colour keeps changing the same way
    lightness = columns.mean(axis=1)
    in_base = lightness[seam] - lightness[inward]
    outwards = lightness[outer] - lightness[seam]
    assert np.sign(outwards) == np.sign(in_base) and abs(outwards) > 1


def test_a_product_at_the_edge_is_not_smeared_into_the_extension():
    box = (820, 300, 999, 700)  # the bottle is cut by the base's right edge
    image, mask = shot(box, "vertical")
    framed = reframe(image, PRESETS["landscape"].pixels, mask_from_image(mask, image.size))
    right = framed.record["base_box"][2]
    assert "right" in framed.record["extended"]
    teal, _ = teal_box(framed.image)
    assert not teal[:, right + 2 :].any()


def test_a_base_enlarged_past_the_limit_says_so():
    image, mask = shot((160, 120, 240, 280), size=(400, 400))
    framed = reframe(image, PRESETS["story"].pixels, mask_from_image(mask, image.size))
    assert framed.record["upscaled"] is not None and framed.record["upscaled"] > UPSCALE_LIMIT


def job(size, locale="en", headline="Big sale", position="center"):
    overlays = (
        Overlay("headline", headline, "#FFD400"),
        Overlay("offer", "Only $9.99", "#FFD400"),
        Overlay("ends", "Ends 12 December", "#FFD400"),
        Overlay("cta", "Shop now", "#FFD400"),
    )
    return EditJob(
        "c", "sale", locale, "default", "", overlays, position, "0" * 64, "local/2", size=size
    )


@pytest.mark.parametrize("place", ["centre", "left-third", "low"])
@pytest.mark.parametrize("name", [*PRESETS, "300x250"])
def test_the_copy_is_never_over_the_product_in_any_size(place, name):
    image, mask = shot(PLACES[place])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    editor = LocalEditor(mask=mask)
    output = editor.edit(job(name), buffer.getvalue()).png
    record = read_layout(output)
    assert record["canvas"] == list(parse_size(name).pixels)
    assert record["reframe"]["canvas"] == record["canvas"]
    size = parse_size(name)
    framed = reframe(
        image, size.pixels, mask_from_image(mask, image.size), "center", size.safe_zone
    )
    teal, _ = teal_box(framed.image)
    for element in record["elements"]:
        for left, top, right, bottom in element["line_boxes"]:
            assert not teal[max(0, top) : bottom, max(0, left) : right].any(), element["role"]
    assert record["fallback"] is None


def test_a_banner_drops_secondary_lines_in_the_stated_order():
    # 320×50: too short even for columns (a 728×90 now sets all four side by side)
    image, mask = shot(PLACES["centre"])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    thai = "ลดราคาครั้งใหญ่ที่สุดแห่งปีสำหรับสมาชิกทุกท่านเท่านั้น"
    output = LocalEditor(mask=mask).edit(job("320x50", "th", thai), buffer.getvalue()).png
    record = read_layout(output)
    dropped = record["dropped"]
    assert dropped and dropped == list(DROP_ORDER[: len(dropped)])
    roles = [element["role"] for element in record["elements"]]
    assert "headline" in roles and not set(roles) & set(dropped)
    assert record["reframe"]["canvas"] == [320, 50]


def test_a_size_with_room_drops_nothing():
    image, mask = shot(PLACES["centre"])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    record = LocalEditor(mask=mask).edit(job("square"), buffer.getvalue()).layout
    assert record["dropped"] == []
    assert {element["role"] for element in record["elements"]} == {
        "headline",
        "offer",
        "ends",
        "cta",
    }


def edited(place, name, position, headline="Big sale"):
    image, mask = shot(PLACES[place])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    output = LocalEditor(mask=mask).edit(job(name, "en", headline, position), buffer.getvalue()).png
    return read_layout(output)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", ["landscape", "728x90"])
@pytest.mark.parametrize(("position", "side"), [("center-left", "left"), ("bottom-right", "right")])
def test_in_a_wider_frame_the_copy_takes_the_side_its_position_names(place, name, position, side):
    record = edited(place, name, position)
    left, _, right, _ = record["product"]["box"]
    boxes = [element["box"] for element in record["elements"]]
    if side == "left":
        assert max(box[2] for box in boxes) <= left, boxes
    else:
        assert min(box[0] for box in boxes) >= right, boxes
    assert "headline" in [element["role"] for element in record["elements"]]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", ["portrait", "story"])
@pytest.mark.parametrize(("position", "side"), [("top-left", "above"), ("center", "below")])
def test_in_a_taller_frame_the_copy_goes_above_or_below_the_product(place, name, position, side):
    record = edited(place, name, position)
    _, top, _, bottom = record["product"]["box"]
    boxes = [element["box"] for element in record["elements"]]
    safe = parse_size(name).safe_zone
    assert all(
        safe[0] <= b[0] and safe[1] <= b[1] and b[2] <= safe[2] and b[3] <= safe[3] for b in boxes
    ), (boxes, safe)
    if name == "story" and min(box[1] for box in boxes) < bottom and max(b[3] for b in boxes) > top:
        # A story's reply field covers its bottom third: when the side the position names has
        # too few rows left in the safe zone, the copy sits beside the product (never over it:
        # test_the_copy_is_never_over_the_product_in_any_size).
        left, _, right, _ = record["product"]["box"]
        assert all(b[2] <= left or b[0] >= right for b in boxes), boxes
    elif side == "above":
        assert max(box[3] for box in boxes) <= top, boxes
    else:
        assert min(box[1] for box in boxes) >= bottom, boxes
    # A story's safe zone leaves 51 % of its rows: it may give up its end date, never more.
    assert record["dropped"] == [] or (name == "story" and record["dropped"] == ["ends"])
    assert record["reframe"]["copy_area"] is not None
