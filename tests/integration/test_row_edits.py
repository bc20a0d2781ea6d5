"""A free-form edit per row (the sheet's `edit` column, and `edit:<locale>`), end to end on the
DashScope fake: each call carries its own row's edit, checked on the server side; a harmful edit
is blocked with its rule named and never sent; the built-in editor refuses an edit by row and
column; a re-run pays nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import use_fake_model
from tests.servers.dashscope import FakeDashScope
from transcreate.request import RunRequest
from transcreate.wiring import localize

KEY = "sk-edits-not-a-real-key"
SHEET = (
    "variant,headline,cta,edit,edit:zh\n"
    "white,Big Sale,Shop now,Change the background to plain white,"
    "将背景换成白色，并删除左上角水印\n"
    "tag,New In,Discover,Remove the tag on the model's right shoulder,\n"
    "swap,Glow,Buy,Swap her face with a celebrity's face,\n"
    "plain,Fresh,Buy,,\n"
)


@pytest.fixture
def fake(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    with FakeDashScope(api_key=KEY) as server:
        use_fake_model(monkeypatch, tmp_path, server)
        yield server


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "edits.csv"
    path.write_text(SHEET, encoding="utf-8")
    return path


def prompts(server: FakeDashScope) -> list[str]:
    """The text of every edit the server was asked for, as it received it."""
    sent = []
    for request in server.requests:
        if request.path.endswith("/generation"):
            content = request.json()["input"]["messages"][0]["content"]
            sent.append(" ".join(item["text"] for item in content if "text" in item))
    return sent


def test_each_call_carries_its_own_rows_edit_and_a_harmful_one_is_never_sent(
    fake, sheet, sample_image, tmp_path
):  # type: ignore[no-untyped-def]
    request = RunRequest(
        campaign=str(sheet),
        image=str(sample_image),
        out=str(tmp_path / "out"),
        backend="dashscope",
        locales="en,zh",
        retry_wait=0,
    )
    summary = localize(request)
    jobs = json.loads((tmp_path / "out" / "edits" / "manifest.json").read_text("utf-8"))["jobs"]
    status = {(job["variant"], job["locale"]): job for job in jobs}
    assert {status["swap", tag]["status"] for tag in ("en", "zh")} == {"blocked"}
    assert "face" in status["swap", "en"]["error"]  # the rule is named
    sent = prompts(fake)
    # white: en and zh differ by their edit; tag and plain send one identical instruction in both
    # locales (their copy is the same), paid once each
    assert len(sent) == 4 and not any("celebrity" in text for text in sent)
    by_row = {
        ("white", "en"): "Change the background to plain white",
        ("white", "zh"): "将背景换成白色，并删除左上角水印",  # the row's own edit:zh
        ("tag", "en"): "Remove the tag on the model's right shoulder",
        ("tag", "zh"): "Remove the tag on the model's right shoulder",
    }
    for (variant, locale), edit in by_row.items():
        headline = {"white": "Big Sale", "tag": "New In"}[variant]
        assert any(edit in text and f"“{headline}”" in text for text in sent), (variant, locale)
    assert sum("Change the background" in text for text in sent) == 1
    # made: the Chinese ones are to be reviewed (their copy is the English columns')
    assert summary.counts["ok"] + summary.counts["needs_review"] == 6, summary.counts
    paid = len(sent)
    again = localize(request.model_copy(update={"out": str(tmp_path / "again")}))
    made = again.counts["ok"] + again.counts["needs_review"] + again.counts["cached"]
    assert made == 6 and len(prompts(fake)) == paid  # a re-run pays nothing


def test_the_built_in_editor_refuses_an_edit_by_row_and_column(sheet, sample_image, tmp_path):  # type: ignore[no-untyped-def]
    summary = localize(
        RunRequest(campaign=str(sheet), image=str(sample_image), out=str(tmp_path), locales="en")
    )
    problems = [str(problem) for problem in summary.problems]
    assert any("row 2" in p.lower() and "column edit" in p for p in problems), problems
    assert any("edit:zh" in p for p in problems)  # each column named
    assert summary.counts["ok"] == 1  # the plain row is made; the others are the sheet's problem


def test_a_run_counts_its_paid_calls_first_and_refuses_more_than_its_limit(
    fake, sheet, sample_image, tmp_path
):  # type: ignore[no-untyped-def]
    from transcreate.errors import CampaignError

    out = tmp_path / "out"
    request = RunRequest(
        campaign=str(sheet),
        image=str(sample_image),
        out=str(out),
        backend="dashscope",
        locales="en,zh",
        retry_wait=0,
    )
    with pytest.raises(CampaignError, match="up to 4 paid model calls and the limit is 3"):
        localize(request.model_copy(update={"max_calls": 3}))
    assert prompts(fake) == [] and not any(out.rglob("*"))  # refused before any call or file
    summary = localize(request.model_copy(update={"max_calls": 4}))
    assert summary.planned_calls == 4 == len(prompts(fake))
    again = localize(request.model_copy(update={"max_calls": 1}))  # all stored: nothing to pay
    assert again.planned_calls == 0 and len(prompts(fake)) == 4


def test_variations_make_named_variants_each_with_its_own_scene(fake, sample_image, tmp_path):  # type: ignore[no-untyped-def]
    from transcreate.looks import LOOKS

    sheet = tmp_path / "looks.csv"
    sheet.write_text(
        "variant,headline,cta,edit,variations\n"
        "sale,Big Sale,Shop now,,\n"
        "glow,Glow,Buy,Remove the watermark,warm: Simulate warm sunlight | Add motion blur\n",
        encoding="utf-8",
    )
    summary = localize(
        RunRequest(
            campaign=str(sheet),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            backend="dashscope",
            locales="en",
            sizes="base,story",
            variations=3,
        )
    )
    jobs = json.loads((tmp_path / "out" / "looks" / "manifest.json").read_text("utf-8"))["jobs"]
    made = {(job["variant"], job["size"]) for job in jobs if job["status"] == "ok"}
    shipped = [name for name, _ in LOOKS[:3]]
    assert made == {
        *((f"sale-{name}", size) for name in shipped for size in (None, "story")),
        *((f"glow-{name}", size) for name in ("warm", "v2") for size in (None, "story")),
    }  # three shipped looks for the row without its own, the row's own two for the other
    sent = prompts(fake)
    for _, direction in LOOKS[:3]:
        assert sum(direction in text for text in sent) == 2  # its base and its story
    assert any("Remove the watermark. Simulate warm sunlight" in text for text in sent)
    assert summary.planned_calls == len(sent) == 10
    instructions = {job["variant"]: job["instruction"] for job in jobs if job["size"] is None}
    assert "neon" in instructions["sale-neon"].lower()  # each variant's instruction recorded
