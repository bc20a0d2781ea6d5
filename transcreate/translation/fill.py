"""Which copy a run translates, and what it accepts back.

A copy cell (``headline``, ``cta``) a requested locale lacks is translated from the source column
(the bare one, or ``<field>:<source locale>``), once per distinct text and locale: from the
reviewer's approved translations first, then the translation memory, then the backend. What
comes back is refused when it is empty, in another script than the locale's, or the source
itself; refused twice, the variant's jobs in that locale fail with the reason (nothing else is
lost). A translation that dropped a glossary term is asked for once more, then kept and flagged.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Protocol

from transcreate.campaign import COPY_FIELDS, Campaign, Variant
from transcreate.errors import TranscreateError
from transcreate.glossary import Glossary
from transcreate.locales import base_language, language_name, script_of
from transcreate.translation.chat import Ask

logger = logging.getLogger(__name__)

MACHINE, APPROVED = "machine", "approved"
MAX_EXAMPLES = 20  # approved pairs sent with each ask (Qwen-MT's tm_list): the nearest wording
ASKS = 2  # a refused answer is asked for once more
#: Unicode character-name prefixes of the letters each script (ISO 15924) is written in.
_LETTERS = {
    "Latn": ("LATIN",), "Thai": ("THAI",), "Hans": ("CJK",), "Hant": ("CJK",),
    "Jpan": ("CJK", "HIRAGANA", "KATAKANA"), "Kore": ("HANGUL",), "Arab": ("ARABIC",),
    "Deva": ("DEVANAGARI",), "Khmr": ("KHMER",), "Laoo": ("LAO",), "Cyrl": ("CYRILLIC",),
    "Grek": ("GREEK",), "Hebr": ("HEBREW",), "Mymr": ("MYANMAR",), "Beng": ("BENGALI",),
    "Taml": ("TAMIL",),
}  # fmt: skip


class Translator(Protocol):
    identity: str

    def translate(self, ask: Ask) -> str: ...


class Memory(Protocol):
    def get(self, ask: Ask) -> str | None: ...

    def put(self, ask: Ask, translation: str) -> None: ...


@dataclass(frozen=True)
class Piece:
    """One cell of copy a run did not find in the sheet: a variant's field in one locale."""

    variant: str
    row: int
    field: str
    locale: str
    source: str  # the text it was translated from
    text: str
    origin: str  # MACHINE | APPROVED
    problem: str | None = None  # why a person must look at it although it is usable


@dataclass(frozen=True)
class Transcreation:
    campaign: Campaign  # with every translated cell filled in
    pieces: tuple[Piece, ...] = ()
    #: (variant, locale) → why its copy could not be translated: those jobs fail with it
    failed: Mapping[tuple[str, str], str] = field(default_factory=dict)
    calls: int = 0  # answers paid for in this run (neither approved nor remembered)


#: The reviewer's translations: (variant, field, locale) → (source text, translation).
Approved = Mapping[tuple[str, str, str], tuple[str, str]]
#: (variant, locale, headline) → (characters it may have, why), or None where it fits
Room = Callable[[Variant, str, str], tuple[int, str] | None]


def transcreate(
    campaign: Campaign,
    locales: Sequence[str],
    translate: Callable[[Ask], str] | None,
    *,
    source_locale: str,
    memory: Memory | None = None,
    glossary: Glossary | None = None,
    approved: Approved | None = None,
    workers: int = 4,
    room: Room | None = None,
) -> Transcreation:
    """The campaign with the copy each requested locale lacks translated from the source
    locale's own column (``headline:en``) or else the bare one (``headline``), which is written
    in ``source_locale``. Without ``translate`` only the reviewer's ``approved`` cells are
    filled in.

    ``room``: where the layout is known (the built-in editor), how many characters a translated
    headline may have to be set at a readable size in every size of the run (None: it fits),
    and why; a longer one is asked for again within that budget. Without it, a translation much
    wider than its source is (``budget_of``)."""
    approved = approved or {}
    needed = _needed(campaign.variants, locales, source_locale)
    examples = _examples(campaign.variants, approved, source_locale)
    answers: dict[tuple[str, str], tuple[str, str | None] | TranscreateError] = {}
    asks = {
        (text, locale): Ask(
            text, source_locale, locale, _terms(glossary, text, source_locale, locale),
            tuple(examples.get(locale, ())[:MAX_EXAMPLES]),
        )
        for variant, field_name, locale, text in needed
        if translate is not None
        and approved.get((variant.variant, field_name, locale), ("",))[0] != text
    }  # fmt: skip
    paid: list[Ask] = []  # appended from the pool's threads (list.append is atomic)

    def known_or_asked(ask: Ask) -> tuple[str, str | None]:
        remembered = memory.get(ask) if memory is not None else None
        if remembered is not None:
            return remembered, _lost_terms(remembered, ask)
        assert translate is not None  # no asks without it
        text, problem = _asked(translate, ask)
        paid.append(ask)
        if memory is not None:
            memory.put(ask, text)
        return text, problem

    def shortened(
        ask: Ask, text: str, problem: str | None, budget: int, why: str
    ) -> tuple[str, str | None]:
        """A version within ``budget`` characters, asked for before the layout shrinks the
        type; the longer one when none comes back shorter. The reason says so."""
        try:
            short, short_problem = known_or_asked(replace(ask, budget=budget))
        except TranscreateError:
            return text, problem  # the longer one is usable
        if len(short) >= len(text):
            return text, problem
        note = f"{why}, so a version of at most {budget} characters was asked for"
        return short, "; ".join(filter(None, (short_problem, note))) or None

    def answer(ask: Ask) -> tuple[str, str | None] | TranscreateError:
        try:
            text, problem = known_or_asked(ask)
        except TranscreateError as error:
            return error
        budget = budget_of(ask.text)
        if room is not None or width(text) <= budget:
            return text, problem  # the layout decides (below), or it is no wider than allowed
        why = (
            f"its {language_name(ask.target)} translation of {ask.text!r} was "
            f"{width(text) / max(1, width(ask.text)):.1f}× as wide as the source"
        )
        return shortened(ask, text, problem, budget // 2 if _wide(text) else budget, why)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="translate") as pool:
        for done, (pair, result) in enumerate(
            zip(asks, pool.map(answer, asks.values()), strict=True), 1
        ):
            answers[pair] = result
            if done % 20 == 0 or done == len(asks):
                logger.info("translated %d of %d pieces of copy", done, len(asks))
    if room is not None:  # a headline the layout would set below a readable size: shorter
        for variant, field_name, locale, text in needed:
            got = answers.get((text, locale))
            if field_name != "headline" or not isinstance(got, tuple):
                continue
            found = room(variant, locale, got[0])
            if found is not None and found[0] < len(got[0]):
                answers[text, locale] = shortened(asks[text, locale], *got, *found)
    return _filled(campaign, needed, answers, approved, len(paid))


def width(text: str) -> int:
    """Columns the text takes: a CJK character two, a combining mark none (Thai vowels above)."""
    return sum(
        0
        if unicodedata.category(c) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(c) in "WF"
        else 1
        for c in text
    )


def budget_of(source: str) -> int:
    """The widest a translation of ``source`` may be before it is asked for shorter: half as
    wide again as the copy the sheet's layout was made for, and a few columns of slack for short
    buttons ("Shop now" → "Belanja sekarang" fits)."""
    return math.ceil(width(source) * 1.5) + 4


def _wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


def _needed(
    variants: Sequence[Variant], locales: Sequence[str], source_locale: str
) -> list[tuple[Variant, str, str, str]]:
    """(variant, field, locale, source text) of every cell a requested locale lacks."""
    source_language = base_language(source_locale)
    needed = []
    for variant in variants:
        for locale in locales:
            if variant.locales is not None and locale not in variant.locales:
                continue
            if base_language(locale) == source_language:
                continue
            for field_name in COPY_FIELDS:
                cells = variant.copy.get(field_name, {})
                text = cells.get(source_locale) or cells.get("")
                if text and not cells.get(locale):
                    needed.append((variant, field_name, locale, text))
    return needed


def _examples(
    variants: Sequence[Variant], approved: Approved, source_locale: str
) -> dict[str, list[tuple[str, str]]]:
    """Per target locale, the campaign's pairs a person wrote or approved: the sheet's own
    locale columns beside their source, then the reviewer's translations."""
    pairs: dict[str, dict[str, str]] = {}
    for variant in variants:
        for field_name in COPY_FIELDS:
            cells = variant.copy.get(field_name, {})
            source = cells.get(source_locale) or cells.get("")
            for locale, text in cells.items():
                if source and locale and locale != source_locale and text:
                    pairs.setdefault(locale, {}).setdefault(source, text)
    for (_, _, locale), (source, text) in approved.items():
        pairs.setdefault(locale, {})[source] = text
    return {locale: sorted(found.items()) for locale, found in pairs.items()}


def _terms(
    glossary: Glossary | None, text: str, source: str, target: str
) -> tuple[tuple[str, str], ...]:
    if glossary is None:
        return ()
    return tuple(
        (term.form(source), term.form(target))
        for term in glossary.terms
        if term.form(source) in text
    )


def _asked(translate: Callable[[Ask], str], ask: Ask) -> tuple[str, str | None]:
    """An answer the checks accept (with a lost glossary term as its problem), or the error."""
    refusal, kept = "", None
    for _ in range(ASKS):
        text = translate(ask)
        refusal = _refused(text, ask)
        if refusal:
            continue
        lost = _lost_terms(text, ask)
        if lost is None:
            return text, None
        kept = text, lost
    if kept is not None:  # usable, flagged: a person decides whether the term may go
        return kept
    raise TranscreateError(
        f"the {language_name(ask.target)} translation of {ask.text!r} was refused twice: {refusal}"
    )


def _refused(text: str, ask: Ask) -> str:
    if not text.strip():
        return "the answer was empty"
    same = text.strip() == ask.text.strip()
    if same and base_language(ask.source) != base_language(ask.target) and any(_words(text, ask)):
        return "the answer was the source text, untranslated"
    expected = _LETTERS.get(script_of(ask.target))
    letters = [c for c in "".join(_words(text, ask)) if unicodedata.category(c).startswith("L")]
    if expected and letters:
        ours = sum(unicodedata.name(c, "").startswith(expected) for c in letters)
        if ours < len(letters) / 2:
            return f"the answer is not written in {language_name(ask.target)}'s script: {text!r}"
    return ""


def _words(text: str, ask: Ask) -> list[str]:
    """The text without the glossary's terms (a brand is written in its own script)."""
    for _, form in ask.terms:
        text = text.replace(form, " ")
    return text.split()


def _lost_terms(text: str, ask: Ask) -> str | None:
    lost = [form for _, form in ask.terms if form not in text]
    if not lost:
        return None
    names = ", ".join(repr(form) for form in lost)
    return f"the machine translation lost the glossary's {names}"


def _filled(
    campaign: Campaign,
    needed: Sequence[tuple[Variant, str, str, str]],
    answers: Mapping[tuple[str, str], tuple[str, str | None] | TranscreateError],
    approved: Approved,
    calls: int,
) -> Transcreation:
    pieces: list[Piece] = []
    failed: dict[tuple[str, str], str] = {}
    cells: dict[str, dict[str, dict[str, str]]] = {}
    for variant, field_name, locale, text in needed:
        mine = approved.get((variant.variant, field_name, locale))
        if mine is not None and mine[0] == text:
            piece = Piece(variant.variant, variant.row, field_name, locale, text, mine[1], APPROVED)
        else:
            result = answers.get((text, locale))
            if result is None:  # nothing to translate with: the cell stays as the sheet left it
                continue
            if isinstance(result, TranscreateError):
                failed.setdefault((variant.variant, locale), f"row {variant.row}: {result}")
                continue
            translated, problem = result
            piece = Piece(
                variant.variant, variant.row, field_name, locale, text, translated, MACHINE,
                problem,
            )  # fmt: skip
        pieces.append(piece)
        cells.setdefault(variant.variant, {}).setdefault(field_name, {})[locale] = piece.text
    by_variant = {(p.variant, p.field, p.locale): p for p in pieces}
    variants = []
    for variant in campaign.variants:
        own = cells.get(variant.variant)
        if own:
            copy = {
                name: {**variant.copy.get(name, {}), **own.get(name, {})} for name in COPY_FIELDS
            }
            origins = {
                f"{name}:{locale}": (piece.origin, piece.problem)
                for (name_variant, name, locale), piece in by_variant.items()
                if name_variant == variant.variant
            }
            variant = replace(variant, copy=copy, origins=origins)
        variants.append(variant)
    return Transcreation(replace(campaign, variants=tuple(variants)), tuple(pieces), failed, calls)
