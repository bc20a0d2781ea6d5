"""The copy decided and painted in one step, as the built-in editor sets it (for tests that look
at pixels; geometry tests assert on `decide`'s record alone)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from transcreate.compose.blocks import TextBlock
from transcreate.compose.typeset import decide, paint


def typeset(
    image: Image.Image, blocks: list[TextBlock], position: str, locale: str, **options: Any
) -> tuple[Image.Image, dict[str, Any]]:
    layout = decide(image, blocks, position, locale, **options)
    return paint(image, layout), layout.record
