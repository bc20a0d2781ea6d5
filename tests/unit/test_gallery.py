"""The gallery page: every cell with its status and reason, escaped, and self-contained."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from transcreate.gallery import LABELS, gallery_html, safe_link
from transcreate.manifest import STATUSES, JobResult

LOCALES = ("id", "th", "zh", "en")
REASONS = {
    "needs_review": "the copy read back as 'Big Sal'",
    "failed": "dashscope: HTTP 429 after 3 attempts",
    "blocked": "policy 2026-01: a blocked claim",
    "skipped": "row 4 asks only for id",
}


def cell(variant: str, locale: str, status: str, **fields: object) -> JobResult:
    stored = status in ("ok", "cached", "needs_review")
    return JobResult(
        variant,
        locale,
        status,  # type: ignore[arg-type]
        key=f"{variant}{locale}".ljust(8, "0") if stored else None,
        link=f"https://cdn.example/{variant}/{locale}.png?X-Amz-Signature=abc" if stored else None,
        instruction=fields.pop("instruction", f"Add the {locale} headline")  # type: ignore[arg-type]
        if status != "skipped"
        else None,
        error=REASONS.get(status),
        **fields,  # type: ignore[arg-type]
    )


class Page(HTMLParser):
    """The page's cells (text per <td>), every tag, and every attribute that loads or links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.titles: list[str] = []  # each cell's title: "variant, locale"
        self.tags: list[str] = []
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.attributes: list[str] = []
        self._in_cell = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data"):
                self.references.append((tag, name, value or ""))
        if tag == "td":
            self._in_cell = True
            self.cells.append("")
            self.titles.append(dict(attrs).get("title") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data + " "


@pytest.fixture
def every_status() -> list[JobResult]:
    return [
        cell("summer", "id", "ok"),
        cell("summer", "th", "cached"),
        cell("summer", "zh", "needs_review"),
        cell("summer", "en", "failed"),
        cell("flash", "id", "blocked"),
        cell("flash", "th", "skipped"),
    ]


def page_of(results: list[JobResult], variants: list[str] | None = None) -> str:
    return gallery_html(
        results,
        variants or ["summer", "flash"],
        LOCALES,
        title="skincare-sale",
        image_link=lambda result: result.link,
        files={"manifest.csv": "manifest.csv", "contact sheet": "contact-sheet.png"},
        facts=["from sale.csv and creative.png", "local (overlay)"],
    ).decode()


def test_every_status_is_shown_in_its_cell_with_its_reason(every_status):
    page = Page(page_of(every_status))
    cells = dict(zip(page.titles, page.cells, strict=True))
    for result in every_status:
        shown = cells[f"{result.variant}, {result.locale}"]
        assert LABELS[result.status] in shown
        if result.status in REASONS:
            assert REASONS[result.status] in shown
        if result.instruction:
            assert result.instruction in shown
    assert sum("no job" in c for c in page.cells) == 2  # flash/zh and flash/en have no job


def test_every_stored_output_has_its_thumbnail_and_a_full_size_link(every_status):
    page = Page(page_of(every_status))
    stored = {r.link for r in every_status if r.status in ("ok", "cached", "needs_review")}
    thumbnails = {value for tag, name, value in page.references if tag == "img" and name == "src"}
    full_size = {value for tag, name, value in page.references if tag == "a" and name == "href"}
    assert thumbnails == stored
    assert stored <= full_size


def test_the_summary_counts_every_status_present(every_status):
    text = re.sub(r"<[^>]+>", " ", page_of(every_status))
    for status in STATUSES:
        assert f"1 {LABELS[status]}" in text


def test_spreadsheet_text_is_escaped_everywhere():
    hostile = "<script>alert(1)</script>"
    results = [
        cell(hostile, "id", "ok", instruction='Add "<img src=x onerror=alert(2)>" at the top'),
        cell(hostile, "th", "failed"),
    ]
    text = gallery_html(
        results,
        [hostile],
        LOCALES,
        title=f"sale {hostile}",
        image_link=lambda r: r.link,
        facts=[f"from {hostile}.csv"],
    ).decode()
    page = Page(text)
    assert "<script" not in text.lower()
    assert "script" not in page.tags and "onerror" not in page.attributes
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


def test_the_page_loads_nothing_but_the_images_own_links(every_status):
    text = page_of(every_status)
    page = Page(text)
    image_links = {r.link for r in every_status if r.link}
    for _, _, value in page.references:
        if value.startswith(("http://", "https://", "//")):
            assert value in image_links
    outside = set(re.findall(r"https?://[^\s\"'<>)]+", text)) - {
        link.replace("&", "&amp;") for link in image_links
    }
    assert outside == set()
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert "@import" not in text and "url(" not in text


def test_links_may_be_relative_beside_a_local_folder(every_status):
    text = gallery_html(
        every_status,
        ["summer", "flash"],
        LOCALES,
        title="sale",
        image_link=lambda r: f"{r.locale}/{r.variant}-{r.key[:8]}.png" if r.key else None,
    ).decode()
    sources = [value for tag, name, value in Page(text).references if tag == "img"]
    assert sources and all(not re.match(r"[a-z]+:", source) for source in sources)
    assert "id/summer-summerid.png" in sources


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "//evil"]
)
def test_links_that_are_not_http_or_relative_are_never_used(link):
    assert safe_link(link) is None
    text = gallery_html(
        [cell("summer", "id", "ok")], ["summer"], ["id"], title="t", image_link=lambda _: link
    ).decode()
    assert link not in text and "<img" not in text


def test_columns_name_their_language():
    text = page_of([cell("summer", "th", "ok"), cell("summer", "zh", "ok")])
    assert "ไทย" in text and "中文" in text


def test_rows_a_person_must_look_at_come_first():
    results = [
        cell("summer", "id", "ok"),
        cell("flash", "id", "ok"),
        cell("bundle", "id", "needs_review"),
        cell("member", "id", "cached"),
    ]
    text = page_of(results, ["summer", "flash", "bundle", "member"])
    order = re.findall(r"<tr><th>([^<]+)</th>", text)
    assert order == ["bundle", "summer", "flash", "member"]


def test_a_card_shows_the_copy_it_carries_and_a_banner_gets_room_to_read():
    layout = {
        "elements": [
            {"role": "headline", "lines": ["ลดรับ", "หน้าร้อน"]},
            {"role": "offer", "lines": ["Up to", "50% off"]},
            {"role": "cta", "lines": ["ช้อปเลย"]},
        ]
    }
    made = cell("summer", "th", "ok", layout=layout, size="728x90")
    model = cell("flash", "th", "ok", instruction="Add 'Big Sale' in yellow")
    page = page_of([made, model])
    # Thai joined without a space, English with one; the model's card keeps its instruction.
    assert "<dt>Headline</dt><dd>ลดรับหน้าร้อน</dd>" in page
    assert (
        "<dt>Offer</dt><dd>Up to 50% off</dd>" in page and "<dt>Button</dt><dd>ช้อปเลย</dd>" in page
    )
    assert page.count("<b>Instruction</b>") == 1 and "Add &#x27;Big Sale&#x27;" in page
    assert 'class="picture banner"' in page and page.count("picture banner") == 1
