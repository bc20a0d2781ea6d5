"""What an art director would refuse in a layout, read from its record: copy off the canvas or
outside the size's safe zone, on a face, over the product, or a headline too small to read.
An output with any of these is ``needs_review``, never ``ok``. Pure: it reads only the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from transcreate.sizes import IAB_UNITS

#: IAB display units (``sizes.IAB_UNITS``) are seen at their own size; everything else (feed
#: posts, stories, link ads, a base creative) is judged as seen full-width on a 390 px phone.
PHONE_WIDTH = 390
#: The least headline size, in pixels as seen: 14 px on a phone, as on an IAB unit (a 300×250's
#: 13 px "Year- / End / Mega / Sale" did not read).
READABLE_HEADLINE = 14


#: Share of the product a model's output may change in an ad size (``drift`` in the record): the
#: model was asked to draw copy, or to extend the scene around the photo, never the product.
DRIFT_LIMIT = 0.15
#: Share of a logo's box that may lie over the product, the copy or a face (its transparent
#: margin often does, harmlessly)
LOGO_COVER_LIMIT = 0.1


def lead(element: dict[str, Any]) -> bool:
    """Whether a recorded element is the copy's lead line, set as the headline: the headline,
    or the offer when the row's ``lead`` column gives it that place."""
    return bool(element.get("style", element["role"]) == "headline")


def readable_headline(canvas: Sequence[int]) -> int:
    """The least headline font size, in the canvas's pixels, that reads at the size it is seen."""
    width, height = int(canvas[0]), int(canvas[1])
    if (width, height) in IAB_UNITS:
        return READABLE_HEADLINE
    return round(READABLE_HEADLINE * max(1.0, width / PHONE_WIDTH))


def headline_room(record: Mapping[str, Any], characters: int) -> tuple[int, str] | None:
    """How many characters a headline of ``characters`` may have to be set at a readable size
    in this layout, and why, when it is set smaller now; None when it reads. As many as fit the
    same box at the readable size: the area a line of type takes grows with its size squared."""
    least = readable_headline(record["canvas"])
    for element in record.get("elements") or []:
        if element["role"] == "headline" and element["font_size"] < least:
            width, height = record["canvas"]
            fits = max(4, int(characters * (element["font_size"] / least) ** 2))
            why = (
                f"would be set at {element['font_size']} px, below the {least} px that reads at "
                f"{width}×{height}"
            )
            return fits, why
    return None


def layout_problems(record: Mapping[str, Any] | None) -> list[str]:
    """Why a person must look at this layout before it ships, in words; empty when it passes."""
    if not record:
        return []
    drift = record.get("drift")
    if drift is not None and drift > DRIFT_LIMIT:
        return [
            f"the model changed {drift:.0%} of the product (more than {DRIFT_LIMIT:.0%}); it "
            "must come back as it was sent"
        ]
    logo = record.get("logo") or {}
    if logo.get("covers", 0) > LOGO_COVER_LIMIT:
        return [
            f"no corner is clear for the logo: {logo['covers']:.0%} of it covers the product, "
            "the copy or a face; give a logo with less margin, or move the copy"
        ]
    if not record.get("elements"):
        return []
    width, height = record["canvas"]
    safe = record.get("safe_zone")
    faces = record.get("faces") or []
    problems = []
    for element in record["elements"]:
        role = element["role"]
        left, top, right, bottom = element["box"]
        if left < 0 or top < 0 or right > width or bottom > height:
            problems.append(f"the {role} runs off the {width}×{height} canvas")
        elif safe and (left < safe[0] or top < safe[1] or right > safe[2] or bottom > safe[3]):
            problems.append(f"the {role} is outside the safe zone {safe} the platform leaves free")
        if any(_meet(element["box"], face) for face in faces):
            problems.append(f"the {role} covers a face")
        if lead(element):
            least = readable_headline(record["canvas"])
            if element["font_size"] < least:
                problems.append(
                    f"the {role} is {element['font_size']} px, below the {least} px that "
                    f"reads at {width}×{height}"
                )
    panel = record.get("plate_box")
    if panel and any(_meet(panel, face) for face in faces):
        problems.append("the plate behind the copy covers a face")
    file = record.get("file") or {}
    if file.get("over_limit"):
        problems.append(
            f"the file is over the {file['limit'] // 1024} KB its placement takes, even in "
            f"{file.get('colors')} colours"
        )
    if record.get("fallback") == "plate":
        problems.append("the copy has no room off the product and covers it on a plate")
    return list(dict.fromkeys(problems))


def _meet(a: Sequence[int], b: Sequence[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
