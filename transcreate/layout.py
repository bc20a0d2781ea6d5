"""The built-in editor's layout: where the copy goes, how it stands out, and the record of both.

``auto`` (the default) treats the sheet's ``position`` as the preferred anchor, never as a licence
to cover the product: the copy block is fitted in that zone around the product, at the largest
legible size, sliding within the zone if it must; when it cannot fit there it moves to the nearest
zone where it can, and only then falls back to the preferred position on a backing plate. Each
line's contrast is measured against the pixels under it (WCAG 2 contrast ratio) and strengthened
(outline, or a plate where the background is busy) until it passes. ``exact`` is the earlier
behaviour: the block at its position, outlined, wherever the product is.

The layout actually used goes into the PNG as an iTXt chunk (``transcreate:layout``, before the
image data, so ``read_layout`` needs no decoding).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageColor, PngImagePlugin

from transcreate.campaign import POSITIONS
from transcreate.saliency import ProductMask
from transcreate.typesetting import (
    PLATE_OPACITY,
    Measured,
    Placed,
    TextBlock,
    Treatment,
    arrange,
    check_position,
    contrasting_color,
    draw,
    measure_stack,
    place_stack,
    prepare,
    stack_size,
)

LAYOUTS = ("auto", "exact")
CHUNK = "transcreate:layout"
VERSION = 1

#: Shares of the nominal type sizes the auto layout tries, largest first; the last is the
#: smallest it calls legible before it moves the copy to another zone.
SCALES = tuple(round(0.92**step, 4) for step in range(11))
#: A variant's locales share one headline size unless that would be below this share of the
#: nominal size; a locale whose copy fits only smaller goes smaller alone (and says so).
COMMON_FLOOR = SCALES[6]  # 0.6064: on the grid of SCALES, so the shared size is one they try
#: The preferred zone keeps the copy if it fits there at this share of the nominal sizes or more;
#: below it, a zone farther away wins if the copy is larger there by more than _ZONE_COST a step.
COMFORTABLE = 0.7
_ZONE_COST = 0.05
_SPLIT_COST = 0.05  # the button apart from its copy
_ROW_COST = 0.05  # the button beside its copy rather than below it
_APART = {"split": _SPLIT_COST, "row": _ROW_COST, "columns": _ROW_COST}  # by arrangement
#: A locale takes the look its variant's other locales share (zone and arrangement) when its copy
#: fits that way at this share of the size it gets alone, or more (two steps of SCALES).
_SHARED_LOOK = 0.84
ARRANGEMENTS = ("stack", "split", "row", "columns")  # the simplest first, on a tie
_COLUMNS = (
    0.88,
    0.72,
    0.6,
    0.5,
    0.42,
    0.34,
    0.28,
    0.22,
)  # column widths tried, of the canvas width
_MARGIN = 0.05  # of the shorter side, between the copy and the frame
_CLEARANCE = 0.025  # of the shorter side, between the copy and the product
_SLIDE = 0.25  # of the canvas, how far the block may slide from its anchor within a zone
_NORMAL_TEXT = 4.5  # WCAG 2 AA contrast for normal text, and for large text:
_LARGE_TEXT = 3.0
_LARGE_PX, _LARGE_BOLD_PX = 24, 19  # 18 pt, and 14 pt bold, at 96 px per inch
_BUSY = 0.12  # spread of luminance under a line above which an outline looks restless
_WORST = 10  # percentile of the pixels under a line whose contrast counts

Box = tuple[int, int, int, int]
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
class _Treated:
    treatment: Treatment
    contrast: tuple[float, ...]  # per line
    fill: str | None = None  # "shade": the colour the block is set in instead of its own
    shade: int = 0  # "shade": the step towards black (or white) `fill` is


def _treat(
    image: Image.Image, placed: Placed, *, plate: bool, outline_only: bool, shade_from: int = 1
) -> _Treated:
    """How this block stands out against the pixels under it, and the contrast that gives
    (a shade of its colour is looked for from step ``shade_from`` on)."""
    block = placed.measured.block
    lines = len(placed.measured.lines)
    if block.role == "cta":  # letters of the contrasting colour on a button of the copy's
        button = contrast_ratio(
            color_luminance(block.color), color_luminance(contrasting_color(block.color))
        )
        return _Treated("button", (round(button, 2),) * lines)
    fill = color_luminance(block.color)
    backing = color_luminance(contrasting_color(block.color))
    outlined = round(contrast_ratio(fill, backing), 2)
    if outline_only:
        return _Treated("outline", (outlined,) * lines)
    under = [_under(image, box) for box in placed.line_boxes()]
    if not plate:
        levels = [luminance(pixels) for pixels in under]
        plain = [float(np.percentile(_ratios(fill, level), _WORST)) for level in levels]
        busy = any(float(level.std()) > _BUSY for level in levels)
        required = _required(placed.measured)
        if not busy and min(plain) >= required:
            return _Treated("none", tuple(round(ratio, 2) for ratio in plain))
        # Small type outlined reads as a smudge: it is set in a deeper shade of its colour.
        small = required == _NORMAL_TEXT
        shaded = _shade(block.color, levels, required, shade_from) if small else None
        if not busy and shaded is not None:
            return _Treated("shade", shaded[1], fill=shaded[0], shade=shaded[2])
        if not busy:
            return _Treated("outline", (outlined,) * lines)
    # On a plate: measured on the plate as composited over the pixels under each line.
    plate_rgb = np.array(ImageColor.getrgb(contrasting_color(block.color))[:3], dtype=np.float32)
    composited = [
        luminance(
            np.round(PLATE_OPACITY * plate_rgb + (1 - PLATE_OPACITY) * pixels).astype(np.uint8)
        )
        for pixels in under
    ]
    return _Treated(
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


def _one_shade_a_colour(
    image: Image.Image, placed: Sequence[Placed], treated: Sequence[_Treated]
) -> list[_Treated]:
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
            _treat(image, p, plate=False, outline_only=False, shade_from=step) if shallower else how
        )
    return again


def _with_fill(placed: Placed, fill: str | None) -> Placed:
    if fill is None:
        return placed
    block = replace(placed.measured.block, color=fill)
    return replace(placed, measured=replace(placed.measured, block=block))


# --- finding room for the copy ------------------------------------------------------------------


def _parts(position: str) -> tuple[str, str]:
    vertical, _, horizontal = position.partition("-")
    return vertical, horizontal or "center"


_ROW = {"top": 0, "center": 1, "bottom": 2}
_COLUMN = {"left": 0, "center": 1, "right": 2}


def zones(preferred: str) -> list[str]:
    """Every position, nearest to the preferred one first; along the row before the column,
    since a headline asked for at the bottom should rather stay at the bottom."""
    return sorted(POSITIONS, key=lambda zone: (_distance(zone, preferred), POSITIONS.index(zone)))


def _distance(zone: str, preferred: str) -> float:
    (v, h), (pv, ph) = _parts(zone), _parts(preferred)
    return 1.5 * abs(_ROW[v] - _ROW[pv]) + abs(_COLUMN[h] - _COLUMN[ph])


def _anchor(zone: str, size: tuple[int, int], area: Box, margin: int) -> tuple[int, int]:
    """Where a block of that size sits in the zone of the area the copy may use."""
    width, height = size
    left, top, right, bottom = area
    vertical, horizontal = _parts(zone)
    x = {"left": left + margin, "right": right - margin - width}.get(
        horizontal, (left + right - width) // 2
    )
    y = {"top": top + margin, "bottom": bottom - margin - height}.get(
        vertical, (top + bottom - height) // 2
    )
    return x, y


@dataclass(frozen=True)
class _Room:
    """Where a product leaves room: its grid (True where copy may not go) and running sums."""

    grid: npt.NDArray[np.bool_]
    cell: float
    sums: npt.NDArray[np.int64]

    @classmethod
    def of(cls, grid: npt.NDArray[np.bool_], cell: float) -> _Room:
        sums = np.zeros((grid.shape[0] + 1, grid.shape[1] + 1), dtype=np.int64)
        sums[1:, 1:] = grid.astype(np.int64).cumsum(axis=0).cumsum(axis=1)
        return cls(grid, cell, sums)

    @classmethod
    def around(cls, product: ProductMask | None, canvas: tuple[int, int]) -> _Room:
        if product is None:
            cell = max(canvas) / 96
            shape = (math.ceil(canvas[1] / cell), math.ceil(canvas[0] / cell))
            return cls.of(np.zeros(shape, dtype=bool), cell)
        grown = product.grown(_CLEARANCE * min(canvas))
        return cls.of(grown.grid, grown.cell)

    def _covered(self, box: Box) -> int:
        left, top, right, bottom = box
        rows, columns = self.grid.shape
        r0, r1 = (
            min(rows, max(0, math.floor(top / self.cell))),
            min(rows, math.ceil(bottom / self.cell)),
        )
        c0, c1 = (
            min(columns, max(0, math.floor(left / self.cell))),
            min(columns, math.ceil(right / self.cell)),
        )
        s = self.sums
        return int(s[r1, c1] - s[r0, c1] - s[r1, c0] + s[r0, c0])

    def places(self, size: tuple[int, int], canvas: tuple[int, int], margin: int) -> _Places | None:
        """Every cell-aligned top-left corner a block of that size may take inside the margins,
        with how many product cells it would cover there."""
        width, height = size
        cell = self.cell
        c_lo, r_lo = math.ceil(margin / cell), math.ceil(margin / cell)
        c_hi = math.floor((canvas[0] - margin - width) / cell)
        r_hi = math.floor((canvas[1] - margin - height) / cell)
        if c_hi < c_lo or r_hi < r_lo:
            return None
        across, down = math.ceil(width / cell), math.ceil(height / cell)
        s = np.pad(self.sums, ((0, down + 1), (0, across + 1)), mode="edge")
        top, left = slice(r_lo, r_hi + 1), slice(c_lo, c_hi + 1)
        bottom, right = slice(r_lo + down, r_hi + down + 1), slice(c_lo + across, c_hi + across + 1)
        covered = s[bottom, right] - s[top, right] - s[bottom, left] + s[top, left]
        return _Places(
            self, size, np.arange(c_lo, c_hi + 1) * cell, np.arange(r_lo, r_hi + 1) * cell, covered
        )


@dataclass(frozen=True)
class _Places:
    room: _Room
    size: tuple[int, int]
    xs: npt.NDArray[np.floating[Any]]
    ys: npt.NDArray[np.floating[Any]]
    covered: npt.NDArray[np.int64]  # rows × columns of corners

    def spot(
        self, zone: str, area: Box, canvas: tuple[int, int], margin: int, *, cover: bool = False
    ) -> tuple[int, int, float, int] | None:
        """The corner nearest the zone's anchor in the area (within a slide of it) where the
        block covers nothing (or, with ``cover``, the least): x, y, distance (a share of the
        canvas) and the cells covered; None when the zone has no room."""
        x0, y0 = _anchor(zone, self.size, area, margin)
        width, height = self.size
        exact = self.room._covered((x0, y0, x0 + width, y0 + height))
        if exact == 0:
            return x0, y0, 0.0, 0
        across = np.abs(self.xs - x0) / canvas[0]
        down = np.abs(self.ys - y0) / canvas[1]
        near_x, near_y = across <= _SLIDE, down <= _SLIDE
        if not near_x.any() or not near_y.any():
            return None
        covered = self.covered[np.ix_(near_y, near_x)]
        distance = np.hypot(down[near_y][:, None], across[near_x][None, :])
        if cover:
            best = int(np.lexsort((distance.ravel(), covered.ravel()))[0])
        else:
            distance = np.where(covered == 0, distance, np.inf)
            best = int(np.argmin(distance))
            if not math.isfinite(float(distance.flat[best])):
                return None
        row, column = divmod(best, covered.shape[1])
        x = round(float(self.xs[near_x][column]))
        y = round(float(self.ys[near_y][row]))
        return x, y, float(distance.flat[best]), int(covered.flat[best])


@dataclass(frozen=True)
class _Part:
    """Blocks set together: their measures, top-left corner and zone."""

    stack: list[Measured]
    corner: tuple[int, int]
    zone: str


@dataclass(frozen=True)
class _Choice:
    scale: float
    parts: tuple[_Part, ...]
    covers: bool = False  # the fallback: the copy covers some of the product, on a plate
    arrangement: str = "stack"  # the button below its copy; "row": beside it; "split": apart

    @property
    def zone(self) -> str:
        return self.parts[0].zone


class _Search:
    """Room for the copy on one canvas: stacks measured once per (scale, column, blocks)."""

    def __init__(
        self,
        blocks: Sequence[TextBlock],
        locale: str,
        canvas: tuple[int, int],
        room: _Room,
        preferred: str,
        cap: float,
        hint: str | None = None,
        area: Box | None = None,
    ) -> None:
        self.hint = hint
        self.blocks = list(blocks)
        self.locale = locale
        self.canvas = canvas
        self.area = area or (0, 0, *canvas)
        self.room = room
        self.preferred = preferred
        self.margin = round(_MARGIN * min(canvas))
        self.cap = cap
        self.scales = [scale for scale in SCALES if scale <= cap + 1e-9] or [SCALES[-1]]
        across = self.area[2] - self.area[0]
        self.columns = sorted(
            {max(1, min(across - 2 * self.margin, round(f * across))) for f in _COLUMNS},
            reverse=True,
        )
        self._stacks: dict[tuple[float, int, int, int], list[Measured] | None] = {}
        self._places: dict[tuple[int, int], _Places | None] = {}

    def _where(self, size: tuple[int, int], room: _Room) -> _Places | None:
        if room is not self.room:
            return room.places(size, self.canvas, self.margin)
        if size not in self._places:
            self._places[size] = room.places(size, self.canvas, self.margin)
        return self._places[size]

    def _stack(self, scale: float, column: int, start: int, end: int) -> list[Measured] | None:
        key = (scale, column, start, end)
        if key not in self._stacks:
            narrow = column <= _NARROW * self.canvas[0]
            self._stacks[key] = measure_stack(
                self.blocks[start:end],
                self.locale,
                self.canvas,
                scale,
                column,
                strict=True,
                narrow=narrow,
            )
        return self._stacks[key]

    def _fit(self, zone: str, scale: float, start: int, end: int, room: _Room) -> _Part | None:
        """The block range at this scale in this zone, the column nearest its anchor."""
        best: tuple[float, _Part] | None = None
        for column in self.columns:
            stack = self._stack(scale, column, start, end)
            if stack is None:
                continue
            places = self._where(stack_size(stack), room)
            found = places.spot(zone, self.area, self.canvas, self.margin) if places else None
            if found is not None and (best is None or found[2] < best[0]):
                best = (found[2], _Part(stack, (found[0], found[1]), zone))
        return best[1] if best is not None else None

    def _fit_row(self, zone: str, scale: float) -> tuple[_Part, _Part] | None:
        """The copy with its button beside it, as one block in this zone, nearest its anchor."""
        last = len(self.blocks) - 1
        best: tuple[float, tuple[_Part, _Part]] | None = None
        for column in self.columns:
            button = self._stack(scale, column, last, last + 1)
            if button is None:
                continue
            (button_width, button_height), size = stack_size(button), button[0].face.size
            gap = round(_GAP_SHARE * 2 * size)
            # The copy's column is one of the columns tried, so its measures are shared.
            narrower = [width for width in self.columns if width <= column - button_width - gap]
            if not narrower:
                continue
            copy = self._stack(scale, narrower[0], 0, last)
            if copy is None:
                continue
            copy_width, copy_height = stack_size(copy)
            height = max(copy_height, button_height)
            places = self._where((copy_width + gap + button_width, height), self.room)
            found = places.spot(zone, self.area, self.canvas, self.margin) if places else None
            if found is not None and (best is None or found[2] < best[0]):
                x, y = found[0], found[1]
                beside = (x + copy_width + gap, y + (height - button_height) // 2)
                best = (
                    found[2],
                    (
                        _Part(copy, (x, y + (height - copy_height) // 2), zone),
                        _Part(button, beside, zone),
                    ),
                )
        return best[1] if best is not None else None

    def _fit_columns(self, zone: str, scale: float) -> tuple[_Part, ...] | None:
        """The headline, the rest of the copy and the button side by side, as one block in this
        zone, nearest its anchor: a banner's copy, which stacked would be too small to read."""
        groups = _column_groups(self.blocks)
        best: tuple[float, tuple[_Part, ...]] | None = None
        for column in self.columns:  # the widest any group may be
            stacks = [self._stack(scale, column, start, end) for start, end in groups]
            measured = [stack for stack in stacks if stack is not None]
            if len(measured) < len(stacks):
                continue
            sizes = [stack_size(stack) for stack in measured]
            gap = round(_GAP_SHARE * 2 * measured[0][0].face.size)
            width = sum(w for w, _ in sizes) + gap * (len(sizes) - 1)
            height = max(h for _, h in sizes)
            places = self._where((width, height), self.room)
            found = places.spot(zone, self.area, self.canvas, self.margin) if places else None
            if found is not None and (best is None or found[2] < best[0]):
                x, parts = found[0], []
                for stack, (w, h) in zip(measured, sizes, strict=True):
                    parts.append(_Part(stack, (x, found[1] + (height - h) // 2), zone))
                    x += w + gap
                best = (found[2], tuple(parts))
        return best[1] if best is not None else None

    def row(self) -> _Choice | None:
        """The copy with its button beside it (a banner's reading order), where size less
        distance from the preferred zone is best."""
        if len(self.blocks) < 2 or self.blocks[-1].role != "cta":
            return None
        return self._across("row", self._fit_row)

    def in_columns(self) -> _Choice | None:
        """On a banner, the headline, the rest and the button side by side."""
        if not self.in_columns_allowed():
            return None
        return self._across("columns", self._fit_columns)

    def in_columns_allowed(self) -> bool:
        return self.canvas[0] >= _BANNER * self.canvas[1] and len(_column_groups(self.blocks)) == 3

    def _across(
        self, arrangement: str, fit: Callable[[str, float], tuple[_Part, ...] | None]
    ) -> _Choice | None:
        """The parts ``fit`` sets side by side, where size less distance from the preferred
        zone is best."""
        best: tuple[float, _Choice] | None = None
        for zone in zones(self.preferred):
            cost = 0.0 if zone == self.hint else _ZONE_COST * _distance(zone, self.preferred)
            for scale in self.scales:
                if best is not None and scale - cost <= best[0]:
                    break
                parts = fit(zone, scale)
                if parts is not None:
                    best = (scale - cost, _Choice(scale, parts, arrangement=arrangement))
                    break
        return best[1] if best is not None else None

    def whole(self) -> _Choice | None:
        """All blocks in one stack: in the preferred zone if it has room at a comfortable size,
        else where size less distance from the preferred zone is best."""
        count = len(self.blocks)
        if self.hint is not None:  # where the variant's other locales go, at their size
            part = self._fit(self.hint, self.scales[0], 0, count, self.room)
            if part is not None:
                return _Choice(self.scales[0], (part,))
        for scale in self.scales:
            if scale < COMFORTABLE:
                break
            part = self._fit(self.preferred, scale, 0, count, self.room)
            if part is not None:
                return _Choice(scale, (part,))
        best: tuple[float, _Choice] | None = None
        for zone in zones(self.preferred):
            # The zone the variant's other locales use costs nothing: one campaign, one geometry.
            cost = 0.0 if zone == self.hint else _ZONE_COST * _distance(zone, self.preferred)
            for scale in self.scales:
                if best is not None and scale - cost <= best[0]:
                    break  # no smaller size here can beat it
                part = self._fit(zone, scale, 0, count, self.room)
                if part is not None:
                    best = (scale - cost, _Choice(scale, (part,)))
                    break
        return best[1] if best is not None else None

    def split(self) -> _Choice | None:
        """The copy in one zone and its button just apart from it: below it, or on the line of
        its last block (a button anywhere else reads as another ad)."""
        if len(self.blocks) < 2 or self.blocks[-1].role != "cta":
            return None
        for scale in self.scales:
            for zone in zones(self.preferred):
                parts = self._split_at(zone, scale)
                if parts is not None:
                    return _Choice(scale, parts, arrangement="split")
        return None

    def _split_at(self, zone: str, scale: float) -> tuple[_Part, _Part] | None:
        """The copy in this zone at this scale, its button below it or after its last words."""
        last = len(self.blocks) - 1
        button = self._stack(scale, self.columns[0], last, last + 1)
        copy = self._fit(zone, scale, 0, last, self.room) if button is not None else None
        if button is None or copy is None:
            return None
        width, height = self.canvas
        button_width, button_height = stack_size(button)
        left, _, right, bottom = _box(copy)
        gap = round(_GAP_SHARE * copy.stack[0].face.size)
        # Below the copy, aligned as its lines are (the stack's own box may not fit where the
        # button alone does), else on the line of its last block.
        horizontal = _parts(zone)[1]
        below = {"left": left, "right": right - button_width}.get(
            horizontal, (left + right - button_width) // 2
        )
        beside = round(bottom - (copy.stack[-1].size[1] + button_height) / 2)
        after = (right + gap, beside)  # after its last words, as it is read
        for x, y in [(below, bottom + gap), after]:
            inside = (
                self.margin <= x <= width - self.margin - button_width
                and self.margin <= y <= height - self.margin - button_height
            )
            box = (x, y, x + button_width, y + button_height)
            if inside and self.room._covered(box) == 0:
                return copy, _Part(button, (x, y), zone)
        return None

    def shaped(self, zone: str, arrangement: str, floor: float) -> _Choice | None:
        """The copy in ``zone`` set as ``arrangement``, at the largest size down to ``floor``:
        the look a variant's other locales have, when this copy can take it."""
        with_button = len(self.blocks) >= 2 and self.blocks[-1].role == "cta"
        fits: dict[str, Callable[[float], tuple[_Part, ...] | None]] = {
            "stack": lambda scale: _one(self._fit(zone, scale, 0, len(self.blocks), self.room)),
            "row": lambda scale: self._fit_row(zone, scale) if with_button else None,
            "split": lambda scale: self._split_at(zone, scale) if with_button else None,
            "columns": lambda scale: (
                self._fit_columns(zone, scale) if self.in_columns_allowed() else None
            ),
        }
        fit = fits.get(arrangement)
        if fit is None:
            return None
        for scale in self.scales:
            if scale < floor - 1e-9:
                break
            parts = fit(scale)
            if parts is not None:
                return _Choice(scale, parts, arrangement=arrangement)
        return None

    def alone(self) -> _Choice | None:
        """The best place this copy finds on its own (the zone ``hint`` costs nothing)."""
        whole = self.whole()
        if whole and whole.zone in (self.preferred, self.hint) and whole.scale >= COMFORTABLE:
            return whole
        found = (whole, self.row(), self.split(), self.in_columns())
        choices = [choice for choice in found if choice is not None]
        if choices:
            return max(choices, key=lambda choice: _score(choice, self.preferred))
        if self.area != (0, 0, *self.canvas):  # the free side is too small: the whole frame
            return _Search(
                self.blocks, self.locale, self.canvas, self.room, self.preferred, self.cap,
                self.hint,
            ).alone()  # fmt: skip
        return self.least_cover()

    def least_cover(self) -> _Choice | None:
        """The whole stack where it covers the least of the product (it will sit on a plate)."""
        best: tuple[tuple[int, int, float], _Choice] | None = None
        for rank, zone in enumerate(zones(self.preferred)):
            for scale in self.scales:
                for column in self.columns:
                    stack = self._stack(scale, column, 0, len(self.blocks))
                    if stack is None:
                        continue
                    places = self._where(stack_size(stack), self.room)
                    found = (
                        places.spot(zone, self.area, self.canvas, self.margin, cover=True)
                        if places
                        else None
                    )
                    if found is None:
                        continue
                    score = (found[3], rank, -scale)
                    if best is None or score < best[0]:
                        part = _Part(stack, (found[0], found[1]), zone)
                        best = (score, _Choice(scale, (part,), covers=found[3] > 0))
        return best[1] if best is not None else None


_NARROW = 0.4  # of the canvas width: a column this narrow lets a headline take one more line
_BANNER = 3.0  # width:height from which the copy may be set in columns, as a leaderboard's is


def _column_groups(blocks: Sequence[TextBlock]) -> list[tuple[int, int]]:
    """The block ranges a banner sets side by side: the headline, what follows it, the button."""
    last = len(blocks) - 1 if blocks and blocks[-1].role == "cta" else len(blocks)
    groups = [(0, 1), (1, last), (last, len(blocks))]
    return [(start, end) for start, end in groups if start < end]


_GAP_SHARE = 0.6  # of the headline size, between the copy and a button set apart from it


def _one(part: _Part | None) -> tuple[_Part] | None:
    return (part,) if part is not None else None


def _box(part: _Part) -> Box:
    width, height = stack_size(part.stack)
    return part.corner[0], part.corner[1], part.corner[0] + width, part.corner[1] + height


def _search(
    blocks: Sequence[TextBlock],
    locale: str,
    canvas: tuple[int, int],
    room: _Room,
    preferred: str,
    cap: float,
    hint: str | None = None,
    area: Box | None = None,
    arrangement: str | None = None,
) -> _Choice | None:
    """Room for the copy: whole, else with its button beside it or just apart from it, else
    over the least of the product (None only when the copy fits nowhere even at the smallest
    legible size). With ``hint`` and ``arrangement`` (the look the variant's locales share), the
    copy takes that look when it can at no less than _SHARED_LOOK of the size it gets alone."""
    search = _Search(blocks, locale, canvas, room, preferred, cap, hint, area)
    alone = search.alone()
    if hint is None or arrangement is None or alone is None or alone.covers:
        return alone
    if (alone.zone, alone.arrangement) == (hint, arrangement):
        return alone
    return search.shaped(hint, arrangement, _SHARED_LOOK * alone.scale) or alone


def _score(choice: _Choice, preferred: str) -> float:
    """Larger is better: the size, less the distance moved, less a little for a split block."""
    apart = _APART.get(choice.arrangement, 0.0)
    return choice.scale - _ZONE_COST * _distance(choice.zone, preferred) - apart


class Fit(NamedTuple):
    """Where a copy goes on its own: the scale of the nominal sizes, the zone, the arrangement."""

    scale: float
    zone: str
    arrangement: str


def best_fit(
    blocks: Sequence[TextBlock],
    position: str,
    canvas: tuple[int, int],
    locale: str,
    product: ProductMask | None,
    area: Box | None = None,
) -> Fit | None:
    """Where this copy goes from the auto layout on its own; None when it fits in no zone (it
    will sit on a plate)."""
    ordered = prepare(blocks, locale)
    if not ordered:
        return None
    room = _Room.around(product, canvas)
    choice = _search(ordered, locale, canvas, room, position, 1.0, area=area)
    if choice is None or choice.covers:
        return None
    return Fit(choice.scale, choice.zone, choice.arrangement)


def variant_look(
    copies: Sequence[tuple[Sequence[TextBlock], str, Fit | None]],
    position: str,
    canvas: tuple[int, int],
    product: ProductMask | None,
    common: float,
    area: Box | None = None,
) -> tuple[str, str] | None:
    """The look (zone and arrangement) a variant's locales share, from its copies in every
    locale (blocks, locale, and where each goes alone): the look most of them can take (at
    _SHARED_LOOK of their size alone or more), then the one that keeps them largest; on a tie
    the look most of them take alone, then the nearest the position, the simplest. Every look
    is tried, not only the ones they take alone: two locales that each go their own way may
    both fit a third at their own size. One campaign, one ad in every language."""
    alone = [(blocks, locale, fit) for blocks, locale, fit in copies if fit is not None]
    if not alone:
        return None
    taken = [(fit.zone, fit.arrangement) for _, _, fit in alone]
    if len(set(taken)) == 1:  # they agree already, each at its own size
        return taken[0]
    order = zones(position)
    candidates = sorted(
        {(zone, arrangement) for zone in order for arrangement in ARRANGEMENTS},
        key=lambda look: (
            -taken.count(look),
            order.index(look[0]),
            ARRANGEMENTS.index(look[1]),
        ),
    )
    room = _Room.around(product, canvas)
    # One search a locale for every look tried: its stacks are measured once.
    searches = [
        _Search(prepare(blocks, locale), locale, canvas, room, position, common, area=area)
        for blocks, locale, _ in alone
    ]

    best: tuple[tuple[int, float], tuple[str, str]] | None = None
    for look in candidates:
        count, total, left = 0, 0.0, len(alone)
        for search, (_, _, fit) in zip(searches, alone, strict=True):
            if best is not None and count + left < best[0][0]:
                break  # fewer locales can take it than take the best so far
            left -= 1
            own = min(fit.scale, common)
            if (fit.zone, fit.arrangement) == look:
                share = 1.0
            else:
                shaped = search.shaped(*look, floor=_SHARED_LOOK * own)
                share = min(shaped.scale, common) / own if shaped is not None else 0.0
            count, total = count + (share > 0), total + share
        else:
            if best is None or (count, total) > best[0]:  # the first of the best on a tie
                best = ((count, total), look)
    return best[1] if best is not None else None


def common_scale(scales: Iterable[float | None]) -> float:
    """The headline scale a variant's locales share: the largest every locale's copy fits at,
    but not below COMMON_FLOOR (a locale that fits only smaller goes smaller alone)."""
    fitting = [scale for scale in scales if scale is not None]
    return max(COMMON_FLOOR, min(fitting, default=1.0))


# --- setting the copy ---------------------------------------------------------------------------


def typeset(
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
) -> tuple[Image.Image, dict[str, Any]]:
    """A new RGB image with the copy set, and the record of the layout used.

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
        placed = arrange(blocks, position, canvas, locale)
        treated = [_treat(image, p, plate=False, outline_only=True) for p in placed]
        record = _record("exact", canvas, position, position, None, placed, treated, None, None)
        return draw(image, placed, [t.treatment for t in treated]), record
    ordered = prepare(blocks, locale)
    cap = common if common is not None else 1.0
    room = _Room.around(product, canvas)
    choice = (
        _search(ordered, locale, canvas, room, position, cap, zone, area, arrangement)
        if ordered
        else None
    )
    if choice is None:
        # No zone has room even at the smallest legible size: the exact layout, on a plate.
        placed = arrange(blocks, position, canvas, locale)
        scale = None
    else:
        placed = []
        for part in choice.parts:
            width, _ = stack_size(part.stack)
            placed += place_stack(part.stack, *part.corner, width, _parts(part.zone)[1])
        scale = choice.scale
    on_plate = choice is None or choice.covers
    treated = _one_shade_a_colour(
        image, placed, [_treat(image, p, plate=on_plate, outline_only=False) for p in placed]
    )
    placed = [_with_fill(p, how.fill) for p, how in zip(placed, treated, strict=True)]
    used = choice.zone if choice is not None else position
    record = _record("auto", canvas, position, used, product, placed, treated, scale, common)
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
    return draw(image, placed, [t.treatment for t in treated]), record


def _record(
    layout: str,
    canvas: tuple[int, int],
    position: str,
    zone: str,
    product: ProductMask | None,
    placed: Sequence[Placed],
    treated: Sequence[_Treated],
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
                "fill": contrasting_color(block.color) if cta else block.color,
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
        "scale": scale,
        "common_scale": common,
        "smaller": smaller,
        "elements": elements,
    }


# --- the record in the PNG ----------------------------------------------------------------------


def encode_png(image: Image.Image, record: Mapping[str, Any]) -> bytes:
    """PNG bytes with the layout record as an iTXt chunk before the image data; no timestamps,
    so equal images and records give equal bytes."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(CHUNK, json.dumps(record, ensure_ascii=False, separators=(",", ":")), zip=True)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6, pnginfo=info)
    return buffer.getvalue()


def read_layout(png: bytes) -> dict[str, Any] | None:
    """The layout record the built-in editor stored in a PNG, or None (any other image)."""
    try:
        with Image.open(io.BytesIO(png)) as image:  # reads the chunks before IDAT, decodes none
            text = image.info.get(CHUNK) if image.format == "PNG" else None
    except (OSError, ValueError):
        return None
    if not isinstance(text, str):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
