"""A model's result made into the job's output: checked to be a real image within the pixel limit,
PNG, at the base's size and orientation, with the layout record in its chunk.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from PIL import Image, ImageChops, ImageFilter, ImageOps

from transcreate.errors import MalformedAnswerError, PermanentEditError
from transcreate.images import encode_png

MAX_RESULT_PIXELS = 40_000_000  # a result larger than this is refused before it is decoded


def result_png(data: bytes, provider: str) -> bytes:
    """Check that a model's result is a real image and return it as PNG."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_RESULT_PIXELS:
                raise PermanentEditError(
                    f"{provider}: the result is {image.width}×{image.height}, too large to decode"
                )
            if image.format == "PNG" and image.mode in ("RGB", "RGBA"):
                image.verify()  # chunk checksums, without decoding: a PNG result is kept as is
                return data
            image.load()
            return encode_png(image.convert("RGB"))
    except (OSError, Image.DecompressionBombError, ValueError, SyntaxError):
        raise MalformedAnswerError(
            f"{provider}: the model returned data that is not an image"
        ) from None


# Models answer on their own canvas: Qwen-Image-Edit makes about 1024×1024 pixels in the input's
# aspect, "close to" it rather than equal (Model Studio's API reference, "output image"), so a
# 1080×1350 creative comes back 819×1024 or 912×1144. Within this relative aspect difference the
# canvas is the whole creative, only rounded: it is scaled back. Beyond it the model chose another
# frame (a square, say), which is cropped around its centre to the creative's aspect, never
# stretched.
SAME_ASPECT = 0.02


def drift(
    frame: Image.Image,
    output: bytes | Image.Image,
    box: Sequence[int],
    tolerance: int = 40,
    *,
    ignore: Sequence[int] | None = None,
) -> float:
    """Share of ``box`` (the product, in the frame's pixels) that changed by more than
    ``tolerance`` (of 255, in any channel) between the frame a model was sent and its output
    (at the frame's size): the model was asked to draw copy, or a scene around the photo, never
    the product. ``ignore``: where the model was asked to draw the copy (its band), not counted.
    Compared on at most 256 px, slightly blurred, so resampling is not change."""
    left, top, right, bottom = (int(value) for value in box)
    if right <= left or bottom <= top:
        return 0.0
    scale = min(1.0, 256 / max(right - left, bottom - top))
    size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
    if isinstance(output, Image.Image):
        after = output.convert("RGB")
    else:
        with Image.open(io.BytesIO(output)) as opened:
            after = opened.convert("RGB")

    def small(image: Image.Image) -> Image.Image:
        crop = image.convert("RGB").crop((left, top, right, bottom))
        return crop.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(1))

    red, green, blue = ImageChops.difference(small(frame), small(after)).split()
    distance = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    changed = distance.point(lambda value: 255 if value > tolerance else 0)
    counted = Image.new("L", size, 255)
    if ignore is not None:  # the copy's band, in the crop's scaled pixels
        band = [(ignore[0] - left) * scale, (ignore[1] - top) * scale]
        band += [(ignore[2] - left) * scale, (ignore[3] - top) * scale]
        counted.paste(0, tuple(round(value) for value in band))  # type: ignore[arg-type]
        changed = ImageChops.multiply(changed, counted)
    area = counted.histogram()[255]
    return changed.histogram()[255] / area if area else 0.0


def fit_to_base(result: bytes, size: tuple[int, int]) -> bytes:
    """A model's PNG result brought back to the base creative's size and aspect (LANCZOS)."""
    with Image.open(io.BytesIO(result)) as image:
        if image.size == size:
            return result
        width, height = size
        aspect, base_aspect = image.width / image.height, width / height
        if abs(aspect / base_aspect - 1) <= SAME_ASPECT:
            fitted = image.resize(size, Image.Resampling.LANCZOS)
        else:
            fitted = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
        return encode_png(fitted)


@lru_cache(maxsize=8)
def upright_size(data: bytes) -> tuple[int, int]:
    """The size of an image as it is shown (EXIF rotation applied)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    if orientation(data) in (5, 6, 7, 8):  # turned a quarter: sides swap
        return height, width
    return width, height


@lru_cache(maxsize=8)
def orientation(data: bytes) -> int:
    """An image's EXIF orientation (1: upright), once per image, not per question."""
    with Image.open(io.BytesIO(data)) as image:
        # A PNG may keep its EXIF after the image data, and Pillow decodes the whole image to
        # look for it (18 ms for a 1024² creative, on a run's first job): walk the chunks.
        found = _png_exif(data) if image.format == "PNG" and "exif" not in image.info else None
        if found is None:
            exif = image.getexif()
        else:
            exif = Image.Exif()
            exif.load(found)
        orientation = exif.get(0x0112, 1)
    return orientation if isinstance(orientation, int) else 1


_RAW_PROFILE = b"Raw profile type exif\0"  # ImageMagick's text chunk, which Pillow reads too


def _png_exif(png: bytes) -> bytes | None:
    """A PNG's EXIF found by the chunks' lengths alone: its eXIf chunk's data, or b"" when it
    has none; None when it keeps its EXIF in a text chunk (left to Pillow)."""
    at = 8  # after the signature
    while at + 8 <= len(png):
        length, kind = struct.unpack_from(">I4s", png, at)
        if kind == b"eXIf":
            return png[at + 8 : at + 8 + length]
        if kind in (b"tEXt", b"zTXt", b"iTXt") and png.startswith(_RAW_PROFILE, at + 8):
            return None
        if kind == b"IEND":
            break
        at += 12 + length  # length, type, data, CRC
    return b""


def with_layout_record(png: bytes, record: Mapping[str, Any]) -> bytes:
    """``png`` with ``record`` in the layout chunk the built-in editor writes (an iTXt chunk
    after the header), its image data untouched: no re-encoding of a model's result."""
    from transcreate.compose.record import CHUNK

    text = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    data = CHUNK.encode("latin-1") + b"\0\0\0\0\0" + text  # no compression, no language
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + data))
    header = 8 + 25  # the signature, then IHDR (always first, always 13 bytes of data)
    return png[:header] + chunk + _without_record(png[header:], CHUNK.encode("latin-1"))


def _without_record(chunks: bytes, keyword: bytes) -> bytes:
    """PNG chunks without the text chunks named ``keyword``: a record replaced, not doubled
    (a reader keeps the last one it meets)."""
    kept, at = [], 0
    while at + 8 <= len(chunks):
        length, kind = struct.unpack_from(">I4s", chunks, at)
        end = at + 12 + length
        named = kind in (b"iTXt", b"zTXt", b"tEXt") and chunks.startswith(keyword + b"\0", at + 8)
        if not named:
            kept.append(chunks[at:end])
        at = end
    return b"".join(kept) + chunks[at:]
