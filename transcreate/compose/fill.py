"""How a reframed size's new area is filled, beyond the edges of the base.

The extension continues the backdrop as it runs into the edge: each row (or column) carries on
with the colour and the slope the backdrop has in a strip along that edge, smoothed across the
edge more the farther it goes — a gradient stays a gradient and a flat colour stays flat, with
no seam. Nothing is mirrored or copied, so no object appears twice, and rows where the product
touches the edge take the colour of the backdrop beside it rather than a smear of the product.

That suits a flat or graded backdrop (an illustration, a studio shot). A photograph's edges are
texture — a flag, launch lights, fur — or soft-focus blobs, and carried on they become bars.
Where the edges the frame grows from are textured, or their colour varies along them other than
as a gradient does (``fill_for``), the frame is filled as designers fill it instead: the
photograph itself, enlarged to cover the frame, blurred, muted and darkened, with the sharp
photo on top.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageEnhance, ImageFilter

_STRIP = 0.12  # of the base's extent, the strip along an edge the extension continues
_NEAR, _FAR = 0.01, 0.08  # smoothing across the edge at the seam and far from it, of its length
#: Texture (mean absolute difference from a 2 px blur, in 8-bit levels) along the edges a frame
#: grows from, above which they are a photograph's, not a backdrop's: carried on, they smear.
#: A flat or graded illustration measures under 1; the photographs scikit-image ships, 4 to 20.
TEXTURED = 2.5
#: Strays of the colour along such an edge (8-bit levels) beyond which it is not a backdrop's
#: gradient: the sample illustration's measure at most 0.2, the photographs 3.4 to 44.
BUMPY = 2.0
_BLUR = 0.04  # of the frame's long side: the blur radius of a photograph's fill
_DARKEN = 0.5  # what a photograph's fill keeps of its brightness: behind copy, it recedes
_SATURATION = 0.45  # what it keeps of its colour

Array = npt.NDArray[np.float32]


def fill_frame(
    base: Image.Image,
    visible: Array,
    product: npt.NDArray[np.bool_],
    open_sides: tuple[int, int, int, int],
    scale: float,
) -> tuple[Image.Image, str | None]:
    """The frame: ``visible`` (the part of the scaled base inside it, ``product`` where the
    product is) with ``open_sides`` (left, right, top, bottom, in pixels) filled; and how."""
    before_x, after_x, before_y, after_y = open_sides
    # Texture is judged at the base's own resolution: enlarged, any photograph looks smooth.
    fill = fill_for(visible, open_sides, scale)
    if fill == "blur":
        frame = (visible.shape[1] + before_x + after_x, visible.shape[0] + before_y + after_y)
        image = _blurred_fill(base, frame)
        sharp = np.clip(np.rint(visible), 0, 255).astype(np.uint8)
        image.paste(Image.fromarray(sharp, "RGB"), (before_x, before_y))
        return image, fill
    framed = _extend(visible, product, before_x, after_x)
    framed = _extend(
        framed.transpose(1, 0, 2),
        np.pad(product, ((0, 0), (before_x, after_x))).T,
        before_y,
        after_y,
    ).transpose(1, 0, 2)
    return Image.fromarray(np.clip(np.rint(framed), 0, 255).astype(np.uint8), "RGB"), fill


def fill_for(
    pixels: Array, open_sides: tuple[int, int, int, int], scale: float = 1.0
) -> str | None:
    """How a frame that grows on ``open_sides`` (left, right, top, bottom, in pixels) is filled
    from the visible base ``pixels``: ``continue`` the backdrop when the edges it grows from are
    smooth, ``blur`` (the photograph enlarged and blurred) when they are textured; None when
    nothing is added."""
    if not any(open_sides):
        return None
    grey = pixels.mean(axis=2)
    if scale > 1.0:
        image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L")
        shrunk = (max(1, round(image.width / scale)), max(1, round(image.height / scale)))
        grey = np.asarray(image.resize(shrunk, Image.Resampling.BOX), dtype=np.float32)
    rows, columns = grey.shape
    depth_x = max(2, round(_STRIP * columns))
    depth_y = max(2, round(_STRIP * rows))
    strips = [
        (strip, across)
        for strip, across, amount in zip(
            (grey[:, :depth_x], grey[:, -depth_x:], grey[:depth_y], grey[-depth_y:]),
            (1, 1, 0, 0),
            open_sides,
            strict=True,
        )
        if amount
    ]
    textured = any(_texture(strip) > TEXTURED for strip, _ in strips)
    bumpy = any(_bumps(strip.mean(axis=across)) > BUMPY for strip, across in strips)
    return "blur" if textured or bumpy else "continue"


def _bumps(profile: npt.NDArray[np.floating[Any]]) -> float:
    """How far the colour along an edge strays from a smooth curve (a gradient's is one): blobs
    along the edge (a soft-focus background) would be carried on as bars."""
    along = np.arange(len(profile), dtype=np.float64)
    curve = np.polyval(np.polyfit(along, profile, 2), along)
    return float(np.std(profile - curve))


def _texture(strip: npt.NDArray[np.floating[Any]]) -> float:
    image = Image.fromarray(np.clip(strip, 0, 255).astype(np.uint8), "L")
    smooth = np.asarray(image.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32)
    return float(np.abs(strip - smooth).mean())


def _blurred_fill(base: Image.Image, frame: tuple[int, int]) -> Image.Image:
    """The base enlarged to cover the frame (centred), blurred and darkened: a photograph's fill."""
    cover = max(frame[0] / base.width, frame[1] / base.height)
    # Blurred, detail is lost anyway: work at a quarter of the size, then enlarge.
    small = (max(1, round(frame[0] / 4)), max(1, round(frame[1] / 4)))
    size = (
        max(small[0], round(base.width * cover / 4)),
        max(small[1], round(base.height * cover / 4)),
    )
    enlarged = base.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    left, top = (size[0] - small[0]) // 2, (size[1] - small[1]) // 2
    cropped = enlarged.crop((left, top, left + small[0], top + small[1]))
    blurred = cropped.filter(ImageFilter.GaussianBlur(_BLUR * max(frame) / 4))
    # Muted as well as darker: a brand colour set on it stands out from the photo's own hues.
    muted = ImageEnhance.Color(blurred).enhance(_SATURATION)
    darker = muted.point(lambda value: round(value * _DARKEN))
    return darker.resize(frame, Image.Resampling.BICUBIC)


def _extend(pixels: Array, product: npt.NDArray[np.bool_], before: int, after: int) -> Array:
    """The rows of ``pixels`` carried on ``before`` columns to the left, ``after`` to the right."""
    parts = []
    if before:
        parts.append(_continue(pixels[:, ::-1], product[:, ::-1], before)[:, ::-1])
    parts.append(pixels)
    if after:
        parts.append(_continue(pixels, product, after))
    return np.concatenate(parts, axis=1) if len(parts) > 1 else pixels


def _continue(pixels: Array, product: npt.NDArray[np.bool_], amount: int) -> Array:
    """``amount`` new columns after the last one, carrying on each row's colour and slope."""
    rows, width = pixels.shape[:2]
    strip = max(2, min(width, round(_STRIP * width), 96))
    quarter = max(1, strip // 4)
    near = pixels[:, width - quarter :].mean(axis=1)  # (rows, 3), centred (quarter-1)/2 inside
    far = pixels[:, width - strip : width - strip + quarter].mean(axis=1)
    slope = (near - far) / max(1, strip - quarter)
    edge = pixels[:, -1]
    touched = product[:, width - strip :].any(axis=1)
    if touched.any() and not touched.all():  # the backdrop beside the product, never the product
        clear = np.flatnonzero(~touched)
        for profile in (near, slope, edge):
            for channel in range(3):
                profile[touched, channel] = np.interp(
                    np.flatnonzero(touched), clear, profile[clear, channel]
                )
    distance = np.arange(1, amount + 1, dtype=np.float32)
    offset = distance + (quarter - 1) / 2
    fine = _smooth(near, _NEAR * rows), _smooth(slope, _NEAR * rows)
    coarse = _smooth(near, _FAR * rows), _smooth(slope, _FAR * rows)
    # From the edge's own pixels at the seam to the smoothed trend, then to the broad trend.
    seam = np.exp(-distance / max(2.0, quarter))[None, :, None]
    spread = np.clip(distance / max(1.0, 0.5 * rows), 0, 1)[None, :, None]
    trend_fine = fine[0][:, None] + fine[1][:, None] * offset[None, :, None]
    trend_coarse = coarse[0][:, None] + coarse[1][:, None] * offset[None, :, None]
    trend = trend_fine * (1 - spread) + trend_coarse * spread
    at_edge = edge[:, None] + slope[:, None] * distance[None, :, None]
    return np.asarray(np.clip(seam * at_edge + (1 - seam) * trend, 0, 255), dtype=np.float32)


def _smooth(profile: Array, radius: float) -> Array:
    """A profile along the edge, smoothed with a triangular kernel (edges held, not wrapped)."""
    half = int(radius)
    if half < 1:
        return profile
    kernel = np.concatenate([np.arange(1, half + 2), np.arange(half, 0, -1)]).astype(np.float32)
    kernel /= kernel.sum()
    padded = np.pad(profile, ((half, half), (0, 0)), mode="edge")
    return np.stack(
        [np.convolve(padded[:, channel], kernel, mode="valid") for channel in range(3)], axis=1
    )
