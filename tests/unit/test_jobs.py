from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from transcreate.campaign import Campaign, Variant, read_campaign
from transcreate.jobs import EditJob, Expansion, Overlay, expand

LOCALES = ("id", "th", "zh", "en")
IMAGE = "a" * 64
BACKEND = "local/1"


@pytest.fixture(scope="module")
def sample(sample_campaign: Path) -> Campaign:
    return read_campaign(sample_campaign)


@pytest.fixture(scope="module")
def expansion(sample: Campaign) -> Expansion:
    return expand(sample, LOCALES, image_sha256=IMAGE, backend=BACKEND)


def job_for(expansion: Expansion, variant: str, locale: str) -> EditJob:
    [job] = [j for j in expansion.jobs if (j.variant, j.locale) == (variant, locale)]
    return job


def overlay(job: EditJob, role: str) -> Overlay:
    [found] = [o for o in job.overlays if o.role == role]
    return found


def campaign_of(tmp_path: Path, text: str) -> Campaign:
    path = tmp_path / "sale.csv"
    path.write_text(text, encoding="utf-8")
    return read_campaign(path)


# --- the sample campaign --------------------------------------------------------------------------


def test_sample_expands_to_22_jobs_and_2_skipped_cells(expansion: Expansion) -> None:
    assert (len(expansion.jobs), len(expansion.skipped)) == (22, 2)


def test_bundle_deal_is_skipped_outside_its_locales_with_the_reason(expansion: Expansion) -> None:
    assert [(s.variant, s.locale, s.reason) for s in expansion.skipped] == [
        ("bundle-deal", "zh", "row 7 asks only for id, th"),
        ("bundle-deal", "en", "row 7 asks only for id, th"),
    ]


def test_jobs_come_in_variant_then_locale_order(expansion: Expansion, sample: Campaign) -> None:
    expected = [
        (v.variant, locale)
        for v in sample.variants
        for locale in LOCALES
        if v.locales is None or locale in v.locales
    ]
    assert [(j.variant, j.locale) for j in expansion.jobs] == expected


def test_job_carries_the_campaign_template_and_position(expansion: Expansion) -> None:
    job = job_for(expansion, "summer-sale", "th")
    assert (job.campaign, job.template, job.position) == (
        "skincare-sale",
        "default",
        "bottom-center",
    )
    assert (job.image_sha256, job.backend) == (IMAGE, BACKEND)


def test_instruction_is_in_the_job_locale(expansion: Expansion) -> None:
    assert job_for(expansion, "summer-sale", "th").instruction.startswith(
        "เพิ่ม “ส่วนลดใหญ่” เป็นสีเหลือง"
    )
    assert job_for(expansion, "summer-sale", "en").instruction.startswith(
        "Add “Big Sale” in yellow at the bottom center."
    )


def test_overlays_carry_the_localized_offer(expansion: Expansion) -> None:
    assert overlay(job_for(expansion, "bundle-deal", "id"), "offer").text == (
        "Diskon 30%, kini Rp349.000"
    )
    assert overlay(job_for(expansion, "summer-sale", "th"), "offer").text == "เพียง ฿399"
    assert overlay(job_for(expansion, "summer-sale", "zh"), "offer").text == "仅需¥89"
    assert overlay(job_for(expansion, "summer-sale", "en"), "offer").text == "Only $12.99"


def test_overlays_carry_the_localized_end_date(expansion: Expansion) -> None:
    assert overlay(job_for(expansion, "flash-deal", "id"), "ends").text == "Berakhir 12 Des 2026"
    assert overlay(job_for(expansion, "flash-deal", "zh"), "ends").text == "2026年12月12日截止"


def test_overlays_come_in_reading_order(expansion: Expansion) -> None:
    roles = [o.role for o in job_for(expansion, "flash-deal", "en").overlays]
    assert roles == ["headline", "offer", "ends", "cta"]


def test_overlays_without_copy_are_left_out(expansion: Expansion) -> None:
    roles = [o.role for o in job_for(expansion, "new-arrival", "en").overlays]
    assert roles == ["headline", "cta"]


def test_overlay_colours_are_hex(expansion: Expansion) -> None:
    colours = {o.color for job in expansion.jobs for o in job.overlays}
    assert all(re.fullmatch(r"#[0-9A-F]{6}", colour) for colour in colours), colours
    assert overlay(job_for(expansion, "summer-sale", "id"), "headline").color == "#FFD600"


# --- job keys -------------------------------------------------------------------------------------


def test_job_key_is_stable_across_expansions(sample: Campaign, expansion: Expansion) -> None:
    again = expand(sample, LOCALES, image_sha256=IMAGE, backend=BACKEND)
    assert [j.key for j in again.jobs] == [j.key for j in expansion.jobs]


def test_job_keys_are_distinct(expansion: Expansion) -> None:
    keys = [j.key for j in expansion.jobs]
    assert len(set(keys)) == len(keys)


def test_job_key_is_a_sha256_hex_digest(expansion: Expansion) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", expansion.jobs[0].key)


@pytest.mark.parametrize(
    "change",
    [
        {"instruction": "Add “Big Sale” in red."},
        {"overlays": (Overlay("headline", "Big Sale", "#E53935"),)},
        {"image_sha256": "b" * 64},
        {"backend": "dashscope/qwen-image-edit-plus"},
        {"position": "top-left"},
        {"locale": "ms"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_job_key_changes_with_what_determines_the_output(
    expansion: Expansion, change: dict[str, object]
) -> None:
    job = expansion.jobs[0]
    assert dataclasses.replace(job, **change).key != job.key  # type: ignore[arg-type]


def test_job_key_does_not_change_with_the_campaign_name(expansion: Expansion) -> None:
    job = expansion.jobs[0]
    assert dataclasses.replace(job, campaign="renamed").key == job.key


def test_job_key_follows_the_backend_given_to_expand(
    sample: Campaign, expansion: Expansion
) -> None:
    other = expand(sample, LOCALES, image_sha256=IMAGE, backend="openai/qwen-image-edit")
    assert not {j.key for j in other.jobs} & {j.key for j in expansion.jobs}


# --- rows with partial copy -----------------------------------------------------------------------


def test_row_with_only_a_thai_headline_is_skipped_for_other_locales(tmp_path: Path) -> None:
    campaign = campaign_of(tmp_path, "variant,headline,headline:th\nthai-only,,ส่วนลดใหญ่\n")
    expansion = expand(campaign, ("th", "id"), image_sha256=IMAGE, backend=BACKEND)
    assert [(j.variant, j.locale) for j in expansion.jobs] == [("thai-only", "th")]
    [skipped] = expansion.skipped
    assert (skipped.variant, skipped.locale) == ("thai-only", "id")
    assert "row 2 has no headline for id" in skipped.reason
    assert "fill 'headline:id'" in skipped.reason


def test_per_row_locales_are_respected(tmp_path: Path) -> None:
    campaign = campaign_of(tmp_path, "variant,headline,locales\nonly-th,Sale,th\nall,Sale,\n")
    expansion = expand(campaign, ("id", "th"), image_sha256=IMAGE, backend=BACKEND)
    assert [(j.variant, j.locale) for j in expansion.jobs] == [
        ("only-th", "th"),
        ("all", "id"),
        ("all", "th"),
    ]
    assert [(s.variant, s.locale) for s in expansion.skipped] == [("only-th", "id")]


def test_row_locale_outside_the_run_makes_no_job(tmp_path: Path) -> None:
    campaign = campaign_of(tmp_path, "variant,headline,locales\nvi-only,Sale,vi\n")
    expansion = expand(campaign, ("th",), image_sha256=IMAGE, backend=BACKEND)
    assert expansion.jobs == ()
    assert [s.reason for s in expansion.skipped] == ["row 2 asks only for vi"]


def test_template_problem_skips_the_cell_with_the_reason() -> None:
    variant = Variant("s", 2, {"headline": {"": "Sale"}}, template="no-such-template")
    campaign = Campaign("c", "c.csv", (variant,))
    expansion = expand(campaign, ("en",), image_sha256=IMAGE, backend=BACKEND)
    assert expansion.jobs == ()
    [skipped] = expansion.skipped
    assert "no instruction template 'no-such-template'" in skipped.reason


def test_custom_colour_is_passed_through_as_hex(tmp_path: Path) -> None:
    campaign = campaign_of(tmp_path, "variant,headline,color\ns,Sale,#fc0\n")
    [job] = expand(campaign, ("en",), image_sha256=IMAGE, backend=BACKEND).jobs
    assert {o.color for o in job.overlays} == {"#FFCC00"}


# --- a missing translation is never silent -------------------------------------------------------

FALLBACK_SHEET = (
    "variant,headline,headline:th,cta,cta:th,fallback\n"
    "full,Big Sale,ลดใหญ่,Buy,ซื้อ,\n"
    "missing,Flash Sale,,Grab it,คว้าเลย,\n"
    "meant,Brand Day,,Shop,,yes\n"
)


def test_a_locale_left_empty_falls_back_with_its_reason(tmp_path: Path) -> None:
    from transcreate.jobs import FALLBACK_REASON

    expansion = expand(
        campaign_of(tmp_path, FALLBACK_SHEET), ["th", "en"], image_sha256=IMAGE, backend=BACKEND
    )
    reason = job_for(expansion, "missing", "th").fallback
    assert reason is not None and reason.startswith(FALLBACK_REASON)
    assert "row 3" in reason and "headline:th" in reason and "'Flash Sale'" in reason
    assert "cta:th" not in reason  # the row has its own Thai call to action
    assert job_for(expansion, "full", "th").fallback is None
    # No headline:en column: the default column is the English copy, not a fallback.
    assert job_for(expansion, "missing", "en").fallback is None


def test_a_fallback_marked_as_intended_is_not_flagged(tmp_path: Path) -> None:
    expansion = expand(
        campaign_of(tmp_path, FALLBACK_SHEET), ["th"], image_sha256=IMAGE, backend=BACKEND
    )
    assert job_for(expansion, "meant", "th").fallback is None


def test_a_run_may_allow_every_fallback(tmp_path: Path) -> None:
    expansion = expand(
        campaign_of(tmp_path, FALLBACK_SHEET),
        ["th"],
        image_sha256=IMAGE,
        backend=BACKEND,
        allow_fallback=True,
    )
    assert [job.fallback for job in expansion.jobs] == [None, None, None]


def test_the_fallback_does_not_change_the_job_key(tmp_path: Path) -> None:
    flagged = expand(
        campaign_of(tmp_path, FALLBACK_SHEET), ["th"], image_sha256=IMAGE, backend=BACKEND
    )
    allowed = expand(
        campaign_of(tmp_path, FALLBACK_SHEET),
        ["th"],
        image_sha256=IMAGE,
        backend=BACKEND,
        allow_fallback=True,
    )
    assert [job.key for job in flagged.jobs] == [job.key for job in allowed.jobs]


def test_a_fallback_cell_that_is_not_yes_or_no_is_a_row_problem(tmp_path: Path) -> None:
    campaign = campaign_of(tmp_path, "variant,headline,fallback\na,A,maybe\n")
    [problem] = campaign.problems
    assert (problem.row, problem.column) == (2, "fallback")


def test_the_sample_has_no_fallback(expansion: Expansion) -> None:
    assert [job for job in expansion.jobs if job.fallback] == []


def test_outpainting_asks_for_the_scene_in_ad_sizes_only(sample_campaign) -> None:  # type: ignore[no-untyped-def]
    campaign = read_campaign(sample_campaign)
    common = {"image_sha256": "0" * 64, "backend": "m", "sizes": (None, "story")}
    jobs = expand(campaign, ["en"], mode="model", outpaint=True, **common).jobs  # type: ignore[arg-type]
    base = [job for job in jobs if job.size is None]
    story = [job for job in jobs if job.size == "story"]
    extend = "Extend the scene into the blurred margins; keep the photo and product unchanged."
    assert base and story
    assert all(extend in job.instruction for job in story)
    assert not any(extend in job.instruction for job in base)
    assert all("Keep the product and background unchanged." in job.instruction for job in base)
    # The compositor's modes send no scene to a model: outpainting changes nothing there.
    plain = expand(campaign, ["en"], mode="overlay", **common).jobs  # type: ignore[arg-type]
    asked = expand(campaign, ["en"], mode="overlay", outpaint=True, **common).jobs  # type: ignore[arg-type]
    assert [job.key for job in plain] == [job.key for job in asked]


def test_a_locale_without_copy_or_wording_of_its_own_is_never_silently_english(tmp_path) -> None:  # type: ignore[no-untyped-def]
    campaign = campaign_of(
        tmp_path,
        "variant,headline,headline:sw,headline:id,cta,cta:sw,cta:id,discount\n"
        "a,Big Sale,,Diskon Besar,Shop,,Beli,30\n"
        "b,Big Sale,Punguzo Kubwa,Diskon,Shop,Nunua,Beli,\n"
        "c,Big Sale,Punguzo Kubwa,Diskon,Shop,Nunua,Beli,30\n",
    )
    jobs = {
        (job.variant, job.locale): job
        for job in expand(
            campaign, ["sw", "id", "en", "ms"], image_sha256="0" * 64, backend="x"
        ).jobs
    }
    # No Malay column at all: the English copy would be on the Malay creative.
    assert "no Malay copy" in (jobs["a", "ms"].fallback or "")
    assert "add headline:ms, cta:ms to the sheet" in (jobs["a", "ms"].fallback or "")
    # A Swahili cell left empty: said as before.
    assert "leaves headline:sw" in (jobs["a", "sw"].fallback or "")
    # Its own copy, but Swahili has no wording for the offer: "30% off" would be English.
    assert "no Swahili wording" in (jobs["c", "sw"].fallback or "")
    assert jobs["b", "sw"].fallback is None  # all its own, and no offer to word
    # English is the sheet's own language, Indonesian has its copy and its wording.
    assert jobs["a", "en"].fallback is None and jobs["c", "id"].fallback is None
