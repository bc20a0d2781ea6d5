"""The auto layout on generated product shots: the copy never covers the product, every line
meets its contrast, a variant's locales share a headline size, and the layout used is recorded."""

from __future__ import annotations

import dataclasses
import io
import random

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageDraw

from tests.conftest import EXAMPLES
from tests.drawing import layout, typeset
from transcreate.campaign import POSITIONS, read_campaign
from transcreate.compose.blocks import TextBlock
from transcreate.compose.look import best_fit
from transcreate.compose.record import CHUNK, read_layout
from transcreate.compose.saliency import mask_from_image, product_mask
from transcreate.compose.typeset import decide
from transcreate.editors.local import LocalEditor
from transcreate.errors import SetupError
from transcreate.jobs import EditJob, Overlay, expand

COPY = {
    "en": ("New members: up to 50% off", "Only $12.99", "Shop now"),
    "id": ("Diskon Besar untuk member", "Hanya Rp199.000", "Beli sekarang"),
    "th": ("ส่วนลดใหญ่สำหรับสมาชิก", "เพียง ฿399", "ซื้อเลย"),
    "zh": ("新会员专享，全场立减", "仅需¥89", "立即购买"),
}
LOCALES = tuple(COPY)


def blocks(locale: str, color: str = "#FFD700") -> list[TextBlock]:
    headline, offer, cta = COPY[locale]
    return [
        TextBlock("headline", headline, color),
        TextBlock("offer", offer, color),
        TextBlock("cta", cta, color),
    ]


def backdrop(size: tuple[int, int], kind: str) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size)
    pen = ImageDraw.Draw(image)
    if kind == "gradient":
        for y in range(height):
            shade = round(235 - 40 * y / height)
            pen.line([(0, y), (width, y)], fill=(255, shade, shade - 30))
    elif kind == "stripes":
        for x in range(0, width, 24):
            pen.rectangle((x, 0, x + 11, height), fill=(250, 250, 250))
            pen.rectangle((x + 12, 0, x + 23, height), fill=(200, 210, 230))
    else:  # "noise": a busy print
        rng = np.random.default_rng(3)
        noise = rng.integers(150, 256, size=(height // 8, width // 8, 3), dtype=np.uint8)
        image = Image.fromarray(noise).resize(size, Image.Resampling.NEAREST)
    return image


def product_shot(
    size: tuple[int, int], centre: tuple[float, float], kind: str
) -> tuple[Image.Image, Image.Image]:
    """A bottle on a pedestal over a backdrop, and its true mask (white where the product is)."""
    image = backdrop(size, kind)
    mask = Image.new("L", size, 0)
    width, height = size
    cx, cy = centre[0] * width, centre[1] * height
    u = min(size) / 10
    shapes = [
        ("rounded", (cx - u, cy - 1.6 * u, cx + u, cy + 1.2 * u), (40, 110, 120)),
        ("rect", (cx - 0.3 * u, cy - 2.3 * u, cx + 0.3 * u, cy - 1.6 * u), (70, 70, 80)),
        ("ellipse", (cx - 2 * u, cy + 1.0 * u, cx + 2 * u, cy + 1.8 * u), (150, 60, 40)),
    ]
    for pen, fill in ((ImageDraw.Draw(image), None), (ImageDraw.Draw(mask), 255)):
        for shape, box, colour in shapes:
            paint = fill if fill is not None else colour
            if shape == "rounded":
                pen.rounded_rectangle(box, radius=round(u / 3), fill=paint)
            elif shape == "rect":
                pen.rectangle(box, fill=paint)
            else:
                pen.ellipse(box, fill=paint)
    return image, mask


SCENES = {
    "centre": ((640, 640), (0.5, 0.5), "gradient"),
    "left-third": ((640, 640), (0.3, 0.45), "stripes"),
    "right": ((640, 512), (0.72, 0.5), "gradient"),
    "low-9:16": ((432, 768), (0.5, 0.68), "noise"),
}


@pytest.fixture(scope="module", params=sorted(SCENES))
def scene(request: pytest.FixtureRequest) -> tuple[str, Image.Image, Image.Image]:
    size, centre, kind = SCENES[request.param]
    image, mask = product_shot(size, centre, kind)
    return request.param, image, mask


def test_the_product_found_covers_the_whole_product(
    scene: tuple[str, Image.Image, Image.Image],
) -> None:
    _, image, mask = scene
    found = product_mask(image)
    assert found.box is not None
    truth = np.asarray(mask) > 0
    rows, columns = np.nonzero(truth)
    # Every product pixel lies in a product cell, once the layout's clearance is added.
    grown = found.grown(0.025 * min(image.size))
    cells = grown.grid[(rows / grown.cell).astype(int), (columns / grown.cell).astype(int)]
    assert cells.mean() > 0.995


@pytest.mark.parametrize("position", POSITIONS)
def test_copy_covers_no_product_pixel_and_meets_contrast_in_every_locale(
    scene: tuple[str, Image.Image, Image.Image], position: str
) -> None:
    name, image, mask = scene
    found = product_mask(image)
    for locale in LOCALES:
        edited, record = typeset(image, blocks(locale), position, locale, product=found)
        assert record["fallback"] is None, (name, position, locale, record["zone"])
        changed = ImageChops.difference(edited, image).convert("L").point(lambda v: 255 * (v > 0))
        over_product = ImageChops.multiply(changed, mask)
        assert over_product.getbbox() is None, (name, position, locale, record["zone"])
        for element in record["elements"]:
            required = 3.0 if element["font_size"] >= 19 else 4.5
            assert min(element["contrast"]) >= required, (name, position, locale, element)


def test_a_preferred_zone_with_room_keeps_the_copy() -> None:
    image, _ = product_shot((640, 640), (0.72, 0.5), "gradient")
    record = decide(image, blocks("en"), "center-left", "en", product=product_mask(image)).record
    assert record["zone"] == "center-left"
    assert record["moved"] is False


def test_copy_asked_over_the_product_moves_and_says_so() -> None:
    image, _ = product_shot((640, 640), (0.5, 0.5), "gradient")
    record = decide(image, blocks("th"), "center", "th", product=product_mask(image)).record
    assert record["moved"] is True
    assert record["zone"] != "center"
    assert all(element["moved"] for element in record["elements"])


def test_copy_that_fits_nowhere_falls_back_to_a_plate() -> None:
    image, _ = product_shot((400, 400), (0.5, 0.5), "gradient")
    long_copy = [TextBlock("headline", "Everything in the store at half price " * 4, "#FFFFFF")]
    record = decide(image, long_copy, "center", "en", product=product_mask(image)).record
    assert record["fallback"] == "plate"
    assert record["elements"][0]["treatment"] == "plate"
    assert min(record["elements"][0]["contrast"]) >= 3.0


def test_light_copy_on_a_light_backdrop_is_strengthened() -> None:
    image = Image.new("RGB", (640, 640), (250, 248, 240))
    white = [TextBlock("headline", "Free Shipping", "#FFFFFF")]
    record = decide(image, white, "top-center", "en", product=product_mask(image)).record
    [headline] = record["elements"]
    assert headline["treatment"] in ("outline", "plate")
    assert min(headline["contrast"]) >= 3.0


def test_copy_that_stands_out_alone_gets_no_outline() -> None:
    image = Image.new("RGB", (640, 640), (250, 248, 240))
    navy = [TextBlock("headline", "Free Shipping", "#1A237E")]
    record = decide(image, navy, "top-center", "en", product=product_mask(image)).record
    assert record["elements"][0]["treatment"] == "none"
    assert min(record["elements"][0]["contrast"]) >= 4.5


def test_a_user_mask_wins_over_saliency() -> None:
    image = Image.new("RGB", (640, 640), (240, 240, 240))  # nothing salient at all
    drawn = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(drawn).rectangle((0, 0, 63, 20), fill=255)  # "the product" is the top third
    buffer = io.BytesIO()
    drawn.save(buffer, format="PNG")
    user = mask_from_image(buffer.getvalue(), image.size)
    assert user.source == "mask"
    record = decide(image, blocks("en"), "top-center", "en", product=user).record
    assert record["product"]["source"] == "mask"
    for element in record["elements"]:
        assert element["box"][1] > 640 * 21 / 64, element


def test_the_exact_layout_is_todays_layout() -> None:
    image, _ = product_shot((640, 640), (0.5, 0.5), "gradient")
    record = decide(image, blocks("id"), "center", "id", layout="exact").record
    expected = layout(blocks("id"), "center", image.size, "id")
    assert [element["box"] for element in record["elements"]] == [list(p.box) for p in expected]
    assert record["layout"] == "exact"


def test_an_unknown_layout_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(SetupError, match="auto, exact"):
        LocalEditor(layout="fancy")


def test_layout_and_mask_are_part_of_the_editors_identity() -> None:
    identities = {
        LocalEditor().identity,
        LocalEditor(layout="exact").identity,
        LocalEditor(mask=png_of(Image.new("L", (8, 8), 255))).identity,
    }
    assert len(identities) == 3


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_record_rides_in_the_png_before_the_image_data(sample_image) -> None:  # type: ignore[no-untyped-def]
    campaign = read_campaign(sample_image.parent / "skincare-sale.csv")
    editor = LocalEditor()
    job = expand(campaign, ["th"], image_sha256="s", backend=editor.identity).jobs[0]
    png = editor.edit(job, sample_image.read_bytes()).png
    assert png.index(CHUNK.encode()) < png.index(b"IDAT")
    record = read_layout(png)
    assert record is not None
    assert record["elements"][0]["role"] == "headline"
    assert record["product"]["box"] is not None
    assert editor.edit(job, sample_image.read_bytes()).png == png  # still deterministic


def test_read_layout_is_none_for_any_other_image() -> None:
    assert read_layout(png_of(Image.new("RGB", (8, 8)))) is None
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    assert read_layout(jpeg.getvalue()) is None
    assert read_layout(b"not an image") is None


def variant_jobs(locales: tuple[str, ...], headlines: dict[str, str]) -> list[EditJob]:
    overlays = {
        locale: (Overlay("headline", headlines[locale], "#FFD700"), Overlay("cta", "OK", "#FFD700"))
        for locale in locales
    }
    siblings = tuple((locale, overlays[locale]) for locale in locales)
    return [
        EditJob(
            "c",
            "v",
            locale,
            "default",
            "",
            overlays[locale],
            "top-left",
            "s",
            "local/2",
            siblings=siblings,
        )
        for locale in locales
    ]


def test_a_variant_keeps_one_headline_size_across_its_locales(sample_image) -> None:  # type: ignore[no-untyped-def]
    editor = LocalEditor()
    headlines = {"id": "Diskon Besar", "th": "ส่วนลดใหญ่", "zh": "超级大促", "en": "Big Sale"}
    base = sample_image.read_bytes()
    sizes = {}
    for job in variant_jobs(LOCALES, headlines):
        record = editor.edit(job, base).layout
        assert record is not None
        sizes[job.locale] = record["elements"][0]["font_size"]
        assert record["smaller"] is False
    assert len(set(sizes.values())) == 1, sizes


def test_a_locale_whose_copy_cannot_keep_the_size_goes_smaller_and_says_so(sample_image) -> None:  # type: ignore[no-untyped-def]
    editor = LocalEditor()
    headlines = {
        "en": "Big Sale",
        "id": "Big Sale",
        "th": "โปรโมชั่นพิเศษสำหรับสมาชิกใหม่ ลดราคาสูงสุดถึงห้าสิบเปอร์เซ็นต์ทุกรายการ",
    }
    base = sample_image.read_bytes()
    records = {
        job.locale: editor.edit(job, base).layout
        for job in variant_jobs(("en", "id", "th"), headlines)
    }
    size = {locale: record["elements"][0]["font_size"] for locale, record in records.items()}  # type: ignore[index]
    assert size["en"] == size["id"] > size["th"]
    assert records["th"]["smaller"] is True  # type: ignore[index]
    assert records["en"]["smaller"] is False  # type: ignore[index]


def test_sibling_copy_is_part_of_the_job_key() -> None:
    [job, *_] = variant_jobs(("en", "th"), {"en": "Big Sale", "th": "ส่วนลดใหญ่"})
    other = dataclasses.replace(
        job, siblings=(job.siblings[0], ("th", (Overlay("headline", "ลด", "#FFD700"),)))
    )
    assert job.key != other.key
    assert dataclasses.replace(job, siblings=()).key != job.key


def test_only_jobs_the_compositor_sets_carry_their_siblings(sample_image) -> None:  # type: ignore[no-untyped-def]
    campaign = read_campaign(sample_image.parent / "skincare-sale.csv")
    model = expand(campaign, ["th", "zh"], image_sha256="s", backend="m", mode="model").jobs
    overlay = expand(campaign, ["th", "zh"], image_sha256="s", backend="m").jobs
    assert all(job.siblings == () for job in model)
    for job in overlay:  # bundle-deal asks for id and th only
        expected = {"th"} if job.variant == "bundle-deal" else {"th", "zh"}
        assert {locale for locale, _ in job.siblings} == expected


def test_right_to_left_locales_agree_among_themselves_in_their_mirrored_position(
    sample_image,
) -> None:  # type: ignore[no-untyped-def]
    campaign = read_campaign(sample_image.parent / "skincare-sale.csv")
    jobs = expand(campaign, ["ja", "en", "ar"], image_sha256="s", backend="m").jobs
    flash = {job.locale: job for job in jobs if job.variant == "flash-deal"}
    assert flash["ar"].position == "bottom-right" and flash["ja"].position == "bottom-left"
    assert {locale for locale, _ in flash["ja"].siblings} == {"ja", "en"}
    assert {locale for locale, _ in flash["ar"].siblings} == {"ar"}


def test_a_centred_position_frames_arabic_copy_on_the_products_right(sample_image) -> None:  # type: ignore[no-untyped-def]
    campaign = read_campaign(sample_image.parent / "skincare-sale.csv")
    jobs = expand(campaign, ["en", "ar"], image_sha256="s", backend="m", sizes=("landscape",))
    sale = {job.locale: job for job in jobs.jobs if job.variant == "summer-sale"}
    assert sale["ar"].position == sale["en"].position == "bottom-center"
    assert (sale["en"].frame_position, sale["ar"].frame_position) == (
        "bottom-center",
        "bottom-right",
    )
    # framed apart, so they agree apart: a look laid out in one frame is never painted on the other
    assert [locale for locale, _ in sale["ar"].siblings] == ["ar"]


def test_shuffled_positions_give_the_same_bytes() -> None:
    # The layout is a pure function of the job and the image: no order, no randomness.
    image, _ = product_shot((512, 512), (0.5, 0.5), "gradient")
    found = product_mask(image)
    order = list(POSITIONS)
    random.Random(5).shuffle(order)
    first = {p: decide(image, blocks("zh"), p, "zh", product=found).record for p in POSITIONS}
    again = {p: decide(image, blocks("zh"), p, "zh", product=found).record for p in order}
    assert first == again


BUNDLE = {  # the demo's bundle deal: a call to action as long as the column beside the product
    "id": ("Beli 2 Lebih Hemat", "Diskon 30%, kini Rp349.000", "Masukkan keranjang"),
    "en": ("Buy 2, Save More", "30% off, now $24.99", "Add to cart"),
}


@pytest.fixture(scope="module")
def creative() -> tuple[Image.Image, object]:
    image = Image.open(EXAMPLES / "creative.png").convert("RGB")
    return image, product_mask(image)


@pytest.mark.parametrize("locale", sorted(BUNDLE))
@pytest.mark.parametrize("position", POSITIONS)
def test_a_button_set_apart_comes_after_its_copy_as_it_is_read(
    creative: tuple[Image.Image, object], locale: str, position: str
) -> None:
    """Below the copy, or after the last words of its last line: never before them (a button
    left of a right-aligned line is read first, as if it were another ad's)."""
    image, product = creative
    headline, offer, cta = BUNDLE[locale]
    copy = [
        TextBlock("headline", headline, "#FF8C00"),
        TextBlock("offer", offer, "#FF8C00"),
        TextBlock("cta", cta, "#FF8C00"),
    ]
    record = decide(image, copy, position, locale, product=product).record  # type: ignore[arg-type]
    *text, button = record["elements"]
    left, top, _, bottom = button["box"]
    last_line = text[-1]["line_boxes"][-1]
    beside = top < last_line[3] and bottom > last_line[1]  # on the band of the last line
    assert not beside or left >= last_line[2], (record["zone"], button["box"], last_line)


def _hue(color: str) -> float:
    import colorsys

    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(red, green, blue)[0]


FLASH_RED = "#E53935"  # the demo's flash deal: red on a peach backdrop


def flash_deal(color: str) -> list[TextBlock]:
    return [
        TextBlock("headline", "Flash Sale", color),
        TextBlock("offer", "50% off", color),
        TextBlock("ends", "Ends Dec 12, 2026", color),
        TextBlock("cta", "Grab it", color),
    ]


def test_small_type_short_of_contrast_goes_on_a_plate_in_its_own_colour(
    creative: tuple[Image.Image, object],
) -> None:
    """The flash deal's end date: red on peach passes as large type, not as small; an outline
    around 23 px letters smudges them, and a darker red is not the brand's red: a plate."""
    image, product = creative
    red = FLASH_RED
    copy = flash_deal(red)
    record = decide(image, copy, "bottom-left", "en", product=product, common=0.6).record  # type: ignore[arg-type]
    ends = next(element for element in record["elements"] if element["role"] == "ends")
    assert ends["font_size"] < 24 and ends["treatment"] == "plate", ends
    assert ends["outline"] is None and min(ends["contrast"]) >= 4.5
    assert ends["fill"] == red


def test_the_copys_text_takes_one_treatment_and_keeps_its_colours(
    creative: tuple[Image.Image, object],
) -> None:
    """In a banner every line is small: they all go on one plate, none darkened."""
    image, _ = creative
    banner = image.resize((728, 90))
    copy = flash_deal(FLASH_RED)
    record = decide(banner, copy, "center-left", "en", product=product_mask(banner)).record
    text = [element for element in record["elements"] if element["role"] != "cta"]
    assert len({element["treatment"] for element in text}) == 1, text
    assert all(element["fill"] == FLASH_RED for element in text)
    assert all(min(element["contrast"]) >= 4.5 for element in text if element["font_size"] < 19)


def jobs_of(copy: dict[str, tuple[str, str]], position: str) -> list[EditJob]:
    """A variant's jobs, one a locale, each carrying its siblings' copy as a run's do."""
    overlays = {
        locale: (Overlay("headline", headline, "#FFC107"), Overlay("cta", cta, "#FFC107"))
        for locale, (headline, cta) in copy.items()
    }
    siblings = tuple(overlays.items())
    return [
        EditJob("c", "v", locale, "default", "", overlays[locale], position, "s", "local/6",
                siblings=siblings)
        for locale in copy
    ]  # fmt: skip


FREE_SHIPPING = {
    "id": ("Gratis Ongkir", "Pesan hari ini"),
    "th": ("ส่งฟรีทั่วประเทศ", "สั่งซื้อวันนี้"),
    "zh": ("全国包邮", "今天下单"),
    "en": ("Free Shipping", "Order today"),
}
MEMBER_PROMO = {
    "id": ("Promo khusus member baru, hemat hingga 50% untuk semua produk", "Daftar sekarang"),
    "th": (
        "โปรโมชั่นพิเศษสำหรับสมาชิกใหม่ ลดราคาสูงสุดถึงห้าสิบเปอร์เซ็นต์ทุกรายการ",
        "สมัครเลย",
    ),
    "zh": ("新会员专享优惠，全场商品最高立减50%", "立即加入"),
    "en": ("New members: up to 50% off everything", "Join now"),
}


@pytest.mark.parametrize(
    ("copy", "position"),
    [
        (FREE_SHIPPING, "top-center"),
        (MEMBER_PROMO, "center"),
        # alone, Thai sets its button beside its copy at the top and Chinese stacks at the left;
        # both fit a third look, the button below the copy at the top left, at their own size
        ({locale: MEMBER_PROMO[locale] for locale in ("th", "zh")}, "center"),
    ],
)
def test_a_variants_locales_share_one_look_at_about_their_own_size(
    creative: tuple[Image.Image, object], copy: dict[str, tuple[str, str]], position: str
) -> None:
    """The sample's free-shipping used to set its button below the headline at the top left in
    English and Indonesian, beside it at the top centre in Thai, and a centred stack in Chinese:
    four ads, not one ad in four languages."""
    image, product = creative
    base = (EXAMPLES / "creative.png").read_bytes()
    editor = LocalEditor()
    looks, scales = {}, {}
    for job in jobs_of(copy, position):
        record = editor.edit(job, base).layout
        assert record is not None and record["fallback"] is None
        looks[job.locale] = (record["zone"], record["arrangement"])
        scales[job.locale] = record["scale"]
        alone = best_fit(
            [TextBlock(o.role, o.text, o.color) for o in job.overlays],
            position,
            image.size,
            job.locale,
            product,  # type: ignore[arg-type]
        )
        assert alone is not None
        # the shared look costs a locale at most two steps of size, never more
        assert scales[job.locale] >= 0.84 * min(alone.scale, record["common_scale"]) - 1e-9
    assert len(set(looks.values())) == 1, looks


def test_a_variants_locales_share_one_look_in_an_ad_size_too() -> None:
    """On a 728×90 leaderboard member-promo's button went below its copy in English and
    Chinese, beside it in Thai and after its last words in Indonesian."""
    import dataclasses

    base = (EXAMPLES / "creative.png").read_bytes()
    editor = LocalEditor()
    looks = {}
    for job in jobs_of(MEMBER_PROMO, "center"):
        record = editor.edit(dataclasses.replace(job, size="728x90"), base).layout
        assert record is not None and not record["dropped"]
        looks[job.locale] = (record["zone"], record["arrangement"])
    assert len(set(looks.values())) == 1, looks


@pytest.mark.parametrize("size", [None, "story", "landscape"])
def test_the_sample_keeps_each_number_with_the_words_that_qualify_it(size: str | None) -> None:
    """The story and landscape member-promo read "New members: up to / 50% off everything", and
    the base one in Chinese "商品最高 / 立减50%"."""
    import dataclasses

    base = (EXAMPLES / "creative.png").read_bytes()
    editor = LocalEditor()
    together = {"en": "up to 50%", "id": "hingga 50%", "zh": "最高立减50%"}
    copy = {locale: MEMBER_PROMO[locale] for locale in together}
    for job in jobs_of(copy, "center"):
        record = editor.edit(dataclasses.replace(job, size=size), base).layout
        assert record is not None
        [headline] = [e for e in record["elements"] if e["role"] == "headline"]
        assert any(together[job.locale] in line for line in headline["lines"]), headline["lines"]


@pytest.mark.parametrize("seed", range(20))
def test_holes_in_the_product_are_filled_as_a_flood_from_the_border_finds_them(seed):
    # OpenCV's fill stands in for Pillow's (a Python loop): the same cells, 4-connected, on
    # grids with rings, holes and open bays
    from transcreate.compose.saliency import _fill_holes

    grid = np.random.default_rng(seed).random((31, 47)) < 0.45
    padded = Image.fromarray(np.pad(grid, 1).astype(np.uint8) * 255).copy()
    ImageDraw.floodfill(padded, (0, 0), 128)
    expected = ~(np.asarray(padded)[1:-1, 1:-1] == 128)
    assert (_fill_holes(grid) == expected).all()
    assert _fill_holes(grid).sum() > grid.sum()  # some holes were there to fill
