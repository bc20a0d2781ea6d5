"""The copy decided and painted in one step, as the built-in editor sets it (for tests that look
at pixels; geometry tests assert on `decide`'s record alone)."""

from __future__ import annotations

from typing import Any, NamedTuple

from PIL import Image

from transcreate.compose.blocks import Box, TextBlock
from transcreate.compose.search import pinned
from transcreate.compose.typeset import decide, paint


def typeset(
    image: Image.Image, blocks: list[TextBlock], position: str, locale: str, **options: Any
) -> tuple[Image.Image, dict[str, Any]]:
    layout = decide(image, blocks, position, locale, **options)
    return paint(image, layout), layout.record


class Pinned(NamedTuple):
    role: str
    text: str
    lines: tuple[str, ...]
    box: Box
    font_size: int


def layout(
    blocks: list[TextBlock], position: str, canvas: tuple[int, int], locale: str
) -> list[Pinned]:
    """Each block of the copy pinned at ``position`` (the exact layout), as plain values."""
    return [
        Pinned(
            p.measured.block.role,
            p.measured.block.text,
            p.measured.lines,
            p.box,
            p.measured.face.size,
        )
        for p in pinned(blocks, position, canvas, locale)
    ]
