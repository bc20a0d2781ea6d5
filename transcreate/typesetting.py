"""Set localized ad copy on a creative: a font per script, Thai and CJK line breaks, shrink-to-fit.

Pillow shapes one font per call and has no glyph fallback, so every line is split into runs by font
coverage and the runs are drawn one after another on a shared baseline.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, pairwise
from pathlib import Path

from icu4py.breakers import CharacterBreaker, LineBreaker, WordBreaker
from PIL import Image, ImageColor, ImageDraw, ImageFont

from transcreate.campaign import POSITIONS  # the sheet's vocabulary is the layout's
from transcreate.errors import MissingGlyphError, TypesettingError
from transcreate.fonts import check_text_support, codepoints, fonts_for_locale, is_variable


@dataclass(frozen=True)
class TextBlock:
    role: str  # "headline" | "offer" | "cta" | "ends"; any other role is set like "offer"
    text: str
    color: str  # "#RRGGBB"


@dataclass(frozen=True)
class PlacedBlock:
    role: str
    text: str
    lines: tuple[str, ...]
    box: tuple[int, int, int, int]  # (left, top, right, bottom), including plate and stroke
    font_size: int


@dataclass(frozen=True)
class _Style:
    size: float  # share of the canvas height before shrinking
    weight: str | None  # named instance of the variable fonts
    max_lines: int


_STYLES = {
    "headline": _Style(0.09, "Bold", 3),
    "offer": _Style(0.06, "SemiBold", 3),
    "ends": _Style(0.035, None, 2),
    "cta": _Style(0.05, "SemiBold", 2),
}
_STACK_ORDER = {"headline": 0, "offer": 1, "ends": 2, "cta": 3}

_MARGIN = 0.06  # of the shorter side
_WIDE_COLUMN = 0.88  # of the canvas width, for *-center positions
_SIDE_COLUMN = 0.50
_MAX_HEIGHT = 0.45  # of the canvas height
_MIN_SIZE = 0.022  # of the type unit (see type_unit); never below _MIN_SIZE_PX
_MIN_SIZE_PX = 12
_BANNER = 2.5  # width:height beyond which type is sized by the width (see type_unit)
_SHRINK = 0.92
_STROKE = 0.07  # of the font size
_GAP = 0.4  # between blocks, of the next block's font size
_PLATE_PADDING = (0.6, 0.3)  # horizontal, vertical; of the CTA font size
_SYNTHETIC_BOLD = {"Bold": 0.03, "SemiBold": 0.015}  # of the font size

# HarfBuzz hides these even when the font has no glyph for them, so they need no coverage.
_IGNORABLE = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, *range(0xFE00, 0xFE10)})
_LOOSE_WHITESPACE = re.compile(r"[^\S\n\u00a0\u202f]+")

Run = tuple[Path, str]


def _is_thai(char: str) -> bool:
    return "\u0e00" <= char <= "\u0e7f"


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def _graphemes(text: str) -> list[str]:
    return list(CharacterBreaker(text, "und"))


@lru_cache(maxsize=1)
def _thai_tokenizer() -> Callable[..., list[str]]:
    # Imported and warmed up once: the first call loads pythainlp's dictionary trie.
    from pythainlp.tokenize import word_tokenize

    word_tokenize("ภาษาไทย", engine="newmm")
    return word_tokenize


@lru_cache(maxsize=4096)
def _units(text: str, locale: str) -> tuple[str, ...]:
    icu_units = list(LineBreaker(text, locale))
    if not any(_is_thai(char) for char in text):
        return tuple(icu_units)
    # pythainlp decides between two Thai letters (no spaces between Thai words); UAX #14 decides
    # everywhere else, so "50%" and "วันนี้!" stay whole.
    tokens = _thai_tokenizer()(text, engine="newmm", keep_whitespace=True)
    thai_breaks = set(accumulate(len(token) for token in tokens))
    icu_breaks = set(accumulate(len(unit) for unit in icu_units))
    cuts = [
        index
        for index in range(1, len(text))
        if not _is_mark(text[index])
        and (
            index in thai_breaks
            if _is_thai(text[index - 1]) and _is_thai(text[index])
            else index in icu_breaks
        )
    ]
    edges = [0, *cuts, len(text)]
    return tuple(text[start:end] for start, end in pairwise(edges))


def line_units(text: str, locale: str) -> list[str]:
    """Split text at its line-break opportunities; the pieces concatenate back to the text."""
    return list(_units(text, locale))


def _covers(path: Path, cluster: str) -> bool:
    available = codepoints(path)
    return all(ord(char) in available or ord(char) in _IGNORABLE for char in cluster)


def _missing_glyph(text: str, cluster: str, chain: tuple[Path, ...]) -> MissingGlyphError:
    fonts = ", ".join(path.name for path in chain)
    absent = [char for char in cluster if not any(_covers(path, char) for path in chain)]
    if absent:
        char = absent[0]
        what = f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
    else:
        what = (
            f"the cluster {cluster!r} ({' '.join(f'U+{ord(c):04X}' for c in cluster)}) in one font"
        )
    return MissingGlyphError(
        f"cannot draw {what} in {text!r}: none of the fonts tried ({fonts}) has it; "
        "remove the character or set the copy in a locale whose fonts cover it"
    )


@lru_cache(maxsize=8192)
def _runs(text: str, chain: tuple[Path, ...]) -> tuple[Run, ...]:
    runs: list[Run] = []
    for cluster in _graphemes(text):
        current = runs[-1][0] if runs else None
        # Whitespace and stray marks stay with the run they follow, so a script change costs no
        # extra run and a mark is never drawn apart from its base.
        joins = cluster.isspace() or _is_mark(cluster[0])
        if current is not None and joins and _covers(current, cluster):
            font = current
        else:
            found = next((path for path in chain if _covers(path, cluster)), None)
            if found is None:
                raise _missing_glyph(text, cluster, chain)
            font = found
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + cluster)
        else:
            runs.append((font, cluster))
    return tuple(runs)


def font_runs(text: str, locale: str) -> list[Run]:
    """Split text into (font file, text) runs, each character in the first font that has it."""
    return list(_runs(text, fonts_for_locale(locale)))


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


@lru_cache(maxsize=512)
def _font(path: Path, size: int, weight: str | None) -> ImageFont.FreeTypeFont:
    # One object per variation: set_variation_* mutates the face, so a cached font is never touched
    # again once other threads can see it.
    font = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)
    if weight is not None and is_variable(path):
        font.set_variation_by_name(weight)
    return font


@lru_cache(maxsize=65536)
def _width(face: _Face, text: str) -> float:
    return sum(face.length(run) for run in _runs(text, face.chain))


@dataclass(frozen=True)
class _Face:
    chain: tuple[Path, ...]
    size: int
    weight: str | None
    language: str

    def font(self, path: Path) -> ImageFont.FreeTypeFont:
        return _font(path, self.size, self.weight)

    def length(self, run: Run) -> float:
        return self.font(run[0]).getlength(run[1], direction="ltr", language=self.language)

    def width(self, text: str) -> float:
        return _width(self, text)

    def embolden(self, path: Path) -> int:
        # A font with one weight only (Noto Sans SC) is thickened by a stroke in its own colour.
        if self.weight is None or is_variable(path):
            return 0
        return round(_SYNTHETIC_BOLD.get(self.weight, 0.0) * self.size)

    def metrics(self, text: str) -> tuple[int, int]:
        paths = [path for path, _ in _runs(text, self.chain)] or [self.chain[0]]
        ascents, descents = zip(*(self.font(path).getmetrics() for path in paths), strict=True)
        return max(ascents), max(descents)


def _paragraphs(text: str) -> list[str]:
    # Tabs and runs of spaces become one space (fonts have no glyph for a tab); newlines and
    # no-break spaces keep their meaning.
    tidy = (_LOOSE_WHITESPACE.sub(" ", paragraph).strip() for paragraph in text.split("\n"))
    return [paragraph for paragraph in tidy if paragraph]


# --- line breaking ------------------------------------------------------------------------------
#
# Where a line may break comes from UAX #14 (ICU) and, between two Thai letters, from pythainlp;
# *which* of those breaks a typesetter takes is a cost: every line's slack (balanced lines, the
# last one included, instead of greedy filling), plus a penalty for the kind of break.
#
# Chinese words come from rjieba, the Python binding of jieba-rs: maintained (jieba itself has had
# no release since 2020), fast, its dictionary compiled in (no cache files), and it knows the
# words of ad copy (全场, 包邮, 限时) that ICU's dictionary-based word break splits into single
# characters. Japanese and Korean use ICU's word break; a break between two one-character words
# still costs more than one between longer words, in case the dictionary lacks the word.

_PREFERRED = 0.0  # after ，、。 or a space in Thai and CJK, after punctuation and a space in Latin
_NORMAL = 8.0  # between two Latin words, between two longer CJK words, between two Thai words
_WEAK = 40.0  # between two one-character CJK words: likely a word the dictionary lacks
_GLUED = 4_000.0  # between a number and its unit, its currency or the short word before it
_INSIDE_WORD = 100_000.0  # only when nothing else fits
_ORPHAN = 20_000.0  # a lone numeral, one-letter word or single CJK character on a last line
_LONE_WORD = 30.0  # a last line of one short word under a long line ("Beli 2 Lebih|Hemat")
_LONELY = 2 / 3  # "short": narrower than this share of the line above
_LINE = 1_000.0  # each line after the first: fewer lines win over balance
_SLACK = 100.0  # a line's cost at zero width; (slack / width)² of it
_BREAK_AFTER = frozenset("，、。！？；：,.;:!?)）」』】〉》")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*%?$")
_UNIT_LENGTH = 4  # "kg", "pcs", "Des", "บาท", "ชิ้น": a short word after a number is its unit
_QUALIFIER_LENGTH = 6  # "to", "only", "Beli", "hingga": a short word before a number qualifies it


def _is_currency(word: str) -> bool:
    return (
        word in ("Rp", "RM")
        or (len(word) == 1 and unicodedata.category(word) == "Sc")
        or (len(word) == 3 and word.isascii() and word.isupper())
    )


def _qualifies(word: str) -> bool:
    """A short word before a number reads with it ("up to 50%", "Beli 2", "only $12"): a line
    ending in it leaves the reader holding half a phrase."""
    return word.isalpha() and len(word) <= _QUALIFIER_LENGTH


def _counted(words: list[str]) -> bool:
    """Whether the words after a break start with a number, or with a short word and then a
    number: a break before "up to 50%" leaves it whole, and so does a break before "to 50%"."""
    number = [_NUMBER.match(word.lstrip("$€£¥฿").rstrip(".,;:!?")) for word in words[:2]]
    return bool(number[0]) or (len(number) > 1 and bool(number[1]) and _qualifies(words[0]))


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F") and char.isalnum()


@lru_cache(maxsize=4096)
def _word_spans(text: str, locale: str) -> tuple[tuple[int, int], ...]:
    words = list(WordBreaker(text, locale))
    if locale.split("-")[0].split("_")[0].lower() == "zh":
        import rjieba  # only Chinese copy pays for the dictionary

        cut = rjieba.cut(text)
        words = cut if "".join(cut) == text else words
    return tuple(pairwise([0, *accumulate(len(word) for word in words)]))


def _break_penalty(text: str, cut: int, locale: str) -> float:
    """What breaking the line at text[:cut] | text[cut:] costs."""
    before, after = text[:cut].rstrip(), text[cut:]
    if not before or not after:
        return _PREFERRED
    last, first = before[-1], after[0]
    spaced = cut > len(before)
    previous_word = before.rsplit(" ", 1)[-1]
    next_word = after.split(" ", 1)[0]
    unit = next_word.rstrip(".,;:!?")
    if (
        _NUMBER.match(previous_word)
        and spaced
        and (len(unit) <= _UNIT_LENGTH or _is_currency(unit))
    ):
        return _GLUED  # "50 บาท", "2 ชิ้น", "12 Des", "3 kg", "20 USD"
    if _is_currency(previous_word) and spaced and next_word[:1].isdigit():
        return _GLUED  # "Rp 199.000", "USD 12"
    if spaced and _qualifies(previous_word) and _counted(after.split(" ", 2)):
        return _GLUED  # "up to 50%", "hingga 50%", "Beli 2", "only $12"
    if last in _BREAK_AFTER:
        return _PREFERRED
    if _is_cjk(last) or _is_cjk(first):
        spans = _word_spans(text, locale)
        word = next((span for span in spans if span[0] < cut < span[1]), None)
        if word is not None:
            return _INSIDE_WORD
        left = next(span for span in spans if span[1] == cut)
        right = next(span for span in spans if span[0] == cut)
        if first.isdigit() or text[right[1] : right[1] + 1].isdigit():
            return _GLUED  # "最高立减 | 50%", "最高 | 立减50%": a number and the word before it
        single = left[1] - left[0] == 1 and right[1] - right[0] == 1
        return _WEAK if single and _is_cjk(last) and _is_cjk(first) else _NORMAL
    if spaced and (_is_thai(last) or _is_thai(first)):
        return _PREFERRED  # a space in Thai separates phrases
    if spaced and not last.isalnum() and last != "%":  # "50% off" is not "50%, off"
        return _PREFERRED
    return _NORMAL


def _is_orphan(line: str) -> bool:
    bare = "".join(char for char in line if char.isalnum())
    if not bare:
        return False
    if " " not in line.strip() and _NUMBER.match(line.strip().rstrip("!?.")):
        return True
    return len(bare) == 1  # one letter, one digit or one CJK character


def _is_lone_word(line: str) -> bool:
    """One word of a language that spaces its words (a Thai line is a phrase, a Chinese one
    has no spaces to go by)."""
    word = line.strip()
    return " " not in word and not any(_is_cjk(char) or _is_thai(char) for char in word)


@dataclass(frozen=True)
class _Piece:
    text: str
    width: float  # as set, trailing whitespace included
    trimmed: float  # without its trailing whitespace, as it ends a line
    penalty: float  # for a break after it


def _pieces(paragraph: str, face: _Face, max_width: float) -> list[_Piece]:
    pieces: list[_Piece] = []
    offset = 0
    for unit in _units(paragraph, face.language):
        # A word wider than the box may break between grapheme clusters, at a price.
        parts = [unit] if face.width(unit.rstrip()) <= max_width else _graphemes(unit)
        for index, part in enumerate(parts):
            offset += len(part)
            inside = index < len(parts) - 1
            penalty = _INSIDE_WORD if inside else _break_penalty(paragraph, offset, face.language)
            pieces.append(_Piece(part, face.width(part), face.width(part.rstrip()), penalty))
    return pieces


def _break_lines(
    pieces: Sequence[_Piece], max_width: float, max_lines: int
) -> dict[int, tuple[float, list[int], bool]]:
    """For each line count, the cheapest breaks: (cost, end index of each line, whether they
    include a defect: a break inside a word or before an orphan, a number parted from its unit)."""
    count = len(pieces)
    starts = [0.0, *accumulate(piece.width for piece in pieces)]
    infinity = math.inf
    # best[lines][end] = (cost, previous end)
    best: list[list[tuple[float, int]]] = [
        [(infinity, -1)] * (count + 1) for _ in range(max_lines + 1)
    ]
    best[0][0] = (0.0, -1)
    for lines in range(1, max_lines + 1):
        for end in range(1, count + 1):
            for start in range(end - 1, -1, -1):
                width = (
                    starts[end] - starts[start] - pieces[end - 1].width + pieces[end - 1].trimmed
                )
                if width > max_width:
                    break
                previous = best[lines - 1][start][0]
                if previous == infinity:
                    continue
                cost = previous + _SLACK * ((max_width - width) / max_width) ** 2
                cost += pieces[end - 1].penalty if end < count else 0.0
                if end == count and lines > 1:
                    last = "".join(p.text for p in pieces[start:end])
                    above = best[lines - 1][start][1]
                    lonely = width < _LONELY * (
                        starts[start]
                        - starts[above]
                        - pieces[start - 1].width
                        + pieces[start - 1].trimmed
                    )
                    if _is_orphan(last):
                        cost += _ORPHAN
                    elif lonely and _is_lone_word(last):
                        cost += _LONE_WORD
                if cost < best[lines][end][0]:
                    best[lines][end] = (cost, start)
    found = {}
    for lines in range(1, max_lines + 1):
        cost, _ = best[lines][count]
        if cost == infinity:
            continue
        ends, end, row = [], count, lines
        while row:
            ends.append(end)
            end = best[row][end][1]
            row -= 1
        ends.reverse()
        last = "".join(piece.text for piece in pieces[(ends[-2] if lines > 1 else 0) :])
        defect = any(pieces[end - 1].penalty >= _GLUED for end in ends[:-1]) or (
            lines > 1 and _is_orphan(last)
        )
        found[lines] = (cost + _LINE * (lines - 1), ends, defect)
    return found


def _wrap(
    text: str, face: _Face, max_width: int, max_lines: int, *, strict: bool = False
) -> list[str] | None:
    """Balanced lines at the cheapest breaks; None when the text needs more than max_lines, or,
    if strict, when it would need a break inside a word, an orphan or a number without its unit."""
    options: list[tuple[float, list[str], bool]] = [(0.0, [], False)]  # by lines used so far
    for paragraph in _paragraphs(text):
        pieces = _pieces(paragraph, face, max_width)
        choices = _break_lines(pieces, max_width, max_lines)
        combined: dict[int, tuple[float, list[str], bool]] = {}
        for cost, lines, defective in options:
            for count, (extra, ends, defect) in choices.items():
                if strict and defect:
                    continue
                total = len(lines) + count
                if total > max_lines:
                    continue
                starts = [0, *ends[:-1]]
                new = [
                    "".join(piece.text for piece in pieces[start:end]).rstrip()
                    for start, end in zip(starts, ends, strict=True)
                ]
                candidate = (cost + extra, lines + new, defective or defect)
                if total not in combined or candidate[0] < combined[total][0]:
                    combined[total] = candidate
        options = list(combined.values())
        if not options:
            return None
    _, lines, _ = min(options, key=lambda option: option[0])
    # Widths were summed piece by piece; kerning across pieces can only have moved them a hair.
    return lines if all(face.width(line) <= max_width for line in lines) else None


@dataclass(frozen=True)
class Measured:
    block: TextBlock
    face: _Face
    lines: tuple[str, ...]
    widths: tuple[float, ...]
    line_metrics: tuple[tuple[int, int], ...]  # (ascent, descent) per line
    padding: tuple[int, int]  # around the text: stroke, or plate padding for the CTA
    stroke: int

    @property
    def size(self) -> tuple[int, int]:
        width = math.ceil(max(self.widths)) + 2 * self.padding[0]
        height = sum(a + d for a, d in self.line_metrics) + 2 * self.padding[1]
        return width, height


@lru_cache(maxsize=16384)  # the auto layout measures the same block in many columns and zones
def _measure(
    block: TextBlock, face: _Face, max_width: int, *, strict: bool = False, narrow: bool = False
) -> Measured | None:
    stroke = max(1, round(_STROKE * face.size))
    if block.role == "cta":
        padding = (round(_PLATE_PADDING[0] * face.size), round(_PLATE_PADDING[1] * face.size))
    else:
        outline = stroke + max(face.embolden(path) for path in face.chain)
        padding = (outline, outline)
    text_width = max_width - 2 * padding[0]
    # A button reads as one at a glance: strict layouts keep its label on one line.
    max_lines = 1 if strict and block.role == "cta" else _style(block.role).max_lines
    if narrow and block.role == "headline":
        max_lines += 1  # a narrow column beside the product may take one more line
    lines = _wrap(block.text, face, text_width, max_lines, strict=strict)
    if lines is None:
        return None
    widths = tuple(face.width(line) for line in lines)
    if max(widths) > text_width:
        return None
    metrics = tuple(face.metrics(line) for line in lines)
    return Measured(block, face, tuple(lines), widths, metrics, padding, stroke)


def _style(role: str) -> _Style:
    return _STYLES.get(role, _STYLES["offer"])


def _column(position: str, canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    """The (left, width, max height, margin) of the region the copy may use."""
    width, height = canvas
    margin = round(_MARGIN * min(canvas))
    horizontal = position.rsplit("-", 1)[-1] if "-" in position else "center"
    column = round((_WIDE_COLUMN if horizontal == "center" else _SIDE_COLUMN) * width)
    left = {"left": margin, "right": width - margin - column}.get(horizontal, (width - column) // 2)
    return left, column, round(_MAX_HEIGHT * height), margin


def prepare(blocks: Sequence[TextBlock], locale: str) -> list[TextBlock]:
    """The blocks with copy, in stacking order, after checking their colours and glyphs."""
    check_text_support()
    present = [block for block in blocks if block.text.strip()]
    chain = fonts_for_locale(locale)
    for block in present:
        contrasting_color(block.color)  # reject a bad colour before any layout work
        for paragraph in _paragraphs(block.text):
            _runs(paragraph, chain)  # fail early, naming the whole text
    return sorted(present, key=lambda b: _STACK_ORDER.get(b.role, _STACK_ORDER["offer"]))


def type_unit(canvas: tuple[int, int]) -> float:
    """The length type sizes are shares of: the side of a square of the canvas's area, so type
    takes the same share of every frame (a story's headline is not a third larger than the
    square's, a link ad's not a third smaller); on a banner wider than _BANNER:1 at least a
    share of its width, or the copy would be too small to read (728×90). A square canvas's
    unit is its side, as before."""
    return max(math.sqrt(canvas[0] * canvas[1]), canvas[0] / _BANNER)


def smallest_size(canvas: tuple[int, int]) -> int:
    """The least font size, in pixels, copy is set at on a canvas of that size (its format's
    minimum legible size)."""
    return max(_MIN_SIZE_PX, round(_MIN_SIZE * type_unit(canvas)))


def _sizes(blocks: Sequence[TextBlock], canvas: tuple[int, int], scale: float) -> list[int]:
    unit, smallest = type_unit(canvas), smallest_size(canvas)
    return [max(smallest, round(_style(b.role).size * unit * scale)) for b in blocks]


def measure_stack(
    blocks: Sequence[TextBlock],
    locale: str,
    canvas: tuple[int, int],
    scale: float,
    column: int,
    *,
    strict: bool,
    narrow: bool = False,
) -> list[Measured] | None:
    """Every block set at ``scale`` of its nominal size in a column that wide, or None."""
    chain = fonts_for_locale(locale)
    stack = []
    for block, size in zip(blocks, _sizes(blocks, canvas, scale), strict=True):
        face = _Face(chain, size, _style(block.role).weight, locale)
        measured = _measure(block, face, column, strict=strict, narrow=narrow)
        if measured is None:
            return None
        stack.append(measured)
    return stack


def _fit(
    blocks: Sequence[TextBlock], position: str, canvas: tuple[int, int], locale: str
) -> list[Measured]:
    _, column, max_height, _ = _column(position, canvas)
    smallest = _sizes(blocks, canvas, 0.0)
    # A smaller size with clean breaks first; a word broken in two only when nothing else fits.
    for strict in (True, False):
        scale = 1.0
        while True:
            stack = measure_stack(blocks, locale, canvas, scale, column, strict=strict)
            if stack is not None and stack_height(stack) <= max_height:
                return stack
            if _sizes(blocks, canvas, scale) == smallest:
                break
            scale *= _SHRINK
    texts = ", ".join(repr(b.text if len(b.text) <= 60 else b.text[:57] + "...") for b in blocks)
    raise TypesettingError(
        f"cannot fit {texts} into the {column}×{max_height} px box at {position} of a "
        f"{canvas[0]}×{canvas[1]} image, even at the smallest legible size "
        f"({min(smallest)} px); shorten the copy or use a *-center position, which is wider"
    )


def _gap(measured: Measured) -> int:
    return round(_GAP * measured.face.size)


def stack_size(stack: Sequence[Measured]) -> tuple[int, int]:
    """Width and height of the blocks stacked one above the other."""
    return max(m.size[0] for m in stack), stack_height(stack)


def stack_height(stack: Sequence[Measured]) -> int:
    return sum(m.size[1] for m in stack) + sum(_gap(m) for m in stack[1:])


@dataclass(frozen=True)
class Placed:
    measured: Measured
    box: tuple[int, int, int, int]
    origins: tuple[tuple[int, int], ...]  # (x, baseline) of each line

    def line_boxes(self) -> list[tuple[int, int, int, int]]:
        """Where each line's glyphs (with their outline) are, as (left, top, right, bottom)."""
        measured = self.measured
        pad = measured.padding[0] if measured.block.role != "cta" else measured.stroke
        return [
            (x - pad, baseline - ascent - pad, x + math.ceil(width) + pad, baseline + descent + pad)
            for (x, baseline), width, (ascent, descent) in zip(
                self.origins, measured.widths, measured.line_metrics, strict=True
            )
        ]


def place_stack(
    stack: Sequence[Measured], left: int, top: int, column: int, horizontal: str
) -> list[Placed]:
    """The stack with its top at ``top``, aligned left, right or centred in the column."""

    def align(space: float, width: float) -> int:
        return {"left": 0, "right": round(space - width)}.get(
            horizontal, round((space - width) / 2)
        )

    placed = []
    for index, measured in enumerate(stack):
        if index:
            top += _gap(measured)
        width, height = measured.size
        x = left + align(column, width)
        inner = width - 2 * measured.padding[0]
        baseline = top + measured.padding[1]
        origins = []
        for line_width, (ascent, descent) in zip(
            measured.widths, measured.line_metrics, strict=True
        ):
            origins.append((x + measured.padding[0] + align(inner, line_width), baseline + ascent))
            baseline += ascent + descent
        placed.append(Placed(measured, (x, top, x + width, top + height), tuple(origins)))
        top += height
    return placed


def check_position(position: str, canvas: tuple[int, int]) -> None:
    if position not in POSITIONS:
        raise TypesettingError(f"unknown position {position!r}; use one of {', '.join(POSITIONS)}")
    if min(canvas) <= 0:
        raise TypesettingError(f"cannot set copy on an empty {canvas[0]}×{canvas[1]} image")


def arrange(
    blocks: Sequence[TextBlock], position: str, canvas: tuple[int, int], locale: str
) -> list[Placed]:
    check_position(position, canvas)
    ordered = prepare(blocks, locale)
    if not ordered:
        return []
    stack = _fit(ordered, position, canvas, locale)
    left, column, _, margin = _column(position, canvas)
    vertical = position.split("-", 1)[0]
    total = stack_height(stack)
    top = {"top": margin, "bottom": canvas[1] - margin - total}.get(
        vertical, (canvas[1] - total) // 2
    )
    return place_stack(stack, left, top, column, position.rsplit("-", 1)[-1])


def public(placed: Sequence[Placed]) -> list[PlacedBlock]:
    return [
        PlacedBlock(
            role=p.measured.block.role,
            text=p.measured.block.text,
            lines=p.measured.lines,
            box=p.box,
            font_size=p.measured.face.size,
        )
        for p in placed
    ]


def layout(
    blocks: Sequence[TextBlock], position: str, canvas: tuple[int, int], locale: str
) -> list[PlacedBlock]:
    """Where each block of copy goes on a canvas of that size (the exact layout); draws nothing."""
    return public(arrange(blocks, position, canvas, locale))


def _draw_lines(draw: ImageDraw.ImageDraw, placed: Placed, fill: str, stroke: int) -> None:
    measured = placed.measured
    face = measured.face
    for line, (x, baseline) in zip(measured.lines, placed.origins, strict=True):
        pen = float(x)
        for run in _runs(line, face.chain):
            draw.text(
                (pen, baseline),
                run[1],
                font=face.font(run[0]),
                fill=fill,
                anchor="ls",
                direction="ltr",
                language=face.language,
                stroke_width=stroke + face.embolden(run[0]),
                stroke_fill=fill,
            )
            pen += face.length(run)


#: How a block of copy is made to stand out: "outline" (a stroke of the contrasting colour),
#: "plate" (a panel of the contrasting colour behind it), "shade" (set in a deeper shade of its
#: colour, the block's colour already) or "none" (the fill alone suffices).
Treatment = str
PLATE_OPACITY = 0.85


def plate_box(placed: Sequence[Placed], canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    """The panel behind these blocks: their boxes, padded by a share of the largest size."""
    size = max(p.measured.face.size for p in placed)
    across, down = round(0.35 * size), round(0.15 * size)
    return (
        max(0, min(p.box[0] for p in placed) - across),
        max(0, min(p.box[1] for p in placed) - down),
        min(canvas[0], max(p.box[2] for p in placed) + across),
        min(canvas[1], max(p.box[3] for p in placed) + down),
    )


def draw(
    image: Image.Image, placed: Sequence[Placed], treatments: Sequence[Treatment]
) -> Image.Image:
    """A new RGB image with the placed copy drawn, each block standing out as its treatment says."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    plated = [p for p, how in zip(placed, treatments, strict=True) if how == "plate"]
    if plated:
        backing = contrasting_color(plated[0].measured.block.color)
        box = plate_box(plated, image.size)
        radius = round(0.25 * min(p.measured.face.size for p in plated))
        alpha = round(255 * PLATE_OPACITY)
        pen.rounded_rectangle(box, radius=radius, fill=(*ImageColor.getrgb(backing)[:3], alpha))
    # Plates first, then every outline, then every fill: a later run's stroke must not bite into
    # the glyphs of the run before it.
    for p in placed:
        if p.measured.block.role == "cta":
            color = p.measured.block.color
            left, top, right, bottom = p.box
            pen.rounded_rectangle(
                (left, top, right - 1, bottom - 1),
                radius=(bottom - top) // 4,
                fill=color,
                outline=contrasting_color(color),
                width=p.measured.stroke,
            )
    for p, how in zip(placed, treatments, strict=True):
        if p.measured.block.role != "cta" and how == "outline":
            _draw_lines(pen, p, contrasting_color(p.measured.block.color), p.measured.stroke)
    for p in placed:
        color = p.measured.block.color
        fill = contrasting_color(color) if p.measured.block.role == "cta" else color
        _draw_lines(pen, p, fill, 0)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def compose(
    image: Image.Image, blocks: Sequence[TextBlock], position: str, locale: str
) -> tuple[Image.Image, list[PlacedBlock]]:
    """A new RGB image with the copy set exactly at ``position`` (outlined), and where it went."""
    placed = arrange(blocks, position, image.size, locale)
    return draw(image, placed, ["outline"] * len(placed)), public(placed)
