"""The record of the layout used (every line, its box, size, colours and contrast), and the PNG
that carries it as an iTXt chunk (``transcreate:layout``, before the image data, so
``read_layout`` needs no decoding).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, PngImagePlugin

from transcreate.compose.blocks import Placed
from transcreate.compose.colors import contrasting_color, label_color
from transcreate.compose.contrast import Treated
from transcreate.compose.saliency import ProductMask

CHUNK = "transcreate:layout"
VERSION = 1


def layout_record(
    layout: str,
    canvas: tuple[int, int],
    position: str,
    zone: str,
    product: ProductMask | None,
    placed: Sequence[Placed],
    treated: Sequence[Treated],
    scale: float | None,
    common: float | None,
) -> dict[str, Any]:
    moved = zone != position
    smaller = scale is not None and common is not None and scale < common - 1e-9
    elements = []
    for p, how in zip(placed, treated, strict=True):
        block = p.measured.block
        cta = block.role == "cta"
        elements.append(
            {
                "role": block.role,
                "lines": list(p.measured.lines),
                "box": list(p.box),
                "line_boxes": [list(box) for box in p.line_boxes()],
                "font_size": p.measured.face.size,
                "fonts": _fonts(p),
                "fill": label_color(block.color, p.measured.face.size) if cta else block.color,
                "outline": contrasting_color(block.color)
                if how.treatment in ("outline", "button")
                else None,
                "plate": block.color
                if cta
                else (contrasting_color(block.color) if how.treatment == "plate" else None),
                "treatment": how.treatment,
                "contrast": list(how.contrast),
                "moved": moved,
                "fallback": None,
                "smaller": smaller,
                **({"style": block.style} if block.style else {}),
            }
        )
    return {
        "version": VERSION,
        "layout": layout,
        "canvas": list(canvas),
        "position": position,
        "zone": zone,
        "moved": moved,
        "fallback": None,
        "product": None
        if product is None
        else {"box": list(product.box) if product.box else None, "source": product.source},
        "faces": [list(face) for face in product.faces] if product is not None else [],
        "safe_zone": list(product.safe) if product is not None and product.safe else None,
        "scale": scale,
        "common_scale": common,
        "smaller": smaller,
        "elements": elements,
    }


# --- the record in the PNG ----------------------------------------------------------------------


def encode_png(
    image: Image.Image, record: dict[str, Any] | Mapping[str, Any], limit: int | None = None
) -> bytes:
    """PNG bytes with the layout record as an iTXt chunk before the image data; no timestamps,
    so equal images and records give equal bytes. With ``limit`` (the placement's largest file,
    in bytes) a file over it is written in fewer colours (a palette of 256, then 128 …, with
    dithering) until it fits, and the record says how (``file``)."""
    png = _png(image, record)
    if limit is None or len(png) <= limit:
        return png
    for colors in _PALETTES:
        fewer = image.quantize(
            colors, Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG
        )
        file = {"format": "png8", "colors": colors, "limit": limit}
        png = _png(fewer, {**record, "file": file})
        if len(png) <= limit:
            break
    else:
        png = _png(fewer, {**record, "file": {**file, "over_limit": True}})
    if isinstance(record, dict):
        record["file"] = (read_layout(png) or {}).get("file")
    return png


_PALETTES = (256, 128, 64, 32)


def _png(image: Image.Image, record: Mapping[str, Any]) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(CHUNK, json.dumps(record, ensure_ascii=False, separators=(",", ":")), zip=True)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6, pnginfo=info)
    return buffer.getvalue()


def read_text(png: bytes) -> str | None:
    """The record's text in a PNG, undecoded; None without one."""
    try:
        with Image.open(io.BytesIO(png)) as image:  # reads the chunks before IDAT, decodes none
            text = image.info.get(CHUNK) if image.format == "PNG" else None
    except (OSError, ValueError):
        return None
    return text if isinstance(text, str) else None


def read_layout(png: bytes) -> dict[str, Any] | None:
    """The layout record the built-in editor stored in a PNG, or None (any other image)."""
    text = read_text(png)
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _fonts(placed: Placed) -> list[str]:
    """The faces the block's lines are drawn in, first used first (``NotoSansCJK-Bold.ttc#0``:
    the Japanese face of the collection)."""
    face = placed.measured.face
    names: dict[str, None] = {}
    for line in placed.measured.lines:
        for font, _, _ in face.runs(line):
            names.setdefault(font.named(font.file_for(face.weight)), None)
    return list(names)
