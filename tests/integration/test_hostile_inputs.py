"""The hostile-input corpus: every input either works or is refused in one sentence.

Generated cases across sheets, images, paths and options. A bad row is a problem of its row (with
its real row number) while the good row beside it is still made; an unusable file, image, path or
option is one line and exit 2 from the CLI, before any edit; nothing hangs (a 10 MB cell included).
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from PIL import Image
from typer.testing import CliRunner

from transcreate.campaign import Campaign, read_campaign
from transcreate.cli import EXIT_UNUSABLE, app
from transcreate.request import RunRequest
from transcreate.wiring import localize

runner = CliRunner()

# The corpus runs in a child process held to a 1.5 GB address space (test_hostile_capped.py): a
# regression that decodes a bomb or reads a huge part whole fails there instead of swapping.
pytestmark = pytest.mark.skipif(
    not os.environ.get("TRANSCREATE_HOSTILE_CAPPED"),
    reason="run in a child held to a memory cap (test_hostile_capped.py)",
)


HEADER = "variant,headline,price,currency,discount,ends,color,position,locales,template,fallback"
COLUMNS = HEADER.split(",")
GOOD_ROW = "good,Big Sale,,,,,,,,,"


def read_pasted(text: str, name: str | None = None) -> Campaign:
    """Rows pasted into the form, read as a run reads them (`inputs.pasted_rows`)."""
    from transcreate.inputs import pasted_rows

    source = pasted_rows(text)
    return read_campaign(source.name, data=source.data, name=name)


def png(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("base") / "creative.png"
    path.write_bytes(png(Image.new("RGB", (320, 240), (30, 90, 160))))
    return path


def row(**cells: str) -> str:
    """A CSV row of the HEADER's columns: the bad row's cells, the rest empty."""
    return ",".join(cells.get(column, "") for column in COLUMNS)


# --- rows: a problem of the row, with its real row number; the good row is still made ------------


@dataclass(frozen=True)
class RowCase:
    id: str
    bad_row: str
    expected: str  # in the problem, after "sale.csv, row 3"


ROW_CASES = [
    RowCase("variant-not-an-id", row(variant="bad id!", headline="Sale"), "column variant: "),
    RowCase("variant-empty", row(headline="Sale", color="red"), "column variant: empty"),
    RowCase("variant-duplicate", row(variant="good", headline="Sale"), "already used on row 2"),
    RowCase("variant-too-long", row(variant="v" * 80, headline="Sale"), "not a valid id"),
    RowCase("headline-empty", row(variant="x", color="red"), "column headline: empty"),
    RowCase("price-words", row(variant="x", headline="S", price="cheap", currency="USD"),
            "column price: 'cheap' is not a plain number"),
    RowCase("price-thousands-dot", row(variant="x", headline="S", price="199.000", currency="IDR"),
            "more decimals than IDR uses"),
    RowCase("price-sign", row(variant="x", headline="S", price="$10", currency="USD"),
            "no currency signs"),
    RowCase("price-without-currency", row(variant="x", headline="S", price="10"),
            "column currency: empty, but the row has a price"),
    RowCase("currency-unknown", row(variant="x", headline="S", price="10", currency="XYZ"),
            "not an ISO 4217 code"),
    RowCase("discount-over-100", row(variant="x", headline="S", discount="150"), "out of range"),
    RowCase("discount-fraction", row(variant="x", headline="S", discount="0.5"),
            "looks like a fraction"),
    RowCase("discount-words", row(variant="x", headline="S", discount="half"),
            "column discount: 'half' is not a plain number"),
    RowCase("date-us-order", row(variant="x", headline="S", ends="12/31/2026"),
            "write it as YYYY-MM-DD"),
    RowCase("date-impossible", row(variant="x", headline="S", ends="2026-02-30"), "not a date"),
    RowCase("colour-unknown", row(variant="x", headline="S", color="rainbow"), "not a colour"),
    RowCase("colour-bad-hex", row(variant="x", headline="S", color="#12345"), "not a colour"),
    RowCase("position-unknown", row(variant="x", headline="S", position="upside-down"),
            "not a position"),
    RowCase("locales-unknown", row(variant="x", headline="S", locales="xx-yy"), "column locales"),
    RowCase("template-unknown", row(variant="x", headline="S", template="nope"),
            "no template named 'nope'"),
    RowCase("template-path", row(variant="x", headline="S", template="../../etc/passwd"),
            "is not a template name"),
    RowCase("fallback-not-yes-no", row(variant="x", headline="S", fallback="maybe"),
            "column fallback"),
    RowCase("cell-over-limit", row(variant="x", headline="Sale " * 1000),
            "4,999 characters; a cell holds at most 1,000"),
    RowCase("cell-of-10-mb", row(variant="x", headline="Diskon besar " * 800_000),
            "a cell holds at most 1,000"),
    RowCase("bidi-override", row(variant="x", headline="\u202epaws ecaf"), "U+202E"),
    RowCase("bidi-isolate", row(variant="x", headline="Sale \u2066x\u2069"), "U+2066"),
    RowCase("one-extra-cell", row(variant="x", headline="S") + ",stray",
            "12 cells, but the first row names 11 columns"),
    RowCase("quote-never-closed", row(variant="x", headline='"Big Sale'), "never closed"),
]  # fmt: skip


@pytest.mark.parametrize("case", ROW_CASES, ids=[case.id for case in ROW_CASES])
def test_a_bad_row_is_one_located_problem_and_the_good_row_is_made(
    case: RowCase, base: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "sale.csv"
    sheet.write_text(f"{HEADER}\n{GOOD_ROW}\n{case.bad_row}\n", encoding="utf-8")
    summary = localize(
        RunRequest(campaign=str(sheet), image=str(base), out=str(tmp_path / "out"), locales="en")
    )
    [problem] = summary.problems
    assert problem.startswith("sale.csv, row 3") and case.expected in problem, problem
    assert summary.counts["ok"] == 1  # the good row beside it
    assert len(problem) < 400  # one sentence, not the cell echoed back


# --- files, images, paths and options that cannot be used: one line, exit 2 --------------------


def xlsx(path: Path, *sheets: str) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = sheets[0]
    for name in sheets[1:]:
        workbook.create_sheet(name)
    for sheet in workbook.worksheets:
        sheet.append(["variant", "headline"])
        sheet.append(["good", "Big Sale"])
    workbook.save(path)


def png_claiming(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + iend


Setup = Callable[[Path, Path], list[str]]  # (folder, good image) → the CLI's arguments


def campaign_file(name: str, data: bytes) -> Setup:
    def setup(folder: Path, image: Path) -> list[str]:
        (folder / name).write_bytes(data)
        return [str(folder / name), "--image", str(image)]

    return setup


def image_file(name: str, data: bytes | None) -> Setup:
    def setup(folder: Path, image: Path) -> list[str]:
        sheet = folder / "sale.csv"
        sheet.write_text("variant,headline\ngood,Big Sale\n", encoding="utf-8")
        target = folder / name
        if data is None:
            target.mkdir()
        else:
            target.write_bytes(data)
        return [str(sheet), "--image", str(target)]

    return setup


def with_options(*options: str) -> Setup:
    def setup(folder: Path, image: Path) -> list[str]:
        sheet = folder / "sale.csv"
        sheet.write_text("variant,headline\ngood,Big Sale\n", encoding="utf-8")
        (folder / "a-file").write_text("not a folder")
        resolved = [option.replace("{folder}", str(folder)) for option in options]
        return [str(sheet), "--image", str(image), *resolved]

    return setup


def special(kind: str) -> Setup:
    def setup(folder: Path, image: Path) -> list[str]:
        if kind == "folder":
            (folder / "sheets").mkdir()
            return [str(folder / "sheets"), "--image", str(image)]
        if kind == "missing":
            return [str(folder / "nope.csv"), "--image", str(image)]
        if kind == "unknown-sheet":
            xlsx(folder / "sale.xlsx", "Q3", "Q4")
            return [f"{folder / 'sale.xlsx'}#Q5", "--image", str(image)]
        raise AssertionError(kind)

    return setup


big = Image.new("RGB", (64, 64), (200, 10, 10))
UNUSABLE: list[tuple[str, Setup, str]] = [
    ("csv-empty", campaign_file("sale.csv", b""), "the file is empty"),
    ("csv-only-bom", campaign_file("sale.csv", b"\xef\xbb\xbf"), "the file is empty"),
    ("csv-latin-1", campaign_file("sale.csv", "variant,headline\ns,Café\n".encode("latin-1")),
     "not UTF-8"),
    ("csv-is-a-png", campaign_file("sale.csv", png(big)), "not UTF-8"),
    ("csv-no-headline-column", campaign_file("sale.csv", b"variant,title\ns,Sale\n"),
     "missing column(s) headline"),
    ("csv-blank-first-row", campaign_file("sale.csv", b"\nvariant,headline\ns,Sale\n"),
     "the first row is blank"),
    ("csv-two-headline-columns", campaign_file("sale.csv", b"variant,headline,Headline\ns,a,b\n"),
     "both mean 'headline'"),
    ("csv-bad-locale-column",
     campaign_file("sale.csv", b"variant,headline,headline:xx-yy\ns,a,b\n"), "not a CLDR locale"),
    ("csv-header-only", campaign_file("sale.csv", b"variant,headline\n"), "no rows"),
    ("ods-file", campaign_file("sale.ods", b"PK\x03\x04"), "unsupported file type '.ods'"),
    ("xlsx-damaged", campaign_file("sale.xlsx", b"not a zip"), "cannot be read as a spreadsheet"),
    ("campaign-is-a-folder", special("folder"), "is a folder, not a campaign file"),
    ("campaign-missing", special("missing"), "no such campaign file"),
    ("xlsx-unknown-sheet", special("unknown-sheet"), "no sheet named 'Q5'; its sheets are 'Q3'"),
    ("image-is-a-folder", image_file("creative.png", None), "is a folder, not a base image"),
    ("image-missing", special("missing"), "no such campaign file"),
    ("image-text", image_file("creative.png", b"hello"), "not a readable image"),
    ("image-empty", image_file("creative.png", b""), "not a readable image"),
    ("image-gif", image_file("creative.gif", png(Image.new("P", (8, 8)), "GIF")), "is GIF"),
    ("image-bmp", image_file("creative.bmp", png(big, "BMP")), "is BMP"),
    ("image-truncated", image_file("creative.png", png(big)[:60]), "not a readable image"),
    ("image-bomb", image_file("creative.png", png_claiming(100_000, 100_000)),
     "decompression bomb"),
    ("out-blank", with_options("--out", ""), "--out: is empty; give a folder or s3://bucket/prefix"),
    ("out-is-a-file", with_options("--out", "{folder}/a-file"), "is a file, not a folder"),
    ("out-unknown-scheme", with_options("--out", "ftp://host/x"), "unknown scheme 'ftp'"),
    ("locale-unknown", with_options("--locales", "thai"), "'thai' is not a CLDR locale"),
    ("locales-blank", with_options("--locales", ","), "at least one locale"),
    ("backend-unknown", with_options("--backend", "gpt"), "--backend: 'gpt' is not one of"),
    ("mode-model-on-local", with_options("--mode", "model"), "model"),
    ("concurrency-zero", with_options("--concurrency", "0"), "concurrency"),
    ("retries-too-many", with_options("--retries", "99"), "retries"),
    ("image-over-limit", with_options("--max-image-mb", "0.000001"), "--max-image-mb"),
    ("policy-missing", with_options("--policy", "{folder}/nope.toml"), "no such policy file"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("setup", "expected"),
    [(setup, expected) for _, setup, expected in UNUSABLE],
    ids=[case_id for case_id, _, _ in UNUSABLE],
)
def test_unusable_input_is_one_line_and_exit_2(
    setup: Setup, expected: str, base: Path, tmp_path: Path
) -> None:
    arguments = setup(tmp_path, base)
    for option, default in (("--out", str(tmp_path / "out")), ("--locales", "en")):
        if option not in arguments:
            arguments += [option, default]
    result = runner.invoke(app, ["run", *arguments, "--no-prefect"])
    assert result.exit_code == EXIT_UNUSABLE, result.output
    # The progress bar the CLI starts before planning is not a message.
    lines = [line for line in result.output.strip().splitlines() if "━" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not list((tmp_path / "out").rglob("*.png")) if (tmp_path / "out").exists() else True


# --- images that work: composited as a person sees them ------------------------------------------


def white() -> Image.Image:
    return Image.new("RGB", (320, 240), "white")


def cmyk_jpeg() -> bytes:
    return png(Image.new("CMYK", (320, 240), (0, 0, 0, 0)), "JPEG")


def rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    return png(Image.new("RGB", (240, 320), (255, 255, 255)), "JPEG", exif=exif)


def transparent(fmt: str) -> bytes:
    options: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    return png(Image.new("RGBA", (320, 240), (0, 0, 0, 0)), fmt, **options)


WORKABLE: list[tuple[str, str, Callable[[], bytes]]] = [
    ("grey-16-bit", "creative.png", lambda: png(Image.new("I;16", (320, 240), 65535))),
    ("transparent-png", "creative.png", lambda: transparent("PNG")),
    ("transparent-webp", "creative.webp", lambda: transparent("WEBP")),
    ("cmyk-jpeg", "creative.jpg", cmyk_jpeg),
    ("palette-png", "creative.png", lambda: png(white().convert("P"))),
    ("exif-rotated-jpeg", "creative.jpg", rotated_jpeg),
    ("grey-8-bit", "creative.png", lambda: png(Image.new("L", (320, 240), 255))),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data"),
    [(name, data) for _, name, data in WORKABLE],
    ids=[case_id for case_id, _, _ in WORKABLE],
)
def test_an_unusual_but_valid_image_works_and_its_empty_area_is_white(
    name: str, data: Callable[[], bytes], tmp_path: Path
) -> None:
    image = tmp_path / name
    image.write_bytes(data())
    sheet = tmp_path / "sale.csv"
    sheet.write_text("variant,headline,position\ngood,Big Sale,bottom-center\n", encoding="utf-8")
    summary = localize(
        RunRequest(campaign=str(sheet), image=str(image), out=str(tmp_path / "out"), locales="en")
    )
    assert summary.counts["ok"] == 1, summary
    [output] = (tmp_path / "out" / "sale" / "en").glob("*.png")
    with Image.open(output) as made:
        corner = made.convert("RGB").getpixel((2, 2))
    assert corner == (255, 255, 255)  # white stays white: never black, never clipped


# --- hostile text that is usable: made, checked and guarded --------------------------------------


def run_sheet(tmp_path: Path, base: Path, rows: str) -> tuple[dict[str, object], list[dict]]:
    sheet = tmp_path / "sale.csv"
    sheet.write_text(f"variant,headline\n{rows}", encoding="utf-8")
    summary = localize(
        RunRequest(campaign=str(sheet), image=str(base), out=str(tmp_path / "out"), locales="en")
    )
    manifest = json.loads((tmp_path / "out" / "sale" / "manifest.json").read_text("utf-8"))
    return summary.counts, manifest["jobs"]


def test_a_blocked_row_is_refused_and_the_good_row_made(base: Path, tmp_path: Path) -> None:
    counts, jobs = run_sheet(tmp_path, base, "good,Big Sale\nbad,Remove the model's face\n")
    assert (counts["ok"], counts["blocked"]) == (1, 1)
    [blocked] = [job for job in jobs if job["status"] == "blocked"]
    assert "face-identity" in blocked["error"]


def test_nul_and_zero_width_characters_never_reach_the_instruction(
    base: Path, tmp_path: Path
) -> None:
    counts, jobs = run_sheet(tmp_path, base, "good,Big\x00 Sa\u200ble\ufeff\n")
    assert counts["ok"] == 1
    [job] = jobs
    assert "Big Sale" in job["instruction"]
    assert not any(char in job["instruction"] for char in "\x00\u200b\ufeff")


def test_a_formula_in_the_copy_is_data_in_the_manifest(base: Path, tmp_path: Path) -> None:
    counts, _ = run_sheet(tmp_path, base, 'good,"=HYPERLINK(""http://x"",""y"")"\n')
    assert counts["ok"] == 1
    matrix = (tmp_path / "out" / "sale" / "manifest.csv").read_text("utf-8-sig")
    assert "=HYPERLINK" not in matrix.replace("'=HYPERLINK", "")


def test_pasted_rows_read_like_a_file(base: Path) -> None:
    campaign = read_pasted("variant\theadline\tprice\tcurrency\ngood\tSale\t1\tUSD\nb\tS\tx\tUSD")
    assert [variant.variant for variant in campaign.variants] == ["good"]
    [problem] = campaign.problems
    assert str(problem).startswith("pasted rows, row 3, column price: ")


def test_the_corpus_has_at_least_60_cases() -> None:
    assert len(ROW_CASES) + len(UNUSABLE) + len(WORKABLE) + 4 >= 60


def test_a_small_file_of_many_pixels_is_made_from_a_scaled_copy(caplog) -> None:  # type: ignore[no-untyped-def]
    # 130 KB that decoded to 40 megapixels took 5.6 GB at four edits at once; past the working
    # limit, an image is made from a copy scaled to it (a 9 MP one here: the test stays quick)
    from transcreate.images import WORKING_PIXELS, load_base_creative

    huge = png(Image.new("RGB", (3600, 2500), (30, 90, 160)), compress_level=1)
    assert len(huge) < 200_000
    creative = load_base_creative("huge.png", data=huge)
    assert creative.width * creative.height <= WORKING_PIXELS
    assert abs(creative.width / creative.height - 3600 / 2500) < 0.01
    with Image.open(io.BytesIO(creative.data)) as copy:
        assert copy.size == (creative.width, creative.height)
    assert "3600×2500 pixels; made from a copy scaled to" in caplog.text
