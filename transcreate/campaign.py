"""Campaign spreadsheet (CSV, XLSX or pasted rows) → validated variants, every problem located.

CSV is parsed row by row with the standard ``csv`` module and workbooks with openpyxl (not
pandas): a ragged row or an unclosed quote is then a problem of its own row, with the row number
a spreadsheet shows, and a formula cell with no saved result is told apart from an empty one.

One row is one variant. A bad row is reported as a `RowProblem` (file, row, column, what would be
right) and left out; the other rows go on. Only a file that cannot be used at all raises
`CampaignError`. Row numbers are the ones a spreadsheet program shows: the header is row 1.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import openpyxl
from babel.numbers import get_currency_precision, is_currency

from transcreate.errors import CampaignError
from transcreate.locales import normalize_locale_tag, parse_locale_list
from transcreate.sizes import parse_sizes

COPY_FIELDS: tuple[str, ...] = ("headline", "cta")
# Fields that may also have a column per locale (`price:th`, `currency:th`): a market's own price.
PRICE_FIELDS: tuple[str, ...] = ("price", "currency")
LOCALIZABLE_FIELDS: tuple[str, ...] = COPY_FIELDS + PRICE_FIELDS
VALUE_FIELDS: tuple[str, ...] = (
    *PRICE_FIELDS,
    "discount",
    "ends",
    "color",
    "position",
    "locales",
    "template",
    "fallback",
    "sizes",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("variant", "headline")
# The longest cell the reader takes. Ad copy is a few words; a longer cell is a paste gone wrong
# (or an attack on the policy's matching), rejected with its row so the other rows still run.
MAX_CELL_CHARS = 1000

POSITIONS: tuple[str, ...] = (
    "top-left",
    "top-center",
    "top-right",
    "center-left",
    "center",
    "center-right",
    "bottom-left",
    "bottom-center",
    "bottom-right",
)
DEFAULT_POSITION = "bottom-center"

# Named colours the instruction templates know how to say in every language (see locales/).
COLORS: Mapping[str, str] = {
    "white": "#FFFFFF",
    "black": "#111111",
    "red": "#E53935",
    "orange": "#FB8C00",
    "yellow": "#FFD600",
    "gold": "#D4AF37",
    "green": "#43A047",
    "blue": "#1E88E5",
    "navy": "#1A237E",
    "purple": "#8E24AA",
    "pink": "#EC407A",
    "gray": "#9E9E9E",
}
DEFAULT_COLOR = "white"

_VARIANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")

# Characters nobody sees: zero-width spaces and joiners, LRM/RLM, the BOM, NUL and the other C0/C1
# controls (tab and newline excepted). The reader removes them from every cell, so the copy the
# policy checks is the copy drawn and the copy sent to a model.
_INVISIBLE = dict.fromkeys(
    [
        *(code for code in range(0x20) if chr(code) not in "\t\n"),
        *range(0x7F, 0xA0),
        *range(0x200B, 0x2010),
        *range(0x2060, 0x2065),
        0xFEFF,
    ]
)
# Bidirectional embeddings, overrides and isolates reorder what is shown: "\u202epaws ecaf" is
# drawn as "face swap". No single reading of such a cell is safe, so it is refused, not cleaned.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")

_YES = frozenset({"yes", "y", "true", "1", "x"})
_NO = frozenset({"no", "n", "false", "0", ""})

_Reporter = Callable[[str, str], None]  # report(column, message) for the row being parsed


@dataclass(frozen=True)
class RowProblem:
    """Why one row (or one cell) was not used."""

    source: str
    row: int
    column: str | None
    message: str
    variant: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}, row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Variant:
    """One validated row of the campaign."""

    variant: str
    row: int
    copy: Mapping[str, Mapping[str, str]]  # field → {"" (default copy) | locale: text}
    prices: Mapping[str, tuple[Decimal, str]] = field(default_factory=dict)  # "" | locale → price
    discount: Decimal | None = None  # percent, 0 < discount < 100
    ends: datetime.date | None = None
    color: str = DEFAULT_COLOR  # a name from COLORS or "#RRGGBB"
    position: str = DEFAULT_POSITION
    locales: tuple[str, ...] | None = None  # None: every locale of the run
    template: str = "default"
    # Localized copy columns (`headline:th`) the sheet has but this row left empty: that locale
    # gets the default column's copy, which a person should confirm (unless `fallback` says so).
    empty_copy: frozenset[str] = frozenset()
    fallback: bool = False  # the sheet's `fallback` column: the default copy is meant
    # The row's own ad sizes (`sizes` column: "square, story, 728x90"; None: the run's sizes);
    # each a preset's name or WxH, None for the base's own size.
    sizes: tuple[str | None, ...] | None = None

    def text(self, field_name: str, locale: str) -> str | None:
        """The copy for a locale: its own column if filled, else the default column."""
        cells = self.copy.get(field_name, {})
        return cells.get(locale) or cells.get("") or None

    def price(self, locale: str) -> tuple[Decimal, str] | None:
        """(amount, ISO 4217 currency) for a locale: its own price columns, else the default."""
        return self.prices.get(locale) or self.prices.get("")


@dataclass(frozen=True)
class Campaign:
    """The usable variants of a campaign file and what was wrong with the rest."""

    name: str
    source: str
    variants: tuple[Variant, ...]
    problems: tuple[RowProblem, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def read_campaign(
    path: str | Path,
    *,
    data: bytes | None = None,
    name: str | None = None,
    templates: Iterable[str] | None = None,
    sheet: str | None = None,
) -> Campaign:
    """Read and validate a campaign file; ``data`` may carry its bytes when it is not on disk.

    For a workbook, ``sheet`` names the sheet to read, or the path may end in ``#<sheet>``
    (``sale.xlsx#Q4``); without either the first sheet is read, with a warning when there are more.
    """
    location, named = split_sheet(str(path))
    path = Path(location)
    sheet = sheet if sheet is not None else named
    raw = data if data is not None else _read_bytes(path)
    table = _read_table(raw, path.suffix.lower(), path.name, sheet)
    return _campaign(table, name or path.stem, templates)


def read_pasted_rows(
    text: str, *, name: str = "pasted", templates: Iterable[str] | None = None
) -> Campaign:
    """Read rows pasted as text: copied from Excel or Google Sheets (tab-separated) or CSV
    (comma or semicolon), told apart by the header line. Problems read "pasted rows, row 3, …"."""
    if not text.strip():
        raise CampaignError(
            f"{PASTED}: nothing was pasted; paste the header row and one row per variant"
        )
    return _campaign(_csv_table(text.removeprefix("\ufeff"), PASTED), name, templates)


PASTED = "pasted rows"


def split_sheet(location: str) -> tuple[str, str | None]:
    """``sale.xlsx#Q4`` → (``sale.xlsx``, ``Q4``); any other location → (location, None)."""
    base, hash_sign, sheet = location.rpartition("#")
    if hash_sign and sheet and Path(base).suffix.lower() in WORKBOOK_SUFFIXES:
        return base, sheet
    return location, None


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class _Formula:
    """A workbook cell holding a formula with no saved result (a file written by a program)."""

    text: str


_Cell = str | _Formula


@dataclass
class _Table:
    source: str
    headers: list[str]
    rows: list[tuple[int, list[_Cell]]]  # (row number as the spreadsheet shows it, cells)
    problems: list[RowProblem] = field(default_factory=list)  # rows that could not be parsed
    notes: list[str] = field(default_factory=list)


def _campaign(table: _Table, name: str, templates: Iterable[str] | None) -> Campaign:
    source = table.source
    columns, column_notes = _map_columns(table.headers, source)
    known_templates = frozenset(templates) if templates is not None else None

    variants: list[Variant] = []
    problems: list[RowProblem] = list(table.problems)
    first_row_of: dict[str, int] = {}
    for row_number, cells in table.rows:
        formulas = [
            (column, cell)
            for column, cell in zip(columns, cells, strict=False)
            if column and isinstance(cell, _Formula)
        ]
        values = {
            column: "" if isinstance(cell, _Formula) else _clean(cell)
            for column, cell in zip(columns, cells, strict=False)
            if column
        }
        if not any(values.values()) and not formulas:
            continue  # blank lines between blocks of rows are common in hand-kept sheets
        unusable = _unusable_cells(values, row_number, source)
        unusable += [
            RowProblem(
                source,
                row_number,
                column,
                f"the cell holds a formula ({formula.text[:40]}) with no saved result; paste "
                "values (Paste Special → Values) or open and save the file in a spreadsheet "
                "program",
                values.get("variant") or None,
            )
            for column, formula in formulas
        ]
        if unusable:
            problems.extend(unusable)
            continue
        parsed, row_problems = _parse_row(values, row_number, source, known_templates)
        if parsed is not None and parsed.variant in first_row_of:
            row_problems.append(
                RowProblem(
                    source,
                    row_number,
                    "variant",
                    f"variant {parsed.variant!r} is already used on row "
                    f"{first_row_of[parsed.variant]}; every variant needs its own id",
                    parsed.variant,
                )
            )
        if row_problems or parsed is None:
            problems.extend(row_problems)
            continue
        first_row_of[parsed.variant] = row_number
        variants.append(parsed)

    return Campaign(
        name=campaign_name(name),
        source=source,
        variants=tuple(variants),
        problems=tuple(sorted(problems, key=lambda problem: problem.row)),
        warnings=(*table.notes, *column_notes),
    )


def clean_text(text: str) -> str:
    """Text as it is checked, drawn and sent: invisible characters and controls removed."""
    return text.translate(_INVISIBLE)


def bidi_control(text: str) -> str | None:
    """The first bidirectional control in a text, named as U+XXXX, or None."""
    found = _BIDI_CONTROLS.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def campaign_name(text: str) -> str:
    """A campaign name safe to use as a storage folder: lower-case letters, digits, ``-``, ``_``."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")
    return slug[:64] or "campaign"


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise CampaignError(f"{path}: is a folder, not a campaign file; give the .csv or .xlsx")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such campaign file") from None
    except OSError as error:
        raise CampaignError(f"{path}: cannot read the campaign file ({error.strerror})") from None


def _read_table(raw: bytes, suffix: str, source: str, sheet: str | None) -> _Table:
    if suffix in WORKBOOK_SUFFIXES:
        return _workbook_table(raw, source, sheet)
    if suffix not in (".csv", ".txt", ".tsv", ""):
        raise CampaignError(
            f"{source}: unsupported file type {suffix!r}; save the sheet as .csv or .xlsx"
        )
    if sheet is not None:
        raise CampaignError(f"{source}: only a workbook (.xlsx) has sheets to choose from")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CampaignError(
            f"{source}: not UTF-8 text (byte {error.start}); save the CSV as 'CSV UTF-8'"
        ) from None
    return _csv_table(text, source)


# The csv module refuses fields over 128 KiB by default; a longer cell should be rejected by
# MAX_CELL_CHARS, naming its column, not by the parser. Raising the (process-wide) bound only
# widens what any reader accepts.
csv.field_size_limit(max(csv.field_size_limit(), 2**27))
_QUOTE_NEVER_CLOSED = "unexpected end of data"
_FIELD_LIMIT = "field larger than field limit"


def _csv_table(text: str, source: str) -> _Table:
    """Rows of CSV or tab-separated text, parsed row by row so that a broken row is a problem
    of that row (with the row number a spreadsheet shows), never of the whole file."""
    if not text.strip():
        raise CampaignError(f"{source}: the file is empty; the first row must name the columns")
    delimiter = _delimiter(text)
    lines = _Lines(io.StringIO(text, newline="").readlines())
    table = _Table(source, [], [])
    row = 0
    reader = _csv_reader(lines, delimiter)
    trailing_cells = False
    while True:
        first_line = lines.position
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            row += 1
            if row == 1:
                raise CampaignError(f"{source}: the first row cannot be read ({error})") from None
            table.problems.append(RowProblem(source, row, None, _csv_problem(str(error))))
            lines.position = first_line + 1  # go on with the next line, in a fresh reader
            reader = _csv_reader(lines, delimiter)
            continue
        row += 1
        if row == 1:
            if not any(cell.strip() for cell in cells):
                raise CampaignError(
                    f"{source}: the first row is blank; the first row must name the columns"
                )
            table.headers = cells
            continue
        width = len(table.headers)
        extra = [cell for cell in cells[width:] if cell.strip()]
        if extra:
            table.problems.append(
                RowProblem(
                    source,
                    row,
                    None,
                    f"{len(cells)} cells, but the first row names {width} columns; remove the "
                    f"cells past the last column ({_preview(extra)}), or quote a cell that holds "
                    f"a {_DELIMITER_NAMES[delimiter]}",
                )
            )
            continue
        trailing_cells = trailing_cells or len(cells) > width
        table.rows.append((row, [*cells[:width], *[""] * (width - len(cells))]))
    if trailing_cells:
        table.notes.append(
            f"{source}: some rows have more cells than the first row has column names; "
            "the cells past the last named column are empty and not used"
        )
    return table


class _Lines:
    """The lines of a text, read by a csv reader from ``position`` on (which may be moved)."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.position = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _csv_reader(lines: _Lines, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(lines, delimiter=delimiter, skipinitialspace=True, strict=True)


def _csv_problem(error: str) -> str:
    if _QUOTE_NEVER_CLOSED in error:
        return (
            'a quote (") opens a cell on this row and is never closed, so every row after it '
            "would be one cell; close the quote or remove it (the rows after it are read)"
        )
    if _FIELD_LIMIT in error:
        return (
            f"a cell is longer than the reader takes; a cell holds at most {MAX_CELL_CHARS:,} "
            "characters, shorten it"
        )
    return f'cannot be read as CSV ({error}); check the quotes (") on this row'


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def _preview(cells: list[str]) -> str:
    shown = ", ".join(repr(cell[:20]) for cell in cells[:3])
    return shown + (", …" if len(cells) > 3 else "")


def _workbook_table(raw: bytes, source: str, sheet: str | None) -> _Table:
    """The chosen sheet of a workbook; formulas without a saved result are flagged per cell."""
    try:
        values = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises a zoo of types for a damaged workbook
        raise CampaignError(f"{source}: cannot be read as a spreadsheet: {error}") from None
    try:
        names = list(values.sheetnames)
        notes = []
        if sheet is None:
            if not names:
                raise CampaignError(f"{source}: the workbook has no sheets")
            sheet = names[0]
            if len(names) > 1:
                others = ", ".join(repr(other) for other in names[1:])
                notes.append(
                    f"{source} has {len(names)} sheets; read the first, {sheet!r}, and not "
                    f"{others}; to read another, name it: {source}#{names[1]}"
                )
        elif sheet not in names:
            raise CampaignError(
                f"{source}: no sheet named {sheet!r}; its sheets are "
                f"{', '.join(repr(name) for name in names)}"
            )
        rows = _sheet_rows(values[sheet], formulas[sheet])
    except CampaignError:
        raise
    except Exception as error:
        raise CampaignError(f"{source}: cannot be read as a spreadsheet: {error}") from None
    finally:
        values.close()
        formulas.close()
    if not rows:
        raise CampaignError(f"{source}: the sheet is empty; the first row must name the columns")
    header_cells = rows[0]
    if not any(isinstance(cell, str) and cell.strip() for cell in header_cells):
        raise CampaignError(
            f"{source}: the first row is blank; the first row must name the columns"
        )
    headers = [cell if isinstance(cell, str) else "" for cell in header_cells]
    width = len(headers)
    body = [
        (number, [*cells[:width], *[""] * (width - len(cells))])
        for number, cells in enumerate(rows[1:], start=2)
    ]
    label = source if sheet == names[0] else f"{source}#{sheet}"
    return _Table(label, headers, body, notes=notes)


def _sheet_rows(values: Any, formulas: Any) -> list[list[_Cell]]:
    rows: list[list[_Cell]] = []
    for value_row, formula_row in zip(
        values.iter_rows(values_only=True), formulas.iter_rows(), strict=False
    ):
        cells: list[_Cell] = []
        for value, formula in itertools.zip_longest(value_row, formula_row):
            is_formula = getattr(formula, "data_type", None) == "f"
            if is_formula and value is None:
                cells.append(_Formula(str(getattr(formula, "value", "") or "=")))
            else:
                cells.append(_cell_text(value))
        rows.append(cells)
    return rows


def _cell_text(value: object) -> str:
    """A workbook value as the text a person sees (dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _delimiter(text: str) -> str:
    """Tab (rows copied from a spreadsheet), semicolon (Excel's choice in locales with a decimal
    comma) or comma, from the header line."""
    header = text.split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in ("\t", ";", ",")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _map_columns(headers: list[str], source: str) -> tuple[list[str | None], list[str]]:
    """Normalize header names (``Headline:TH`` → ``headline:th``); unused columns map to None."""
    mapped: list[str | None] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for header in headers:
        original = clean_text(_BIDI_CONTROLS.sub("", str(header))).strip()
        field_name, _, locale = original.partition(":")
        field_name = field_name.strip().lower()
        key: str | None
        if locale:
            if field_name not in LOCALIZABLE_FIELDS:
                warnings.append(
                    f"{source}, column {original}: only {', '.join(LOCALIZABLE_FIELDS)} can have a "
                    "per-locale column; the column is not used"
                )
                key = None
            else:
                try:
                    key = f"{field_name}:{normalize_locale_tag(locale)}"
                except ValueError as error:
                    raise CampaignError(f"{source}, column {original}: {error}") from None
        elif field_name in ("variant", *COPY_FIELDS, *VALUE_FIELDS):
            key = field_name
        else:
            if original and not original.lower().startswith("unnamed:"):
                warnings.append(f"{source}, column {original}: not a transcreate column; not used")
            key = None
        if key is not None:
            if key in seen:
                raise CampaignError(
                    f"{source}: columns {seen[key]!r} and {original!r} both mean {key!r}; "
                    "keep one of them"
                )
            seen[key] = original
        mapped.append(key)
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if missing:
        raise CampaignError(
            f"{source}: missing column(s) {', '.join(missing)}; the first row must name the "
            f"columns, e.g. variant,headline,cta,price,currency,discount,color,position"
        )
    return mapped, warnings


def _unusable_cells(values: Mapping[str, str], row: int, source: str) -> list[RowProblem]:
    """Cells over MAX_CELL_CHARS or with bidi controls, refused before anything reads them."""
    variant = values.get("variant", "")
    variant = variant if len(variant) <= 64 and not bidi_control(variant) else ""
    problems = []
    for column, text in values.items():
        control = bidi_control(text)
        if len(text) > MAX_CELL_CHARS:
            message = (
                f"{len(text):,} characters; a cell holds at most {MAX_CELL_CHARS:,}, shorten it"
            )
        elif control is not None:
            message = (
                f"holds the invisible bidirectional control {control}, which shows the text in "
                "another order than it is written; delete it and type the copy in reading order"
            )
        else:
            continue
        problems.append(RowProblem(source, row, column, message, variant or None))
    return problems


def _clean(cell: object) -> str:
    text = "" if cell is None else str(cell)
    return clean_text(text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _parse_row(
    values: Mapping[str, str],
    row: int,
    source: str,
    known_templates: frozenset[str] | None,
) -> tuple[Variant | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    variant_id = values.get("variant", "")

    def problem(column: str, message: str) -> None:
        problems.append(RowProblem(source, row, column, message, variant_id or None))

    if not variant_id:
        problem("variant", "empty; give every row an id such as 'summer-01'")
    elif not _VARIANT_ID.fullmatch(variant_id):
        problem(
            "variant",
            f"{variant_id!r} is not a valid id; use letters, digits, '-' and '_' "
            "(at most 64, starting with a letter or digit)",
        )

    copy: dict[str, dict[str, str]] = {}
    for column, text in values.items():
        field_name, _, locale = column.partition(":")
        if field_name in COPY_FIELDS and text:
            copy.setdefault(field_name, {})[locale] = text
    if not copy.get("headline"):
        problem("headline", "empty; write the headline in 'headline' or in 'headline:<locale>'")

    prices = _prices(values, problem)

    discount = _decimal(
        values.get("discount", "").removesuffix("%").strip(),
        "discount",
        problem,
        "a percentage such as 50 or 50%",
    )
    if discount is not None and not 0 < discount < 100:
        problem("discount", f"{discount}% is out of range; a discount is between 0 and 100")
    elif discount is not None and discount < 1:
        # A spreadsheet cell formatted as % stores 50% as 0.5: never guess, ask for percent.
        problem(
            "discount",
            f"{discount} looks like a fraction (a cell formatted as % holds 0.5 for 50%); "
            "write the discount in percent, e.g. 50 or 50%",
        )

    ends = None
    if values.get("ends"):
        try:
            # A spreadsheet date cell arrives as "2026-12-12 00:00:00"; trailing junk does not.
            ends = datetime.datetime.fromisoformat(values["ends"]).date()
        except ValueError:
            problem("ends", f"{values['ends']!r} is not a date; write it as YYYY-MM-DD")

    color = _color(values.get("color", ""), problem)
    position = _position(values.get("position", ""), problem)

    locales: tuple[str, ...] | None = None
    if values.get("locales"):
        try:
            locales = parse_locale_list(values["locales"])
        except ValueError as error:
            problem("locales", str(error))

    sizes: tuple[str | None, ...] | None = None
    if values.get("sizes"):
        try:
            sizes = tuple(size.name if size else None for size in parse_sizes(values["sizes"]))
        except ValueError as error:
            problem("sizes", str(error))

    empty_copy = frozenset(
        column
        for column, text in values.items()
        if ":" in column and column.partition(":")[0] in COPY_FIELDS and not text
    )
    fallback = values.get("fallback", "").strip().lower()
    if fallback not in _YES | _NO:
        problem(
            "fallback",
            f"{values['fallback']!r} is not yes or no; write yes (or true, 1) or leave it empty",
        )

    template = values.get("template", "").lower() or "default"
    if not _TEMPLATE_NAME.fullmatch(template):
        problem("template", f"{template!r} is not a template name; use letters, digits, '-', '_'")
    elif known_templates is not None and template not in known_templates:
        problem(
            "template",
            f"no template named {template!r}; known: {', '.join(sorted(known_templates))}",
        )

    if problems:
        return None, problems
    return (
        Variant(
            variant=variant_id,
            row=row,
            copy=copy,
            prices=prices,
            discount=discount,
            ends=ends,
            color=color,
            position=position,
            locales=locales,
            template=template,
            empty_copy=empty_copy,
            fallback=fallback in _YES,
            sizes=sizes,
        ),
        problems,
    )


def _decimal(text: str, column: str, problem: _Reporter, example: str) -> Decimal | None:
    if not text:
        return None
    compact = text.replace(" ", "").replace("\u00a0", "")
    if not _NUMBER.fullmatch(compact):
        problem(
            column,
            f"{text!r} is not a plain number; write {example} (no currency signs, no thousands "
            "separators, '.' for decimals)",
        )
        return None
    try:
        return Decimal(compact)
    except InvalidOperation:  # pragma: no cover - the pattern above already rules this out
        problem(column, f"{text!r} is not a number; write {example}")
        return None


def _prices(values: Mapping[str, str], problem: _Reporter) -> dict[str, tuple[Decimal, str]]:
    """The default price (`price`, `currency`) and per-locale ones (`price:th`, `currency:th`)."""
    prices: dict[str, tuple[Decimal, str]] = {}
    suffixes = {
        column.partition(":")[2] for column in values if column.partition(":")[0] in PRICE_FIELDS
    }
    for suffix in sorted(suffixes):
        price_column = f"price:{suffix}" if suffix else "price"
        currency_column = f"currency:{suffix}" if suffix else "currency"
        example = "a price like 199000 or 19.99"
        amount = _decimal(values.get(price_column, ""), price_column, problem, example)
        currency = (values.get(currency_column) or values.get("currency", "")).upper()
        if currency and not is_currency(currency):
            problem(
                currency_column,
                f"{currency!r} is not an ISO 4217 code; use e.g. IDR, THB, CNY, USD",
            )
        elif amount is not None and not currency:
            problem(currency_column, "empty, but the row has a price; give its ISO 4217 code")
        elif amount is not None and _decimals(amount) > get_currency_precision(currency):
            # "199.000" is 199000 written with a thousands separator far more often than 199 IDR.
            problem(
                price_column,
                f"{values[price_column]!r} has more decimals than {currency} uses "
                f"({get_currency_precision(currency)}); if '.' separates thousands, write "
                f"{values[price_column].replace('.', '')}, else round it",
            )
        elif amount is not None:
            prices[suffix] = (amount, currency)
    return prices


def _decimals(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _color(text: str, problem: _Reporter) -> str:
    if not text:
        return DEFAULT_COLOR
    name = text.strip().lower()
    if name in COLORS:
        return name
    if _HEX_COLOR.fullmatch(name):
        if len(name) == 4:
            name = "#" + "".join(digit * 2 for digit in name[1:])
        return name.upper()
    problem("color", f"{text!r} is not a colour; use one of {', '.join(COLORS)} or #RRGGBB")
    return DEFAULT_COLOR


def _position(text: str, problem: _Reporter) -> str:
    if not text:
        return DEFAULT_POSITION
    name = re.sub(r"[\s_]+", "-", text.strip().lower())
    name = {"middle": "center", "centre": "center"}.get(name, name).replace("centre", "center")
    if name in POSITIONS:
        return name
    problem("position", f"{text!r} is not a position; use one of {', '.join(POSITIONS)}")
    return DEFAULT_POSITION
