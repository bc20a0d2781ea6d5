"""Reframing a base creative to another ad size, product first.

The base is scaled uniformly (never stretched), by the most that keeps the product and a margin
inside the new frame but no more than filling it: when the new aspect allows, that is a crop
around the product; when the product would be cut, the base is scaled down until it fits and the
frame is extended on the sides the base no longer reaches. How the
new area is filled is ``fill``'s: the backdrop carried on, or the photograph's own blur. The
record says which (``fill``: ``continue`` or ``blur``) and how much of the frame is fill
(``fill_share``).

A base is never enlarged by more than ``UPSCALE_LIMIT`` silently: the record says ``upscaled``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from transcreate.compose.blocks import TextBlock
from transcreate.compose.faces import with_people
from transcreate.compose.fill import fill_frame
from transcreate.compose.look import COMMON_FLOOR
from transcreate.compose.saliency import ProductMask, mask_from_image, product_mask
from transcreate.compose.typeset import Layout, decide
from transcreate.compose.verdict import lead, readable_headline
from transcreate.errors import TypesettingError
from transcreate.images import decode
from transcreate.sizes import size_by_name

#: The most a base is enlarged before the record flags it (its detail gets soft beyond this).
UPSCALE_LIMIT = 1.5
_MARGIN = 0.04  # of the new frame's shorter side, kept between the product and the frame
_GROW = 1.0  # how much larger, against the frame's shorter side, the product may become
#: Of the backdrop a new frame adds beside the product on the copy's side, the share the product
#: gives up on the far side: the copy gets one large free side, not two thin ones.
_SHIFT = 0.7
_CUT_SHARE = 0.5  # of the copy's axis: the photo is cut on the far side to free no more
_WIDE_SHARE = 0.4  # of a wider frame's width, the most the product takes when it grows
_AREA = 0.3  # the least share of the frame's side a free side must have to take the copy
#: The share of the copy's axis a reframed product leaves the copy, at least: a headline, an
#: offer and a button at a story's type sizes need about 40 % of its safe zone's rows.
_COPY_SHARE = 0.4
_MAX_CUT = 0.2  # of the photo along the copy's axis, the most cut away to free the copy's side
#: Of a frame of the base's own shape, the share of both sides a subject spans when it leaves
#: copy no room: the astronaut spans 96 %, the coffee cup 65 % of its photo's width.
_FILLED = 0.85
_CELLS = 96  # grid cells on the long side of the reframed product mask


@dataclass(frozen=True)
class Reframed:
    """The base in the new frame, the product's mask in it, and what was done."""

    image: Image.Image
    product: ProductMask | None
    record: dict[str, Any]
    #: The free side of the product in a frame of another aspect, where the copy goes (left,
    #: top, right, bottom), or None: the layout's zones divide the whole frame.
    area: tuple[int, int, int, int] | None = None


def copy_sides(position: str | None) -> tuple[str, str] | None:
    """The side of the product the copy takes in a frame wider than the base (``left`` or
    ``right``) and in one taller (``top`` or ``bottom``), from the sheet's position; a centred
    position reads copy first in a wide frame, and below the product in a tall one."""
    if position is None:
        return None
    vertical, _, horizontal = position.partition("-")
    return (
        horizontal if horizontal in ("left", "right") else "left",
        vertical if vertical in ("top", "bottom") else "bottom",
    )


def plan(
    base: tuple[int, int],
    frame: tuple[int, int],
    product: tuple[int, int, int, int] | None,
    position: str | None = None,
    safe: tuple[int, int, int, int] | None = None,
) -> tuple[float, tuple[int, int]]:
    """The scale of the base and where its top-left corner lands in the frame (may be < 0).

    With the sheet's ``position``, a frame the base is extended to fit moves the product away
    from the copy's side (``copy_sides``), so the copy gets one large free side: the product
    takes at most 1 - _COPY_SHARE of the copy's axis, inside the size's ``safe`` zone when it
    has one (a story's profile bar and reply field), and the base is made smaller than the frame
    when it must (a portrait filling a square photograph, in a story)."""
    width, height = base
    new_width, new_height = frame
    # A platform's bands (a story's bars) the picture may reach under; none when the whole frame
    # is safe, and the margins hold as in any frame.
    banded = safe is not None and safe != (0, 0, *frame)
    cover = max(new_width / width, new_height / height)
    contain = min(new_width / width, new_height / height)
    if product is None:
        scale = max(contain, min(cover, UPSCALE_LIMIT))
    else:
        margin = _MARGIN * min(frame)
        left, top, right, bottom = product
        fit = min(
            (new_width - 2 * margin) / max(1, right - left),
            (new_height - 2 * margin) / max(1, bottom - top),
        )
        # The product may grow a little with the frame, not fill it: the copy needs room too.
        keep = min(frame) / min(base) * _GROW
        cut = left <= 0 or top <= 0 or right >= width or bottom >= height
        if new_width / new_height > width / height and not cut:
            # A wider frame sets the copy beside the product: the product keeps its share of
            # the frame's height (up to ``fit``) as long as it takes no more of the width. (A
            # product the base cuts keeps its scale: growing it would set the cut at the edge.)
            keep = max(keep, _WIDE_SHARE * new_width / max(1, right - left))
        scale = max(contain, min(cover, fit, keep, UPSCALE_LIMIT))
    margin = _MARGIN * min(frame)
    copy_axis = _copy_axis(base, frame, product)
    sides = copy_sides(position)
    bounds = safe or (0, 0, *frame)
    if product is not None and copy_axis is not None and sides is not None:
        # The copy's side keeps at least _COPY_SHARE of the axis (of the safe zone's extent);
        # the product has the rest, and half of a platform's band on its side (see below).
        extent = bounds[copy_axis + 2] - bounds[copy_axis]
        longest = product[copy_axis + 2] - product[copy_axis]
        copy_edge = _COPY_SHARE * extent
        if sides[copy_axis] in ("left", "top"):  # the product takes the end of the axis
            free = (frame[copy_axis] + bounds[copy_axis + 2]) / 2 - bounds[copy_axis] - copy_edge
        else:
            free = bounds[copy_axis + 2] - copy_edge - bounds[copy_axis] / 2
        scale = min(scale, max(0.05, (free - 2 * margin) / max(1, longest)))
        # The photo shows at least 1 - _MAX_CUT of itself along that axis: rather smaller than
        # cut to a sliver (a rocket found by its base lost its nose in a 300x250).
        scale = min(scale, max(0.05, free / ((1 - _MAX_CUT) * base[copy_axis])))
    scaled = (round(width * scale), round(height * scale))
    corner = []
    for axis in (0, 1):
        room, extent = frame[axis], scaled[axis]
        centred = (room - extent) / 2
        if product is None:
            corner.append(round(centred))
            continue
        start, end = product[axis] * scale, product[axis + 2] * scale
        window = centred
        if extent > room:
            # Cropping on this axis: the window nearest the base's centre that keeps the
            # product in.
            low = max(room - extent, min(margin - start, room - margin - end))
            high = min(0.0, max(room - margin - end, margin - start))
            window = min(max(centred, low), high)
        if axis == copy_axis and sides is not None:
            # The product moves towards the far side (of the safe zone), so the copy gets one
            # large free side; the base may then be cropped on one side and extended on the other.
            low, high = bounds[axis], bounds[axis + 2]
            need = _CUT_SHARE * (high - low)  # the copy's side, free of the product
            # The product moves to the far side: into a platform's band there (a story's
            # profile bar) up to half its depth — the picture reaches under the bar, the
            # product stays clear of the bar itself — else up to the margin.
            if sides[axis] in ("left", "top"):  # the product moves towards the end
                edge = (room - high) / 2 if banded else margin
                far, needed, uncut = room - edge - end, low + need - start, float(room - extent)
                toward = 1
            else:  # towards the start
                edge = low / 2 if banded else margin
                far, needed, uncut = edge - start, high - need - end, 0
                toward = -1
            if (far - window) * toward > 0:
                # With a safe zone all the way: the copy has all of it.
                target = window + (_SHIFT if safe is None else 1.0) * (far - window)
                # The photo is cut on the far side only until the copy has half the axis: a
                # subject found in part (the base of a rocket) keeps the rest of its picture.
                if (window - uncut) * toward <= 0:  # not cut there yet
                    limit = max(needed, uncut) if toward > 0 else min(needed, uncut)
                    target = min(target, limit) if toward > 0 else max(target, limit)
                # and never by more than _MAX_CUT of the photo
                most = uncut + toward * _MAX_CUT * extent
                target = min(target, most) if toward > 0 else max(target, most)
                window = target
        corner.append(round(window))
    return scale, (corner[0], corner[1])


def reframe(
    base: Image.Image,
    frame: tuple[int, int],
    product: ProductMask | None,
    position: str | None = None,
    safe: tuple[int, int, int, int] | None = None,
) -> Reframed:
    """The base reframed to exactly ``frame`` pixels, product first (see the module's notes);
    with the sheet's ``position``, the product leaves the copy's side the most room. ``safe``:
    the size's safe zone (``Size.safe_zone``), which the copy keeps inside."""
    box = product.box if product is not None else None
    scale, (left, top) = plan(base.size, frame, box, position, safe)
    scaled_size = (round(base.width * scale), round(base.height * scale))
    scaled = base.convert("RGB").resize(scaled_size, Image.Resampling.LANCZOS)
    pixels = np.asarray(scaled, dtype=np.float32)
    inside = _product_pixels(product, scaled_size)
    # The part of the scaled base inside the frame; then the extension on each open side.
    x0, y0 = max(0, -left), max(0, -top)
    x1 = min(scaled_size[0], frame[0] - left)
    y1 = min(scaled_size[1], frame[1] - top)
    visible, visible_product = pixels[y0:y1, x0:x1], inside[y0:y1, x0:x1]
    before_x, before_y = max(0, left), max(0, top)
    after_x = frame[0] - before_x - visible.shape[1]
    after_y = frame[1] - before_y - visible.shape[0]
    image, fill = fill_frame(
        base, visible, visible_product, (before_x, after_x, before_y, after_y), scale
    )
    extended = {
        side: amount
        for side, amount in (
            ("left", before_x),
            ("right", after_x),
            ("top", before_y),
            ("bottom", after_y),
        )
        if amount > 0
    }
    cropped = (
        min(left, top) < 0 or left + scaled_size[0] > frame[0] or top + scaled_size[1] > frame[1]
    )
    method = (
        "+".join(name for name, done in (("crop", cropped), ("extend", extended)) if done)
        or "scale"
    )
    record: dict[str, Any] = {
        "canvas": list(frame),
        "from": list(base.size),
        "method": method,
        "scale": round(scale, 4),
        "base_box": [left, top, left + scaled_size[0], top + scaled_size[1]],
        "extended": extended,
        "upscaled": round(scale, 4) if scale > UPSCALE_LIMIT else None,
        "fill": fill,
        "fill_share": round(1 - visible.shape[0] * visible.shape[1] / (frame[0] * frame[1]), 4),
    }
    moved = (
        _framed_mask(visible_product, (before_x, before_y), frame, product.source)
        if product is not None
        else None
    )
    if moved is not None and product is not None and product.faces:
        faces = [_moved_box(face, scale, (left, top), frame) for face in product.faces]
        moved = replace(moved, faces=tuple(face for face in faces if face is not None))
    area = None
    if moved is not None and moved.box is not None:
        record["product_box"] = list(moved.box)
        area = _copy_area(base.size, frame, moved.box, position)
    if safe is not None and safe != (0, 0, *frame):
        moved = replace(moved, safe=safe) if moved is not None else None
        record["safe_zone"] = list(safe)
        area = _within(area, safe) if area is not None else safe
    if area is not None:
        record["copy_area"] = list(area)
    return Reframed(image, moved, record, area)


def _within(
    area: tuple[int, int, int, int], safe: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """The part of ``area`` inside ``safe``; ``safe`` itself when they do not meet."""
    left, top = max(area[0], safe[0]), max(area[1], safe[1])
    right, bottom = min(area[2], safe[2]), min(area[3], safe[3])
    return (left, top, right, bottom) if right > left and bottom > top else safe


def _copy_axis(
    base: tuple[int, int], frame: tuple[int, int], product: tuple[int, int, int, int] | None
) -> int | None:
    """The axis the copy is set along beside the product: 0 (beside it) in a frame wider than
    the base, 1 (above or below) in a taller one; in a frame of the base's own shape, 1 when
    the subject fills the photo (a portrait in a square: the photo is made smaller and the copy
    gets a band), else None (the photo is scaled as it is)."""
    wider = frame[0] * base[1] - frame[1] * base[0]
    if wider:
        return 0 if wider > 0 else 1
    if product is None:
        return None
    scale = frame[0] / base[0]  # the same shape: the product's box in the frame
    width, height = (product[2] - product[0]) * scale, (product[3] - product[1]) * scale
    return 1 if min(width / frame[0], height / frame[1]) >= _FILLED else None


def _copy_area(
    base: tuple[int, int],
    frame: tuple[int, int],
    product: tuple[int, int, int, int],
    position: str | None,
) -> tuple[int, int, int, int] | None:
    """The side of the product the copy takes in a frame of another aspect than the base's
    (beside it in a wider one, above or below in a taller one), when that side is a real share
    of the frame."""
    sides = copy_sides(position)
    width, height = frame
    axis = _copy_axis(base, frame, product)
    if sides is None or axis is None:
        return None
    left, top, right, bottom = product
    side = sides[axis]
    area = {
        "left": (0, 0, left, height),
        "right": (right, 0, width, height),
        "top": (0, 0, width, top),
        "bottom": (0, bottom, width, height),
    }[side]
    share = (area[2] - area[0]) / width if axis == 0 else (area[3] - area[1]) / height
    return area if share >= _AREA else None


def _product_pixels(product: ProductMask | None, size: tuple[int, int]) -> npt.NDArray[np.bool_]:
    if product is None:
        return np.zeros((size[1], size[0]), dtype=bool)
    grid = Image.fromarray(product.grid.astype(np.uint8) * 255)
    # The grid's last cell may overhang the canvas: resize the grid to its own pixel extent.
    extent = (
        round(product.grid.shape[1] * product.cell * size[0] / product.canvas[0]),
        round(product.grid.shape[0] * product.cell * size[1] / product.canvas[1]),
    )
    pixels = np.asarray(grid.resize(extent, Image.Resampling.NEAREST)) > 0
    return pixels[: size[1], : size[0]]


def _moved_box(
    box: tuple[int, int, int, int], scale: float, corner: tuple[int, int], frame: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """A box on the base, where it lands in the frame (clipped); None when it is cropped away."""
    left = max(0, math.floor(box[0] * scale + corner[0]))
    top = max(0, math.floor(box[1] * scale + corner[1]))
    right = min(frame[0], math.ceil(box[2] * scale + corner[0]))
    bottom = min(frame[1], math.ceil(box[3] * scale + corner[1]))
    return (left, top, right, bottom) if right > left and bottom > top else None


def _framed_mask(
    pixels: npt.NDArray[np.bool_], corner: tuple[int, int], frame: tuple[int, int], source: str
) -> ProductMask:
    """The product's pixels in the new frame as a coarse mask: a cell any product pixel touches
    is product, so the edge is never rounded away."""
    cell = max(frame) / _CELLS
    size = (max(1, math.ceil(frame[0] / cell)), max(1, math.ceil(frame[1] / cell)))
    canvas = Image.new("L", frame)
    canvas.paste(Image.fromarray(pixels.astype(np.uint8) * 255), corner)
    grid = np.asarray(canvas.resize(size, Image.Resampling.BOX)) > 0
    return ProductMask(grid, cell, frame, source)


# --- the copy in a reframed size ----------------------------------------------------------------

#: The roles a size too small for the whole copy drops, first to last: the end date is detail;
#: on a banner the whole ad is the link, so the button goes before the offer, which is the reason
#: to click. The headline is never dropped.
DROP_ORDER: tuple[str, ...] = ("ends", "cta", "offer")
#: The least share of the nominal sizes the whole copy is kept at: a size drops lines only when
#: it cannot hold them all this large off the product (the variant's shared headline floor).
LEGIBLE = COMMON_FLOOR
_DROP_COST = 0.1  # of the nominal sizes, what dropping a line must gain when none is legible


def copy_layout(
    image: Image.Image,
    blocks: Sequence[TextBlock],
    position: str,
    locale: str,
    *,
    product: ProductMask | None,
    common: float | None,
    layout: str = "auto",
    area: tuple[int, int, int, int] | None = None,
    look: tuple[str, str] | None = None,
) -> Layout:
    """The copy's layout on a reframed creative, decided, not painted: all of it where it fits
    off the product at a legible size (``LEGIBLE`` of the nominal, and a headline that reads at
    the size it is seen: ``verdict.readable_headline``), else without the roles of
    DROP_ORDER one after the other until it does, if that gains more than 0.1 of the nominal
    sizes for each line dropped; when none is legible, the one set largest off the product,
    less that for each line dropped. The record's ``dropped``
    lists what went. ``area``: the free side of the product (``Reframed.area``); ``look``: the
    zone and the arrangement the variant's locales share in this size (``look.variant_look``).
    """
    zone, arrangement = look or (None, None)
    kept = list(blocks)
    dropped: list[str] = []
    best: tuple[float, Layout] | None = None
    failure: TypesettingError | None = None
    lay_out = partial(
        decide, image, position=position, locale=locale, layout=layout, product=product,
        common=common, area=area, zone=zone,
    )  # fmt: skip
    while True:
        try:
            decided = lay_out(kept, arrangement=arrangement)
            if arrangement is not None and (decided.record.get("scale") or 0.0) < LEGIBLE:
                # The variant's shared arrangement is a preference, not worth a line: where
                # this copy is legible only in its own, it keeps its own (and every line).
                own = lay_out(kept, arrangement=None)
                larger = (own.record.get("scale") or 0.0) > (decided.record.get("scale") or 0.0)
                if larger and own.record.get("fallback") is None:
                    decided = own
        except TypesettingError as error:  # the exact layout has no room even at the least size
            failure = failure or error
        else:
            record = decided.record
            record["dropped"] = list(dropped)
            if layout == "exact":
                return decided
            scale = record.get("scale") or 0.0
            if record.get("fallback") is not None:
                scale = -1.0  # on a plate over the product: only when nothing else is possible
            headline = [e["font_size"] for e in record["elements"] if lead(e)]
            readable = not headline or headline[0] >= readable_headline(image.size)
            # A line dropped must buy the rest a markedly larger size, not a step of it (the
            # whole copy a step short of legible keeps its button); a headline too small to
            # read loses to any that reads.
            score = scale - _DROP_COST * len(dropped) if scale >= 0 else scale
            score -= 0.0 if readable else 2.0
            better = best is None or score > best[0] + 1e-9
            if scale >= LEGIBLE - 1e-9 and readable and better:
                return decided
            if better:
                best = (score, decided)
        droppable = [kind for kind in DROP_ORDER if any(b.kind == kind for b in kept)]
        if not droppable:
            break
        going = next(block for block in kept if block.kind == droppable[0])
        dropped.append(going.role)  # the record and the locales' agreement speak of roles
        kept = [block for block in kept if block is not going]
    if best is not None:
        return best[1]
    assert failure is not None
    raise failure


@lru_cache(maxsize=32)
def reframed_base(
    image: bytes, size: str, position: str | None = None, mask: bytes | None = None
) -> tuple[Image.Image, dict[str, Any]]:
    """The base creative in an ad size, framed as the built-in editor frames it for
    copy at ``position``, and the reframe record: what a model edits for a job in that size (once
    per size and position, not per job). ``mask``: where the product is (image bytes, white or
    opaque there), as the user drew it; found by saliency without one."""
    wanted = size_by_name(size)
    if wanted is None:
        raise ValueError(f"unknown ad size {size!r}")
    base = decode(image)
    found = mask_from_image(mask, base.size) if mask is not None else product_mask(base)
    product = with_people(found, base)
    framed = reframe(base, wanted.pixels, product, position)
    return framed.image, framed.record
