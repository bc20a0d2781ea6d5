"""Every row its own product: where a row's image is read from, product feeds read as they are,
each image fetched once, and a row whose image cannot be used named by row and column."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from transcreate.campaign import read_campaign
from transcreate.errors import CampaignError, StorageError
from transcreate.images import BaseCreative
from transcreate.jobs import expand
from transcreate.row_images import RowImages, resolve, with_row_images


def creative(data: bytes, name: str = "image") -> BaseCreative:
    return BaseCreative(name, data, hashlib.sha256(data).hexdigest(), 1, 1, "PNG")


class Shelf:
    """A fetch function over named bytes, counting what it was asked for."""

    def __init__(self, **images: bytes) -> None:
        self.images, self.asked = images, []

    def __call__(self, location: str) -> BaseCreative:
        self.asked.append(location)
        name = location.rsplit("/", 1)[-1]
        if name not in self.images:
            raise CampaignError(f"{location}: no such image")
        return creative(self.images[name], location)


def test_a_rows_image_is_read_from_the_sheets_folder_and_never_leaves_it(tmp_path: Path) -> None:
    sheet = str(tmp_path / "feeds" / "sale.csv")
    assert resolve("img/a.png", sheet) == str(tmp_path / "feeds" / "img" / "a.png")
    assert resolve("img\\a.png", sheet) == str(tmp_path / "feeds" / "img" / "a.png")
    assert resolve("a b.png", "s3://bucket/feeds/sale.xlsx#Q4") == "s3://bucket/feeds/a b.png"
    assert resolve("img/a b.png", "https://shop.example/f/feed.csv?x=1") == (
        "https://shop.example/f/img/a%20b.png"
    )
    assert resolve("https://cdn.example/a.png", sheet) == "https://cdn.example/a.png"
    assert resolve("s3://other/a.png", sheet) == "s3://other/a.png"
    for escape in ("../secret.png", "img/../../x.png", "/etc/passwd", "C:\\x.png", "file:///x"):
        with pytest.raises(ValueError, match=r"may not leave it|relative to the sheet"):
            resolve(escape, sheet)


def test_a_merchant_center_feed_is_read_as_it_is() -> None:
    feed = (
        b"id\ttitle\tprice\tsale_price\timage_link\tbrand\tcolor\tavailability\n"
        b"SKU.001/a\tMorning roast\t15.00 USD\t11.25 USD\thttps://cdn.example/1.jpg\tAcme\tBrown\tin_stock\n"
        b"SKU-2\tCat bed\t40.00 usd\t\thttps://cdn.example/2.jpg\tAcme\tGrey\tin_stock\n"
        b"SKU-3\tLamp\t1.234,00 EUR\t\thttps://cdn.example/3.jpg\tAcme\tWhite\tin_stock\n"
    )
    campaign = read_campaign("feed.tsv", data=feed)
    first, second = campaign.variants
    assert first.variant == "SKU-001-a" and first.copy["headline"][""] == "Morning roast"
    assert first.prices[""] == (Decimal("11.25"), "USD") and first.discount == Decimal(25)
    assert (first.lead, second.lead) == ("offer", "headline")  # a sale leads with its price
    assert first.image == "https://cdn.example/1.jpg"
    assert first.color == "white"  # the product's colour is not the copy's
    assert second.prices[""] == (Decimal("40.00"), "USD") and second.discount is None
    [problem] = campaign.problems
    assert (problem.row, problem.column) == (4, "price")
    assert not campaign.warnings  # the feed's product attributes are left out quietly


def test_a_campaign_sheet_with_an_id_column_is_not_taken_for_a_feed() -> None:
    sheet = b"variant,id,title,headline\nv1,7,x,Hello\n"
    campaign = read_campaign("sale.csv", data=sheet)
    assert [v.variant for v in campaign.variants] == ["v1"]


def test_each_image_is_fetched_once_and_fetched_again_only_when_pushed_out() -> None:
    fetch = Shelf(**{"a.png": b"A" * 60, "b.png": b"B" * 60})
    images = RowImages(None, fetch, budget_bytes=100)
    found = images.fetch_all(["s3://x/a.png", "s3://x/b.png", "s3://x/a.png", "s3://x/c.png"])
    assert sorted(fetch.asked) == ["s3://x/a.png", "s3://x/b.png", "s3://x/c.png"]
    assert isinstance(found["s3://x/c.png"], CampaignError)
    a, b = creative(b"A" * 60), creative(b"B" * 60)
    assert images.data(b.sha256, "s3://x/b.png") == b.data  # held
    assert images.data(a.sha256, "s3://x/a.png") == a.data  # pushed out by b: fetched again
    assert fetch.asked.count("s3://x/a.png") == 2
    fetch.images["b.png"] = b"changed"
    images.data(a.sha256, "s3://x/a.png")
    with pytest.raises(StorageError, match="changed while the run was going"):
        images.data(b.sha256, "s3://x/b.png")  # pushed out by a, and no longer the same


def test_a_row_whose_image_cannot_be_used_is_a_problem_of_its_row_alone(tmp_path: Path) -> None:
    sheet = b"variant,headline,image\na,Hello,a.png\nb,Hi,missing.png\nc,Hey,../up.png\nd,Yo,\n"
    campaign = read_campaign(tmp_path / "s.csv", data=sheet)
    fetch = Shelf(**{"a.png": b"A"})
    run_image = creative(b"RUN")
    done = with_row_images(campaign, str(tmp_path / "s.csv"), RowImages(run_image, fetch))
    assert [v.variant for v in done.variants] == ["a", "d"]
    assert [(p.row, p.column) for p in done.problems] == [(3, "image"), (4, "image")]
    jobs = expand(done, ["en"], image_sha256=run_image.sha256, backend="local/1").jobs
    by_variant = {job.variant: job for job in jobs}
    assert by_variant["a"].image_sha256 == hashlib.sha256(b"A").hexdigest()
    assert by_variant["a"].image_source == str(tmp_path / "a.png")
    assert (by_variant["d"].image_sha256, by_variant["d"].image_source) == (run_image.sha256, None)
    # without a run image, a row without its own is a problem; with no image anywhere, the run
    alone = with_row_images(campaign, str(tmp_path / "s.csv"), RowImages(None, fetch))
    assert [(p.row, p.column) for p in alone.problems][-1] == (5, "image")
    bare = read_campaign("s.csv", data=b"variant,headline\na,Hello\n")
    with pytest.raises(CampaignError, match="no image to edit"):
        with_row_images(bare, "s.csv", RowImages(None, fetch))
    with pytest.raises(CampaignError, match="product mask"):
        with_row_images(campaign, "s.csv", RowImages(run_image, fetch), product_mask=True)


def test_a_logo_goes_across_from_the_copy_into_the_clearest_corner() -> None:
    from transcreate.campaign import logo_corner
    from transcreate.compose.logo import choose_corner, logo_size

    assert logo_corner("bottom-center") == "top-left"
    assert logo_corner("bottom-center", right_to_left=True) == "top-right"
    assert logo_corner("top-left") == "bottom-right"
    assert logo_corner("center") == "top-left"
    size = logo_size((1000, 1000), (400, 100))
    assert size == (220, 55)  # as wide as 22 % of the canvas allows, its aspect kept
    corner, box, covers = choose_corner((1000, 1000), size, [], "top-left")
    assert (corner, box, covers) == ("top-left", (40, 40, 260, 95), 0.0)
    product = [0, 0, 500, 500]  # the product fills the top-left quarter: the logo moves
    corner, _, covers = choose_corner((1000, 1000), size, [product], "top-left")
    assert (corner, covers) == ("top-right", 0.0)
    everywhere = [[0, 0, 1000, 1000]]  # nowhere clear: the first corner, and how much it covers
    assert choose_corner((1000, 1000), size, everywhere, "top-left")[::2] == ("top-left", 1.0)


def test_a_logo_with_no_clear_corner_sends_the_creative_to_review() -> None:
    from transcreate.compose.verdict import layout_problems

    assert layout_problems({"logo": {"box": [0, 0, 9, 9], "corner": "top-left", "covers": 0}}) == []
    [problem] = layout_problems(
        {"logo": {"box": [0, 0, 9, 9], "corner": "top-left", "covers": 0.4}}
    )
    assert problem.startswith("no corner is clear for the logo: 40% of it covers")


def test_a_logo_keeps_off_the_products_cells_not_its_bounding_box() -> None:
    import numpy as np

    from transcreate.compose.logo import choose_corner
    from transcreate.compose.saliency import ProductMask

    grid = np.zeros((10, 10), dtype=bool)
    grid[:, 1:] = True  # a subject across the frame ...
    grid[0:3, 0:4] = False  # ... with a free top-left corner
    subject = ProductMask(grid, 100.0, (1000, 1000), "saliency")
    corner, _, covers = choose_corner((1000, 1000), (220, 55), [], "top-right", subject)
    assert (corner, covers) == ("top-left", 0.0)
