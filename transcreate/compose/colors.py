"""Colour helpers the layout and the checks share."""

from __future__ import annotations

from PIL import ImageColor

from transcreate.errors import TypesettingError


def contrasting_color(color: str) -> str:
    """Black or white, whichever contrasts more with color by WCAG relative luminance."""
    try:
        red, green, blue = ImageColor.getrgb(color)[:3]
    except ValueError as error:
        raise TypesettingError(f"{color!r} is not a colour; write it as #RRGGBB") from error

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    # Contrast against black is (L + 0.05) / 0.05, against white 1.05 / (L + 0.05).
    return "#000000" if (luminance + 0.05) ** 2 > 0.0525 else "#FFFFFF"
