"""The run's translations for a reviewer, and the reviewer's corrections read back.

``translations.csv`` (one row per translated cell: variant, row, field, locale, source,
translation, origin, problem; formula-safe) opens in any spreadsheet program; a translator's tool
takes ``translations-<locale>.xlf`` (XLIFF 2.1, one file per target language as the standard has
it: a unit per cell, ``state="translated"`` for machine copy and ``final`` once approved). Either
one, corrected and given back (``--translations``), makes its rows approved: a row whose source
text has changed since is not applied (it would approve a translation of other words).
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import PurePath

from transcreate.errors import CampaignError
from transcreate.manifest import formula_safe
from transcreate.sheets import Formula, read_table
from transcreate.translation.fill import APPROVED, Approved, Piece

COLUMNS = ("variant", "row", "field", "locale", "source", "translation", "origin", "problem")
REQUIRED = ("variant", "field", "locale", "translation")
XLIFF = "urn:oasis:names:tc:xliff:document:2.0"
MAX_TRANSLATION_CHARS = 500


def translations_csv(pieces: Sequence[Piece]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for piece in pieces:
        cells = (piece.variant, piece.row, piece.field, piece.locale, piece.source, piece.text,
                 piece.origin, piece.problem or "")  # fmt: skip
        writer.writerow([formula_safe(str(cell)) for cell in cells])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM: Excel reads Thai and Chinese as such


def translations_xliff(pieces: Sequence[Piece], source_locale: str, locale: str) -> bytes:
    """XLIFF 2.1 of one target locale's pieces."""
    ElementTree.register_namespace("", XLIFF)
    root = ElementTree.Element(
        f"{{{XLIFF}}}xliff", {"version": "2.1", "srcLang": source_locale, "trgLang": locale}
    )
    document = ElementTree.SubElement(root, f"{{{XLIFF}}}file", {"id": "copy"})
    for piece in pieces:
        if piece.locale != locale:
            continue
        unit = ElementTree.SubElement(
            document, f"{{{XLIFF}}}unit", {"id": f"{piece.variant}.{piece.field}"}
        )
        notes = ElementTree.SubElement(unit, f"{{{XLIFF}}}notes")
        note = ElementTree.SubElement(notes, f"{{{XLIFF}}}note", {"category": "row"})
        note.text = str(piece.row)
        if piece.problem:
            problem = ElementTree.SubElement(notes, f"{{{XLIFF}}}note", {"category": "problem"})
            problem.text = piece.problem
        state = "final" if piece.origin == APPROVED else "translated"
        segment = ElementTree.SubElement(unit, f"{{{XLIFF}}}segment", {"state": state})
        ElementTree.SubElement(segment, f"{{{XLIFF}}}source").text = piece.source
        ElementTree.SubElement(segment, f"{{{XLIFF}}}target").text = piece.text
    ElementTree.indent(root)
    written: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return written + b"\n"


def read_translations(raw: bytes, name: str) -> Approved:
    """A reviewer's translations (the CSV or workbook this run wrote, corrected, or an XLIFF
    file): (variant, field, locale) → (source, translation). A problem names row and column."""
    if PurePath(name.split("?")[0]).suffix.lower() in (".xlf", ".xliff"):
        return _read_xliff(raw, name)
    table = read_table(raw, PurePath(name.split("?")[0]).suffix.lower(), name, None)
    if table.problems:
        raise CampaignError(str(table.problems[0]))
    headers = [header.strip().lower() for header in table.headers]
    missing = [column for column in REQUIRED if column not in headers]
    if missing:
        raise CampaignError(
            f"{name}: translations need the columns {', '.join(REQUIRED)} (missing: "
            f"{', '.join(missing)}); start from the translations.csv a run wrote"
        )
    approved: dict[tuple[str, str, str], tuple[str, str]] = {}
    for row, cells in table.rows:
        texts = [_cell(cell, name, row, headers[i]) for i, cell in enumerate(cells[: len(headers)])]
        values = dict(zip(headers, texts, strict=False))  # a short row leaves its tail empty
        if not any(values.values()):
            continue
        for column in REQUIRED:
            if not values.get(column):
                raise CampaignError(f"{name}, row {row}, column {column}: empty")
        text = values["translation"]
        if len(text) > MAX_TRANSLATION_CHARS:
            raise CampaignError(
                f"{name}, row {row}, column translation: {len(text)} characters (at most "
                f"{MAX_TRANSLATION_CHARS}); it is one piece of ad copy"
            )
        key = (values["variant"], values["field"], values["locale"])
        approved[key] = (values.get("source", ""), text)
    return approved


def _cell(cell: object, name: str, row: int, column: str) -> str:
    if isinstance(cell, Formula):
        raise CampaignError(
            f"{name}, row {row}, column {column}: a formula with no saved value; write the text"
        )
    text = str(cell).strip()
    if text.startswith("'") and text[1:2] and formula_safe(text[1:]) != text[1:]:
        text = text[1:]  # the quote this file's writer put before a formula-like cell
    return text


def _read_xliff(raw: bytes, name: str) -> Approved:
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:  # entity expansion: nothing XLIFF needs
        raise CampaignError(f"{name}: an XLIFF file with a DOCTYPE or entities is not read")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as error:
        raise CampaignError(f"{name}: not readable XLIFF ({error})") from None
    if root.tag != f"{{{XLIFF}}}xliff" or not root.get("trgLang"):
        raise CampaignError(f"{name}: not XLIFF 2 (an <xliff> of {XLIFF} with trgLang)")
    locale = str(root.get("trgLang"))
    approved: dict[tuple[str, str, str], tuple[str, str]] = {}
    for unit in root.iter(f"{{{XLIFF}}}unit"):
        ident = unit.get("id", "")
        variant, _, field_name = ident.rpartition(".")
        source = "".join(unit.findtext(f".//{{{XLIFF}}}source") or "").strip()
        target = "".join(unit.findtext(f".//{{{XLIFF}}}target") or "").strip()
        if not variant or not target:
            raise CampaignError(
                f"{name}, unit {ident!r}: needs an id <variant>.<field> and a target"
            )
        approved[variant, field_name, locale] = (source, target)
    return approved
