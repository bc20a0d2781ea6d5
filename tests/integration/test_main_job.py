"""The main job on the shipped sample, in process: every locale × variant, a manifest, a re-run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tests.conftest import counts
from transcreate.request import RunRequest
from transcreate.run import RunSummary
from transcreate.wiring import localize

LOCALES = ["id", "th", "zh", "en"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, sample_campaign, sample_image) -> tuple[RunSummary, Path]:
    out = tmp_path_factory.mktemp("out")
    request = RunRequest(campaign=str(sample_campaign), image=str(sample_image), out=str(out))
    return localize(request), out


def manifest(out: Path) -> dict:
    return json.loads((out / "skincare-sale" / "manifest.json").read_text(encoding="utf-8"))


def test_every_variant_and_locale_is_rendered(first_run):
    summary, out = first_run
    assert summary.counts == counts(ok=22, skipped=2)
    assert summary.succeeded
    for record in manifest(out)["jobs"]:
        if record["status"] == "ok":
            assert Path(record["uri"].removeprefix("file://")).is_file()


def test_the_matrix_has_a_row_per_variant_and_a_column_per_locale(first_run):
    _, out = first_run
    text = (out / "skincare-sale" / "manifest.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    assert [row["variant"] for row in rows] == [
        "summer-sale",
        "new-arrival",
        "flash-deal",
        "member-promo",
        "free-shipping",
        "bundle-deal",
    ]
    assert list(rows[0]) == ["variant", *LOCALES]
    for row in rows[:-1]:
        assert all(row[locale].startswith("file://") for locale in LOCALES)
    assert rows[-1]["zh"].startswith("[skipped]") and "asks only for id, th" in rows[-1]["zh"]


def test_outputs_change_where_the_copy_goes_and_nowhere_far_from_it(first_run, sample_image):
    _, out = first_run
    base = Image.open(sample_image).convert("RGB")
    for record in manifest(out)["jobs"]:
        if record["status"] != "ok":
            continue
        output = Image.open(record["uri"].removeprefix("file://")).convert("RGB")
        assert output.size == base.size
        difference = ImageChops.difference(output, base)
        left, top, right, bottom = difference.getbbox()
        assert (right - left) * (bottom - top) > 10_000, record["variant"]
        # Nothing changes far from the copy the layout recorded (its boxes, with room for the
        # outline, shadow or plate drawn around a line).
        outside = Image.new("L", base.size, 255)
        boxes = [element["box"] for element in record["layout"]["elements"]]
        if record["layout"].get("plate_box"):  # the one panel behind the copy's text
            boxes.append(record["layout"]["plate_box"])
        for left, top, right, bottom in boxes:
            outside.paste(0, (left - 16, top - 16, right + 16, bottom + 16))
        far = ImageChops.multiply(difference.convert("L"), outside)
        assert far.getbbox() is None, (record["variant"], record["locale"], far.getbbox())


def test_the_headline_box_is_where_pixels_changed(first_run, sample_image):
    _, out = first_run
    base = Image.open(sample_image).convert("RGB")
    record = next(
        r for r in manifest(out)["jobs"] if (r["variant"], r["locale"]) == ("summer-sale", "th")
    )
    # The layout the editor used is recorded per job: the headline's box is where it drew.
    [headline] = [e for e in record["layout"]["elements"] if e["role"] == "headline"]
    assert headline["lines"] and "".join(headline["lines"]).replace(" ", "") == "ส่วนลดใหญ่"
    output = Image.open(record["uri"].removeprefix("file://")).convert("RGB")
    scale = output.width / record["layout"]["canvas"][0]
    box = tuple(round(v * scale) for v in headline["box"])
    changed = ImageChops.difference(output.crop(box), base.crop(box)).getbbox()
    assert changed is not None


def test_a_second_run_is_all_cached_and_edits_nothing(first_run, sample_campaign, sample_image):
    _, out = first_run
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.png")}
    layouts = {(job["variant"], job["locale"]): job["layout"] for job in manifest(out)["jobs"]}
    request = RunRequest(campaign=str(sample_campaign), image=str(sample_image), out=str(out))
    summary = localize(request)
    assert summary.counts == counts(cached=22, skipped=2)
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.png")} == before
    assert all(record["status"] in ("cached", "skipped") for record in manifest(out)["jobs"])
    # the layout each output was made with is still on record, without reading the images back
    assert {(job["variant"], job["locale"]): job["layout"] for job in manifest(out)["jobs"]} == (
        layouts
    )
    assert sum(layout is not None for layout in layouts.values()) == 22


def test_a_cached_size_keeps_its_reframe_record(tmp_path, sample_campaign, sample_image):
    request = RunRequest(
        campaign=str(sample_campaign),
        image=str(sample_image),
        out=str(tmp_path),
        locales=("th",),
        sizes=("story",),
    )
    localize(request)
    first = manifest(tmp_path)["jobs"]
    summary = localize(request)
    assert summary.counts["ok"] == 0 and summary.counts["cached"] > 0
    again = manifest(tmp_path)["jobs"]
    made = [job for job in first if job["status"] == "ok"]
    assert made and all(job["reframe"] for job in made)
    assert [job["reframe"] for job in again if job["status"] == "cached"] == [
        job["reframe"] for job in made
    ]


def test_a_bad_row_is_reported_and_the_others_are_rendered(tmp_path, sample_campaign, sample_image):
    sheet = sample_campaign.read_text(encoding="utf-8").splitlines()
    sheet.append(sheet[1].replace("summer-sale", "broken-price").replace("12.99", "12.99€"))
    bad = tmp_path / "with-bad-row.csv"
    bad.write_text("\n".join(sheet) + "\n", encoding="utf-8")
    summary = localize(
        RunRequest(
            campaign=str(bad), image=str(sample_image), out=str(tmp_path / "out"), locales="th"
        )
    )
    assert summary.counts["ok"] == 6  # every good variant (bundle-deal included) in Thai
    assert summary.problems == [
        "with-bad-row.csv, row 8, column price: '12.99€' is not a plain number; write a price "
        "like 199000 or 19.99 (no currency signs, no thousands separators, '.' for decimals)"
    ]
    assert not summary.succeeded


def test_a_cached_rerun_keeps_the_contact_sheet_it_would_draw_again(
    sample_campaign, sample_image, tmp_path
):
    from transcreate.request import RunRequest
    from transcreate.wiring import localize

    request = RunRequest(
        campaign=str(sample_campaign), image=str(sample_image), out=str(tmp_path), locales="en"
    )
    sheet = tmp_path / "skincare-sale" / "contact-sheet.png"
    localize(request)
    drawn = sheet.stat().st_mtime_ns
    assert localize(request).counts["cached"] == 5
    assert sheet.stat().st_mtime_ns == drawn  # nothing changed: not decoded and drawn again
    localize(request.model_copy(update={"locales": ("en", "id")}))
    assert sheet.stat().st_mtime_ns != drawn


def test_a_run_past_its_deadline_records_what_it_left_and_a_rerun_makes_only_that(
    tmp_path, sample_campaign, sample_image
):
    # A deadline that has passed before the first job: every job is recorded as not begun
    # (nothing is lost: the manifest is written), and a run without one makes them all.
    rows = "\n".join(sample_campaign.read_text(encoding="utf-8").splitlines()[:3])
    request = RunRequest(
        rows=rows, image=str(sample_image), out=str(tmp_path), locales="th", name="late"
    )
    late = localize(request.model_copy(update={"deadline_minutes": 1e-6}))
    assert late.counts == counts(failed=2) and not late.succeeded
    jobs = manifest_of(tmp_path, "late")["jobs"]
    assert all("not started: the run's deadline passed" in job["error"] for job in jobs)
    again = localize(request)
    assert again.counts == counts(ok=2)


def manifest_of(out: Path, campaign: str) -> dict:
    return json.loads((out / campaign / "manifest.json").read_text(encoding="utf-8"))
