"""Painting a decided layout: plates, outlines and glyph runs onto a copy of the canvas. Nothing
here decides where anything goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageColor, ImageDraw

from transcreate.compose.blocks import Placed
from transcreate.compose.colors import contrasting_color, label_color


def _draw_lines(draw: ImageDraw.ImageDraw, placed: Placed, fill: str, stroke: int) -> None:
    measured = placed.measured
    face = measured.face
    for line, (x, baseline) in zip(measured.lines, placed.origins, strict=True):
        pen = float(x)
        for run in face.runs(line):  # left to right, each run in its own direction
            draw.text(
                (pen, baseline),
                run[1],
                font=face.font(run[0]),
                fill=fill,
                anchor="ls",
                direction=run[2],
                language=face.language,
                stroke_width=stroke + face.embolden(run[0]),
                stroke_fill=fill,
            )
            pen += face.length(run)


#: How a block of copy is made to stand out: "outline" (a stroke of the contrasting colour),
#: "plate" (a panel of the contrasting colour behind it), or "none" (the fill alone suffices).
Treatment = str
PLATE_OPACITY = 0.95  # a touch of what is under it; small red type on it still reads (4.5:1)


def plate_box(placed: Sequence[Placed], canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    """The panel behind these blocks: their boxes, padded by a share of the largest size."""
    size = max(p.measured.face.size for p in placed)
    across, down = round(0.35 * size), round(0.15 * size)
    return (
        max(0, min(p.box[0] for p in placed) - across),
        max(0, min(p.box[1] for p in placed) - down),
        min(canvas[0], max(p.box[2] for p in placed) + across),
        min(canvas[1], max(p.box[3] for p in placed) + down),
    )


def draw(
    image: Image.Image, placed: Sequence[Placed], treatments: Sequence[Treatment]
) -> Image.Image:
    """A new RGB image with the placed copy drawn, each block standing out as its treatment says."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    plated = [p for p, how in zip(placed, treatments, strict=True) if how == "plate"]
    if plated:
        backing = contrasting_color(plated[0].measured.block.color)
        box = plate_box(plated, image.size)
        radius = round(0.25 * min(p.measured.face.size for p in plated))
        alpha = round(255 * PLATE_OPACITY)
        pen.rounded_rectangle(box, radius=radius, fill=(*ImageColor.getrgb(backing)[:3], alpha))
    # Plates first, then every outline, then every fill: a later run's stroke must not bite into
    # the glyphs of the run before it.
    for p in placed:
        if p.measured.block.role == "cta":
            color = p.measured.block.color
            left, top, right, bottom = p.box
            pen.rounded_rectangle(
                (left, top, right - 1, bottom - 1),
                radius=(bottom - top) // 4,
                fill=color,
                outline=contrasting_color(color),
                width=p.measured.stroke,
            )
    for p, how in zip(placed, treatments, strict=True):
        if p.measured.block.role != "cta" and how == "outline":
            _draw_lines(pen, p, contrasting_color(p.measured.block.color), p.measured.stroke)
    for p in placed:
        color = p.measured.block.color
        cta = p.measured.block.role == "cta"
        fill = label_color(color, p.measured.face.size) if cta else color
        _draw_lines(pen, p, fill, 0)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
