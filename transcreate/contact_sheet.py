"""A contact sheet: every output of a run as thumbnails, locales across and variants down."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFont

from transcreate.manifest import DONE_STATUSES, JobResult

THUMBNAIL = 256
LABEL = 28  # pixels for the labels on top and on the left
LABEL_WIDTH = 160


def contact_sheet(
    results: Sequence[JobResult],
    variants: Sequence[str],
    locales: Sequence[str],
    read: Callable[[JobResult], bytes],
) -> bytes:
    """PNG bytes of the grid; a cell without an output says the job's status instead."""
    cells = {(r.variant, r.locale): r for r in results}
    width = LABEL_WIDTH + THUMBNAIL * len(locales)
    height = LABEL + THUMBNAIL * len(variants)
    sheet = Image.new("RGB", (width, height), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    for column, locale in enumerate(locales):
        draw.text((LABEL_WIDTH + column * THUMBNAIL + 8, 6), locale, fill=(40, 40, 40), font=font)
    for row, variant in enumerate(variants):
        top = LABEL + row * THUMBNAIL
        draw.text((8, top + THUMBNAIL // 2 - 8), variant[:18], fill=(40, 40, 40), font=font)
        for column, locale in enumerate(locales):
            left = LABEL_WIDTH + column * THUMBNAIL
            result = cells.get((variant, locale))
            if result is not None and result.status in DONE_STATUSES:
                with Image.open(io.BytesIO(read(result))) as image:
                    thumbnail = image.convert("RGB")
                    thumbnail.thumbnail((THUMBNAIL - 8, THUMBNAIL - 8))
                sheet.paste(thumbnail, (left + 4, top + 4))
            else:
                status = result.status if result else "—"
                draw.rectangle(
                    (left + 4, top + 4, left + THUMBNAIL - 4, top + THUMBNAIL - 4),
                    outline=(200, 200, 200),
                )
                draw.text(
                    (left + 16, top + THUMBNAIL // 2 - 8), status, fill=(150, 60, 60), font=font
                )
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
