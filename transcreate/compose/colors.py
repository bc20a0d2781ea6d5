"""Colour helpers the layout and the checks share."""

from __future__ import annotations

from PIL import ImageColor

from transcreate.errors import TypesettingError


def _luminance(color: str) -> float:
    try:
        red, green, blue = ImageColor.getrgb(color)[:3]
    except ValueError as error:
        raise TypesettingError(f"{color!r} is not a colour; write it as #RRGGBB") from error

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrasting_color(color: str) -> str:
    """Black or white, whichever contrasts more with color by WCAG relative luminance."""
    luminance = _luminance(color)
    # Contrast against black is (L + 0.05) / 0.05, against white 1.05 / (L + 0.05).
    return "#000000" if (luminance + 0.05) ** 2 > 0.0525 else "#FFFFFF"


#: A button's label is bold: from this size (14 pt bold) WCAG asks 3:1 of it, not 4.5:1.
LARGE_BOLD_PX = 19


def label_color(button: str, size: int) -> str:
    """The colour of a button's label: white wherever white reads on the button (3:1 for a
    label of LARGE_BOLD_PX or more, 4.5:1 below), as designers set a label on a red or a blue
    button; else black or white, whichever contrasts more."""
    white = 1.05 / (_luminance(button) + 0.05)
    return (
        "#FFFFFF" if white >= (3.0 if size >= LARGE_BOLD_PX else 4.5) else contrasting_color(button)
    )
