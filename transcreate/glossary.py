"""A campaign's glossary: brand and product names, and the words a market writes its own way.

A CSV (or workbook) with a ``term`` column and, where a market has its own form, a
``term:<locale>`` column; an empty cell keeps the term as written. The copy sets a term on one
line, never broken inside (a Thai brand name the dictionary does not know, "Flash Sale",
"e-wallet"); translation keeps it as the glossary says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from transcreate.errors import CampaignError
from transcreate.sheets import Formula, read_table

MAX_TERMS = 5_000  # a glossary is a list of names, not a dictionary
MAX_TERM_CHARS = 80


@dataclass(frozen=True)
class Term:
    text: str
    #: its form in a market that writes it its own way: (locale, text), sorted
    forms: tuple[tuple[str, str], ...] = ()

    def form(self, locale: str) -> str:
        """The term as ``locale`` writes it: its own column's, else the language's, else as is."""
        own = dict(self.forms)
        language = locale.replace("_", "-").split("-")[0]
        return own.get(locale) or own.get(language) or self.text


@dataclass(frozen=True)
class Glossary:
    terms: tuple[Term, ...] = ()

    def forms(self, locale: str) -> tuple[str, ...]:
        """Every term as ``locale`` writes it."""
        return tuple(dict.fromkeys(term.form(locale) for term in self.terms))

    def kept_in(self, text: str, locale: str) -> tuple[str, ...]:
        """The terms (in ``locale``'s form) that ``text`` contains, longest first: the copy keeps
        each on one line. Matched as written, case included: a brand is spelled one way."""
        found = {form for form in self.forms(locale) if form in text}
        return tuple(sorted(found, key=lambda form: (-len(form), form)))


def parse_glossary(raw: bytes, source: str) -> Glossary:
    """The glossary in a CSV or workbook's bytes; a problem names its row and column."""
    suffix = PurePath(source.split("?")[0]).suffix.lower()
    table = read_table(raw, suffix, source, None)
    if table.problems:
        raise CampaignError(str(table.problems[0]))
    headers = [header.strip() for header in table.headers]
    if "term" not in headers:
        raise CampaignError(
            f"{source}: a glossary needs a 'term' column (found: {', '.join(headers) or 'none'})"
        )
    locales = {}
    for index, header in enumerate(headers):
        name, colon, locale = header.partition(":")
        if header == "term" or not header:
            continue
        if name != "term" or not colon or not locale.strip():
            raise CampaignError(
                f"{source}, column {header}: a glossary has 'term' and 'term:<locale>' columns "
                "(term:th, term:zh-Hant)"
            )
        locales[index] = locale.strip()
    term_column = headers.index("term")
    terms = []
    for row, cells in table.rows:
        values = [_text(cell, source, row, headers[i]) for i, cell in enumerate(cells)]
        values += [""] * (len(headers) - len(values))
        text = values[term_column]
        forms = tuple(sorted((locales[i], values[i]) for i in locales if values[i]))
        if not text:
            if forms:
                raise CampaignError(f"{source}, row {row}, column term: the term is empty")
            continue  # a blank line
        terms.append(Term(text, forms))
        if len(terms) > MAX_TERMS:
            raise CampaignError(f"{source}: more than {MAX_TERMS} terms; a glossary lists names")
    return Glossary(tuple(terms))


def _text(cell: object, source: str, row: int, column: str) -> str:
    if isinstance(cell, Formula):
        raise CampaignError(
            f"{source}, row {row}, column {column}: a formula with no saved value; "
            "save the workbook in Excel, or write the text"
        )
    text = " ".join(str(cell).split())
    if len(text) > MAX_TERM_CHARS:
        raise CampaignError(
            f"{source}, row {row}, column {column}: a term of {len(text)} characters "
            f"(at most {MAX_TERM_CHARS}); a glossary lists names and short phrases"
        )
    return text
