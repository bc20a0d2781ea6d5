"""Where the copy goes, the one placement system: the auto layout's search (the largest legible
size and arrangement of the copy in the zones around the product, nearest the preferred
position) and its pinned placement (the copy exactly at its position: the exact layout, and the
auto layout's last resort). The look a variant's locales share is `look`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from transcreate.compose.blocks import (
    Box,
    Measured,
    Placed,
    TextBlock,
    aligned,
    check_position,
    measure_stack,
    place_stack,
    prepare,
    sizes,
    stack_height,
    stack_size,
)
from transcreate.compose.zones import MARGIN, Places, Room, anchor, distance, parts, zones
from transcreate.errors import TypesettingError
from transcreate.locales import is_right_to_left

#: Shares of the nominal type sizes the auto layout tries, largest first; the last is the
#: smallest it calls legible before it moves the copy to another zone.
SCALES = tuple(round(0.92**step, 4) for step in range(11))
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
#: The pinned layout's column (of the canvas width) at a centred position and at a side, and the
#: most of the canvas height its copy may take.
_PINNED_COLUMN = {"center": 0.88, "side": 0.5}
_PINNED_HEIGHT = 0.45
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
        room: Room,
        preferred: str,
        cap: float,
        hint: str | None = None,
        area: Box | None = None,
    ) -> None:
        self.hint = hint
        self.blocks = list(blocks)
        self.locale = locale
        self.right_to_left = is_right_to_left(locale)  # the button goes on the copy's left
        self.canvas = canvas
        self.area = area or (0, 0, *canvas)
        self.room = room
        self.preferred = preferred
        self.margin = round(MARGIN * min(canvas))
        self.cap = cap
        self.scales = [scale for scale in SCALES if scale <= cap + 1e-9] or [SCALES[-1]]
        across = self.area[2] - self.area[0]
        self.columns = sorted(
            {max(1, min(across - 2 * self.margin, round(f * across))) for f in _COLUMNS},
            reverse=True,
        )
        self._stacks: dict[tuple[float, int, int, int, bool], list[Measured] | None] = {}
        self._places: dict[tuple[int, int], Places | None] = {}

    def _where(self, size: tuple[int, int], room: Room) -> Places | None:
        if room is not self.room:
            return room.places(size, self.canvas, self.margin)
        if size not in self._places:
            self._places[size] = room.places(size, self.canvas, self.margin)
        return self._places[size]

    def _stack(
        self, scale: float, column: int, start: int, end: int, *, strict: bool = True
    ) -> list[Measured] | None:
        key = (scale, column, start, end, strict)
        if key not in self._stacks:
            narrow = column <= _NARROW * self.canvas[0]
            self._stacks[key] = measure_stack(
                self.blocks[start:end],
                self.locale,
                self.canvas,
                scale,
                column,
                strict=strict,
                narrow=narrow,
            )
        return self._stacks[key]

    def pinned(self, within: Box | None = None) -> list[Placed]:
        """All the copy as one stack exactly at the preferred position, wherever the product is:
        in that position's column, at the largest size that fits with clean breaks, else with a
        word broken, down to the least legible size. The exact layout, and the auto layout's
        last resort (on a plate) when the copy has room nowhere else."""
        left, top, right, bottom = within or (0, 0, *self.canvas)
        width, height = right - left, bottom - top
        horizontal = parts(self.preferred)[1]
        share = _PINNED_COLUMN["center" if horizontal == "center" else "side"]
        column = max(1, min(width - 2 * self.margin, round(share * width)))
        least = sizes(self.blocks, self.canvas, 0.0)
        for strict in (True, False):
            scale = self.scales[0]
            while True:
                stack = self._stack(scale, column, 0, len(self.blocks), strict=strict)
                if stack is not None and stack_height(stack) <= _PINNED_HEIGHT * height:
                    total = (column, stack_height(stack))
                    x, y = anchor(self.preferred, total, (left, top, right, bottom), self.margin)
                    return place_stack(stack, x, y, column, horizontal)
                if sizes(self.blocks, self.canvas, scale) == least:
                    break
                scale *= _SHRINK
        texts = ", ".join(
            repr(b.text if len(b.text) <= 60 else b.text[:57] + "...") for b in self.blocks
        )
        raise TypesettingError(
            f"cannot fit {texts} into the {column}×{round(_PINNED_HEIGHT * height)} px box at "
            f"{self.preferred} of a {width}×{height} image, even at the smallest legible size "
            f"({min(least)} px); shorten the copy or use a *-center position, which is wider"
        )

    def _fit(self, zone: str, scale: float, start: int, end: int, room: Room) -> _Part | None:
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
                copy_x, button_x = x, x + copy_width + gap  # read after the copy
                if self.right_to_left:
                    copy_x, button_x = x + button_width + gap, x
                best = (
                    found[2],
                    (
                        _Part(copy, (copy_x, y + (height - copy_height) // 2), zone),
                        _Part(button, (button_x, y + (height - button_height) // 2), zone),
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
                x, parts = found[0] + (width if self.right_to_left else 0), []
                for stack, (w, h) in zip(measured, sizes, strict=True):
                    # In reading order: left to right, or from the right for right-to-left copy.
                    left = x - w if self.right_to_left else x
                    parts.append(_Part(stack, (left, found[1] + (height - h) // 2), zone))
                    x += -(w + gap) if self.right_to_left else w + gap
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
            cost = 0.0 if zone == self.hint else _ZONE_COST * distance(zone, self.preferred)
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
            cost = 0.0 if zone == self.hint else _ZONE_COST * distance(zone, self.preferred)
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
        horizontal = aligned(parts(zone)[1], self.locale)
        below = {"left": left, "right": right - button_width}.get(
            horizontal, (left + right - button_width) // 2
        )
        beside = round(bottom - (copy.stack[-1].size[1] + button_height) / 2)
        # After its last words, as it is read.
        after = (left - gap - button_width if self.right_to_left else right + gap, beside)
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


_NARROW = 0.5  # of the canvas width: a column this narrow lets a headline take one more line
_BANNER = 3.0  # width:height from which the copy may be set in columns, as a leaderboard's is


_SHRINK = SCALES[1]  # the pinned layout's step below the scales the search tries


def pinned(
    blocks: Sequence[TextBlock],
    position: str,
    canvas: tuple[int, int],
    locale: str,
    within: Box | None = None,
) -> list[Placed]:
    """The copy placed exactly at ``position`` (see ``_Search.pinned``) of the canvas, or of
    the part ``within`` (a size's safe zone); nothing painted."""
    check_position(position, canvas)
    ordered = prepare(blocks, locale)
    if not ordered:
        return []
    room = Room.around(None, canvas)
    return _Search(ordered, locale, canvas, room, position, 1.0).pinned(within)


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


def search(
    blocks: Sequence[TextBlock],
    locale: str,
    canvas: tuple[int, int],
    room: Room,
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
    return choice.scale - _ZONE_COST * distance(choice.zone, preferred) - apart
