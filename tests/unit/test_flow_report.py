"""What a run says to a manager: counts in words, progress lines, sentences, links."""

from __future__ import annotations

from pydantic import ValidationError

from transcreate.errors import CampaignError
from transcreate.flows.report import (
    counts_in_words,
    problem_sentence,
    progress_line,
    rejected_rows_markdown,
    review_markdown,
    whole_percent,
)
from transcreate.request import RunOptions


def test_counts_are_words_without_zeros():
    counts = {"ok": 20, "cached": 0, "failed": 1, "skipped": 3, "blocked": 0, "needs_review": 0}
    assert counts_in_words(counts) == "20 made, 1 failed, 3 skipped"
    assert counts_in_words({"ok": 0}) == "nothing to make"


def test_progress_is_whole_percents_and_100_only_when_done():
    assert [whole_percent(done, 220) for done in (0, 52, 219, 220)] == [0, 23, 99, 100]
    assert whole_percent(0, 0) == 100
    assert progress_line(120, 220, 3) == "120/220 done, 3 failed"


def test_a_refused_input_is_its_first_line_and_a_bad_setting_names_the_field():
    error = CampaignError("sheet.csv: 2 row(s) rejected\n  row 3: bad\n  row 4: bad")
    assert problem_sentence(error) == "sheet.csv: 2 row(s) rejected"
    try:
        RunOptions(backend="dashscope", mode="overlay")
    except ValidationError as invalid:
        sentence = problem_sentence(invalid)
    assert sentence.startswith("The run's settings were refused (")
    assert "overlay" in sentence and "\n" not in sentence


def test_rejected_rows_are_listed_one_each_with_their_markup_escaped():
    text = rejected_rows_markdown(
        "sale", ["s.csv, row 3: <b>[x](y)</b>", "s.csv, row 4: z"], strict=True
    )
    assert "Strict mode is on, so nothing was made" in text
    assert "- s.csv, row 3: \\<b\\>\\[x\\]\\(y\\)\\</b\\>" in text
    assert text.count("\n- ") == 2


def test_review_text_says_what_to_look_at_and_how_to_decide():
    text = review_markdown(
        "sale", contact_sheet="http://f/sheet.png", gallery=None, counts={"ok": 2}, timeout_hours=72
    )
    assert "[the contact sheet](http://f/sheet.png)" in text
    assert "**Resume**" in text and "*reject*" in text and "72 hours" in text


def test_review_text_shows_each_machine_translation_beside_its_source():
    from transcreate.translation.fill import Piece

    pieces = [
        Piece("sale", 2, "headline", "th", "Big Sale", "ลดครั้งใหญ่", "machine"),
        Piece("sale", 2, "cta", "th", "Shop now", "ซื้อ|เลย", "machine", "lost 'X'"),
        Piece("sale", 2, "headline", "zh", "Big Sale", "大促", "approved"),
    ]
    text = review_markdown(
        "sale", contact_sheet="s.png", gallery=None, counts={}, timeout_hours=1,
        translations=pieces,
    )  # fmt: skip
    assert "| sale | th | headline | Big Sale | ลดครั้งใหญ่ |" in text
    assert "| sale | th | cta | Shop now | ซื้อ\\|เลย (lost 'X') |" in text  # a cell stays one
    assert "大促" not in text  # approved already
