"""Instruction policy: refuse edits a trust & safety reviewer would refuse, before any model call.

The rules live in a versioned TOML file (``policies/default.toml``; any other file can be passed).
Each rule has an ``id``, a ``description`` and phrases per language; every phrase applies to every
text, whatever its language, because ad copy mixes scripts. ``Policy.check`` is applied to the
rendered instruction *and* to the spreadsheet copy (which is untrusted and lands in the
instruction).

Phrase syntax (kept small so reviewers can write it):
    words are separated by spaces; ``a/b/c`` lists alternatives for one word; a word ending in
    ``?`` may be left out (never the first or last word); ``*`` at the start or end of a word
    stands for any letters (``swap*`` → swap, swaps, swapping). ``face swap`` also matches
    "faceswap" and "face-swap": words of a phrase may be written together.

Matching works on a *skeleton* of the text, built the same way for texts and for phrases (see
`transcreate.folding`: confusables and styled letters folded, punctuation inside words removed,
hard breaks between sentences, letter-spaced words joined).

A Latin phrase then matches whole words only: the phrase may not start or end inside a word, so
"surface wapping" never matches "face swap" (a CJK/Thai neighbour is a boundary, so "ทำfaceswapให้"
does). Chinese and Thai are written without spaces between words, so their phrases match anywhere
(inside the text's words); Chinese phrases also skip spaces between their characters. Thai phrases
do not: Thai puts spaces between clauses, and "ไม่ปลอม เอกสารครบ" ("not fake, papers complete") must
not read as "ปลอมเอกสาร" (forge documents). A rule's ``allow`` phrases are masked out before its
phrases are matched ("remove the face mask" is a skincare step, not a face removal).

Everything is compiled once in ``load_policy``: per rule, one regex for the phrases that start
with a Latin word (tried only at word starts) and one for the rest, each behind a look-ahead on
the phrases' first characters, so ``check`` costs about 150 µs for a job of four texts. Finding
which phrase matched, and quoting the text around it, happens only for a blocked job.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from transcreate.errors import SetupError
from transcreate.folding import LATIN, skeleton
from transcreate.jobs import EditJob
from transcreate.resources import data_dir
from transcreate.sheets import bidi_control

DEFAULT_POLICY = "default.toml"
# The same letters as word edges, each a pair of look-arounds: one class of three ranges compiles
# to a 64K-entry table (re's "big charset"), and a policy has hundreds of edges — that was most
# of the time a process spent loading it. (Alternatives of one character each would be merged
# back into one class by re's parser; two look-arounds in a row are not.)
_NO_LATIN_BEFORE = "(?<![a-z0-9])(?<![\u00c0-\u024f])"
_NO_LATIN_AFTER = "(?![a-z0-9])(?![\u00c0-\u024f])"
#: The matching engine's version, part of every policy digest: bump it with any change to how
#: text is normalized or matched, so that no verdict recorded by older code is trusted. (It was a
#: hash of this file, which a comment or a rename also changed.)
ENGINE_VERSION = "policy-engine/3"


@dataclass(frozen=True)
class Rule:
    """One blocked intent, with its phrases as written in the policy file."""

    id: str
    description: str
    phrases: Mapping[str, tuple[str, ...]]  # language → phrases
    allow: Mapping[str, tuple[str, ...]]  # language → phrases that look blocked but are not


@dataclass(frozen=True)
class PolicyMatch:
    """Why a job is refused: the rule, the phrase it matched and where."""

    rule_id: str
    description: str
    phrase: str
    text_excerpt: str

    def __str__(self) -> str:
        return (
            f"blocked by policy rule {self.rule_id!r} ({self.description}): "
            f"{self.phrase!r} in {self.text_excerpt!r}"
        )


@dataclass(frozen=True)
class _CompiledRule:
    """A rule's regexes, checked when the policy loads and compiled on the first check: a
    re-run whose every job was checked under this same policy before compiles none (``re``
    takes a fifth of a second over a policy of this size)."""

    rule: Rule
    search_patterns: tuple[str, ...]  # together, any of the phrases
    phrases: tuple[tuple[str, str], ...]  # each phrase's own pattern, compiled on a match only
    allow_pattern: str | None

    @functools.cached_property
    def searches(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(pattern) for pattern in self.search_patterns)

    @functools.cached_property
    def allow(self) -> re.Pattern[str] | None:
        return re.compile(self.allow_pattern) if self.allow_pattern else None

    def phrase_in(self, words: str) -> str | None:
        """The first of the rule's phrases found in a skeleton, if any."""
        if self.allow is not None:
            words = self.allow.sub("|", words)
        if not any(search.search(words) for search in self.searches):
            return None
        return next(phrase for phrase, pattern in self.phrases if re.search(pattern, words))


class Policy:
    """A loaded, compiled policy. Thread-safe; load it once per run."""

    def __init__(
        self,
        version: str,
        source: Path,
        rules: Iterable[Rule],
        gap_stops: Iterable[str] = (),
    ):
        self.version = version
        self.source = source
        self.rules = tuple(rules)
        gap_stops = tuple(gap_stops)
        stops = _GapStops.of(gap_stops, f"{source}: [gap] stop")
        #: what a verdict depends on: these rules and the code that reads text against them (a
        #: verdict recorded under one digest holds for any process with the same digest)
        self.digest = hashlib.sha256(
            repr((ENGINE_VERSION, self.version, self.rules, gap_stops)).encode()
        ).hexdigest()[:16]
        self._compiled = tuple(_compile_rule(rule, source, stops) for rule in self.rules)
        # A campaign repeats its texts (one CTA in every job, a headline in two locales): each
        # distinct text is checked once per process.
        self._verdict = functools.lru_cache(maxsize=4096)(self._check_text)

    def check(self, *texts: str) -> PolicyMatch | None:
        """The first rule any of the texts breaks, or None when all of them may be sent.

        A text with bidirectional controls (U+202A–202E, U+2066–2069) is refused outright: it is
        shown in another order than it is stored, so no check of the stored text says what a
        person or a model would read.
        """
        for text in texts:
            match = self._verdict(text)
            if match is not None:
                return match
        return None

    def _check_text(self, text: str) -> PolicyMatch | None:
        control = bidi_control(text)
        if control is not None:
            return PolicyMatch(
                rule_id="invisible-controls",
                description="text that displays differently from what it says",
                phrase=control,
                text_excerpt=_printable(text[:80]),
            )
        words = skeleton(text)
        for compiled in self._compiled:
            phrase = compiled.phrase_in(words)
            if phrase is not None:
                return PolicyMatch(
                    rule_id=compiled.rule.id,
                    description=compiled.rule.description,
                    phrase=phrase,
                    text_excerpt=_excerpt(text, compiled),
                )
        return None

    def check_job(self, job: EditJob) -> PolicyMatch | None:
        """Check everything of a job that reaches a model: its instruction and its copy."""
        return self.check(job.instruction, *(overlay.text for overlay in job.overlays))

    def __repr__(self) -> str:
        return f"Policy(version={self.version!r}, source={str(self.source)!r})"


_WINDOW, _OVERLAP = 4096, 1024  # characters; no phrase is written over a kilobyte


def _printable(text: str) -> str:
    return "".join(
        f"<U+{ord(c):04X}>" if unicodedata.category(c) in ("Cf", "Cc") else c for c in text
    )


def _excerpt(text: str, rule: _CompiledRule, context: int = 24) -> str:
    """The shortest stretch of the text that still breaks the rule, with context around it."""

    def breaks(part: str) -> bool:
        return rule.phrase_in(skeleton(part)) is not None

    # First the earliest window of the text that breaks the rule alone (windows overlap, so a
    # phrase is whole in one of them), then binary searches inside it: linear in the text, so a
    # blocked 10 MB cell is quoted in seconds. Each bound moves only to a cut that still breaks.
    start, end = 0, len(text)
    for window in range(0, len(text), _WINDOW - _OVERLAP):
        if breaks(text[window : window + _WINDOW]):
            start, end = window, min(len(text), window + _WINDOW)
            break
    low, high = 0, end
    while low < high:  # the latest start that still breaks the rule
        middle = (low + high + 1) // 2
        if breaks(text[middle:end]):
            low = middle
        else:
            high = middle - 1
    start = low
    low, high = start, end
    while low < high:  # the earliest end that still breaks the rule
        middle = (low + high) // 2
        if breaks(text[start:middle]):
            high = middle
        else:
            low = middle + 1
    end = low
    left, right = max(0, start - context), min(len(text), end + context)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")


# The rest of a word, for * in a phrase; bounded, so a long word costs no backtracking.
_WILD = "[^ |]{0,32}"


def _alternative(alternative: str, where: str) -> tuple[str, str, str, str]:
    """(start edge, body, end edge) regexes of one way to write a phrase word, and its first
    character."""
    core = _word_core(alternative.strip("*"))
    if not core:
        raise SetupError(f"{where}: {alternative!r} has no letters once normalized")
    if " " in core or "|" in core:
        raise SetupError(f"{where}: write {alternative!r} as separate words of the phrase")
    if re.fullmatch(f"[{LATIN}]+", core):
        body, start, end = re.escape(core), _NO_LATIN_BEFORE, _NO_LATIN_AFTER
    else:  # Chinese skips spaces between its characters; Thai letters must touch
        body = re.escape(core[0])
        for before, after in itertools.pairwise(core):
            body += ("" if _is_thai(before) and _is_thai(after) else " ?") + re.escape(after)
        start = end = ""
    return (
        _WILD if alternative.startswith("*") else start,
        body,
        _WILD if alternative.endswith("*") else end,
        core[0],
    )


@functools.lru_cache(maxsize=4096)
def _word_core(spelling: str) -> str:
    """A phrase word's skeleton. A policy spells many words in several phrases ("remove" in
    most rules), and each spelling is read twice: remembered, loading takes half the time."""
    return skeleton(spelling).strip(" |")


def _is_thai(text: str) -> bool:
    return bool(text) and all("\u0e00" <= char <= "\u0e7f" for char in text)


@dataclass(frozen=True)
class _PhrasePattern:
    full: str  # the whole phrase, word boundaries included
    after_word_start: str | None  # the same without its start boundary, when that is Latin
    first_characters: frozenset[str] | None  # None when the phrase starts with a wildcard


_GAP = re.compile(r"~([1-5]?)")
_GAP_WORD = "[^ |]{1,24}"  # one word inside a gap (bounded: no backtracking over long words)


@dataclass(frozen=True)
class _GapStops:
    """Words that end a gap: between a verb and its object they say the object is something else
    ("remove dark spots *from* your face")."""

    latin: str  # regex of whole Latin words
    other: str  # regex of Chinese/Thai words, matched anywhere

    @classmethod
    def of(cls, words: Iterable[str], where: str) -> _GapStops:
        latin: list[str] = []
        other: list[str] = []
        for word in words:
            core = skeleton(word).strip(" |")
            if not core or " " in core or "|" in core:
                raise SetupError(f"{where}: gap stop {word!r} must be one word")
            (latin if re.fullmatch(f"[{LATIN}]+", core) else other).append(re.escape(core))
        return cls("|".join(sorted(latin)), "|".join(sorted(other)))

    def latin_gap(self, words: int) -> str:
        """Up to ``words`` whole words between two Latin words of a phrase."""
        stop = f"(?!(?:{self.latin}){_NO_LATIN_AFTER})" if self.latin else ""
        return f" (?:{stop}{_GAP_WORD} ){{0,{words}}}"

    def other_gap(self, words: int) -> str:
        """Up to ``words`` words' worth of characters (four each) where Chinese or Thai is next
        to the gap: these scripts do not put spaces between words."""
        stop = f"(?!{self.other})" if self.other else ""
        return f"(?:{stop}[^|]){{0,{4 * words}}}"


_NO_STOPS = _GapStops("", "")


def _phrase_pattern(phrase: str, where: str, stops: _GapStops = _NO_STOPS) -> _PhrasePattern:
    """Regex of a phrase over skeletons: word boundaries at its ends, free joints inside."""
    words = phrase.split()
    if not words:
        raise SetupError(f"{where}: empty phrase")
    heads: list[_Spelling] = []  # first-word alternatives, with and without their start edge
    bare_heads: list[_Spelling] = []
    first_characters: set[str] | None = set()
    tail = ""
    previous: list[str] = []
    gap: int | None = None  # words that may stand before the next word of the phrase
    for index, word in enumerate(words):
        first, last = index == 0, index == len(words) - 1
        gap_word = _GAP.fullmatch(word)
        if gap_word:
            if first or last or gap is not None:
                raise SetupError(f"{where}: a gap (~) goes between two words of the phrase")
            gap = int(gap_word.group(1) or 3)
            continue
        optional = word.endswith("?") and len(word) > 1
        if optional and (first or last):
            raise SetupError(f"{where}: a phrase may not start or end with an optional word")
        if optional and gap is not None:
            raise SetupError(f"{where}: the word after a gap (~) may not be optional")
        spellings = [a for a in word.removesuffix("?").split("/") if a]
        if not spellings:
            raise SetupError(f"{where}: {word!r} is an empty word")
        alternatives: list[_Spelling] = []
        for spelling in spellings:
            start, body, end, first_character = _alternative(spelling, where)
            end = end if last or end == _WILD else ""
            if first:
                heads.append((start, body, end))
                bare_heads.append((start if start == _WILD else "", body, end))
                if first_characters is not None:
                    first_characters = (
                        None if start == _WILD else {*first_characters, first_character}
                    )
            else:
                alternatives.append((start if start == _WILD else "", body, end))
        # Thai words of a compound touch; anything else may be written with a space or without.
        cores = [_word_core(a.strip("*")) for a in spellings]
        touching = all(_is_thai(core[-1:]) for core in previous) and all(
            _is_thai(core[:1]) for core in cores
        )
        latin_pair = all(re.fullmatch(f"[{LATIN}]+", c) for c in [*previous, *cores])
        previous = cores
        if not first:
            if gap is not None:  # Latin words around a gap are whole words, spaced
                joint = stops.latin_gap(gap) if latin_pair else stops.other_gap(gap)
                gap = None
            else:
                joint = "" if touching else " ?"
            slot = joint + _either(alternatives)
            tail += f"(?:{slot})?" if optional else slot
    latin_start = all(start in (_NO_LATIN_BEFORE, _WILD) for start, _, _ in heads)
    return _PhrasePattern(
        full=_either(heads) + tail,
        after_word_start=(_either(bare_heads) + tail) if latin_start else None,
        first_characters=frozenset(first_characters) if first_characters is not None else None,
    )


_Spelling = tuple[str, str, str]  # one way to write a word: (start edge, body, end edge)


def _either(spellings: list[_Spelling]) -> str:
    """A regex of any of the spellings. Neighbours with the same edges share them:
    ``S(?:a|b)E`` tries exactly what ``SaE|SbE`` tries, in the same order, with one edge
    to compile instead of one per spelling (edges were most of a policy's compile time)."""
    runs = itertools.groupby(spellings, key=lambda spelling: (spelling[0], spelling[2]))
    return (
        "(?:"
        + "|".join(
            start + "(?:" + "|".join(body for _, body, _ in run) + ")" + end
            for (start, end), run in runs
        )
        + ")"
    )


def _any_of(patterns: list[_PhrasePattern], *, word_start: bool) -> str | None:
    """One regex for many phrases; a look-ahead on their first characters keeps it fast."""
    if not patterns:
        return None
    bodies = [p.after_word_start if word_start else p.full for p in patterns]
    firsts = [p.first_characters for p in patterns]
    guard = ""
    if all(chars is not None for chars in firsts):
        characters = sorted(set().union(*(chars or () for chars in firsts)))
        guard = "(?=[" + "".join(re.escape(char) for char in characters) + "])"
    start = _NO_LATIN_BEFORE if word_start else ""
    return start + guard + "(?:" + "|".join(f"(?:{b})" for b in bodies) + ")"


def _compile_rule(rule: Rule, source: Path, stops: _GapStops = _NO_STOPS) -> _CompiledRule:
    phrases: list[tuple[str, _PhrasePattern]] = []
    for language, texts in rule.phrases.items():
        for phrase in texts:
            where = f"{source}: rule {rule.id!r}, {language} phrase {phrase!r}"
            phrases.append((phrase, _phrase_pattern(phrase, where, stops)))
    allowed = [
        _phrase_pattern(
            phrase, f"{source}: rule {rule.id!r}, {language} allow {phrase!r}", stops
        ).full
        for language, texts in rule.allow.items()
        for phrase in texts
    ]
    patterns = [pattern for _, pattern in phrases]
    searches = (
        _any_of([p for p in patterns if p.after_word_start is not None], word_start=True),
        _any_of([p for p in patterns if p.after_word_start is None], word_start=False),
    )
    return _CompiledRule(
        rule=rule,
        search_patterns=tuple(search for search in searches if search is not None),
        # compiling every phrase's own pattern up front took most of a second per process;
        # the combined searches above tell whether any matched, these only which one
        phrases=tuple((phrase, pattern.full) for phrase, pattern in phrases),
        allow_pattern="|".join(allowed) if allowed else None,
    )


def _phrase_table(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise SetupError(f'{where} must be a table of languages, e.g. en = ["face swap"]')
    table = {}
    for language, phrases in value.items():
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", language):
            raise SetupError(f"{where}: {language!r} is not a language code such as en, id, th")
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise SetupError(f"{where}.{language} must be a list of strings")
        table[language] = tuple(phrases)
    return table


def load_policy(path: Path | None = None) -> Policy:
    """Read and compile a policy file; the shipped ``policies/default.toml`` when path is None."""
    source = Path(path) if path else data_dir("policies") / DEFAULT_POLICY
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SetupError(f"{source}: no such policy file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SetupError(f"{source}: cannot read the policy file ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise SetupError(f"{source}: not valid TOML ({error})") from None
    version = document.get("version")
    if not isinstance(version, str | int) or isinstance(version, bool) or not str(version):
        raise SetupError(f'{source}: needs a version at the top, e.g. version = "2025.1"')
    entries = document.get("rule")
    if not isinstance(entries, list) or not entries:
        raise SetupError(f"{source}: needs at least one [[rule]] with id, description and phrases")
    rules: list[Rule] = []
    for number, entry in enumerate(entries, 1):
        where = f"{source}: rule #{number}"
        if not isinstance(entry, dict):
            raise SetupError(f"{where} must be a table")
        rule_id, description = entry.get("id"), entry.get("description")
        if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", rule_id):
            raise SetupError(f"{where}: id must be a lower-case slug such as 'face-identity'")
        if any(rule.id == rule_id for rule in rules):
            raise SetupError(f"{where}: id {rule_id!r} is used twice")
        if not isinstance(description, str) or not description.strip():
            raise SetupError(f"{where} ({rule_id}): needs a description")
        unknown = set(entry) - {"id", "description", "phrases", "allow"}
        if unknown:
            raise SetupError(f"{where} ({rule_id}): unknown keys {', '.join(sorted(unknown))}")
        phrases = _phrase_table(entry.get("phrases"), f"{where} ({rule_id}) phrases")
        if not any(phrases.values()):
            raise SetupError(f"{where} ({rule_id}): needs at least one phrase")
        allow = _phrase_table(entry.get("allow", {}), f"{where} ({rule_id}) allow")
        rules.append(Rule(rule_id, description.strip(), phrases, allow))
    gap = document.get("gap", {})
    stops = gap.get("stop", {}) if isinstance(gap, dict) else None
    if not isinstance(gap, dict) or set(gap) - {"stop"}:
        raise SetupError(f'{source}: [gap] takes only stop = {{ en = ["from", …] }}')
    stop_table = _phrase_table(stops, f"{source}: [gap] stop")
    return Policy(
        str(version), source, rules, [word for words in stop_table.values() for word in words]
    )
