"""A contact sheet: every output of a run as thumbnails, locales across and variants down (in one
block of rows per size when the run has sizes other than the base's own)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from transcreate.manifest import STORED_STATUSES, JobResult

THUMBNAIL = 256
LABEL = 28  # pixels for the labels on top and on the left
LABEL_WIDTH = 160
MIN_ROW = 64  # a row's height at least: its variant and size labels, or a status


def contact_sheet(
    results: Sequence[JobResult],
    variants: Sequence[str],
    locales: Sequence[str],
    read: Callable[[JobResult], bytes],
    sizes: Sequence[str | None] = (None,),
    text: Mapping[str, str] | None = None,
    shrunk: Mapping[tuple[str, str, str | None], Image.Image] | None = None,
) -> bytes:
    """PNG bytes of the grid, one block of rows per size; a cell without an output says the job's
    status instead. ``text`` is written into the PNG's text chunks (before the image data:
    readable without decoding). ``shrunk``: thumbnails made already, by (variant, locale, size);
    the other outputs are read and shrunk here."""
    shrunk = shrunk or {}
    cells: dict[tuple[str, str], JobResult] = {}
    for done in results:  # a cell skipped before any edit holds for every size of its row
        for size in sizes if done.size is None and done.status == "skipped" else [done.size]:
            cells.setdefault((_row(done.variant, size, sizes), done.locale), done)
    variants = [_row(variant, size, sizes) for size in sizes for variant in variants]
    wanted = [
        (row, column, cells[variant, locale])
        for row, variant in enumerate(variants)
        for column, locale in enumerate(locales)
        if (variant, locale) in cells and cells[variant, locale].status in STORED_STATUSES
    ]

    def picture(result: JobResult) -> Image.Image:
        made = shrunk.get((result.variant, result.locale, result.size))
        return made if made is not None else thumbnail(read(result))

    # Decoding the outputs is most of the cost; Pillow decodes outside the GIL.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        thumbnails = list(pool.map(lambda item: picture(item[2]), wanted))
    placed = {
        (row, column): image for (row, column, _), image in zip(wanted, thumbnails, strict=True)
    }
    # A row is as tall as its tallest picture: a banner's row (728×90) is not a square cell
    # with its picture a thin strip in it, and a row of statuses only holds its labels.
    tallest: dict[int, int] = {}
    for (row, _), image in placed.items():
        tallest[row] = max(tallest.get(row, 0), image.height)
    heights = [max(MIN_ROW, 8 + tallest.get(row, 0)) for row in range(len(variants))]
    width = LABEL_WIDTH + THUMBNAIL * len(locales)
    sheet = Image.new("RGB", (width, LABEL + sum(heights)), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    for column, locale in enumerate(locales):
        draw.text((LABEL_WIDTH + column * THUMBNAIL + 8, 6), locale, fill=(40, 40, 40), font=font)
    top = LABEL
    for row, variant in enumerate(variants):
        height = heights[row]
        name, _, size = variant.partition("\n")
        middle = top + height // 2
        draw.text((8, middle - (18 if size else 8)), name[:18], fill=(40, 40, 40), font=font)
        if size:
            draw.text((8, middle + 2), size[:18], fill=(110, 110, 110), font=font)
        for column, locale in enumerate(locales):
            left = LABEL_WIDTH + column * THUMBNAIL
            small = placed.get((row, column))
            if small is not None:
                sheet.paste(small, (left + 4, top + 4))
                continue
            result = cells.get((variant, locale))
            status = result.status if result else "no job"
            draw.rectangle(
                (left + 4, top + 4, left + THUMBNAIL - 4, top + height - 4),
                outline=(200, 200, 200),
            )
            draw.text((left + 16, middle - 8), status, fill=(150, 60, 60), font=font)
        top += height
    info = PngInfo()
    for name, value in (text or {}).items():
        info.add_text(name, value)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _row(variant: str, size: str | None, sizes: Sequence[str | None]) -> str:
    """A row's key: the variant, and below it the size when the run has more than the base's."""
    return variant if list(sizes) == [None] else f"{variant}\n{size or 'base'}"


def thumbnail(data: bytes) -> Image.Image:
    """An output shrunk to fit a cell of the sheet."""
    with Image.open(io.BytesIO(data)) as image:
        # Shrunk as it is decoded (a JPEG at a fraction of its size, any image reduced by whole
        # factors first), and converted once small: a third less time than converting first.
        # A palette or 16-bit image is converted first: those resize only by nearest pixel.
        source = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGB")
        source.thumbnail((THUMBNAIL - 8, THUMBNAIL - 8))
        return source.convert("RGB")
