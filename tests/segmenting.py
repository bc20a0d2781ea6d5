"""Where lines split a text, and where a segmenter that does not decide our breaks ends a word:
the yardstick the line-breaking tests hold each language to."""

from __future__ import annotations

from icu4py.breakers import WordBreaker


def cuts(text: str, lines: list[str]) -> list[int]:
    """Where the lines split the text (offsets into it)."""
    found, offset = [], 0
    for line in lines[:-1]:
        offset = text.index(line, offset) + len(line)
        found.append(offset)
    return found


def word_ends(text: str, locale: str) -> set[int]:
    """Where an independent segmenter ends a word: ICU's dictionary for Japanese and Chinese
    (BudouX and jieba decide ours), khmer-nltk for Khmer (ICU decides ours), spaces elsewhere."""
    if locale == "km":
        from khmernltk import word_tokenize

        words = word_tokenize(text)
    elif locale.split("-")[0] in ("ja", "zh"):
        words = list(WordBreaker(text, locale))
    else:
        words = text.replace(" ", " \0").split("\0")
    offsets, offset = {0}, 0
    for word in words:
        offset += len(word)
        offsets.add(offset)
    return offsets


def at_word_end(text: str, cut: int, ends: set[int]) -> bool:
    """A cut at a word's end, or at the space after it."""
    return cut in ends or (text[cut : cut + 1].isspace() and cut + 1 in ends)
