"""A brand's logo on the creative: small, in a corner clear of the product, the copy and any face.

The corner across from the copy (`campaign.logo_corner`) is tried first, then the others; the one
whose box covers least of what must stay clear wins. The logo keeps its aspect and its
transparency, and is never set so small that it stops reading on a phone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image

from transcreate.campaign import logo_corner
from transcreate.compose.saliency import ProductMask
from transcreate.errors import PermanentEditError
from transcreate.images import decode_with_alpha
from transcreate.locales import is_right_to_left

if TYPE_CHECKING:
    from transcreate.jobs import EditJob

Box = tuple[int, int, int, int]

#: the largest share of the canvas's width and height a logo may take
MAX_WIDTH, MAX_HEIGHT = 0.22, 0.12
#: the margin from the canvas's edges, as a share of its shorter side
MARGIN = 0.04
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def logo_size(canvas: tuple[int, int], logo: tuple[int, int]) -> tuple[int, int]:
    """The logo's size on the canvas: as large as fits MAX_WIDTH × MAX_HEIGHT of it, aspect kept."""
    scale = min(canvas[0] * MAX_WIDTH / logo[0], canvas[1] * MAX_HEIGHT / logo[1])
    return max(1, round(logo[0] * scale)), max(1, round(logo[1] * scale))


def corner_box(canvas: tuple[int, int], size: tuple[int, int], corner: str) -> Box:
    margin = round(min(canvas) * MARGIN)
    vertical, _, horizontal = corner.partition("-")
    left = margin if horizontal == "left" else canvas[0] - margin - size[0]
    top = margin if vertical == "top" else canvas[1] - margin - size[1]
    return left, top, left + size[0], top + size[1]


def _overlap(box: Box, other: Sequence[float]) -> float:
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    return max(0.0, width) * max(0.0, height)


def choose_corner(
    canvas: tuple[int, int],
    size: tuple[int, int],
    clear: Sequence[Sequence[float]],
    first: str,
    product: ProductMask | None = None,
) -> tuple[str, Box, float]:
    """The corner whose box covers least of ``clear`` (boxes that must stay clear: the copy, the
    faces) and of the ``product`` (its cells, not its bounding box: a photo's subject may span
    the frame and leave its corners free), ``first`` first among equals; with the share of the
    logo's box that covers them."""
    order = [first, *(corner for corner in CORNERS if corner != first)]
    area = max(1, size[0] * size[1])
    scored = []
    for rank, corner in enumerate(order):
        box = corner_box(canvas, size, corner)
        covered = sum(_overlap(box, other) for other in clear) / area
        if product is not None:
            covered += product.share(box)
        scored.append((round(min(1.0, covered), 3), rank, corner, box))
    covered, _, corner, box = min(scored)
    return corner, box, covered


def place_logo(
    canvas: Image.Image,
    logo: bytes,
    clear: Sequence[Sequence[float]],
    first: str,
    product: ProductMask | None = None,
) -> tuple[Image.Image, dict[str, Any]]:
    """``canvas`` with the logo pasted in the best corner, and the record of where it went."""
    mark = decode_with_alpha(logo)
    size = logo_size(canvas.size, mark.size)
    corner, box, covered = choose_corner(canvas.size, size, clear, first, product)
    placed = canvas.convert("RGB")
    resized = mark.resize(size, Image.Resampling.LANCZOS)
    placed.paste(resized, box[:2], resized)
    return placed, {"box": list(box), "corner": corner, "covers": round(covered, 3)}


def clear_boxes(record: dict[str, Any] | None, product: bool = True) -> list[list[float]]:
    """What a logo must not cover, from a layout record: the copy, the faces and (``product``:
    when its mask is not at hand) the product's box."""
    if not record:
        return []
    boxes = [element["box"] for element in record.get("elements") or []]
    box = (record.get("product") or {}).get("box") or record.get("product_box")
    if box and product:
        boxes.append(box)
    return [*boxes, *(record.get("faces") or [])]


def with_logo(
    canvas: Image.Image,
    job: EditJob,
    read: Callable[[str, str | None], bytes] | None,
    record: dict[str, Any] | None,
    product: ProductMask | None = None,
    also_clear: Sequence[Sequence[float]] = (),
) -> tuple[Image.Image, dict[str, Any]]:
    """The job's logo (read by ``read``: `RowImages.data`) on ``canvas``, across from the copy
    first and clear of the product (its cells, else the record's box), the copy, any face and
    ``also_clear``; and ``record`` with where it went."""
    if read is None or job.logo_sha256 is None:
        raise PermanentEditError("this editor was built without the run's images")
    logo = read(job.logo_sha256, job.logo_source)
    clear = [*clear_boxes(record, product=product is None), *also_clear]
    first = logo_corner(job.position, is_right_to_left(job.locale))
    placed, where = place_logo(canvas, logo, clear, first, product)
    return placed, {**(record or {}), "logo": where}
