"""Markdown a run shows in the Prefect UI: the manifest as linked cells, the contact sheet. Pure.

Cells are short (a status, linked to the image when it has a browser link, and a clipped reason)
so a table of four locales still fits a screen; the full reasons follow the table. Every piece of
spreadsheet text is escaped: it is data, never markdown or HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from transcreate.manifest import JobResult

CELL_REASON_CHARS = 48  # a reason longer than this is clipped in its cell (in full below)
MAX_DETAILS = 50  # full reasons listed under the table; the rest are in manifest.json
SERVE_HINT = (
    "The links open once the output folder is served: run `transcreate serve <out folder>` and "
    "set `TRANSCREATE_OUTPUT_BASE_URL` to the address it prints, for the worker."
)

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}  # no HTML gets through, whatever renders it
_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\n": "", "\r": ""}
# A cell's status in a manager's words (the gallery and the run's summary speak the same way).
_LABELS = {"ok": "made", "cached": "made earlier", "needs_review": "needs review"}


def text(value: str) -> str:
    """Spreadsheet or provider text as literal markdown: one line, every special escaped."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.split()))
    return "".join(_ENTITIES.get(character, character) for character in escaped)


def browser_link(link: str | None) -> str | None:
    """``link`` made safe inside ``[…](…)``, when it is an http(s) link; None otherwise."""
    if not link or not link.startswith(("https://", "http://")):
        return None
    return "".join(_URL_UNSAFE.get(character, character) for character in link)


def _clip(reason: str, limit: int = CELL_REASON_CHARS) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= limit else reason[: limit - 1].rstrip() + "…"


def cell(result: JobResult | None) -> str:
    """One cell: ``[made](link)``, ``[needs review](link): reason``, ``failed: reason``."""
    if result is None:
        return "—"
    label = _LABELS.get(result.status, result.status)
    link = browser_link(result.link)
    shown = f"[{label}]({link})" if link else label
    if result.error and result.status not in ("ok", "cached"):
        shown += f": {text(_clip(result.error))}"
    return shown


def manifest_markdown(
    results: Iterable[JobResult], variants: Sequence[str], locales: Sequence[str]
) -> str:
    """The manifest as a markdown table, variants down and locales across, each cell linked."""
    cells = {(result.variant, result.locale): result for result in results}
    rows = list(dict.fromkeys([*variants, *(variant for variant, _ in cells)]))
    lines = [
        "| variant | " + " | ".join(text(locale) for locale in locales) + " |",
        "|---" * (len(locales) + 1) + "|",
    ]
    for variant in rows:
        row = [cell(cells.get((variant, locale))) for locale in locales]
        lines.append(f"| {text(variant)} | " + " | ".join(row) + " |")
    explained = [
        result
        for variant in rows
        for locale in locales
        if (result := cells.get((variant, locale))) is not None
        and result.error
        and len(" ".join(result.error.split())) > CELL_REASON_CHARS
    ]
    if explained:
        lines += ["", "**In full:**", ""]
        for result in explained[:MAX_DETAILS]:
            label = _LABELS.get(result.status, result.status)
            where = f"{text(result.variant)} / {text(result.locale)}"
            lines.append(f"- {where}, {label}: {text(result.error or '')}")
        if len(explained) > MAX_DETAILS:
            lines.append(f"- … and {len(explained) - MAX_DETAILS} more in manifest.json")
    stored = [result for result in cells.values() if result.link or result.uri]
    if stored and not any(browser_link(result.link) for result in stored):
        lines += ["", SERVE_HINT]
    return "\n".join(lines) + "\n"


def contact_sheet_markdown(
    link: str,
    *,
    campaign: str,
    shown: int,
    total: int,
    gallery: str | None = None,
) -> str:
    """The contact sheet as an image in the run's artifacts, with a link to the gallery page."""
    lines = [f"# {text(campaign)}", ""]
    caption = f"Locales across, the first {shown} of {total} variants down."
    if shown >= total:
        caption = f"Locales across, all {total} variants down."
    gallery_link = browser_link(gallery)
    if gallery_link:
        caption += (
            f" [Open the gallery]({gallery_link}): every image full size, with its status and "
            "instruction."
        )
    lines += [caption, ""]
    image = browser_link(link)
    if image:
        lines.append(f"![contact sheet of {text(campaign)}]({image})")
    else:
        lines += [f"The contact sheet is on the worker: `{link.replace('`', '')}`.", "", SERVE_HINT]
    return "\n".join(lines) + "\n"
