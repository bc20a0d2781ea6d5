"""Draw the sample base creative: a product shot of a pump bottle on a podium, 1024×1024, no text.

Run `python examples/make_creative.py` to regenerate examples/creative.png. Deterministic: the same
Pillow version draws the same pixels.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SIZE = 1024


def vertical_gradient(
    size: tuple[int, int], top: tuple[int, ...], bottom: tuple[int, ...]
) -> Image.Image:
    column = Image.new("RGB", (1, size[1]))
    for y in range(size[1]):
        t = y / max(1, size[1] - 1)
        column.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    return column.resize(size)


def horizontal_shading(size: tuple[int, int], base: tuple[int, int, int]) -> Image.Image:
    """A cylinder's light: bright a third of the way across, darker at both edges."""
    row = Image.new("RGB", (size[0], 1))
    for x in range(size[0]):
        t = x / max(1, size[0] - 1)
        light = 1.18 - 0.55 * abs(t - 0.35) ** 1.2
        row.putpixel((x, 0), tuple(min(255, round(channel * light)) for channel in base))
    return row.resize(size)


def draw_creative() -> Image.Image:
    canvas = vertical_gradient((SIZE, SIZE), (255, 224, 205), (247, 196, 170))
    draw = ImageDraw.Draw(canvas)

    # Podium: a flat ellipse top and a front face.
    draw.ellipse((262, 760, 762, 840), fill=(226, 158, 128))
    draw.rectangle((262, 700, 762, 800), fill=(226, 158, 128))
    draw.ellipse((262, 660, 762, 740), fill=(250, 206, 184))

    # Soft shadow of the bottle on the podium.
    shadow = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(shadow).ellipse((392, 680, 660, 724), fill=120)
    shadow = shadow.filter(ImageFilter.GaussianBlur(14))
    canvas = Image.composite(Image.new("RGB", canvas.size, (170, 110, 90)), canvas, shadow)

    # Bottle body with cylindrical shading, masked to a rounded rectangle.
    body_box = (392, 360, 632, 702)
    body_size = (body_box[2] - body_box[0], body_box[3] - body_box[1])
    body = horizontal_shading(body_size, (64, 132, 140))
    mask = Image.new("L", body_size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, body_size[0] - 1, body_size[1] - 1), 48, fill=255)
    canvas.paste(body, body_box[:2], mask)

    # Label: a pale band with abstract marks (no letters, so OCR reads only the localized copy).
    label = horizontal_shading((body_size[0], 150), (238, 236, 226))
    canvas.paste(label, (body_box[0], 470))
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((482, 500, 542, 560), outline=(64, 132, 140), width=6)
    draw.line((452, 585, 572, 585), fill=(64, 132, 140), width=5)

    # Neck, collar and pump head.
    neck = horizontal_shading((60, 60), (230, 230, 232))
    canvas.paste(neck, (482, 300))
    draw.rounded_rectangle((462, 290, 562, 318), 10, fill=(200, 200, 206))
    draw.rectangle((502, 236, 522, 292), fill=(210, 210, 216))
    draw.rounded_rectangle((470, 214, 600, 244), 12, fill=(222, 222, 228))
    draw.rectangle((590, 222, 640, 236), fill=(210, 210, 216))

    # A gentle highlight streak on the glass.
    highlight = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(highlight).rounded_rectangle((420, 380, 440, 680), 10, fill=90)
    highlight = highlight.filter(ImageFilter.GaussianBlur(6))
    return ImageChops.add(canvas, Image.merge("RGB", (highlight,) * 3))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("creative.png")
    draw_creative().save(target, optimize=True)
    print(f"wrote {target}")
