"""Text folded for matching: the skeleton the policy's phrases and every text are compared as.

1. ``normalize``: per character, NFKD (full-width and styled letters → ASCII, accents split off),
   casefold; format characters (category Cf: ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen) and
   Latin combining accents are dropped, but tag characters (invisible, yet a model may read them)
   become the ASCII they encode; blank-rendering letters (Hangul fillers) become spaces, and
   small capitals (ꜰ ᴀ ᴄ ᴇ) their letters; every letter Unicode's confusables table (UTS #39)
   pairs with one Latin letter (Cyrillic а е о р с, Greek ο ρ, Cherokee, Armenian …) becomes it.
   Whitespace becomes " ", sentence punctuation (. , ; : ! ? 。 、) "." and newlines "\\n", any
   other punctuation or symbol "-". Every step is per character, so the result is idempotent.
2. Punctuation *inside* a word is deleted ("f.a.c.e", "fa-ce", "person's" → "face", "persons");
   digits and @/$ inside a word with Latin letters read as letters ("f4ce", "n@ked").
3. Between words, a run holding sentence punctuation or a newline becomes a hard break "|" that no
   phrase crosses ("keep the face. Swap the shirt" is not "face swap"); any other run is one space.
4. Three or more one-letter words in a row are letter-spaced text and are joined into one word
   ("f a c e  s w a p", "删 除 人 脸", "ล บ ใ บ ห น้ า").
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from importlib.resources import files

# Lower-case letters that look like Latin *small capitals* or Latin letters in the fonts copy is
# set in, which Unicode's confusables table (UTS #39, below) leaves out: it pairs the capitals
# (Cyrillic В with B) but not their small forms (в). Only these scripts: the policy's languages are
# Latin-script, Thai and Chinese, and folding Cyrillic or Greek into Latin cannot make a Thai or
# Chinese phrase match.
_SMALL_FORMS = {
    "в": "b", "н": "h", "к": "k", "м": "m", "т": "t", "ӏ": "l",  # Cyrillic
    "β": "b", "ε": "e", "κ": "k", "τ": "t", "χ": "x", "ζ": "z",  # Greek
}  # fmt: skip


@cache
def _confusables() -> dict[str, str]:
    """Every character Unicode's confusables table (UTS #39, as the maintained
    ``confusable_homoglyphs`` package ships it) pairs with one ASCII letter: Cyrillic а, Greek ο,
    Cherokee Ꭺ, Armenian օ, the mathematical alphabets … (read once, on the first character that is
    not ASCII)."""
    data = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_bytes())
    table = dict(_SMALL_FORMS)
    for char, alikes in data.items():
        if len(char) != 1 or char.isascii():
            continue
        letters = {a["c"].lower() for a in alikes if len(a["c"]) == 1 and a["c"].isascii()}
        letters = {letter for letter in letters if letter.isalpha()}
        if len(letters) == 1:
            table[char] = letters.pop()
    return table


_NEWLINES = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_HARD_PUNCTUATION = frozenset(".,;:!?\u3001\u3002\uff61\uff64")  # full-width forms fold to ASCII
_KEPT_SYMBOLS = frozenset("@$")  # leetspeak letters, resolved in the skeleton
_LEET = str.maketrans("013457@$", "oieastas")
THAI_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
LATIN = "a-z0-9\u00c0-\u024f"
_CACHE_LIMIT = 65536  # distinct characters remembered by the fold table


def _is_latin_accent(char: str) -> bool:
    code = ord(char)
    return (
        0x0300 <= code <= 0x036F  # combining diacritical marks (incl. the grapheme joiner)
        or 0x1AB0 <= code <= 0x1AFF
        or 0x1DC0 <= code <= 0x1DFF
        or 0x20D0 <= code <= 0x20FF
        or 0xFE20 <= code <= 0xFE2F
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
    )


#: Letters that render as nothing (Hangul fillers, the Braille blank): read as a space, so
#: "face\u3164swap" is two words, as it looks.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_TAGS = range(0xE0020, 0xE007F)  # tag characters: invisible, but a model may read them as ASCII
_SMALL_CAPITAL = re.compile(
    r"LATIN (?:LETTER|SMALL LETTER|CAPITAL LETTER)? ?SMALL CAPITAL ([A-Z])$"
)


def _fold_char(char: str) -> str:
    code = ord(char)
    if code in _TAGS:  # invisible text hidden in the copy is read as what it spells
        return _fold_char(chr(code - 0xE0000))
    if char in _BLANK_LETTERS:
        return " "
    if unicodedata.category(char) == "Cf":
        return ""
    capital = _SMALL_CAPITAL.match(unicodedata.name(char, ""))
    if capital:  # "ꜰᴀᴄᴇ" is "face": NFKD leaves small capitals alone
        return capital[1].lower()
    if not char.isascii() and char in _confusables():  # before casefolding: В is B, not в
        return _confusables()[char]
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
    folded = []
    for part in decomposed:
        category = unicodedata.category(part)
        if part in _KEPT_SYMBOLS:
            folded.append(part)
        elif part in _NEWLINES:
            folded.append("\n")
        elif part.isspace() or category.startswith("Z"):
            folded.append(" ")
        elif part in _HARD_PUNCTUATION:
            folded.append(".")
        elif category == "Cf" or _is_latin_accent(part):
            continue
        elif category[0] in "PSC":
            folded.append("-")
        else:
            folded.append(_confusables().get(part, part) if not part.isascii() else part)
    return "".join(folded)


class _FoldTable(dict[int, str]):
    """``str.translate`` table that folds each character on first sight and remembers it."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = folded
        return folded


_FOLD = _FoldTable()


def normalize(text: str) -> str:
    """The matching key of a text (steps 1 above): folded letters and canonical separators."""
    # NFKD once more only reorders combining marks that came from neighbouring characters.
    return unicodedata.normalize("NFKD", text.translate(_FOLD))


_WORD = r"[^ \n.\-]"
# Every pattern below is tried at few positions and never backtracks over a run of unbounded
# length, so a skeleton costs time linear in its text (a 10 MB cell must not hang a run).
_JOINED = re.compile(rf"(?<={_WORD})[.\-]+(?={_WORD})")  # only a run's first position qualifies
_WORD_RUN = re.compile(rf"{_WORD}+")
_LEET_PAIR = re.compile(r"[a-z][0-9@$]|[0-9@$][a-z]")
_SEPARATORS = re.compile(r"[ \n.\-]+")
_GRAPHEME = re.compile(rf"[^ |][{THAI_MARKS}]*")


def _unleet(word: re.Match[str]) -> str:
    text = word.group()
    return text.translate(_LEET) if _LEET_PAIR.search(text) else text


def _break(separators: re.Match[str]) -> str:
    text = separators.group()
    return "|" if "\n" in text or "." in text else " "


def _join_letter_spaced(text: str) -> str:
    """Runs of three or more one-grapheme words ("f a c e") become one word ("face")."""
    sentences = []
    for sentence in text.split("|"):
        words = sentence.split(" ")
        out: list[str] = []
        run: list[str] = []
        for word in [*words, ""]:  # the empty word ends the last run
            if word and _GRAPHEME.fullmatch(word):
                run.append(word)
                continue
            if len(run) >= 3:
                out.append("".join(run))
            else:
                out.extend(run)
            run = []
            out.append(word)
        sentences.append(" ".join(out[:-1]))
    return "|".join(sentences)


def skeleton(text: str) -> str:
    """Words of the normalized text separated by " " or, across sentences, "|" (steps 2-4)."""
    joined = _JOINED.sub("", normalize(text))
    unleeted = _WORD_RUN.sub(_unleet, joined)
    return _join_letter_spaced(_SEPARATORS.sub(_break, unleeted))
