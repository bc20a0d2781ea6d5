"""How each line stands out: its WCAG 2 contrast ratio measured against the pixels under it, and
the treatment that makes it pass (bare, outline, plate) — one treatment for the copy's text, and
its colours always the ones asked for: a brand's yellow is never darkened to olive to pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def treat(image: Image.Image, placed: Placed, *, plate: bool, outline_only: bool) -> Treated:
    """How this block stands out against the pixels under it, and the contrast that gives."""
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
        # Small type outlined reads as a smudge: it goes on a plate, in its own colour.
        if not busy and required == _LARGE_TEXT:
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


def one_treatment(
    image: Image.Image, placed: Sequence[Placed], treated: Sequence[Treated]
) -> list[Treated]:
    """Outline, plate and bare text mixed in one copy block look like three ads: when any of its
    text needs a plate, all of it goes on the plate (painted as one panel behind them)."""
    text = [how for p, how in zip(placed, treated, strict=True) if p.measured.block.role != "cta"]
    if not any(how.treatment == "plate" for how in text):
        return list(treated)
    return [
        treat(image, p, plate=True, outline_only=False)
        if p.measured.block.role != "cta" and how.treatment != "plate"
        else how
        for p, how in zip(placed, treated, strict=True)
    ]
