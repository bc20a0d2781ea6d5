"""Catalog creatives: a product feed (Merchant Center columns) whose rows each bring their own image
link and edit, served over loopback. Each model call carries its own row's image and edit
(checked on the server side), every image is fetched once, a broken link fails its row alone,
and a re-run pays nothing; the built-in editor sets each row's copy on its own product."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import use_fake_model
from tests.servers.base import FakeServer, Reply, Request
from tests.servers.dashscope import GENERATION, FakeDashScope
from transcreate.request import RunRequest
from transcreate.settings import ALLOW_PRIVATE_VARIABLE
from transcreate.wiring import localize

KEY = "sk-catalog-not-a-real-key"
COLOURS = {"p1": (200, 40, 40), "p2": (40, 160, 60), "p3": (40, 70, 200), "p4": (220, 180, 30)}


def product(colour: tuple[int, int, int]) -> bytes:
    """A small product shot: a light backdrop with the product in its colour in the middle."""
    image = Image.new("RGB", (240, 180), (236, 232, 226))
    image.paste(colour, (80, 40, 160, 140))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


MAGENTA = (230, 0, 200)


def logo() -> bytes:
    """A brand mark with a transparent surround, as logos are delivered."""
    image = Image.new("RGBA", (120, 60), (0, 0, 0, 0))
    image.paste((*MAGENTA, 255), (10, 10, 110, 50))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class Images(FakeServer):
    """A shop's image host: the feed's image links, each GET counted."""

    def __init__(self) -> None:
        super().__init__()
        self.files = {f"/img/{name}.png": product(colour) for name, colour in COLOURS.items()}

    def route(self, request: Request) -> Reply:
        data = self.files.get(request.path)
        if data is None:
            return Reply(404, b"not here")
        return Reply(200, data, {"Content-Type": "image/png"})


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[Images]:
    with Images() as server:
        monkeypatch.setenv(ALLOW_PRIVATE_VARIABLE, "127.0.0.1")  # the opt-in for loopback links
        yield server  # type: ignore[misc]


def feed(shop: Images, tmp_path: Path, edits: bool = True, rows: int = 5) -> Path:
    """A Merchant Center feed as exported (tab-separated), with an edit column and a logo column
    added; p2 is listed twice (two sizes of one product), one link is dead, and SKU.4 has the
    brand's logo, a file beside the feed."""
    products = [
        ("SKU.1", "Red kettle", "30.00 USD", "p1", "Change the background to plain white"),
        ("SKU.2", "Green mug", "12.00 USD", "p2", "Add soft morning light"),
        ("SKU.2b", "Green mug, large", "14.00 USD", "p2", "Add soft evening light"),
        ("SKU.3", "Blue lamp", "45.00 USD", "gone", "Remove the price tag"),
        ("SKU.4", "Yellow chair", "99.00 USD", "p4", "Place it in a sunny living room"),
    ]
    (tmp_path / "img").mkdir(exist_ok=True)
    (tmp_path / "img" / "logo.png").write_bytes(logo())
    header = "id\ttitle\tprice\timage_link\tbrand\tlogo" + ("\tedit" if edits else "")
    lines = [header] + [
        f"{sku}\t{title}\t{price}\t{shop.url}/img/{image}.png\tAcme\t"
        + ("img/logo.png" if sku == "SKU.4" else "")
        + (f"\t{edit}" if edits else "")
        for sku, title, price, image, edit in products[:rows]
    ]
    path = tmp_path / "feed.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sent(server: FakeDashScope) -> list[tuple[str, list[tuple[int, int, int]]]]:
    """Each edit the model was asked for: its prompt and the centre colour of each image sent,
    in order (the creative last)."""
    calls = []
    for request in server.requests:
        if request.path != GENERATION:
            continue
        content = request.json()["input"]["messages"][0]["content"]
        text = next(item["text"] for item in content if "text" in item)
        centres = []
        for item in content:
            if "image" in item:
                data = base64.b64decode(item["image"].partition(",")[2])
                with Image.open(io.BytesIO(data)) as image:
                    flat = image.convert("RGB")
                    centres.append(flat.getpixel((image.width // 2, image.height // 2)))
        calls.append((text, centres))
    return calls


def near(colour: tuple[int, int, int], other: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(colour, other, strict=True))


def test_each_call_carries_its_own_rows_image_and_edit_and_a_rerun_pays_nothing(
    shop: Images, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeDashScope(api_key=KEY) as model:
        use_fake_model(monkeypatch, tmp_path, model)
        request = RunRequest(
            campaign=str(feed(shop, tmp_path)),
            out=str(tmp_path / "out"),
            backend="dashscope",
            locales="en",
            retry_wait=0,
        )  # no run image: every row brings its own
        summary = localize(request)
        calls = sent(model)
        assert model.paid == 4 and summary.counts["ok"] == 4 and summary.counts["skipped"] == 1
        expected = {
            "Change the background to plain white": COLOURS["p1"],
            "Add soft morning light": COLOURS["p2"],
            "Add soft evening light": COLOURS["p2"],
            "Place it in a sunny living room": COLOURS["p4"],
        }
        for edit, colour in expected.items():
            [(text, centres)] = [call for call in calls if edit in call[0]]
            assert near(centres[-1], colour), (edit, centres)
            # the row with a logo sends it first, and says where it goes (Qwen reads Chinese)
            logo_sent = edit == "Place it in a sunny living room"
            assert len(centres) == (2 if logo_sent else 1)
            assert ("图1中的标志" in text) == logo_sent
            if logo_sent:
                assert near(centres[0], MAGENTA)
        # each distinct image fetched once (p2 serves two rows), the dead link tried once
        fetched = [request.path for request in shop.requests]
        assert sorted(fetched) == sorted(
            ["/img/p1.png", "/img/p2.png", "/img/gone.png", "/img/p4.png"]
        )
        manifest = json.loads((tmp_path / "out" / "feed" / "manifest.json").read_text("utf-8"))
        records = {job["variant"]: job for job in manifest["jobs"]}
        assert records["SKU-1"]["image"].endswith("/img/p1.png")  # the id made a variant id
        assert records["SKU-3"]["status"] == "skipped"
        assert "row 5, column image" in records["SKU-3"]["error"]
        assert "404" in records["SKU-3"]["error"]
        assert manifest["image"] == ""  # the run had none of its own
        gallery = (tmp_path / "out" / "feed" / "index.html").read_text("utf-8")
        assert 'class="product"' in gallery and "p4.png" in gallery

        again = localize(request)
        assert model.paid == 4 and again.counts["cached"] == 4


def test_the_built_in_editor_sets_each_rows_copy_on_its_own_product(
    shop: Images, tmp_path: Path, sample_image: Path
) -> None:
    request = RunRequest(
        campaign=str(feed(shop, tmp_path, edits=False)),
        image=str(sample_image),  # the run's image, which no row of this feed uses
        out=str(tmp_path / "out"),
        locales="en",
    )
    summary = localize(request)
    assert summary.counts["ok"] + summary.counts["needs_review"] == 4
    manifest = json.loads((tmp_path / "out" / "feed" / "manifest.json").read_text("utf-8"))
    for job in manifest["jobs"]:
        if job["status"] == "skipped":
            continue
        colour = COLOURS[Path(job["image"]).stem]
        with Image.open(job["uri"].removeprefix("file://")) as opened:
            made = opened.convert("RGB")
        assert made.size == (240, 180)
        assert near(made.getpixel((120, 90)), colour), job["variant"]
        copy = {element["role"]: element for element in job["layout"]["elements"]}
        assert copy["headline"]["lines"]  # the row's title is its headline
        placed = job["layout"].get("logo")
        assert (placed is not None) == (job["variant"] == "SKU-4")
        if placed:  # the logo, clear of the product and the copy, its surround transparent
            left, top, right, bottom = placed["box"]
            assert placed["covers"] == 0 and placed["corner"] == "top-left"
            assert near(made.getpixel(((left + right) // 2, (top + bottom) // 2)), MAGENTA)
            assert not near(made.getpixel((left + 1, top + 1)), MAGENTA)


def test_a_product_the_model_repainted_is_sent_to_review_with_its_drift(
    shop: Images, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeDashScope(api_key=KEY) as model:
        use_fake_model(monkeypatch, tmp_path, model)
        model.drifts = 100  # every edit also repaints the product
        request = RunRequest(
            campaign=str(feed(shop, tmp_path, rows=2)),
            out=str(tmp_path / "out"),
            backend="dashscope",
            locales="en,th",  # en: the model draws the copy; th: it edits, the compositor sets
            retry_wait=0,
        )
        summary = localize(request)
        assert summary.counts["needs_review"] == 4 and summary.counts["ok"] == 0
        manifest = json.loads((tmp_path / "out" / "feed" / "manifest.json").read_text("utf-8"))
        for job in manifest["jobs"]:
            if job["status"] != "skipped":
                assert job["layout"]["drift"] > 0.15, job["variant"]
                assert "the model changed" in job["error"] and "of the product" in job["error"]
        thai = next(job for job in manifest["jobs"] if job["locale"] == "th" and job["layout"])
        assert thai["layout"]["elements"]  # the compositor's record keeps the model's drift
