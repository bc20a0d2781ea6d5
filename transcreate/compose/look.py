"""The look a variant's locales share in one frame: where each copy goes alone (`best_fit`), the
zone and arrangement most of them can take (`variant_look`), and the headline scale they share
(`common_scale`). One campaign, one ad in every language.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from transcreate.compose.blocks import Box, TextBlock, prepare
from transcreate.compose.saliency import ProductMask
from transcreate.compose.search import _SHARED_LOOK, ARRANGEMENTS, SCALES, _Search, search
from transcreate.compose.zones import Room, zones

#: A variant's locales share one headline size unless that would be below this share of the
#: nominal size; a locale whose copy fits only smaller goes smaller alone (and says so).
COMMON_FLOOR = SCALES[6]  # 0.6064: on the grid of SCALES, so the shared size is one they try
#: ... but never sets the others more than this times larger than it.
SPREAD = 1.2  # under 1.25 with room for the rounding of font sizes


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
    room = Room.around(product, canvas)
    choice = search(ordered, locale, canvas, room, position, 1.0, area=area)
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
    room = Room.around(product, canvas)
    # One search a locale for every look tried: its stacks are measured once.
    searches = [
        _Search(prepare(blocks, locale), locale, canvas, room, position, common, area=area)
        for blocks, locale, _ in alone
    ]

    best: tuple[tuple[int, float], tuple[str, str]] | None = None
    for look in candidates:
        count, total, left = 0, 0.0, len(alone)
        for locale_search, (_, _, fit) in zip(searches, alone, strict=True):
            if best is not None and count + left < best[0][0]:
                break  # fewer locales can take it than take the best so far
            left -= 1
            own = min(fit.scale, common)
            if (fit.zone, fit.arrangement) == look:
                share = 1.0
            else:
                shaped = locale_search.shaped(*look, floor=_SHARED_LOOK * own)
                share = min(shaped.scale, common) / own if shaped is not None else 0.0
            count, total = count + (share > 0), total + share
        else:
            if best is None or (count, total) > best[0]:  # the first of the best on a tie
                best = ((count, total), look)
    return best[1] if best is not None else None


def common_scale(scales: Iterable[float | None]) -> float:
    """The headline scale a variant's locales share: the largest every locale's copy fits at,
    but not below COMMON_FLOOR (a locale that fits only smaller goes smaller alone) unless
    that would set the others more than SPREAD times larger than it: one ad in every language
    keeps its headlines within SPREAD of each other."""
    fitting = [scale for scale in scales if scale is not None]
    lowest = min(fitting, default=1.0)
    shared = max(COMMON_FLOOR, lowest)
    if shared <= SPREAD * lowest + 1e-9:
        return shared
    # On the grid of SCALES, so the locales that could go larger stop exactly there.
    return max((scale for scale in SCALES if scale <= SPREAD * lowest + 1e-9), default=lowest)
