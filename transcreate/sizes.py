"""Ad sizes, the campaign's third axis: a small table of named presets, and ``WxH`` for any other.

A run (the ``sizes`` option) or a row (the ``sizes`` column) names them as text, e.g.
``square, story, 728x90``; ``base`` is the base creative's own size, the default. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """One output size: its name (a preset's, or ``WxH``) and its pixels."""

    name: str
    width: int
    height: int
    use: str = ""
    #: Shares of the width and height (left, top, right, bottom) the platform covers with its own
    #: interface, where copy must not go.
    unsafe: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    #: The largest file the placement takes, in bytes (Google Display: 150 KB); None: no limit.
    max_bytes: int | None = None

    @property
    def pixels(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def label(self) -> str:
        """``story 1080×1920``, or ``728×90`` for a size given as WxH."""
        dimensions = f"{self.width}×{self.height}"
        return (
            dimensions
            if self.name == f"{self.width}x{self.height}"
            else f"{self.name} {dimensions}"
        )

    @property
    def safe_zone(self) -> tuple[int, int, int, int]:
        """Where copy may go, in pixels (left, top, right, bottom): the frame less the parts
        the platform's interface covers."""
        left, top, right, bottom = self.unsafe
        return (
            round(left * self.width),
            round(top * self.height),
            round((1 - right) * self.width),
            round((1 - bottom) * self.height),
        )


#: The presets: the placements a campaign in South-East Asia and China runs in most.
PRESETS: dict[str, Size] = {
    size.name: size
    for size in (
        Size("square", 1080, 1080, "feed post, 1:1 (Instagram, Facebook, Shopee, Tokopedia)"),
        Size("portrait", 1080, 1350, "feed post, 4:5 (Instagram, Facebook)"),
        # Meta's Stories and Reels keep the top 14 %, the bottom 35 % and 6 % at each side free
        # of text (the profile bar, the reply field and the reel's buttons); TikTok's interface
        # covers less of the frame.
        Size(
            "story",
            1080,
            1920,
            "story or reel, 9:16 (Instagram, TikTok, Douyin, LINE VOOM)",
            unsafe=(0.06, 0.14, 0.06, 0.35),
        ),
        Size("landscape", 1200, 628, "link ad, 1.91:1 (Facebook, LinkedIn, LINE Ads)"),
    )
}
#: IAB display units: seen at their own size, and Google Display takes files of up to 150 KB.
IAB_UNITS = frozenset(
    {
        (300, 250), (336, 280), (250, 250), (200, 200), (728, 90), (970, 90), (970, 250),
        (468, 60), (320, 50), (320, 100), (300, 50), (160, 600), (120, 600), (300, 600),
    }
)  # fmt: skip
DISPLAY_MAX_BYTES = 150 * 1024
#: The name of the base creative's own size (a job with ``size=None``).
BASE = "base"
#: Sides an explicit size may have, in pixels: an ad banner's smallest side is 50 (320×50); the
#: largest a 4K screen's long side.
SMALLEST_SIDE, LARGEST_SIDE = 32, 4096
_EXPLICIT = re.compile(r"(\d{1,5})\s*[x×*]\s*(\d{1,5})")

#: A preset choice for a form (the Prefect UI offers these); ``WxH`` is typed into the text field.
PRESET_NAMES: tuple[str, ...] = (BASE, *PRESETS)


def parse_size(text: str) -> Size | None:
    """A preset by name, or ``WxH``; None for ``base`` (the base creative's own size)."""
    name = text.strip().lower()
    if name in ("", BASE):
        return None
    if name in PRESETS:
        return PRESETS[name]
    explicit = _EXPLICIT.fullmatch(name)
    if explicit is None:
        raise ValueError(
            f"{text.strip()!r} is not a size; use {', '.join(PRESET_NAMES)} or width x height "
            "in pixels, e.g. 728x90"
        )
    width, height = int(explicit[1]), int(explicit[2])
    if not (min(width, height) >= SMALLEST_SIDE and max(width, height) <= LARGEST_SIDE):
        raise ValueError(
            f"{text.strip()!r} is {width}×{height} px; each side must be between "
            f"{SMALLEST_SIDE} and {LARGEST_SIDE} px"
        )
    if (width, height) in IAB_UNITS:
        return Size(
            f"{width}x{height}",
            width,
            height,
            f"display banner, IAB {width}×{height} (Google Display: JPG, PNG or GIF up to 150 KB)",
            max_bytes=DISPLAY_MAX_BYTES,
        )
    return Size(f"{width}x{height}", width, height)


def parse_sizes(text: str) -> tuple[Size | None, ...]:
    """``"base, story, 728x90"`` → the sizes in order, without repeats (None: the base's own)."""
    parts = [part for part in re.split(r"[,;\s]+", text) if part]
    sizes = [parse_size(part) for part in parts]
    return tuple(dict.fromkeys(sizes))


def size_by_name(name: str | None) -> Size | None:
    """The size an ``EditJob.size`` names (None: the base's own)."""
    return None if name is None else parse_size(name)


def canonical(text: str) -> str:
    """The sizes as the run records them: ``"base,story,728x90"`` (empty for the default)."""
    return ",".join(BASE if size is None else size.name for size in parse_sizes(text))
