"""The local editor's copy reads back: tesseract reads Thai, Chinese and Indonesian headlines."""

from __future__ import annotations

import pytest

from transcreate.campaign import read_campaign
from transcreate.compose.record import read_layout
from transcreate.editors.local import LocalEditor
from transcreate.jobs import expand
from transcreate.ocr import require_tesseract
from transcreate.quality import character_error_rate, copy_check


@pytest.fixture(scope="module", autouse=True)
def _tesseract() -> None:
    # A missing OCR engine must fail the suite (SetupError names the package), never skip it.
    require_tesseract(["th", "zh", "id"])


# OCR is not perfect even on clean type; a CER this low still means the copy is the right copy.
MAX_ERROR_RATE = 0.15


@pytest.fixture(scope="module")
def editor() -> LocalEditor:
    return LocalEditor()


def _read_headline(job, editor, sample_image) -> str:
    # Each line where the layout recorded it, its fill isolated from outline and background.
    png = editor.edit(job, sample_image.read_bytes()).png
    assert read_layout(png) is not None
    return copy_check(job, png).read


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["th", "zh", "id"])
def test_headlines_read_back_from_the_rendered_creative(
    locale, editor, sample_campaign, sample_image
):
    campaign = read_campaign(sample_campaign)
    jobs = expand(campaign, [locale], image_sha256="sample", backend=editor.identity).jobs
    for job in jobs:
        read = _read_headline(job, editor, sample_image)
        expected = job.overlays[0].text
        assert character_error_rate(expected, read) <= MAX_ERROR_RATE, (expected, read)


def test_garbled_copy_does_not_pass_the_check(editor, sample_campaign, sample_image):
    campaign = read_campaign(sample_campaign)
    job = next(
        j
        for j in expand(campaign, ["th"], image_sha256="s", backend=editor.identity).jobs
        if j.variant == "summer-sale"
    )
    read = _read_headline(job, editor, sample_image)
    assert character_error_rate("ส่วนลดใหญ่", read) <= MAX_ERROR_RATE
    assert character_error_rate("ลดราคาพิเศษ", read) > MAX_ERROR_RATE
