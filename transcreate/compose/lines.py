"""Line breaking: where a line of copy may break (word boundaries in Thai and CJK, never inside a
number and the short words that qualify it), and the balanced breaks of a paragraph.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, pairwise

from icu4py.breakers import LineBreaker, WordBreaker

from transcreate.compose.fonts import Face, graphemes, is_mark
from transcreate.locales import base_language

_LOOSE_WHITESPACE = re.compile(r"[^\S\n\u00a0\u202f]+")


def _is_thai(char: str) -> bool:
    return "\u0e00" <= char <= "\u0e7f"


#: Words of Thai ad copy pythainlp's dictionary lacks, so it would break them: loanwords
#: (อีวอลเล็ต "e-wallet" became อี|วอ|ลเล็ต) and commerce compounds (เงินคืน "cashback",
#: สุดคุ้ม "great value", ออกใหม่ "new release").
THAI_COMMERCE_WORDS = (
    "อีวอลเล็ต", "วอลเล็ต", "เงินคืน", "สุดคุ้ม", "แฟลชเซลล์", "ส่งฟรี", "ฟรีค่าส่ง", "ลดราคา",
    "โปรโมชั่น", "โปรโมชัน", "คูปอง", "แคชแบ็ก", "แคชแบ็ค", "ช้อปเลย", "ซื้อเลย", "สินค้าใหม่",
    "ราคาพิเศษ", "ลดสูงสุด", "ลดกระหน่ำ", "สมาชิกใหม่", "โค้ดส่วนลด", "เก็บโค้ด", "ออกใหม่",
    "สุดพิเศษ", "คอลเลกชัน", "คอลเลคชั่น", "ช้อปปิ้ง", "ออนไลน์", "พรีออเดอร์", "เซ็ตสุดคุ้ม",
)  # fmt: skip


@lru_cache(maxsize=1)
def _thai_tokenizer() -> Callable[[str], list[str]]:
    # Imported and warmed up once: the first call loads pythainlp's dictionary trie.
    from pythainlp.corpus.common import thai_words
    from pythainlp.tokenize import word_tokenize
    from pythainlp.util import Trie

    words = Trie([*thai_words(), *THAI_COMMERCE_WORDS])

    def tokenize(text: str) -> list[str]:
        return list(word_tokenize(text, custom_dict=words, engine="newmm", keep_whitespace=True))

    tokenize("ภาษาไทย")
    return tokenize


def _is_hangul(char: str) -> bool:
    return (
        "\uac00" <= char <= "\ud7a3" or "\u1100" <= char <= "\u11ff" or "\u3130" <= char <= "\u318f"
    )


@lru_cache(maxsize=1)
def _japanese_phrases() -> Callable[[str], list[str]]:
    import budoux  # only Japanese copy pays for the model

    return budoux.load_default_japanese_parser().parse


@lru_cache(maxsize=4096)
def _units(text: str, locale: str) -> tuple[str, ...]:
    """UAX #14's break opportunities (ICU: Khmer, Lao and Burmese by its dictionaries), with
    each language's own rules where UAX #14 breaks too often: between two Thai letters only
    where pythainlp ends a word; in Japanese only between BudouX phrases (no "のタイム|セール",
    no break before a small kana or ー); in Korean only at spaces, between eojeol."""
    icu_units = list(LineBreaker(text, locale))
    language = locale.split("-")[0].split("_")[0].lower()
    thai = any(_is_thai(char) for char in text)
    japanese = language == "ja"
    korean = any(_is_hangul(char) for char in text)
    if not (thai or japanese or korean):
        return tuple(icu_units)
    icu_breaks = set(accumulate(len(unit) for unit in icu_units))
    thai_breaks = (
        set(accumulate(len(token) for token in _thai_tokenizer()(text))) if thai else set()
    )
    # BudouX's phrases first; within a phrase too long for the line, ICU's dictionary words.
    phrase_breaks = (
        set(accumulate(len(phrase) for phrase in _japanese_phrases()(text)))
        | set(accumulate(len(word) for word in WordBreaker(text, locale)))
        if japanese
        else set()
    )

    def allowed(index: int) -> bool:
        before, after = text[index - 1], text[index]
        if is_mark(after):
            return False
        if _is_thai(before) and _is_thai(after):
            return index in thai_breaks  # UAX #14 decides everywhere else: "50%" stays whole
        if index not in icu_breaks:
            return False
        if japanese and not before.isspace() and not after.isspace():
            return index in phrase_breaks
        if korean and (_is_hangul(before) or _is_hangul(after)):
            return before.isspace() or before in _BREAK_AFTER
        return True

    edges = [0, *(index for index in range(1, len(text)) if allowed(index)), len(text)]
    return tuple(text[start:end] for start, end in pairwise(edges))


def line_units(text: str, locale: str) -> list[str]:
    """Split text at its line-break opportunities; the pieces concatenate back to the text."""
    return list(_units(text, locale))


def paragraphs(text: str) -> list[str]:
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
_INSIDE_PHRASE = 200.0  # between two words of one Japanese phrase (BudouX) too long for a line
_INSIDE_WORD = 100_000.0  # only when nothing else fits
_ORPHAN = 20_000.0  # a lone numeral, one-letter word or single CJK character on a last line
_LONE_WORD = 30.0  # a last line of one short word under a long line ("Beli 2 Lebih|Hemat")
_LONELY = 2 / 3  # "short": narrower than this share of the line above
_TOWER = 3  # lines of one word each that make a tower ("Year- / End / Mega / Sale")
_LINE = 1_000.0  # each line after the first: fewer lines win over balance
_SLACK = 100.0  # a line's cost at zero width; (slack / width)² of it
_BREAK_AFTER = frozenset("，、。！？；：,.;:!?)）」』】〉》")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*%?$")
# "12.99", and "بـ‏12.99" ("for 12.99"): a word that ends in a number, which its unit follows
_ENDS_IN_NUMBER = re.compile(r"\d(?:[.,]\d+)*%?$")
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
    language = locale.split("-")[0].split("_")[0].lower()
    if language == "ja":
        words = _japanese_phrases()(text)  # a phrase is what a Japanese reader keeps together
    elif language == "zh":
        import rjieba  # only Chinese copy pays for the dictionary

        cut = rjieba.cut(text)
        words = cut if "".join(cut) == text else words
    return tuple(pairwise([0, *accumulate(len(word) for word in words)]))


def _kana(char: str) -> bool:
    """Hiragana: a particle or an ending, which reads with the word before it (no "…ン|が")."""
    return "\u3040" <= char <= "\u309f"


def _at_word_end(text: str, cut: int, locale: str) -> bool:
    return cut in set(accumulate(len(word) for word in WordBreaker(text, locale)))


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
        _ENDS_IN_NUMBER.search(previous_word)
        and spaced
        and (len(unit) <= _UNIT_LENGTH or _is_currency(unit))
    ):
        return _GLUED  # "50 บาท", "2 ชิ้น", "12 Des", "3 kg", "20 USD"
    if _is_currency(previous_word) and spaced and next_word[:1].isdigit():
        return _GLUED  # "Rp 199.000", "USD 12"
    if spaced and _qualifies(previous_word) and _counted(after.split(" ", 2)):
        return _GLUED  # "up to 50%", "hingga 50%", "Beli 2", "only $12"
    if last == "-" and not spaced and before[-2:-1].isalnum() and first.isalnum():
        return _GLUED  # "Year-|End", "e-|wallet": a hyphenated word reads as one
    if last in _BREAK_AFTER:
        return _PREFERRED
    if last.isdigit() and _is_cjk(first):
        return _GLUED  # "12|日", "2026|年", "50|件": a number and its counter or date part
    if _is_cjk(last) or _is_cjk(first):
        spans = _word_spans(text, locale)
        word = next((span for span in spans if span[0] < cut < span[1]), None)
        if word is not None:
            if (
                base_language(locale) == "ja"
                and _at_word_end(text, cut, locale)
                and not _kana(first)
            ):
                return _INSIDE_PHRASE  # "タイムセール|開催中": a long phrase, between its words
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


def _kept_whole(units: Sequence[str], paragraph: str, keep: Sequence[str]) -> list[str]:
    """The units with no break inside a kept term: units a term spans are joined."""
    inside: set[int] = set()
    for term in keep:
        start = paragraph.find(term)
        while start >= 0 and term:
            inside.update(range(start + 1, start + len(term)))
            start = paragraph.find(term, start + 1)
    joined: list[str] = []
    offset = 0
    for unit in units:
        if joined and offset in inside:
            joined[-1] += unit
        else:
            joined.append(unit)
        offset += len(unit)
    return joined


def _pieces(paragraph: str, face: Face, max_width: float, keep: Sequence[str] = ()) -> list[_Piece]:
    pieces: list[_Piece] = []
    offset = 0
    units = _units(paragraph, face.language)
    for unit in _kept_whole(units, paragraph, keep) if keep else units:
        # A word wider than the box may break between grapheme clusters, at a price.
        parts = [unit] if face.width(unit.rstrip()) <= max_width else graphemes(unit)
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
    include a defect: a break inside a word or before an orphan, a number parted from its unit,
    a tower of one-word lines)."""
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
        texts = [
            "".join(piece.text for piece in pieces[start:end])
            for start, end in zip([0, *ends[:-1]], ends, strict=True)
        ]
        defect = (
            any(pieces[end - 1].penalty >= _GLUED for end in ends[:-1])
            or (lines > 1 and _is_orphan(last))
            or (lines >= _TOWER and all(_is_lone_word(text) for text in texts))
        )
        found[lines] = (cost + _LINE * (lines - 1), ends, defect)
    return found


def wrap(
    text: str,
    face: Face,
    max_width: int,
    max_lines: int,
    *,
    strict: bool = False,
    keep: Sequence[str] = (),
) -> list[str] | None:
    """Balanced lines at the cheapest breaks; None when the text needs more than max_lines, or,
    if strict, when it would need a break inside a word, an orphan or a number without its unit.
    ``keep``: terms (a glossary's) never broken, but as a word wider than the line is."""
    options: list[tuple[float, list[str], bool]] = [(0.0, [], False)]  # by lines used so far
    for paragraph in paragraphs(text):
        pieces = _pieces(paragraph, face, max_width, keep)
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
