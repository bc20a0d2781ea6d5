"""Base images: what is accepted, what is refused and why."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from transcreate.errors import CampaignError
from transcreate.images import decode, load_base_creative


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + iend


def test_png_jpeg_and_webp_are_accepted(tmp_path):
    picture = Image.new("RGB", (64, 48), (10, 120, 200))
    for fmt in ("PNG", "JPEG", "WEBP"):
        creative = load_base_creative(tmp_path / f"x.{fmt}", data=encoded(picture, fmt))
        assert (creative.width, creative.height, creative.format) == (64, 48, fmt)


def test_another_format_is_refused_with_the_accepted_ones(tmp_path):
    gif = encoded(Image.new("P", (8, 8)), "GIF")
    with pytest.raises(CampaignError, match="is GIF; use PNG, JPEG or WebP"):
        load_base_creative(tmp_path / "x.gif", data=gif)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_file_fails_up_front(tmp_path, fmt):
    # (a JPEG is checked at an eighth of its size, from all of its data)
    data = encoded(Image.effect_noise((256, 256), 64).convert("RGB"), fmt)
    with pytest.raises(CampaignError, match="not a readable image"):
        load_base_creative(tmp_path / f"cut.{fmt.lower()}", data=data[: len(data) // 2])
    whole = load_base_creative(tmp_path / f"whole.{fmt.lower()}", data=data)
    assert (whole.width, whole.height, whole.format) == (256, 256, fmt)


@pytest.mark.parametrize("size", [(7_000, 7_000), (20_000, 20_000)])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, size):
    with pytest.raises(CampaignError, match=r"more than 40,000,000 pixels.*decompression bomb"):
        load_base_creative(tmp_path / "bomb.png", data=png_claiming(*size))


def test_an_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encoded(Image.effect_noise((1200, 1200), 90).convert("RGB"), "PNG"))
    with pytest.raises(CampaignError, match="the limit is 1,000,000"):
        load_base_creative(path, max_bytes=1_000_000)


def test_text_pretending_to_be_an_image_is_refused(tmp_path):
    with pytest.raises(CampaignError, match="not PNG, JPEG or WebP data"):
        load_base_creative(tmp_path / "x.png", data=b"<html>not an image</html>")


def test_cmyk_and_palette_images_decode_to_rgb():
    cmyk = encoded(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG")
    palette = encoded(Image.new("RGB", (10, 10), (200, 30, 30)).convert("P"), "PNG")
    assert decode(cmyk).mode == "RGB"
    assert decode(palette).mode == "RGB"
    assert decode(palette).getpixel((0, 0))[0] > 150


def test_exif_orientation_is_applied():
    picture = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    data = encoded(picture, "JPEG", exif=exif.tobytes())
    assert decode(data).size == (20, 40)


# --- every input either works or is refused in one sentence ------------------------------------


def test_a_16_bit_grey_png_keeps_its_grey() -> None:
    # 30000 of 65535 is 46 % grey; converting without scaling clipped it to white.
    data = encoded(Image.new("I;16", (8, 8), 30000), "PNG")
    grey = decode(data).getpixel((0, 0))
    assert grey[0] == grey[1] == grey[2] and abs(grey[0] - 117) <= 1


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_transparent_pixels_are_composited_onto_white(fmt: str) -> None:
    picture = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    picture.putpixel((0, 0), (200, 0, 0, 255))
    picture.putpixel((1, 0), (0, 0, 200, 128))
    image = decode(encoded(picture, fmt, lossless=True) if fmt == "WEBP" else encoded(picture, fmt))
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 255, 255)  # once black
    assert image.getpixel((0, 0)) == (200, 0, 0)
    red, green, blue = image.getpixel((1, 0))
    assert abs(green - 127) <= 2
    assert abs(red - 127) <= 2 and abs(blue - 227) <= 2  # half blue over white


def test_a_palette_png_with_a_transparent_index_is_composited_onto_white() -> None:
    picture = Image.new("P", (4, 4), 0)
    picture.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    picture.putpixel((0, 0), 1)
    image = decode(encoded(picture, "PNG", transparency=0))
    assert (image.getpixel((3, 3)), image.getpixel((0, 0))) == ((255, 255, 255), (255, 0, 0))


def test_a_folder_given_as_the_image_is_one_sentence(tmp_path):
    with pytest.raises(CampaignError) as caught:
        load_base_creative(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a folder, not an image; give the image file's path"


def test_an_oversized_image_names_the_option_as_it_is_typed(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encoded(Image.new("RGB", (64, 64)), "PNG"))
    with pytest.raises(CampaignError, match="--max-image-mb"):
        load_base_creative(path, max_bytes=10)


# --- the creative as a model receives it: upright, read without decoding when it can be ---------


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_exif_after_its_pixels(orientation: int) -> bytes:
    """A PNG whose eXIf chunk comes after IDAT, as some editors write it (the PNG spec allows
    either place)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    plain = encoded(Image.new("RGB", (40, 20), (0, 0, 0)), "PNG")
    assert plain.endswith(chunk(b"IEND", b""))
    return plain[:-12] + chunk(b"eXIf", exif.tobytes()[6:]) + chunk(b"IEND", b"")


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_png_turned_by_its_exif_is_sent_upright(where: str) -> None:
    from transcreate.editors.prepare import prepare_image
    from transcreate.editors.results import upright_size

    if where == "after":
        data = png_with_exif_after_its_pixels(6)
    else:
        exif = Image.Exif()
        exif[0x0112] = 6
        data = encoded(Image.new("RGB", (40, 20), (0, 0, 0)), "PNG", exif=exif)
    prepared = prepare_image(data, 1024, 10 << 20)
    assert (prepared.width, prepared.height) == (20, 40)
    assert prepared.data != data  # re-encoded upright, not the turned original
    assert upright_size(data) == (20, 40)


def test_an_upright_png_is_sent_as_it_is_and_never_decoded(monkeypatch) -> None:
    from transcreate.editors.prepare import prepare_image
    from transcreate.editors.results import upright_size

    data = png_with_exif_after_its_pixels(1)

    def decoded(*_):
        raise AssertionError("the image was decoded to read its orientation")

    monkeypatch.setattr(Image.Image, "load", decoded)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", decoded)
    assert prepare_image(data, 1024, 10 << 20).data == data
    assert upright_size(data) == (40, 20)


def test_a_png_whose_chunk_lengths_lie_is_read_as_upright_without_an_error() -> None:
    from transcreate.editors.results import upright_size

    plain = encoded(Image.new("RGB", (40, 20), (0, 0, 0)), "PNG")
    lying = plain[:-12] + struct.pack(">I", 2**31) + b"tEXt" + b"short"
    assert upright_size(lying) == (40, 20)


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_png_turned_by_imagemagicks_raw_exif_profile_is_sent_upright(where: str) -> None:
    from PIL import PngImagePlugin

    from transcreate.editors.prepare import prepare_image
    from transcreate.editors.results import upright_size

    exif = Image.Exif()
    exif[0x0112] = 6
    raw = exif.tobytes()
    profile = "\nexif\n" + f"{len(raw):8d}\n" + raw.hex()  # as ImageMagick writes it
    picture = Image.new("RGB", (40, 20), (0, 0, 0))
    if where == "before":
        info = PngImagePlugin.PngInfo()
        info.add_text("Raw profile type exif", profile)
        data = encoded(picture, "PNG", pnginfo=info)
    else:
        plain = encoded(picture, "PNG")
        text = chunk(b"tEXt", b"Raw profile type exif\0" + profile.encode())
        data = plain[:-12] + text + chunk(b"IEND", b"")
    assert upright_size(data) == (20, 40)
    prepared = prepare_image(data, 1024, 10 << 20)
    assert (prepared.width, prepared.height) == (20, 40)


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def test_a_huge_colour_profile_is_never_copied_into_outputs() -> None:
    """A JPEG carrying a 4.5 MB profile: its outputs were too, and could not be opened again."""
    import os

    from transcreate.compose.record import encode_png

    buffer = io.BytesIO()
    profile = _srgb_profile() + os.urandom(4_500_000)
    Image.new("RGB", (64, 64), "red").save(buffer, "JPEG", icc_profile=profile)
    image = decode(buffer.getvalue())
    assert "icc_profile" not in image.info
    png = encode_png(image, {})
    assert len(png) < 100_000
    assert decode(png).getpixel((32, 32))[0] > 200  # reopens, still red


def test_an_srgb_profile_keeps_the_colours() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, "PNG", icc_profile=_srgb_profile())
    image = decode(buffer.getvalue())
    assert "icc_profile" not in image.info
    pixel = image.getpixel((4, 4))
    assert all(abs(a - b) <= 2 for a, b in zip(pixel, (200, 120, 40), strict=True))


def test_a_profile_chunk_that_inflates_past_the_limit_is_one_sentence(tmp_path) -> None:
    import os

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG", icc_profile=os.urandom(3_000_000))
    with pytest.raises(CampaignError, match="not a readable image"):
        load_base_creative(tmp_path / "base.png", data=buffer.getvalue(), max_bytes=10**8)


def test_a_layout_record_written_again_replaces_the_one_there() -> None:
    from transcreate.compose.record import read_layout
    from transcreate.editors.results import with_layout_record
    from transcreate.images import encode_png

    image = Image.new("RGB", (8, 8), "white")
    first = with_layout_record(encode_png(image), {"elements": [], "drift": 0.01})
    second = with_layout_record(first, {"elements": [], "drift": 0.5})
    assert read_layout(second) == {"elements": [], "drift": 0.5}
    assert second.count(b"transcreate:layout") == 1
    with Image.open(io.BytesIO(second)) as reopened:
        assert reopened.size == (8, 8)


def test_drift_leaves_out_the_band_the_model_was_asked_to_draw_copy_in() -> None:
    from transcreate.editors.results import drift

    before = Image.new("RGB", (100, 100), (200, 40, 40))
    after = before.copy()
    after.paste((20, 20, 20), (0, 50, 100, 100))  # the lower half repainted
    buffer = io.BytesIO()
    after.save(buffer, "PNG")
    box = (20, 20, 80, 80)
    assert drift(before, buffer.getvalue(), box) > 0.4
    assert drift(before, buffer.getvalue(), box, ignore=(0, 50, 100, 100)) < 0.05


@pytest.mark.parametrize("image_format", ["WEBP", "PNG"])
def test_an_animated_image_is_refused_naming_its_frames(image_format: str) -> None:
    blank = Image.new("RGB", (40, 30), "white")
    product = Image.new("RGB", (40, 30), (200, 30, 30))
    buffer = io.BytesIO()
    blank.save(buffer, image_format, save_all=True, append_images=[product], duration=100)
    with pytest.raises(CampaignError, match=r"x\.webp: the image is animated \(2 frames\)"):
        load_base_creative("x.webp", data=buffer.getvalue())
