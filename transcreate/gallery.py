"""The gallery: one static page (``index.html`` beside manifest.csv) with every output of a run,
locales across and variants down, each with its status, reason, instruction and full-size link.

Self-contained: its styles are inline, it loads no font or script, and its only references are the
links it is given (relative paths beside a local folder, presigned links on S3), so it opens from
the folder, over `transcreate serve`, and from object storage alike. Every piece of spreadsheet
text is HTML-escaped. Pure: the caller decides the links.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError

from transcreate.manifest import STATUSES, STORED_STATUSES, JobResult, copy_of, count_by_status
from transcreate.sizes import parse_size

LABELS = {
    "ok": "made",
    "cached": "already made",
    "needs_review": "needs review",
    "failed": "failed",
    "blocked": "blocked",
    "skipped": "skipped",
}
# Why each status has no picture (or a flag), for a reader who does not know the word.
MEANINGS = {
    "ok": "made in this run",
    "cached": "found from an earlier run, not made again",
    "needs_review": "made, but a check flagged it: look before using it",
    "failed": "the edit failed; the reason says why",
    "blocked": "refused before any edit, by policy or a limit",
    "skipped": "no edit: the row was rejected or does not ask for this locale",
}

_STYLE = """
:root { --ink:#1d2330; --muted:#5d6675; --line:#e3e6ec; --paper:#f6f7f9; --card:#fff;
  --ok:#1f7a4d; --ok-bg:#e3f4ea; --cached:#2459a6; --cached-bg:#e4edfa;
  --needs_review:#8a5a00; --needs_review-bg:#fdf0d3; --failed:#b3261e; --failed-bg:#fbe4e2;
  --blocked:#6b2fa3; --blocked-bg:#efe4f8; --skipped:#5d6675; --skipped-bg:#eceef2; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans Thai",
  "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
header { padding: 24px 32px 8px; }
h1 { margin: 0 0 4px; font-size: 24px; font-weight: 650; }
.facts { color: var(--muted); margin: 0 0 14px; }
.facts span + span::before { content: "·"; margin: 0 8px; color: #b0b6c0; }
.summary { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 12px; padding: 0;
  list-style: none; }
.summary li { border-radius: 999px; padding: 4px 12px; font-weight: 600; }
.files a { margin-right: 16px; color: var(--cached); font-weight: 600; text-decoration: none; }
.files a:hover { text-decoration: underline; }
main { padding: 8px 32px 40px; overflow-x: auto; }
table { border-collapse: separate; border-spacing: 12px; margin: -12px; }
th { text-align: left; color: var(--muted); font-size: 12px; letter-spacing: .06em;
  text-transform: uppercase; font-weight: 650; }
thead th { position: sticky; top: 0; background: var(--paper); z-index: 1; padding: 4px 2px; }
tbody th { vertical-align: top; text-transform: none; letter-spacing: 0; font-size: 14px;
  color: var(--ink); padding-top: 8px; min-width: 120px; max-width: 200px; word-break: break-word; }
td { vertical-align: top; width: 250px; min-width: 250px; background: var(--card);
  border: 1px solid var(--line); border-radius: 12px; padding: 10px;
  box-shadow: 0 1px 2px rgba(20, 30, 50, .05); }
td.empty { background: transparent; border-style: dashed; box-shadow: none; }
.picture { display: flex; align-items: center; justify-content: center; height: 230px;
  background: repeating-conic-gradient(#f1f2f5 0% 25%, #fafbfc 0% 50%) 0 0 / 16px 16px;
  border-radius: 8px; overflow: hidden; }
.picture img { max-width: 100%; max-height: 230px; display: block; }
td:has(.picture.banner) { min-width: 520px; }
.picture.banner { height: auto; min-height: 90px; }
dl.copy { display: grid; grid-template-columns: max-content 1fr; gap: 2px 8px; margin: 6px 0 0;
  font-size: 13px; } dl.copy dt { color: var(--muted); } dl.copy dd { margin: 0; }
@media (max-width: 600px) { main { padding: 8px; } tbody th { position: sticky; left: 0;
  background: var(--paper); z-index: 1; min-width: 90px; } }
.none { height: 230px; display: flex; align-items: center; justify-content: center;
  border-radius: 8px; border: 1px dashed var(--line); color: var(--muted); font-size: 13px;
  text-align: center; padding: 12px; }
.status { display: inline-block; margin-top: 8px; border-radius: 999px; padding: 2px 10px;
  font-size: 12px; font-weight: 650; }
.reason { margin: 6px 0 0; font-size: 13px; color: var(--ink); word-break: break-word; }
.instruction { margin: 6px 0 0; font-size: 12px; color: var(--muted); word-break: break-word;
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3; overflow: hidden; }
.instruction b { color: var(--ink); font-weight: 600; margin-right: 4px; }
small.product { display: block; color: var(--muted); font-size: 12px; font-weight: 500; }
thead th small { display: block; text-transform: none; letter-spacing: 0; font-weight: 500; }
.open { display: inline-block; margin-top: 6px; font-size: 13px; color: var(--cached);
  font-weight: 600; text-decoration: none; }
.open:hover { text-decoration: underline; }
footer { color: var(--muted); padding: 0 32px 32px; font-size: 12px; }
dl.legend { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 8px 0 0; }
dl.legend dd { margin: 0; }
"""
_STYLE += "".join(
    f".s-{status} {{ color: var(--{status}); background: var(--{status}-bg); }}\n"
    for status in STATUSES
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


@lru_cache(maxsize=256)
def native_name(tag: str) -> str:
    """The locale's name in its own language (ไทย, 中文), as a manager reads a column. Babel
    reads it from the locale's whole CLDR data (~25 ms a locale, once per process)."""
    try:
        name = Locale.parse(tag, sep="-").get_display_name()
    except (ValueError, TypeError, UnknownLocaleError):
        return ""
    return name or ""


def safe_link(link: str | None) -> str | None:
    """A link the page may use: http(s), or a relative path; never javascript:, data: or file:."""
    if not link:
        return None
    scheme = urlsplit(link).scheme.lower()
    if scheme in ("http", "https") or (not scheme and not link.startswith(("//", "\\"))):
        return link
    return None


_LOOK_FIRST = frozenset({"needs_review", "failed", "blocked"})


def gallery_html(
    results: Iterable[JobResult],
    variants: Sequence[str],
    locales: Sequence[str],
    *,
    title: str,
    image_link: Callable[[JobResult], str | None],
    files: Mapping[str, str] | None = None,
    facts: Sequence[str] = (),
    counts: Mapping[str, int] | None = None,
    sizes: int = 1,
    row: Callable[[JobResult], str] | None = None,
) -> bytes:
    """The page, as UTF-8. ``image_link`` gives each stored output's link (relative or
    presigned); ``files`` are the run's other files by label (manifest.csv …); ``facts`` short
    lines about the run (source, backend, when). With ``sizes`` above one, each row is a variant
    in one size: ``row`` names a result's row, and ``counts`` are the run's, each job once."""
    cells = {(row(result) if row else result.variant, result.locale): result for result in results}
    rows = list(dict.fromkeys([*variants, *(variant for variant, _ in cells)]))
    # The rows a person must look at come first, in their order; the rest after them.
    flagged = {row for (row, _), result in cells.items() if result.status in _LOOK_FIRST}
    rows.sort(key=lambda row: row not in flagged)
    counts = counts or count_by_status(cells.values())
    shape = (
        f"{len(rows) // sizes} variants × {sizes} sizes" if sizes > 1 else f"{len(rows)} variants"
    )

    summary = "".join(
        f'<li class="s-{status}">{counts[status]} {_e(LABELS[status])}</li>'
        for status in STATUSES
        if counts[status]
    )
    links = "".join(
        f'<a href="{_e(link)}">{_e(label)}</a>'
        for label, link in (files or {}).items()
        if safe_link(link)
    )
    head = "".join(
        f"<th>{_e(locale)}<small>{_e(native_name(locale))}</small></th>" for locale in locales
    )
    legend = "".join(
        f'<dt><span class="status s-{status}">{_e(LABELS[status])}</span></dt>'
        f"<dd>{_e(MEANINGS[status])}</dd>"
        for status in STATUSES
    )
    facts_line = "".join(f"<span>{_e(fact)}</span>" for fact in facts)
    top = (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)} · gallery</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="facts"><span>{shape} × {len(locales)} locales</span>'
        f"{facts_line}</p>"
        f'<ul class="summary">{summary}</ul><p class="files">{links}</p></header>'
        f'<main><table><thead><tr><th scope="col">variant</th>{head}</tr></thead><tbody>'
    )
    bottom = (
        f'</tbody></table></main><footer><dl class="legend">{legend}</dl></footer></body></html>\n'
    )
    # Each row is encoded as it is made and the page joined once: for 10,000 jobs the page is
    # megabytes, and building it as one text first held it several times over.
    products = {key[0]: result.image for key, result in cells.items() if result.image}
    body = (
        (
            f"<tr><th>{_e(variant)}{_product(products.get(variant))}</th>"
            + "".join(_cell(cells.get((variant, locale)), image_link) for locale in locales)
            + "</tr>"
        ).encode()
        for variant in rows
    )
    return b"".join([top.encode(), *body, bottom.encode()])


def _product(location: str | None) -> str:
    """The row's own product image, named under its variant (its file name, not its link)."""
    if not location:
        return ""
    name = location.rstrip("/").rsplit("/", 1)[-1]
    return f'<small class="product" title="{_e(location)}">{_e(name)}</small>'


ROLES = {"headline": "Headline", "offer": "Offer", "ends": "Ends", "cta": "Button"}


def _is_banner(size: str | None) -> bool:
    parsed = parse_size(size) if size else None
    return parsed is not None and parsed.width >= 3 * parsed.height


def _cell(result: JobResult | None, image_link: Callable[[JobResult], str | None]) -> str:
    if result is None:
        return '<td class="empty"><div class="none">no job</div></td>'
    link = safe_link(image_link(result)) if result.status in STORED_STATUSES else None
    label = LABELS[result.status]
    alt = f"{result.variant}, {result.locale}"
    if link:
        wide = _is_banner(result.size)  # a 728×90 in a 250 px card would be unreadable
        picture = (
            f'<a class="picture{" banner" if wide else ""}" href="{_e(link)}">'
            f'<img src="{_e(link)}" alt="{_e(alt)}" loading="lazy"></a>'
        )
    else:
        picture = f'<div class="none">{_e(MEANINGS[result.status])}</div>'
    parts = [picture, f'<span class="status s-{result.status}">{_e(label)}</span>']
    if result.error:
        parts.append(f'<p class="reason">{_e(result.error)}</p>')
    copy = copy_of(result.layout)
    if copy:  # what a reviewer checks: the headline, offer and button as set
        parts.append(
            '<dl class="copy">'
            + "".join(f"<dt>{_e(ROLES.get(r, r))}</dt><dd>{_e(t)}</dd>" for r, t in copy)
            + "</dl>"
        )
    elif result.instruction:  # a model drew the copy: what it was asked
        parts.append(
            f'<p class="instruction" title="{_e(result.instruction)}">'
            f"<b>Instruction</b> {_e(result.instruction)}</p>"
        )
    if link:
        parts.append(f'<a class="open" href="{_e(link)}">Open full size ↗</a>')
    return f'<td title="{_e(alt)}">' + "".join(parts) + "</td>"
