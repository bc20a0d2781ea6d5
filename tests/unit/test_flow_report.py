"""What a run says to a manager: counts in words, progress lines, sentences, links."""

from __future__ import annotations

from pydantic import ValidationError

from transcreate.errors import CampaignError
from transcreate.flows.report import (
    browser_link,
    counts_in_words,
    manifest_markdown,
    problem_sentence,
    progress_line,
    rejected_rows_markdown,
    review_markdown,
    whole_percent,
)
from transcreate.manifest import JobResult
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


def test_the_manifest_links_each_image_and_says_why_a_cell_is_empty():
    results = [
        JobResult("a", "th", "ok", link="http://files/a th.png"),
        JobResult("a", "zh", "skipped", error="row asks only for th"),
    ]
    table = manifest_markdown(results, ["a"], ["th", "zh"])
    assert (
        table.splitlines()[2]
        == "| a | [made](http://files/a%20th.png) | skipped: row asks only for th |"
    )


def test_review_text_says_what_to_look_at_and_how_to_decide():
    text = review_markdown(
        "sale", contact_sheet="http://f/sheet.png", gallery=None, counts={"ok": 2}, timeout_hours=72
    )
    assert "[the contact sheet](http://f/sheet.png)" in text
    assert "**Resume**" in text and "*reject*" in text and "72 hours" in text


def test_a_local_link_points_into_the_served_output_folder(tmp_path, monkeypatch):
    image = tmp_path / "out" / "sale" / "th" / "a b.png"
    monkeypatch.delenv("TRANSCREATE_OUTPUT_BASE_URL", raising=False)
    assert browser_link(image.as_uri(), str(tmp_path / "out")) == image.as_uri()
    monkeypatch.setenv("TRANSCREATE_OUTPUT_BASE_URL", "http://127.0.0.1:8765/")
    served = browser_link(image.as_uri(), str(tmp_path / "out"))
    assert served == "http://127.0.0.1:8765/sale/th/a%20b.png"
    outside = (tmp_path / "elsewhere.png").as_uri()
    assert browser_link(outside, str(tmp_path / "out")) == outside
    assert browser_link("https://s3/x.png?sig=1", "s3://b/p") == "https://s3/x.png?sig=1"
