"""Blocks of copy measured and placed: each role's style, the font size that fits a column, and
the stack of blocks (where a stack goes is the search's to decide: ``search``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from transcreate.campaign import POSITIONS
from transcreate.compose.colors import contrasting_color
from transcreate.compose.fonts import Face, check_text_support, fonts_for_locale, runs
from transcreate.compose.lines import paragraphs, wrap
from transcreate.errors import TypesettingError
from transcreate.locales import is_right_to_left

Box = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass(frozen=True)
class TextBlock:
    role: str  # "headline" | "offer" | "cta" | "ends"; any other role is set like "offer"
    text: str
    color: str  # "#RRGGBB"
    keep: tuple[str, ...] = ()  # terms set on one line (the campaign's glossary)
    style: str | None = None  # the role whose type it is set in, when not its own (`kind`)

    @property
    def kind(self) -> str:
        """The role this block is set as: its own, or the one whose type it takes (the offer
        set as the headline when it leads)."""
        return self.style or self.role


@dataclass(frozen=True)
class _Style:
    size: float  # share of the canvas height before shrinking
    weight: str | None  # named instance of the variable fonts
    max_lines: int


_STYLES = {
    "headline": _Style(0.09, "Bold", 3),
    "offer": _Style(0.06, "SemiBold", 3),
    "ends": _Style(0.035, None, 2),
    "cta": _Style(0.05, "SemiBold", 2),
}
_STACK_ORDER = {"headline": 0, "offer": 1, "ends": 2, "cta": 3}

_MIN_SIZE = 0.022  # of the type unit (see type_unit); never below _MIN_SIZE_PX
_MIN_SIZE_PX = 12
_BANNER = 2.5  # width:height beyond which type is sized by the width (see type_unit)
STROKE = 0.07  # of the font size
_GAP = 0.4  # between blocks, of the next block's font size
_PLATE_PADDING = (0.6, 0.3)  # horizontal, vertical; of the CTA font size


@dataclass(frozen=True)
class Measured:
    block: TextBlock
    face: Face
    lines: tuple[str, ...]
    widths: tuple[float, ...]
    line_metrics: tuple[tuple[int, int], ...]  # (ascent, descent) per line
    padding: tuple[int, int]  # around the text: stroke, or plate padding for the CTA
    stroke: int

    @property
    def size(self) -> tuple[int, int]:
        width = math.ceil(max(self.widths)) + 2 * self.padding[0]
        height = sum(a + d for a, d in self.line_metrics) + 2 * self.padding[1]
        return width, height


@lru_cache(maxsize=16384)  # the auto layout measures the same block in many columns and zones
def _measure(
    block: TextBlock, face: Face, max_width: int, *, strict: bool = False, narrow: bool = False
) -> Measured | None:
    stroke = max(1, round(STROKE * face.size))
    if block.role == "cta":
        padding = (round(_PLATE_PADDING[0] * face.size), round(_PLATE_PADDING[1] * face.size))
    else:
        outline = stroke + max(face.embolden(path) for path in face.chain)
        padding = (outline, outline)
    text_width = max_width - 2 * padding[0]
    # A button reads as one at a glance: strict layouts keep its label on one line.
    max_lines = 1 if strict and block.role == "cta" else _style(block.kind).max_lines
    if narrow and block.kind == "headline":
        max_lines += 1  # a narrow column beside the product may take one more line
    lines = wrap(block.text, face, text_width, max_lines, strict=strict, keep=block.keep)
    if lines is None:
        return None
    widths = tuple(face.width(line) for line in lines)
    if max(widths) > text_width:
        return None
    metrics = tuple(face.metrics(line) for line in lines)
    return Measured(block, face, tuple(lines), widths, metrics, padding, stroke)


def _style(role: str) -> _Style:
    return _STYLES.get(role, _STYLES["offer"])


def prepare(blocks: Sequence[TextBlock], locale: str) -> list[TextBlock]:
    """The blocks with copy, in stacking order, after checking their colours and glyphs."""
    check_text_support()
    present = [block for block in blocks if block.text.strip()]
    chain = fonts_for_locale(locale)
    for block in present:
        contrasting_color(block.color)  # reject a bad colour before any layout work
        for paragraph in paragraphs(block.text):
            runs(paragraph, chain)  # fail early, naming the whole text
    return sorted(present, key=lambda b: _STACK_ORDER.get(b.role, _STACK_ORDER["offer"]))


def type_unit(canvas: tuple[int, int]) -> float:
    """The length type sizes are shares of: the side of a square of the canvas's area, so type
    takes the same share of every frame (a story's headline is not a third larger than the
    square's, a link ad's not a third smaller); on a banner wider than _BANNER:1 at least a
    share of its width, or the copy would be too small to read (728×90). A square canvas's
    unit is its side, as before."""
    return max(math.sqrt(canvas[0] * canvas[1]), canvas[0] / _BANNER)


def smallest_size(canvas: tuple[int, int]) -> int:
    """The least font size, in pixels, copy is set at on a canvas of that size (its format's
    minimum legible size)."""
    return max(_MIN_SIZE_PX, round(_MIN_SIZE * type_unit(canvas)))


def sizes(blocks: Sequence[TextBlock], canvas: tuple[int, int], scale: float) -> list[int]:
    """Each block's font size at ``scale`` of its nominal size, none below the legible least."""
    unit, smallest = type_unit(canvas), smallest_size(canvas)
    return [max(smallest, round(_style(b.kind).size * unit * scale)) for b in blocks]


def measure_stack(
    blocks: Sequence[TextBlock],
    locale: str,
    canvas: tuple[int, int],
    scale: float,
    column: int,
    *,
    strict: bool,
    narrow: bool = False,
) -> list[Measured] | None:
    """Every block set at ``scale`` of its nominal size in a column that wide, or None."""
    chain = fonts_for_locale(locale)
    stack = []
    for block, size in zip(blocks, sizes(blocks, canvas, scale), strict=True):
        face = Face(chain, size, _style(block.kind).weight, locale)
        measured = _measure(block, face, column, strict=strict, narrow=narrow)
        if measured is None:
            return None
        stack.append(measured)
    return stack


def _gap(measured: Measured) -> int:
    return round(_GAP * measured.face.size)


def stack_size(stack: Sequence[Measured]) -> tuple[int, int]:
    """Width and height of the blocks stacked one above the other."""
    return max(m.size[0] for m in stack), stack_height(stack)


def stack_height(stack: Sequence[Measured]) -> int:
    return sum(m.size[1] for m in stack) + sum(_gap(m) for m in stack[1:])


@dataclass(frozen=True)
class Placed:
    measured: Measured
    box: tuple[int, int, int, int]
    origins: tuple[tuple[int, int], ...]  # (x, baseline) of each line

    def line_boxes(self) -> list[tuple[int, int, int, int]]:
        """Where each line's glyphs (with their outline) are, as (left, top, right, bottom)."""
        measured = self.measured
        pad = measured.padding[0] if measured.block.role != "cta" else measured.stroke
        return [
            (x - pad, baseline - ascent - pad, x + math.ceil(width) + pad, baseline + descent + pad)
            for (x, baseline), width, (ascent, descent) in zip(
                self.origins, measured.widths, measured.line_metrics, strict=True
            )
        ]


def place_stack(
    stack: Sequence[Measured], left: int, top: int, column: int, horizontal: str
) -> list[Placed]:
    """The stack with its top at ``top``, aligned left, right or centred in the column (right
    for right-to-left copy, whose lines start at the right, unless centred)."""
    if stack:
        horizontal = aligned(horizontal, stack[0].face.language)

    def align(space: float, width: float) -> int:
        return {"left": 0, "right": round(space - width)}.get(
            horizontal, round((space - width) / 2)
        )

    placed = []
    for index, measured in enumerate(stack):
        if index:
            top += _gap(measured)
        width, height = measured.size
        x = left + align(column, width)
        inner = width - 2 * measured.padding[0]
        baseline = top + measured.padding[1]
        origins = []
        for line_width, (ascent, descent) in zip(
            measured.widths, measured.line_metrics, strict=True
        ):
            origins.append((x + measured.padding[0] + align(inner, line_width), baseline + ascent))
            baseline += ascent + descent
        placed.append(Placed(measured, (x, top, x + width, top + height), tuple(origins)))
        top += height
    return placed


def aligned(horizontal: str, locale: str) -> str:
    """How lines in a zone's column align: as the zone, but flush right wherever right-to-left
    lines would be flush left (they start at the right)."""
    return "right" if horizontal == "left" and is_right_to_left(locale) else horizontal


def check_position(position: str, canvas: tuple[int, int]) -> None:
    if position not in POSITIONS:
        raise TypesettingError(f"unknown position {position!r}; use one of {', '.join(POSITIONS)}")
    if min(canvas) <= 0:
        raise TypesettingError(f"cannot set copy on an empty {canvas[0]}×{canvas[1]} image")
