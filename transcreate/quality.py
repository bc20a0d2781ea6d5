"""Checks on an edited creative: does the copy read back, and did the rest of the scene survive?

``copy_check`` reads the copy back with tesseract (`transcreate.ocr`) and compares it with what
the job asked for; ``change_check`` measures how much of the image changed away from where the
copy goes. Both take image bytes and return small records, so a run can keep them in its results.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageChops, ImageFilter

from transcreate.compose.blocks import Box, TextBlock
from transcreate.compose.colors import label_color
from transcreate.compose.record import read_layout
from transcreate.compose.reframe import reframed_base
from transcreate.compose.search import pinned
from transcreate.editors import Edited
from transcreate.images import as_image, decode
from transcreate.jobs import EditJob, Overlay
from transcreate.locales import is_right_to_left
from transcreate.ocr import line_language, read_lines, read_region

_COMPARE_SIZE = (256, 256)


@dataclass(frozen=True)
class CopyCheck:
    """Whether the copy on the image reads as the job's copy (CER at or under the threshold)."""

    passed: bool
    expected: str
    read: str
    error_rate: float


@dataclass(frozen=True)
class ChangeCheck:
    """Whether the image outside the copy's region stayed (mostly) as it was."""

    passed: bool
    changed_fraction: float


# --- comparing text ------------------------------------------------------------------------------


# Alef with madda or hamza reads as a bare alef to tesseract's Arabic model (and to a reader in
# a hurry): the same letter for legibility.
_ALEF = str.maketrans(dict.fromkeys("\u0622\u0623\u0625\u0671", "\u0627"))


def _comparable(text: str) -> list[str]:
    # NFKC folds Thai SARA AM (U+0E33) into NIKHAHIT + SARA AA, as tesseract writes it, and
    # full-width forms into ASCII; whitespace and invisible format characters do not count.
    return [
        char
        for char in unicodedata.normalize("NFKC", text).translate(_ALEF)
        if not char.isspace() and unicodedata.category(char) != "Cf"
    ]


def comparable(text: str) -> str:
    """The text as readings are compared: NFKC, Arabic alefs as one, no spaces or marks of
    direction."""
    return "".join(_comparable(text))


def _distances(expected: list[str], read: list[str], *, anywhere: bool) -> list[int]:
    """Last row of the edit-distance table; with ``anywhere`` the match may start at any point
    of ``read`` (Sellers' algorithm), so the row holds the best distance of every window."""
    previous = [0] * (len(read) + 1) if anywhere else list(range(len(read) + 1))
    for i, char_a in enumerate(expected, 1):
        current = [i]
        for j, char_b in enumerate(read, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous


def character_error_rate(expected: str, read: str) -> float:
    """Levenshtein distance between the texts over the expected length, ignoring whitespace."""
    a, b = _comparable(expected), _comparable(read)
    return _distances(a, b, anywhere=False)[-1] / max(1, len(a))


def substring_error_rate(expected: str, read: str) -> float:
    """The character error rate of the best-matching stretch of ``read`` (any length)."""
    a, b = _comparable(expected), _comparable(read)
    return min(_distances(a, b, anywhere=True)) / max(1, len(a))


# --- checks on an output -------------------------------------------------------------------------


def copy_region(position: str, size: tuple[int, int], margin: float = 1 / 6) -> Box:
    """The full-width band where copy at ``position`` lands: its third of the height, widened
    by ``margin`` (a share of the height) above and below, since a model places text loosely."""
    width, height = size
    vertical = position.split("-", 1)[0]
    third = {"top": 0, "center": 1, "bottom": 2}.get(vertical, 1)
    top = max(0.0, third / 3 - margin)
    bottom = min(1.0, (third + 1) / 3 + margin)
    return 0, round(top * height), width, round(bottom * height)


def _ink_color(role: str, color: str, size: int) -> str:
    # The compositor sets a CTA's label in the colour that reads on a button of the copy's.
    return label_color(color, size) if role == "cta" else color


def _inset(box: Box, role: str, font_size: int) -> Box:
    if role != "cta":
        return box
    # Keep the plate's outline (the colour of a CTA's letters) and its rounded corners out of the
    # crop; the plate's padding (0.6 × 0.3 of the font size) leaves room for this.
    across, down = round(0.4 * font_size), round(0.22 * font_size)
    left, top, right, bottom = box
    return left + across, top + down, right - across, bottom - down


def copy_check(
    job: EditJob,
    image_bytes: bytes,
    threshold: float = 0.25,
    *,
    exact_layout: bool = True,
    roles: Sequence[str] = ("headline",),
    language: str | None = None,
    base: bytes | Image.Image | None = None,
    record: Mapping[str, Any] | None = None,
) -> CopyCheck:
    """Read the job's copy (headline by default) back from the output and compare.

    ``exact_layout``: the output is the local compositor's, so the layout it recorded in the PNG
    gives each line's box, colour and script, and each line is read alone with its glyph fill
    isolated (without a record, the pinned layout gives the boxes it would have). Otherwise (a
    model drew the text) the band at the job's position is read, narrowed to where the output
    differs from ``base`` when it is given, by colour and failing that by contrast, and the copy
    is searched for in what was read. With several roles the worst error rate counts.
    ``record``: the layout the editor returned (read from the PNG when not given).
    """
    image = decode(image_bytes)
    wanted = [overlay for overlay in job.overlays if overlay.role in roles]
    if exact_layout and record is None:
        record = read_layout(image_bytes)
    if exact_layout and record is not None:
        readings = _read_recorded(job, image, record, wanted, language)
    elif exact_layout:
        readings = _read_placed(job, image, wanted, language)
    else:
        area = _changed_area(base, image, job.position) if base is not None else None
        readings = [
            _read_anywhere(job, image, overlay, threshold, language, area) for overlay in wanted
        ]
    worst = max((error_rate for _, _, error_rate in readings), default=0.0)
    return CopyCheck(
        passed=worst <= threshold,
        expected="\n".join(expected for expected, _, _ in readings),
        read="\n".join(read for _, read, _ in readings),
        error_rate=worst,
    )


_Reading = tuple[str, str, float]  # expected, read, error rate


def _read_recorded(
    job: EditJob,
    image: Image.Image,
    record: Mapping[str, Any],
    wanted: Sequence[Overlay],
    language: str | None,
) -> list[_Reading]:
    elements = {element.get("role"): element for element in record.get("elements", [])}
    readings = []
    for overlay in wanted:
        element = elements.get(overlay.role)
        read = ""
        if element is not None:
            # Lines go to tesseract together, grouped by the language of their script.
            groups: dict[str, list[Box]] = {}
            for text, box in zip(element["lines"], element["line_boxes"], strict=True):
                line_box = (box[0], box[1], box[2], box[3])
                groups.setdefault(language or line_language(text, job.locale), []).append(line_box)
            read = "\n".join(
                read_lines(
                    image,
                    boxes,
                    str(element["fill"]),
                    group,
                    font_size=int(element.get("font_size", 0)),
                )
                for group, boxes in groups.items()
            )
        readings.append((overlay.text, read, reading_error_rate(overlay.text, read, job.locale)))
    return readings


def reading_error_rate(expected: str, read: str, locale: str) -> float:
    """`character_error_rate` of copy set in the locale. Tesseract writes a right-to-left line
    that mixes directions ("على Lumière") in an order of its own; the order is the bidi
    algorithm's (tested on its own), legibility is the words': those are compared in any order."""
    error_rate = character_error_rate(expected, read)
    if is_right_to_left(locale):
        error_rate = min(error_rate, character_error_rate(_sorted(expected), _sorted(read)))
    return error_rate


def _sorted(text: str) -> str:
    return " ".join(sorted("".join(_comparable(word)) for word in text.split()))


def _read_placed(
    job: EditJob, image: Image.Image, wanted: Sequence[Overlay], language: str | None
) -> list[_Reading]:
    blocks = [TextBlock(overlay.role, overlay.text, overlay.color) for overlay in job.overlays]
    where = pinned(blocks, job.position, image.size, job.locale)
    placed = {p.measured.block.role: p for p in where}
    readings = []
    for overlay in wanted:
        block = placed.get(overlay.role)
        read = ""
        if block is not None:
            box = _inset(block.box, overlay.role, block.measured.face.size)
            ink = _ink_color(overlay.role, overlay.color, block.measured.face.size)
            read = read_region(image, box, job.locale, ink, language=language)
        readings.append((overlay.text, read, character_error_rate(overlay.text, read)))
    return readings


def _changed_area(base: bytes | Image.Image, image: Image.Image, position: str) -> Box | None:
    """Where the output differs from the base (the model's text, mostly), padded; None when
    nothing or nearly everything changed (then the whole band is read)."""
    before = as_image(base).resize(image.size, Image.Resampling.BILINEAR)
    red, green, blue = ImageChops.difference(before, image).split()
    distance = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    changed = distance.filter(ImageFilter.MaxFilter(5)).point(
        lambda value: 255 if value > 48 else 0
    )
    box = changed.getbbox()
    if box is None:
        return None
    pad = round(0.02 * min(image.size))
    left, top, right, bottom = box
    area = (
        max(0, left - pad),
        max(0, top - pad),
        min(image.width, right + pad),
        min(image.height, bottom + pad),
    )
    if (area[2] - area[0]) * (area[3] - area[1]) > 0.9 * image.width * image.height:
        return None  # a repainted scene: the band says more than the difference
    return area


def _read_anywhere(
    job: EditJob,
    image: Image.Image,
    overlay: Overlay,
    threshold: float,
    language: str | None,
    area: Box | None = None,
) -> _Reading:
    band = area or copy_region(job.position, image.size)
    ink = _ink_color(overlay.role, overlay.color, 0)  # a model's label: the surest contrast
    # A model's yellow is not the sheet's yellow: the copy's colour, looser, then plain contrast;
    # the first reading good enough ends the search. Sparse-text mode (psm 11) finds copy
    # wherever the model put it in the band, among the picture's other shapes.
    attempts = ((ink, 32), (ink, 64), (None, 0))
    scored = []
    for color, tolerance in attempts:
        read = read_region(
            image, band, job.locale, color, tolerance=tolerance, language=language, psm=11
        )
        scored.append((substring_error_rate(overlay.text, read), read))
        if scored[-1][0] <= threshold:
            break
    error_rate, read = min(scored)
    return overlay.text, read, error_rate


def change_check(
    base_bytes: bytes | Image.Image,
    output_bytes: bytes | Image.Image,
    position: str,
    threshold: float = 0.35,
    *,
    tolerance: int = 40,
) -> ChangeCheck:
    """Share of the image outside the copy's band that changed by more than ``tolerance`` (of
    255, in any channel); too much means the model repainted the scene instead of editing it."""

    def small(data: bytes | Image.Image) -> Image.Image:
        # A slight blur absorbs resampling and compression noise, so only real edits count.
        resized = as_image(data).resize(_COMPARE_SIZE, Image.Resampling.BILINEAR)
        return resized.filter(ImageFilter.GaussianBlur(1))

    red, green, blue = ImageChops.difference(small(base_bytes), small(output_bytes)).split()
    distance = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    changed = distance.point(lambda value: 255 if value > tolerance else 0)
    outside = Image.new("L", _COMPARE_SIZE, 255)
    outside.paste(0, copy_region(position, _COMPARE_SIZE))
    changed = ImageChops.multiply(changed, outside)
    area = outside.histogram()[255]
    fraction = changed.histogram()[255] / area if area else 0.0
    return ChangeCheck(passed=fraction <= threshold, changed_fraction=fraction)


@dataclass(frozen=True)
class OutputChecks:
    """The checks a run applies to each output before it counts as done."""

    mode: str  # overlay | model | model+overlay
    copy_threshold: float = 0.25
    #: locales whose copy the compositor sets in a mode-model run (mode auto: model+overlay)
    overlaid: frozenset[str] = frozenset()
    change_threshold: float = 0.35
    #: where the product is (image bytes), as the run was given it: an output found stored is
    #: compared with the base framed as its editor framed it
    product_mask: bytes | None = field(default=None, repr=False)

    def mode_of(self, job: EditJob) -> str:
        return "model+overlay" if job.locale in self.overlaid else self.mode

    def review_reason(self, job: EditJob, base: bytes, output: Edited) -> str | None:
        """Why a person should look at this output, or None when it passes. The editor's own
        record says where the copy is (unless a model drew it), and its frame is what the
        output is compared with."""
        mode = self.mode_of(job)
        exact = mode != "model"
        before = output.frame if output.frame is not None else base
        copy = copy_check(
            job,
            output.png,
            self.copy_threshold,
            exact_layout=exact,
            base=before,
            record=output.layout,
        )
        if not copy.passed:
            return (
                f"copy check: read {copy.read!r} where {copy.expected!r} should be "
                f"(error rate {copy.error_rate:.2f} > {self.copy_threshold})"
            )
        if mode == "model":
            change = change_check(before, output.png, job.position, self.change_threshold)
            if not change.passed:
                return (
                    f"change check: {change.changed_fraction:.0%} of the image changed outside "
                    f"the copy area (limit {self.change_threshold:.0%})"
                )
        return None

    def review_stored(
        self, job: EditJob, base: bytes, png: bytes
    ) -> tuple[str | None, dict[str, Any] | None]:
        """`review_reason` for an output found stored, and its layout: what its editor returned
        is read back from the PNG, and a model's frame is made again (with the product mask)."""
        frame = None
        if self.mode_of(job) == "model" and job.size is not None:
            frame = reframed_base(base, job.size, job.frame_position, self.product_mask)[0]
        layout = read_layout(png)
        return self.review_reason(job, base, Edited(png, layout, frame)), layout
