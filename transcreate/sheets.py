"""A campaign file read as a table of text cells, nothing validated yet: CSV (comma, semicolon or
tab, with or without BOM) parsed row by row with the ``csv`` module, workbooks with openpyxl.

Not pandas: a ragged row or an unclosed quote is then a problem of its own row, with the row number
a spreadsheet shows, and a formula cell with no saved result is told apart from an empty one.
Every cell is cleaned of characters nobody sees; a cell with bidirectional controls is refused.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from transcreate.errors import CampaignError

# The longest cell the reader takes. Ad copy is a few words; a longer cell is a paste gone wrong
# (or an attack on the policy's matching), rejected with its row so the other rows still run.
MAX_CELL_CHARS = 1000

# The csv module refuses fields over 128 KiB by default; a longer cell should be rejected by
# MAX_CELL_CHARS, naming its column, not by the parser. Raising the (process-wide) bound only
# widens what any reader accepts.
csv.field_size_limit(max(csv.field_size_limit(), 2**27))


# Characters nobody sees: zero-width spaces, LRM/RLM, the BOM, NUL and the other C0/C1 controls
# (tab and newline excepted). The reader removes them from every cell, so the copy the policy
# checks is the copy drawn and the copy sent to a model.
_INVISIBLE = dict.fromkeys(
    [
        *(code for code in range(0x20) if chr(code) not in "\t\n"),
        *range(0x7F, 0xA0),
        0x200B,
        *range(0x200E, 0x2010),
        *range(0x2060, 0x2065),
        0xFEFF,
    ]
)
# The zero-width joiner and non-joiner are spelling where they join two letters or symbols of a
# script that uses them: 👨‍👩‍👧 is one emoji, Persian می‌خواهم needs its non-joiner, Devanagari's
# half forms its joiner. Next to a space, an ASCII character or an end they change nothing a
# reader sees, and go. (The policy folds them away when it matches, wherever they are.)
_STRAY_JOINER = re.compile(r"(?<![^\s\x00-\x7f])[\u200c\u200d]|[\u200c\u200d](?![^\s\x00-\x7f])")
# Bidirectional embeddings, overrides and isolates reorder what is shown: "\u202epaws ecaf" is
# drawn as "face swap". No single reading of such a cell is safe, so it is refused, not cleaned.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


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


def split_sheet(location: str) -> tuple[str, str | None]:
    """``sale.xlsx#Q4`` → (``sale.xlsx``, ``Q4``); any other location → (location, None)."""
    base, hash_sign, sheet = location.rpartition("#")
    if hash_sign and sheet and Path(base).suffix.lower() in WORKBOOK_SUFFIXES:
        return base, sheet
    return location, None


#: a workbook is read to this many rows (the header and 100,000 variants) and columns
MAX_ROWS = 100_001
MAX_COLUMNS = 1_000
#: what a workbook may unpack to (a sheet of 100,000 rows is far smaller; zipped XML shrinks 10-50x)
MAX_UNPACKED_BYTES = 200 * 1024 * 1024

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Formula:
    """A workbook cell holding a formula with no saved result (a file written by a program)."""

    text: str


Cell = str | Formula


@dataclass
class Table:
    source: str
    headers: list[str]
    rows: list[tuple[int, list[Cell]]]  # (row number as the spreadsheet shows it, cells)
    problems: list[RowProblem] = field(default_factory=list)  # rows that could not be parsed
    notes: list[str] = field(default_factory=list)


def read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise CampaignError(f"{path}: is a folder, not a campaign file; give the .csv or .xlsx")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such campaign file") from None
    except OSError as error:
        raise CampaignError(f"{path}: cannot read the campaign file ({error.strerror})") from None


def read_table(raw: bytes, suffix: str, source: str, sheet: str | None) -> Table:
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
    return csv_table(text, source)


_QUOTE_NEVER_CLOSED = "unexpected end of data"
_FIELD_LIMIT = "field larger than field limit"


def csv_table(text: str, source: str) -> Table:
    """Rows of CSV or tab-separated text, parsed row by row so that a broken row is a problem
    of that row (with the row number a spreadsheet shows), never of the whole file."""
    if not text.strip():
        raise CampaignError(f"{source}: the file is empty; the first row must name the columns")
    delimiter = _delimiter(text)
    lines = _Lines(io.StringIO(text, newline="").readlines())
    table = Table(source, [], [])
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


def _workbook_table(raw: bytes, source: str, sheet: str | None) -> Table:
    """The chosen sheet of a workbook; formulas without a saved result are flagged per cell."""
    _check_unpacked_size(raw, source)
    try:
        values = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises a zoo of types for a damaged workbook
        raise CampaignError(f"{source}: cannot be read as a spreadsheet: {error}") from None
    try:
        names = list(values.sheetnames)
        notes = []
        # The first sheet a person sees: a hidden one (old data, lookups) is never the campaign
        # unless it is named.
        shown = [name for name in names if values[name].sheet_state == "visible"] or names
        first = shown[0] if shown else None
        if sheet is None:
            if not names:
                raise CampaignError(f"{source}: the workbook has no sheets")
            sheet = shown[0]
            others = [name for name in shown if name != sheet]
            if others:
                listed = ", ".join(repr(other) for other in others)
                notes.append(
                    f"{source} has {len(shown)} sheets; read the first, {sheet!r}, and not "
                    f"{listed}; to read another, name it: {source}#{others[0]}"
                )
        elif sheet not in names:
            raise CampaignError(
                f"{source}: no sheet named {sheet!r}; its sheets are "
                f"{', '.join(repr(name) for name in names)}"
            )
        reach = (values[sheet].max_row or 0, values[sheet].max_column or 0)
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
    if len(rows) > MAX_ROWS and any(cell for cell in rows[MAX_ROWS] if cell != ""):
        raise CampaignError(
            f"{source}: more than {MAX_ROWS - 1:,} variants; split the campaign into sheets of "
            "fewer rows"
        )
    if reach[0] > MAX_ROWS or reach[1] > MAX_COLUMNS:
        notes.append(
            f"{source}: the sheet's cells reach row {reach[0]:,}, column {reach[1]:,}; only the "
            f"first {MAX_ROWS:,} rows and {MAX_COLUMNS:,} columns are read (delete stray cells "
            "far from the table)"
        )
    rows = rows[:MAX_ROWS]
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
    label = source if sheet == first else f"{source}#{sheet}"
    return Table(label, headers, body, notes=notes)


def _check_unpacked_size(raw: bytes, source: str) -> None:
    """A workbook is a zip: refuse one that unpacks to more than MAX_UNPACKED_BYTES before openpyxl
    inflates it (its shared strings are read whole: a 2 MB file took 85 s and 2.3 GB)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        return  # not a zip: openpyxl says what is wrong with it
    if unpacked > MAX_UNPACKED_BYTES:
        raise CampaignError(
            f"{source}: the workbook unpacks to {unpacked:,} bytes; the limit is "
            f"{MAX_UNPACKED_BYTES:,} (save the sheet as CSV, or remove what it does not need)"
        )


def _sheet_rows(values: Any, formulas: Any) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    # Bounded: one stray cell at XFD1048576 makes openpyxl yield a million rows of 16,384 cells.
    # Rows are read as wide as the header (no column past it is used) and one row past the
    # limit, to tell a sheet that is too long from one that is not.
    header = next(values.iter_rows(values_only=True, max_row=1, max_col=MAX_COLUMNS), ())
    width = max(
        (index + 1 for index, cell in enumerate(header) if cell not in (None, "")), default=1
    )
    bounds = {"max_row": MAX_ROWS + 1, "max_col": width}
    for value_row, formula_row in zip(
        values.iter_rows(values_only=True, **bounds), formulas.iter_rows(**bounds), strict=False
    ):
        cells: list[Cell] = []
        for value, formula in itertools.zip_longest(value_row, formula_row):
            is_formula = getattr(formula, "data_type", None) == "f"
            if is_formula and value is None:
                cells.append(Formula(str(getattr(formula, "value", "") or "=")))
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


def clean_text(text: str) -> str:
    """Text as it is checked, drawn and sent: invisible characters and controls removed."""
    return _STRAY_JOINER.sub("", text.translate(_INVISIBLE))


def bidi_control(text: str) -> str | None:
    """The first bidirectional control in a text, named as U+XXXX, or None."""
    found = BIDI_CONTROLS.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def clean(cell: object) -> str:
    text = "" if cell is None else str(cell)
    return clean_text(text.replace("\r\n", "\n").replace("\r", "\n")).strip()
