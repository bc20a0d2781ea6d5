"""The markdown a run shows in the Prefect UI: linked manifest cells, the contact sheet."""

from __future__ import annotations

import re

from transcreate.artifacts import (
    CELL_REASON_CHARS,
    SERVE_HINT,
    browser_link,
    cell,
    contact_sheet_markdown,
    manifest_markdown,
)
from transcreate.manifest import JobResult

LOCALES = ["id", "th", "zh", "en"]
LINK = "https://bucket.s3.example/sale/th/summer-1234abcd.png?X-Amz-Signature=f00"
LONG = "dashscope: HTTP 400: the instruction asks for text the model cannot draw; use model+overlay"


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_a_finished_cell_is_a_link_labelled_by_its_status():
    assert cell(JobResult("summer", "th", "ok", link=LINK)) == f"[made]({LINK})"
    assert cell(JobResult("summer", "th", "cached", link=LINK)) == f"[made earlier]({LINK})"


def test_a_flagged_cell_links_the_image_and_says_why():
    result = JobResult("summer", "th", "needs_review", link=LINK, error="copy read 'Big Sal'")
    assert cell(result) == f"[needs review]({LINK}): copy read 'Big Sal'"


def test_a_cell_without_an_image_says_its_status_and_reason():
    assert cell(JobResult("a", "th", "failed", error="HTTP 429")) == "failed: HTTP 429"
    assert cell(JobResult("a", "th", "skipped", error="row 3 asks only for id")) == (
        "skipped: row 3 asks only for id"
    )
    assert cell(None) == "—"


def test_a_file_link_is_not_offered_as_a_browser_link():
    result = JobResult("summer", "th", "ok", uri="file:///out/a.png", link="file:///out/a.png")
    assert cell(result) == "made"
    text = manifest_markdown([result], ["summer"], ["th"])
    assert "file://" not in text and SERVE_HINT in text


def test_the_table_stays_readable_with_four_locales():
    results = [
        JobResult(variant, locale, "failed", error=LONG)
        if locale == "zh"
        else JobResult(variant, locale, "ok", link=LINK)
        for variant in ("summer", "flash")
        for locale in LOCALES
    ]
    lines = manifest_markdown(results, ["summer", "flash"], LOCALES).splitlines()
    assert lines[0] == "| variant | id | th | zh | en |"
    assert lines[1] == "|---|---|---|---|---|"
    for row in lines[2:4]:
        assert unescaped_pipes(row) == 6
        failed = row.split(" | ")[3]
        assert failed.startswith("failed: ") and len(failed) <= len("failed: ") + CELL_REASON_CHARS
    escaped = LONG.replace("+", r"\+")
    assert f"- summer / zh, failed: {escaped}" in lines  # the reason in full


def test_spreadsheet_text_cannot_break_the_table_or_inject_markup():
    result = JobResult("a|b [x](javascript:alert(1))", "th", "failed", error="<img src=x> | *bold*")
    row = manifest_markdown([result], [result.variant], ["th"]).splitlines()[2]
    assert unescaped_pipes(row) == 3
    assert "<" not in row and "](javascript" not in row
    assert r"&lt;img src=x&gt; \| \*bold\*" in row


def test_a_link_with_parentheses_or_spaces_stays_one_link():
    assert browser_link("https://x.example/a (1).png") == "https://x.example/a%20%281%29.png"
    assert browser_link("javascript:alert(1)") is None
    assert browser_link("file:///out/a.png") is None


def test_rows_of_rejected_lines_are_listed_after_the_variants():
    results = [JobResult("summer", "th", "ok", link=LINK), JobResult("row-5", "th", "skipped")]
    lines = manifest_markdown(results, ["summer"], ["th"]).splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| summer", "| row-5"]


def test_the_contact_sheet_renders_as_an_image_with_the_gallery_linked():
    text = contact_sheet_markdown(
        LINK, campaign="sale", shown=24, total=30, gallery="https://x.example/sale/index.html"
    )
    assert f"![contact sheet of sale]({LINK})" in text
    assert "[Open the gallery](https://x.example/sale/index.html)" in text
    assert "the first 24 of 30 variants" in text


def test_a_contact_sheet_on_the_worker_says_how_to_see_it():
    text = contact_sheet_markdown(
        "file:///out/sale/contact-sheet.png", campaign="sale", shown=6, total=6
    )
    assert "![" not in text
    assert "`file:///out/sale/contact-sheet.png`" in text and SERVE_HINT in text
    assert "all 6 variants" in text
