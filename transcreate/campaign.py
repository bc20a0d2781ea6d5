"""Campaign spreadsheet (CSV, XLSX or pasted rows) → validated variants, every problem located.

The file is read as a table of text cells by `transcreate.sheets` (the ``csv`` module and
openpyxl, not pandas: see there why); this module validates each row.

One row is one variant. A bad row is reported as a `RowProblem` (file, row, column, what would be
right) and left out; the other rows go on. Only a file that cannot be used at all raises
`CampaignError`. Row numbers are the ones a spreadsheet program shows: the header is row 1.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from transcreate import feeds
from transcreate.amounts import PRICE_FIELDS, decimal_in, prices_of
from transcreate.errors import CampaignError
from transcreate.locales import is_right_to_left, normalize_locale_tag, parse_locale_list
from transcreate.sheets import (
    BIDI_CONTROLS,
    MAX_CELL_CHARS,
    Formula,
    RowProblem,
    Table,
    bidi_control,
    clean,
    clean_text,
    read_bytes,
    read_table,
    split_sheet,
)
from transcreate.sizes import parse_sizes

COPY_FIELDS: tuple[str, ...] = ("headline", "cta")
# Fields that may also have a column per locale (`price:th`, `currency:th`): a market's own price;
# `position:ar` pins where a market's copy goes (else right-to-left locales mirror `position`).
LOCALIZABLE_FIELDS: tuple[str, ...] = (*COPY_FIELDS, *PRICE_FIELDS, "position", "edit")
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
    "lead",
    "edit",
    "variations",
    "image",
    "logo",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("variant", "headline")
LEADS: tuple[str, ...] = ("headline", "offer")  # the `lead` column's values

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
# A free-form edit is one or two sentences ("remove the tag on the model's right shoulder");
# the model's whole prompt is limited (max_instruction_chars), and the copy must fit beside it.
MAX_EDIT_CHARS = 300

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

_YES = frozenset({"yes", "y", "true", "1", "x"})
_NO = frozenset({"no", "n", "false", "0", ""})

_Reporter = Callable[[str, str], None]  # report(column, message) for the row being parsed


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
    #: the line that leads, set largest: "headline", or "offer" when the price or discount is
    #: the message ("70% off" above the fold, the headline a line above it)
    lead: str = "headline"
    #: where copy the sheet did not give came from (``transcreate.translation``):
    #: "<field>:<locale>" → (MACHINE or APPROVED, a problem a person must look at, or None)
    origins: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    #: positions the sheet pins for one locale (`position:ar`), by locale
    positions: Mapping[str, str] = field(default_factory=dict)
    #: the row's free-form edit for the model ("将背景换成白色，并删除左上角水印"): "" → the
    #: `edit` column, locale → its own `edit:<locale>`
    edits: Mapping[str, str] = field(default_factory=dict)
    #: scene directions for an A/B test (the `variations` column): (name, direction) each
    variations: tuple[tuple[str, str], ...] = ()
    #: the look this variant is, when it was made from a row's variations (`looks`)
    look: str | None = None
    #: the row's own product image (the `image` column: a path relative to the sheet, s3:// or
    #: https://), once fetched its resolved location; None: the run's image
    image: str | None = None
    #: the hash of the row's own image, once fetched and checked (``transcreate.row_images``)
    image_sha256: str | None = None
    #: the brand's logo for this row (the `logo` column, read as `image` is), and its hash
    logo: str | None = None
    logo_sha256: str | None = None

    def edit_for(self, locale: str) -> str | None:
        """The free-form edit the model makes for this locale, if the row asks for one."""
        return self.edits.get(locale) or self.edits.get("") or None

    def position_for(self, locale: str) -> str:
        """Where the locale's copy goes: its own pinned position, else the row's, mirrored for a
        right-to-left locale (a block at the bottom-left in English reads from the
        bottom-right in Arabic)."""
        if locale in self.positions:
            return self.positions[locale]
        return mirrored(self.position) if is_right_to_left(locale) else self.position

    def origin(self, field_name: str, locale: str) -> tuple[str, str | None]:
        """Where the locale's copy in ``field_name`` came from: "sheet" unless translated."""
        return self.origins.get(f"{field_name}:{locale}", ("sheet", None))

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
    model: bool = True,
) -> Campaign:
    """Read and validate a campaign file; ``data`` may carry its bytes when it is not on disk.
    ``model``: whether an image-edit model makes the run's edits; without one, a row's
    free-form ``edit`` is a problem of the row.

    For a workbook, ``sheet`` names the sheet to read, or the path may end in ``#<sheet>``
    (``sale.xlsx#Q4``); without either the first sheet is read, with a warning when there are more.
    """
    location, named = split_sheet(str(path))
    path = Path(location)
    sheet = sheet if sheet is not None else named
    raw = data if data is not None else read_bytes(path)
    table = read_table(raw, path.suffix.lower(), path.name, sheet)
    return _campaign(table, name or path.stem, templates, model)


def _campaign(
    table: Table, name: str, templates: Iterable[str] | None, model: bool = True
) -> Campaign:
    source = table.source
    feed = feeds.is_feed(table.headers)
    headers = (
        [feeds.campaign_header(str(h)) or "" for h in table.headers] if feed else table.headers
    )
    columns, column_notes = _map_columns(headers, source, feed)
    known_templates = frozenset(templates) if templates is not None else None

    variants: list[Variant] = []
    problems: list[RowProblem] = list(table.problems)
    first_row_of: dict[str, int] = {}
    for row_number, cells in table.rows:
        formulas = [
            (column, cell)
            for column, cell in zip(columns, cells, strict=False)
            if column and isinstance(cell, Formula)
        ]
        values = {
            column: "" if isinstance(cell, Formula) else clean(cell)
            for column, cell in zip(columns, cells, strict=False)
            if column
        }
        if not any(values.values()) and not formulas:
            continue  # blank lines between blocks of rows are common in hand-kept sheets
        if feed:
            values = feeds.campaign_values(values)
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
        parsed, row_problems = _parse_row(values, row_number, source, known_templates, model)
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


def campaign_name(text: str) -> str:
    """A campaign name safe to use as a storage folder: lower-case letters, digits, ``-``, ``_``."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")
    return slug[:64] or "campaign"


def _map_columns(
    headers: list[str], source: str, feed: bool = False
) -> tuple[list[str | None], list[str]]:
    """Normalize header names (``Headline:TH`` → ``headline:th``); unused columns map to None.
    ``feed``: a product feed's (``transcreate.feeds``), whose ``sale_price`` is read too."""
    mapped: list[str | None] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for header in headers:
        original = clean_text(BIDI_CONTROLS.sub("", str(header))).strip()
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
        elif field_name in ("variant", *COPY_FIELDS, *VALUE_FIELDS) or (
            feed and field_name == "sale_price"
        ):
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


def _parse_row(
    values: Mapping[str, str],
    row: int,
    source: str,
    known_templates: frozenset[str] | None,
    model: bool = True,
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

    prices = prices_of(values, problem)

    discount = decimal_in(
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
    positions = {
        column.partition(":")[2]: _position(text, problem, column)
        for column, text in values.items()
        if column.startswith("position:") and text
    }
    edits = {
        column.partition(":")[2]: text
        for column, text in values.items()
        if (column == "edit" or column.startswith("edit:")) and text
    }
    for column, text in ((f"edit:{k}" if k else "edit", v) for k, v in edits.items()):
        if not model:
            problem(
                column,
                f"the built-in editor cannot make a free-form edit ({text[:60]!r}): run the "
                "campaign on a model backend (--backend dashscope, dify or openai), or leave "
                "the column empty",
            )
        elif len(text) > MAX_EDIT_CHARS:
            problem(column, f"the edit is {len(text)} characters; keep it under {MAX_EDIT_CHARS}")
    variations: list[tuple[str, str]] = []
    if values.get("variations"):
        from transcreate.looks import parse_variations

        variations, wrong = parse_variations(values["variations"])
        if wrong:
            problem("variations", wrong)
        elif not model:
            problem(
                "variations",
                "variations are scene edits a model makes: run the campaign on a model backend "
                "(--backend dashscope, dify or openai), or leave the column empty",
            )

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

    lead = values.get("lead", "").strip().lower() or "headline"
    if lead not in LEADS:
        problem(
            "lead",
            f"{values['lead']!r} is not headline or offer; write offer to set the price or "
            "discount largest, or leave it empty",
        )
    elif lead == "offer" and discount is None and not prices:
        problem("lead", "the offer leads, but the row has no discount or price to lead with")

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
            lead=lead,
            positions=positions,
            edits=edits,
            variations=tuple(variations),
            image=values.get("image") or None,
            logo=values.get("logo") or None,
        ),
        problems,
    )


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


def _position(text: str, problem: _Reporter, column: str = "position") -> str:
    if not text:
        return DEFAULT_POSITION
    name = re.sub(r"[\s_]+", "-", text.strip().lower())
    name = {"middle": "center", "centre": "center"}.get(name, name).replace("centre", "center")
    if name in POSITIONS:
        return name
    problem(column, f"{text!r} is not a position; use one of {', '.join(POSITIONS)}")
    return DEFAULT_POSITION


def mirrored(position: str) -> str:
    """The position seen in a mirror: ``bottom-left`` ↔ ``bottom-right``."""
    swap = {"left": "right", "right": "left"}
    return "-".join(swap.get(part, part) for part in position.split("-"))


def logo_corner(position: str, right_to_left: bool = False) -> str:
    """Where a logo goes by default: a corner across from the copy at ``position`` (the top when
    the copy is low, the side it does not take), on the side reading starts from when the copy
    is centred."""
    vertical, _, horizontal = position.partition("-")
    if not horizontal and vertical == "center":
        vertical, horizontal = "center", "center"
    side = {"left": "right", "right": "left"}.get(horizontal, "right" if right_to_left else "left")
    return f"{'bottom' if vertical == 'top' else 'top'}-{side}"
