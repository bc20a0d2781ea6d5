"""Font files per script and language, what each one can draw, and the runs of one font a line is
drawn in, in visual order.

Pillow shapes one font per call and has no glyph fallback, so every line is split into runs by font
coverage and the runs are drawn one after another on a shared baseline. A right-to-left line is
first split into its directional runs (the Unicode bidirectional algorithm, by FriBidi, the library
Pillow's raqm itself shapes with), laid out in visual order, each shaped in its own direction.

The fonts come from packages so that every machine renders the same pixels: pip packages where the
script has one (Noto Sans for Latin, Cyrillic, Greek and Vietnamese; Noto Sans Thai, Arabic,
Devanagari, Khmer; Noto Sans SC), and Debian's for the rest: fonts-noto-cjk (Japanese, Korean and
Traditional Chinese, one face of the collection per language, so Japanese never takes Chinese glyph
forms) and fonts-noto-core (Hebrew, Lao). ``scripts/install`` installs both.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import importlib.resources
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont
from icu4py.breakers import CharacterBreaker
from PIL import ImageFont, features

from transcreate.errors import MissingGlyphError, SetupError
from transcreate.locales import is_right_to_left, script_of

LATIN = "latin"
THAI = "thai"
CHINESE = "chinese"  # Simplified
JAPANESE = "japanese"
KOREAN = "korean"
TRADITIONAL = "traditional"  # Taiwan's forms
HONG_KONG = "hong-kong"  # Traditional, Hong Kong's forms
ARABIC = "arabic"
DEVANAGARI = "devanagari"
KHMER = "khmer"
HEBREW = "hebrew"
LAO = "lao"


@dataclass(frozen=True)
class FontFile:
    """One face: its file, its index in a collection (.ttc), and a bold file where the family
    ships its weights as separate files rather than as a variable font."""

    path: Path
    index: int = 0
    bold: Path | None = None

    @property
    def name(self) -> str:
        return self.named(self.path)

    def file_for(self, weight: str | None) -> Path:
        """The file a weight is drawn from: the bold file for Bold and SemiBold, if any."""
        return self.bold if weight in _SYNTHETIC_BOLD and self.bold is not None else self.path

    def named(self, path: Path) -> str:
        """A file's name, with the face's index in a collection: ``NotoSansCJK-Bold.ttc#0``."""
        return f"{path.name}#{self.index}" if path.suffix.lower() == ".ttc" else path.name


@dataclass(frozen=True)
class _Source:
    """Where a family's font comes from: a pip package (module, file) or a Debian package
    (directory, regular file, bold file, face name in a collection)."""

    package: str  # what to install, as the error says it
    module: str = ""
    file: str = ""
    directory: str = ""
    bold: str = ""
    face: str = ""  # the face's family name in a collection

    @property
    def install(self) -> str:
        if self.module:
            return f"`pip install {self.package}`"
        return f"`apt-get install {self.package}` (./scripts/install does)"


_CJK = "/usr/share/fonts/opentype/noto"
_NOTO = "/usr/share/fonts/truetype/noto"
_SOURCES: dict[str, _Source] = {
    LATIN: _Source("fontpkg-noto-sans", "fontpkg_noto_sans", "NotoSans[wdth,wght].ttf"),
    THAI: _Source(
        "fontpkg-noto-sans-thai", "fontpkg_noto_sans_thai", "NotoSansThai[wdth,wght].ttf"
    ),
    CHINESE: _Source("pylopdf-fonts-zh-cn", "pylopdf_fonts_zh_cn"),
    ARABIC: _Source(
        "fontpkg-noto-sans-arabic", "fontpkg_noto_sans_arabic", "NotoSansArabic[wdth,wght].ttf"
    ),
    DEVANAGARI: _Source(
        "fontpkg-noto-sans-devanagari",
        "fontpkg_noto_sans_devanagari",
        "NotoSansDevanagari[wdth,wght].ttf",
    ),
    KHMER: _Source(
        "fontpkg-noto-sans-khmer", "fontpkg_noto_sans_khmer", "NotoSansKhmer[wdth,wght].ttf"
    ),
    JAPANESE: _Source("fonts-noto-cjk", directory=_CJK, file="NotoSansCJK-Regular.ttc",
                      bold="NotoSansCJK-Bold.ttc", face="Noto Sans CJK JP"),
    KOREAN: _Source("fonts-noto-cjk", directory=_CJK, file="NotoSansCJK-Regular.ttc",
                    bold="NotoSansCJK-Bold.ttc", face="Noto Sans CJK KR"),
    TRADITIONAL: _Source("fonts-noto-cjk", directory=_CJK, file="NotoSansCJK-Regular.ttc",
                         bold="NotoSansCJK-Bold.ttc", face="Noto Sans CJK TC"),
    HONG_KONG: _Source("fonts-noto-cjk", directory=_CJK, file="NotoSansCJK-Regular.ttc",
                       bold="NotoSansCJK-Bold.ttc", face="Noto Sans CJK HK"),
    HEBREW: _Source("fonts-noto-core", directory=_NOTO, file="NotoSansHebrew-Regular.ttf",
                    bold="NotoSansHebrew-Bold.ttf"),
    LAO: _Source("fonts-noto-core", directory=_NOTO, file="NotoSansLao-Regular.ttf",
                 bold="NotoSansLao-Bold.ttf"),
}  # fmt: skip

# ISO 15924 script → the family that sets it (any other script: LATIN, which has Cyrillic, Greek).
_FAMILY_OF_SCRIPT = {
    "Thai": THAI,
    "Hans": CHINESE,
    "Hani": CHINESE,
    "Hant": TRADITIONAL,
    "Jpan": JAPANESE,
    "Hira": JAPANESE,
    "Kana": JAPANESE,
    "Kore": KOREAN,
    "Hang": KOREAN,
    "Arab": ARABIC,
    "Deva": DEVANAGARI,
    "Khmr": KHMER,
    "Hebr": HEBREW,
    "Laoo": LAO,
}
# After the locale's own family: Latin for brand names, then the families that cover what a
# Latin-script line borrows most (Chinese, Thai), as before.
_FALLBACK: dict[str, tuple[str, ...]] = {
    LATIN: (CHINESE, THAI),
    THAI: (LATIN, CHINESE),
    CHINESE: (LATIN,),
}


def _collection_index(path: Path, face: str) -> int:
    collection = TTCollection(str(path), lazy=True)
    try:
        for index, font in enumerate(collection.fonts):
            if font["name"].getDebugName(1) == face:
                return index
    finally:
        collection.close()
    raise SetupError(f"{path} has no face {face!r}: reinstall its package")


def _locate(family: str) -> FontFile:
    source = _SOURCES[family]
    missing = SetupError(f"the {family} font is missing: install it with {source.install}")
    if source.module:
        try:
            if family == CHINESE:
                return FontFile(Path(importlib.import_module(source.module).sans_path()))
            found = importlib.resources.files(source.module) / "files" / source.file
        except ModuleNotFoundError as error:
            raise missing from error
        return FontFile(Path(str(found)))
    path = Path(source.directory) / source.file
    if not path.is_file():
        raise missing
    bold = Path(source.directory) / source.bold if source.bold else None
    index = _collection_index(path, source.face) if source.face else 0
    return FontFile(path, index, bold if bold is not None and bold.is_file() else None)


@cache
def font_path(family: str) -> FontFile:
    """The face of one family (LATIN, THAI, CHINESE, JAPANESE …); SetupError names its package."""
    return _locate(family)


def family_for_locale(locale: str) -> str:
    """The family a locale's copy is set in, by its script and, for Chinese, its region: zh-TW
    takes Taiwan's Traditional forms, zh-HK Hong Kong's, ja Japanese and ko Korean forms."""
    script = script_of(locale)
    family = _FAMILY_OF_SCRIPT.get(script, LATIN)
    region = locale.replace("_", "-").upper().split("-")[1:]
    if family == TRADITIONAL and ("HK" in region or "MO" in region):
        return HONG_KONG
    return family


def package_for_locale(locale: str) -> str:
    """What provides a locale's font (for the README and errors)."""
    return _SOURCES[family_for_locale(locale)].package


@cache
def _chain(family: str) -> tuple[FontFile, ...]:
    return tuple(font_path(name) for name in (family, *_FALLBACK.get(family, (LATIN,))))


def fonts_for_locale(locale: str) -> tuple[FontFile, ...]:
    """The ordered fallback chain of faces for a locale."""
    return _chain(family_for_locale(locale))


def require_fonts(locales: Iterable[str]) -> None:
    """Raise SetupError now, naming the package, if a locale's font is not installed."""
    for locale in locales:
        fonts_for_locale(locale)


@cache
def codepoints(font: FontFile) -> frozenset[int]:
    """Every code point the face maps to a glyph."""
    with TTFont(font.path, lazy=True, fontNumber=font.index) as opened:
        return frozenset(opened.getBestCmap())


@cache
def is_variable(font: FontFile) -> bool:
    """Whether the face has variation axes (weights are then instances, not files)."""
    with TTFont(font.path, lazy=True, fontNumber=font.index) as opened:
        return "fvar" in opened


def check_text_support() -> None:
    """Raise SetupError unless complex-text layout (raqm) and the built-in fonts are available."""
    if not features.check("raqm"):
        raise SetupError(
            "Pillow cannot shape complex text: libraqm needs FriBiDi. Install libfribidi0 "
            "(e.g. `apt-get install libfribidi0`); without it Pillow silently falls back to "
            "basic layout and Thai vowel and tone marks no longer stack"
        )
    for family in (LATIN, THAI, CHINESE):
        font = font_path(family)
        if not font.path.is_file():
            raise SetupError(
                f"the {family} font {font.path} is missing: reinstall it with "
                f"`pip install --force-reinstall {_SOURCES[family].package}`"
            )


_SYNTHETIC_BOLD = {"Bold": 0.03, "SemiBold": 0.015}  # of the font size

Run = tuple[FontFile, str]  # a face and the text it draws, in logical order
Drawn = tuple[FontFile, str, str]  # ... and its direction ("ltr" | "rtl"), in visual order


def _covers(font: FontFile, cluster: str) -> bool:
    available = codepoints(font)
    return all(ord(char) in available or ord(char) in IGNORABLE for char in cluster)


def _missing_glyph(text: str, cluster: str, chain: tuple[FontFile, ...]) -> MissingGlyphError:
    fonts = ", ".join(font.name for font in chain)
    absent = [char for char in cluster if not any(_covers(font, char) for font in chain)]
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
def runs(text: str, chain: tuple[FontFile, ...]) -> tuple[Run, ...]:
    runs: list[Run] = []
    for cluster in graphemes(text):
        current = runs[-1][0] if runs else None
        # Whitespace and stray marks stay with the run they follow, so a script change costs no
        # extra run and a mark is never drawn apart from its base.
        joins = cluster.isspace() or is_mark(cluster[0])
        if current is not None and joins and _covers(current, cluster):
            font = current
        else:
            found = next((font for font in chain if _covers(font, cluster)), None)
            if found is None:
                raise _missing_glyph(text, cluster, chain)
            font = found
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + cluster)
        else:
            runs.append((font, cluster))
    return tuple(runs)


def font_runs(text: str, locale: str) -> list[Run]:
    """Split text into (face, text) runs, each character in the first face that has it."""
    return list(runs(text, fonts_for_locale(locale)))


# --- bidirectional text --------------------------------------------------------------------------

_RIGHT_TO_LEFT_TYPES = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI"})
_PARAGRAPH = {False: 0x110, True: 0x111}  # FRIBIDI_PAR_LTR, FRIBIDI_PAR_RTL


@cache
def _fribidi() -> ctypes.CDLL:
    try:
        library = ctypes.CDLL(ctypes.util.find_library("fribidi") or "libfribidi.so.0")
    except OSError as error:
        raise SetupError(
            "right-to-left copy needs FriBiDi: install libfribidi0 (./scripts/install does)"
        ) from error
    u32 = ctypes.POINTER(ctypes.c_uint32)
    library.fribidi_get_bidi_types.argtypes = [u32, ctypes.c_int, u32]
    library.fribidi_get_bracket_types.argtypes = [u32, ctypes.c_int, u32, u32]
    library.fribidi_get_par_embedding_levels_ex.argtypes = [
        u32, u32, ctypes.c_int, u32, ctypes.POINTER(ctypes.c_int8)
    ]  # fmt: skip
    library.fribidi_get_par_embedding_levels_ex.restype = ctypes.c_int8
    return library


@lru_cache(maxsize=8192)
def bidi_levels(text: str, right_to_left: bool) -> tuple[int, ...]:
    """Each character's embedding level (UAX #9) in a paragraph of that base direction: even
    levels run left to right, odd ones right to left."""
    if not right_to_left and not any(
        unicodedata.bidirectional(char) in _RIGHT_TO_LEFT_TYPES for char in text
    ):
        return (0,) * len(text)
    library, length = _fribidi(), len(text)
    chars = (ctypes.c_uint32 * length)(*map(ord, text))
    types = (ctypes.c_uint32 * length)()
    brackets = (ctypes.c_uint32 * length)()
    levels = (ctypes.c_int8 * length)()
    base = ctypes.c_uint32(_PARAGRAPH[right_to_left])
    library.fribidi_get_bidi_types(chars, length, types)
    library.fribidi_get_bracket_types(chars, length, types, brackets)
    if not library.fribidi_get_par_embedding_levels_ex(
        types, brackets, length, ctypes.byref(base), levels
    ):
        raise SetupError("FriBiDi could not resolve the text's directions")
    return tuple(levels)


def _visual_order(levels: list[int]) -> list[int]:
    """Indices in display order (UAX #9 rule L2): from the highest level down to the lowest odd
    one, every maximal sequence at that level or above is reversed."""
    order = list(range(len(levels)))
    if not levels:
        return order
    odd = [level for level in levels if level % 2]
    lowest_odd = min(odd) if odd else 1
    for level in range(max(levels), lowest_odd - 1, -1):
        index = 0
        while index < len(order):
            if levels[order[index]] >= level:
                end = index
                while end < len(order) and levels[order[end]] >= level:
                    end += 1
                order[index:end] = reversed(order[index:end])
                index = end
            else:
                index += 1
    return order


@lru_cache(maxsize=8192)
def visual_runs(text: str, chain: tuple[FontFile, ...], right_to_left: bool) -> tuple[Drawn, ...]:
    """The runs of one line as they are drawn from left to right: its directional runs in visual
    order, each split by face and shaped in its own direction."""
    levels = bidi_levels(text, right_to_left)
    if not any(levels):
        return tuple((font, part, "ltr") for font, part in runs(text, chain))
    segments: list[tuple[int, str]] = []  # (level, text): a grapheme takes its first's level
    offset = 0
    for cluster in graphemes(text):
        level = levels[offset]
        offset += len(cluster)
        if segments and segments[-1][0] == level:
            segments[-1] = (level, segments[-1][1] + cluster)
        else:
            segments.append((level, cluster))
    drawn: list[Drawn] = []
    for index in _visual_order([level for level, _ in segments]):
        level, segment = segments[index]
        direction = "rtl" if level % 2 else "ltr"
        pieces = runs(segment, chain)
        for font, part in reversed(pieces) if level % 2 else pieces:
            drawn.append((font, part, direction))
    return tuple(drawn)


# --- faces ---------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _font(font: FontFile, size: int, weight: str | None) -> ImageFont.FreeTypeFont:
    # One object per variation: set_variation_* mutates the face, so a cached font is never touched
    # again once other threads can see it.
    loaded = ImageFont.truetype(
        str(font.file_for(weight)), size, index=font.index, layout_engine=ImageFont.Layout.RAQM
    )
    if weight is not None and is_variable(font):
        loaded.set_variation_by_name(weight)
    return loaded


@lru_cache(maxsize=65536)
def _width(face: Face, text: str) -> float:
    return sum(face.length(run) for run in face.runs(text))


@dataclass(frozen=True)
class Face:
    chain: tuple[FontFile, ...]
    size: int
    weight: str | None
    language: str

    @property
    def right_to_left(self) -> bool:
        return is_right_to_left(self.language)

    def font(self, font: FontFile) -> ImageFont.FreeTypeFont:
        return _font(font, self.size, self.weight)

    def runs(self, line: str) -> tuple[Drawn, ...]:
        """The line's runs as drawn, left to right."""
        return visual_runs(line, self.chain, self.right_to_left)

    def length(self, run: Drawn) -> float:
        return self.font(run[0]).getlength(run[1], direction=run[2], language=self.language)

    def width(self, text: str) -> float:
        return _width(self, text)

    def embolden(self, font: FontFile) -> int:
        # A face with one weight only (Noto Sans SC) is thickened by a stroke in its own colour.
        if self.weight is None or is_variable(font) or font.bold is not None:
            return 0
        return round(_SYNTHETIC_BOLD.get(self.weight, 0.0) * self.size)

    def metrics(self, text: str) -> tuple[int, int]:
        """The line's ascent and descent: its faces' own, widened to its ink (Khmer subscripts
        hang below Noto Sans Khmer's descent), the Latin face's for a face whose own are cut
        for stacked marks a line of copy never has (Noto Sans Arabic's are half as tall again)."""
        return _metrics(self, text)


@lru_cache(maxsize=65536)  # a line is measured again in every column and size it is tried in
def _metrics(face: Face, text: str) -> tuple[int, int]:
    pieces = runs(text, face.chain) or ((face.chain[0], ""),)
    ascents, descents = [], []
    for font, part in pieces:
        loaded = face.font(font)
        reference = face.font(font_path(LATIN)) if font.path in _tall_metrics() else loaded
        ascent, descent = reference.getmetrics()
        if part.strip():
            _, top, _, bottom = loaded.getbbox(part, anchor="ls", language=face.language)
            ascent, descent = max(ascent, math.ceil(-top)), max(descent, math.ceil(bottom))
        ascents.append(ascent)
        descents.append(descent)
    return max(ascents), max(descents)


@cache
def _tall_metrics() -> frozenset[Path]:
    return frozenset({font_path(ARABIC).path})


# HarfBuzz hides these even when the font has no glyph for them, so they need no coverage.
IGNORABLE = frozenset(
    {
        0x061C,
        0x200B,
        0x200C,
        0x200D,
        0x200E,
        0x200F,
        0x2060,
        *range(0x2066, 0x206A),
        0xFEFF,
        *range(0xFE00, 0xFE10),
    }
)


def is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def graphemes(text: str) -> list[str]:
    return list(CharacterBreaker(text, "und"))
