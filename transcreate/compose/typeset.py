"""Set the copy: decide the layout (`decide`: where every line goes, how it stands out, and the
record of both, without painting a pixel), then paint it (`paint`).

``auto`` (the default) treats the sheet's ``position`` as the preferred anchor, never as a licence
to cover the product: the copy block is fitted in that zone around the product, at the largest
legible size, sliding within the zone if it must; when it cannot fit there it moves to the nearest
zone where it can, and only then is pinned at the preferred position on a backing plate. Each
line's contrast is measured against the pixels under it (WCAG 2 contrast ratio) and strengthened
(outline, or a plate where the background is busy) until it passes. ``exact`` pins the
block at its position, outlined, wherever the product is. Both are placed by one search
(``search``): exact is its pinned placement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from transcreate.compose.blocks import (
    Box,
    Placed,
    TextBlock,
    check_position,
    place_stack,
    prepare,
    stack_size,
)
from transcreate.compose.contrast import one_treatment, treat
from transcreate.compose.paint import Treatment, draw, plate_box
from transcreate.compose.record import layout_record
from transcreate.compose.saliency import ProductMask
from transcreate.compose.search import pinned, search
from transcreate.compose.zones import Room, parts

LAYOUTS = ("auto", "exact")


@dataclass(frozen=True)
class Layout:
    """The copy's layout, decided: every block placed, how each stands out, and the record."""

    placed: tuple[Placed, ...]
    treatments: tuple[Treatment, ...]
    record: dict[str, Any]


def paint(image: Image.Image, layout: Layout) -> Image.Image:
    """A new RGB image with the decided layout's copy drawn on ``image``."""
    return draw(image, layout.placed, layout.treatments)


def decide(
    image: Image.Image,
    blocks: Sequence[TextBlock],
    position: str,
    locale: str,
    *,
    layout: str = "auto",
    product: ProductMask | None = None,
    common: float | None = None,
    zone: str | None = None,
    area: Box | None = None,
    arrangement: str | None = None,
) -> Layout:
    """The layout of the copy on ``image`` (whose pixels decide contrast), nothing painted.

    ``common``: the headline scale the variant's locales share (see ``common_scale``); the copy
    is set no larger, and the record says when it had to go smaller. ``zone``: where most of
    the variant's locales go (see ``variant_zone``), as welcome as the position itself.
    ``area``: the part of the image the zones divide (a reframed size's free side of the
    product); the whole image by default. ``arrangement``: how most of the variant's locales set
    their copy in ``zone`` (see ``variant_look``), taken when this copy fits so at about its own
    size.
    """
    check_position(position, image.size)
    canvas = image.size
    if layout == "exact":
        placed = pinned(blocks, position, canvas, locale)
        treated = [treat(image, p, plate=False, outline_only=True) for p in placed]
        record = layout_record(
            "exact", canvas, position, position, None, placed, treated, None, None
        )
        return Layout(tuple(placed), tuple(t.treatment for t in treated), record)
    ordered = prepare(blocks, locale)
    cap = common if common is not None else 1.0
    room = Room.around(product, canvas)
    choice = (
        search(ordered, locale, canvas, room, position, cap, zone, area, arrangement)
        if ordered
        else None
    )
    if choice is None:
        # No zone has room even at the smallest legible size: the copy pinned, on a plate.
        placed = pinned(blocks, position, canvas, locale, product.safe if product else None)
        scale = None
    else:
        placed = []
        for part in choice.parts:
            width, _ = stack_size(part.stack)
            placed += place_stack(part.stack, *part.corner, width, parts(part.zone)[1])
        scale = choice.scale
    on_plate = choice is None or choice.covers
    treated = one_treatment(
        image, placed, [treat(image, p, plate=on_plate, outline_only=False) for p in placed]
    )
    used = choice.zone if choice is not None else position
    record = layout_record("auto", canvas, position, used, product, placed, treated, scale, common)
    plated = [p for p, how in zip(placed, treated, strict=True) if how.treatment == "plate"]
    if plated:  # one panel behind all of them (see paint.draw)
        record["plate_box"] = list(plate_box(plated, canvas))
    if on_plate and placed:
        record["fallback"] = "plate"
        for element in record["elements"]:
            element["fallback"] = "plate"
    if choice is not None:
        record["arrangement"] = choice.arrangement
        if choice.arrangement == "split":
            record["button_zone"] = choice.parts[1].zone
    if area is not None:
        record["area"] = list(area)
    return Layout(tuple(placed), tuple(t.treatment for t in treated), record)
