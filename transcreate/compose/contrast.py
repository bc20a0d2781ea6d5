"""How each line stands out: its WCAG 2 contrast ratio measured against the pixels under it, and
the treatment that makes it pass (bare, outline, plate), one shade of a colour per block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageColor

from transcreate.compose.blocks import Box, Measured, Placed
from transcreate.compose.colors import contrasting_color, label_color
from transcreate.compose.paint import PLATE_OPACITY, Treatment

_NORMAL_TEXT = 4.5  # WCAG 2 AA contrast for normal text, and for large text:
_LARGE_TEXT = 3.0
_LARGE_PX, _LARGE_BOLD_PX = 24, 19  # 18 pt, and 14 pt bold, at 96 px per inch
_BUSY = 0.12  # spread of luminance under a line above which an outline looks restless
_WORST = 10  # percentile of the pixels under a line whose contrast counts

Luminance = npt.NDArray[np.float32]


# --- measuring contrast -------------------------------------------------------------------------

_LINEAR = np.array(
    [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in np.arange(256) / 255],
    dtype=np.float32,
)


def luminance(pixels: npt.NDArray[np.uint8]) -> Luminance:
    """WCAG relative luminance of RGB pixels (any shape ending in 3)."""
    linear = _LINEAR[pixels]
    return np.asarray(
        0.2126 * linear[..., 0] + 0.7152 * linear[..., 1] + 0.0722 * linear[..., 2],
        dtype=np.float32,
    )


def color_luminance(color: str) -> float:
    return float(luminance(np.array(ImageColor.getrgb(color)[:3], dtype=np.uint8)))


def contrast_ratio(first: float, second: float) -> float:
    """WCAG 2 contrast ratio of two relative luminances, from 1 to 21."""
    light, dark = max(first, second), min(first, second)
    return (light + 0.05) / (dark + 0.05)


def _ratios(fill: float, background: Luminance) -> Luminance:
    return np.asarray(
        (np.maximum(fill, background) + 0.05) / (np.minimum(fill, background) + 0.05),
        dtype=np.float32,
    )


def _under(image: Image.Image, box: Box) -> npt.NDArray[np.uint8]:
    left, top, right, bottom = box
    clamped = (max(0, left), max(0, top), min(image.width, right), min(image.height, bottom))
    if clamped[2] <= clamped[0] or clamped[3] <= clamped[1]:
        return np.zeros((1, 1, 3), dtype=np.uint8)
    crop = image.crop(clamped)
    if crop.width > 96:  # the contrast of a line needs its colours, not every pixel
        crop = crop.resize((96, max(1, round(96 * crop.height / crop.width))))
    return np.asarray(crop.convert("RGB"), dtype=np.uint8)


def _required(measured: Measured) -> float:
    size = measured.face.size
    bold = measured.face.weight in ("Bold", "SemiBold")
    large = size >= _LARGE_PX or (bold and size >= _LARGE_BOLD_PX)
    return _LARGE_TEXT if large else _NORMAL_TEXT


@dataclass(frozen=True)
class Treated:
    treatment: Treatment
    contrast: tuple[float, ...]  # per line
    fill: str | None = None  # "shade": the colour the block is set in instead of its own
    shade: int = 0  # "shade": the step towards black (or white) `fill` is


def treat(
    image: Image.Image, placed: Placed, *, plate: bool, outline_only: bool, shade_from: int = 1
) -> Treated:
    """How this block stands out against the pixels under it, and the contrast that gives
    (a shade of its colour is looked for from step ``shade_from`` on)."""
    block = placed.measured.block
    lines = len(placed.measured.lines)
    if block.role == "cta":  # a label that reads on a button of the copy's colour
        label = label_color(block.color, placed.measured.face.size)
        button = contrast_ratio(color_luminance(block.color), color_luminance(label))
        return Treated("button", (round(button, 2),) * lines)
    fill = color_luminance(block.color)
    backing = color_luminance(contrasting_color(block.color))
    outlined = round(contrast_ratio(fill, backing), 2)
    if outline_only:
        return Treated("outline", (outlined,) * lines)
    under = [_under(image, box) for box in placed.line_boxes()]
    if not plate:
        levels = [luminance(pixels) for pixels in under]
        plain = [float(np.percentile(_ratios(fill, level), _WORST)) for level in levels]
        busy = any(float(level.std()) > _BUSY for level in levels)
        required = _required(placed.measured)
        if not busy and min(plain) >= required:
            return Treated("none", tuple(round(ratio, 2) for ratio in plain))
        # Small type outlined reads as a smudge: it is set in a deeper shade of its colour.
        small = required == _NORMAL_TEXT
        shaded = _shade(block.color, levels, required, shade_from) if small else None
        if not busy and shaded is not None:
            return Treated("shade", shaded[1], fill=shaded[0], shade=shaded[2])
        if not busy:
            return Treated("outline", (outlined,) * lines)
    # On a plate: measured on the plate as composited over the pixels under each line.
    plate_rgb = np.array(ImageColor.getrgb(contrasting_color(block.color))[:3], dtype=np.float32)
    composited = [
        luminance(
            np.round(PLATE_OPACITY * plate_rgb + (1 - PLATE_OPACITY) * pixels).astype(np.uint8)
        )
        for pixels in under
    ]
    return Treated(
        "plate",
        tuple(round(float(np.percentile(_ratios(fill, level), _WORST)), 2) for level in composited),
    )


_SHADES = 20  # steps from a colour to black (or white) tried for a shade of it


def _shade(
    color: str, levels: Sequence[Luminance], required: float, first: int = 1
) -> tuple[str, tuple[float, ...], int] | None:
    """The lightest step of ``color`` (from ``first`` on) towards black, or over dark pixels
    towards white, whose every line meets ``required``: the colour, each line's contrast with it
    and the step; None if only the end does (black or white is no longer the colour asked for)."""
    rgb = np.array(ImageColor.getrgb(color)[:3], dtype=np.float32)
    under = float(np.median(np.concatenate([level.ravel() for level in levels])))
    target = 0.0 if under > color_luminance(color) else 255.0
    for step in range(first, _SHADES):
        mixed = np.round(rgb + (target - rgb) * step / _SHADES).astype(np.uint8)
        fill = float(luminance(mixed))
        ratios = [float(np.percentile(_ratios(fill, level), _WORST)) for level in levels]
        if min(ratios) >= required:
            shade = "#" + "".join(f"{int(c):02X}" for c in mixed)
            return shade, tuple(round(r, 2) for r in ratios), step
    return None


def one_shade_a_colour(
    image: Image.Image, placed: Sequence[Placed], treated: Sequence[Treated]
) -> list[Treated]:
    """Blocks of one colour shaded to different depths look like a mistake: each takes the
    deepest shade any block of its colour needed."""
    deepest: dict[str, int] = {}
    for p, how in zip(placed, treated, strict=True):
        color = p.measured.block.color
        deepest[color] = max(deepest.get(color, 0), how.shade)
    again = []
    for p, how in zip(placed, treated, strict=True):
        step = deepest[p.measured.block.color]
        shallower = 0 < how.shade < step
        again.append(
            treat(image, p, plate=False, outline_only=False, shade_from=step) if shallower else how
        )
    return again


def with_fill(placed: Placed, fill: str | None) -> Placed:
    if fill is None:
        return placed
    block = replace(placed.measured.block, color=fill)
    return replace(placed, measured=replace(placed.measured, block=block))
