"""The output checks on real renders: tesseract reads the local editor's copy back, and wrong
copy fails."""

from __future__ import annotations

import dataclasses
import random
import shutil
import unicodedata
from pathlib import Path

import pytest

from transcreate.campaign import read_campaign
from transcreate.editors.local import LocalEditor
from transcreate.errors import SetupError
from transcreate.jobs import EditJob, expand
from transcreate.ocr import require_tesseract
from transcreate.quality import change_check, copy_check

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _tesseract() -> None:
    # A missing OCR engine must fail the suite, not quietly skip the only legibility check.
    if shutil.which("tesseract") is None:
        pytest.fail("tesseract is not installed; run ./scripts/install (it installs tesseract-ocr)")


@pytest.fixture(scope="module")
def editor() -> LocalEditor:
    return LocalEditor()


@pytest.fixture(scope="module")
def base(sample_image: Path) -> bytes:
    return sample_image.read_bytes()


def sample_jobs(sample_campaign: Path, locale: str, editor: LocalEditor) -> tuple[EditJob, ...]:
    campaign = read_campaign(sample_campaign)
    return expand(campaign, [locale], image_sha256="sample", backend=editor.identity).jobs


def summer_sale(sample_campaign: Path, locale: str, editor: LocalEditor) -> EditJob:
    [job] = [j for j in sample_jobs(sample_campaign, locale, editor) if j.variant == "summer-sale"]
    return job


def with_headline(job: EditJob, text: str) -> EditJob:
    overlays = tuple(
        dataclasses.replace(o, text=text) if o.role == "headline" else o for o in job.overlays
    )
    return dataclasses.replace(job, overlays=overlays)


def shuffled(text: str) -> str:
    """The same letters in another order, each Thai mark kept on a base letter."""
    clusters: list[str] = []
    for char in text:
        if clusters and unicodedata.category(char).startswith("M"):
            clusters[-1] += char
        else:
            clusters.append(char)
    random.Random(7).shuffle(clusters)
    return "".join(clusters)


@pytest.mark.parametrize("locale", ["th", "zh", "id"])
def test_every_local_headline_reads_back(
    locale: str, editor: LocalEditor, base: bytes, sample_campaign: Path
) -> None:
    for job in sample_jobs(sample_campaign, locale, editor):
        check = copy_check(job, editor.edit(job, base).png)
        assert check.passed, (job.variant, check)
        assert check.expected == job.overlays[0].text


@pytest.mark.parametrize("locale", ["th", "zh", "id"])
def test_a_model_style_check_finds_the_headline_in_its_band(
    locale: str, base: bytes, sample_campaign: Path
) -> None:
    exact = LocalEditor(layout="exact")  # copy at its position, as a model is asked to set it
    for job in sample_jobs(sample_campaign, locale, exact):
        check = copy_check(job, exact.edit(job, base).png, exact_layout=False)
        assert check.passed, (job.variant, check)


@pytest.mark.parametrize("locale", ["id", "en"])
def test_a_model_style_check_finds_copy_that_moved_where_the_output_changed(
    locale: str, editor: LocalEditor, base: bytes, sample_campaign: Path
) -> None:
    # The auto layout moved the copy off the product, out of its position's band: comparing
    # with the base finds it, as for a model that put the text elsewhere.
    for job in sample_jobs(sample_campaign, locale, editor):
        check = copy_check(job, editor.edit(job, base).png, exact_layout=False, base=base)
        assert check.passed, (job.variant, check)


@pytest.mark.parametrize("locale", ["th", "zh"])
@pytest.mark.parametrize("exact_layout", [True, False])
def test_shuffled_copy_fails_the_check(
    locale: str, exact_layout: bool, editor: LocalEditor, base: bytes, sample_campaign: Path
) -> None:
    job = summer_sale(sample_campaign, locale, editor)
    garbled = shuffled(job.overlays[0].text)
    assert garbled != job.overlays[0].text
    output = editor.edit(with_headline(job, garbled), base).png
    check = copy_check(job, output, exact_layout=exact_layout)
    assert not check.passed, check
    assert check.error_rate > 0.25


def test_another_variants_copy_fails_the_check(
    editor: LocalEditor, base: bytes, sample_campaign: Path
) -> None:
    job = summer_sale(sample_campaign, "th", editor)
    output = editor.edit(with_headline(job, "ลดราคาพิเศษ"), base).png
    assert not copy_check(job, output).passed


def test_the_button_reads_back_too(editor: LocalEditor, base: bytes, sample_campaign: Path) -> None:
    job = summer_sale(sample_campaign, "id", editor)
    check = copy_check(job, editor.edit(job, base).png, roles=("headline", "cta"))
    assert check.passed, check
    assert check.expected == "Diskon Besar\nBeli sekarang"


def test_a_dropped_button_fails_a_check_that_asks_for_it(
    editor: LocalEditor, base: bytes, sample_campaign: Path
) -> None:
    job = summer_sale(sample_campaign, "id", editor)
    without_button = dataclasses.replace(
        job, overlays=tuple(o for o in job.overlays if o.role != "cta")
    )
    output = editor.edit(without_button, base).png
    assert not copy_check(job, output, roles=("cta",), exact_layout=False).passed


def test_the_local_editor_leaves_the_scene_alone(
    editor: LocalEditor, base: bytes, sample_campaign: Path
) -> None:
    for locale in ("th", "zh", "id"):
        for job in sample_jobs(sample_campaign, locale, editor):
            check = change_check(base, editor.edit(job, base).png, job.position)
            assert check.passed, (job.variant, locale, check)


def test_a_missing_tesseract_language_is_a_setup_error_naming_the_package(
    editor: LocalEditor, base: bytes, sample_campaign: Path
) -> None:
    job = summer_sale(sample_campaign, "th", editor)
    with pytest.raises(SetupError, match="tesseract-ocr-xyz"):
        copy_check(job, editor.edit(job, base).png, language="xyz")
    with pytest.raises(SetupError, match="tesseract-ocr-xyz"):
        copy_check(job, editor.edit(job, base).png, language="tha+xyz")


def test_the_shipped_locales_have_their_tesseract_languages() -> None:
    require_tesseract(["en", "id", "th", "zh", "vi"])  # vi is read as English
