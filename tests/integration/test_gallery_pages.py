"""The gallery page a run writes opens from the local folder, over the served folder, and from S3
through a presigned link: every image it shows is reachable from where the page is."""

from __future__ import annotations

import re
import secrets
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import pytest

from tests.conftest import counts
from tests.fakes import ScriptedEditor
from tests.integration.conftest import BUCKET
from tests.unit.test_gallery import Page
from transcreate.request import RunRequest
from transcreate.run import RunSummary
from transcreate.serve import base_url, make_server
from transcreate.wiring import build, localize

LOCALES = ("th", "zh")


def made(request: RunRequest) -> RunSummary:
    """The run, its creatives made by a scripted editor through the root: the gallery is the
    subject here, not the copy on the images."""
    return localize(request, adapters=build(request, editor=ScriptedEditor()))


def images(page: Page) -> list[str]:
    return [value for tag, name, value in page.references if tag == "img" and name == "src"]


def test_the_gallery_beside_a_local_manifest_links_its_images_relatively(
    sample_campaign, sample_image, tmp_path
):
    summary = made(
        RunRequest(
            campaign=str(sample_campaign),
            image=str(sample_image),
            locales=LOCALES,
            out=str(tmp_path),
        )
    )
    folder = tmp_path / "skincare-sale"
    assert summary.gallery == (folder / "index.html").as_uri()
    page = Page((folder / "index.html").read_text(encoding="utf-8"))
    sources = images(page)
    assert len(sources) == summary.counts["ok"]  # every made output, once
    for source in sources:
        assert not urlsplit(source).scheme
        assert (folder / unquote(source)).is_file()
    links = {value for tag, _, value in page.references if tag == "a"}
    assert {"manifest.csv", "manifest.json", "contact-sheet.png"} <= links


def test_the_gallery_opens_over_the_served_folder(sample_campaign, sample_image, tmp_path):
    made(
        RunRequest(
            campaign=str(sample_campaign),
            image=str(sample_image),
            locales=LOCALES,
            out=str(tmp_path),
        )
    )
    server = make_server(tmp_path, "127.0.0.1", 0)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        page_url = f"{base_url(server)}skincare-sale/index.html"
        with httpx.Client(timeout=10) as client:
            response = client.get(page_url)
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            sources = images(Page(response.text))
            assert sources
            for source in sources:
                image = client.get(urljoin(page_url, source))
                assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_the_gallery_on_s3_opens_through_its_presigned_link(seaweed, sample_image, tmp_path):
    rows = (
        "variant,headline,headline:th,headline:zh,cta,cta:th,cta:zh,price,currency,discount,"
        "color,position,locales\n"
        "summer,Big Sale,ลดใหญ่,大促,Shop now,ช้อปเลย,购买,10,USD,20,yellow,bottom-center,\n"
        "flash,Flash Deal,ดีลด่วน,闪购,Buy,ซื้อ,买,5,USD,50,red,top-left,th\n"
    )
    prefix = f"galleries/{secrets.token_hex(4)}"
    request = RunRequest(
        rows=rows, image=str(sample_image), locales=LOCALES, out=f"s3://{BUCKET}/{prefix}"
    )
    summary = made(request)
    assert summary.counts == counts(ok=3, skipped=1)
    assert "X-Amz-Signature=" in summary.gallery
    with httpx.Client(timeout=10) as client:
        response = client.get(summary.gallery)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        page = Page(response.text)
        sources = images(page)
        assert len(sources) == 3
        for source in sources:
            assert "X-Amz-Signature=" in source  # a relative key would not be readable
            image = client.get(source)
            assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
        files = [value for tag, _, value in page.references if tag == "a" and "manifest" in value]
        assert files and all(client.get(link).status_code == 200 for link in files)


def test_the_gallery_is_rewritten_by_a_rerun(sample_image, tmp_path: Path):
    rows = "variant,headline,cta,price,currency\nsummer,Big Sale,Shop,10,USD\n"
    first = made(RunRequest(rows=rows, image=str(sample_image), locales=("en",), out=str(tmp_path)))
    again = made(RunRequest(rows=rows, image=str(sample_image), locales=("en",), out=str(tmp_path)))
    assert first.gallery == again.gallery
    text = (tmp_path / "pasted-rows" / "index.html").read_text(encoding="utf-8")
    assert "1 already made" in text and "1 made" not in text


def test_a_gallery_in_several_sizes_counts_variants_and_jobs_as_the_manifest_does(
    sample_campaign, sample_image, tmp_path
):
    summary = made(
        RunRequest(
            campaign=str(sample_campaign),
            image=str(sample_image),
            locales=LOCALES,
            out=str(tmp_path),
            sizes=("square", "landscape"),
        )
    )
    text = (tmp_path / "skincare-sale" / "index.html").read_text(encoding="utf-8")
    # six variants in two sizes, not "12 variants"
    assert "6 variants × 2 sizes × 2 locales" in text
    # the bundle-deal's zh cell is skipped once, though the page shows it in both sizes
    assert summary.counts["skipped"] == 1
    assert re.search(r'<li class="s-skipped">1 skipped</li>', text)
