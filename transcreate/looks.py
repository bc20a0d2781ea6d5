"""Variations for A/B tests: named scene directions ("neon: replace the background with a neon-lit
city street at night"), each making its own variant of a row (``<variant>-<name>``) whose edit is
that direction. They come from the sheet's ``variations`` column, or the first N of the shipped
looks (``--variations N``)."""

from __future__ import annotations

import re
from dataclasses import replace

from transcreate.campaign import MAX_EDIT_CHARS, Campaign, Variant
from transcreate.errors import CampaignError

Looks = tuple[tuple[str, str], ...]  # (name, direction) each

#: Scene directions an ad is commonly tested with; the product itself is never the subject.
LOOKS: Looks = (
    ("studio", "Place the product on a clean studio background with soft, even light"),
    ("sunlit", "Bathe the scene in warm late-afternoon sunlight with soft shadows"),
    ("neon", "Replace the background with a neon-lit cyberpunk city street at night"),
    ("motion", "Add motion blur to the background, as if the camera follows the product"),
    ("nature", "Set the product outdoors on a mossy stone among green leaves"),
)
MAX_VARIATIONS = len(LOOKS) * 2
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")


def parse_variations(text: str) -> tuple[list[tuple[str, str]], str | None]:
    """``"neon: a neon street | sunlit: warm light"`` (``|`` or new lines between them, a name
    before a colon, optional) as (name, direction) pairs, or the problem with the text."""
    looks: list[tuple[str, str]] = []
    for index, part in enumerate(p.strip() for p in re.split(r"[|\n]", text)):
        if not part:
            continue
        name, colon, direction = part.partition(":")
        if not colon or not _NAME.fullmatch(name.strip().lower()):
            name, direction = f"v{index + 1}", part
        name, direction = name.strip().lower(), direction.strip()
        if not direction:
            return [], f"variation {name!r} has no direction; write it as name: direction"
        if len(direction) > MAX_EDIT_CHARS:
            return [], (
                f"variation {name!r} is {len(direction)} characters; keep it under {MAX_EDIT_CHARS}"
            )
        if any(name == seen for seen, _ in looks):
            return [], f"two variations are named {name!r}; give each its own name"
        looks.append((name, direction))
    if len(looks) > MAX_VARIATIONS:
        return [], f"{len(looks)} variations; at most {MAX_VARIATIONS} per row"
    return looks, None


def read_looks(text: str, source: str) -> Looks:
    """A file of named looks (``name: direction`` a line, as a sheet's variations column), or
    CampaignError naming the file and what is wrong."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    looks, wrong = parse_variations("\n".join(lines))
    if wrong:
        raise CampaignError(f"{source}: {wrong}")
    if not looks:
        raise CampaignError(f"{source}: no looks; write one a line, as name: direction")
    return tuple(looks)


def with_variations(campaign: Campaign, count: int = 0, looks: Looks | None = None) -> Campaign:
    """Each row with variations (its own ``variations``, else the first ``count`` of ``looks``
    — the user's file, else the shipped ones — or all of the user's when ``count`` is 0) as one
    variant per look, ``<variant>-<name>``, its edit the look's direction (after the row's own
    edit, if any); rows without any stay as they are."""
    chosen = list(looks[: count or None]) if looks else list(LOOKS[:count])
    variants: list[Variant] = []
    for variant in campaign.variants:
        looks_of_row = list(variant.variations) or chosen
        if not looks_of_row:
            variants.append(variant)
            continue
        for name, direction in looks_of_row:
            edits = {
                locale: f"{edit.rstrip('.。 ')}. {direction}" if edit else direction
                for locale, edit in {"": "", **variant.edits}.items()
            }
            variants.append(
                replace(variant, variant=f"{variant.variant}-{name}"[:64], edits=edits, look=name)
            )
    return replace(campaign, variants=tuple(variants))
